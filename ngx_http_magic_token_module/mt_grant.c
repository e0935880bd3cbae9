/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Grant rules: what a response to a trigger request allows its token to
 * do next (magic_token_grant).  The trigger is a scope entry, "METHOD
 * regex", matched against the whole path like the "full" match mode;
 * the grant is an exact "METHOD /path" built from a template with the
 * trigger's captures ($1 .. $9) and one value read from the JSON
 * response ($json).
 *
 * Everything that comes from a request or a response and lands in a
 * grant is a safe value, [A-Za-z0-9._-]{1,64} and not only dots: no
 * "/", no "%", no regex or template syntax.  The grant is compared as a
 * string, never compiled.
 */

#define PCRE2_CODE_UNIT_WIDTH 8

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>

#include <pcre2.h>

#include "mt_core.h"


#define MT_GRANT_HEAP_LIMIT  4096       /* KiB */


struct mt_grant_rule_s {
    char                 *method;       /* NUL-terminated */
    size_t                method_len;
    pcre2_code           *re;
    pcre2_match_context  *mctx;
    uint32_t              captures;

    char                 *tmpl;         /* "METHOD /path/$1/$json" */
    size_t                tmpl_len;

    char                 *json_path;    /* NULL: no body needed */
    size_t                json_path_len;
};


static mt_err_t mt_grant_compile(mt_grant_rule_t *rule, const char *trigger,
    size_t len, char *errbuf, size_t errlen);
static mt_err_t mt_grant_check_template(const mt_grant_rule_t *rule,
    char *errbuf, size_t errlen);
static mt_err_t mt_grant_check_json_path(const char *path, size_t len);
static int mt_grant_method_char(unsigned char c);
static char *mt_grant_strndup(const char *s, size_t len);


#define mt_grant_error(...)                                                   \
    do {                                                                      \
        if (errbuf != NULL && errlen > 0) {                                   \
            snprintf(errbuf, errlen, __VA_ARGS__);                            \
        }                                                                     \
    } while (0)


int
mt_grant_safe_value(const char *v, size_t len)
{
    size_t         i, dots;
    unsigned char  c;

    if (len == 0 || len > MT_GRANT_MAX_VALUE) {
        return 0;
    }

    dots = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) v[i];

        if (c == '.') {
            dots++;
            continue;
        }

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'))
        {
            return 0;
        }
    }

    /* "." and ".." are path segments, not values */
    return dots != len;
}


mt_err_t
mt_grant_rule_new(mt_grant_rule_t **out, const char *trigger,
    size_t trigger_len, const char *tmpl, size_t tmpl_len,
    const char *json_path, size_t json_path_len, char *errbuf,
    size_t errlen)
{
    mt_err_t          rc;
    mt_grant_rule_t  *rule;

    *out = NULL;

    if (trigger_len > MT_MAX_RULE_LEN || tmpl_len > MT_GRANT_MAX_LEN) {
        mt_grant_error("longer than %d bytes", MT_MAX_RULE_LEN);
        return MT_ERR_TOO_LARGE;
    }

    rule = calloc(1, sizeof(mt_grant_rule_t));
    if (rule == NULL) {
        return MT_ERR_NOMEM;
    }

    rc = mt_grant_compile(rule, trigger, trigger_len, errbuf, errlen);
    if (rc != MT_OK) {
        goto failed;
    }

    if (json_path != NULL && json_path_len > 0) {
        if (mt_grant_check_json_path(json_path, json_path_len) != MT_OK) {
            mt_grant_error("JSON path \"%.*s\" is not names and indexes "
                           "separated by dots, at most %d deep",
                           (int) (json_path_len > 64 ? 64 : json_path_len),
                           json_path, MT_GRANT_MAX_DEPTH);
            rc = MT_ERR_BAD_SCOPE;
            goto failed;
        }

        rule->json_path = mt_grant_strndup(json_path, json_path_len);
        if (rule->json_path == NULL) {
            rc = MT_ERR_NOMEM;
            goto failed;
        }

        rule->json_path_len = json_path_len;
    }

    rule->tmpl = mt_grant_strndup(tmpl, tmpl_len);
    if (rule->tmpl == NULL) {
        rc = MT_ERR_NOMEM;
        goto failed;
    }

    rule->tmpl_len = tmpl_len;

    rc = mt_grant_check_template(rule, errbuf, errlen);
    if (rc != MT_OK) {
        goto failed;
    }

    *out = rule;

    return MT_OK;

failed:

    mt_grant_rule_free(rule);

    return rc;
}


