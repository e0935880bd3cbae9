/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Grant rules (mt_grant.c): triggers and their captures, JSON paths,
 * template expansion, and everything a request or a response must not
 * bring into a grant.
 */

#include "mt_core.h"
#include "tap.h"


#define S(s)  (s), strlen(s)

#define DO_TRIGGER  "POST /v2/domains/([a-z0-9.-]+)/records"
#define DO_GRANT    "DELETE /v2/domains/$1/records/$json"


static mt_grant_rule_t *
rule(const char *trigger, const char *tmpl, const char *json)
{
    char              errbuf[256];
    mt_grant_rule_t  *r;

    errbuf[0] = '\0';

    if (mt_grant_rule_new(&r, S(trigger), S(tmpl), json,
                          json ? strlen(json) : 0, errbuf, sizeof(errbuf))
        != MT_OK)
    {
        diag("rule: %s", errbuf);
        return NULL;
    }

    return r;
}


static mt_err_t
bad_rule(const char *trigger, const char *tmpl, const char *json,
    char *errbuf, size_t errlen)
{
    mt_err_t          rc;
    mt_grant_rule_t  *r;

    errbuf[0] = '\0';

    rc = mt_grant_rule_new(&r, S(trigger), S(tmpl), json,
                           json ? strlen(json) : 0, errbuf, errlen);
    if (rc == MT_OK) {
        mt_grant_rule_free(r);
    }

    return rc;
}


static void
test_rules(void)
{
    char  e[256];

    ok(bad_rule("POST", DO_GRANT, "id", e, sizeof(e)) == MT_ERR_BAD_SCOPE
       && strstr(e, "METHOD regex") != NULL,
       "trigger without a regex: %s", e);
    ok(bad_rule("PO ST /x", "DELETE /x", NULL, e, sizeof(e)) == MT_OK,
       "trigger method \"PO\", regex \"ST /x\"");
    ok(bad_rule("POST /(", "DELETE /x", NULL, e, sizeof(e)) == MT_ERR_BAD_SCOPE,
       "trigger regex that does not compile: %s", e);
    ok(bad_rule("POST /x", "DELETE x", NULL, e, sizeof(e)) == MT_ERR_BAD_SCOPE
       && strstr(e, "METHOD /path") != NULL,
       "grant path without \"/\": %s", e);
    ok(bad_rule("POST /x", "* /x", NULL, e, sizeof(e)) == MT_ERR_BAD_SCOPE,
       "grant for any method: %s", e);
    ok(bad_rule("POST /x", "DELETE /x y", NULL, e, sizeof(e)) == MT_ERR_BAD_SCOPE,
       "grant path with a space: %s", e);
    ok(bad_rule("POST /x", "DELETE /x/$1", NULL, e, sizeof(e)) == MT_ERR_BAD_SCOPE,
       "$1 without a capture: %s", e);
    ok(bad_rule("POST /(x)", "DELETE /x/$2", NULL, e, sizeof(e)) == MT_ERR_BAD_SCOPE,
       "$2 with one capture: %s", e);
    ok(bad_rule("POST /x", "DELETE /x/$json", NULL, e, sizeof(e)) == MT_ERR_BAD_SCOPE
       && strstr(e, "without a JSON path") != NULL,
       "$json without a JSON path: %s", e);
    ok(bad_rule("POST /x", "DELETE /x", "id", e, sizeof(e)) == MT_ERR_BAD_SCOPE
       && strstr(e, "does not use $json") != NULL,
       "a JSON path the grant does not use: %s", e);
    ok(bad_rule("POST /x", "DELETE /x/$foo", NULL, e, sizeof(e)) == MT_ERR_BAD_SCOPE,
       "$foo: %s", e);
    ok(bad_rule("POST /x", "DELETE /x/$json", "a..b", e, sizeof(e))
       == MT_ERR_BAD_SCOPE, "JSON path a..b: %s", e);
    ok(bad_rule("POST /x", "DELETE /x/$json", "a.b[0]", e, sizeof(e))
       == MT_ERR_BAD_SCOPE, "JSON path a.b[0]: %s", e);
    ok(bad_rule("POST /x", "DELETE /x/$json", "a.b.c.d.e.f.g.h.i", e, sizeof(e))
       == MT_ERR_BAD_SCOPE, "JSON path 9 deep: %s", e);
    ok(bad_rule("POST /x", "DELETE /x/$json", "a.b.c.d.e.f.g.h", e, sizeof(e))
       == MT_OK, "JSON path 8 deep");
    ok(bad_rule("POST /(?P<x>a)", "GET /$1", NULL, e, sizeof(e)) == MT_OK,
       "named group counts as $1");
}


