/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Key loading.  Every key is bound to its family at load time: RSA keys
 * verify RS and PS algorithms only, an EC key verifies only the ES
 * algorithm of its curve, Ed25519 only EdDSA, and only raw secrets
 * (kty "oct") verify HS algorithms.  A JWK "alg" pins the key further.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "mt_core.h"


#define MT_MIN_RSA_BITS     2048
#define MT_MAX_KEY_FILE     (1024 * 1024)


struct mt_key_s {
    mt_kty_t        kty;
    EVP_PKEY       *pkey;
    unsigned char  *secret;
    size_t          secret_len;
    int             has_private;
    mt_alg_t        family_alg;     /* EC: ES alg of the curve */
    mt_alg_t        pinned_alg;     /* MT_ALG_NONE: any of the family */
    char           *kid;
    size_t          kid_len;
};


struct mt_keyset_s {
    mt_key_t       *keys[MT_MAX_KEYS];
    size_t          n;
};


static const struct {
    const char     *name;
    mt_alg_t        alg;
} mt_alg_names[] = {
    { "RS256", MT_ALG_RS256 }, { "RS384", MT_ALG_RS384 },
    { "RS512", MT_ALG_RS512 }, { "PS256", MT_ALG_PS256 },
    { "PS384", MT_ALG_PS384 }, { "PS512", MT_ALG_PS512 },
    { "ES256", MT_ALG_ES256 }, { "ES384", MT_ALG_ES384 },
    { "ES512", MT_ALG_ES512 }, { "EdDSA", MT_ALG_EDDSA },
    { "HS256", MT_ALG_HS256 }, { "HS384", MT_ALG_HS384 },
    { "HS512", MT_ALG_HS512 }
};


mt_alg_t
mt_alg_from_name(const char *name, size_t len)
{
    size_t  i;

    for (i = 0; i < sizeof(mt_alg_names) / sizeof(mt_alg_names[0]); i++) {
        if (strlen(mt_alg_names[i].name) == len
            && memcmp(mt_alg_names[i].name, name, len) == 0)
        {
            return mt_alg_names[i].alg;
        }
    }

    return MT_ALG_NONE;
}


const char *
mt_alg_name(mt_alg_t alg)
{
    size_t  i;

    for (i = 0; i < sizeof(mt_alg_names) / sizeof(mt_alg_names[0]); i++) {
        if (mt_alg_names[i].alg == alg) {
            return mt_alg_names[i].name;
        }
    }

    return "none";
}


static void
mt_key_free(mt_key_t *key)
{
    if (key == NULL) {
        return;
    }

    EVP_PKEY_free(key->pkey);
    OPENSSL_clear_free(key->secret, key->secret_len);
    free(key->kid);
    free(key);
}


mt_keyset_t *
mt_keyset_new(void)
{
    return calloc(1, sizeof(mt_keyset_t));
}


void
mt_keyset_free(mt_keyset_t *ks)
{
    size_t  i;

    if (ks == NULL) {
        return;
    }

    for (i = 0; i < ks->n; i++) {
        mt_key_free(ks->keys[i]);
    }

    free(ks);
}


size_t
mt_keyset_count(const mt_keyset_t *ks)
{
    return ks->n;
}


const mt_key_t *
mt_keyset_get(const mt_keyset_t *ks, size_t i)
{
    return i < ks->n ? ks->keys[i] : NULL;
}


int
mt_key_fits_alg(const mt_key_t *key, mt_alg_t alg)
{
    if (alg == MT_ALG_NONE) {
        return 0;
    }

    if (key->pinned_alg != MT_ALG_NONE && key->pinned_alg != alg) {
        return 0;
    }

    switch (key->kty) {

    case MT_KTY_RSA:
        return alg >= MT_ALG_RS256 && alg <= MT_ALG_PS512;

    case MT_KTY_EC:
    case MT_KTY_OKP:
        return key->family_alg != MT_ALG_NONE && alg == key->family_alg;

    case MT_KTY_OCT:
        return alg >= MT_ALG_HS256 && alg <= MT_ALG_HS512;
    }

    return 0;
}