void
mt_grant_rule_free(mt_grant_rule_t *rule)
{
    if (rule == NULL) {
        return;
    }

    pcre2_code_free(rule->re);
    pcre2_match_context_free(rule->mctx);
    free(rule->method);
    free(rule->tmpl);
    free(rule->json_path);
    free(rule);
}


int
mt_grant_needs_body(const mt_grant_rule_t *rule)
{
    return rule->json_path != NULL;
}


/* "METHOD regex": the method, and the regex as the "full" mode has it */
static mt_err_t
mt_grant_compile(mt_grant_rule_t *rule, const char *trigger, size_t len,
    char *errbuf, size_t errlen)
{
    int                      errcode;
    char                    *pcre, reason[200];
    size_t                   i, pcre_len;
    mt_err_t                 rc;
    const char              *sp;
    PCRE2_SIZE               erroffset;
    PCRE2_UCHAR              msg[120];
    pcre2_compile_context   *cctx;

    sp = memchr(trigger, ' ', len);

    if (sp == NULL || sp == trigger) {
        mt_grant_error("trigger \"%.*s\" is not \"METHOD regex\"",
                       (int) (len > 64 ? 64 : len), trigger);
        return MT_ERR_BAD_SCOPE;
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) trigger[i] < 0x20 || trigger[i] == 0x7f
            || (trigger + i < sp
                && !mt_grant_method_char((unsigned char) trigger[i])))
        {
            mt_grant_error("trigger \"%.*s\" has an invalid method or a "
                           "control character",
                           (int) (len > 64 ? 64 : len), trigger);
            return MT_ERR_BAD_SCOPE;
        }
    }

    rule->method_len = (size_t) (sp - trigger);
    rule->method = mt_grant_strndup(trigger, rule->method_len);
    if (rule->method == NULL) {
        return MT_ERR_NOMEM;
    }

    rc = mt_pyre_translate(sp + 1, len - rule->method_len - 1, 0, &pcre,
                           &pcre_len, errbuf, errlen);
    if (rc != MT_OK) {
        if (rc == MT_ERR_BAD_SCOPE && errbuf != NULL && errlen > 0) {
            snprintf(reason, sizeof(reason), "%s", errbuf);
            mt_grant_error("trigger \"%.*s\": %s",
                           (int) (len > 64 ? 64 : len), trigger, reason);
        }

        return rc;
    }

    cctx = pcre2_compile_context_create(NULL);
    if (cctx == NULL) {
        free(pcre);
        return MT_ERR_NOMEM;
    }

    pcre2_set_newline(cctx, PCRE2_NEWLINE_LF);

    rule->re = pcre2_compile((PCRE2_SPTR) pcre, pcre_len,
                             PCRE2_ANCHORED | PCRE2_ENDANCHORED
                             | PCRE2_NEVER_BACKSLASH_C | PCRE2_NEVER_UTF
                             | PCRE2_NEVER_UCP,
                             &errcode, &erroffset, cctx);

    pcre2_compile_context_free(cctx);
    free(pcre);

    if (rule->re == NULL) {
        pcre2_get_error_message(errcode, msg, sizeof(msg));
        mt_grant_error("trigger \"%.*s\": %s", (int) (len > 64 ? 64 : len),
                       trigger, (char *) msg);
        return MT_ERR_BAD_SCOPE;
    }

    if (pcre2_pattern_info(rule->re, PCRE2_INFO_CAPTURECOUNT,
                           &rule->captures) != 0)
    {
        return MT_ERR_INTERNAL;
    }

    rule->mctx = pcre2_match_context_create(NULL);
    if (rule->mctx == NULL) {
        return MT_ERR_NOMEM;
    }

    pcre2_set_match_limit(rule->mctx, MT_PCRE2_MATCH_LIMIT);
    pcre2_set_depth_limit(rule->mctx, MT_PCRE2_DEPTH_LIMIT);
    pcre2_set_heap_limit(rule->mctx, MT_GRANT_HEAP_LIMIT);

    return MT_OK;
}


/*
 * "METHOD /path": a method, one space, a path of printable characters
 * without spaces; "$1" .. "$9" (captures the trigger has) and "$json"
 * (with a JSON path) are the only uses of "$"
 */
