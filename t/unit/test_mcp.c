/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * mt_mcp: the "mcp" claim and the JSON-RPC body check (docs/mcp.md).
 */

#include "mt_core.h"
#include "tap.h"


typedef struct {
    const char  *body;
    mt_err_t     rc;
    int          code;
    const char  *id;
    const char  *what;
} case_t;


#define ALLOWED  MT_OK, 0, NULL
#define DENIED   MT_ERR_SCOPE_DENIED, MT_MCP_FORBIDDEN
#define BAD      MT_ERR_MALFORMED, MT_MCP_INVALID_REQUEST
#define PARSE    MT_ERR_MALFORMED, MT_MCP_PARSE_ERROR, "null"

#define CALL(name)                                                        \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","            \
    "\"params\":{\"name\":\"" name "\",\"arguments\":{}}}"


static const case_t  cases[] = {
    { CALL("get_issue"), ALLOWED, "allowed tool" },
    { CALL("list_issues"), ALLOWED, "second pattern" },
    { CALL("delete_repository"), DENIED, "1", "forbidden tool" },
    { CALL("get_issue_x"), DENIED, "1", "full match only" },
    { CALL("GET_ISSUE"), DENIED, "1", "case-sensitive" },
    { CALL("get_issue\\n"), DENIED, "1", "newline after the name" },
    { CALL("get_\\u0069ssue"), ALLOWED, "unicode escape decoded" },
    { CALL("delete_\\u0072epository"), DENIED, "1",
      "unicode escape decoded, forbidden" },
    { "{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\",\"method\":\"tools\\/call\","
      "\"params\":{\"name\":\"delete_repository\"}}", DENIED, "\"a\\\"b\"",
      "escaped method name, string id" },
    { "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/\\u0063all\","
      "\"params\":{\"name\":\"delete_repository\"}}", DENIED, "2",
      "method with a unicode escape" },
    { "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
      "\"params\":{\"name\":\"get_issue\",\"name\":\"delete_repository\"}}",
      PARSE, "duplicate key in params" },
    { "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
      "\"method\":\"tools/call\"}", PARSE, "duplicate method" },
    { "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
      "\"params\":{\"name\":\"get_\xc3\x28issue\"}}", PARSE,
      "invalid UTF-8" },
    { "\xef\xbb\xbf{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
      PARSE, "UTF-8 BOM" },
    { "\xff\xfe{\0\"\0", PARSE, "UTF-16 BOM" },
    { "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
      "\"params\":{\"name\":\"get_issue\\u0000x\"}}", PARSE, "\\u0000" },
    { "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
      "\"params\":{\"name\":\"\\ud800\"}}", PARSE, "lone surrogate" },
    { "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} x", PARSE,
      "trailing bytes" },
    { "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}{}", PARSE,
      "two objects" },
    { "", PARSE, "empty body" },
    { "\"tools/call\"", PARSE, "a string" },
    { "[]", BAD, "null", "empty batch" },
    { "[1]", BAD, "null", "non-object in a batch" },
    { "[" CALL("get_issue") "," CALL("list_issues") "]", ALLOWED,
      "batch of allowed calls" },
    { "[" CALL("get_issue") "," CALL("delete_repository") "]", DENIED,
      "null", "batch mixing allowed and forbidden" },
    { "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
      "\"params\":{\"protocolVersion\":\"2025-03-26\"}}", ALLOWED,
      "initialize" },
    { "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
      ALLOWED, "notification" },
    { "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}", ALLOWED,
      "ping" },
    { "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\"}", ALLOWED,
      "tools/list" },
    { "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"notifications/\"}", DENIED,
      "7", "notifications/ alone" },
    { "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"completion/complete\"}",
      DENIED, "7", "other methods are refused" },
    { "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"logging/setLevel\"}",
      DENIED, "7", "logging/setLevel is refused" },
    { "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}", ALLOWED,
      "a response to the server" },
    { "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{},\"error\":{}}", BAD, "7",
      "result and error" },
    { "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"result\":{}}",
      BAD, "7", "method and result" },
    { "{\"jsonrpc\":\"1.0\",\"id\":7,\"method\":\"ping\"}", BAD, "7",
      "jsonrpc 1.0" },
    { "{\"id\":7,\"method\":\"ping\"}", BAD, "7", "no jsonrpc" },
    { "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", BAD, "null",
      "real id" },
    { "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"Method\":\"x\"}",
      BAD, "7", "unknown member" },
    { "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":7}", BAD, "7",
      "method not a string" },
    { "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
      "\"params\":{\"name\":[\"get_issue\"]}}", MT_ERR_MALFORMED,
      MT_MCP_INVALID_PARAMS, "7", "name not a string" },
    { "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
      "\"params\":[\"get_issue\"]}", MT_ERR_MALFORMED,
      MT_MCP_INVALID_PARAMS, "7", "positional params" },
    { "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"resources/read\","
      "\"params\":{\"uri\":\"repo://acme/readme\"}}", ALLOWED,
      "allowed resource" },
    { "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"resources/read\","
      "\"params\":{\"uri\":\"file:///etc/passwd\"}}", DENIED, "7",
      "forbidden resource" },
    { "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"prompts/get\","
      "\"params\":{\"name\":\"review\"}}", ALLOWED, "allowed prompt" },
    { "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"prompts/get\","
      "\"params\":{\"name\":\"exfiltrate\"}}", DENIED, "7",
      "forbidden prompt" },
    { "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
      "\"params\":{\"name\":\"review\"}}", DENIED, "7",
      "a prompt name is no tool" },
};


