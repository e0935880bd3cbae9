/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Shared helpers of the libFuzzer harnesses (fuzz/fuzz_*.c) and of the
 * seed generator (fuzz/gen_seeds.c): the fixture key set, JWS signing
 * and the list of (header, payload) pairs that "we" sign.
 *
 * A harness reports a broken property with FX_CHECK(), which prints the
 * reason and calls abort(): libFuzzer then saves the input as a crash.
 */

#ifndef MT_FUZZ_COMMON_H
#define MT_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "mt_core.h"
#include "fixtures.h"


/* a fixed "now", so that the seed tokens never expire */
#define FX_NOW  INT64_C(1700000000)


#define FX_CHECK(cond, ...)                                                   \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "\nFUZZ PROPERTY VIOLATED at %s:%d: %s\n  ",      \
                    __FILE__, __LINE__, #cond);                               \
            fprintf(stderr, __VA_ARGS__);                                     \
            fprintf(stderr, "\n");                                            \
            abort();                                                          \
        }                                                                     \
    } while (0)


static inline void
fx_die(const char *what, const char *err)
{
    fprintf(stderr, "fuzz fixture setup failed: %s: %s\n", what,
            err != NULL ? err : "");
    abort();
}


/*
 * Every fixture key: RSA, EC P-256, Ed25519 (PEM, no kid), the HMAC
 * secret (kid "hs"), X25519 (kid "x25519", use enc) and three oct keys
 * for encryption.  Indexes, in this order:
 */
enum {
    FX_KEY_RSA = 0,
    FX_KEY_EC,
    FX_KEY_ED,
    FX_KEY_HMAC,
    FX_KEY_X25519,
    FX_KEY_OCT16,
    FX_KEY_OCT32,
    FX_KEY_OCT64,
    FX_KEY_COUNT
};


static inline mt_keyset_t *
fx_keyset(void)
{
    char          err[512];
    mt_keyset_t  *ks;

    ks = mt_keyset_new();
    if (ks == NULL) {
        fx_die("mt_keyset_new", NULL);
    }

    err[0] = '\0';

    if (mt_keyset_add_pem(ks, fx_rsa_pem, sizeof(fx_rsa_pem) - 1, "rsa",
                          err, sizeof(err)) != MT_OK
        || mt_keyset_add_pem(ks, fx_ec_pem, sizeof(fx_ec_pem) - 1, "ec",
                             err, sizeof(err)) != MT_OK
        || mt_keyset_add_pem(ks, fx_ed_pem, sizeof(fx_ed_pem) - 1, "ed",
                             err, sizeof(err)) != MT_OK
        || mt_keyset_add_secret(ks, (const unsigned char *) FX_HMAC_SECRET,
                                sizeof(FX_HMAC_SECRET) - 1, FX_HMAC_KID,
                                sizeof(FX_HMAC_KID) - 1, err, sizeof(err))
           != MT_OK
        || mt_keyset_add_jwks(ks, fx_x25519_jwk, sizeof(fx_x25519_jwk) - 1,
                              "x25519", err, sizeof(err)) != MT_OK
        || mt_keyset_add_jwks(ks, fx_oct_jwks, sizeof(fx_oct_jwks) - 1,
                              "oct", err, sizeof(err)) != MT_OK)
    {
        fx_die("loading the fixture keys", err);
    }

    if (mt_keyset_count(ks) != FX_KEY_COUNT) {
        fx_die("fixture key count", NULL);
    }

    /*
     * Every fixture key may sign tokens that carry a credential (the
     * "credentials" mark), so that the harnesses reach the claims and
     * the decryption with HMAC-signed tokens too.  Who may sign them is
     * tested in t/unit/test_token.c and t/050-attacks.t.
     */
    mt_keyset_trust_credentials(ks, 0);

    return ks;
}


/* header "." payload "." signature, every part base64url; malloc()ed */
static inline char *
fx_sign(const mt_key_t *key, mt_alg_t alg, const char *header, size_t hlen,
    const unsigned char *payload, size_t plen, size_t *out_len)
{
    char           *tok, *w;
    size_t          sig_len;
    unsigned char   sig[1024];

    tok = malloc(mt_base64url_encoded_len(hlen)
                 + mt_base64url_encoded_len(plen)
                 + mt_base64url_encoded_len(sizeof(sig)) + 3);
    if (tok == NULL) {
        return NULL;
    }

    w = tok + mt_base64url_encode(tok, (const unsigned char *) header, hlen);
    *w++ = '.';
    w += mt_base64url_encode(w, payload, plen);

    if (mt_jws_sign(key, alg, (const unsigned char *) tok, (size_t) (w - tok),
                    sig, &sig_len) != MT_OK)
    {
        free(tok);
        return NULL;
    }

    *w++ = '.';
    w += mt_base64url_encode(w, sig, sig_len);
    *w = '\0';

    if (out_len != NULL) {
        *out_len = (size_t) (w - tok);
    }

    return tok;
}