static mt_err_t
mt_grant_check_template(const mt_grant_rule_t *rule, char *errbuf,
    size_t errlen)
{
    size_t       i, n;
    const char  *t, *sp;

    t = rule->tmpl;
    n = rule->tmpl_len;

    sp = memchr(t, ' ', n);

    if (sp == NULL || sp == t || (size_t) (sp - t) + 1 >= n || sp[1] != '/') {
        mt_grant_error("grant \"%.*s\" is not \"METHOD /path\"",
                       (int) (n > 64 ? 64 : n), t);
        return MT_ERR_BAD_SCOPE;
    }

    for (i = 0; t + i < sp; i++) {
        if (!mt_grant_method_char((unsigned char) t[i])) {
            mt_grant_error("grant \"%.*s\" has an invalid method",
                           (int) (n > 64 ? 64 : n), t);
            return MT_ERR_BAD_SCOPE;
        }
    }

    if (sp - t == 1 && t[0] == '*') {
        mt_grant_error("grant \"%.*s\": a grant names one method",
                       (int) (n > 64 ? 64 : n), t);
        return MT_ERR_BAD_SCOPE;
    }

    for (i = (size_t) (sp - t) + 1; i < n; i++) {

        if ((unsigned char) t[i] <= 0x20 || (unsigned char) t[i] >= 0x7f) {
            mt_grant_error("grant \"%.*s\": the path has a space, a "
                           "control or a non-ASCII character",
                           (int) (n > 64 ? 64 : n), t);
            return MT_ERR_BAD_SCOPE;
        }

        if (t[i] != '$') {
            continue;
        }

        if (n - i >= 5 && memcmp(t + i, "$json", 5) == 0) {
            if (rule->json_path == NULL) {
                mt_grant_error("grant \"%.*s\" uses $json without a JSON "
                               "path", (int) (n > 64 ? 64 : n), t);
                return MT_ERR_BAD_SCOPE;
            }

            i += 4;
            continue;
        }

        if (i + 1 < n && t[i + 1] >= '1' && t[i + 1] <= '9'
            && (uint32_t) (t[i + 1] - '0') <= rule->captures)
        {
            i++;
            continue;
        }

        mt_grant_error("grant \"%.*s\": \"$\" is $1 .. $%u (the trigger's "
                       "captures) or $json", (int) (n > 64 ? 64 : n), t,
                       (unsigned) (rule->captures > 9 ? 9 : rule->captures));
        return MT_ERR_BAD_SCOPE;
    }

    if (rule->json_path != NULL && strstr(rule->tmpl, "$json") == NULL) {
        mt_grant_error("grant \"%.*s\" does not use $json",
                       (int) (n > 64 ? 64 : n), t);
        return MT_ERR_BAD_SCOPE;
    }

    return MT_OK;
}


/* names and array indexes, [A-Za-z0-9_-]+, separated by dots */
static mt_err_t
mt_grant_check_json_path(const char *path, size_t len)
{
    size_t         i, depth, seg;
    unsigned char  c;

    depth = 1;
    seg = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) path[i];

        if (c == '.') {
            if (seg == 0 || ++depth > MT_GRANT_MAX_DEPTH) {
                return MT_ERR_BAD_SCOPE;
            }

            seg = 0;
            continue;
        }

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'))
        {
            return MT_ERR_BAD_SCOPE;
        }

        seg++;
    }

    return seg > 0 ? MT_OK : MT_ERR_BAD_SCOPE;
}


mt_err_t
mt_grant_trigger(const mt_grant_rule_t *rule, const char *method,
    size_t method_len, const char *path, size_t path_len,
    mt_grant_match_t *m)
{
    int                 rc;
    size_t              i, n, len;
    PCRE2_SIZE         *ov;
    pcre2_match_data   *md;

    memset(m, 0, sizeof(mt_grant_match_t));

    if (!(rule->method_len == 1 && rule->method[0] == '*')
        && (rule->method_len != method_len
            || memcmp(rule->method, method, method_len) != 0))
    {
        return MT_ERR_SCOPE_DENIED;
    }

    for (i = 0; i < path_len; i++) {
        if ((unsigned char) path[i] < 0x20 || path[i] == 0x7f) {
            return MT_ERR_SCOPE_DENIED;
        }
    }

    md = pcre2_match_data_create_from_pattern(rule->re, NULL);
    if (md == NULL) {
        return MT_ERR_NOMEM;
    }

    rc = pcre2_match(rule->re, (PCRE2_SPTR) path, path_len, 0, 0, md,
                     rule->mctx);

    if (rc < 0) {
        pcre2_match_data_free(md);
        return MT_ERR_SCOPE_DENIED;
    }

    ov = pcre2_get_ovector_pointer(md);
    n = rule->captures > MT_GRANT_MAX_CAPTURES ? MT_GRANT_MAX_CAPTURES
                                               : rule->captures;

    for (i = 1; i <= n; i++) {
        if (ov[2 * i] == PCRE2_UNSET) {
            continue;           /* unset: the template may not use it */
        }

        len = ov[2 * i + 1] - ov[2 * i];

        if (!mt_grant_safe_value(path + ov[2 * i], len)) {
            pcre2_match_data_free(md);
            return MT_ERR_SCOPE_DENIED;
        }

        memcpy(m->val[i], path + ov[2 * i], len);
        m->val[i][len] = '\0';
        m->len[i] = len;
    }

    m->n = n;

    pcre2_match_data_free(md);

    return MT_OK;
}