static void
test_claims(void)
{
    size_t       i;
    json_t      *claims;
    mt_err_t     rc;
    mt_rules_t  *rules;

    static const struct {
        const char  *json;
        mt_err_t     rc;
        int          has;
    } claim_cases[] = {
        { "{}", MT_OK, 0 },
        { "{\"mcp\":{}}", MT_OK, 1 },
        { "{\"mcp\":{\"tools\":[\"get_.*\"]}}", MT_OK, 1 },
        { "{\"mcp\":[]}", MT_ERR_INVALID_CLAIMS, 0 },
        { "{\"mcp\":{\"tools\":\"get_.*\"}}", MT_ERR_INVALID_CLAIMS, 0 },
        { "{\"mcp\":{\"tools\":[1]}}", MT_ERR_INVALID_CLAIMS, 0 },
        { "{\"mcp\":{\"tools\":[\"(\"]}}", MT_ERR_INVALID_CLAIMS, 0 },
        { "{\"mcp\":{\"tool\":[\"x\"]}}", MT_ERR_INVALID_CLAIMS, 0 },
        { "{\"mcp\":{\"tools\":[],\"deny\":[]}}", MT_ERR_INVALID_CLAIMS, 0 },
    };

    for (i = 0; i < sizeof(claim_cases) / sizeof(claim_cases[0]); i++) {
        claims = json_loads(claim_cases[i].json, 0, NULL);
        rc = mt_mcp_claim(claims, &rules);
        is_int(rc, claim_cases[i].rc, "claim %s", claim_cases[i].json);
        ok((rules != NULL) == claim_cases[i].has, "claim %s: rules %s",
           claim_cases[i].json, claim_cases[i].has ? "made" : "none");
        mt_rules_free(rules);
        json_decref(claims);
    }
}


