/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * JWE compact serialisation (RFC 7516) for the encrypted credential.
 *
 *   alg: RSA-OAEP, RSA-OAEP-256, ECDH-ES, ECDH-ES+A128KW, ECDH-ES+A256KW,
 *        A128KW, A256KW, dir
 *   enc: A128GCM, A256GCM, A128CBC-HS256, A256CBC-HS512
 *
 * Every failure after the header has been accepted is the same
 * MT_ERR_DECRYPT.  A failed RSA key decryption goes on with a random
 * content key (RFC 7516 section 11.5), so that neither the answer nor
 * the work done tells a padding failure from a bad tag.  Ephemeral
 * public keys must be on the expected curve; X25519 results of all
 * zeros are refused.
 */

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "mt_core.h"


#define MT_JWE_MAX_HEADER_MEMBERS  16
#define MT_JWE_MAX_KEY             64
#define MT_JWE_MAX_CEK             64


typedef enum {
    MT_JWE_RSA_OAEP = 1,
    MT_JWE_RSA_OAEP_256,
    MT_JWE_ECDH_ES,
    MT_JWE_ECDH_ES_A128KW,
    MT_JWE_ECDH_ES_A256KW,
    MT_JWE_A128KW,
    MT_JWE_A256KW,
    MT_JWE_DIR
} mt_jwe_alg_t;


typedef enum {
    MT_ENC_A128GCM = 1,
    MT_ENC_A256GCM,
    MT_ENC_A128CBC_HS256,
    MT_ENC_A256CBC_HS512
} mt_jwe_enc_t;


static const struct {
    const char    *name;
    mt_jwe_alg_t   alg;
    size_t         kw_len;          /* key wrap key length, if any */
} mt_jwe_algs[] = {
    { "RSA-OAEP",       MT_JWE_RSA_OAEP,       0 },
    { "RSA-OAEP-256",   MT_JWE_RSA_OAEP_256,   0 },
    { "ECDH-ES",        MT_JWE_ECDH_ES,        0 },
    { "ECDH-ES+A128KW", MT_JWE_ECDH_ES_A128KW, 16 },
    { "ECDH-ES+A256KW", MT_JWE_ECDH_ES_A256KW, 32 },
    { "A128KW",         MT_JWE_A128KW,         16 },
    { "A256KW",         MT_JWE_A256KW,         32 },
    { "dir",            MT_JWE_DIR,            0 }
};


static const struct {
    const char    *name;
    mt_jwe_enc_t   enc;
    size_t         key_len;         /* content encryption key */
    size_t         iv_len;
    size_t         tag_len;
} mt_jwe_encs[] = {
    { "A128GCM",        MT_ENC_A128GCM,       16, 12, 16 },
    { "A256GCM",        MT_ENC_A256GCM,       32, 12, 16 },
    { "A128CBC-HS256",  MT_ENC_A128CBC_HS256, 32, 16, 16 },
    { "A256CBC-HS512",  MT_ENC_A256CBC_HS512, 64, 16, 32 }
};


typedef struct {
    mt_jwe_alg_t    alg;
    const char     *alg_name;
    size_t          kw_len;
    mt_jwe_enc_t    enc;
    const char     *enc_name;
    size_t          cek_len;
    size_t          iv_len;
    size_t          tag_len;
} mt_jwe_params_t;


/* the five parts of a compact JWE */
typedef struct {
    const char     *part[5];
    size_t          len[5];
} mt_jwe_parts_t;


static mt_err_t
mt_jwe_split(mt_jwe_parts_t *p, const char *s, size_t len)
{
    size_t       i, n;
    const char  *start, *dot, *end;

    start = s;
    end = s + len;

    for (n = 0; n < 5; n++) {
        dot = (n < 4) ? memchr(start, '.', (size_t) (end - start)) : end;

        if (dot == NULL) {
            return MT_ERR_MALFORMED;
        }

        p->part[n] = start;
        p->len[n] = (size_t) (dot - start);
        start = dot + 1;
    }

    /* no sixth part */
    for (i = 0; i < p->len[4]; i++) {
        if (p->part[4][i] == '.') {
            return MT_ERR_MALFORMED;
        }
    }

    return MT_OK;
}


static mt_err_t
mt_jwe_params(mt_jwe_params_t *jp, const json_t *header)
{
    size_t       i;
    json_t      *v;
    const char  *s;

    memset(jp, 0, sizeof(mt_jwe_params_t));

    /* zip: no decompression bombs; crit: nothing is understood */
    if (json_object_get(header, "zip") || json_object_get(header, "crit")
        || json_object_get(header, "jwk") || json_object_get(header, "jku")
        || json_object_get(header, "x5u") || json_object_get(header, "x5c"))
    {
        return MT_ERR_UNSUPPORTED_ALG;
    }

    v = json_object_get(header, "alg");
    if (!json_is_string(v)) {
        return MT_ERR_MALFORMED;
    }

    s = json_string_value(v);

    for (i = 0; i < sizeof(mt_jwe_algs) / sizeof(mt_jwe_algs[0]); i++) {
        if (strlen(mt_jwe_algs[i].name) == json_string_length(v)
            && strcmp(mt_jwe_algs[i].name, s) == 0)
        {
            jp->alg = mt_jwe_algs[i].alg;
            jp->alg_name = mt_jwe_algs[i].name;
            jp->kw_len = mt_jwe_algs[i].kw_len;
            break;
        }
    }

    v = json_object_get(header, "enc");
    if (!json_is_string(v)) {
        return MT_ERR_MALFORMED;
    }

    s = json_string_value(v);

    for (i = 0; i < sizeof(mt_jwe_encs) / sizeof(mt_jwe_encs[0]); i++) {
        if (strlen(mt_jwe_encs[i].name) == json_string_length(v)
            && strcmp(mt_jwe_encs[i].name, s) == 0)
        {
            jp->enc = mt_jwe_encs[i].enc;
            jp->enc_name = mt_jwe_encs[i].name;
            jp->cek_len = mt_jwe_encs[i].key_len;
            jp->iv_len = mt_jwe_encs[i].iv_len;
            jp->tag_len = mt_jwe_encs[i].tag_len;
            break;
        }
    }

    if (jp->alg == 0 || jp->enc == 0) {
        return MT_ERR_UNSUPPORTED_ALG;
    }

    return MT_OK;
}


