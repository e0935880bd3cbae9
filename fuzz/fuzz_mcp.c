/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_mcp: the MCP body check (mt_mcp.c) on any request body, with the
 * tools "get_issue" and "list_[a-z]+" allowed.
 *
 * Must never crash, leak or read past a length.  Properties:
 *   - only the documented error codes;
 *   - an allowed body is one object or a batch of 1 to 64, each a
 *     JSON-RPC 2.0 message whose tools/call names a tool of the list
 *     (checked again here by hand, with jansson's duplicate check);
 *   - a refusal's error body is a JSON object with jsonrpc, id, error;
 *   - checking twice gives the same answer.
 */

#include "common.h"


static int
fx_tool_allowed(const char *name, size_t len)
{
    size_t  i;

    if (len == 9 && memcmp(name, "get_issue", 9) == 0) {
        return 1;
    }

    if (len < 6 || memcmp(name, "list_", 5) != 0) {
        return 0;
    }

    for (i = 5; i < len; i++) {
        if (name[i] < 'a' || name[i] > 'z') {
            return 0;
        }
    }

    return 1;
}


static void
fx_check_allowed(const json_t *msg)
{
    json_t      *method, *name;
    const char  *m;

    FX_CHECK(json_is_object(msg), "an allowed message is not an object");
    FX_CHECK(json_is_string(json_object_get(msg, "jsonrpc"))
             && strcmp(json_string_value(json_object_get(msg, "jsonrpc")),
                       "2.0") == 0, "jsonrpc is not \"2.0\"");

    method = json_object_get(msg, "method");

    if (method == NULL) {
        return;
    }

    FX_CHECK(json_is_string(method), "method is not a string");

    m = json_string_value(method);

    if (json_string_length(method) == 10 && strcmp(m, "tools/call") == 0) {
        name = json_object_get(json_object_get(msg, "params"), "name");
        FX_CHECK(json_is_string(name)
                 && fx_tool_allowed(json_string_value(name),
                                    json_string_length(name)),
                 "a tool that is not allowed passed");
        return;
    }

    FX_CHECK(strcmp(m, "resources/read") != 0
             && strcmp(m, "prompts/get") != 0,
             "%s passed without entries", m);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char               body[512];
    size_t             i, n;
    json_t            *claims, *root, *msg;
    mt_err_t           rc, rc2;
    mt_rules_t        *rules;
    mt_mcp_verdict_t   v, v2;

    claims = json_loads("{\"mcp\":{\"tools\":[\"get_issue\","
                        "\"list_[a-z]+\"]}}", 0, NULL);
    if (claims == NULL || mt_mcp_claim(claims, &rules) != MT_OK) {
        fx_die("claim", NULL);
    }

    json_decref(claims);

    rc = mt_mcp_check((const mt_rules_t *const *) &rules, 1,
                      (const char *) data, size, &v);

    rc2 = mt_mcp_check((const mt_rules_t *const *) &rules, 1,
                       (const char *) data, size, &v2);

    FX_CHECK(rc == rc2 && v.code == v2.code && v.id_len == v2.id_len
             && memcmp(v.id, v2.id, v.id_len) == 0, "not deterministic");

    if (rc == MT_OK) {
        root = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES,
                          NULL);
        FX_CHECK(root != NULL, "an allowed body does not parse");

        if (json_is_array(root)) {
            FX_CHECK(json_array_size(root) >= 1
                     && json_array_size(root) <= MT_MCP_MAX_BATCH,
                     "batch of %zu", json_array_size(root));

            json_array_foreach(root, i, msg) {
                fx_check_allowed(msg);
            }

        } else {
            fx_check_allowed(root);
        }

        json_decref(root);

    } else {
        FX_CHECK(rc == MT_ERR_MALFORMED || rc == MT_ERR_TOO_LARGE
                 || rc == MT_ERR_SCOPE_DENIED || rc == MT_ERR_NOMEM,
                 "check: %s", mt_strerror(rc));

        n = mt_mcp_error_body(&v, body, sizeof(body));
        FX_CHECK(n > 0, "no error body");

        root = json_loadb(body, n, JSON_REJECT_DUPLICATES, NULL);
        FX_CHECK(json_is_object(root)
                 && json_object_get(root, "id") != NULL
                 && json_is_object(json_object_get(root, "error")),
                 "error body %s", body);
        json_decref(root);
    }

    mt_rules_free(rules);

    return 0;
}
