/*
 * config: see config.h. The reader is bounded (line length, file size) because a
 * configuration file may come from a package or a template, and every error names its line.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/addr.h"
#include "util/mem.h"
#include "util/str.h"

#define CONFIG_FILE_MAX (4u << 20) /* bytes of one configuration or table file */
#define CONFIG_LINE_MAX 65536      /* one logical line (continuations joined) */
#define CONFIG_LIST_MAX 10000      /* items in one list value */

struct ptr_pattern {
    pcre2_code *re;
    char *source;
    char *text; /* reply text after the pattern, or NULL */
};

/* ---- small helpers ---- */

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *lower_dup(const char *s, size_t len)
{
    char *p = xstrndup(s, len);
    for (size_t i = 0; i < len; i++)
        p[i] = (char)tolower((unsigned char)p[i]);
    return p;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Splits value into items separated by commas and/or white space. */
static int split_list(const char *v, char ***out, size_t *n, bool lower)
{
    char **items = NULL;
    size_t count = 0, cap = 0;
    const char *p = v;
    while (*p != '\0') {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (*p == '\0') break;
        const char *s = p;
        while (*p != '\0' && *p != ',' && !isspace((unsigned char)*p))
            p++;
        if (count == CONFIG_LIST_MAX) {
            free_strv(items, count);
            return -1;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 8;
            items = xrealloc(items, xmul(cap, sizeof *items));
        }
        items[count++] = lower ? lower_dup(s, (size_t)(p - s)) : xstrndup(s, (size_t)(p - s));
    }
    *out = items;
    *n = count;
    return 0;
}

static void strip_dot(char *s)
{
    size_t len = strlen(s);
    if (len > 1 && s[len - 1] == '.') s[len - 1] = '\0';
}

int config_parse_duration_ms(const char *s, unsigned *ms)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno != 0 || v < 0) return -1;
    double mult = 1000;
    if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        mult = 1000;
    else if (strcmp(end, "m") == 0)
        mult = 60000;
    else if (strcmp(end, "h") == 0)
        mult = 3600000;
    else
        return -1;
    double r = v * mult;
    if (r > 86400000.0) return -1;
    *ms = (unsigned)r;
    return 0;
}

static int parse_bool(const char *v, bool *out)
{
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") ||
        !strcasecmp(v, "on")) {
        *out = true;
        return 0;
    }
    if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") ||
        !strcasecmp(v, "off")) {
        *out = false;
        return 0;
    }
    return -1;
}

static int parse_int(const char *v, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end != '\0' || errno != 0 || x < min || x > max) return -1;
    *out = x;
    return 0;
}

/* ---- postscreen-style DNSxL sites: zone[=filter][*weight] ---- */

static int parse_sites(const char *v, dnsxl_site_t **out, size_t *n, char *why, size_t whylen)
{
    char **items;
    size_t count;
    if (split_list(v, &items, &count, false) != 0) {
        snprintf(why, whylen, "too many items");
        return -1;
    }
    dnsxl_site_t *sites = xcalloc(count ? count : 1, sizeof *sites);
    for (size_t i = 0; i < count; i++) {
        char *item = items[i];
        int weight = 1;
        char *star = strrchr(item, '*');
        if (star != NULL) {
            long long w;
            if (parse_int(star + 1, -1000, 1000, &w) != 0) {
                snprintf(why, whylen, "bad weight in \"%s\"", item);
                goto fail;
            }
            weight = (int)w;
            *star = '\0';
        }
        char *eq = strchr(item, '=');
        char *filter = NULL;
        if (eq != NULL) {
            *eq = '\0';
            filter = xstrdup(eq + 1);
            ipaddr_t probe;
            memset(&probe, 0, sizeof probe);
            probe.family = 4;
            /* validate the filter's shape by matching it once */
            if (*filter == '\0' || strspn(filter, "0123456789.[];") != strlen(filter)) {
                snprintf(why, whylen, "bad reply filter \"%s\"", filter);
                free(filter);
                goto fail;
            }
            (void)dnsxl_filter_match(filter, &probe);
        }
        strip_dot(item);
        if (addr_domain_valid((const unsigned char *)item, strlen(item), 0, NULL) != 1) {
            snprintf(why, whylen, "bad list zone \"%s\"", item);
            free(filter);
            goto fail;
        }
        sites[i].zone = lower_dup(item, strlen(item));
        sites[i].filter = filter;
        sites[i].weight = weight;
    }
    free_strv(items, count);
    *out = sites;
    *n = count;
    return 0;
fail:
    for (size_t j = 0; j < count; j++) {
        free(sites[j].zone);
        free(sites[j].filter);
    }
    free(sites);
    free_strv(items, count);
    return -1;
}