/* ---- primitives ------------------------------------------------------ */

static const EVP_CIPHER *
mt_aes_wrap_cipher(size_t key_len)
{
    switch (key_len) {
    case 16:
        return EVP_aes_128_wrap();
    case 32:
        return EVP_aes_256_wrap();
    default:
        return NULL;
    }
}


/* RFC 3394 key wrap (enc) and unwrap: one EVP run either way */
static mt_err_t
mt_aes_kw(int enc, const unsigned char *kek, size_t kek_len,
    const unsigned char *in, size_t in_len, unsigned char *out,
    size_t *out_len)
{
    int               ok, n, m;
    EVP_CIPHER_CTX   *ctx;
    const EVP_CIPHER *cipher;

    cipher = mt_aes_wrap_cipher(kek_len);
    if (cipher == NULL) {
        return MT_ERR_INTERNAL;
    }

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return MT_ERR_NOMEM;
    }

    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);

    ok = EVP_CipherInit_ex(ctx, cipher, NULL, kek, NULL, enc) == 1
         && EVP_CipherUpdate(ctx, out, &n, in, (int) in_len) == 1
         && EVP_CipherFinal_ex(ctx, out + n, &m) == 1;

    EVP_CIPHER_CTX_free(ctx);
    ERR_clear_error();

    if (!ok) {
        return MT_ERR_INTERNAL;
    }

    *out_len = (size_t) (n + m);

    return MT_OK;
}


/* out holds in_len - 8 bytes; a content key is at most 64 bytes */
mt_err_t
mt_aes_unwrap(const unsigned char *kek, size_t kek_len,
    const unsigned char *in, size_t in_len, unsigned char *out,
    size_t *out_len)
{
    mt_err_t  rc;

    if (in_len < 24 || in_len % 8 != 0 || in_len - 8 > MT_JWE_MAX_CEK) {
        return MT_ERR_DECRYPT;
    }

    rc = mt_aes_kw(0, kek, kek_len, in, in_len, out, out_len);

    return rc == MT_ERR_NOMEM ? rc : (rc == MT_OK ? MT_OK : MT_ERR_DECRYPT);
}


/* out holds in_len + 8 bytes */
mt_err_t
mt_aes_wrap(const unsigned char *kek, size_t kek_len,
    const unsigned char *in, size_t in_len, unsigned char *out,
    size_t *out_len)
{
    if (in_len < 16 || in_len % 8 != 0) {
        return MT_ERR_INTERNAL;
    }

    return mt_aes_kw(1, kek, kek_len, in, in_len, out, out_len);
}


/* RSA-OAEP (SHA-1) or RSA-OAEP-256 (SHA-256, MGF1-SHA-256) */
static mt_err_t
mt_rsa_oaep(const mt_key_t *key, int decrypt, const EVP_MD *md,
    const unsigned char *in, size_t in_len, unsigned char *out,
    size_t *out_len)
{
    int            ok;
    EVP_PKEY_CTX  *ctx;

    ctx = EVP_PKEY_CTX_new(mt_key_pkey(key), NULL);
    if (ctx == NULL) {
        return MT_ERR_NOMEM;
    }

    ok = (decrypt ? EVP_PKEY_decrypt_init(ctx) : EVP_PKEY_encrypt_init(ctx))
             == 1
         && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1
         && EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) == 1
         && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1
         && (decrypt ? EVP_PKEY_decrypt(ctx, out, out_len, in, in_len)
                     : EVP_PKEY_encrypt(ctx, out, out_len, in, in_len))
            == 1;

    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();

    return ok ? MT_OK : MT_ERR_DECRYPT;
}


/* length-prefixed field of the Concat KDF OtherInfo */
static unsigned char *
mt_put_field(unsigned char *p, const unsigned char *data, size_t len)
{
    *p++ = (unsigned char) (len >> 24);
    *p++ = (unsigned char) (len >> 16);
    *p++ = (unsigned char) (len >> 8);
    *p++ = (unsigned char) len;

    if (len) {
        memcpy(p, data, len);
    }

    return p + len;
}