int
mt_key_has_private(const mt_key_t *key)
{
    return key->has_private;
}


mt_kty_t
mt_key_type(const mt_key_t *key)
{
    return key->kty;
}


EVP_PKEY *
mt_key_pkey(const mt_key_t *key)
{
    return key->pkey;
}


int
mt_key_has_kid(const mt_key_t *key)
{
    return key->kid != NULL;
}


int
mt_key_kid_is(const mt_key_t *key, const char *kid, size_t len)
{
    if (kid == NULL) {
        return 1;
    }

    return key->kid != NULL && key->kid_len == len
           && memcmp(key->kid, kid, len) == 0;
}


static void
mt_set_error(char *errbuf, size_t errlen, const char *source,
    const char *reason)
{
    unsigned long  e;
    char           ossl[160];

    if (errbuf == NULL || errlen == 0) {
        ERR_clear_error();
        return;
    }

    e = ERR_peek_last_error();

    if (e != 0) {
        ERR_error_string_n(e, ossl, sizeof(ossl));
        snprintf(errbuf, errlen, "\"%s\": %s (%s)", source, reason, ossl);

    } else {
        snprintf(errbuf, errlen, "\"%s\": %s", source, reason);
    }

    ERR_clear_error();
}


static mt_err_t
mt_keyset_push(mt_keyset_t *ks, mt_key_t *key, const char *source,
    char *errbuf, size_t errlen)
{
    if (ks->n >= MT_MAX_KEYS) {
        mt_set_error(errbuf, errlen, source, "too many keys");
        mt_key_free(key);
        return MT_ERR_TOO_LARGE;
    }

    ks->keys[ks->n++] = key;

    return MT_OK;
}


/* classify an EVP_PKEY and check it is strong enough to be used */
static mt_err_t
mt_key_from_pkey(mt_key_t **out, EVP_PKEY *pkey, int has_private,
    const char *source, char *errbuf, size_t errlen)
{
    char       group[64];
    size_t     glen;
    mt_key_t  *key;

    *out = NULL;

    key = calloc(1, sizeof(mt_key_t));
    if (key == NULL) {
        EVP_PKEY_free(pkey);
        return MT_ERR_NOMEM;
    }

    key->pkey = pkey;
    key->has_private = has_private;

    switch (EVP_PKEY_get_base_id(pkey)) {

    case EVP_PKEY_RSA:
        key->kty = MT_KTY_RSA;

        if (EVP_PKEY_get_bits(pkey) < MT_MIN_RSA_BITS) {
            mt_set_error(errbuf, errlen, source,
                         "RSA key shorter than 2048 bits");
            mt_key_free(key);
            return MT_ERR_BAD_KEY;
        }

        break;

    case EVP_PKEY_EC:
        key->kty = MT_KTY_EC;

        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                           group, sizeof(group), &glen)
            != 1)
        {
            mt_set_error(errbuf, errlen, source, "EC key without a curve");
            mt_key_free(key);
            return MT_ERR_BAD_KEY;
        }

        if (strcmp(group, "prime256v1") == 0) {
            key->family_alg = MT_ALG_ES256;

        } else if (strcmp(group, "secp384r1") == 0) {
            key->family_alg = MT_ALG_ES384;

        } else if (strcmp(group, "secp521r1") == 0) {
            key->family_alg = MT_ALG_ES512;

        } else {
            mt_set_error(errbuf, errlen, source,
                         "EC curve is not P-256, P-384 or P-521");
            mt_key_free(key);
            return MT_ERR_BAD_KEY;
        }

        break;

    case EVP_PKEY_ED25519:
        key->kty = MT_KTY_OKP;
        key->family_alg = MT_ALG_EDDSA;
        break;

    case EVP_PKEY_X25519:
        /* key agreement only: never verifies a signature */
        key->kty = MT_KTY_OKP;
        key->family_alg = MT_ALG_NONE;
        break;

    default:
        mt_set_error(errbuf, errlen, source, "unsupported key type");
        mt_key_free(key);
        return MT_ERR_BAD_KEY;
    }

    *out = key;

    return MT_OK;
}