/* One octet pattern: "N", "[N..M]", "[N;M;K..L]". */
static bool octet_match(const char *p, size_t len, unsigned v)
{
    if (len == 0) return false;
    if (p[0] != '[') {
        long long x;
        char tmp[8];
        if (len >= sizeof tmp) return false;
        memcpy(tmp, p, len);
        tmp[len] = '\0';
        return parse_int(tmp, 0, 255, &x) == 0 && (unsigned)x == v;
    }
    if (p[len - 1] != ']') return false;
    const char *s = p + 1, *end = p + len - 1;
    while (s < end) {
        const char *semi = memchr(s, ';', (size_t)(end - s));
        const char *alt_end = semi ? semi : end;
        unsigned lo = 0, hi = 0;
        const char *q = s;
        while (q < alt_end && isdigit((unsigned char)*q))
            lo = lo * 10 + (unsigned)(*q++ - '0');
        hi = lo;
        if (q + 1 < alt_end && q[0] == '.' && q[1] == '.') {
            q += 2;
            hi = 0;
            while (q < alt_end && isdigit((unsigned char)*q))
                hi = hi * 10 + (unsigned)(*q++ - '0');
        }
        if (q == alt_end && v >= lo && v <= hi) return true;
        s = alt_end + (semi ? 1 : 0);
    }
    return false;
}

bool dnsxl_filter_match(const char *filter, const ipaddr_t *reply)
{
    if (filter == NULL) return true;
    if (reply->family != 4) return false;
    const char *p = filter;
    for (int i = 0; i < 4; i++) {
        const char *dot = p;
        int depth = 0;
        while (*dot != '\0' && !(depth == 0 && *dot == '.')) {
            if (*dot == '[')
                depth++;
            else if (*dot == ']')
                depth--;
            dot++;
        }
        if (!octet_match(p, (size_t)(dot - p), reply->a[i])) return false;
        if (i < 3) {
            if (*dot != '.') return false;
            p = dot + 1;
        } else if (*dot != '\0') {
            return false;
        }
    }
    return true;
}

/* ---- pattern file (PCRE2), one "/regex/flags [reply text]" per line ---- */

static int read_file(const char *path, str_t *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        errf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (out->len + n > CONFIG_FILE_MAX) {
            fclose(f);
            errf(err, errlen, "%s: file larger than %u bytes", path, CONFIG_FILE_MAX);
            return -1;
        }
        str_append(out, buf, n);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        errf(err, errlen, "%s: read error", path);
        return -1;
    }
    if (out->len > 0 && memchr(out->data, '\0', out->len) != NULL) {
        errf(err, errlen, "%s: contains a NUL byte", path);
        return -1;
    }
    return 0;
}

/* Iterates over logical lines: comments and blank lines skipped, continuation lines joined. */
typedef struct line_iter {
    const char *p, *end;
    unsigned lineno, next_lineno;
    str_t line;
} line_iter_t;

static bool line_next(line_iter_t *it)
{
    str_clear(&it->line);
    while (it->p < it->end) {
        const char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
        const char *le = nl ? nl : it->end;
        const char *s = it->p;
        unsigned no = ++it->next_lineno;
        it->p = nl ? nl + 1 : it->end;
        size_t len = (size_t)(le - s);
        if (len > 0 && s[len - 1] == '\r') len--;
        size_t k = 0;
        while (k < len && isspace((unsigned char)s[k]))
            k++;
        if (k == len || s[k] == '#') continue; /* blank or comment (does not end a continuation) */
        bool cont = k > 0;
        if (cont && it->line.len > 0) {
            str_appendc(&it->line, ' ');
            str_append(&it->line, s + k, len - k);
        } else if (it->line.len > 0) {
            /* a new logical line starts: push it back */
            it->p = s;
            it->next_lineno--;
            return true;
        } else {
            it->lineno = no;
            str_append(&it->line, s + k, len - k);
        }
        if (it->line.len > CONFIG_LINE_MAX) return true; /* caller reports */
    }
    return it->line.len > 0;
}

