/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Key loading.  Every key is bound to its family at load time: RSA keys
 * verify RS and PS algorithms only, an EC key verifies only the ES
 * algorithm of its curve, Ed25519 only EdDSA, and only raw secrets
 * (kty "oct") verify HS algorithms.  A JWK "alg" pins the key further.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
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
    int             use_enc;        /* JWK "use":"enc": never verifies */
    int             use_sig;        /* JWK "use":"sig": never decrypts */
    const char     *enc_alg;        /* JWK encryption "alg" pin, or NULL */
    int             credentials;    /* marked: signs credential tokens */
    int             paired;         /* public half of a private key here */
    unsigned        key_ops;        /* JWK "key_ops", MT_KEY_OP_*; 0: any */
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


/* the same key material: EVP_PKEY_eq compares public parts */
int
mt_keyset_shares_key(const mt_keyset_t *a, const mt_keyset_t *b)
{
    size_t           i, j;
    const mt_key_t  *x, *y;

    for (i = 0; i < a->n; i++) {
        for (j = 0; j < b->n; j++) {
            x = a->keys[i];
            y = b->keys[j];

            if (x->pkey != NULL && y->pkey != NULL
                && EVP_PKEY_eq(x->pkey, y->pkey) == 1)
            {
                return 1;
            }

            if (x->secret != NULL && y->secret != NULL
                && x->secret_len == y->secret_len
                && CRYPTO_memcmp(x->secret, y->secret, x->secret_len) == 0)
            {
                return 1;
            }
        }
    }

    return 0;
}


const mt_key_t *
mt_keyset_get(const mt_keyset_t *ks, size_t i)
{
    return i < ks->n ? ks->keys[i] : NULL;
}


int
mt_key_allows_op(const mt_key_t *key, unsigned ops)
{
    return key->key_ops == 0 || (key->key_ops & ops) != 0;
}


/* a signature key of the alg's family, pins respected; key_ops aside */
static int
mt_key_fits_family(const mt_key_t *key, mt_alg_t alg)
{
    if (alg == MT_ALG_NONE || key->use_enc) {
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
        /* key lengths are checked where keys are loaded */
        return alg >= MT_ALG_HS256 && alg <= MT_ALG_HS512;
    }

    return 0;
}


int
mt_key_fits_alg(const mt_key_t *key, mt_alg_t alg)
{
    return mt_key_fits_family(key, alg)
           && mt_key_allows_op(key, MT_KEY_OP_SIGN | MT_KEY_OP_VERIFY);
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


/*
 * A public key whose private half is in the same set is the proxy's
 * own, like the private key: it may verify tokens that carry a
 * credential (mt_key_signs_credentials).
 */
static void
mt_keyset_pair(mt_keyset_t *ks, mt_key_t *key)
{
    size_t     i;
    mt_key_t  *k;

    if (key->pkey == NULL) {
        return;
    }

    for (i = 0; i < ks->n; i++) {
        k = ks->keys[i];

        if (k == key || k->pkey == NULL || k->has_private == key->has_private
            || EVP_PKEY_eq(k->pkey, key->pkey) != 1)
        {
            continue;
        }

        if (k->has_private) {
            key->paired = 1;

        } else {
            k->paired = 1;
        }
    }
}


static const char *
mt_kty_name(mt_kty_t kty)
{
    switch (kty) {
    case MT_KTY_RSA:
        return "RSA";
    case MT_KTY_EC:
        return "EC";
    case MT_KTY_OKP:
        return "OKP";
    default:
        return "oct";
    }
}


int
mt_key_signs_credentials(const mt_key_t *key)
{
    return key->credentials || key->paired
           || (key->has_private && key->kty != MT_KTY_OCT);
}


void
mt_keyset_trust_credentials(mt_keyset_t *ks, size_t from)
{
    size_t  i;

    for (i = from; i < ks->n; i++) {
        ks->keys[i]->credentials = 1;
    }
}


/* a key of keys[0..n) with the kid and the key type of key, or NULL */
static const mt_key_t *
mt_key_same_kid(mt_key_t *const *keys, size_t n, const mt_key_t *key)
{
    size_t  i;

    if (key->kid == NULL) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        if (keys[i]->kty == key->kty
            && mt_key_kid_is(keys[i], key->kid, key->kid_len))
        {
            return keys[i];
        }
    }

    return NULL;
}


static mt_err_t
mt_keyset_push(mt_keyset_t *ks, mt_key_t *key, const char *source,
    char *errbuf, size_t errlen)
{
    char  reason[96];

    /* a kid chooses the key: two of one type would make it ambiguous */
    if (mt_key_same_kid(ks->keys, ks->n, key) != NULL) {
        snprintf(reason, sizeof(reason), "another %s key has the same kid",
                 mt_kty_name(key->kty));
        mt_set_error(errbuf, errlen, source, reason);
        mt_key_free(key);
        return MT_ERR_BAD_KEY;
    }

    if (ks->n >= MT_MAX_KEYS) {
        mt_set_error(errbuf, errlen, source, "too many keys");
        mt_key_free(key);
        return MT_ERR_TOO_LARGE;
    }

    ks->keys[ks->n++] = key;
    mt_keyset_pair(ks, key);

    return MT_OK;
}


