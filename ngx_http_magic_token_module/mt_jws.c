/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * JWS compact serialisation (RFC 7515) with the algorithms of RFC 7518
 * and RFC 8037.  The header is trusted for nothing but "alg" and "kid":
 * "alg" must fit the key's family, and keys or key URLs carried in the
 * token are refused outright.
 */

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "mt_core.h"


#define MT_MAX_HEADER_MEMBERS  16
#define MT_MAX_SIG_LEN         1024


static const EVP_MD *
mt_alg_md(mt_alg_t alg)
{
    switch (alg) {
    case MT_ALG_RS256: case MT_ALG_PS256: case MT_ALG_ES256:
    case MT_ALG_HS256:
        return EVP_sha256();

    case MT_ALG_RS384: case MT_ALG_PS384: case MT_ALG_ES384:
    case MT_ALG_HS384:
        return EVP_sha384();

    case MT_ALG_RS512: case MT_ALG_PS512: case MT_ALG_ES512:
    case MT_ALG_HS512:
        return EVP_sha512();

    default:
        return NULL;
    }
}


/* length of r and of s in a raw ECDSA signature */
static size_t
mt_ec_coord_len(mt_alg_t alg)
{
    switch (alg) {
    case MT_ALG_ES256:
        return 32;
    case MT_ALG_ES384:
        return 48;
    case MT_ALG_ES512:
        return 66;
    default:
        return 0;
    }
}


static int
mt_is_rsa_pss(mt_alg_t alg)
{
    return alg == MT_ALG_PS256 || alg == MT_ALG_PS384
           || alg == MT_ALG_PS512;
}


static mt_err_t
mt_hmac(const mt_key_t *key, mt_alg_t alg, const unsigned char *input,
    size_t input_len, unsigned char *mac, unsigned int *mac_len)
{
    size_t                secret_len;
    const unsigned char  *secret;

    secret = mt_key_secret(key, &secret_len);

    if (secret_len > INT32_MAX
        || HMAC(mt_alg_md(alg), secret, (int) secret_len, input, input_len,
                mac, mac_len) == NULL)
    {
        ERR_clear_error();
        return MT_ERR_INTERNAL;
    }

    return MT_OK;
}


/* raw r||s to DER, refusing any length but the exact one */
static mt_err_t
mt_ecdsa_raw_to_der(mt_alg_t alg, const unsigned char *sig, size_t sig_len,
    unsigned char **der, size_t *der_len)
{
    int         n;
    size_t      clen;
    BIGNUM     *r, *s;
    ECDSA_SIG  *es;

    clen = mt_ec_coord_len(alg);

    if (clen == 0 || sig_len != 2 * clen) {
        return MT_ERR_BAD_SIGNATURE;
    }

    r = BN_bin2bn(sig, (int) clen, NULL);
    s = BN_bin2bn(sig + clen, (int) clen, NULL);
    es = ECDSA_SIG_new();

    if (r == NULL || s == NULL || es == NULL
        || ECDSA_SIG_set0(es, r, s) != 1)
    {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return MT_ERR_NOMEM;
    }

    *der = NULL;
    n = i2d_ECDSA_SIG(es, der);
    ECDSA_SIG_free(es);

    if (n <= 0) {
        return MT_ERR_NOMEM;
    }

    *der_len = (size_t) n;

    return MT_OK;
}


