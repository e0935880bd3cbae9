/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_path: mt_path_check() on any bytes, as a decoded request path.
 *
 * Must never crash or read past the length.  Properties:
 *   - the answer is MT_OK or MT_ERR_UNSAFE_PATH, and deterministic;
 *   - a raw backslash, or a segment starting "..;", "..?" or "..#", is
 *     always unsafe;
 *   - a path of only [A-Za-z0-9/_-] is always safe, and so is one
 *     without any of "%", "\\", ".", 0xC0 and 0xC1 (the bytes every
 *     refusal needs: mt_path_check answers at once for the others);
 *   - a prefix of a safe path that ends at a "/" is safe too (a
 *     separator never makes an earlier part unsafe).
 */

#include "common.h"


static int
fx_plain(const char *p, size_t len)
{
    size_t         i;
    unsigned char  c;

    for (i = 0; i < len; i++) {
        c = (unsigned char) p[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '/' || c == '_' || c == '-'))
        {
            return 0;
        }
    }

    return 1;
}


static int
fx_has_dotdot_param(const char *p, size_t len)
{
    size_t  i;

    for (i = 0; i + 3 <= len; i++) {
        if ((i == 0 || p[i - 1] == '/')
            && (memcmp(p + i, "..;", 3) == 0 || memcmp(p + i, "..?", 3) == 0
                || memcmp(p + i, "..#", 3) == 0))
        {
            return 1;
        }
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char      *path;
    size_t     i;
    mt_err_t   rc, rc2;

    /* an exact-size copy: ASan sees any read past the length */
    path = malloc(size ? size : 1);
    if (path == NULL) {
        return 0;
    }

    memcpy(path, data, size);

    rc = mt_path_check(path, size);
    rc2 = mt_path_check(path, size);

    FX_CHECK(rc == MT_OK || rc == MT_ERR_UNSAFE_PATH, "result %s",
             mt_strerror(rc));
    FX_CHECK(rc == rc2, "not deterministic");

    if (memchr(path, '\\', size) != NULL || fx_has_dotdot_param(path, size)) {
        FX_CHECK(rc == MT_ERR_UNSAFE_PATH, "backslash or ..;/..?/..# passed");
    }

    if (fx_plain(path, size)) {
        FX_CHECK(rc == MT_OK, "a plain path refused");
    }

    for (i = 0; i < size; i++) {
        if (path[i] == '%' || path[i] == '\\' || path[i] == '.'
            || (unsigned char) path[i] == 0xc0
            || (unsigned char) path[i] == 0xc1)
        {
            break;
        }
    }

    if (i == size) {
        FX_CHECK(rc == MT_OK, "a path without %%, \\, ., 0xC0, 0xC1 refused");
    }

    if (rc == MT_OK) {
        for (i = 0; i < size; i++) {
            if (path[i] == '/') {
                FX_CHECK(mt_path_check(path, i) == MT_OK,
                         "a safe path's prefix refused");
            }
        }
    }

    free(path);

    return 0;
}