static void trim(char **s, size_t *len)
{
    while (*len > 0 && isspace((unsigned char)(*s)[0])) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && isspace((unsigned char)(*s)[*len - 1]))
        (*len)--;
}

static void pattern_free(ptr_pattern_t *p)
{
    if (p == NULL) return;
    pcre2_code_free(p->re);
    free(p->source);
    free(p->text);
    free(p);
}

static int load_patterns(config_t *c, const char *path, char *err, size_t errlen)
{
    str_t buf = STR_INIT;
    if (read_file(path, &buf, err, errlen) != 0) {
        str_free(&buf);
        return -1;
    }
    line_iter_t it = {buf.data, buf.data + buf.len, 0, 0, STR_INIT};
    int rc = 0;
    while (line_next(&it)) {
        char *s = it.line.data;
        size_t len = it.line.len;
        trim(&s, &len);
        if (len < 2 || s[0] != '/') {
            errf(err, errlen, "%s:%u: expected /regex/flags [text]", path, it.lineno);
            rc = -1;
            break;
        }
        /* find the closing delimiter, skipping escaped slashes */
        size_t i = 1;
        while (i < len && s[i] != '/') {
            if (s[i] == '\\' && i + 1 < len) i++;
            i++;
        }
        if (i >= len) {
            errf(err, errlen, "%s:%u: no closing / in pattern", path, it.lineno);
            rc = -1;
            break;
        }
        uint32_t opts = PCRE2_CASELESS; /* Postfix pcre tables are case-insensitive by default */
        size_t j = i + 1;
        for (; j < len && !isspace((unsigned char)s[j]); j++) {
            if (s[j] == 'i')
                opts ^= PCRE2_CASELESS;
            else if (s[j] == 'x')
                opts |= PCRE2_EXTENDED;
            else {
                errf(err, errlen, "%s:%u: unknown pattern flag '%c'", path, it.lineno,
                     isprint((unsigned char)s[j]) ? s[j] : '?');
                rc = -1;
                break;
            }
        }
        if (rc != 0) break;
        int ecode;
        PCRE2_SIZE eoff;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)(s + 1), i - 1, opts, &ecode, &eoff, NULL);
        if (re == NULL) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(ecode, msg, sizeof msg);
            errf(err, errlen, "%s:%u: bad pattern at offset %zu: %s", path, it.lineno, (size_t)eoff,
                 (char *)msg);
            rc = -1;
            break;
        }
        char *text = s + j;
        size_t tlen = len - j;
        trim(&text, &tlen);
        ptr_pattern_t *p = xcalloc(1, sizeof *p);
        p->re = re;
        p->source = xstrndup(s, j);
        p->text = tlen > 0 ? xstrndup(text, tlen) : NULL;
        c->ptr_patterns = xrealloc(c->ptr_patterns, xmul(c->nptr_patterns + 1, sizeof(void *)));
        c->ptr_patterns[c->nptr_patterns++] = p;
    }
    str_free(&it.line);
    str_free(&buf);
    return rc;
}

bool config_ptr_listed(const config_t *c, const char *name, size_t len, const char **pattern,
                       const char **text)
{
    for (size_t i = 0; i < c->nptr_patterns; i++) {
        ptr_pattern_t *p = c->ptr_patterns[i];
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(p->re, NULL);
        int rc = pcre2_match(p->re, (PCRE2_SPTR)name, len, 0, 0, md, NULL);
        pcre2_match_data_free(md);
        if (rc >= 0) {
            *pattern = p->source;
            *text = p->text;
            return true;
        }
    }
    return false;
}

/* ---- recipient overrides: "key setting=value ..." per line ---- */

