/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Scope rules: "METHOD regex", split at the first space as
 * magic-api-proxy does.  The method compares exactly ("*" is any);
 * the regex is written for Python's re, and only syntax that means the
 * same to PCRE2 is accepted (mt_pyre.c).
 *
 *   full    the regex must match the whole path, case-sensitive, on
 *           bytes (a non-ASCII literal matches its UTF-8 bytes);
 *   prefix  Python re.match(regex, path, re.I) on the path decoded as
 *           UTF-8: anchored at the start only, case-insensitive, on
 *           code points (PCRE2 UTF and UCP).  A path that is not valid
 *           UTF-8 matches no prefix rule: PCRE2 returns an error, which
 *           denies.
 *
 * Every match runs under PCRE2 match, depth and heap limits; hitting
 * one denies.
 */

#define PCRE2_CODE_UNIT_WIDTH 8

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "mt_core.h"


#define MT_PCRE2_HEAP_LIMIT  4096       /* KiB */


typedef struct {
    char         *entry;                /* "METHOD regex", NUL-terminated */
    size_t        entry_len;
    size_t        method_len;           /* entry[0 .. method_len) */
    pcre2_code   *re;
    unsigned      jit;                  /* mt_rules_jit() tried it */
} mt_rule_t;


struct mt_rules_s {
    mt_match_mode_t         mode;
    size_t                  n;
    size_t                  cap;
    mt_rule_t              *rules;
    pcre2_match_context    *mctx;
    size_t                  refs;       /* users: mt_rules_free() each */
    mt_rules_intern_t      *intern;     /* the table it is in, or NULL */
    size_t                  jit_n;      /* rules JIT-compiled, counted */
    size_t                 *jit_count;  /* ... in this, or NULL */
};


mt_rules_t *
mt_rules_new(mt_match_mode_t mode)
{
    mt_rules_t  *rules;

    rules = calloc(1, sizeof(mt_rules_t));
    if (rules == NULL) {
        return NULL;
    }

    rules->mode = mode;
    rules->refs = 1;

    rules->mctx = pcre2_match_context_create(NULL);
    if (rules->mctx == NULL) {
        free(rules);
        return NULL;
    }

    pcre2_set_match_limit(rules->mctx, MT_PCRE2_MATCH_LIMIT);
    pcre2_set_depth_limit(rules->mctx, MT_PCRE2_DEPTH_LIMIT);
    pcre2_set_heap_limit(rules->mctx, MT_PCRE2_HEAP_LIMIT);

    return rules;
}


void
mt_rules_free(mt_rules_t *rules)
{
    size_t  i;

    if (rules == NULL || --rules->refs > 0) {
        return;
    }

    if (rules->intern != NULL) {
        mt_rules_intern_forget(rules->intern, rules);
    }

    if (rules->jit_count != NULL) {
        *rules->jit_count -= rules->jit_n;
    }

    for (i = 0; i < rules->n; i++) {
        pcre2_code_free(rules->rules[i].re);
        free(rules->rules[i].entry);
    }

    free(rules->rules);
    pcre2_match_context_free(rules->mctx);
    free(rules);
}


size_t
mt_rules_count(const mt_rules_t *rules)
{
    return rules->n;
}


mt_rules_t *
mt_rules_ref(mt_rules_t *rules)
{
    rules->refs++;

    return rules;
}


mt_match_mode_t
mt_rules_mode(const mt_rules_t *rules)
{
    return rules->mode;
}


/* "METHOD regex" as given to mt_rules_add() */
const char *
mt_rules_entry(const mt_rules_t *rules, size_t i, size_t *len)
{
    *len = rules->rules[i].entry_len;

    return rules->rules[i].entry;
}


void
mt_rules_set_intern(mt_rules_t *rules, mt_rules_intern_t *in)
{
    rules->intern = in;
}


static int
mt_is_method_char(unsigned char c)
{
    /* RFC 9110 token characters */
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9')
           || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}


/*
 * The regex of an entry: the Python re pattern translated by
 * mt_pyre_translate() (anything whose meaning differs is refused), then
 * compiled.  prefix: UTF, UCP and CASELESS, anchored at the start, as
 * Python's re.match(pattern, path, re.I) on the decoded path; full:
 * bytes, case-sensitive, anchored at both ends.
 */
