/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_dpop: mt_dpop_verify() and mt_dpop_htu_normalize() on any bytes.
 * The input is "htu\nproof": the request's URL, then a DPoP proof.
 *
 * Must never crash or read past the length.  Properties:
 *   - the answer is MT_OK, MT_ERR_DPOP_REQUIRED (an empty proof only),
 *     MT_ERR_INVALID_DPOP_PROOF or MT_ERR_NOMEM, and deterministic;
 *   - a proof that verifies has a 43-character jkt, and verifies again
 *     when that jkt is asked, never with another one;
 *   - normalizing an htu is idempotent and never makes it longer than
 *     its input and one "/".
 */

#include "common.h"


#define FX_DPOP_TOKEN  "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"


static mt_err_t
fx_verify(mt_dpop_t *d, const char *htu, size_t htu_len, const char *proof,
    size_t len, const char *jkt, int with_token)
{
    mt_dpop_req_t  req;

    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.method_len = 3;
    req.htu = htu;
    req.htu_len = htu_len;
    req.token = with_token ? FX_DPOP_TOKEN : NULL;
    req.token_len = with_token ? sizeof(FX_DPOP_TOKEN) - 1 : 0;
    req.jkt = jkt;
    req.jkt_len = jkt ? strlen(jkt) : 0;
    req.now = FX_NOW;
    req.window = 60;
    req.leeway = 60;

    return mt_dpop_verify(d, proof, len, &req);
}


static void
fx_htu(const char *in, size_t len)
{
    char      *a, *b;
    size_t     n, m;
    mt_err_t   rc;

    a = malloc(len + 1);
    b = malloc(len + 2);
    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        return;
    }

    rc = mt_dpop_htu_normalize(in, len, a, len + 1, &n);

    if (rc == MT_OK) {
        FX_CHECK(n <= len + 1, "normalized htu longer: %zu > %zu", n, len);
        FX_CHECK(mt_dpop_htu_normalize(a, n, b, n + 1, &m) == MT_OK
                 && m == n && memcmp(a, b, n) == 0,
                 "normalizing is not idempotent");
    }

    free(a);
    free(b);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          t;
    const char  *in, *nl, *proof;
    size_t       htu_len, len;
    mt_err_t     rc, rc2;
    mt_dpop_t    d, d2;
    char         jkt[MT_DPOP_JKT_LEN + 1];

    in = (const char *) data;
    nl = memchr(in, '\n', size);

    htu_len = nl ? (size_t) (nl - in) : size;
    proof = nl ? nl + 1 : in + size;
    len = nl ? size - htu_len - 1 : 0;

    fx_htu(in, htu_len);

    for (t = 0; t < 2; t++) {
        rc = fx_verify(&d, in, htu_len, proof, len, NULL, t);

        FX_CHECK(rc == MT_OK || rc == MT_ERR_INVALID_DPOP_PROOF
                 || rc == MT_ERR_NOMEM
                 || (rc == MT_ERR_DPOP_REQUIRED && len == 0),
                 "unexpected result %s", mt_strerror(rc));

        rc2 = fx_verify(&d2, in, htu_len, proof, len, NULL, t);
        FX_CHECK(rc == rc2 || rc == MT_ERR_NOMEM || rc2 == MT_ERR_NOMEM,
                 "not deterministic");

        if (rc != MT_OK) {
            continue;
        }

        FX_CHECK(strlen(d.jkt) == MT_DPOP_JKT_LEN, "jkt of %zu characters",
                 strlen(d.jkt));

        memcpy(jkt, d.jkt, sizeof(jkt));
        rc = fx_verify(&d2, in, htu_len, proof, len, jkt, t);
        FX_CHECK(rc == MT_OK || rc == MT_ERR_NOMEM,
                 "refused with its own jkt: %s", mt_strerror(rc));

        jkt[0] = jkt[0] == 'A' ? 'B' : 'A';
        rc = fx_verify(&d2, in, htu_len, proof, len, jkt, t);
        FX_CHECK(rc != MT_OK, "verified with another jkt");
    }

    return 0;
}
