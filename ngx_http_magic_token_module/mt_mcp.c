/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * MCP scopes (docs/mcp.md): which tools, resources and prompts a token
 * may use over the Streamable HTTP transport, checked on the JSON-RPC
 * 2.0 request body before it is forwarded.
 *
 * The entries are kept as scope rules (mt_scope.c, full mode: bytes,
 * case-sensitive, anchored at both ends) whose "method" is the kind:
 * "tool get_.*", "resource repo://.*", "prompt review".  No HTTP
 * request can carry a lower-case method, and these rules are only ever
 * matched here, against a name taken from the body.
 *
 * The body is parsed strictly: one JSON object or a batch of them, no
 * duplicate member names, UTF-8 only, no "\u0000", bounded nesting,
 * size and batch length, only the JSON-RPC members at the top level.
 * What is not understood is refused: a message must mean the same to
 * the server as it meant here.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt_core.h"


static const char  *mt_mcp_kinds[] = { "tool", "resource", "prompt" };
static const char  *mt_mcp_claim_names[] = { "tools", "resources", "prompts" };


/* "kind pattern" with kind one of tool, resource, prompt */
mt_err_t
mt_mcp_rules_add(mt_rules_t *rules, const char *entry, size_t len,
    char *errbuf, size_t errlen)
{
    size_t       i, n;
    const char  *sp;

    sp = memchr(entry, ' ', len);

    if (sp != NULL) {
        n = (size_t) (sp - entry);

        for (i = 0; i < 3; i++) {
            if (n == strlen(mt_mcp_kinds[i])
                && memcmp(entry, mt_mcp_kinds[i], n) == 0)
            {
                return mt_rules_add(rules, entry, len, errbuf, errlen);
            }
        }
    }

    if (errbuf != NULL) {
        snprintf(errbuf, errlen, "MCP entry \"%.*s\" is not \"tool regex\", "
                 "\"resource regex\" or \"prompt regex\"",
                 (int) (len > 64 ? 64 : len), entry);
    }

    return MT_ERR_BAD_SCOPE;
}


static mt_err_t
mt_mcp_claim_list(mt_rules_t *rules, size_t kind, const json_t *list)
{
    char        *entry;
    size_t       i, klen, len;
    json_t      *v;
    mt_err_t     rc;

    if (!json_is_array(list) || json_array_size(list) > MT_MAX_RULES) {
        return MT_ERR_INVALID_CLAIMS;
    }

    klen = strlen(mt_mcp_kinds[kind]);

    json_array_foreach(list, i, v) {
        if (!json_is_string(v)
            || json_string_length(v) > MT_MAX_RULE_LEN - klen - 1)
        {
            return MT_ERR_INVALID_CLAIMS;
        }

        len = klen + 1 + json_string_length(v);

        entry = malloc(len);
        if (entry == NULL) {
            return MT_ERR_NOMEM;
        }

        memcpy(entry, mt_mcp_kinds[kind], klen);
        entry[klen] = ' ';
        memcpy(entry + klen + 1, json_string_value(v), len - klen - 1);

        rc = mt_rules_add(rules, entry, len, NULL, 0);

        free(entry);

        if (rc != MT_OK) {
            /* a pattern that does not compile was never allowed */
            return rc == MT_ERR_NOMEM ? rc : MT_ERR_INVALID_CLAIMS;
        }
    }

    return MT_OK;
}


mt_err_t
mt_mcp_claim(const json_t *claims, mt_rules_t **out)
{
    size_t       k, found;
    json_t      *mcp, *list;
    mt_err_t     rc;
    mt_rules_t  *rules;

    *out = NULL;

    mcp = json_object_get(claims, "mcp");

    if (mcp == NULL) {
        return MT_OK;
    }

    if (!json_is_object(mcp)) {
        return MT_ERR_INVALID_CLAIMS;
    }

    rules = mt_rules_new(MT_MATCH_FULL);
    if (rules == NULL) {
        return MT_ERR_NOMEM;
    }

    found = 0;

    for (k = 0; k < 3; k++) {
        list = json_object_get(mcp, mt_mcp_claim_names[k]);

        if (list == NULL) {
            continue;
        }

        found++;

        rc = mt_mcp_claim_list(rules, k, list);
        if (rc != MT_OK) {
            mt_rules_free(rules);
            return rc;
        }
    }

    /* a member we do not know (a restriction of a later version?) */
    if (found != json_object_size(mcp)) {
        mt_rules_free(rules);
        return MT_ERR_INVALID_CLAIMS;
    }

    *out = rules;

    return MT_OK;
}