static int load_overrides(config_t *c, const char *path, char *err, size_t errlen)
{
    str_t buf = STR_INIT;
    if (read_file(path, &buf, err, errlen) != 0) {
        str_free(&buf);
        return -1;
    }
    line_iter_t it = {buf.data, buf.data + buf.len, 0, 0, STR_INIT};
    int rc = 0;
    while (rc == 0 && line_next(&it)) {
        char *s = it.line.data;
        size_t len = it.line.len;
        trim(&s, &len);
        size_t k = 0;
        while (k < len && !isspace((unsigned char)s[k]))
            k++;
        rcpt_override_t o;
        o.key = lower_dup(s, k);
        memset(o.action, -1, sizeof o.action);
        if (k == 0 || strchr(o.key, '=') != NULL) {
            errf(err, errlen, "%s:%u: expected \"address-or-domain setting=value ...\"", path,
                 it.lineno);
            free(o.key);
            rc = -1;
            break;
        }
        char *rest = xstrndup(s + k, len - k);
        char *save = NULL;
        int settings = 0;
        for (char *tok = strtok_r(rest, " \t,", &save); tok != NULL;
             tok = strtok_r(NULL, " \t,", &save)) {
            char *eq = strchr(tok, '=');
            const catalog_entry_t *e = eq ? catalog_find(tok, (size_t)(eq - tok)) : NULL;
            int a = eq ? action_parse(eq + 1, strlen(eq + 1)) : -1;
            if (e == NULL || a < 0) {
                errf(err, errlen, "%s:%u: bad setting \"%.80s\" (expected FINDING-ID=ACTION)", path,
                     it.lineno, tok);
                rc = -1;
                break;
            }
            o.action[e->fid] = (signed char)a;
            settings++;
        }
        free(rest);
        if (rc == 0 && settings == 0) {
            errf(err, errlen, "%s:%u: no settings for \"%s\"", path, it.lineno, o.key);
            rc = -1;
        }
        if (rc != 0) {
            free(o.key);
            break;
        }
        c->overrides = xrealloc(c->overrides, xmul(c->noverrides + 1, sizeof o));
        c->overrides[c->noverrides++] = o;
    }
    str_free(&it.line);
    str_free(&buf);
    return rc;
}

action_t config_action(const config_t *c, finding_id_t fid, const char *rcpt, size_t len)
{
    if (rcpt != NULL && len > 0 && c->noverrides > 0) {
        const char *at = NULL;
        for (size_t i = len; i > 0; i--)
            if (rcpt[i - 1] == '@') {
                at = rcpt + i - 1;
                break;
            }
        const rcpt_override_t *dom = NULL;
        for (size_t i = 0; i < c->noverrides; i++) {
            const rcpt_override_t *o = &c->overrides[i];
            if (o->action[fid] < 0) continue;
            size_t klen = strlen(o->key);
            if (mem_ieq(o->key, klen, rcpt, len)) return (action_t)o->action[fid];
            if (at != NULL && dom == NULL &&
                mem_ieq(o->key, klen, at + 1, len - (size_t)(at + 1 - rcpt)))
                dom = o;
        }
        if (dom != NULL) return (action_t)dom->action[fid];
    }
    return c->action[fid];
}

action_t config_result_action(const config_t *c, finding_id_t fid, result_t r, const char *rcpt,
                              size_t len)
{
    if (r == RES_PASS || r == RES_SKIPPED || (unsigned)r >= RES_COUNT) return ACTION_IGNORE;
    action_t base = config_action(c, fid, rcpt, len);
    if (r == RES_FAIL || base == ACTION_IGNORE) return base;
    if (c->result_action[fid][r] >= 0) return (action_t)c->result_action[fid][r];
    const catalog_results_t *cr = catalog_results(fid);
    if (cr != NULL && cr->defaults[r] >= 0) return (action_t)cr->defaults[r];
    if (r == RES_TEMPERROR) return base == ACTION_REJECT ? ACTION_TEMPFAIL : base;
    return ACTION_IGNORE;
}

bool config_is_local_domain(const config_t *c, const char *name, size_t len)
{
    if (len > 0 && name[len - 1] == '.') len--;
    if (c->myhostname != NULL && mem_ieq(c->myhostname, strlen(c->myhostname), name, len))
        return true;
    for (size_t i = 0; i < c->nlocal_domains; i++)
        if (mem_ieq(c->local_domains[i], strlen(c->local_domains[i]), name, len)) return true;
    return false;
}

bool config_in_mynetworks(const config_t *c, const ipaddr_t *ip)
{
    for (size_t i = 0; i < c->nmynetworks; i++)
        if (cidr_match(&c->mynetworks[i], ip)) return true;
    return false;
}

/* ---- keys ---- */