mt_err_t
mt_jws_verify_signature(const mt_key_t *key, mt_alg_t alg,
    const unsigned char *input, size_t input_len,
    const unsigned char *sig, size_t sig_len)
{
    int             ok;
    size_t          der_len;
    mt_err_t        rc;
    unsigned int    mac_len;
    EVP_PKEY_CTX   *pctx;
    EVP_MD_CTX     *mctx;
    unsigned char  *der;
    unsigned char   mac[EVP_MAX_MD_SIZE];

    if (!mt_key_fits_alg(key, alg)
        || !mt_key_allows_op(key, MT_KEY_OP_VERIFY))
    {
        return MT_ERR_UNKNOWN_KEY;
    }

    if (alg >= MT_ALG_HS256 && alg <= MT_ALG_HS512) {
        rc = mt_hmac(key, alg, input, input_len, mac, &mac_len);
        if (rc != MT_OK) {
            return rc;
        }

        ok = sig_len == mac_len && CRYPTO_memcmp(mac, sig, mac_len) == 0;
        OPENSSL_cleanse(mac, sizeof(mac));

        return ok ? MT_OK : MT_ERR_BAD_SIGNATURE;
    }

    der = NULL;

    if (mt_ec_coord_len(alg)) {
        rc = mt_ecdsa_raw_to_der(alg, sig, sig_len, &der, &der_len);
        if (rc != MT_OK) {
            return rc;
        }

        sig = der;
        sig_len = der_len;
    }

    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        OPENSSL_free(der);
        return MT_ERR_NOMEM;
    }

    ok = 0;
    pctx = NULL;

    if (EVP_DigestVerifyInit(mctx, &pctx, mt_alg_md(alg), NULL,
                             mt_key_pkey(key)) != 1)
    {
        goto done;
    }

    if (mt_key_type(key) == MT_KTY_RSA) {
        if (mt_is_rsa_pss(alg)) {
            if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING)
                    != 1
                || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
                                                    RSA_PSS_SALTLEN_DIGEST)
                    != 1
                || EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mt_alg_md(alg)) != 1)
            {
                goto done;
            }

        } else if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING)
                   != 1)
        {
            goto done;
        }
    }

    ok = EVP_DigestVerify(mctx, sig, sig_len, input, input_len) == 1;

done:

    EVP_MD_CTX_free(mctx);
    OPENSSL_free(der);
    ERR_clear_error();

    return ok ? MT_OK : MT_ERR_BAD_SIGNATURE;
}


mt_err_t
mt_jws_sign(const mt_key_t *key, mt_alg_t alg, const unsigned char *input,
    size_t input_len, unsigned char *sig, size_t *sig_len)
{
    int                   ok;
    size_t                len, clen;
    mt_err_t              rc;
    ECDSA_SIG            *es;
    unsigned int          mac_len;
    EVP_PKEY_CTX         *pctx;
    EVP_MD_CTX           *mctx;
    const BIGNUM         *r, *s;
    unsigned char         der[MT_MAX_SIG_LEN];
    const unsigned char  *p;

    if (!mt_key_fits_alg(key, alg) || !mt_key_has_private(key)
        || !mt_key_allows_op(key, MT_KEY_OP_SIGN))
    {
        return MT_ERR_UNKNOWN_KEY;
    }

    if (alg >= MT_ALG_HS256 && alg <= MT_ALG_HS512) {
        rc = mt_hmac(key, alg, input, input_len, sig, &mac_len);
        *sig_len = mac_len;
        return rc;
    }

    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        return MT_ERR_NOMEM;
    }

    ok = 0;
    pctx = NULL;
    clen = mt_ec_coord_len(alg);

    if (EVP_DigestSignInit(mctx, &pctx, mt_alg_md(alg), NULL,
                           mt_key_pkey(key)) != 1)
    {
        goto done;
    }

    if (mt_is_rsa_pss(alg)) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST)
               != 1)
        {
            goto done;
        }
    }

    len = MT_MAX_SIG_LEN;

    if (EVP_DigestSign(mctx, clen ? der : sig, &len, input, input_len)
        != 1)
    {
        goto done;
    }

    if (clen == 0) {
        *sig_len = len;
        ok = 1;
        goto done;
    }

    p = der;
    es = d2i_ECDSA_SIG(NULL, &p, (long) len);
    if (es == NULL) {
        goto done;
    }

    ECDSA_SIG_get0(es, &r, &s);

    ok = BN_bn2binpad(r, sig, (int) clen) == (int) clen
         && BN_bn2binpad(s, sig + clen, (int) clen) == (int) clen;

    ECDSA_SIG_free(es);
    *sig_len = 2 * clen;

done:

    EVP_MD_CTX_free(mctx);
    ERR_clear_error();

    return ok ? MT_OK : MT_ERR_INTERNAL;
}


static mt_err_t mt_decode_json_cut(json_t **out, const char *part,
    size_t len, size_t max_members, const char *cut);


static mt_err_t
mt_decode_json_part(json_t **out, const char *part, size_t len,
    size_t max_members)
{
    return mt_decode_json_cut(out, part, len, max_members, NULL);
}


