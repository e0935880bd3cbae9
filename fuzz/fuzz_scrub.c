/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_scrub: the response scrubber of mt_scrub.c.  Input: one byte n,
 * then a credential of n % 64 + 1 bytes, one byte for a split point,
 * and the body.
 *
 *   - the body fed in two parts (split anywhere) and in one piece
 *     (mt_scrub_buffer) comes out the same, with the same length;
 *   - no pattern is left in what comes out (for credentials without the
 *     marker byte: a marker next to a kept byte may spell one that has);
 *   - nothing is kept back after the last part.
 */

#include "common.h"


static int
fx_contains(const unsigned char *h, size_t hl, const unsigned char *n,
    size_t nl)
{
    size_t  i;

    for (i = 0; nl <= hl && i + nl <= hl; i++) {
        if (memcmp(h + i, n, nl) == 0) {
            return 1;
        }
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                cl, split, blen, n, got, hits, k, plen;
    mt_scrub_t           *s;
    unsigned char        *out, *whole;
    const uint8_t        *cred, *body;
    const unsigned char  *p;

    if (size < 2) {
        return 0;
    }

    cl = data[0] % 64 + 1;
    if (size < 2 + cl) {
        return 0;
    }

    cred = data + 1;
    split = data[1 + cl];
    body = data + 2 + cl;
    blen = size - 2 - cl;
    split = blen ? split % (blen + 1) : 0;

    if (memchr(cred, MT_SCRUB_MARK, cl) != NULL
        || mt_scrub_new(&s, cred, cl) != MT_OK)
    {
        return 0;
    }

    out = malloc(mt_scrub_out_max(s, blen) + 1);
    whole = malloc(blen + 1);
    FX_CHECK(out != NULL && whole != NULL, "malloc");

    hits = 0;
    FX_CHECK(mt_scrub_feed(s, body, split, 0, out, &n, &hits) == MT_OK,
             "feed 1");
    got = n;
    FX_CHECK(mt_scrub_feed(s, body + split, blen - split, 1, out + got, &n,
                           &hits) == MT_OK, "feed 2");
    got += n;

    FX_CHECK(got == blen, "%zu bytes out of %zu", got, blen);
    FX_CHECK(mt_scrub_pending(s) == 0, "bytes kept after the last part");

    memcpy(whole, body, blen);
    FX_CHECK(mt_scrub_buffer(s, whole, blen) == hits, "hit counts differ");
    FX_CHECK(memcmp(whole, out, blen) == 0, "split at %zu changes the output",
             split);

    for (k = 0; k < mt_scrub_patterns(s); k++) {
        p = mt_scrub_pattern(s, k, &plen);
        FX_CHECK(!fx_contains(out, got, p, plen), "pattern %zu left", k);
    }

    free(out);
    free(whole);
    mt_scrub_free(s);

    return 0;
}
