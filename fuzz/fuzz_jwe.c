/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_jwe: mt_jwe_decrypt() and mt_credential_decrypt() against the
 * fixture key set: RSA and EC P-256 (PEM), X25519 (JWK, use enc), oct
 * keys of 16, 32 and 64 bytes (JWK, use enc), plus an Ed25519 key and
 * a raw HMAC secret that must never decrypt anything.
 *
 * Input forms:
 *
 *   "!" C plaintext    round trip: mt_jwe_encrypt() with the alg/enc/key
 *                      combination chosen by the byte C, then
 *                      mt_jwe_decrypt() must give the plaintext back;
 *   anything with "."  a compact JWE: mt_jwe_decrypt(), and on success
 *                      mt_credential_decrypt() must agree with it;
 *   anything else      magic-api-proxy's base64 RSA-OAEP credential:
 *                      mt_credential_decrypt().
 *
 * Properties: failures leave *out NULL and use the documented codes;
 * the plaintext is no longer than the ciphertext; the seed JWE that is
 * "encrypted" with the HMAC secret (plaintext starting "FORBIDDEN")
 * never decrypts; a decrypted credential has no control characters.
 */

#include "common.h"


static mt_keyset_t  *ks;

static const char  *fx_algs[] = {
    "RSA-OAEP", "RSA-OAEP-256", "ECDH-ES", "ECDH-ES+A128KW",
    "ECDH-ES+A256KW", "A128KW", "A256KW", "dir"
};

static const char  *fx_encs[] = {
    "A128GCM", "A256GCM", "A128CBC-HS256", "A256CBC-HS512"
};


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;

    ks = fx_keyset();

    return 0;
}


static void
fx_roundtrip(unsigned char c, const uint8_t *plain, size_t len)
{
    int             key_i;
    char           *jwe;
    size_t          jwe_len, out_len;
    mt_err_t        rc;
    const char     *alg, *enc, *kid;
    unsigned char  *out;

    alg = fx_algs[c % 8];
    enc = fx_encs[(c / 8) % 4];
    kid = NULL;

    switch (c % 8) {
    case 0: case 1:
        key_i = FX_KEY_RSA;
        break;
    case 2: case 3: case 4:
        key_i = (c & 0x20) ? FX_KEY_X25519 : FX_KEY_EC;
        kid = (key_i == FX_KEY_X25519 && (c & 0x40)) ? "x25519" : NULL;
        break;
    case 5:
        key_i = FX_KEY_OCT16;
        break;
    case 6:
        key_i = FX_KEY_OCT32;
        break;
    default:
        key_i = (c / 8) % 4 == 0 ? FX_KEY_OCT16
                : (c / 8) % 4 == 3 ? FX_KEY_OCT64 : FX_KEY_OCT32;
        break;
    }

    rc = mt_jwe_encrypt(mt_keyset_get(ks, key_i), alg, enc, kid, plain, len,
                        &jwe, &jwe_len);

    if (len == 0 && rc != MT_OK) {
        return;
    }

    FX_CHECK(rc == MT_OK, "mt_jwe_encrypt %s/%s of %zu bytes: %s", alg, enc,
             len, mt_strerror(rc));
    FX_CHECK(strlen(jwe) == jwe_len, "encrypt: length");

    rc = mt_jwe_decrypt(ks, jwe, jwe_len, &out, &out_len);

    if (len == 0) {
        /* an empty ciphertext part is refused as malformed */
        FX_CHECK(rc != MT_OK || out_len == 0, "empty plaintext");
    } else {
        FX_CHECK(rc == MT_OK, "round trip %s/%s of %zu bytes: decrypt %s: "
                 "%s", alg, enc, len, mt_strerror(rc), jwe);
        FX_CHECK(out_len == len && memcmp(out, plain, len) == 0,
                 "round trip %s/%s: plaintext differs", alg, enc);
    }

    if (out != NULL) {
        OPENSSL_clear_free(out, out_len);
    }

    free(jwe);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t          i, out_len, cred_len;
    mt_err_t        rc, crc;
    unsigned char  *out, *cred;

    if (size >= 2 && data[0] == '!') {
        fx_roundtrip(data[1], data + 2, size - 2);
        return 0;
    }

    if (size == 0 || memchr(data, '.', size) == NULL) {
        crc = mt_credential_decrypt(ks, (const char *) data, size, &cred,
                                    &cred_len);
        if (crc != MT_OK) {
            FX_CHECK(cred == NULL, "failed credential decrypt left data");
            FX_CHECK(crc == MT_ERR_DECRYPT || crc == MT_ERR_INVALID_CREDENTIAL
                     || crc == MT_ERR_NOMEM, "credential: %s",
                     mt_strerror(crc));
            return 0;
        }

        for (i = 0; i < cred_len; i++) {
            FX_CHECK(cred[i] >= 0x20 && cred[i] != 0x7f, "control char");
        }

        OPENSSL_clear_free(cred, cred_len);
        return 0;
    }

    rc = mt_jwe_decrypt(ks, (const char *) data, size, &out, &out_len);

    if (rc != MT_OK) {
        FX_CHECK(out == NULL && out_len == 0, "failed decrypt left data");
        FX_CHECK(rc == MT_ERR_MALFORMED || rc == MT_ERR_UNSUPPORTED_ALG
                 || rc == MT_ERR_DECRYPT || rc == MT_ERR_NOMEM,
                 "mt_jwe_decrypt: %d (%s)", (int) rc, mt_strerror(rc));
        return 0;
    }

    FX_CHECK(out != NULL, "MT_OK without output");
    FX_CHECK(out_len <= size, "plaintext %zu > input %zu", out_len, size);
    FX_CHECK(out_len < 9 || memcmp(out, "FORBIDDEN", 9) != 0,
             "decrypted a JWE whose key is the HMAC secret");

    /* the credential path agrees */
    crc = mt_credential_decrypt(ks, (const char *) data, size, &cred,
                                &cred_len);

    if (crc == MT_OK) {
        FX_CHECK(cred_len == out_len && memcmp(cred, out, out_len) == 0,
                 "credential and JWE plaintexts differ");
        OPENSSL_clear_free(cred, cred_len);

    } else {
        FX_CHECK(crc == MT_ERR_INVALID_CREDENTIAL, "JWE decrypts but the "
                 "credential path says %s", mt_strerror(crc));

        for (i = 0; i < out_len; i++) {
            if (out[i] < 0x20 || out[i] == 0x7f) {
                break;
            }
        }

        FX_CHECK(out_len == 0 || out_len > MT_MAX_CREDENTIAL_LEN
                 || i < out_len, "valid plaintext refused as a credential");
    }

    OPENSSL_clear_free(out, out_len);

    return 0;
}