/* classify an EVP_PKEY and check it is strong enough to be used */
static mt_err_t
mt_key_from_pkey(mt_key_t **out, EVP_PKEY *pkey, int has_private,
    const char *source, char *errbuf, size_t errlen)
{
    char           group[64];
    size_t         glen;
    mt_key_t      *key;
    EVP_PKEY_CTX  *ctx;

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

    /*
     * The checks a JWK gets, for every key: e = 1 or a point off the
     * curve would let anyone "sign"; a private key must match its half.
     */
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);

    if (ctx == NULL
        || (key->kty != MT_KTY_OKP && EVP_PKEY_public_check(ctx) != 1)
        || (has_private && key->kty != MT_KTY_OKP
            && EVP_PKEY_pairwise_check(ctx) != 1))
    {
        EVP_PKEY_CTX_free(ctx);
        mt_set_error(errbuf, errlen, source, "invalid key");
        mt_key_free(key);
        return MT_ERR_BAD_KEY;
    }

    EVP_PKEY_CTX_free(ctx);

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


/*
 * JSON Web Keys (RFC 7517; key types of RFC 7518 section 6 and
 * RFC 8037).  A file holds one JWK or a JWK Set; every key must load or
 * none is added.  Keys are rebuilt through EVP_PKEY_fromdata() and
 * checked (EC points on the curve, RSA and EC private parts matching the
 * public ones, an OKP "d" deriving "x") before they are accepted.
 */

#define MT_JWK_MAX_MEMBERS  32
#define MT_JWK_MAX_B64      8192    /* one member: RSA up to 16384 bits */
#define MT_JWK_MIN_SECRET   32      /* RFC 7518 3.2: HS256 key size */


typedef struct {
    const char  *source;
    char        *errbuf;
    size_t       errlen;
    long         index;             /* position in "keys", -1: lone JWK */
} mt_jwk_ctx_t;


/* "alg" values of key management and content encryption, by kty */
static const struct {
    const char  *name;
    mt_kty_t     kty;               /* MT_KTY_EC: EC or X25519 */
} mt_jwk_enc_algs[] = {
    { "RSA1_5", MT_KTY_RSA }, { "RSA-OAEP", MT_KTY_RSA },
    { "RSA-OAEP-256", MT_KTY_RSA }, { "RSA-OAEP-384", MT_KTY_RSA },
    { "RSA-OAEP-512", MT_KTY_RSA },
    { "ECDH-ES", MT_KTY_EC }, { "ECDH-ES+A128KW", MT_KTY_EC },
    { "ECDH-ES+A192KW", MT_KTY_EC }, { "ECDH-ES+A256KW", MT_KTY_EC },
    { "A128KW", MT_KTY_OCT }, { "A192KW", MT_KTY_OCT },
    { "A256KW", MT_KTY_OCT }, { "A128GCMKW", MT_KTY_OCT },
    { "A192GCMKW", MT_KTY_OCT }, { "A256GCMKW", MT_KTY_OCT },
    { "dir", MT_KTY_OCT }, { "PBES2-HS256+A128KW", MT_KTY_OCT },
    { "PBES2-HS384+A192KW", MT_KTY_OCT },
    { "PBES2-HS512+A256KW", MT_KTY_OCT },
    { "A128GCM", MT_KTY_OCT }, { "A192GCM", MT_KTY_OCT },
    { "A256GCM", MT_KTY_OCT }, { "A128CBC-HS256", MT_KTY_OCT },
    { "A192CBC-HS384", MT_KTY_OCT }, { "A256CBC-HS512", MT_KTY_OCT }
};


static const struct {
    const char  *crv;
    const char  *group;
    size_t       len;               /* bytes of a coordinate and of d */
} mt_jwk_curves[] = {
    { "P-256", "prime256v1", 32 },
    { "P-384", "secp384r1", 48 },
    { "P-521", "secp521r1", 66 }
};


/* JWK "n", "e", "d", ... and the matching OpenSSL parameters */
static const char  *mt_jwk_rsa_members[] = {
    "n", "e", "d", "p", "q", "dp", "dq", "qi"
};

static const char  *mt_jwk_rsa_params[] = {
    OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D,
    OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
    OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
    OSSL_PKEY_PARAM_RSA_COEFFICIENT1
};

#define MT_JWK_RSA_N  (sizeof(mt_jwk_rsa_members) / sizeof(char *))


static mt_err_t mt_jwk_error(mt_jwk_ctx_t *ctx, mt_err_t rc,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));


static mt_err_t
mt_jwk_error(mt_jwk_ctx_t *ctx, mt_err_t rc, const char *fmt, ...)
{
    int      n;
    char     reason[256];
    va_list  args;

    n = 0;

    if (ctx->index >= 0) {
        n = snprintf(reason, sizeof(reason), "key %ld: ", ctx->index);
    }

    va_start(args, fmt);
    vsnprintf(reason + n, sizeof(reason) - (size_t) n, fmt, args);
    va_end(args);

    mt_set_error(ctx->errbuf, ctx->errlen, ctx->source, reason);

    return rc;
}


/* a member value for a message: quoted when short and printable */
static const char *
mt_jwk_quote(char *buf, size_t size, const char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\') {
            break;
        }
    }

    if (i < len || len + 3 > size) {
        return "(not shown)";
    }

    snprintf(buf, size, "\"%.*s\"", (int) len, s);

    return buf;
}


/* 0: absent, 1: a string, -1: present but not a string */
static int
mt_jwk_string(const json_t *jwk, const char *name, const char **s,
    size_t *len)
{
    json_t  *v;

    *s = NULL;
    *len = 0;

    v = json_object_get(jwk, name);

    if (v == NULL) {
        return 0;
    }

    if (!json_is_string(v)) {
        return -1;
    }

    *s = json_string_value(v);
    *len = json_string_length(v);

    return 1;
}


