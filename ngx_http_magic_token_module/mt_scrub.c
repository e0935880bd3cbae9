/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Response scrubbing: the forms an upstream may echo a credential in,
 * and a streaming matcher that replaces every byte of every match.
 *
 * The matcher checks each start position once, in order.  A byte is
 * replaced when a match starting at or before it covers it, which one
 * offset says (mark_until: the end of the furthest match seen so far),
 * so a byte can be written out as soon as the matches starting at it
 * are known; the last max - 1 bytes wait for the next call, since a
 * match starting there may go on in it.
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "mt_core.h"


#define MT_SCRUB_MAX_PATTERNS  16


typedef struct {
    unsigned char      *data;
    size_t              len;
} mt_scrub_pat_t;


struct mt_scrub_s {
    mt_scrub_pat_t      pat[MT_SCRUB_MAX_PATTERNS];
    size_t              npat;
    size_t              max;            /* longest pattern */
    unsigned char       first[256];     /* some pattern starts with it */

    unsigned char      *work;           /* kept-back bytes, then input */
    size_t              size;           /* allocated for work */
    size_t              kept;
    size_t              mark_until;     /* relative to work */
};


static const char  mt_scrub_b64std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char  mt_scrub_b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


/* takes data (malloc()ed); duplicates and empty ones are dropped */
static mt_err_t
mt_scrub_add(mt_scrub_t *s, unsigned char *data, size_t len)
{
    size_t  i;

    for (i = 0; i < s->npat; i++) {
        if (s->pat[i].len == len && memcmp(s->pat[i].data, data, len) == 0) {
            len = 0;
            break;
        }
    }

    if (len == 0 || s->npat == MT_SCRUB_MAX_PATTERNS) {
        OPENSSL_cleanse(data, len);
        free(data);
        return s->npat == MT_SCRUB_MAX_PATTERNS ? MT_ERR_INTERNAL : MT_OK;
    }

    s->pat[s->npat].data = data;
    s->pat[s->npat].len = len;
    s->npat++;

    if (len > s->max) {
        s->max = len;
    }

    s->first[data[0]] = 1;

    return MT_OK;
}


/*
 * The base64 characters that only the credential's bits make, when it
 * follows align bytes of anything: 6-bit groups k with 8 * align <= 6k
 * and 6k + 6 <= 8 * (align + len).
 */
static mt_err_t
mt_scrub_add_b64(mt_scrub_t *s, const unsigned char *cred, size_t len,
    size_t align, const char *alphabet)
{
    size_t          k, kstart, kend, bit, i, n;
    unsigned int    v, j;
    unsigned char  *out;

    kstart = (8 * align + 5) / 6;
    kend = 8 * (align + len) / 6;

    if (kend <= kstart || kend - kstart < MT_SCRUB_MIN_B64) {
        return MT_OK;
    }

    out = malloc(kend - kstart);
    if (out == NULL) {
        return MT_ERR_NOMEM;
    }

    n = 0;

    for (k = kstart; k < kend; k++) {
        v = 0;

        for (j = 0; j < 6; j++) {
            bit = 6 * k + j;
            i = bit / 8 - align;
            v = (v << 1) | ((cred[i] >> (7 - bit % 8)) & 1);
        }

        out[n++] = (unsigned char) alphabet[v];
    }

    return mt_scrub_add(s, out, n);
}


static int
mt_scrub_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
           || c == '~';
}


/* style: 0 RFC 3986 upper hex, 1 lower hex, 2 form ('+' for space),
 * 3 encodeURIComponent (also leaves !'()* alone) */
static mt_err_t
mt_scrub_add_pct(mt_scrub_t *s, const unsigned char *cred, size_t len,
    int style)
{
    size_t          i, n;
    unsigned char  *out, c;
    const char     *hex;

    hex = (style == 1) ? "0123456789abcdef" : "0123456789ABCDEF";

    out = malloc(3 * len);
    if (out == NULL) {
        return MT_ERR_NOMEM;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        c = cred[i];

        if (mt_scrub_unreserved(c)
            || (style == 3 && c != '\0' && strchr("!'()*", c) != NULL))
        {
            out[n++] = c;

        } else if (style == 2 && c == ' ') {
            out[n++] = '+';

        } else {
            out[n++] = '%';
            out[n++] = (unsigned char) hex[c >> 4];
            out[n++] = (unsigned char) hex[c & 0x0f];
        }
    }

    return mt_scrub_add(s, out, n);
}