/* nesting depth of the JSON text, strings skipped; 0 past max */
static int
mt_mcp_depth_ok(const char *p, size_t len, size_t max)
{
    int     in_string;
    size_t  i, depth;

    depth = 0;
    in_string = 0;

    for (i = 0; i < len; i++) {
        if (in_string) {
            if (p[i] == '\\') {
                i++;

            } else if (p[i] == '"') {
                in_string = 0;
            }

            continue;
        }

        switch (p[i]) {

        case '"':
            in_string = 1;
            break;

        case '[':
        case '{':
            if (++depth > max) {
                return 0;
            }
            break;

        case ']':
        case '}':
            if (depth > 0) {
                depth--;
            }
            break;
        }
    }

    return 1;
}


static void
mt_mcp_fail(mt_mcp_verdict_t *v, int code, const char *message)
{
    v->code = code;
    v->message = message;
}


/* the id of a single message, as JSON text, when it is short enough */
static void
mt_mcp_set_id(mt_mcp_verdict_t *v, const json_t *msg)
{
    char    *s;
    size_t   len;
    json_t  *id;

    id = json_object_get(msg, "id");

    if (!json_is_string(id) && !json_is_integer(id)) {
        return;
    }

    s = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
    if (s == NULL) {
        return;
    }

    len = strlen(s);

    if (len <= MT_MCP_MAX_ID_LEN) {
        memcpy(v->id, s, len);
        v->id_len = len;
    }

    free(s);
}


static int
mt_mcp_member_known(const char *key)
{
    static const char  *known[] = {
        "jsonrpc", "id", "method", "params", "result", "error"
    };

    size_t  i;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(key, known[i]) == 0) {
            return 1;
        }
    }

    return 0;
}


/* a name in params, against the rules of kind */
static mt_err_t
mt_mcp_match(const mt_rules_t *const *rules, size_t n, size_t kind,
    const json_t *params, const char *member, mt_mcp_verdict_t *v)
{
    size_t       i, matched_len;
    json_t      *name;
    mt_err_t     rc;
    const char  *matched;

    static const char  *denied[] = {
        "magic_token: this tool is not allowed by the token",
        "magic_token: this resource is not allowed by the token",
        "magic_token: this prompt is not allowed by the token"
    };

    name = json_object_get(params, member);

    if (!json_is_object(params) || !json_is_string(name)) {
        mt_mcp_fail(v, MT_MCP_INVALID_PARAMS, "magic_token: invalid params");
        return MT_ERR_MALFORMED;
    }

    for (i = 0; i < n; i++) {
        if (rules[i] == NULL) {
            continue;
        }

        rc = mt_rules_match(rules[i], mt_mcp_kinds[kind],
                            strlen(mt_mcp_kinds[kind]),
                            json_string_value(name),
                            json_string_length(name), &matched,
                            &matched_len);

        if (rc == MT_OK) {
            return MT_OK;
        }

        if (rc == MT_ERR_NOMEM) {
            return rc;
        }
    }

    mt_mcp_fail(v, MT_MCP_FORBIDDEN, denied[kind]);

    return MT_ERR_SCOPE_DENIED;
}


static int
mt_mcp_method_is(const json_t *method, const char *name)
{
    return json_string_length(method) == strlen(name)
           && memcmp(json_string_value(method), name, strlen(name)) == 0;
}


