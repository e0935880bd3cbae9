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


static size_t
mt_json_ws(const char *p, size_t i, size_t n)
{
    while (i < n
           && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
    {
        i++;
    }

    return i;
}


/* p[i] is '"': *end is the index after the closing quote */
static int
mt_json_string_end(const char *p, size_t i, size_t n, size_t *end)
{
    for (i++; i < n; i++) {
        if (p[i] == '\\') {
            i++;
            continue;
        }

        if (p[i] == '"') {
            *end = i + 1;
            return 0;
        }
    }

    return -1;
}


/* the value at p[i]: *end is the index after it */
static int
mt_json_value_end(const char *p, size_t i, size_t n, size_t *end)
{
    size_t  depth;

    if (i >= n) {
        return -1;
    }

    if (p[i] == '"') {
        return mt_json_string_end(p, i, n, end);
    }

    if (p[i] != '{' && p[i] != '[') {
        /* a number or a literal */
        while (i < n && strchr(",}] \t\n\r", p[i]) == NULL) {
            i++;
        }

        *end = i;
        return 0;
    }

    for (depth = 0; i < n; i++) {
        if (p[i] == '"') {
            if (mt_json_string_end(p, i, n, &i) != 0) {
                return -1;
            }

            i--;

        } else if (p[i] == '{' || p[i] == '[') {
            depth++;

        } else if ((p[i] == '}' || p[i] == ']') && --depth == 0) {
            *end = i + 1;
            return 0;
        }
    }

    return -1;
}


/*
 * Walks the members of the object text; *from and *to delimit the text
 * to cut for the member named name (with one of its commas).
 */
static int
mt_json_member_span(const char *p, size_t n, const char *name,
    size_t name_len, size_t *from, size_t *to)
{
    int     found, named;
    size_t  i, start, key_end, value_end, comma;

    found = 0;
    comma = 0;      /* the comma before the member, 0: none */
    *from = 0;
    *to = 0;

    i = mt_json_ws(p, 0, n);

    if (i >= n || p[i] != '{') {
        return -1;
    }

    i = mt_json_ws(p, i + 1, n);

    for ( ;; ) {
        if (i >= n || p[i] != '"' || mt_json_string_end(p, i, n, &key_end))
        {
            return -1;
        }

        start = i;
        named = (key_end - start == name_len + 2
                 && memcmp(p + start + 1, name, name_len) == 0);

        i = mt_json_ws(p, key_end, n);

        if (i >= n || p[i] != ':') {
            return -1;
        }

        i = mt_json_ws(p, i + 1, n);

        if (mt_json_value_end(p, i, n, &value_end) != 0
            || (named && (found || p[i] != '"')))
        {
            return -1;
        }

        i = mt_json_ws(p, value_end, n);

        if (i >= n || (p[i] != ',' && p[i] != '}')) {
            return -1;
        }

        if (named) {
            found = 1;

            if (p[i] == ',') {
                *from = start;
                *to = i + 1;

            } else {
                *from = comma ? comma : start;
                *to = value_end;
            }
        }

        if (p[i] == '}') {
            break;
        }

        comma = i;
        i = mt_json_ws(p, i + 1, n);
    }

    return (found && mt_json_ws(p, i + 1, n) == n) ? 0 : -1;
}


int
mt_json_cut_string_member(char *buf, size_t *len, const char *name,
    size_t name_len)
{
    size_t  from, to;

    if (mt_json_member_span(buf, *len, name, name_len, &from, &to) != 0) {
        return -1;
    }

    memmove(buf + from, buf + to, *len - to);
    *len -= to - from;

    return 0;
}