/* the same, without the string member cut (when the text allows) */
static mt_err_t
mt_decode_json_cut(json_t **out, const char *part, size_t len,
    size_t max_members, const char *cut)
{
    size_t          n;
    mt_err_t        rc;
    unsigned char  *buf;

    if (len == 0) {
        return MT_ERR_MALFORMED;
    }

    buf = malloc(mt_base64_decoded_max(len));
    if (buf == NULL) {
        return MT_ERR_NOMEM;
    }

    rc = mt_base64url_decode(buf, &n, part, len);

    if (rc == MT_OK) {
        if (cut != NULL) {
            (void) mt_json_cut_string_member((char *) buf, &n, cut,
                                             strlen(cut));
        }

        rc = mt_json_parse_object(out, (const char *) buf, n, max_members);
    }

    free(buf);

    return rc;
}


/* header members that would let the token choose its own key */
static const char  *mt_forbidden_header[] = {
    "jwk", "jku", "x5u", "x5c", "crit"
};


static mt_err_t
mt_jws_check_header(mt_jws_t *jws, const char **kid, size_t *kid_len)
{
    size_t         i;
    json_t        *v;
    const char    *name;

    for (i = 0; i < sizeof(mt_forbidden_header) / sizeof(char *); i++) {
        if (json_object_get(jws->header, mt_forbidden_header[i]) != NULL) {
            return MT_ERR_UNSUPPORTED_ALG;
        }
    }

    if (json_object_get(jws->header, "enc") != NULL) {
        /* a JWE where a JWS is expected */
        return MT_ERR_MALFORMED;
    }

    v = json_object_get(jws->header, "alg");
    if (!json_is_string(v)) {
        return MT_ERR_MALFORMED;
    }

    name = json_string_value(v);
    jws->alg = mt_alg_from_name(name, json_string_length(v));

    if (jws->alg == MT_ALG_NONE) {
        return MT_ERR_UNSUPPORTED_ALG;
    }

    *kid = NULL;
    *kid_len = 0;

    v = json_object_get(jws->header, "kid");

    if (v != NULL) {
        if (!json_is_string(v) || json_string_length(v) > MT_MAX_KID_LEN) {
            return MT_ERR_MALFORMED;
        }

        *kid = json_string_value(v);
        *kid_len = json_string_length(v);
    }

    return MT_OK;
}


/*
 * google-auth before 1.6.3 padded every segment with '='.  A token
 * that holds a '=' must be padded that way throughout: each segment
 * 4n characters long, ending in exactly the '=' its length needs.
 * *n gets the length without the padding; a '=' anywhere else is left
 * to the strict decoder, which refuses it.
 */
static mt_err_t
mt_jws_unpad(const char *seg, size_t len, int padded, size_t *n)
{
    *n = len;

    if (!padded) {
        return MT_OK;
    }

    if (len % 4 != 0) {
        return MT_ERR_MALFORMED;
    }

    if (len > 0 && seg[len - 1] == '=') {
        (*n)--;

        if (seg[len - 2] == '=') {
            (*n)--;
        }
    }

    return MT_OK;
}