static mt_err_t
mt_rules_compile(mt_match_mode_t mode, const char *pattern, size_t len,
    pcre2_code **re, char *errbuf, size_t errlen)
{
    int                      errcode;
    char                    *pcre;
    size_t                   pcre_len;
    uint32_t                 options;
    mt_err_t                 rc;
    PCRE2_SIZE               erroffset;
    PCRE2_UCHAR              msg[120];
    pcre2_compile_context   *cctx;

    rc = mt_pyre_translate(pattern, len, mode == MT_MATCH_PREFIX, &pcre,
                           &pcre_len, errbuf, errlen);
    if (rc != MT_OK) {
        return rc;
    }

    cctx = pcre2_compile_context_create(NULL);
    if (cctx == NULL) {
        free(pcre);
        return MT_ERR_NOMEM;
    }

    /* "$" and "." know only "\n" as a newline, as in Python */
    pcre2_set_newline(cctx, PCRE2_NEWLINE_LF);

    options = PCRE2_ANCHORED | PCRE2_NEVER_BACKSLASH_C;

    if (mode == MT_MATCH_FULL) {
        options |= PCRE2_ENDANCHORED | PCRE2_NEVER_UTF | PCRE2_NEVER_UCP;

    } else {
        options |= PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS;
    }

    *re = pcre2_compile((PCRE2_SPTR) pcre, pcre_len, options, &errcode,
                        &erroffset, cctx);

    pcre2_compile_context_free(cctx);
    free(pcre);

    if (*re == NULL) {
        if (errbuf != NULL) {
            pcre2_get_error_message(errcode, msg, sizeof(msg));
            snprintf(errbuf, errlen, "%s", (char *) msg);
        }

        return MT_ERR_BAD_SCOPE;
    }

    return MT_OK;
}


/* "scope regex \"<entry>\": <reason>" */
static void
mt_rules_error(const char *entry, size_t len, char *errbuf, size_t errlen)
{
    char  reason[200];

    snprintf(reason, sizeof(reason), "%s", errbuf);
    snprintf(errbuf, errlen, "scope regex \"%.*s\": %s",
             (int) (len > 64 ? 64 : len), entry, reason);
}


mt_err_t
mt_rules_add(mt_rules_t *rules, const char *entry, size_t len, char *errbuf,
    size_t errlen)
{
    size_t        i, method_len, cap, limit;
    mt_err_t      rc;
    mt_rule_t    *rule, *grown;
    const char   *sp;

    if (rules->n >= MT_MAX_RULES) {
        if (errbuf != NULL) {
            snprintf(errbuf, errlen, "more than %d scope entries",
                     MT_MAX_RULES);
        }

        return MT_ERR_TOO_LARGE;
    }

    if (len > MT_MAX_RULE_LEN) {
        if (errbuf != NULL) {
            snprintf(errbuf, errlen, "scope entry longer than %d bytes",
                     MT_MAX_RULE_LEN);
        }

        return MT_ERR_TOO_LARGE;
    }

    /* entries end up in $magic_token_scope, and so in headers */
    for (i = 0; i < len; i++) {
        if ((unsigned char) entry[i] < 0x20 || entry[i] == 0x7f) {
            if (errbuf != NULL) {
                snprintf(errbuf, errlen, "scope entry has a control "
                         "character");
            }

            return MT_ERR_BAD_SCOPE;
        }
    }

    sp = memchr(entry, ' ', len);

    if (sp == NULL || sp == entry) {
        if (errbuf != NULL) {
            snprintf(errbuf, errlen, "scope entry \"%.*s\" is not "
                     "\"METHOD regex\"", (int) (len > 64 ? 64 : len), entry);
        }

        return MT_ERR_BAD_SCOPE;
    }

    method_len = (size_t) (sp - entry);

    for (i = 0; i < method_len; i++) {
        if (!mt_is_method_char((unsigned char) entry[i])) {
            if (errbuf != NULL) {
                snprintf(errbuf, errlen, "scope entry \"%.*s\" has an "
                         "invalid method",
                         (int) (len > 64 ? 64 : len), entry);
            }

            return MT_ERR_BAD_SCOPE;
        }
    }

    if (rules->n == rules->cap) {
        /* from one: a token's list of one or two rules stays small */
        cap = rules->cap ? rules->cap * 2 : 1;

        grown = realloc(rules->rules, cap * sizeof(mt_rule_t));
        if (grown == NULL) {
            return MT_ERR_NOMEM;
        }

        rules->rules = grown;
        rules->cap = cap;
    }

    rule = &rules->rules[rules->n];
    memset(rule, 0, sizeof(mt_rule_t));

    rc = mt_rules_compile(rules->mode, sp + 1, len - method_len - 1,
                          &rule->re, errbuf, errlen);
    if (rc != MT_OK) {
        if (rc == MT_ERR_BAD_SCOPE && errbuf != NULL && errlen > 0) {
            mt_rules_error(entry, len, errbuf, errlen);
        }

        return rc;
    }

    rule->entry = malloc(len + 1);
    if (rule->entry == NULL) {
        pcre2_code_free(rule->re);
        return MT_ERR_NOMEM;
    }

    memcpy(rule->entry, entry, len);
    rule->entry[len] = '\0';
    rule->entry_len = len;
    rule->method_len = method_len;

    rules->n++;

    /*
     * One budget for all the entries of a list: the more entries, the
     * fewer steps each, so that a token of 256 hostile regexes costs no
     * more than one.  Set while the list is built, never per request.
     */
    limit = MT_PCRE2_MATCH_BUDGET / rules->n;

    if (limit > MT_PCRE2_MATCH_LIMIT) {
        limit = MT_PCRE2_MATCH_LIMIT;
    }

    if (limit < MT_PCRE2_MATCH_FLOOR) {
        limit = MT_PCRE2_MATCH_FLOOR;
    }

    pcre2_set_match_limit(rules->mctx, (uint32_t) limit);

    return MT_OK;
}