static void
test_entries(void)
{
    char         errbuf[256];
    mt_rules_t  *rules;

    rules = mt_rules_new(MT_MATCH_FULL);

    is_int(mt_mcp_rules_add(rules, "tool get_.*", 11, errbuf,
                            sizeof(errbuf)), MT_OK, "entry: tool");
    is_int(mt_mcp_rules_add(rules, "resource x", 10, errbuf,
                            sizeof(errbuf)), MT_OK, "entry: resource");
    is_int(mt_mcp_rules_add(rules, "POST /mcp", 9, errbuf,
                            sizeof(errbuf)), MT_ERR_BAD_SCOPE,
           "entry: an HTTP scope is no MCP entry");
    is_int(mt_mcp_rules_add(rules, "tools x", 7, errbuf,
                            sizeof(errbuf)), MT_ERR_BAD_SCOPE,
           "entry: \"tools\" is no kind");
    is_int(mt_mcp_rules_add(rules, "tool (", 6, errbuf,
                            sizeof(errbuf)), MT_ERR_BAD_SCOPE,
           "entry: a bad regex");

    mt_rules_free(rules);
}


static void
test_bounds(const mt_rules_t *const *rules, size_t n)
{
    char              *deep, *big, body[512];
    size_t             i, len;
    mt_mcp_verdict_t   v;

    deep = malloc(2 * MT_MCP_MAX_DEPTH + 4);
    for (i = 0; i <= MT_MCP_MAX_DEPTH; i++) {
        deep[i] = '[';
        deep[2 * MT_MCP_MAX_DEPTH + 1 - i] = ']';
    }

    is_int(mt_mcp_check(rules, n, deep, 2 * MT_MCP_MAX_DEPTH + 2, &v),
           MT_ERR_TOO_LARGE, "nesting bound");
    free(deep);

    big = malloc(MT_MCP_MAX_BODY + 1);
    memset(big, ' ', MT_MCP_MAX_BODY + 1);
    is_int(mt_mcp_check(rules, n, big, MT_MCP_MAX_BODY + 1, &v),
           MT_ERR_TOO_LARGE, "size bound");
    free(big);

    len = 0;
    big = malloc(70 * 64);
    big[len++] = '[';
    for (i = 0; i <= MT_MCP_MAX_BATCH; i++) {
        len += sprintf(big + len, "%s{\"jsonrpc\":\"2.0\",\"method\":"
                       "\"ping\",\"id\":%zu}", i ? "," : "", i);
    }
    big[len++] = ']';
    is_int(mt_mcp_check(rules, n, big, len, &v), MT_ERR_MALFORMED,
           "batch length bound");
    free(big);

    /* lengths are explicit: the bytes after len are not read */
    strcpy(body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}xx");
    is_int(mt_mcp_check(rules, n, body, strlen(body) - 2, &v), MT_OK,
           "length respected");

    /* no rules at all: lifecycle only */
    is_int(mt_mcp_check(NULL, 0, body, strlen(body) - 2, &v), MT_OK,
           "ping with no rules");
    strcpy(body, CALL("get_issue"));
    is_int(mt_mcp_check(NULL, 0, body, strlen(body), &v),
           MT_ERR_SCOPE_DENIED, "tools/call with no rules");

    /* the error body */
    len = mt_mcp_error_body(&v, body, sizeof(body));
    ok(len > 0 && strcmp(body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":"
                         "{\"code\":-32003,\"message\":\"magic_token: this "
                         "tool is not allowed by the token\"}}\n") == 0,
       "error body: %s", body);
    is_int(mt_mcp_error_body(&v, body, 10), 0, "error body: too small");
}


static int
scope_known(void *data, const char *name, size_t len)
{
    (void) data;
    (void) name;
    (void) len;

    return 1;
}