/* NIST SP 800-56A Concat KDF with SHA-256, as in RFC 7518 section 4.6.2 */
mt_err_t
mt_concat_kdf(const unsigned char *z, size_t z_len, const char *alg_id,
    const unsigned char *apu, size_t apu_len, const unsigned char *apv,
    size_t apv_len, unsigned char *out, size_t out_len)
{
    int             ok;
    size_t          done, n, info_len;
    uint32_t        round;
    EVP_MD_CTX     *md;
    unsigned char  *info, *p, counter[4], digest[32];

    info_len = 4 + strlen(alg_id) + 4 + apu_len + 4 + apv_len + 4;

    info = malloc(info_len);
    md = EVP_MD_CTX_new();

    if (info == NULL || md == NULL) {
        free(info);
        EVP_MD_CTX_free(md);
        return MT_ERR_NOMEM;
    }

    p = mt_put_field(info, (const unsigned char *) alg_id, strlen(alg_id));
    p = mt_put_field(p, apu, apu_len);
    p = mt_put_field(p, apv, apv_len);

    /* SuppPubInfo: the key length in bits */
    p[0] = (unsigned char) ((out_len * 8) >> 24);
    p[1] = (unsigned char) ((out_len * 8) >> 16);
    p[2] = (unsigned char) ((out_len * 8) >> 8);
    p[3] = (unsigned char) (out_len * 8);

    ok = 1;

    for (done = 0, round = 1; ok && done < out_len; round++) {
        counter[0] = (unsigned char) (round >> 24);
        counter[1] = (unsigned char) (round >> 16);
        counter[2] = (unsigned char) (round >> 8);
        counter[3] = (unsigned char) round;

        ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
             && EVP_DigestUpdate(md, counter, 4) == 1
             && EVP_DigestUpdate(md, z, z_len) == 1
             && EVP_DigestUpdate(md, info, info_len) == 1
             && EVP_DigestFinal_ex(md, digest, NULL) == 1;

        n = out_len - done < 32 ? out_len - done : 32;
        memcpy(out + done, digest, n);
        done += n;
    }

    OPENSSL_cleanse(digest, sizeof(digest));
    EVP_MD_CTX_free(md);
    free(info);

    return ok ? MT_OK : MT_ERR_INTERNAL;
}


/* decode a base64url header member of at most max bytes; absent: empty */
static mt_err_t
mt_header_b64(const json_t *header, const char *name, unsigned char *out,
    size_t max, size_t *out_len)
{
    size_t   len;
    json_t  *v;

    *out_len = 0;

    v = json_object_get(header, name);
    if (v == NULL) {
        return MT_OK;
    }

    if (!json_is_string(v)) {
        return MT_ERR_MALFORMED;
    }

    len = json_string_length(v);

    if (mt_base64_decoded_max(len) > max) {
        return MT_ERR_MALFORMED;
    }

    return mt_base64url_decode(out, out_len, json_string_value(v), len);
}


/*
 * The ephemeral public key of ECDH-ES, on the curve of our key: EC
 * points must decode and pass the public key check, X25519 keys must
 * be 32 bytes.
 */
mt_err_t
mt_epk_load(const json_t *epk, const mt_key_t *key, EVP_PKEY **out)
{
    int              ok;
    char             group[64];
    size_t           xl, yl, clen, glen;
    json_t          *kty, *crv;
    EVP_PKEY        *peer;
    EVP_PKEY_CTX    *ctx;
    OSSL_PARAM_BLD  *bld;
    OSSL_PARAM      *params;
    unsigned char    x[80], y[80], point[1 + 2 * 66];

    *out = NULL;

    if (!json_is_object(epk)) {
        return MT_ERR_MALFORMED;
    }

    kty = json_object_get(epk, "kty");
    crv = json_object_get(epk, "crv");

    if (!json_is_string(kty) || !json_is_string(crv)) {
        return MT_ERR_MALFORMED;
    }

    if (mt_header_b64(epk, "x", x, sizeof(x), &xl) != MT_OK || xl == 0) {
        return MT_ERR_MALFORMED;
    }

    if (strcmp(json_string_value(kty), "OKP") == 0) {
        if (strcmp(json_string_value(crv), "X25519") != 0 || xl != 32
            || EVP_PKEY_get_base_id(mt_key_pkey(key)) != EVP_PKEY_X25519)
        {
            return MT_ERR_DECRYPT;
        }

        peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, x, xl);
        if (peer == NULL) {
            ERR_clear_error();
            return MT_ERR_DECRYPT;
        }

        *out = peer;
        return MT_OK;
    }

    if (strcmp(json_string_value(kty), "EC") != 0
        || mt_key_type(key) != MT_KTY_EC)
    {
        return MT_ERR_DECRYPT;
    }

    if (EVP_PKEY_get_utf8_string_param(mt_key_pkey(key),
                                       OSSL_PKEY_PARAM_GROUP_NAME, group,
                                       sizeof(group), &glen) != 1)
    {
        ERR_clear_error();
        return MT_ERR_DECRYPT;
    }

    if (strcmp(group, "prime256v1") == 0) {
        clen = 32;
        ok = strcmp(json_string_value(crv), "P-256") == 0;

    } else if (strcmp(group, "secp384r1") == 0) {
        clen = 48;
        ok = strcmp(json_string_value(crv), "P-384") == 0;

    } else {
        clen = 66;
        ok = strcmp(json_string_value(crv), "P-521") == 0;
    }

    if (!ok || mt_header_b64(epk, "y", y, sizeof(y), &yl) != MT_OK
        || xl != clen || yl != clen)
    {
        return MT_ERR_DECRYPT;
    }

    point[0] = 0x04;
    memcpy(point + 1, x, clen);
    memcpy(point + 1 + clen, y, clen);

    peer = NULL;
    params = NULL;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    bld = OSSL_PARAM_BLD_new();

    ok = ctx != NULL && bld != NULL
         && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                            group, 0) == 1
         && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                             point, 1 + 2 * clen) == 1
         && (params = OSSL_PARAM_BLD_to_param(bld)) != NULL
         && EVP_PKEY_fromdata_init(ctx) == 1
         && EVP_PKEY_fromdata(ctx, &peer, EVP_PKEY_PUBLIC_KEY, params) == 1;

    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);

    if (ok) {
        /* invalid-curve attacks: the point must be on our curve */
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, peer, NULL);
        ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
        EVP_PKEY_CTX_free(ctx);
    }

    ERR_clear_error();

    if (!ok) {
        EVP_PKEY_free(peer);
        return MT_ERR_DECRYPT;
    }

    *out = peer;

    return MT_OK;
}