static int parse_cidrs(const char *v, cidr_t **out, size_t *n, char *why, size_t whylen)
{
    char **items;
    size_t count;
    if (split_list(v, &items, &count, false) != 0) {
        snprintf(why, whylen, "too many items");
        return -1;
    }
    cidr_t *nets = xcalloc(count ? count : 1, sizeof *nets);
    for (size_t i = 0; i < count; i++) {
        char *s = items[i];
        size_t len = strlen(s);
        /* accept Postfix's [::1]/128 form */
        char tmp[128];
        if (s[0] == '[') {
            char *rb = strchr(s, ']');
            if (rb != NULL && len < sizeof tmp) {
                size_t a = (size_t)(rb - s - 1);
                memcpy(tmp, s + 1, a);
                snprintf(tmp + a, sizeof tmp - a, "%s", rb + 1);
                s = tmp;
                len = strlen(s);
            }
        }
        if (cidr_parse(&nets[i], s, len) != 0) {
            snprintf(why, whylen, "bad address or network \"%.80s\"", items[i]);
            free(nets);
            free_strv(items, count);
            return -1;
        }
    }
    free_strv(items, count);
    free(*out);
    *out = nets;
    *n = count;
    return 0;
}

static void set_strv(char ***dst, size_t *n, char **v, size_t count)
{
    free_strv(*dst, *n);
    *dst = v;
    *n = count;
}