static mt_err_t
mt_mcp_check_message(const mt_rules_t *const *rules, size_t n,
    const json_t *msg, mt_mcp_verdict_t *v)
{
    size_t       i;
    json_t      *jsonrpc, *method, *params, *id, *val;
    const char  *key;

    static const char  *open[] = {
        "initialize", "ping",
        "tools/list", "resources/list", "resources/templates/list",
        "prompts/list"
    };

    if (!json_is_object(msg)) {
        mt_mcp_fail(v, MT_MCP_INVALID_REQUEST,
                    "magic_token: a message is not an object");
        return MT_ERR_MALFORMED;
    }

    json_object_foreach((json_t *) msg, key, val) {
        if (!mt_mcp_member_known(key)) {
            mt_mcp_fail(v, MT_MCP_INVALID_REQUEST,
                        "magic_token: unknown member in a message");
            return MT_ERR_MALFORMED;
        }
    }

    jsonrpc = json_object_get(msg, "jsonrpc");
    method = json_object_get(msg, "method");
    params = json_object_get(msg, "params");
    id = json_object_get(msg, "id");

    if (!json_is_string(jsonrpc) || !mt_mcp_method_is(jsonrpc, "2.0")
        || (id != NULL && !json_is_string(id) && !json_is_integer(id)
            && !json_is_null(id)))
    {
        mt_mcp_fail(v, MT_MCP_INVALID_REQUEST,
                    "magic_token: not a JSON-RPC 2.0 message");
        return MT_ERR_MALFORMED;
    }

    if (method == NULL) {
        /* a response to a request of the server: exactly one outcome */
        if (id == NULL || params != NULL
            || (json_object_get(msg, "result") == NULL)
               == (json_object_get(msg, "error") == NULL))
        {
            mt_mcp_fail(v, MT_MCP_INVALID_REQUEST,
                        "magic_token: not a JSON-RPC 2.0 message");
            return MT_ERR_MALFORMED;
        }

        return MT_OK;
    }

    if (!json_is_string(method)
        || json_object_get(msg, "result") != NULL
        || json_object_get(msg, "error") != NULL
        || (params != NULL && !json_is_object(params)
            && !json_is_array(params)))
    {
        mt_mcp_fail(v, MT_MCP_INVALID_REQUEST,
                    "magic_token: not a JSON-RPC 2.0 request");
        return MT_ERR_MALFORMED;
    }

    if (mt_mcp_method_is(method, "tools/call")) {
        return mt_mcp_match(rules, n, MT_MCP_TOOL, params, "name", v);
    }

    if (mt_mcp_method_is(method, "resources/read")) {
        return mt_mcp_match(rules, n, MT_MCP_RESOURCE, params, "uri", v);
    }

    if (mt_mcp_method_is(method, "prompts/get")) {
        return mt_mcp_match(rules, n, MT_MCP_PROMPT, params, "name", v);
    }

    for (i = 0; i < sizeof(open) / sizeof(open[0]); i++) {
        if (mt_mcp_method_is(method, open[i])) {
            return MT_OK;
        }
    }

    if (json_string_length(method) > sizeof("notifications/") - 1
        && memcmp(json_string_value(method), "notifications/",
                  sizeof("notifications/") - 1) == 0)
    {
        return MT_OK;
    }

    mt_mcp_fail(v, MT_MCP_FORBIDDEN,
                "magic_token: this method is not allowed by the token");

    return MT_ERR_SCOPE_DENIED;
}


mt_err_t
mt_mcp_check(const mt_rules_t *const *rules, size_t n, const char *body,
    size_t len, mt_mcp_verdict_t *v)
{
    size_t        i;
    json_t       *root, *msg;
    mt_err_t      rc;
    json_error_t  error;

    memset(v, 0, sizeof(mt_mcp_verdict_t));
    memcpy(v->id, "null", 4);
    v->id_len = 4;

    if (len > MT_MCP_MAX_BODY) {
        mt_mcp_fail(v, MT_MCP_INVALID_REQUEST,
                    "magic_token: request too large");
        return MT_ERR_TOO_LARGE;
    }

    if (!mt_mcp_depth_ok(body, len, MT_MCP_MAX_DEPTH)) {
        mt_mcp_fail(v, MT_MCP_INVALID_REQUEST,
                    "magic_token: JSON nested too deeply");
        return MT_ERR_TOO_LARGE;
    }

    /* objects and arrays only, no duplicate names, nothing after */
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &error);
    if (root == NULL) {
        mt_mcp_fail(v, MT_MCP_PARSE_ERROR, "magic_token: parse error");
        return MT_ERR_MALFORMED;
    }

    if (json_is_object(root)) {
        mt_mcp_set_id(v, root);
        rc = mt_mcp_check_message(rules, n, root, v);
        json_decref(root);
        return rc;
    }

    if (!json_is_array(root) || json_array_size(root) == 0
        || json_array_size(root) > MT_MCP_MAX_BATCH)
    {
        json_decref(root);
        mt_mcp_fail(v, MT_MCP_INVALID_REQUEST,
                    "magic_token: empty or too long a batch");
        return MT_ERR_MALFORMED;
    }

    /* a batch passes whole or not at all */
    json_array_foreach(root, i, msg) {
        rc = mt_mcp_check_message(rules, n, msg, v);
        if (rc != MT_OK) {
            json_decref(root);
            return rc;
        }
    }

    json_decref(root);

    return MT_OK;
}


size_t
mt_mcp_error_body(const mt_mcp_verdict_t *v, char *buf, size_t size)
{
    int  n;

    n = snprintf(buf, size, "{\"jsonrpc\":\"2.0\",\"id\":%.*s,"
                 "\"error\":{\"code\":%d,\"message\":\"%s\"}}\n",
                 (int) v->id_len, v->id, v->code,
                 v->message ? v->message : "magic_token: refused");

    if (n < 0 || (size_t) n >= size) {
        return 0;
    }

    return (size_t) n;
}