static void
test_trigger(void)
{
    mt_grant_rule_t   *r;
    mt_grant_match_t   m;

    r = rule(DO_TRIGGER, DO_GRANT, "domain_record.id");
    ok(r != NULL, "the DigitalOcean rule");

    if (r == NULL) {
        return;
    }

    ok(mt_grant_needs_body(r), "it reads the body");

    is_int(mt_grant_trigger(r, S("POST"), S("/v2/domains/example.com/records"),
                            &m), MT_OK, "POST to records triggers");
    ok(m.n == 1 && strcmp(m.val[1], "example.com") == 0, "$1 is the domain");

    is_int(mt_grant_trigger(r, S("GET"), S("/v2/domains/example.com/records"),
                            &m), MT_ERR_SCOPE_DENIED, "GET does not");
    is_int(mt_grant_trigger(r, S("POST"),
                            S("/v2/domains/example.com/records/1"), &m),
           MT_ERR_SCOPE_DENIED, "the whole path must match");
    is_int(mt_grant_trigger(r, S("POST"), S("/v2/domains/../records"), &m),
           MT_ERR_SCOPE_DENIED, "a capture of only dots is refused");
    is_int(mt_grant_trigger(r, S("POST"), S("/v2/domains/./records"), &m),
           MT_ERR_SCOPE_DENIED, "\".\" too");
    is_int(mt_grant_trigger(r, S("POST"), S("/V2/domains/example.com/records"),
                            &m), MT_ERR_SCOPE_DENIED, "case-sensitive");
    is_int(mt_grant_trigger(r, S("POST"),
                            S("/v2/domains/example.com/records\n"), &m),
           MT_ERR_SCOPE_DENIED, "control character");
    is_int(mt_grant_trigger(r, "POST", 4, "/v2/domains/example.com/records/x",
                            31, &m),
           MT_OK, "explicit length");

    mt_grant_rule_free(r);

    r = rule("* /a/([^/]*)", "GET /b/$1", NULL);
    ok(r != NULL && !mt_grant_needs_body(r), "a rule without a body");

    if (r != NULL) {
        is_int(mt_grant_trigger(r, S("PUT"), S("/a/x"), &m), MT_OK,
               "\"*\" is any method");
        is_int(mt_grant_trigger(r, S("PUT"), S("/a/x%2Fy"), &m),
               MT_ERR_SCOPE_DENIED, "a capture with \"%%\" is refused");
        is_int(mt_grant_trigger(r, S("PUT"), S("/a/x y"), &m),
               MT_ERR_SCOPE_DENIED, "a capture with a space is refused");
        is_int(mt_grant_trigger(r, S("PUT"), S("/a/"), &m),
               MT_ERR_SCOPE_DENIED, "an empty capture is refused");
        is_int(mt_grant_trigger(r, S("PUT"),
                                S("/a/0123456789012345678901234567890123456789"
                                  "012345678901234567890123"), &m),
               MT_OK, "a 64-byte capture");
        is_int(mt_grant_trigger(r, S("PUT"),
                                S("/a/0123456789012345678901234567890123456789"
                                  "0123456789012345678901234"), &m),
               MT_ERR_SCOPE_DENIED, "a 65-byte capture is refused");
        mt_grant_rule_free(r);
    }

    r = rule("POST /a(/(x))?", "GET /b/$2", NULL);

    if (r != NULL) {
        char    out[64];
        size_t  n;

        is_int(mt_grant_trigger(r, S("POST"), S("/a"), &m), MT_OK,
               "optional group unset");
        is_int(mt_grant_expand(r, &m, NULL, 0, out, sizeof(out), &n),
               MT_ERR_MALFORMED, "an unset capture grants nothing");
        mt_grant_rule_free(r);
    }
}