static int set_key(config_t *c, const char *key, const char *val, char *why, size_t whylen)
{
    char **v;
    size_t n;
    long long x;
    /* "client.no_ptr = ACTION", or "spf.mailfrom.softfail = ACTION" for a finding that has
     * an action per result ("spf.mailfrom.fail" is the finding's own action) */
    const catalog_entry_t *e = catalog_find(key, strlen(key));
    int r = RES_FAIL;
    const char *dot = e == NULL ? strrchr(key, '.') : NULL;
    if (dot != NULL && (e = catalog_find(key, (size_t)(dot - key))) != NULL) {
        r = result_parse(dot + 1, strlen(dot + 1));
        if (catalog_results(e->fid) == NULL) {
            snprintf(why, whylen, "%s has no per-result actions (set \"%s = ACTION\")", e->id,
                     e->id);
            return -1;
        }
        if (r < 0 || r == RES_PASS || r == RES_SKIPPED) {
            snprintf(why, whylen,
                     "expected %s.RESULT with RESULT one of fail, softfail, neutral, none, "
                     "permerror, temperror",
                     e->id);
            return -1;
        }
    }
    if (e != NULL) {
        int a = action_parse(val, strlen(val));
        if (a < 0) {
            snprintf(why, whylen, "expected reject, tempfail, warn or ignore");
            return -1;
        }
        if (r == RES_FAIL)
            c->action[e->fid] = (action_t)a;
        else
            c->result_action[e->fid][r] = (signed char)a;
        return 0;
    }
    if (!strcmp(key, "myhostname")) {
        char *h = lower_dup(val, strlen(val));
        strip_dot(h);
        if (addr_domain_valid((const unsigned char *)h, strlen(h), 0, NULL) != 1) {
            snprintf(why, whylen, "not a valid host name");
            free(h);
            return -1;
        }
        free(c->myhostname);
        c->myhostname = h;
    } else if (!strcmp(key, "local_domains") || !strcmp(key, "allow_ptr_domains") ||
               !strcmp(key, "allow_sender_domains")) {
        if (split_list(val, &v, &n, true) != 0) {
            snprintf(why, whylen, "too many items");
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            const char *d = v[i][0] == '.' ? v[i] + 1 : v[i];
            strip_dot(v[i]);
            if (addr_domain_valid((const unsigned char *)d, strlen(d), 0, NULL) != 1) {
                snprintf(why, whylen, "bad domain \"%.80s\"", v[i]);
                free_strv(v, n);
                return -1;
            }
        }
        if (!strcmp(key, "local_domains"))
            set_strv(&c->local_domains, &c->nlocal_domains, v, n);
        else if (!strcmp(key, "allow_ptr_domains"))
            set_strv(&c->allow_ptr_domains, &c->nallow_ptr_domains, v, n);
        else
            set_strv(&c->allow_sender_domains, &c->nallow_sender_domains, v, n);
    } else if (!strcmp(key, "mynetworks")) {
        return parse_cidrs(val, &c->mynetworks, &c->nmynetworks, why, whylen);
    } else if (!strcmp(key, "allow_clients")) {
        return parse_cidrs(val, &c->allow_clients, &c->nallow_clients, why, whylen);
    } else if (!strcmp(key, "my_addresses")) {
        if (split_list(val, &v, &n, false) != 0) return -1;
        ipaddr_t *ips = xcalloc(n ? n : 1, sizeof *ips);
        for (size_t i = 0; i < n; i++)
            if (ipaddr_parsez(&ips[i], v[i]) != 0) {
                snprintf(why, whylen, "bad address \"%.80s\"", v[i]);
                free(ips);
                free_strv(v, n);
                return -1;
            }
        free_strv(v, n);
        free(c->my_addresses);
        c->my_addresses = ips;
        c->nmy_addresses = n;
    } else if (!strcmp(key, "dnsbl_sites") || !strcmp(key, "rhsbl_sites")) {
        dnsxl_site_t *sites;
        if (parse_sites(val, &sites, &n, why, whylen) != 0) return -1;
        dnsxl_site_t **dst = key[0] == 'd' ? &c->dnsbl_sites : &c->rhsbl_sites;
        size_t *dn = key[0] == 'd' ? &c->ndnsbl_sites : &c->nrhsbl_sites;
        for (size_t i = 0; i < *dn; i++) {
            free((*dst)[i].zone);
            free((*dst)[i].filter);
        }
        free(*dst);
        *dst = sites;
        *dn = n;
    } else if (!strcmp(key, "dnsbl_threshold") || !strcmp(key, "rhsbl_threshold")) {
        if (parse_int(val, 1, 1000, &x) != 0) {
            snprintf(why, whylen, "expected a number from 1 to 1000");
            return -1;
        }
        *(key[0] == 'd' ? &c->dnsbl_threshold : &c->rhsbl_threshold) = (int)x;
    } else if (!strcmp(key, "explain_url")) {
        free(c->explain_url);
        c->explain_url = xstrdup(val);
        for (const char *p = val; *p; p++)
            if (!isgraph((unsigned char)*p)) {
                snprintf(why, whylen, "the URL must not contain spaces or control characters");
                return -1;
            }
    } else if (!strcmp(key, "dns_zone_files")) {
        if (split_list(val, &v, &n, false) != 0) return -1;
        set_strv(&c->dns_zone_files, &c->ndns_zone_files, v, n);
    } else if (!strcmp(key, "dns_forwarders")) {
        if (split_list(val, &v, &n, false) != 0) return -1;
        set_strv(&c->dns_forwarders, &c->ndns_forwarders, v, n);
    } else if (!strcmp(key, "dns_forward_zones")) {
        if (split_list(val, &v, &n, false) != 0) return -1;
        for (size_t i = 0; i < n; i++)
            if (strchr(v[i], '=') == NULL) {
                snprintf(why, whylen, "expected zone=address[:port], got \"%.80s\"", v[i]);
                free_strv(v, n);
                return -1;
            }
        set_strv(&c->dns_forward_zones, &c->ndns_forward_zones, v, n);
    } else if (!strcmp(key, "dns_timeout") || !strcmp(key, "idle_timeout")) {
        unsigned ms;
        if (config_parse_duration_ms(val, &ms) != 0 || ms < 10) {
            snprintf(why, whylen, "expected a duration such as 10s or 500ms");
            return -1;
        }
        *(key[0] == 'd' ? &c->dns_timeout_ms : &c->idle_timeout_ms) = ms;
    } else if (!strcmp(key, "policy_listen")) {
        if (split_list(val, &v, &n, false) != 0) return -1;
        for (size_t i = 0; i < n; i++)
            if (strncmp(v[i], "inet:", 5) != 0 && strncmp(v[i], "unix:", 5) != 0) {
                snprintf(why, whylen, "expected inet:HOST:PORT or unix:PATH, got \"%.80s\"", v[i]);
                free_strv(v, n);
                return -1;
            }
        set_strv(&c->policy_listen, &c->npolicy_listen, v, n);
    } else if (!strcmp(key, "milter_listen")) {
        free(c->milter_listen);
        c->milter_listen = xstrdup(val);
    } else if (!strcmp(key, "user")) {
        free(c->user);
        c->user = val[0] ? xstrdup(val) : NULL;
    } else if (!strcmp(key, "dry_run")) {
        if (parse_bool(val, &c->dry_run) != 0) {
            snprintf(why, whylen, "expected yes or no");
            return -1;
        }
    } else if (!strcmp(key, "spf_received_header")) {
        if (parse_bool(val, &c->spf_received_header) != 0) {
            snprintf(why, whylen, "expected yes or no");
            return -1;
        }
    } else if (!strcmp(key, "log")) {
        if (!strcmp(val, "syslog"))
            c->log_syslog = true;
        else if (!strcmp(val, "stderr"))
            c->log_syslog = false;
        else {
            snprintf(why, whylen, "expected stderr or syslog");
            return -1;
        }
    } else if (!strcmp(key, "message_size_limit")) {
        if (parse_int(val, 0, (long long)1 << 50, &x) != 0) {
            snprintf(why, whylen, "expected a size in bytes (0: no limit)");
            return -1;
        }
        c->message_size_limit = (unsigned long long)x;
    } else if (!strcmp(key, "max_connections")) {
        if (parse_int(val, 1, 1000000, &x) != 0) {
            snprintf(why, whylen, "expected a number from 1 to 1000000");
            return -1;
        }
        c->max_connections = (size_t)x;
    } else if (!strcmp(key, "client_ptr_patterns")) {
        free(c->client_ptr_patterns_file);
        c->client_ptr_patterns_file = val[0] ? xstrdup(val) : NULL;
    } else if (!strcmp(key, "recipient_overrides")) {
        free(c->recipient_overrides_file);
        c->recipient_overrides_file = val[0] ? xstrdup(val) : NULL;
    } else {
        snprintf(why, whylen, "unknown key");
        return -1;
    }
    return 0;
}

