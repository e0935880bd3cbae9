/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_base64: both decoders and both encoders of mt_base64.c.
 *
 *   - decoding arbitrary bytes never overruns a buffer of exactly
 *     mt_base64_decoded_max(len) bytes;
 *   - canonical encoding: whatever a strict decoder accepts re-encodes
 *     to exactly the input (one value, one encoding);
 *   - round trip: decode(encode(x)) == x for both alphabets, with the
 *     encoded length the header's macros promise.
 */

#include "common.h"


static void
fx_check_decoder(const uint8_t *data, size_t size, int url)
{
    char           *re;
    size_t          n, m;
    mt_err_t        rc;
    unsigned char  *dst;

    /* exactly the documented size: ASan sees one byte too many */
    dst = malloc(mt_base64_decoded_max(size));
    if (dst == NULL) {
        return;
    }

    rc = url ? mt_base64url_decode(dst, &n, (const char *) data, size)
             : mt_base64_decode(dst, &n, (const char *) data, size);

    if (rc != MT_OK) {
        FX_CHECK(rc == MT_ERR_MALFORMED, "decoder returned %d", (int) rc);
        free(dst);
        return;
    }

    FX_CHECK(n <= mt_base64_decoded_max(size), "decoded %zu > max %zu", n,
             (size_t) mt_base64_decoded_max(size));

    m = url ? mt_base64url_encoded_len(n) : mt_base64_encoded_len(n);
    FX_CHECK(m == size, "%s: %zu bytes accepted, %zu decoded, re-encoded "
             "length %zu", url ? "base64url" : "base64", size, n, m);

    re = malloc(m + 1);
    if (re == NULL) {
        free(dst);
        return;
    }

    m = url ? mt_base64url_encode(re, dst, n) : mt_base64_encode(re, dst, n);

    FX_CHECK(m == size && memcmp(re, data, size) == 0,
             "%s: accepted \"%.*s\" is not canonical: re-encodes to "
             "\"%.*s\"", url ? "base64url" : "base64", (int) size,
             (const char *) data, (int) m, re);

    free(re);
    free(dst);
}


static void
fx_check_roundtrip(const uint8_t *data, size_t size, int url)
{
    char           *enc;
    size_t          elen, n;
    mt_err_t        rc;
    unsigned char  *dec;

    elen = url ? mt_base64url_encoded_len(size) : mt_base64_encoded_len(size);

    enc = malloc(elen ? elen : 1);
    dec = malloc(mt_base64_decoded_max(elen) ? mt_base64_decoded_max(elen)
                                             : 1);
    if (enc == NULL || dec == NULL) {
        free(enc);
        free(dec);
        return;
    }

    n = url ? mt_base64url_encode(enc, data, size)
            : mt_base64_encode(enc, data, size);
    FX_CHECK(n == elen, "encoded length %zu, macro says %zu", n, elen);

    rc = url ? mt_base64url_decode(dec, &n, enc, elen)
             : mt_base64_decode(dec, &n, enc, elen);

    FX_CHECK(rc == MT_OK, "%s: own encoding of %zu bytes rejected (%s)",
             url ? "base64url" : "base64", size, mt_strerror(rc));
    FX_CHECK(n == size && (size == 0 || memcmp(dec, data, size) == 0),
             "%s: round trip of %zu bytes gave %zu different bytes",
             url ? "base64url" : "base64", size, n);

    free(enc);
    free(dec);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fx_check_decoder(data, size, 1);
    fx_check_decoder(data, size, 0);
    fx_check_roundtrip(data, size, 1);
    fx_check_roundtrip(data, size, 0);

    return 0;
}