mt_err_t
mt_ecdh(EVP_PKEY *ours, EVP_PKEY *peer, unsigned char *z, size_t *z_len)
{
    int             ok;
    size_t          i;
    unsigned char   acc;
    EVP_PKEY_CTX   *ctx;

    ctx = EVP_PKEY_CTX_new(ours, NULL);
    if (ctx == NULL) {
        return MT_ERR_NOMEM;
    }

    ok = EVP_PKEY_derive_init(ctx) == 1
         && EVP_PKEY_derive_set_peer(ctx, peer) == 1
         && EVP_PKEY_derive(ctx, z, z_len) == 1;

    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();

    if (!ok) {
        return MT_ERR_DECRYPT;
    }

    if (EVP_PKEY_get_base_id(ours) != EVP_PKEY_X25519) {
        return MT_OK;
    }

    /* RFC 7748 section 6.1: an all-zero X25519 result is refused */
    for (acc = 0, i = 0; i < *z_len; i++) {
        acc |= z[i];
    }

    return acc ? MT_OK : MT_ERR_DECRYPT;
}


/* ---- content encryption ---------------------------------------------- */

mt_err_t
mt_gcm(int decrypt, const unsigned char *key, size_t key_len,
    const unsigned char *iv, const unsigned char *aad, size_t aad_len,
    const unsigned char *in, size_t in_len, unsigned char *tag,
    unsigned char *out)
{
    int               ok, n, m;
    EVP_CIPHER_CTX   *ctx;
    const EVP_CIPHER *cipher;

    if (key_len != 16 && key_len != 32) {
        return MT_ERR_INTERNAL;
    }

    cipher = key_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return MT_ERR_NOMEM;
    }

    ok = EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, !decrypt) == 1
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1
         && EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, !decrypt) == 1
         && (aad_len == 0
             || EVP_CipherUpdate(ctx, NULL, &n, aad, (int) aad_len) == 1)
         && EVP_CipherUpdate(ctx, out, &n, in, (int) in_len) == 1
         && (!decrypt
             || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1)
         && EVP_CipherFinal_ex(ctx, out + n, &m) == 1
         && (decrypt
             || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1);

    EVP_CIPHER_CTX_free(ctx);
    ERR_clear_error();

    return ok ? MT_OK : MT_ERR_DECRYPT;
}


/* RFC 7518 section 5.2: AES-CBC with an HMAC-SHA2 tag over AAD|IV|CT|AL */
static mt_err_t
mt_cbc_hmac_tag(const mt_jwe_params_t *jp, const unsigned char *mac_key,
    const unsigned char *aad, size_t aad_len, const unsigned char *iv,
    const unsigned char *ct, size_t ct_len, unsigned char *tag)
{
    int             i;
    size_t          len;
    uint64_t        bits;
    unsigned int    md_len;
    unsigned char  *buf, *p, full[EVP_MAX_MD_SIZE];

    len = aad_len + jp->iv_len + ct_len + 8;

    buf = malloc(len);
    if (buf == NULL) {
        return MT_ERR_NOMEM;
    }

    p = buf;
    memcpy(p, aad, aad_len);
    p += aad_len;
    memcpy(p, iv, jp->iv_len);
    p += jp->iv_len;
    memcpy(p, ct, ct_len);
    p += ct_len;

    /* AL: the AAD length in bits, 64-bit big-endian */
    bits = (uint64_t) aad_len * 8;

    for (i = 7; i >= 0; i--) {
        p[i] = (unsigned char) bits;
        bits >>= 8;
    }

    p = HMAC(jp->enc == MT_ENC_A128CBC_HS256 ? EVP_sha256() : EVP_sha512(),
             mac_key, (int) (jp->cek_len / 2), buf, len, full, &md_len);

    free(buf);

    if (p == NULL) {
        ERR_clear_error();
        return MT_ERR_INTERNAL;
    }

    memcpy(tag, full, jp->tag_len);
    OPENSSL_cleanse(full, sizeof(full));

    return MT_OK;
}


static mt_err_t
mt_cbc_hmac(int decrypt, const mt_jwe_params_t *jp, const unsigned char *cek,
    const unsigned char *iv, const unsigned char *aad, size_t aad_len,
    const unsigned char *in, size_t in_len, unsigned char *tag,
    unsigned char *out, size_t *out_len)
{
    int               ok, n, m;
    size_t            half;
    mt_err_t          rc;
    EVP_CIPHER_CTX   *ctx;
    unsigned char     expect[32];

    half = jp->cek_len / 2;

    if (decrypt) {
        rc = mt_cbc_hmac_tag(jp, cek, aad, aad_len, iv, in, in_len, expect);
        if (rc != MT_OK) {
            return rc;
        }

        if (CRYPTO_memcmp(expect, tag, jp->tag_len) != 0) {
            return MT_ERR_DECRYPT;
        }
    }

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return MT_ERR_NOMEM;
    }

    ok = EVP_CipherInit_ex(ctx, half == 16 ? EVP_aes_128_cbc()
                                           : EVP_aes_256_cbc(),
                           NULL, cek + half, iv, !decrypt) == 1
         && EVP_CipherUpdate(ctx, out, &n, in, (int) in_len) == 1
         && EVP_CipherFinal_ex(ctx, out + n, &m) == 1;

    EVP_CIPHER_CTX_free(ctx);
    ERR_clear_error();

    if (!ok) {
        return MT_ERR_DECRYPT;
    }

    *out_len = (size_t) (n + m);

    if (!decrypt) {
        return mt_cbc_hmac_tag(jp, cek, aad, aad_len, iv, out, *out_len,
                               tag);
    }

    return MT_OK;
}


