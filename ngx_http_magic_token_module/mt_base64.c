/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Strict base64 and base64url.  Tokens are compared and hashed as
 * bytes, so one value must have exactly one accepted encoding: padding
 * rules are enforced and unused trailing bits must be zero.
 */

#include "mt_core.h"


static const char  mt_b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char  mt_b64std_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";


static int
mt_b64_value(unsigned char c, int url)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == (url ? '-' : '+')) {
        return 62;
    }

    if (c == (url ? '_' : '/')) {
        return 63;
    }

    return -1;
}


static mt_err_t
mt_b64_decode(unsigned char *dst, size_t *dst_len, const char *src,
    size_t len, int url)
{
    int            v;
    size_t         i, n, rem;
    uint32_t       acc;
    unsigned char  *d;

    rem = len % 4;

    if (rem == 1) {
        return MT_ERR_MALFORMED;
    }

    d = dst;
    acc = 0;
    n = 0;

    for (i = 0; i < len; i++) {
        v = mt_b64_value((unsigned char) src[i], url);
        if (v < 0) {
            return MT_ERR_MALFORMED;
        }

        acc = (acc << 6) | (uint32_t) v;

        if (++n == 4) {
            *d++ = (unsigned char) (acc >> 16);
            *d++ = (unsigned char) (acc >> 8);
            *d++ = (unsigned char) acc;
            acc = 0;
            n = 0;
        }
    }

    if (n == 2) {
        if (acc & 0x0f) {
            return MT_ERR_MALFORMED;
        }

        *d++ = (unsigned char) (acc >> 4);

    } else if (n == 3) {
        if (acc & 0x03) {
            return MT_ERR_MALFORMED;
        }

        *d++ = (unsigned char) (acc >> 10);
        *d++ = (unsigned char) (acc >> 2);
    }

    *dst_len = (size_t) (d - dst);

    return MT_OK;
}


mt_err_t
mt_base64url_decode(unsigned char *dst, size_t *dst_len, const char *src,
    size_t len)
{
    return mt_b64_decode(dst, dst_len, src, len, 1);
}


mt_err_t
mt_base64_decode(unsigned char *dst, size_t *dst_len, const char *src,
    size_t len)
{
    size_t  pad;

    if (len % 4 != 0) {
        return MT_ERR_MALFORMED;
    }

    pad = 0;

    if (len > 0 && src[len - 1] == '=') {
        pad++;

        if (len > 1 && src[len - 2] == '=') {
            pad++;
        }
    }

    /* "xx==" decodes like unpadded "xx"; '=' elsewhere is rejected */
    return mt_b64_decode(dst, dst_len, src, len - pad, 0);
}


static size_t
mt_b64_encode(char *dst, const unsigned char *src, size_t len,
    const char *alphabet, int pad)
{
    char    *d;
    size_t   i;

    d = dst;

    for (i = 0; i + 2 < len; i += 3) {
        *d++ = alphabet[src[i] >> 2];
        *d++ = alphabet[((src[i] & 0x03) << 4) | (src[i + 1] >> 4)];
        *d++ = alphabet[((src[i + 1] & 0x0f) << 2) | (src[i + 2] >> 6)];
        *d++ = alphabet[src[i + 2] & 0x3f];
    }

    if (len - i == 1) {
        *d++ = alphabet[src[i] >> 2];
        *d++ = alphabet[(src[i] & 0x03) << 4];

        if (pad) {
            *d++ = '=';
            *d++ = '=';
        }

    } else if (len - i == 2) {
        *d++ = alphabet[src[i] >> 2];
        *d++ = alphabet[((src[i] & 0x03) << 4) | (src[i + 1] >> 4)];
        *d++ = alphabet[(src[i + 1] & 0x0f) << 2];

        if (pad) {
            *d++ = '=';
        }
    }

    return (size_t) (d - dst);
}


size_t
mt_base64url_encode(char *dst, const unsigned char *src, size_t len)
{
    return mt_b64_encode(dst, src, len, mt_b64url_alphabet, 0);
}


/* dst must hold ((len + 2) / 3) * 4 bytes */
size_t
mt_base64_encode(char *dst, const unsigned char *src, size_t len)
{
    return mt_b64_encode(dst, src, len, mt_b64std_alphabet, 1);
}
