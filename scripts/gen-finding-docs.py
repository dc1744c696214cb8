#!/usr/bin/env python3
"""Writes docs/findings/<id>.md, one page per finding id, from `mailblock catalog --json`,
so that the pages, the gate's replies and the catalog can never disagree.
Usage: scripts/gen-finding-docs.py BUILD/mailblock OUTDIR"""
import json
import os
import subprocess
import sys

mailblock, outdir = sys.argv[1], sys.argv[2]
catalog = json.loads(subprocess.check_output([mailblock, "catalog", "--json"]))
os.makedirs(outdir, exist_ok=True)
index = ["# Findings", "",
         "Every check mailblock runs reports under one of these ids. The id appears in the",
         "gate's replies and logs, is the configuration key that sets the check's action,",
         "and names the page that explains it.", "",
         "| id | reply | default | fails when |", "|---|---|---|---|"]
for e in catalog["findings"]:
    index.append(f"| [{e['id']}]({e['id']}.md) | {e['code']} {e['enhanced']} | "
                 f"{e['action']} | {e['reason']} |")
    if "result_actions" in e:
        ra = e["result_actions"]
        reply = (f"Reply: `{e['code']} {e['enhanced']}` (fail and any other result acted on "
                 f"with reject), `{e['code']} {e['permerror_enhanced']}` for permerror, "
                 f"`451 {e['temperror_enhanced']}` for temperror (always temporary). "
                 f"Default actions per result: "
                 + ", ".join(f"{r} `{a}`" for r, a in ra.items())
                 + f"; because {e['why_default']}.")
        operator = (f"Set `{e['id']} = reject | tempfail | warn | ignore` (the action for "
                    f"fail; `ignore` turns the check off), and `{e['id']}.RESULT = ACTION` "
                    "for RESULT softfail, neutral, none, permerror or temperror. Per "
                    f"recipient, `{e['id']}=ACTION` in the `recipient_overrides` file (see "
                    "CONFIGURATION.md).")
    else:
        reply = (f"Reply: `{e['code']} {e['enhanced']}` (a temporary DNS failure during the "
                 f"check gives `451 4.4.3` instead). Default action: `{e['action']}`, because "
                 f"{e['why_default']}.")
        operator = (f"Set `{e['id']} = reject | tempfail | warn | ignore` in the configuration, "
                    "or per recipient in the `recipient_overrides` file (see CONFIGURATION.md).")
    page = [
        f"# {e['id']}", "",
        f"**{e['reason'][0].upper() + e['reason'][1:]}.**", "",
        reply, "",
        "## What it means", "", e["explanation"], "",
        "## How to fix it", "", e["fix"], "",
        "## For the receiving operator", "",
        operator, "",
    ]
    with open(os.path.join(outdir, e["id"] + ".md"), "w") as f:
        f.write("\n".join(page))
with open(os.path.join(outdir, "README.md"), "w") as f:
    f.write("\n".join(index) + "\n")
