/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_revoke: mt_revoke_list_load() on any bytes as a revocation file,
 * and mt_revoke_parse() on any bytes as an admin request.
 *
 * Must never crash or read past the length.  Properties:
 *   - a file loads all or nothing: on failure the line at fault is set,
 *     within the file's lines;
 *   - a file that does not end with "\n" never loads (a half-written
 *     record is never taken for the end of the list);
 *   - every loaded record formats as one line that parses back to the
 *     same record, and is found by its kind and value;
 *   - an admin request that parses formats and parses back the same.
 */

#include "common.h"


static void
fx_roundtrip(const mt_revoke_rec_t *rec)
{
    char             line[MT_REVOKE_MAX_LINE], err[256];
    size_t           len;
    mt_err_t         rc;
    mt_revoke_rec_t  back;

    rc = mt_revoke_format(rec, line, sizeof(line), &len);
    FX_CHECK(rc == MT_OK, "format: %s", mt_strerror(rc));
    FX_CHECK(len > 0 && line[len - 1] == '\n'
             && memchr(line, '\n', len - 1) == NULL, "not one line");

    rc = mt_revoke_parse(&back, line, len - 1, MT_REVOKE_LINE, FX_NOW, err,
                         sizeof(err));
    FX_CHECK(rc == MT_OK, "parse back: %s", err);
    FX_CHECK(back.kind == rec->kind && back.len == rec->len
             && memcmp(back.value, rec->value, rec->len) == 0
             && back.until == rec->until && back.removed == rec->removed
             && (rec->kind < MT_REVOKE_SUB || back.before == rec->before),
             "not the same record");
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char              *buf, err[256];
    size_t             line, lines, cursor, i;
    mt_err_t           rc;
    mt_revoke_rec_t    rec;
    mt_revoke_list_t  *list;

    buf = malloc(size ? size : 1);
    if (buf == NULL) {
        return 0;
    }

    memcpy(buf, data, size);

    list = mt_revoke_list_new();
    if (list == NULL) {
        free(buf);
        return 0;
    }

    rc = mt_revoke_list_load(list, buf, size, FX_NOW, &line, err,
                             sizeof(err));

    for (lines = 1, i = 0; i < size; i++) {
        lines += (buf[i] == '\n');
    }

    if (rc != MT_OK) {
        FX_CHECK(line >= 1 && line <= lines, "line %zu of %zu", line, lines);

    } else {
        FX_CHECK(size > 0 && buf[size - 1] == '\n', "no final newline");

        cursor = 0;
        i = 0;

        while (mt_revoke_list_next(list, &cursor, &rec)) {
            FX_CHECK(rec.until > FX_NOW, "an expired record kept");
            FX_CHECK(mt_revoke_list_find(list, rec.kind, rec.value, rec.len,
                                         NULL), "not found");
            fx_roundtrip(&rec);
            i++;
        }

        FX_CHECK(i == mt_revoke_list_count(list), "count");
    }

    mt_revoke_list_free(list);

    if (mt_revoke_parse(&rec, buf, size, MT_REVOKE_ADD, FX_NOW, err,
                        sizeof(err)) == MT_OK)
    {
        FX_CHECK(rec.until > FX_NOW, "a request for the past");
        fx_roundtrip(&rec);
    }

    free(buf);

    return 0;
}