static int
mt_jwk_string_is(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(s, lit, len) == 0;
}


/*
 * A base64url member, decoded into an OPENSSL_malloc()ed buffer that
 * the caller wipes (OPENSSL_clear_free); *out stays NULL when an
 * optional member is absent.  want_len, when not 0, is the exact size.
 */
static mt_err_t
mt_jwk_bytes(mt_jwk_ctx_t *ctx, const json_t *jwk, const char *name,
    int required, size_t want_len, unsigned char **out, size_t *out_len)
{
    int             r;
    size_t          len, max;
    const char     *s;
    unsigned char  *buf;

    *out = NULL;
    *out_len = 0;

    r = mt_jwk_string(jwk, name, &s, &len);

    if (r < 0) {
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "\"%s\" is not a string",
                            name);
    }

    if (r == 0) {
        return required ? mt_jwk_error(ctx, MT_ERR_BAD_KEY,
                                       "\"%s\" is missing", name)
                        : MT_OK;
    }

    if (len == 0 || len > MT_JWK_MAX_B64) {
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "\"%s\" is empty or too "
                            "long", name);
    }

    max = mt_base64_decoded_max(len);

    buf = OPENSSL_malloc(max);
    if (buf == NULL) {
        return MT_ERR_NOMEM;
    }

    if (mt_base64url_decode(buf, out_len, s, len) != MT_OK) {
        OPENSSL_clear_free(buf, max);
        *out_len = 0;
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "\"%s\" is not strict "
                            "base64url", name);
    }

    if (want_len != 0 && *out_len != want_len) {
        OPENSSL_clear_free(buf, max);
        *out_len = 0;
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "\"%s\" is not %zu bytes "
                            "long", name, want_len);
    }

    *out = buf;

    return MT_OK;
}


/* EVP_PKEY_fromdata(), then the checks that fromdata does not make */
static mt_err_t
mt_jwk_fromdata(mt_jwk_ctx_t *ctx, const char *type, int has_private,
    OSSL_PARAM *params, EVP_PKEY **out)
{
    int            ok;
    EVP_PKEY      *pkey;
    EVP_PKEY_CTX  *pctx;

    *out = NULL;
    pkey = NULL;

    pctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);

    ok = pctx != NULL
         && EVP_PKEY_fromdata_init(pctx) == 1
         && EVP_PKEY_fromdata(pctx, &pkey, has_private ? EVP_PKEY_KEYPAIR
                                                       : EVP_PKEY_PUBLIC_KEY,
                              params) == 1;

    EVP_PKEY_CTX_free(pctx);

    if (!ok) {
        EVP_PKEY_free(pkey);
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "invalid %s key", type);
    }

    pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);

    ok = pctx != NULL
         && EVP_PKEY_public_check(pctx) == 1
         && (!has_private || EVP_PKEY_pairwise_check(pctx) == 1);

    EVP_PKEY_CTX_free(pctx);

    if (!ok) {
        EVP_PKEY_free(pkey);
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "%s key fails the "
                            "consistency checks", type);
    }

    *out = pkey;

    return MT_OK;
}


static mt_err_t
mt_jwk_rsa(mt_jwk_ctx_t *ctx, const json_t *jwk, EVP_PKEY **pkey,
    int *has_private)
{
    size_t           i, n, present;
    mt_err_t         rc;
    OSSL_PARAM      *params;
    OSSL_PARAM_BLD  *bld;
    BIGNUM          *bn[MT_JWK_RSA_N];
    unsigned char   *bytes[MT_JWK_RSA_N];
    size_t           lens[MT_JWK_RSA_N];

    *pkey = NULL;
    params = NULL;
    bld = NULL;
    memset(bn, 0, sizeof(bn));
    memset(bytes, 0, sizeof(bytes));
    memset(lens, 0, sizeof(lens));

    if (json_object_get(jwk, "oth") != NULL) {
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "multi-prime RSA keys "
                            "(\"oth\") are not supported");
    }

    present = 0;

    for (i = 0; i < MT_JWK_RSA_N; i++) {
        rc = mt_jwk_bytes(ctx, jwk, mt_jwk_rsa_members[i], i < 2, 0,
                          &bytes[i], &lens[i]);
        if (rc != MT_OK) {
            goto done;
        }

        if (i >= 2 && bytes[i] != NULL) {
            present++;
        }
    }

    if (present != 0 && present != MT_JWK_RSA_N - 2) {
        rc = mt_jwk_error(ctx, MT_ERR_BAD_KEY, "a private RSA key needs all "
                          "of \"d\", \"p\", \"q\", \"dp\", \"dq\", \"qi\"");
        goto done;
    }

    *has_private = present != 0;
    n = *has_private ? MT_JWK_RSA_N : 2;

    rc = MT_ERR_NOMEM;

    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL) {
        goto done;
    }

    for (i = 0; i < n; i++) {
        /* secure BIGNUMs: the builder then wipes its copies on free */
        bn[i] = i < 2 ? BN_new() : BN_secure_new();

        if (bn[i] == NULL
            || BN_bin2bn(bytes[i], (int) lens[i], bn[i]) == NULL
            || OSSL_PARAM_BLD_push_BN(bld, mt_jwk_rsa_params[i], bn[i]) != 1)
        {
            goto done;
        }
    }

    params = OSSL_PARAM_BLD_to_param(bld);
    if (params == NULL) {
        goto done;
    }

    rc = mt_jwk_fromdata(ctx, "RSA", *has_private, params, pkey);