void config_add_zone_files(config_t *c, const char *const *files, size_t n)
{
    if (n == 0) return;
    c->dns_zone_files =
        xrealloc(c->dns_zone_files, xmul(c->ndns_zone_files + n, sizeof *c->dns_zone_files));
    for (size_t i = 0; i < n; i++)
        c->dns_zone_files[c->ndns_zone_files++] = xstrdup(files[i]);
}

void config_dns_options(const config_t *c, dns_options_t *out)
{
    memset(out, 0, sizeof *out);
    out->forwarders = (const char *const *)c->dns_forwarders;
    out->nforwarders = c->ndns_forwarders;
    out->forward_zones = (const char *const *)c->dns_forward_zones;
    out->nforward_zones = c->ndns_forward_zones;
    out->zone_files = (const char *const *)c->dns_zone_files;
    out->nzone_files = c->ndns_zone_files;
    out->timeout_ms = c->dns_timeout_ms;
}

config_t *config_new_defaults(void)
{
    config_t *c = xcalloc(1, sizeof *c);
    char why[256];
    for (int i = 0; i < F_COUNT; i++)
        c->action[i] = catalog_get((finding_id_t)i)->default_action;
    memset(c->result_action, -1, sizeof c->result_action);
    c->spf_received_header = true;
    c->myhostname = xstrdup("localhost");
    char host[256];
    if (gethostname(host, sizeof host) == 0) {
        host[sizeof host - 1] = '\0';
        if (strchr(host, '.') != NULL &&
            addr_domain_valid((const unsigned char *)host, strlen(host), 0, NULL) == 1) {
            free(c->myhostname);
            c->myhostname = lower_dup(host, strlen(host));
        }
    }
    set_key(c, "mynetworks", "127.0.0.0/8, [::1]/128", why, sizeof why);
    c->dnsbl_threshold = 1;
    c->rhsbl_threshold = 1;
    c->explain_url = xstrdup("");
    c->dns_timeout_ms = 10000;
    set_key(c, "policy_listen", "inet:127.0.0.1:10040", why, sizeof why);
    c->milter_listen = xstrdup("inet:127.0.0.1:10041");
    c->message_size_limit = 10240000; /* Postfix's default */
    c->idle_timeout_ms = 1000 * 1000;
    c->max_connections = 20000;
    return c;
}

