/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The credential carried in the "token" claim, in magic-api-proxy's
 * format: standard base64 of RSA-OAEP with SHA-256 and MGF1-SHA-256 and
 * no label, encrypted to the proxy's public key.
 *
 * Every failure returns the same MT_ERR_DECRYPT, whichever key or step
 * failed, so that the answer tells an attacker nothing about padding.
 */

#include <string.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "mt_core.h"


#define MT_MAX_CIPHERTEXT_B64  4096


static mt_err_t
mt_oaep_ctx(EVP_PKEY_CTX *ctx)
{
    if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1
        || EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) != 1
        || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) != 1)
    {
        return MT_ERR_INTERNAL;
    }

    return MT_OK;
}


static mt_err_t
mt_oaep_decrypt(const mt_key_t *key, const unsigned char *ct, size_t ct_len,
    unsigned char *out, size_t *out_len)
{
    int            ok;
    EVP_PKEY_CTX  *ctx;

    ctx = EVP_PKEY_CTX_new(mt_key_pkey(key), NULL);
    if (ctx == NULL) {
        return MT_ERR_NOMEM;
    }

    ok = EVP_PKEY_decrypt_init(ctx) == 1
         && mt_oaep_ctx(ctx) == MT_OK
         && EVP_PKEY_decrypt(ctx, out, out_len, ct, ct_len) == 1;

    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();

    return ok ? MT_OK : MT_ERR_DECRYPT;
}


mt_err_t
mt_credential_decrypt(const mt_keyset_t *ks, const char *b64, size_t len,
    unsigned char **out, size_t *out_len)
{
    size_t           i, ct_len, n, cap;
    mt_err_t         rc;
    const mt_key_t  *key;
    unsigned char   *plain;
    unsigned char    ct[mt_base64_decoded_max(MT_MAX_CIPHERTEXT_B64)];

    *out = NULL;
    *out_len = 0;

    if (memchr(b64, '.', len) != NULL) {
        /* a compact JWE */
        rc = mt_jwe_decrypt(ks, b64, len, &plain, &n);
        if (rc != MT_OK) {
            return rc == MT_ERR_NOMEM ? rc : MT_ERR_DECRYPT;
        }

        cap = n;
        goto check;
    }

    if (len == 0 || len > MT_MAX_CIPHERTEXT_B64) {
        return MT_ERR_DECRYPT;
    }

    if (mt_base64_decode(ct, &ct_len, b64, len) != MT_OK) {
        return MT_ERR_DECRYPT;
    }

    cap = ct_len;

    plain = OPENSSL_malloc(cap);
    if (plain == NULL) {
        return MT_ERR_NOMEM;
    }

    rc = MT_ERR_DECRYPT;

    for (i = 0; i < mt_keyset_count(ks); i++) {
        key = mt_keyset_get(ks, i);

        /* magic-api-proxy's form is RSA-OAEP-256, in all but name */
        if (mt_key_type(key) != MT_KTY_RSA || !mt_key_has_private(key)
            || !mt_key_for_jwe_alg(key, "RSA-OAEP-256", NULL)
            || (size_t) EVP_PKEY_get_size(mt_key_pkey(key)) != ct_len)
        {
            continue;
        }

        n = cap;

        if (mt_oaep_decrypt(key, ct, ct_len, plain, &n) == MT_OK) {
            rc = MT_OK;
            break;
        }
    }

    if (rc != MT_OK) {
        OPENSSL_clear_free(plain, cap);
        return rc;
    }

check:

    if (n == 0 || n > MT_MAX_CREDENTIAL_LEN) {
        OPENSSL_clear_free(plain, cap);
        return MT_ERR_INVALID_CREDENTIAL;
    }

    /* it goes into a request header: no CR, LF, NUL or other controls */
    for (i = 0; i < n; i++) {
        if (plain[i] < 0x20 || plain[i] == 0x7f) {
            OPENSSL_clear_free(plain, cap);
            return MT_ERR_INVALID_CREDENTIAL;
        }
    }

    if (n < cap) {
        /* kept as long as the token is cached: no more than it needs */
        *out = OPENSSL_malloc(n);
        if (*out == NULL) {
            OPENSSL_clear_free(plain, cap);
            return MT_ERR_NOMEM;
        }

        memcpy(*out, plain, n);
        OPENSSL_clear_free(plain, cap);

    } else {
        *out = plain;
    }

    *out_len = n;

    return MT_OK;
}


mt_err_t
mt_credential_encrypt(const mt_key_t *key, const unsigned char *plain,
    size_t len, char **out_b64, size_t *out_len)
{
    int             ok;
    char           *b64;
    size_t          ct_len;
    EVP_PKEY_CTX   *ctx;
    unsigned char   ct[1024];

    *out_b64 = NULL;

    if (mt_key_type(key) != MT_KTY_RSA) {
        return MT_ERR_UNKNOWN_KEY;
    }

    /* OAEP with SHA-256 carries at most the key size - 2 * 32 - 2 bytes */
    if (len == 0 || len + 66 > (size_t) EVP_PKEY_get_size(mt_key_pkey(key))) {
        return MT_ERR_TOO_LARGE;
    }

    ctx = EVP_PKEY_CTX_new(mt_key_pkey(key), NULL);
    if (ctx == NULL) {
        return MT_ERR_NOMEM;
    }

    ct_len = sizeof(ct);

    ok = EVP_PKEY_encrypt_init(ctx) == 1
         && mt_oaep_ctx(ctx) == MT_OK
         && EVP_PKEY_encrypt(ctx, ct, &ct_len, plain, len) == 1;

    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();

    if (!ok) {
        return MT_ERR_INTERNAL;
    }

    b64 = malloc(mt_base64_encoded_len(ct_len) + 1);
    if (b64 == NULL) {
        return MT_ERR_NOMEM;
    }

    *out_len = mt_base64_encode(b64, ct, ct_len);
    b64[*out_len] = '\0';
    *out_b64 = b64;

    return MT_OK;
}