done:

    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);

    for (i = 0; i < MT_JWK_RSA_N; i++) {
        BN_clear_free(bn[i]);
        OPENSSL_clear_free(bytes[i], lens[i]);
    }

    ERR_clear_error();

    return rc;
}


static mt_err_t
mt_jwk_ec(mt_jwk_ctx_t *ctx, const json_t *jwk, EVP_PKEY **pkey,
    int *has_private)
{
    int              r;
    size_t           i, clen, crv_len, x_len, y_len, d_len;
    BIGNUM          *d;
    mt_err_t         rc;
    const char      *crv;
    OSSL_PARAM      *params;
    OSSL_PARAM_BLD  *bld;
    unsigned char   *x, *y, *dbytes, *point;
    char             q[40];

    *pkey = NULL;

    r = mt_jwk_string(jwk, "crv", &crv, &crv_len);
    if (r <= 0) {
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "EC key without a \"crv\" "
                            "string");
    }

    for (i = 0; i < sizeof(mt_jwk_curves) / sizeof(mt_jwk_curves[0]); i++) {
        if (mt_jwk_string_is(crv, crv_len, mt_jwk_curves[i].crv)) {
            break;
        }
    }

    if (i == sizeof(mt_jwk_curves) / sizeof(mt_jwk_curves[0])) {
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "EC curve %s is not "
                            "P-256, P-384 or P-521",
                            mt_jwk_quote(q, sizeof(q), crv, crv_len));
    }

    clen = mt_jwk_curves[i].len;
    x = y = dbytes = point = NULL;
    x_len = y_len = d_len = 0;
    d = NULL;
    params = NULL;
    bld = NULL;

    /* RFC 7518 6.2.1.2 and 6.2.2.1: full-size coordinates and d */
    rc = mt_jwk_bytes(ctx, jwk, "x", 1, clen, &x, &x_len);
    if (rc == MT_OK) {
        rc = mt_jwk_bytes(ctx, jwk, "y", 1, clen, &y, &y_len);
    }

    if (rc == MT_OK) {
        rc = mt_jwk_bytes(ctx, jwk, "d", 0, clen, &dbytes, &d_len);
    }

    if (rc != MT_OK) {
        goto done;
    }

    *has_private = dbytes != NULL;

    rc = MT_ERR_NOMEM;

    point = OPENSSL_malloc(1 + 2 * clen);
    bld = OSSL_PARAM_BLD_new();

    if (point == NULL || bld == NULL) {
        goto done;
    }

    point[0] = 0x04;                /* uncompressed */
    memcpy(point + 1, x, clen);
    memcpy(point + 1 + clen, y, clen);

    if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                        mt_jwk_curves[i].group, 0) != 1
        || OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                            point, 1 + 2 * clen) != 1)
    {
        goto done;
    }

    if (dbytes != NULL) {
        d = BN_secure_new();

        if (d == NULL || BN_bin2bn(dbytes, (int) d_len, d) == NULL
            || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) != 1)
        {
            goto done;
        }
    }

    params = OSSL_PARAM_BLD_to_param(bld);
    if (params == NULL) {
        goto done;
    }

    rc = mt_jwk_fromdata(ctx, "EC", *has_private, params, pkey);

done:

    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(d);
    OPENSSL_free(point);
    OPENSSL_free(x);
    OPENSSL_free(y);
    OPENSSL_clear_free(dbytes, d_len);
    ERR_clear_error();

    return rc;
}


static mt_err_t
mt_jwk_okp(mt_jwk_ctx_t *ctx, const json_t *jwk, EVP_PKEY **pkey,
    int *has_private)
{
    int             r;
    size_t          crv_len, x_len, d_len, pub_len;
    mt_err_t        rc;
    const char     *crv, *type;
    OSSL_PARAM      params[2];
    unsigned char  *x, *d;
    unsigned char   pub[32];
    char            q[40];

    *pkey = NULL;

    r = mt_jwk_string(jwk, "crv", &crv, &crv_len);
    if (r <= 0) {
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "OKP key without a \"crv\" "
                            "string");
    }

    if (mt_jwk_string_is(crv, crv_len, "Ed25519")) {
        type = "ED25519";

    } else if (mt_jwk_string_is(crv, crv_len, "X25519")) {
        type = "X25519";

    } else {
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "OKP curve %s is not "
                            "Ed25519 or X25519",
                            mt_jwk_quote(q, sizeof(q), crv, crv_len));
    }

    rc = mt_jwk_bytes(ctx, jwk, "x", 1, 32, &x, &x_len);
    if (rc != MT_OK) {
        return rc;
    }

    rc = mt_jwk_bytes(ctx, jwk, "d", 0, 32, &d, &d_len);
    if (rc != MT_OK) {
        OPENSSL_free(x);
        return rc;
    }

    *has_private = d != NULL;

    /*
     * With "d", the public key is derived from it and must equal "x":
     * fromdata would otherwise take both as they are.
     */
    if (d != NULL) {
        params[0] = OSSL_PARAM_construct_octet_string(
                        OSSL_PKEY_PARAM_PRIV_KEY, d, d_len);
    } else {
        params[0] = OSSL_PARAM_construct_octet_string(
                        OSSL_PKEY_PARAM_PUB_KEY, x, x_len);
    }

    params[1] = OSSL_PARAM_construct_end();

    rc = mt_jwk_fromdata(ctx, type, *has_private, params, pkey);

    if (rc == MT_OK && d != NULL
        && (EVP_PKEY_get_octet_string_param(*pkey, OSSL_PKEY_PARAM_PUB_KEY,
                                            pub, sizeof(pub), &pub_len) != 1
            || pub_len != x_len || CRYPTO_memcmp(pub, x, x_len) != 0))
    {
        EVP_PKEY_free(*pkey);
        *pkey = NULL;
        rc = mt_jwk_error(ctx, MT_ERR_BAD_KEY, "OKP \"d\" does not match "
                          "\"x\"");
    }

    OPENSSL_free(x);
    OPENSSL_clear_free(d, d_len);
    ERR_clear_error();

    return rc;
}