/* ---- key management ---------------------------------------------------- */

static int
mt_jwe_key_fits(const mt_key_t *key, const mt_jwe_params_t *jp)
{
    size_t  len;

    if (!mt_key_has_private(key)
        || !mt_key_for_jwe_alg(key, jp->alg_name, jp->enc_name))
    {
        return 0;
    }

    switch (jp->alg) {

    case MT_JWE_RSA_OAEP:
    case MT_JWE_RSA_OAEP_256:
        return mt_key_type(key) == MT_KTY_RSA;

    case MT_JWE_ECDH_ES:
    case MT_JWE_ECDH_ES_A128KW:
    case MT_JWE_ECDH_ES_A256KW:
        return mt_key_type(key) == MT_KTY_EC
               || (mt_key_type(key) == MT_KTY_OKP
                   && EVP_PKEY_get_base_id(mt_key_pkey(key))
                      == EVP_PKEY_X25519);

    case MT_JWE_A128KW:
    case MT_JWE_A256KW:
        return mt_key_type(key) == MT_KTY_OCT
               && mt_key_secret(key, &len) != NULL && len == jp->kw_len;

    case MT_JWE_DIR:
        return mt_key_type(key) == MT_KTY_OCT
               && mt_key_secret(key, &len) != NULL && len == jp->cek_len;
    }

    return 0;
}


/* recover the content encryption key with one key */
static mt_err_t
mt_jwe_cek(const mt_key_t *key, const mt_jwe_params_t *jp,
    const json_t *header, const unsigned char *ek, size_t ek_len,
    unsigned char *cek)
{
    size_t                n, z_len, apu_len, apv_len, secret_len;
    mt_err_t              rc;
    EVP_PKEY             *peer;
    const unsigned char  *secret;
    unsigned char         buf[1024], z[80], kek[32], apu[256], apv[256];

    switch (jp->alg) {

    case MT_JWE_RSA_OAEP:
    case MT_JWE_RSA_OAEP_256:
        n = sizeof(buf);

        if (ek_len != (size_t) EVP_PKEY_get_size(mt_key_pkey(key))) {
            return MT_ERR_DECRYPT;
        }

        rc = mt_rsa_oaep(key, 1, jp->alg == MT_JWE_RSA_OAEP ? EVP_sha1()
                                                            : EVP_sha256(),
                         ek, ek_len, buf, &n);

        if (rc == MT_OK && n == jp->cek_len) {
            memcpy(cek, buf, n);
            OPENSSL_cleanse(buf, sizeof(buf));
            return MT_OK;
        }

        OPENSSL_cleanse(buf, sizeof(buf));
        return MT_ERR_DECRYPT;

    case MT_JWE_A128KW:
    case MT_JWE_A256KW:
        secret = mt_key_secret(key, &secret_len);

        rc = mt_aes_unwrap(secret, secret_len, ek, ek_len, buf, &n);

        if (rc == MT_OK && n == jp->cek_len) {
            memcpy(cek, buf, n);
            OPENSSL_cleanse(buf, sizeof(buf));
            return MT_OK;
        }

        OPENSSL_cleanse(buf, sizeof(buf));
        return MT_ERR_DECRYPT;

    case MT_JWE_DIR:
        if (ek_len != 0) {
            return MT_ERR_DECRYPT;
        }

        secret = mt_key_secret(key, &secret_len);
        memcpy(cek, secret, jp->cek_len);
        return MT_OK;

    default:
        break;
    }

    /* ECDH-ES, direct or with key wrapping */

    if (mt_header_b64(header, "apu", apu, sizeof(apu), &apu_len) != MT_OK
        || mt_header_b64(header, "apv", apv, sizeof(apv), &apv_len) != MT_OK)
    {
        return MT_ERR_MALFORMED;
    }

    rc = mt_epk_load(json_object_get(header, "epk"), key, &peer);
    if (rc != MT_OK) {
        return rc;
    }

    z_len = sizeof(z);
    rc = mt_ecdh(mt_key_pkey(key), peer, z, &z_len);
    EVP_PKEY_free(peer);

    if (rc != MT_OK) {
        OPENSSL_cleanse(z, sizeof(z));
        return rc;
    }

    if (jp->alg == MT_JWE_ECDH_ES) {
        if (ek_len != 0) {
            rc = MT_ERR_DECRYPT;

        } else {
            rc = mt_concat_kdf(z, z_len, jp->enc_name, apu, apu_len, apv,
                               apv_len, cek, jp->cek_len);
        }

        OPENSSL_cleanse(z, sizeof(z));
        return rc;
    }

    rc = mt_concat_kdf(z, z_len, jp->alg_name, apu, apu_len, apv, apv_len,
                       kek, jp->kw_len);
    OPENSSL_cleanse(z, sizeof(z));

    if (rc == MT_OK) {
        rc = mt_aes_unwrap(kek, jp->kw_len, ek, ek_len, buf, &n);

        if (rc == MT_OK && n == jp->cek_len) {
            memcpy(cek, buf, n);

        } else {
            rc = MT_ERR_DECRYPT;
        }
    }

    OPENSSL_cleanse(kek, sizeof(kek));
    OPENSSL_cleanse(buf, sizeof(buf));

    return rc;
}