/* the issuer and the CLI (mt_mint.c): "mcp" checked and carried */
static void
test_mint(void)
{
    char              err[256];
    size_t            cred_len;
    json_t           *req, *claims, *refresh, *again, *mcp;
    const char       *cred;
    mt_mint_policy_t  policy = { 3600, 0, scope_known, NULL };

    mcp = json_loads("{\"tools\":[\"get_.*\"],\"prompts\":[\"review\"]}",
                     0, NULL);
    req = json_pack("{s:s, s:[s], s:O}", "token", "x", "allowed",
                    "POST /mcp", "mcp", mcp);
    is_int(mt_mint_claims(req, &policy, 1000, &claims, &cred, &cred_len,
                          err, sizeof(err)), MT_OK, "mint: mcp accepted");
    ok(json_equal(json_object_get(claims, "mcp"), mcp),
       "mint: mcp in the claims as given");

    is_int(mt_mint_refresh_claims(claims, 1000, 7200, &refresh), MT_OK,
           "refresh: made");
    json_decref(claims);

    is_int(mt_mint_from_refresh(refresh, req, &policy, 2000, &again, err,
                                sizeof(err)), MT_OK,
           "refresh: the same mcp may be asked for");
    ok(json_equal(json_object_get(again, "mcp"), mcp),
       "refresh: mcp carried over");
    json_decref(again);

    json_object_set_new(req, "mcp", json_pack("{s:[s]}", "tools", ".*"));
    is_int(mt_mint_from_refresh(refresh, req, &policy, 2000, &again, err,
                                sizeof(err)), MT_ERR_SCOPE_DENIED,
           "refresh: mcp cannot change");
    json_decref(refresh);

    is_int(mt_mint_claims(req, &policy, 1000, &claims, &cred, &cred_len,
                          err, sizeof(err)), MT_OK, "mint: .* is a pattern");
    json_decref(claims);

    json_object_set_new(req, "mcp", json_pack("{s:[s]}", "tools", "("));
    is_int(mt_mint_claims(req, &policy, 1000, &claims, &cred, &cred_len,
                          err, sizeof(err)), MT_ERR_INVALID_CLAIMS,
           "mint: a pattern that does not compile");

    json_object_set_new(req, "mcp", json_pack("{s:[s]}", "deny", "x"));
    is_int(mt_mint_claims(req, &policy, 1000, &claims, &cred, &cred_len,
                          err, sizeof(err)), MT_ERR_INVALID_CLAIMS,
           "mint: an unknown member");

    json_decref(req);
    json_decref(mcp);
}


int
main(void)
{
    size_t             i, n;
    json_t            *claims;
    mt_err_t           rc;
    mt_rules_t        *rules[3];
    mt_mcp_verdict_t   v;

    n = sizeof(cases) / sizeof(cases[0]);

    plan((int) (2 * n + 18 + 5 + 8 + 9));

    claims = json_loads("{\"mcp\":{\"tools\":[\"get_issue\",\"list_.*\"],"
                        "\"resources\":[\"repo://acme/.*\"]}}", 0, NULL);
    rc = mt_mcp_claim(claims, &rules[0]);
    json_decref(claims);
    if (rc != MT_OK) {
        diag("claim: %d", rc);
        return 1;
    }

    /* a named scope's entries, as magic_token_mcp_scope makes them */
    rules[1] = NULL;
    rules[2] = mt_rules_new(MT_MATCH_FULL);
    mt_mcp_rules_add(rules[2], "prompt review", 13, NULL, 0);

    for (i = 0; i < n; i++) {
        rc = mt_mcp_check((const mt_rules_t *const *) rules, 3,
                          cases[i].body, strlen(cases[i].body)
                          + (cases[i].body[0] == '\xff' ? 4 : 0), &v);
        is_int(rc, cases[i].rc, "%s", cases[i].what);

        if (rc == MT_OK) {
            ok(1, "%s: no error", cases[i].what);
            continue;
        }

        ok(v.code == cases[i].code
           && v.id_len == strlen(cases[i].id)
           && memcmp(v.id, cases[i].id, v.id_len) == 0,
           "%s: code %d id %.*s", cases[i].what, v.code, (int) v.id_len,
           v.id);
    }

    test_claims();
    test_entries();
    test_bounds((const mt_rules_t *const *) rules, 3);
    test_mint();

    mt_rules_free(rules[0]);
    mt_rules_free(rules[2]);

    return tap_exit();
}