mt_err_t
mt_grant_json_value(const char *json, size_t len, const char *path,
    size_t path_len, char *out, size_t outsize, size_t *out_len)
{
    int           n;
    char          seg[MT_GRANT_MAX_LEN + 1];
    size_t        slen;
    json_t       *root, *v;
    const char   *p, *end, *dot;
    json_error_t  error;

    if (outsize < MT_GRANT_MAX_VALUE + 1 || path_len > MT_GRANT_MAX_LEN
        || mt_grant_check_json_path(path, path_len) != MT_OK)
    {
        return MT_ERR_INTERNAL;
    }

    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &error);
    if (root == NULL) {
        return MT_ERR_MALFORMED;
    }

    v = root;
    p = path;
    end = path + path_len;

    while (v != NULL && p < end) {
        dot = memchr(p, '.', (size_t) (end - p));
        slen = (size_t) ((dot ? dot : end) - p);

        memcpy(seg, p, slen);
        seg[slen] = '\0';

        if (json_is_object(v)) {
            v = json_object_get(v, seg);

        } else if (json_is_array(v) && strspn(seg, "0123456789") == slen
                   && slen <= 6)
        {
            v = json_array_get(v, (size_t) atoi(seg));

        } else {
            v = NULL;
        }

        p += slen + (dot ? 1 : 0);
    }

    if (json_is_string(v)) {
        slen = json_string_length(v);

        if (!mt_grant_safe_value(json_string_value(v), slen)) {
            json_decref(root);
            return MT_ERR_MALFORMED;
        }

        memcpy(out, json_string_value(v), slen);
        out[slen] = '\0';

    } else if (json_is_integer(v)) {
        n = snprintf(out, outsize, "%" PRId64,
                     (int64_t) json_integer_value(v));
        slen = n > 0 ? (size_t) n : 0;

        /* a negative id is no id */
        if (slen == 0 || out[0] == '-') {
            json_decref(root);
            return MT_ERR_MALFORMED;
        }

    } else {
        json_decref(root);
        return MT_ERR_MALFORMED;
    }

    json_decref(root);

    *out_len = slen;

    return MT_OK;
}


mt_err_t
mt_grant_expand(const mt_grant_rule_t *rule, const mt_grant_match_t *m,
    const char *body, size_t body_len, char *out, size_t outsize,
    size_t *out_len)
{
    char         value[MT_GRANT_MAX_VALUE + 1];
    size_t       i, o, vlen, k, len;
    mt_err_t     rc;
    const char  *t, *src;

    vlen = 0;

    if (rule->json_path != NULL) {
        if (body == NULL) {
            return MT_ERR_MALFORMED;
        }

        rc = mt_grant_json_value(body, body_len, rule->json_path,
                                 rule->json_path_len, value, sizeof(value),
                                 &vlen);
        if (rc != MT_OK) {
            return rc;
        }
    }

    t = rule->tmpl;
    o = 0;

    for (i = 0; i < rule->tmpl_len; i++) {
        src = &t[i];
        len = 1;

        if (t[i] == '$' && rule->tmpl_len - i >= 5
            && memcmp(t + i, "$json", 5) == 0)
        {
            src = value;
            len = vlen;
            i += 4;

        } else if (t[i] == '$') {
            /* "$1" .. "$9", checked when the rule was made */
            k = (size_t) (t[i + 1] - '0');
            i++;

            if (k > m->n || m->len[k] == 0) {
                return MT_ERR_MALFORMED;    /* an unset capture */
            }

            src = m->val[k];
            len = m->len[k];
        }

        if (o + len + 1 > outsize) {
            return MT_ERR_TOO_LARGE;
        }

        memcpy(out + o, src, len);
        o += len;
    }

    out[o] = '\0';
    *out_len = o;

    return MT_OK;
}


static int
mt_grant_method_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9')
           || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}


static char *
mt_grant_strndup(const char *s, size_t len)
{
    char  *p;

    p = malloc(len + 1);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p, s, len);
    p[len] = '\0';

    return p;
}