static int apply(config_t *c, const char *line, size_t len, const char *where, unsigned lineno,
                 char *err, size_t errlen)
{
    const char *eq = memchr(line, '=', len);
    char whereline[300];
    if (lineno > 0)
        snprintf(whereline, sizeof whereline, "%s:%u", where, lineno);
    else
        snprintf(whereline, sizeof whereline, "%s", where);
    if (eq == NULL) {
        errf(err, errlen, "%s: expected \"key = value\"", whereline);
        return -1;
    }
    char *k = (char *)line, *v = (char *)eq + 1;
    size_t klen = (size_t)(eq - line), vlen = len - klen - 1;
    trim(&k, &klen);
    trim(&v, &vlen);
    if (klen == 0) {
        errf(err, errlen, "%s: missing key before \"=\"", whereline);
        return -1;
    }
    char *key = xstrndup(k, klen), *val = xstrndup(v, vlen);
    char why[256] = "";
    int rc = set_key(c, key, val, why, sizeof why);
    if (rc != 0) errf(err, errlen, "%s: %.60s: %s", whereline, key, why);
    free(key);
    free(val);
    return rc;
}

config_t *config_load(const char *path, const char *const *overrides, size_t n, char *err,
                      size_t errlen)
{
    config_t *c = config_new_defaults();
    if (path != NULL) {
        str_t buf = STR_INIT;
        if (read_file(path, &buf, err, errlen) != 0) {
            str_free(&buf);
            config_free(c);
            return NULL;
        }
        line_iter_t it = {buf.data, buf.data + buf.len, 0, 0, STR_INIT};
        int rc = 0;
        while (rc == 0 && line_next(&it)) {
            if (it.line.len > CONFIG_LINE_MAX) {
                errf(err, errlen, "%s:%u: line too long", path, it.lineno);
                rc = -1;
                break;
            }
            rc = apply(c, it.line.data, it.line.len, path, it.lineno, err, errlen);
        }
        str_free(&it.line);
        str_free(&buf);
        if (rc != 0) {
            config_free(c);
            return NULL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        char where[128];
        snprintf(where, sizeof where, "-o %.60s", overrides[i]);
        char *eq = strchr(overrides[i], '=');
        if (eq != NULL)
            snprintf(where, sizeof where, "-o %.*s",
                     (int)(eq - overrides[i]) > 60 ? 60 : (int)(eq - overrides[i]), overrides[i]);
        if (apply(c, overrides[i], strlen(overrides[i]), where, 0, err, errlen) != 0) {
            config_free(c);
            return NULL;
        }
    }
    if (c->client_ptr_patterns_file != NULL &&
        load_patterns(c, c->client_ptr_patterns_file, err, errlen) != 0) {
        config_free(c);
        return NULL;
    }
    if (c->recipient_overrides_file != NULL &&
        load_overrides(c, c->recipient_overrides_file, err, errlen) != 0) {
        config_free(c);
        return NULL;
    }
    return c;
}

void config_free(config_t *c)
{
    if (c == NULL) return;
    free(c->myhostname);
    free_strv(c->local_domains, c->nlocal_domains);
    free(c->mynetworks);
    free(c->my_addresses);
    for (size_t i = 0; i < c->ndnsbl_sites; i++) {
        free(c->dnsbl_sites[i].zone);
        free(c->dnsbl_sites[i].filter);
    }
    free(c->dnsbl_sites);
    for (size_t i = 0; i < c->nrhsbl_sites; i++) {
        free(c->rhsbl_sites[i].zone);
        free(c->rhsbl_sites[i].filter);
    }
    free(c->rhsbl_sites);
    free(c->explain_url);
    free_strv(c->dns_zone_files, c->ndns_zone_files);
    free_strv(c->dns_forwarders, c->ndns_forwarders);
    free_strv(c->dns_forward_zones, c->ndns_forward_zones);
    free_strv(c->policy_listen, c->npolicy_listen);
    free(c->milter_listen);
    free(c->user);
    free(c->allow_clients);
    free_strv(c->allow_ptr_domains, c->nallow_ptr_domains);
    free_strv(c->allow_sender_domains, c->nallow_sender_domains);
    free(c->client_ptr_patterns_file);
    for (size_t i = 0; i < c->nptr_patterns; i++)
        pattern_free(c->ptr_patterns[i]);
    free(c->ptr_patterns);
    free(c->recipient_overrides_file);
    for (size_t i = 0; i < c->noverrides; i++)
        free(c->overrides[i].key);
    free(c->overrides);
    free(c);
}