/* ---- decryption ------------------------------------------------------- */

static mt_err_t
mt_jwe_content(const mt_jwe_params_t *jp, const unsigned char *cek,
    const unsigned char *iv, const mt_jwe_parts_t *p, const unsigned char *ct,
    size_t ct_len, unsigned char *tag, unsigned char *plain, size_t *n)
{
    mt_err_t  rc;

    /* the AAD is the encoded protected header, as sent */
    if (jp->enc == MT_ENC_A128GCM || jp->enc == MT_ENC_A256GCM) {
        rc = mt_gcm(1, cek, jp->cek_len, iv, (const unsigned char *) p->part[0],
                    p->len[0], ct, ct_len, tag, plain);
        *n = ct_len;
        return rc;
    }

    return mt_cbc_hmac(1, jp, cek, iv, (const unsigned char *) p->part[0],
                       p->len[0], ct, ct_len, tag, plain, n);
}


mt_err_t
mt_jwe_decrypt(const mt_keyset_t *ks, const char *jwe, size_t len,
    unsigned char **out, size_t *out_len)
{
    int               found, tried;
    size_t            i, n, iv_len, ct_len, tag_len, ek_len, kid_len, cap;
    json_t           *header, *kid;
    mt_err_t          rc;
    mt_jwe_parts_t    p;
    mt_jwe_params_t   jp;
    const char       *kid_s;
    const mt_key_t   *key;
    unsigned char    *ct, *plain, *hbuf;
    unsigned char     ek[1024], iv[16], tag[32], cek[MT_JWE_MAX_CEK];

    *out = NULL;
    *out_len = 0;

    if (len == 0 || len > MT_MAX_TOKEN_LEN) {
        return MT_ERR_DECRYPT;
    }

    rc = mt_jwe_split(&p, jwe, len);
    if (rc != MT_OK) {
        return rc;
    }

    if (p.len[0] == 0 || p.len[2] == 0 || p.len[3] == 0 || p.len[4] == 0) {
        return MT_ERR_MALFORMED;
    }

    hbuf = malloc(mt_base64_decoded_max(p.len[0]));
    if (hbuf == NULL) {
        return MT_ERR_NOMEM;
    }

    rc = mt_base64url_decode(hbuf, &n, p.part[0], p.len[0]);

    if (rc == MT_OK) {
        rc = mt_json_parse_object(&header, (char *) hbuf, n,
                                  MT_JWE_MAX_HEADER_MEMBERS);
    }

    free(hbuf);

    if (rc != MT_OK) {
        return rc;
    }

    rc = mt_jwe_params(&jp, header);
    if (rc != MT_OK) {
        json_decref(header);
        return rc;
    }

    /* the fixed-size parts */
    if (mt_base64_decoded_max(p.len[1]) > sizeof(ek)
        || mt_base64url_decode(ek, &ek_len, p.part[1], p.len[1]) != MT_OK
        || mt_base64_decoded_max(p.len[2]) > sizeof(iv) + 2
        || p.len[2] != mt_base64url_encoded_len(jp.iv_len)
        || mt_base64url_decode(iv, &iv_len, p.part[2], p.len[2]) != MT_OK
        || iv_len != jp.iv_len
        || p.len[4] != mt_base64url_encoded_len(jp.tag_len)
        || mt_base64url_decode(tag, &tag_len, p.part[4], p.len[4]) != MT_OK
        || tag_len != jp.tag_len)
    {
        json_decref(header);
        return MT_ERR_MALFORMED;
    }

    kid_s = NULL;
    kid_len = 0;
    kid = json_object_get(header, "kid");

    if (kid != NULL) {
        if (!json_is_string(kid) || json_string_length(kid) > MT_MAX_KID_LEN) {
            json_decref(header);
            return MT_ERR_MALFORMED;
        }

        kid_s = json_string_value(kid);
        kid_len = json_string_length(kid);

        for (found = 0, i = 0; i < mt_keyset_count(ks); i++) {
            if (mt_key_kid_is(mt_keyset_get(ks, i), kid_s, kid_len)) {
                found = 1;
                break;
            }
        }

        if (!found) {
            kid_s = NULL;       /* only keys without a kid, below */
        }
    }

    ct_len = p.len[3];
    cap = mt_base64_decoded_max(ct_len) + 32;

    ct = malloc(mt_base64_decoded_max(ct_len));
    plain = OPENSSL_malloc(cap);

    if (ct == NULL || plain == NULL
        || mt_base64url_decode(ct, &ct_len, p.part[3], p.len[3]) != MT_OK)
    {
        rc = (ct == NULL || plain == NULL) ? MT_ERR_NOMEM : MT_ERR_MALFORMED;
        free(ct);
        OPENSSL_free(plain);
        json_decref(header);
        return rc;
    }

    /*
     * Every fitting key is tried up to the content tag: with "dir" and
     * direct ECDH-ES any key yields some content key, only the tag tells
     * the right one.
     */
    tried = 0;
    rc = MT_ERR_DECRYPT;

    for (i = 0; i < mt_keyset_count(ks) && rc != MT_OK; i++) {
        key = mt_keyset_get(ks, i);

        if (kid != NULL && (kid_s != NULL ? !mt_key_kid_is(key, kid_s,
                                                            kid_len)
                                          : mt_key_has_kid(key)))
        {
            continue;
        }

        if (!mt_jwe_key_fits(key, &jp)) {
            continue;
        }

        rc = mt_jwe_cek(key, &jp, header, ek, ek_len, cek);

        if (rc == MT_ERR_NOMEM) {
            break;
        }

        if (rc != MT_OK) {
            continue;
        }

        tried = 1;
        rc = mt_jwe_content(&jp, cek, iv, &p, ct, ct_len, tag, plain, &n);
    }

    if (rc != MT_OK && rc != MT_ERR_NOMEM && !tried) {
        /*
         * RFC 7516 section 11.5: no key recovered a content key; the
         * content is checked with a random one all the same, so that a
         * padding failure takes the time of a bad tag.
         */
        if (RAND_bytes(cek, (int) jp.cek_len) == 1) {
            (void) mt_jwe_content(&jp, cek, iv, &p, ct, ct_len, tag, plain,
                                  &n);
        }

        rc = MT_ERR_DECRYPT;
    }

    json_decref(header);
    OPENSSL_cleanse(cek, sizeof(cek));
    free(ct);

    if (rc != MT_OK) {
        OPENSSL_clear_free(plain, cap);
        return rc == MT_ERR_NOMEM ? rc : MT_ERR_DECRYPT;
    }

    *out = plain;
    *out_len = n;

    return MT_OK;
}