/*
 * A caller's reusable match data: PCRE2 10.42 allocates the backtracking
 * frames (20 KiB and more) in the match data on its first match and
 * keeps them there, so a matcher kept for many matches saves an
 * allocation and a release per match.  Not to be kept per rule list: the
 * frames would stay with every cached token.
 */
struct mt_matcher_s {
    pcre2_match_data  *md;
};


mt_matcher_t *
mt_matcher_new(void)
{
    mt_matcher_t  *m;

    m = malloc(sizeof(mt_matcher_t));
    if (m == NULL) {
        return NULL;
    }

    m->md = pcre2_match_data_create(1, NULL);
    if (m->md == NULL) {
        free(m);
        return NULL;
    }

    return m;
}


void
mt_matcher_free(mt_matcher_t *m)
{
    if (m != NULL) {
        pcre2_match_data_free(m->md);
        free(m);
    }
}


/*
 * PCRE2's JIT for every rule of the list not compiled yet: an error
 * (no JIT in this PCRE2, executable memory refused) leaves the rule to
 * the interpreter, with the same result.  The match limit applies to
 * JIT matching too; the depth and heap limits are replaced by the JIT
 * stack's (32 KiB), and hitting it denies as any other limit does.
 * Returns the number of rules compiled now.
 */
size_t
mt_rules_jit(mt_rules_t *rules)
{
    size_t      i, n;
    mt_rule_t  *rule;

    n = 0;

    for (i = 0; i < rules->n; i++) {
        rule = &rules->rules[i];

        if (rule->jit) {
            continue;
        }

        rule->jit = 1;

        if (pcre2_jit_compile(rule->re, PCRE2_JIT_COMPLETE) == 0) {
            n++;
        }
    }

    return n;
}


/*
 * mt_rules_jit(), counted in *count: the rules compiled now are added,
 * and all the list's are taken off when the list is freed, by its last
 * user, whichever that is (lists are shared, mt_intern.c), so that *count
 * is always the JIT-compiled rules of the lists alive.  A list counts in
 * the count of its first call only.
 */
size_t
mt_rules_jit_counted(mt_rules_t *rules, size_t *count)
{
    size_t  n;

    if (rules->jit_count != NULL && rules->jit_count != count) {
        return 0;
    }

    n = mt_rules_jit(rules);

    rules->jit_n += n;
    rules->jit_count = count;
    *count += n;

    return n;
}


mt_err_t
mt_rules_match(const mt_rules_t *rules, const char *method,
    size_t method_len, const char *path, size_t path_len,
    const char **matched, size_t *matched_len)
{
    return mt_rules_match_with(rules, NULL, method, method_len, path,
                               path_len, matched, matched_len);
}


mt_err_t
mt_rules_match_with(const mt_rules_t *rules, mt_matcher_t *m,
    const char *method, size_t method_len, const char *path,
    size_t path_len, const char **matched, size_t *matched_len)
{
    int                 rc;
    size_t              i;
    mt_err_t            err;
    const mt_rule_t    *rule;
    pcre2_match_data   *md;

    /*
     * No legitimate path holds control characters; a decoded %0A would
     * let "$" match before it while the upstream gets the whole path.
     */
    for (i = 0; i < path_len; i++) {
        if ((unsigned char) path[i] < 0x20 || path[i] == 0x7f) {
            return MT_ERR_SCOPE_DENIED;
        }
    }

    if (m != NULL) {
        md = m->md;

    } else {
        md = pcre2_match_data_create(1, NULL);
        if (md == NULL) {
            return MT_ERR_NOMEM;
        }
    }

    err = MT_ERR_SCOPE_DENIED;

    for (i = 0; i < rules->n; i++) {
        rule = &rules->rules[i];

        if (!(rule->method_len == 1 && rule->entry[0] == '*')
            && (rule->method_len != method_len
                || memcmp(rule->entry, method, method_len) != 0))
        {
            continue;
        }

        rc = pcre2_match(rule->re, (PCRE2_SPTR) path, path_len, 0, 0, md,
                         rules->mctx);

        if (rc >= 0) {
            *matched = rule->entry;
            *matched_len = rule->entry_len;
            err = MT_OK;
            break;
        }

        /* PCRE2_ERROR_NOMATCH or a limit: this rule does not allow */
    }

    if (m == NULL) {
        pcre2_match_data_free(md);
    }

    return err;
}