mt_err_t
mt_jws_verify(mt_jws_t *jws, const mt_keyset_t *ks, const char *token,
    size_t len)
{
    int                   by_kid, tried, padded;
    size_t                i, hlen, plen, slen, sig_len, kid_len;
    mt_err_t              rc;
    const char           *dot1, *dot2, *kid;
    const mt_key_t       *key;
    unsigned char         sig[MT_MAX_SIG_LEN];

    memset(jws, 0, sizeof(mt_jws_t));

    if (len == 0) {
        return MT_ERR_MISSING;
    }

    if (len > MT_MAX_TOKEN_LEN) {
        return MT_ERR_TOO_LARGE;
    }

    dot1 = memchr(token, '.', len);
    if (dot1 == NULL) {
        return MT_ERR_MALFORMED;
    }

    dot2 = memchr(dot1 + 1, '.', len - (size_t) (dot1 + 1 - token));
    if (dot2 == NULL
        || memchr(dot2 + 1, '.', len - (size_t) (dot2 + 1 - token)) != NULL)
    {
        /* two parts, or four and more (a JWE has five) */
        return MT_ERR_MALFORMED;
    }

    padded = memchr(token, '=', len) != NULL;

    if (mt_jws_unpad(token, (size_t) (dot1 - token), padded, &hlen)
           != MT_OK
        || mt_jws_unpad(dot1 + 1, (size_t) (dot2 - dot1 - 1), padded, &plen)
           != MT_OK
        || mt_jws_unpad(dot2 + 1, len - (size_t) (dot2 + 1 - token), padded,
                        &slen)
           != MT_OK)
    {
        return MT_ERR_MALFORMED;
    }

    if (plen == 0 || slen > mt_base64url_encoded_len(MT_MAX_SIG_LEN)) {
        return MT_ERR_MALFORMED;
    }

    rc = mt_decode_json_part(&jws->header, token, hlen,
                             MT_MAX_HEADER_MEMBERS);
    if (rc != MT_OK) {
        goto failed;
    }

    rc = mt_jws_check_header(jws, &kid, &kid_len);
    if (rc != MT_OK) {
        goto failed;
    }

    /* after the header, so that an unsecured JWT says "alg: none" */
    if (slen == 0) {
        rc = MT_ERR_MALFORMED;
        goto failed;
    }

    rc = mt_base64url_decode(sig, &sig_len, dot2 + 1, slen);
    if (rc != MT_OK) {
        goto failed;
    }

    /*
     * kid is only a lookup key: when a configured key carries the
     * token's kid, only such keys are tried; when none does, only keys
     * without a kid.  A token without kid may be checked by any key.
     */
    by_kid = 0;

    if (kid != NULL) {
        for (i = 0; i < mt_keyset_count(ks); i++) {
            if (mt_key_kid_is(mt_keyset_get(ks, i), kid, kid_len)) {
                by_kid = 1;
                break;
            }
        }
    }

    tried = 0;
    rc = MT_ERR_UNKNOWN_KEY;

    for (i = 0; i < mt_keyset_count(ks); i++) {
        key = mt_keyset_get(ks, i);

        if (kid != NULL
            && (by_kid ? !mt_key_kid_is(key, kid, kid_len)
                       : mt_key_has_kid(key)))
        {
            continue;
        }

        if (!mt_key_fits_alg(key, jws->alg)
            || !mt_key_allows_op(key, MT_KEY_OP_VERIFY))
        {
            continue;
        }

        tried = 1;

        rc = mt_jws_verify_signature(key, jws->alg,
                                     (const unsigned char *) token,
                                     (size_t) (dot2 - token), sig, sig_len);
        if (rc == MT_OK) {
            jws->key = key;
            break;
        }

        if (rc != MT_ERR_BAD_SIGNATURE) {
            goto failed;
        }
    }

    if (!tried) {
        rc = MT_ERR_UNKNOWN_KEY;
    }

    if (rc != MT_OK) {
        goto failed;
    }

    rc = mt_decode_json_part(&jws->claims, dot1 + 1, plen, MT_MAX_CLAIMS);
    if (rc != MT_OK) {
        goto failed;
    }

    return MT_OK;

failed:

    mt_jws_clear(jws);

    return rc;
}


mt_err_t
mt_jws_claims_attested(mt_jws_t *jws, const char *token, size_t len)
{
    return mt_jws_claims_attested_cut(jws, token, len, NULL);
}


mt_err_t
mt_jws_claims_attested_cut(mt_jws_t *jws, const char *token, size_t len,
    const char *cut)
{
    int          padded;
    size_t       plen;
    mt_err_t     rc;
    const char  *dot1, *dot2;

    memset(jws, 0, sizeof(mt_jws_t));

    if (len == 0 || len > MT_MAX_TOKEN_LEN) {
        return MT_ERR_MALFORMED;
    }

    dot1 = memchr(token, '.', len);
    if (dot1 == NULL) {
        return MT_ERR_MALFORMED;
    }

    dot2 = memchr(dot1 + 1, '.', len - (size_t) (dot1 + 1 - token));
    if (dot2 == NULL) {
        return MT_ERR_MALFORMED;
    }

    padded = memchr(token, '=', len) != NULL;

    if (mt_jws_unpad(dot1 + 1, (size_t) (dot2 - dot1 - 1), padded, &plen)
        != MT_OK)
    {
        return MT_ERR_MALFORMED;
    }

    rc = mt_decode_json_cut(&jws->claims, dot1 + 1, plen, MT_MAX_CLAIMS,
                            cut);
    if (rc != MT_OK) {
        mt_jws_clear(jws);
    }

    return rc;
}


void
mt_jws_clear(mt_jws_t *jws)
{
    json_decref(jws->header);
    json_decref(jws->claims);
    memset(jws, 0, sizeof(mt_jws_t));
}