/* ---- encryption (minting and tests) ----------------------------------- */

static mt_err_t
mt_jwe_epk_json(EVP_PKEY *eph, json_t **out)
{
    char            group[64];
    size_t          len, glen, clen;
    json_t         *epk;
    unsigned char   point[1 + 2 * 66], raw[32];
    char            b64[100];

    epk = json_object();
    if (epk == NULL) {
        return MT_ERR_NOMEM;
    }

    if (EVP_PKEY_get_base_id(eph) == EVP_PKEY_X25519) {
        len = sizeof(raw);

        if (EVP_PKEY_get_raw_public_key(eph, raw, &len) != 1) {
            json_decref(epk);
            return MT_ERR_INTERNAL;
        }

        b64[mt_base64url_encode(b64, raw, len)] = '\0';
        json_object_set_new(epk, "kty", json_string("OKP"));
        json_object_set_new(epk, "crv", json_string("X25519"));
        json_object_set_new(epk, "x", json_string(b64));

        *out = epk;
        return MT_OK;
    }

    if (EVP_PKEY_get_utf8_string_param(eph, OSSL_PKEY_PARAM_GROUP_NAME,
                                       group, sizeof(group), &glen) != 1
        || EVP_PKEY_get_octet_string_param(eph,
                                           OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                           point, sizeof(point), &len) != 1
        || point[0] != 0x04)
    {
        json_decref(epk);
        return MT_ERR_INTERNAL;
    }

    clen = (len - 1) / 2;

    json_object_set_new(epk, "kty", json_string("EC"));
    json_object_set_new(epk, "crv",
                        json_string(clen == 32 ? "P-256"
                                    : clen == 48 ? "P-384" : "P-521"));
    b64[mt_base64url_encode(b64, point + 1, clen)] = '\0';
    json_object_set_new(epk, "x", json_string(b64));
    b64[mt_base64url_encode(b64, point + 1 + clen, clen)] = '\0';
    json_object_set_new(epk, "y", json_string(b64));

    *out = epk;

    return MT_OK;
}


static mt_err_t
mt_jwe_ephemeral(const mt_key_t *key, EVP_PKEY **eph)
{
    EVP_PKEY_CTX  *ctx;

    *eph = NULL;

    if (EVP_PKEY_get_base_id(mt_key_pkey(key)) == EVP_PKEY_X25519) {
        ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);

        if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1
            || EVP_PKEY_keygen(ctx, eph) != 1)
        {
            EVP_PKEY_CTX_free(ctx);
            return MT_ERR_INTERNAL;
        }

    } else {
        /* a fresh key with the parameters (the curve) of ours */
        ctx = EVP_PKEY_CTX_new(mt_key_pkey(key), NULL);

        if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1
            || EVP_PKEY_keygen(ctx, eph) != 1)
        {
            EVP_PKEY_CTX_free(ctx);
            return MT_ERR_INTERNAL;
        }
    }

    EVP_PKEY_CTX_free(ctx);

    return MT_OK;
}