mt_err_t
mt_scrub_new(mt_scrub_t **out, const unsigned char *cred, size_t len)
{
    int             style;
    size_t          align;
    mt_err_t        rc;
    mt_scrub_t     *s;
    unsigned char  *raw;

    *out = NULL;

    if (len == 0 || len > MT_SCRUB_MAX_CRED) {
        return MT_ERR_TOO_LARGE;
    }

    s = calloc(1, sizeof(mt_scrub_t));
    if (s == NULL) {
        return MT_ERR_NOMEM;
    }

    raw = malloc(len);
    if (raw == NULL) {
        free(s);
        return MT_ERR_NOMEM;
    }

    memcpy(raw, cred, len);

    rc = mt_scrub_add(s, raw, len);

    for (style = 0; rc == MT_OK && style < 4; style++) {
        rc = mt_scrub_add_pct(s, cred, len, style);
    }

    for (align = 0; rc == MT_OK && align < 3; align++) {
        rc = mt_scrub_add_b64(s, cred, len, align, mt_scrub_b64std);

        if (rc == MT_OK) {
            rc = mt_scrub_add_b64(s, cred, len, align, mt_scrub_b64url);
        }
    }

    if (rc != MT_OK) {
        mt_scrub_free(s);
        return rc;
    }

    *out = s;

    return MT_OK;
}


void
mt_scrub_free(mt_scrub_t *s)
{
    size_t  i;

    if (s == NULL) {
        return;
    }

    for (i = 0; i < s->npat; i++) {
        OPENSSL_cleanse(s->pat[i].data, s->pat[i].len);
        free(s->pat[i].data);
    }

    if (s->work != NULL) {
        OPENSSL_cleanse(s->work, s->size);
        free(s->work);
    }

    OPENSSL_cleanse(s, sizeof(mt_scrub_t));
    free(s);
}


size_t
mt_scrub_max_pattern(const mt_scrub_t *s)
{
    return s->max;
}


size_t
mt_scrub_patterns(const mt_scrub_t *s)
{
    return s->npat;
}


const unsigned char *
mt_scrub_pattern(const mt_scrub_t *s, size_t n, size_t *len)
{
    if (n >= s->npat) {
        *len = 0;
        return NULL;
    }

    *len = s->pat[n].len;

    return s->pat[n].data;
}


size_t
mt_scrub_out_max(const mt_scrub_t *s, size_t len)
{
    return s->max - 1 + len;
}


size_t
mt_scrub_pending(const mt_scrub_t *s)
{
    return s->kept;
}


/*
 * Positions [0, emit) of buf (total bytes) are start positions checked
 * now and bytes written to out (NULL: counted only; out may be buf: a
 * byte is written
 * after the matches starting at it are known, and later ones do not
 * read it).  Every match checked lies inside buf.
 */
static size_t
mt_scrub_scan(const mt_scrub_t *s, const unsigned char *buf, size_t total,
    size_t emit, size_t *mark_until, unsigned char *out)
{
    size_t                 p, i, hits, until;
    unsigned char          c;
    const mt_scrub_pat_t  *pat;

    hits = 0;
    until = *mark_until;

    for (p = 0; p < emit; p++) {
        c = buf[p];

        if (s->first[c]) {
            for (i = 0; i < s->npat; i++) {
                pat = &s->pat[i];

                if (pat->data[0] == c && pat->len <= total - p
                    && memcmp(buf + p, pat->data, pat->len) == 0)
                {
                    hits++;

                    if (p + pat->len > until) {
                        until = p + pat->len;
                    }
                }
            }
        }

        if (out != NULL) {
            out[p] = (p < until) ? MT_SCRUB_MARK : c;
        }
    }

    *mark_until = until;

    return hits;
}


mt_err_t
mt_scrub_feed(mt_scrub_t *s, const unsigned char *in, size_t len, int last,
    unsigned char *out, size_t *out_len, size_t *hits)
{
    size_t          total, emit, n;
    unsigned char  *work;

    *out_len = 0;
    total = s->kept + len;

    if (total == 0) {
        return MT_OK;
    }

    if (total > s->size) {
        work = malloc(total);
        if (work == NULL) {
            return MT_ERR_NOMEM;
        }

        if (s->work != NULL) {
            memcpy(work, s->work, s->kept);
            OPENSSL_cleanse(s->work, s->size);
            free(s->work);
        }

        s->work = work;
        s->size = total;
    }

    if (len > 0) {
        memcpy(s->work + s->kept, in, len);
    }

    if (last) {
        emit = total;

    } else {
        emit = (total > s->max - 1) ? total - (s->max - 1) : 0;
    }

    n = mt_scrub_scan(s, s->work, total, emit, &s->mark_until, out);

    if (hits != NULL) {
        *hits += n;
    }

    memmove(s->work, s->work + emit, total - emit);
    s->kept = total - emit;
    s->mark_until = (s->mark_until > emit) ? s->mark_until - emit : 0;

    *out_len = emit;

    return MT_OK;
}


size_t
mt_scrub_buffer(const mt_scrub_t *s, unsigned char *buf, size_t len)
{
    size_t  until;

    until = 0;

    return mt_scrub_scan(s, buf, len, len, &until, buf);
}


size_t
mt_scrub_count(const mt_scrub_t *s, const unsigned char *buf, size_t len)
{
    size_t  until;

    until = 0;

    return mt_scrub_scan(s, buf, len, len, &until, NULL);
}