static mt_err_t
mt_jwk_oct(mt_jwk_ctx_t *ctx, const json_t *jwk, mt_key_t **out)
{
    size_t          k_len;
    mt_err_t        rc;
    mt_key_t       *key;
    unsigned char  *k;

    *out = NULL;

    rc = mt_jwk_bytes(ctx, jwk, "k", 1, 0, &k, &k_len);
    if (rc != MT_OK) {
        return rc;
    }

    key = calloc(1, sizeof(mt_key_t));
    if (key == NULL) {
        OPENSSL_clear_free(k, k_len);
        return MT_ERR_NOMEM;
    }

    key->kty = MT_KTY_OCT;
    key->has_private = 1;
    key->secret = k;
    key->secret_len = k_len;

    *out = key;

    return MT_OK;
}


/* RFC 7517 section 4.3 */
static const struct {
    const char  *name;
    unsigned     op;
} mt_jwk_ops[] = {
    { "sign", MT_KEY_OP_SIGN }, { "verify", MT_KEY_OP_VERIFY },
    { "encrypt", MT_KEY_OP_ENCRYPT }, { "decrypt", MT_KEY_OP_DECRYPT },
    { "wrapKey", MT_KEY_OP_WRAP_KEY }, { "unwrapKey", MT_KEY_OP_UNWRAP_KEY },
    { "deriveKey", MT_KEY_OP_DERIVE_KEY },
    { "deriveBits", MT_KEY_OP_DERIVE_BITS }
};

#define MT_KEY_OPS_SIG  (MT_KEY_OP_SIGN | MT_KEY_OP_VERIFY)


/* "key_ops": an array of distinct known operations; *ops 0 if absent */
static mt_err_t
mt_jwk_key_ops(mt_jwk_ctx_t *ctx, const json_t *jwk, unsigned *ops)
{
    size_t   i, j;
    json_t  *v, *item;
    char     q[40];

    *ops = 0;

    v = json_object_get(jwk, "key_ops");

    if (v == NULL) {
        return MT_OK;
    }

    if (!json_is_array(v) || json_array_size(v) == 0) {
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "\"key_ops\" is not a "
                            "non-empty array");
    }

    json_array_foreach(v, i, item) {
        if (!json_is_string(item)) {
            return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "\"key_ops\" holds a "
                                "value that is not a string");
        }

        for (j = 0; j < sizeof(mt_jwk_ops) / sizeof(mt_jwk_ops[0]); j++) {
            if (mt_jwk_string_is(json_string_value(item),
                                 json_string_length(item),
                                 mt_jwk_ops[j].name))
            {
                break;
            }
        }

        if (j == sizeof(mt_jwk_ops) / sizeof(mt_jwk_ops[0])) {
            return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "unknown \"key_ops\" "
                                "value %s",
                                mt_jwk_quote(q, sizeof(q),
                                             json_string_value(item),
                                             json_string_length(item)));
        }

        if (*ops & mt_jwk_ops[j].op) {
            return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "\"key_ops\" lists "
                                "\"%s\" twice", mt_jwk_ops[j].name);
        }

        *ops |= mt_jwk_ops[j].op;
    }

    return MT_OK;
}


/* "key_ops" against "use" and "alg": one kind of operations only */
static mt_err_t
mt_jwk_check_ops(mt_jwk_ctx_t *ctx, unsigned ops, int for_sig, int for_enc)
{
    if (ops == 0) {
        return MT_OK;
    }

    if ((ops & MT_KEY_OPS_SIG) && (ops & ~MT_KEY_OPS_SIG)) {
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "\"key_ops\" mixes "
                            "signature and encryption operations");
    }

    if (for_enc && (ops & MT_KEY_OPS_SIG)) {
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "\"key_ops\" with "
                            "signature operations for an encryption key");
    }

    if (for_sig && (ops & ~MT_KEY_OPS_SIG)) {
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "\"key_ops\" with "
                            "encryption operations for a signature key");
    }

    return MT_OK;
}


