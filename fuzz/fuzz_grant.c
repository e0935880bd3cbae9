/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_grant: grant rules (mt_grant.c) on any request path and any
 * response body.  Input: "path\nbody", or "path\njsonpath\nbody" when
 * it starts with "!" (then the JSON path comes from the input too).
 *
 * Must never crash, leak or read past a length.  Properties:
 *   - a trigger's captures, and a JSON value, are safe values;
 *   - an expanded grant is "DELETE /v2/domains/<safe>/records/<safe>":
 *     only [A-Za-z0-9._/-] and exactly the template's five "/", no
 *     segment of dots; so neither the request nor the response can add
 *     a path segment, a "%", a regex or a space;
 *   - expanding twice gives the same grant.
 */

#include "common.h"


#define FX_TRIGGER  "POST /v2/domains/([^/]+)/records"
#define FX_GRANT    "DELETE /v2/domains/$1/records/$json"


static void
fx_check_grant(const char *g, size_t len)
{
    size_t  i, slashes, seg, dots;

    FX_CHECK(len > sizeof("DELETE /v2/domains/") - 1
             && memcmp(g, "DELETE /v2/domains/", 19) == 0,
             "grant \"%.*s\"", (int) len, g);

    slashes = 0;
    seg = 0;
    dots = 0;

    for (i = 7; i <= len; i++) {
        if (i == len || g[i] == '/') {
            FX_CHECK(i == 7 || (seg > 0 && dots != seg),
                     "an empty or dot segment in \"%.*s\"", (int) len, g);
            slashes += i < len;
            seg = 0;
            dots = 0;
            continue;
        }

        FX_CHECK((g[i] >= 'a' && g[i] <= 'z') || (g[i] >= 'A' && g[i] <= 'Z')
                 || (g[i] >= '0' && g[i] <= '9') || g[i] == '.'
                 || g[i] == '_' || g[i] == '-',
                 "byte 0x%02x in a grant", (unsigned char) g[i]);
        seg++;
        dots += g[i] == '.';
    }

    FX_CHECK(slashes == 5, "%zu slashes in \"%.*s\"", slashes, (int) len, g);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char              *buf, out[MT_GRANT_MAX_LEN + 1], out2[sizeof(out)];
    char               v[MT_GRANT_MAX_VALUE + 1];
    size_t             n, n2, plen, jlen, blen;
    mt_err_t           rc;
    const char        *p, *nl, *json, *body, *end;
    mt_grant_rule_t   *rule;
    mt_grant_match_t   m;

    buf = malloc(size ? size : 1);
    if (buf == NULL) {
        return 0;
    }

    memcpy(buf, data, size);
    end = buf + size;

    p = buf;
    json = "domain_record.id";
    jlen = strlen(json);

    if (size > 0 && buf[0] == '!') {
        p++;
        nl = memchr(p, '\n', (size_t) (end - p));
        if (nl == NULL) {
            goto done;
        }

        json = p;
        jlen = (size_t) (nl - p);
        p = nl + 1;
    }

    nl = memchr(p, '\n', (size_t) (end - p));
    plen = nl ? (size_t) (nl - p) : (size_t) (end - p);
    body = nl ? nl + 1 : end;
    blen = (size_t) (end - body);

    rc = mt_grant_rule_new(&rule, FX_TRIGGER, strlen(FX_TRIGGER), FX_GRANT,
                           strlen(FX_GRANT), json, jlen, NULL, 0);
    if (rc != MT_OK) {
        FX_CHECK(rc == MT_ERR_BAD_SCOPE || rc == MT_ERR_NOMEM,
                 "rule: %s", mt_strerror(rc));
        goto done;
    }

    rc = mt_grant_json_value(body, blen, json, jlen, v, sizeof(v), &n);

    if (rc == MT_OK) {
        FX_CHECK(n == strlen(v) && mt_grant_safe_value(v, n),
                 "unsafe JSON value \"%s\"", v);

    } else {
        FX_CHECK(rc == MT_ERR_MALFORMED, "json: %s", mt_strerror(rc));
    }

    rc = mt_grant_trigger(rule, "POST", 4, p, plen, &m);

    if (rc == MT_OK) {
        FX_CHECK(m.n == 1 && mt_grant_safe_value(m.val[1], m.len[1]),
                 "unsafe capture");

        rc = mt_grant_expand(rule, &m, body, blen, out, sizeof(out), &n);

        if (rc == MT_OK) {
            fx_check_grant(out, n);

            FX_CHECK(mt_grant_expand(rule, &m, body, blen, out2,
                                     sizeof(out2), &n2) == MT_OK
                     && n == n2 && memcmp(out, out2, n) == 0,
                     "not deterministic");

        } else {
            FX_CHECK(rc == MT_ERR_MALFORMED || rc == MT_ERR_TOO_LARGE,
                     "expand: %s", mt_strerror(rc));
        }

    } else {
        FX_CHECK(rc == MT_ERR_SCOPE_DENIED || rc == MT_ERR_NOMEM,
                 "trigger: %s", mt_strerror(rc));
    }

    mt_grant_rule_free(rule);

done:

    free(buf);

    return 0;
}