mt_err_t
mt_keyset_add_pem(mt_keyset_t *ks, const char *pem, size_t len,
    const char *source, char *errbuf, size_t errlen)
{
    int                   has_private, found;
    BIO                  *bio;
    X509                 *x509;
    long                  dlen;
    char                 *name, *header;
    mt_err_t              rc;
    EVP_PKEY             *pkey;
    mt_key_t             *key;
    unsigned char        *data;
    const unsigned char  *p;

    if (len > MT_MAX_KEY_FILE || len > INT32_MAX) {
        mt_set_error(errbuf, errlen, source, "key file too large");
        return MT_ERR_TOO_LARGE;
    }

    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL) {
        return MT_ERR_NOMEM;
    }

    found = 0;
    rc = MT_OK;

    for ( ;; ) {
        name = NULL;
        header = NULL;
        data = NULL;

        if (PEM_read_bio(bio, &name, &header, &data, &dlen) != 1) {
            ERR_clear_error();
            break;
        }

        p = data;
        pkey = NULL;
        has_private = 0;

        if (header != NULL && header[0] != '\0') {
            /* "Proc-Type: 4,ENCRYPTED" and the like */
            mt_set_error(errbuf, errlen, source,
                         "encrypted PEM keys are not supported");
            rc = MT_ERR_BAD_KEY;

        } else if (strcmp(name, "PRIVATE KEY") == 0) {
            pkey = d2i_AutoPrivateKey(NULL, &p, dlen);
            has_private = 1;

        } else if (strcmp(name, "RSA PRIVATE KEY") == 0) {
            pkey = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, dlen);
            has_private = 1;

        } else if (strcmp(name, "EC PRIVATE KEY") == 0) {
            pkey = d2i_PrivateKey(EVP_PKEY_EC, NULL, &p, dlen);
            has_private = 1;

        } else if (strcmp(name, "PUBLIC KEY") == 0) {
            pkey = d2i_PUBKEY(NULL, &p, dlen);

        } else if (strcmp(name, "RSA PUBLIC KEY") == 0) {
            pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, dlen);

        } else if (strcmp(name, "CERTIFICATE") == 0) {
            x509 = d2i_X509(NULL, &p, dlen);
            if (x509 != NULL) {
                pkey = X509_get_pubkey(x509);
                X509_free(x509);
            }

        } else if (strcmp(name, "EC PARAMETERS") == 0) {
            /* emitted by "openssl ecparam -genkey"; carries no key */
            OPENSSL_free(name);
            OPENSSL_free(header);
            OPENSSL_free(data);
            continue;

        } else if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0) {
            mt_set_error(errbuf, errlen, source,
                         "encrypted PEM keys are not supported");
            rc = MT_ERR_BAD_KEY;

        } else {
            mt_set_error(errbuf, errlen, source, "unexpected PEM block");
            rc = MT_ERR_BAD_KEY;
        }

        if (rc == MT_OK && (pkey == NULL || p != data + dlen)) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
            mt_set_error(errbuf, errlen, source, "invalid key in PEM block");
            rc = MT_ERR_BAD_KEY;
        }

        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_clear_free(data, dlen);

        if (rc != MT_OK) {
            break;
        }

        rc = mt_key_from_pkey(&key, pkey, has_private, source, errbuf,
                              errlen);
        if (rc != MT_OK) {
            break;
        }

        rc = mt_keyset_push(ks, key, source, errbuf, errlen);
        if (rc != MT_OK) {
            break;
        }

        found++;
    }

    BIO_free(bio);

    if (rc == MT_OK && found == 0) {
        mt_set_error(errbuf, errlen, source, "no PEM key found");
        rc = MT_ERR_BAD_KEY;
    }

    return rc;
}