/* one JWK to an unlinked key */
static mt_err_t
mt_jwk_parse(mt_jwk_ctx_t *ctx, const json_t *jwk, mt_key_t **out)
{
    int          r, use_sig, use_enc, has_private;
    size_t       i, len, kid_len, min;
    unsigned     ops;
    mt_err_t     rc;
    mt_alg_t     sig_alg;
    mt_key_t    *key;
    EVP_PKEY    *pkey;
    const char  *s, *kid, *kty, *enc_alg;
    mt_kty_t     enc_kty;
    size_t       kty_len;
    char         q[40];

    *out = NULL;

    if (!json_is_object(jwk)) {
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "a JWK is not a JSON "
                            "object");
    }

    if (json_object_size(jwk) > MT_JWK_MAX_MEMBERS) {
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "JWK with too many "
                            "members");
    }

    /* "use" */

    use_sig = 0;
    use_enc = 0;

    r = mt_jwk_string(jwk, "use", &s, &len);

    if (r < 0) {
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "\"use\" is not a string");
    }

    if (r > 0) {
        if (mt_jwk_string_is(s, len, "sig")) {
            use_sig = 1;

        } else if (mt_jwk_string_is(s, len, "enc")) {
            use_enc = 1;

        } else {
            return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "\"use\" is neither "
                                "\"sig\" nor \"enc\"");
        }
    }

    /* "alg": a JWS algorithm pins the key, an encryption one marks it */

    sig_alg = MT_ALG_NONE;
    enc_alg = NULL;
    enc_kty = 0;

    r = mt_jwk_string(jwk, "alg", &s, &len);

    if (r < 0) {
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "\"alg\" is not a string");
    }

    if (r > 0) {
        sig_alg = mt_alg_from_name(s, len);

        if (sig_alg == MT_ALG_NONE) {
            for (i = 0; i < sizeof(mt_jwk_enc_algs)
                            / sizeof(mt_jwk_enc_algs[0]); i++)
            {
                if (mt_jwk_string_is(s, len, mt_jwk_enc_algs[i].name)) {
                    enc_alg = mt_jwk_enc_algs[i].name;
                    enc_kty = mt_jwk_enc_algs[i].kty;
                    break;
                }
            }

            if (enc_alg == NULL) {
                return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "unknown \"alg\" "
                                    "%s", mt_jwk_quote(q, sizeof(q), s, len));
            }
        }

        if (sig_alg != MT_ALG_NONE && use_enc) {
            return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "\"use\":\"enc\" with "
                                "the signature \"alg\" %s",
                                mt_alg_name(sig_alg));
        }

        if (enc_alg != NULL && use_sig) {
            return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "\"use\":\"sig\" with "
                                "the encryption \"alg\" %s", enc_alg);
        }

        if (enc_alg != NULL) {
            /* a key meant for encryption never verifies a signature */
            use_enc = 1;
        }
    }

    /* "key_ops", checked against "use" and the "alg" pins */

    rc = mt_jwk_key_ops(ctx, jwk, &ops);
    if (rc != MT_OK) {
        return rc;
    }

    rc = mt_jwk_check_ops(ctx, ops, use_sig || sig_alg != MT_ALG_NONE,
                          use_enc);
    if (rc != MT_OK) {
        return rc;
    }

    /* as "use" would: one kind of operations only marks the key */
    use_sig = use_sig || (ops & MT_KEY_OPS_SIG);
    use_enc = use_enc || (ops & ~MT_KEY_OPS_SIG);

    /* "kid" */

    r = mt_jwk_string(jwk, "kid", &kid, &kid_len);

    if (r < 0 || kid_len > MT_MAX_KID_LEN) {
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "\"kid\" is not a string "
                            "of at most %d bytes", MT_MAX_KID_LEN);
    }

    /* "kty" and the key itself */

    r = mt_jwk_string(jwk, "kty", &kty, &kty_len);

    if (r <= 0) {
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "JWK without a \"kty\" "
                            "string");
    }

    pkey = NULL;
    has_private = 0;
    key = NULL;

    if (mt_jwk_string_is(kty, kty_len, "RSA")) {
        rc = mt_jwk_rsa(ctx, jwk, &pkey, &has_private);

    } else if (mt_jwk_string_is(kty, kty_len, "EC")) {
        rc = mt_jwk_ec(ctx, jwk, &pkey, &has_private);

    } else if (mt_jwk_string_is(kty, kty_len, "OKP")) {
        rc = mt_jwk_okp(ctx, jwk, &pkey, &has_private);

    } else if (mt_jwk_string_is(kty, kty_len, "oct")) {
        rc = mt_jwk_oct(ctx, jwk, &key);

    } else {
        return mt_jwk_error(ctx, MT_ERR_BAD_KEY, "unsupported \"kty\" %s",
                            mt_jwk_quote(q, sizeof(q), kty, kty_len));
    }

    if (rc != MT_OK) {
        return rc;
    }

    if (pkey != NULL) {
        /* RSA size and EC curve rules of the PEM path; frees on error */
        rc = mt_key_from_pkey(&key, pkey, has_private, ctx->source,
                              ctx->errbuf, ctx->errlen);
        if (rc != MT_OK) {
            return rc;
        }
    }

    key->use_enc = use_enc;
    key->use_sig = use_sig;
    key->enc_alg = enc_alg;     /* a string of mt_jwk_enc_algs[] */
    key->key_ops = ops;

    if (sig_alg != MT_ALG_NONE) {
        key->pinned_alg = sig_alg;

        if (!mt_key_fits_family(key, sig_alg)) {
            rc = mt_jwk_error(ctx, MT_ERR_BAD_KEY, "\"alg\" %s does not fit "
                              "the key", mt_alg_name(sig_alg));
            goto failed;
        }
    }

    if (enc_alg != NULL
        && !(key->kty == enc_kty
             || (enc_kty == MT_KTY_EC && key->kty == MT_KTY_OKP
                 && key->family_alg == MT_ALG_NONE)))
    {
        rc = mt_jwk_error(ctx, MT_ERR_BAD_KEY, "\"alg\" %s does not fit "
                          "the key", enc_alg);
        goto failed;
    }

    if (use_sig && key->kty == MT_KTY_OKP && key->family_alg == MT_ALG_NONE)
    {
        rc = mt_jwk_error(ctx, MT_ERR_BAD_KEY, "an X25519 key cannot have "
                          "\"use\":\"sig\"");
        goto failed;
    }

    if (key->kty == MT_KTY_OCT && !use_enc) {
        /* RFC 7518 3.2: at least the size of the hash output */
        min = key->pinned_alg == MT_ALG_HS512 ? 64
              : key->pinned_alg == MT_ALG_HS384 ? 48 : MT_JWK_MIN_SECRET;

        if (key->secret_len < min) {
            rc = mt_jwk_error(ctx, MT_ERR_BAD_KEY, "HMAC key shorter than "
                              "%zu bytes", min);
            goto failed;
        }
    }

    if (kid != NULL) {
        key->kid = malloc(kid_len + 1);
        if (key->kid == NULL) {
            rc = MT_ERR_NOMEM;
            goto failed;
        }

        memcpy(key->kid, kid, kid_len);
        key->kid[kid_len] = '\0';
        key->kid_len = kid_len;
    }

    *out = key;

    return MT_OK;