mt_err_t
mt_jwe_encrypt(const mt_key_t *key, const char *alg, const char *enc,
    const char *kid, const unsigned char *plain, size_t len, char **out,
    size_t *out_len)
{
    char             *hdr_s, *res, *w;
    size_t            n, ek_len, ct_len, z_len, secret_len, hlen;
    json_t           *header, *epk;
    mt_err_t          rc;
    EVP_PKEY         *eph;
    mt_jwe_params_t   jp;
    const unsigned char  *secret;
    unsigned char     cek[MT_JWE_MAX_CEK], iv[16], tag[32], ek[1024];
    unsigned char     z[80], kek[32], *ct;

    *out = NULL;
    eph = NULL;

    header = json_object();
    if (header == NULL) {
        return MT_ERR_NOMEM;
    }

    json_object_set_new(header, "alg", json_string(alg));
    json_object_set_new(header, "enc", json_string(enc));

    if (kid != NULL) {
        json_object_set_new(header, "kid", json_string(kid));
    }

    rc = mt_jwe_params(&jp, header);
    if (rc != MT_OK || len > MT_MAX_CREDENTIAL_LEN * 4) {
        json_decref(header);
        return rc != MT_OK ? rc : MT_ERR_TOO_LARGE;
    }

    ek_len = 0;

    if (RAND_bytes(cek, (int) jp.cek_len) != 1
        || RAND_bytes(iv, (int) jp.iv_len) != 1)
    {
        json_decref(header);
        return MT_ERR_INTERNAL;
    }

    switch (jp.alg) {

    case MT_JWE_RSA_OAEP:
    case MT_JWE_RSA_OAEP_256:
        if (mt_key_type(key) != MT_KTY_RSA) {
            rc = MT_ERR_UNKNOWN_KEY;
            break;
        }

        ek_len = sizeof(ek);
        rc = mt_rsa_oaep(key, 0, jp.alg == MT_JWE_RSA_OAEP ? EVP_sha1()
                                                           : EVP_sha256(),
                         cek, jp.cek_len, ek, &ek_len);
        break;

    case MT_JWE_A128KW:
    case MT_JWE_A256KW:
        secret = mt_key_secret(key, &secret_len);

        if (secret == NULL || secret_len != jp.kw_len) {
            rc = MT_ERR_UNKNOWN_KEY;
            break;
        }

        rc = mt_aes_wrap(secret, secret_len, cek, jp.cek_len, ek, &ek_len);
        break;

    case MT_JWE_DIR:
        secret = mt_key_secret(key, &secret_len);

        if (secret == NULL || secret_len != jp.cek_len) {
            rc = MT_ERR_UNKNOWN_KEY;
            break;
        }

        memcpy(cek, secret, jp.cek_len);
        break;

    default:
        /* ECDH-ES: an ephemeral key on the recipient's curve */
        if (mt_key_type(key) != MT_KTY_EC
            && EVP_PKEY_get_base_id(mt_key_pkey(key)) != EVP_PKEY_X25519)
        {
            rc = MT_ERR_UNKNOWN_KEY;
            break;
        }

        rc = mt_jwe_ephemeral(key, &eph);
        if (rc != MT_OK) {
            break;
        }

        rc = mt_jwe_epk_json(eph, &epk);
        if (rc != MT_OK) {
            break;
        }

        json_object_set_new(header, "epk", epk);

        z_len = sizeof(z);
        rc = mt_ecdh(eph, mt_key_pkey(key), z, &z_len);
        if (rc != MT_OK) {
            break;
        }

        if (jp.alg == MT_JWE_ECDH_ES) {
            rc = mt_concat_kdf(z, z_len, jp.enc_name, NULL, 0, NULL, 0, cek,
                               jp.cek_len);

        } else {
            rc = mt_concat_kdf(z, z_len, jp.alg_name, NULL, 0, NULL, 0, kek,
                               jp.kw_len);
            if (rc == MT_OK) {
                rc = mt_aes_wrap(kek, jp.kw_len, cek, jp.cek_len, ek,
                                 &ek_len);
            }
        }

        OPENSSL_cleanse(z, sizeof(z));
        OPENSSL_cleanse(kek, sizeof(kek));
        break;
    }

    EVP_PKEY_free(eph);

    if (rc != MT_OK) {
        json_decref(header);
        OPENSSL_cleanse(cek, sizeof(cek));
        return rc;
    }

    hdr_s = json_dumps(header, JSON_COMPACT);
    json_decref(header);

    ct = malloc(len + 32);

    if (hdr_s == NULL || ct == NULL) {
        free(hdr_s);
        free(ct);
        OPENSSL_cleanse(cek, sizeof(cek));
        return MT_ERR_NOMEM;
    }

    hlen = mt_base64url_encoded_len(strlen(hdr_s));

    res = malloc(hlen + mt_base64url_encoded_len(ek_len)
                 + mt_base64url_encoded_len(jp.iv_len)
                 + mt_base64url_encoded_len(len + 32)
                 + mt_base64url_encoded_len(jp.tag_len) + 5);
    if (res == NULL) {
        free(hdr_s);
        free(ct);
        OPENSSL_cleanse(cek, sizeof(cek));
        return MT_ERR_NOMEM;
    }

    w = res + mt_base64url_encode(res, (unsigned char *) hdr_s,
                                  strlen(hdr_s));
    free(hdr_s);

    if (jp.enc == MT_ENC_A128GCM || jp.enc == MT_ENC_A256GCM) {
        rc = mt_gcm(0, cek, jp.cek_len, iv, (unsigned char *) res, hlen,
                    plain, len, tag, ct);
        ct_len = len;

    } else {
        rc = mt_cbc_hmac(0, &jp, cek, iv, (unsigned char *) res, hlen, plain,
                         len, tag, ct, &ct_len);
    }

    OPENSSL_cleanse(cek, sizeof(cek));

    if (rc != MT_OK) {
        free(ct);
        free(res);
        return MT_ERR_INTERNAL;
    }

    *w++ = '.';
    w += mt_base64url_encode(w, ek, ek_len);
    *w++ = '.';
    w += mt_base64url_encode(w, iv, jp.iv_len);
    *w++ = '.';
    w += mt_base64url_encode(w, ct, ct_len);
    *w++ = '.';
    w += mt_base64url_encode(w, tag, jp.tag_len);
    *w = '\0';

    free(ct);

    n = (size_t) (w - res);
    *out = res;
    *out_len = n;

    return MT_OK;
}