/*
 * What we sign: the only signing inputs for which fuzz_jws accepts
 * MT_OK.  gen_seeds.c signs each with the key named, for the corpus.
 */
typedef struct {
    int          key;           /* FX_KEY_* */
    mt_alg_t     alg;
    const char  *header;
    const char  *payload;
} fx_signed_t;

#define FX_CLAIMS \
    "{\"iat\":1699999990,\"exp\":1700003600,\"sub\":\"fuzz\"," \
    "\"aud\":[\"api\",\"other\"],\"allowed\":[\"GET /v1/.*\"]," \
    "\"scopes\":[\"read\"]}"

static const fx_signed_t  fx_signed[] = {
    { FX_KEY_RSA, MT_ALG_RS256, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
      FX_CLAIMS },
    { FX_KEY_RSA, MT_ALG_RS384, "{\"alg\":\"RS384\"}", FX_CLAIMS },
    { FX_KEY_RSA, MT_ALG_RS512, "{\"alg\":\"RS512\"}", FX_CLAIMS },
    { FX_KEY_RSA, MT_ALG_PS256, "{\"alg\":\"PS256\",\"typ\":\"JWT\"}",
      FX_CLAIMS },
    { FX_KEY_RSA, MT_ALG_PS384, "{\"alg\":\"PS384\"}", FX_CLAIMS },
    { FX_KEY_RSA, MT_ALG_PS512, "{\"alg\":\"PS512\"}", FX_CLAIMS },
    { FX_KEY_EC, MT_ALG_ES256, "{\"alg\":\"ES256\",\"typ\":\"JWT\"}",
      FX_CLAIMS },
    { FX_KEY_ED, MT_ALG_EDDSA, "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}",
      FX_CLAIMS },
    { FX_KEY_HMAC, MT_ALG_HS256, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
      FX_CLAIMS },
    { FX_KEY_HMAC, MT_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"hs\"}",
      FX_CLAIMS },
    { FX_KEY_HMAC, MT_ALG_HS384, "{\"alg\":\"HS384\",\"kid\":\"hs\"}",
      FX_CLAIMS },
    { FX_KEY_HMAC, MT_ALG_HS512, "{\"alg\":\"HS512\"}", FX_CLAIMS },
    { FX_KEY_HMAC, MT_ALG_HS256, "{\"alg\":\"HS256\"}", "{\"exp\":1}" },
    { FX_KEY_RSA, MT_ALG_RS256, "{\"alg\":\"RS256\",\"kid\":\"nokey\"}",
      "{\"exp\":1700003600,\"token\":\"x\"}" },
};

#define FX_N_SIGNED  (sizeof(fx_signed) / sizeof(fx_signed[0]))


/* "{...}" to base64url(header) "." base64url(payload), malloc()ed */
static inline char *
fx_signing_input(const char *header, const char *payload, size_t *len)
{
    char    *s, *w;
    size_t   hlen, plen;

    hlen = strlen(header);
    plen = strlen(payload);

    s = malloc(mt_base64url_encoded_len(hlen)
               + mt_base64url_encoded_len(plen) + 2);
    if (s == NULL) {
        fx_die("malloc", NULL);
    }

    w = s + mt_base64url_encode(s, (const unsigned char *) header, hlen);
    *w++ = '.';
    w += mt_base64url_encode(w, (const unsigned char *) payload, plen);
    *w = '\0';
    *len = (size_t) (w - s);

    return s;
}


/* the requests that tokens are authorized against: FX_REQUESTS of them */
#define FX_REQUESTS  4

typedef struct {
    const char  *method;
    const char  *path;
} fx_request_t;

static inline const fx_request_t *
fx_request(size_t i)
{
    static const fx_request_t  requests[FX_REQUESTS] = {
        { "GET", "/v1/items" }, { "POST", "/v1/items" },
        { "DELETE", "/admin/" }, { "GET", "/V1/ITEMS" }
    };

    return &requests[i];
}


/* a scope_known() for minting: "read", "write" and "admin" exist */
static inline int
fx_scope_known(void *data, const char *name, size_t len)
{
    static const char  *known[] = { "read", "write", "admin" };
    size_t              i;

    (void) data;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strlen(known[i]) == len && memcmp(known[i], name, len) == 0) {
            return 1;
        }
    }

    return 0;
}

#endif /* MT_FUZZ_COMMON_H */