static void
test_json(void)
{
    char    v[MT_GRANT_MAX_VALUE + 1];
    size_t  n;

#define J(json, path)  mt_grant_json_value(S(json), S(path), v, sizeof(v), &n)

    ok(J("{\"domain_record\":{\"id\":3352896,\"type\":\"TXT\"}}",
         "domain_record.id") == MT_OK && strcmp(v, "3352896") == 0
       && n == 7, "integer id: %s", v);
    ok(J("{\"a\":{\"b\":\"rec_1.x-Y\"}}", "a.b") == MT_OK
       && strcmp(v, "rec_1.x-Y") == 0, "string value");
    ok(J("{\"items\":[{\"id\":1},{\"id\":\"two\"}]}", "items.1.id") == MT_OK
       && strcmp(v, "two") == 0, "array index");
    ok(J("[{\"id\":5}]", "0.id") == MT_OK && strcmp(v, "5") == 0,
       "top-level array");
    is_int(J("{\"items\":[{\"id\":1}]}", "items.2.id"), MT_ERR_MALFORMED,
           "index past the end");
    is_int(J("{\"a\":{\"id\":1}}", "a.0"), MT_ERR_MALFORMED,
           "an index into an object is a name that is not there");
    is_int(J("{\"a\":{\"b\":\"../x\"}}", "a.b"), MT_ERR_MALFORMED,
           "a value with \"/\"");
    is_int(J("{\"a\":\"..\"}", "a"), MT_ERR_MALFORMED, "a value \"..\"");
    is_int(J("{\"a\":\"x%2f\"}", "a"), MT_ERR_MALFORMED, "a value with %%");
    is_int(J("{\"a\":\".*\"}", "a"), MT_ERR_MALFORMED, "a regex");
    is_int(J("{\"a\":\"\"}", "a"), MT_ERR_MALFORMED, "an empty value");
    is_int(J("{\"a\":\"x y\"}", "a"), MT_ERR_MALFORMED, "a space");
    is_int(J("{\"a\":\"x\\u0000\"}", "a"), MT_ERR_MALFORMED, "a NUL");
    is_int(J("{\"a\":\"\\u00e9\"}", "a"), MT_ERR_MALFORMED, "non-ASCII");
    is_int(J("{\"a\":-1}", "a"), MT_ERR_MALFORMED, "a negative number");
    is_int(J("{\"a\":1.5}", "a"), MT_ERR_MALFORMED, "a real");
    is_int(J("{\"a\":true}", "a"), MT_ERR_MALFORMED, "a boolean");
    is_int(J("{\"a\":null}", "a"), MT_ERR_MALFORMED, "null");
    is_int(J("{\"a\":{\"id\":1}}", "a"), MT_ERR_MALFORMED, "an object");
    is_int(J("{\"a\":1,\"a\":2}", "a"), MT_ERR_MALFORMED,
           "duplicate member names");
    is_int(J("{\"a\":1", "a"), MT_ERR_MALFORMED, "truncated JSON");
    is_int(J("{\"a\":1} x", "a"), MT_ERR_MALFORMED, "trailing bytes");
    is_int(J("{\"a\":\"0123456789012345678901234567890123456789"
             "0123456789012345678901234\"}", "a"), MT_ERR_MALFORMED,
           "a 65-byte value");
    is_int(mt_grant_json_value("{\"a\":12}", 7, S("a"), v, sizeof(v), &n),
           MT_ERR_MALFORMED, "explicit length (cut JSON)");

#undef J
}


static void
test_expand(void)
{
    char               out[MT_GRANT_MAX_LEN + 1];
    size_t             n;
    const char        *body;
    mt_grant_rule_t   *r;
    mt_grant_match_t   m;

    r = rule(DO_TRIGGER, DO_GRANT, "domain_record.id");
    if (r == NULL) {
        ok(0, "rule");
        return;
    }

    (void) mt_grant_trigger(r, S("POST"), S("/v2/domains/example.com/records"),
                            &m);

    body = "{\"domain_record\":{\"id\":28448433,\"type\":\"TXT\","
           "\"name\":\"_acme-challenge\",\"data\":\"x\",\"ttl\":30}}";

    ok(mt_grant_expand(r, &m, S(body), out, sizeof(out), &n) == MT_OK
       && strcmp(out,
                 "DELETE /v2/domains/example.com/records/28448433") == 0
       && n == strlen(out), "expanded: %s", out);

    is_int(mt_grant_expand(r, &m, NULL, 0, out, sizeof(out), &n),
           MT_ERR_MALFORMED, "no body, no grant");
    is_int(mt_grant_expand(r, &m, S("{\"id\":\"message\"}"), out, sizeof(out),
                           &n), MT_ERR_MALFORMED, "an error body");
    is_int(mt_grant_expand(r, &m, S(body), out, 20, &n), MT_ERR_TOO_LARGE,
           "a small buffer");

    mt_grant_rule_free(r);

    r = rule("POST /(a)/(b)", "PUT /$2/$1/$json/x", "id");
    if (r != NULL) {
        (void) mt_grant_trigger(r, S("POST"), S("/a/b"), &m);
        ok(mt_grant_expand(r, &m, S("{\"id\":\"k\"}"), out, sizeof(out), &n)
           == MT_OK && strcmp(out, "PUT /b/a/k/x") == 0, "order: %s", out);
        mt_grant_rule_free(r);
    }
}


int
main(void)
{
    test_rules();
    test_trigger();
    test_json();
    test_expand();

    done_testing();

    return tap_exit();
}