static mt_err_t
mt_read_file(const char *path, char **out, size_t *out_len, char *errbuf,
    size_t errlen)
{
    FILE    *f;
    char    *buf;
    size_t   n;

    f = fopen(path, "rb");
    if (f == NULL) {
        if (errbuf != NULL) {
            snprintf(errbuf, errlen, "\"%s\": cannot open file", path);
        }

        return MT_ERR_BAD_KEY;
    }

    buf = malloc(MT_MAX_KEY_FILE + 1);
    if (buf == NULL) {
        fclose(f);
        return MT_ERR_NOMEM;
    }

    n = fread(buf, 1, MT_MAX_KEY_FILE + 1, f);

    if (ferror(f) || n > MT_MAX_KEY_FILE) {
        if (errbuf != NULL) {
            snprintf(errbuf, errlen, "\"%s\": %s", path,
                     ferror(f) ? "read error" : "file too large");
        }

        fclose(f);
        OPENSSL_clear_free(buf, MT_MAX_KEY_FILE + 1);
        return MT_ERR_BAD_KEY;
    }

    fclose(f);

    *out = buf;
    *out_len = n;

    return MT_OK;
}


mt_err_t
mt_keyset_add_file(mt_keyset_t *ks, const char *path, char *errbuf,
    size_t errlen)
{
    char      *buf;
    size_t     len, i;
    mt_err_t   rc;

    rc = mt_read_file(path, &buf, &len, errbuf, errlen);
    if (rc != MT_OK) {
        return rc;
    }

    for (i = 0; i < len && (buf[i] == ' ' || buf[i] == '\t'
                            || buf[i] == '\r' || buf[i] == '\n'); i++)
    {
        /* skip leading white space */
    }

    if (i < len && (buf[i] == '{')) {
        rc = mt_keyset_add_jwks(ks, buf, len, path, errbuf, errlen);

    } else {
        rc = mt_keyset_add_pem(ks, buf, len, path, errbuf, errlen);
    }

    OPENSSL_clear_free(buf, MT_MAX_KEY_FILE + 1);

    return rc;
}


mt_err_t
mt_keyset_add_jwks(mt_keyset_t *ks, const char *json, size_t len,
    const char *source, char *errbuf, size_t errlen)
{
    (void) ks;
    (void) json;
    (void) len;

    mt_set_error(errbuf, errlen, source, "JWK files are not supported yet");

    return MT_ERR_BAD_KEY;
}


mt_err_t
mt_keyset_add_secret(mt_keyset_t *ks, const unsigned char *secret,
    size_t len, const char *kid, size_t kid_len, char *errbuf, size_t errlen)
{
    mt_key_t  *key;

    if (len == 0 || len > MT_MAX_KEY_FILE || kid_len > MT_MAX_KID_LEN) {
        mt_set_error(errbuf, errlen, "secret", "bad secret or kid length");
        return MT_ERR_BAD_KEY;
    }

    key = calloc(1, sizeof(mt_key_t));
    if (key == NULL) {
        return MT_ERR_NOMEM;
    }

    key->kty = MT_KTY_OCT;
    key->has_private = 1;
    key->secret = OPENSSL_malloc(len);

    if (key->secret == NULL) {
        mt_key_free(key);
        return MT_ERR_NOMEM;
    }

    memcpy(key->secret, secret, len);
    key->secret_len = len;

    if (kid != NULL) {
        key->kid = malloc(kid_len + 1);
        if (key->kid == NULL) {
            mt_key_free(key);
            return MT_ERR_NOMEM;
        }

        memcpy(key->kid, kid, kid_len);
        key->kid[kid_len] = '\0';
        key->kid_len = kid_len;
    }

    return mt_keyset_push(ks, key, "secret", errbuf, errlen);
}


const unsigned char *
mt_key_secret(const mt_key_t *key, size_t *len)
{
    *len = key->secret_len;
    return key->secret;
}
