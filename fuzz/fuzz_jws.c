/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_jws: mt_jws_verify() over arbitrary bytes against the fixture
 * key set (RSA, EC P-256, Ed25519, an HMAC secret with kid "hs", and
 * X25519 and oct keys marked for encryption, which must never verify).
 *
 * Property: a fuzzer cannot forge a signature, so MT_OK is only right
 * for a signing input that we signed (fx_signed[] in common.h; the seed
 * corpus holds those tokens).  For the deterministic algorithms (RS*,
 * HS*, EdDSA) the signature must also be the very bytes we produce.
 * Anything else that verifies is a bug: abort().
 *
 * On success, the claims and header must be JSON objects, the key must
 * fit the alg, and mt_jws_verify_signature() must agree.
 *
 * An input starting with "{" is "header\npayload\nsignature" in raw
 * bytes; the harness base64url-encodes the three parts, so that the
 * fuzzer works on the JSON of the header (alg, kid, crit, ...) directly.
 * Any other input is the compact token itself.
 */

#include "common.h"


static mt_keyset_t  *ks;
static char         *inputs[FX_N_SIGNED];
static size_t        input_lens[FX_N_SIGNED];
static char         *canonical[FX_N_SIGNED];    /* whole token, or NULL */


static int
fx_deterministic(mt_alg_t alg)
{
    return (alg >= MT_ALG_RS256 && alg <= MT_ALG_RS512)
           || alg == MT_ALG_EDDSA
           || (alg >= MT_ALG_HS256 && alg <= MT_ALG_HS512);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    size_t  i;

    (void) argc;
    (void) argv;

    ks = fx_keyset();

    for (i = 0; i < FX_N_SIGNED; i++) {
        inputs[i] = fx_signing_input(fx_signed[i].header, fx_signed[i].payload,
                                     &input_lens[i]);

        if (fx_deterministic(fx_signed[i].alg)) {
            canonical[i] = fx_sign(mt_keyset_get(ks, fx_signed[i].key),
                                   fx_signed[i].alg, fx_signed[i].header,
                                   strlen(fx_signed[i].header),
                                   (const unsigned char *)
                                   fx_signed[i].payload,
                                   strlen(fx_signed[i].payload), NULL);
            if (canonical[i] == NULL) {
                fx_die("signing a fixture token", fx_signed[i].header);
            }
        }
    }

    return 0;
}


static int fx_verify(const char *tok, size_t size);


/* "header\npayload\nsig" to compact form */
static char *
fx_compact(const uint8_t *data, size_t size, size_t *len)
{
    char           *tok, *w;
    size_t          i, start, part;
    const uint8_t  *nl;

    tok = malloc(mt_base64url_encoded_len(size) + 8);
    if (tok == NULL) {
        return NULL;
    }

    w = tok;
    start = 0;

    for (part = 0; part < 3; part++) {
        nl = part < 2 ? memchr(data + start, '\n', size - start) : NULL;
        i = nl != NULL ? (size_t) (nl - data) : size;

        w += mt_base64url_encode(w, data + start, i - start);

        if (part < 2) {
            *w++ = '.';
        }

        start = nl != NULL ? i + 1 : size;
    }

    *len = (size_t) (w - tok);

    return tok;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char    *tok;
    size_t   len;

    if (size > 0 && data[0] == '{') {
        tok = fx_compact(data, size, &len);
        if (tok != NULL) {
            fx_verify(tok, len);
            free(tok);
        }

        return 0;
    }

    return fx_verify((const char *) data, size);
}


static int
fx_verify(const char *tok, size_t size)
{
    int                   known;
    size_t                i, in_len, sig_len;
    mt_err_t              rc, rc2;
    mt_jws_t              jws;
    const char           *dot2;
    unsigned char        *sig;

    rc = mt_jws_verify(&jws, ks, tok, size);

    if (rc != MT_OK) {
        FX_CHECK(jws.header == NULL && jws.claims == NULL && jws.key == NULL,
                 "a failed verification (%s) left state behind",
                 mt_strerror(rc));
        FX_CHECK(rc == MT_ERR_MISSING || rc == MT_ERR_MALFORMED
                 || rc == MT_ERR_TOO_LARGE || rc == MT_ERR_UNSUPPORTED_ALG
                 || rc == MT_ERR_UNKNOWN_KEY || rc == MT_ERR_BAD_SIGNATURE
                 || rc == MT_ERR_NOMEM,
                 "unexpected error %d (%s)", (int) rc, mt_strerror(rc));
        return 0;
    }

    /* MT_OK: it must be one of ours */

    dot2 = NULL;

    for (i = size; i > 0; i--) {
        if (tok[i - 1] == '.') {
            dot2 = tok + i - 1;
            break;
        }
    }

    FX_CHECK(dot2 != NULL, "MT_OK for a token without a dot");
    in_len = (size_t) (dot2 - tok);

    known = -1;

    for (i = 0; i < FX_N_SIGNED; i++) {
        if (input_lens[i] == in_len && memcmp(inputs[i], tok, in_len) == 0
            && jws.key == mt_keyset_get(ks, fx_signed[i].key)
            && jws.alg == fx_signed[i].alg)
        {
            known = (int) i;
            break;
        }
    }

    FX_CHECK(known >= 0, "FORGERY: MT_OK (alg %s) for a signing input we "
             "never signed: %.*s", mt_alg_name(jws.alg), (int) size, tok);

    if (canonical[known] != NULL) {
        FX_CHECK(strlen(canonical[known]) == size
                 && memcmp(canonical[known], tok, size) == 0,
                 "MT_OK for a %s signature that differs from ours: %.*s",
                 mt_alg_name(jws.alg), (int) size, tok);
    }

    FX_CHECK(json_is_object(jws.header) && json_is_object(jws.claims),
             "header or claims not an object");
    FX_CHECK(jws.key != NULL && mt_key_fits_alg(jws.key, jws.alg),
             "verified with a key that does not fit %s",
             mt_alg_name(jws.alg));
    FX_CHECK(json_object_get(jws.header, "crit") == NULL
             && json_object_get(jws.header, "jwk") == NULL
             && json_object_get(jws.header, "jku") == NULL
             && json_object_get(jws.header, "x5u") == NULL
             && json_object_get(jws.header, "x5c") == NULL,
             "forbidden header member accepted");

    /* the low-level check agrees */
    sig = malloc(mt_base64_decoded_max(size - in_len - 1) + 1);
    FX_CHECK(sig != NULL, "malloc");
    FX_CHECK(mt_base64url_decode(sig, &sig_len, dot2 + 1, size - in_len - 1)
             == MT_OK, "signature part does not decode");

    rc2 = mt_jws_verify_signature(jws.key, jws.alg,
                                  (const unsigned char *) tok, in_len, sig,
                                  sig_len);
    FX_CHECK(rc2 == MT_OK, "mt_jws_verify_signature disagrees: %s",
             mt_strerror(rc2));

    free(sig);
    mt_jws_clear(&jws);

    return 0;
}