failed:

    mt_key_free(key);

    return rc;
}


mt_err_t
mt_keyset_add_jwks(mt_keyset_t *ks, const char *json, size_t len,
    const char *source, char *errbuf, size_t errlen)
{
    size_t        i, n;
    json_t       *root, *keys;
    mt_err_t      rc;
    mt_key_t     *parsed[MT_MAX_KEYS];
    json_error_t  jerr;
    mt_jwk_ctx_t  ctx;

    ctx.source = source;
    ctx.errbuf = errbuf;
    ctx.errlen = errlen;
    ctx.index = -1;

    if (len > MT_MAX_KEY_FILE) {
        return mt_jwk_error(&ctx, MT_ERR_TOO_LARGE, "key file too large");
    }

    rc = mt_json_parse_object(&root, json, len, MT_JWK_MAX_MEMBERS);

    if (rc == MT_ERR_TOO_LARGE) {
        return mt_jwk_error(&ctx, MT_ERR_BAD_KEY, "JWK with too many "
                            "members");
    }

    if (rc != MT_OK) {
        /* parse again for jansson's reason (duplicate member, syntax) */
        root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);

        if (root != NULL) {
            json_decref(root);
            return mt_jwk_error(&ctx, MT_ERR_BAD_KEY, "not a JSON object");
        }

        return mt_jwk_error(&ctx, MT_ERR_BAD_KEY, "invalid JSON at line %d: "
                            "%s", jerr.line, jerr.text);
    }

    keys = json_object_get(root, "keys");

    if (keys != NULL) {
        if (!json_is_array(keys)) {
            rc = mt_jwk_error(&ctx, MT_ERR_BAD_KEY, "\"keys\" is not an "
                              "array");
            goto done;
        }

        n = json_array_size(keys);

        if (n == 0) {
            rc = mt_jwk_error(&ctx, MT_ERR_BAD_KEY, "empty JWK Set");
            goto done;
        }

    } else {
        n = 1;
    }

    if (n > MT_MAX_KEYS - ks->n) {
        rc = mt_jwk_error(&ctx, MT_ERR_TOO_LARGE, "too many keys");
        goto done;
    }

    /* all or nothing: a set with one bad key adds none */

    for (i = 0; i < n; i++) {
        ctx.index = keys != NULL ? (long) i : -1;

        rc = mt_jwk_parse(&ctx, keys != NULL ? json_array_get(keys, i) : root,
                          &parsed[i]);

        if (rc == MT_OK
            && (mt_key_same_kid(ks->keys, ks->n, parsed[i]) != NULL
                || mt_key_same_kid(parsed, i, parsed[i]) != NULL))
        {
            /* a kid chooses the key: two of one type make it ambiguous */
            rc = mt_jwk_error(&ctx, MT_ERR_BAD_KEY, "another %s key has the "
                              "same \"kid\"", mt_kty_name(parsed[i]->kty));
            mt_key_free(parsed[i]);
        }

        if (rc != MT_OK) {
            while (i-- > 0) {
                mt_key_free(parsed[i]);
            }

            goto done;
        }
    }

    for (i = 0; i < n; i++) {
        ks->keys[ks->n++] = parsed[i];
        mt_keyset_pair(ks, parsed[i]);
    }

    rc = MT_OK;

done:

    json_decref(root);

    return rc;
}


mt_err_t
mt_keyset_add_secret(mt_keyset_t *ks, const unsigned char *secret,
    size_t len, const char *kid, size_t kid_len, char *errbuf, size_t errlen)
{
    return mt_keyset_add_hmac(ks, secret, len, kid, kid_len, MT_ALG_NONE,
                              errbuf, errlen);
}


