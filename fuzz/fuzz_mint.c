/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_mint: an arbitrary minting request (normally a JSON object) into
 * mt_mint_claims(), under two policies: the issuer's (default and
 * maximum ttl set) and the CLI's (max_ttl 0: no cap).
 *
 * When the request is accepted, the claims are checked (iat is now, exp
 * is in the future and within max_ttl, exactly one of allowed/scopes, a
 * jti, the credential is the request's "token"), then the harness
 * mints the token (mt_token_mint, HS256, the credential encrypted as a
 * JWE to an oct or X25519 key, or as magic-api-proxy's RSA-OAEP base64)
 * and the verifier must accept what the issuer made: mt_token_verify()
 * in both match modes, and mt_token_decrypt() gives the credential back.
 */

#include "common.h"


static mt_keyset_t  *ks;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;

    ks = fx_keyset();

    return 0;
}


static void
fx_check_minted(json_t *claims, const char *cred, size_t cred_len,
    const mt_mint_policy_t *policy, unsigned char sel)
{
    int              mode;
    char            *tok;
    size_t           tok_len;
    json_t          *v;
    int64_t          exp;
    mt_err_t         rc;
    mt_token_t       t;
    mt_mint_opts_t   opts;

    v = json_object_get(claims, "iat");
    FX_CHECK(json_is_integer(v) && json_integer_value(v) == FX_NOW, "iat");

    v = json_object_get(claims, "exp");
    FX_CHECK(json_is_integer(v), "exp not an integer");
    exp = (int64_t) json_integer_value(v);
    FX_CHECK(exp > FX_NOW, "minted exp %lld is not in the future",
             (long long) exp);
    FX_CHECK(policy->max_ttl <= 0 || exp - FX_NOW <= policy->max_ttl,
             "exp beyond max_ttl");

    FX_CHECK((json_object_get(claims, "allowed") != NULL)
             != (json_object_get(claims, "scopes") != NULL),
             "allowed xor scopes");
    FX_CHECK(json_is_string(json_object_get(claims, "jti")), "jti");
    FX_CHECK(json_object_get(claims, "token") == NULL,
             "the plaintext credential is in the claims");
    FX_CHECK(json_object_size(claims) <= MT_MAX_CLAIMS, "claim count");

    FX_CHECK(cred != NULL && cred_len > 0
             && cred_len <= MT_MAX_CREDENTIAL_LEN, "credential length");

    /* mint: HS256, credential to one of three encryption keys */
    memset(&opts, 0, sizeof(opts));
    opts.sign_key = mt_keyset_get(ks, FX_KEY_HMAC);
    opts.alg = MT_ALG_HS256;
    opts.kid = FX_HMAC_KID;

    switch (sel % 4) {
    case 0:
        if (cred_len <= 190) {
            /* RSA-OAEP-256 with a 2048-bit key: at most 190 bytes */
            opts.enc_key = mt_keyset_get(ks, FX_KEY_RSA);
            break;
        }
        /* fall through */
    case 1:
        opts.enc_key = mt_keyset_get(ks, FX_KEY_OCT32);
        opts.jwe_alg = "dir";
        opts.jwe_enc = "A256GCM";
        break;
    case 2:
        opts.enc_key = mt_keyset_get(ks, FX_KEY_X25519);
        opts.jwe_alg = "ECDH-ES+A128KW";
        opts.jwe_enc = "A128CBC-HS256";
        opts.enc_kid = "x25519";
        break;
    default:
        opts.enc_key = mt_keyset_get(ks, FX_KEY_OCT16);
        opts.jwe_alg = "A128KW";
        opts.jwe_enc = "A128GCM";
        break;
    }

    rc = mt_token_mint(&opts, claims, (const unsigned char *) cred, cred_len,
                       &tok, &tok_len);
    FX_CHECK(rc == MT_OK, "mt_token_mint: %s", mt_strerror(rc));
    FX_CHECK(strlen(tok) == tok_len, "token length");

    for (mode = 0; mode < 2; mode++) {
        rc = mt_token_verify(&t, ks, tok, tok_len, FX_NOW, 0,
                             (mt_match_mode_t) mode);
        FX_CHECK(rc == MT_OK, "the verifier refuses a minted token (mode "
                 "%d): %s; token %.200s...", mode, mt_strerror(rc), tok);

        if (mode == 1) {
            rc = mt_token_decrypt(&t, ks);
            FX_CHECK(rc == MT_OK, "minted credential does not decrypt: %s",
                     mt_strerror(rc));
            FX_CHECK(t.credential_len == cred_len
                     && memcmp(t.credential, cred, cred_len) == 0,
                     "credential changed in the round trip");
        }

        mt_token_clear(&t);
    }

    free(tok);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 p;
    char                err[512];
    size_t              cred_len, i;
    json_t             *req, *claims;
    mt_err_t            rc;
    const char         *cred;
    json_error_t        jerr;
    mt_mint_policy_t    policies[2];

    req = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES,
                     &jerr);
    if (req == NULL) {
        return 0;
    }

    memset(policies, 0, sizeof(policies));

    /* the issuer: default_ttl = max_ttl */
    policies[0].default_ttl = 3600;
    policies[0].max_ttl = 3600;
    policies[0].scope_known = fx_scope_known;

    /* the CLI: a default, no cap */
    policies[1].default_ttl = 86400;
    policies[1].max_ttl = 0;
    policies[1].scope_known = fx_scope_known;

    for (p = 0; p < 2; p++) {
        claims = NULL;
        cred = NULL;
        err[0] = '\0';

        rc = mt_mint_claims(req, &policies[p], FX_NOW, &claims, &cred,
                            &cred_len, err, sizeof(err));

        if (rc != MT_OK) {
            FX_CHECK(claims == NULL, "refused request left claims");
            FX_CHECK(err[0] != '\0' || rc == MT_ERR_NOMEM,
                     "refused (%s) without a message", mt_strerror(rc));
            continue;
        }

        for (i = 0; i < cred_len; i++) {
            FX_CHECK((unsigned char) cred[i] >= 0x20 && cred[i] != 0x7f,
                     "control character accepted in the credential");
        }

        fx_check_minted(claims, cred, cred_len, &policies[p],
                        size ? data[size - 1] : 0);

        json_decref(claims);
    }

    json_decref(req);

    return 0;
}
