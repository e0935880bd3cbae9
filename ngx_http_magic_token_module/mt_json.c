/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * JSON helpers over jansson.  Duplicate member names are rejected, so
 * that "alg" (or "exp") can never mean one thing to us and another to
 * a different parser; "\u0000" in strings is rejected by jansson.
 */

#include <stdlib.h>
#include <string.h>

#include "mt_core.h"


mt_err_t
mt_json_parse_object(json_t **out, const char *buf, size_t len,
    size_t max_members)
{
    json_t        *root;
    json_error_t   error;

    *out = NULL;

    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &error);
    if (root == NULL) {
        return MT_ERR_MALFORMED;
    }

    if (!json_is_object(root)) {
        json_decref(root);
        return MT_ERR_MALFORMED;
    }

    if (json_object_size(root) > max_members) {
        json_decref(root);
        return MT_ERR_TOO_LARGE;
    }

    *out = root;

    return MT_OK;
}


mt_err_t
mt_json_claim_string(const json_t *value, char **out, size_t *out_len)
{
    char    *s;
    size_t   len;

    if (json_is_string(value)) {
        len = json_string_length(value);

        s = malloc(len + 1);
        if (s == NULL) {
            return MT_ERR_NOMEM;
        }

        memcpy(s, json_string_value(value), len);
        s[len] = '\0';

    } else {
        s = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s == NULL) {
            return MT_ERR_NOMEM;
        }

        len = strlen(s);
    }

    *out = s;
    *out_len = len;

    return MT_OK;
}