mt_err_t
mt_keyset_add_hmac(mt_keyset_t *ks, const unsigned char *secret,
    size_t len, const char *kid, size_t kid_len, mt_alg_t alg, char *errbuf,
    size_t errlen)
{
    mt_key_t  *key;

    if (len == 0 || len > MT_MAX_KEY_FILE || kid_len > MT_MAX_KID_LEN) {
        mt_set_error(errbuf, errlen, "secret", "bad secret or kid length");
        return MT_ERR_BAD_KEY;
    }

    if (alg != MT_ALG_NONE && (alg < MT_ALG_HS256 || alg > MT_ALG_HS512)) {
        mt_set_error(errbuf, errlen, "secret", "not an HMAC algorithm");
        return MT_ERR_BAD_KEY;
    }

    key = calloc(1, sizeof(mt_key_t));
    if (key == NULL) {
        return MT_ERR_NOMEM;
    }

    key->kty = MT_KTY_OCT;
    key->has_private = 1;
    key->pinned_alg = alg;
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


int
mt_key_for_encryption(const mt_key_t *key)
{
    /*
     * Asymmetric keys decrypt unless they are signature-only by design
     * (Ed25519); raw secrets only when a JWK marks them for encryption,
     * so an HMAC secret never doubles as a key-wrapping key.
     */
    if (!mt_key_allows_op(key, MT_KEY_OP_DECRYPT | MT_KEY_OP_UNWRAP_KEY
                               | MT_KEY_OP_DERIVE_KEY
                               | MT_KEY_OP_DERIVE_BITS))
    {
        return 0;
    }

    if (key->kty == MT_KTY_OCT) {
        return key->use_enc;
    }

    /* a key marked or pinned for signatures never decrypts */
    if (key->use_sig || key->pinned_alg != MT_ALG_NONE) {
        return 0;
    }

    return key->family_alg != MT_ALG_EDDSA;
}


/* the RFC 7517 operations that decrypting with a JWE "alg" performs */
static unsigned
mt_jwe_alg_ops(const char *alg)
{
    if (strcmp(alg, "dir") == 0) {
        return MT_KEY_OP_DECRYPT;
    }

    if (strncmp(alg, "RSA", 3) == 0) {
        /* key transport: WebCrypto allows either */
        return MT_KEY_OP_DECRYPT | MT_KEY_OP_UNWRAP_KEY;
    }

    if (strncmp(alg, "ECDH-ES", 7) == 0) {
        /* the private key agrees on a key; it unwraps nothing itself */
        return MT_KEY_OP_DERIVE_KEY | MT_KEY_OP_DERIVE_BITS;
    }

    return MT_KEY_OP_UNWRAP_KEY;
}


int
mt_key_for_jwe_alg(const mt_key_t *key, const char *alg, const char *enc)
{
    if (!mt_key_for_encryption(key)
        || !mt_key_allows_op(key, mt_jwe_alg_ops(alg)))
    {
        return 0;
    }

    /* a "dir" key may be pinned to its content encryption ("A128GCM") */
    return key->enc_alg == NULL || strcmp(key->enc_alg, alg) == 0
           || (enc != NULL && strcmp(alg, "dir") == 0
               && strcmp(key->enc_alg, enc) == 0);
}


/* one field of the digest: its length, then its bytes */
static int
mt_digest_field(EVP_MD_CTX *md, const void *data, size_t len)
{
    unsigned char  n[8];
    size_t         i;

    for (i = 0; i < 8; i++) {
        n[i] = (unsigned char) ((uint64_t) len >> (56 - 8 * i));
    }

    return EVP_DigestUpdate(md, n, sizeof(n))
           && (len == 0 || EVP_DigestUpdate(md, data, len));
}


static int
mt_digest_int(EVP_MD_CTX *md, int64_t v)
{
    unsigned char  b[8];
    size_t         i;

    for (i = 0; i < 8; i++) {
        b[i] = (unsigned char) ((uint64_t) v >> (56 - 8 * i));
    }

    return mt_digest_field(md, b, sizeof(b));
}


static int
mt_digest_key(EVP_MD_CTX *md, const mt_key_t *key)
{
    int             ok, len;
    unsigned char  *der;

    ok = mt_digest_int(md, key->kty)
         && mt_digest_int(md, key->has_private)
         && mt_digest_int(md, key->family_alg)
         && mt_digest_int(md, key->pinned_alg)
         && mt_digest_int(md, key->use_enc)
         && mt_digest_int(md, key->use_sig)
         && mt_digest_int(md, key->credentials)
         && mt_digest_int(md, key->paired)
         && mt_digest_int(md, key->key_ops)
         && mt_digest_int(md, key->kid != NULL)
         && mt_digest_field(md, key->kid, key->kid ? key->kid_len : 0)
         && mt_digest_int(md, key->enc_alg != NULL)
         && mt_digest_field(md, key->enc_alg,
                            key->enc_alg ? strlen(key->enc_alg) : 0)
         && mt_digest_field(md, key->secret,
                            key->secret ? key->secret_len : 0);

    if (!ok || key->pkey == NULL) {
        return ok && mt_digest_int(md, 0);
    }

    /* the public half names the pair: its private half is the only one */
    der = NULL;
    len = i2d_PUBKEY(key->pkey, &der);

    if (len <= 0) {
        return 0;
    }

    ok = mt_digest_int(md, 1) && mt_digest_field(md, der, (size_t) len);

    OPENSSL_free(der);

    return ok;
}


mt_err_t
mt_keyset_digest(const mt_keyset_t *ks, unsigned char out[MT_DIGEST_LEN])
{
    int           ok;
    size_t        i;
    EVP_MD_CTX   *md;
    unsigned int  n;

    static const char  domain[] = "magic-token keyset v1";

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return MT_ERR_NOMEM;
    }

    ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL)
         && mt_digest_field(md, domain, sizeof(domain) - 1)
         && mt_digest_int(md, (int64_t) ks->n);

    for (i = 0; ok && i < ks->n; i++) {
        ok = mt_digest_key(md, ks->keys[i]);
    }

    ok = ok && EVP_DigestFinal_ex(md, out, &n) && n == MT_DIGEST_LEN;

    EVP_MD_CTX_free(md);

    return ok ? MT_OK : MT_ERR_INTERNAL;
}
