/*
 * config: mailblock's configuration, "key = value" lines with "#" comments as in Postfix's
 * main.cf (a line starting with white space continues the previous one), then "-o key=value"
 * overrides. Every error names FILE:LINE (or "-o key") and the key; an unknown key is an
 * error, so that a typo never silently disables a check. A configuration is immutable once
 * loaded; a reload builds a new one and swaps it only when it is valid.
 */
#ifndef MB_CORE_CONFIG_H
#define MB_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/catalog.h"
#include "dns/dns.h"
#include "util/ipaddr.h"

typedef struct dnsxl_site {
    char *zone;   /* lower case, no trailing dot */
    char *filter; /* postscreen-style reply filter ("127.0.0.[2..11]"), NULL: any */
    int weight;   /* "*N"; default 1; negative for allowlists */
} dnsxl_site_t;

typedef struct ptr_pattern ptr_pattern_t; /* compiled PCRE2 pattern + optional reply text */

typedef struct rcpt_override {
    char *key;                   /* "user@domain" or "domain", lower case */
    signed char action[F_COUNT]; /* -1: not overridden */
} rcpt_override_t;

typedef struct config {
    char *myhostname;
    char **local_domains;
    size_t nlocal_domains;
    cidr_t *mynetworks;
    size_t nmynetworks;
    ipaddr_t *my_addresses; /* this receiver's own addresses, for helo.forged_self */
    size_t nmy_addresses;
    dnsxl_site_t *dnsbl_sites;
    size_t ndnsbl_sites;
    dnsxl_site_t *rhsbl_sites;
    size_t nrhsbl_sites;
    int dnsbl_threshold;
    int rhsbl_threshold;
    char *explain_url;
    char **dns_zone_files;
    size_t ndns_zone_files;
    char **dns_forwarders;
    size_t ndns_forwarders;
    char **dns_forward_zones;
    size_t ndns_forward_zones;
    unsigned dns_timeout_ms;
    char **policy_listen;
    size_t npolicy_listen;
    char *milter_listen;
    char *user;
    bool dry_run;
    bool spf_received_header; /* PREPEND Received-SPF once per message (default yes) */
    bool log_syslog;
    unsigned long long message_size_limit; /* 0: no limit */
    action_t action[F_COUNT];
    /* Findings with per-result actions (spf.*): "spf.mailfrom.softfail = warn". -1: none
     * set (the catalog's default for that result, else derived from action[]). */
    signed char result_action[F_COUNT][RES_COUNT];
    cidr_t *allow_clients;
    size_t nallow_clients;
    char **allow_ptr_domains;
    size_t nallow_ptr_domains;
    char **allow_sender_domains;
    size_t nallow_sender_domains;
    char *client_ptr_patterns_file;
    ptr_pattern_t **ptr_patterns;
    size_t nptr_patterns;
    char *recipient_overrides_file;
    rcpt_override_t *overrides;
    size_t noverrides;
    unsigned idle_timeout_ms;
    size_t max_connections;
} config_t;

/* A configuration with every default (see docs/CONFIGURATION.md). */
config_t *config_new_defaults(void);
/*
 * Reads path (NULL: defaults only), then applies overrides[0..n) ("key=value" each), then
 * loads the files the configuration names (pattern file, override file) and validates the
 * whole. Returns NULL with "FILE:LINE: message" in err on any error.
 */
config_t *config_load(const char *path, const char *const *overrides, size_t n, char *err,
                      size_t errlen);
void config_free(config_t *c);

/* The action for fid when the recipient is rcpt (may be NULL: site setting). rcpt is the
 * address as given; the override for the full address wins over its domain's. */
action_t config_action(const config_t *c, finding_id_t fid, const char *rcpt, size_t len);

/*
 * The action for a result of fid when the recipient is rcpt. The finding's own action
 * (config_action) is the action of fail, and "ignore" there turns the whole check off; other
 * results take their per-result setting (spf.*), else the catalog's default for that result,
 * else: temperror follows the fail action (reject becomes tempfail: DNS trouble is never a
 * permanent reject) and every other result is ignored. pass and skipped are always ignored.
 */
action_t config_result_action(const config_t *c, finding_id_t fid, result_t r, const char *rcpt,
                              size_t len);

/* Does name equal one of local_domains or myhostname (case-insensitive)? */
bool config_is_local_domain(const config_t *c, const char *name, size_t len);
bool config_in_mynetworks(const config_t *c, const ipaddr_t *ip);
/* Does a PTR name match the operator's pattern file? *text gets the pattern's reply text or
 * NULL, *pattern the pattern source. */
bool config_ptr_listed(const config_t *c, const char *name, size_t len, const char **pattern,
                       const char **text);
/* Postscreen reply filter, e.g. "127.0.0.[2..11]", "127.0.[0..255].[1;3]" */
bool dnsxl_filter_match(const char *filter, const ipaddr_t *reply);

/* Appends zone files (copied) to dns_zone_files, as --zone does. */
void config_add_zone_files(config_t *c, const char *const *files, size_t n);

/* The resolver options the configuration gives; pointers borrow from c. */
void config_dns_options(const config_t *c, dns_options_t *out);

/* Parses a duration "10s", "500ms", "2m", "1h" or a bare number of seconds. */
int config_parse_duration_ms(const char *s, unsigned *ms);

#endif
