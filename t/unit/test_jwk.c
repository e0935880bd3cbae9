/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * mt_keyset_add_jwks(): JSON Web Keys and JWK Sets (RFC 7517, RFC 7518
 * section 6, RFC 8037).  The RFC 7520 keys, keys generated here and
 * exported as JWKs, and every way a JWK file can be wrong.
 */

#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "mt_core.h"
#include "tap.h"


static char  err[512];


/* ---- JWK export of an EVP_PKEY (the test's own encoder) ----------- */

static void
put_b64(json_t *obj, const char *name, const unsigned char *p, size_t len)
{
    char  *s;

    s = b64url_str(p, len);
    json_object_set_new(obj, name, json_string(s));
    free(s);
}


static void
put_bn(json_t *obj, const char *name, EVP_PKEY *pkey, const char *param,
    int pad)
{
    int             n;
    BIGNUM         *bn;
    unsigned char   buf[1024];

    bn = NULL;

    if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1) {
        diag("no %s", param);
        return;
    }

    n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    put_b64(obj, name, buf, (size_t) n);
    BN_clear_free(bn);
}


/* the JWK of a generated key, as a JSON object */
static json_t *
pkey_jwk(EVP_PKEY *pkey, int private)
{
    size_t          clen, len;
    json_t         *jwk;
    unsigned char   buf[256];
    char            group[64];

    jwk = json_object();

    switch (EVP_PKEY_get_base_id(pkey)) {

    case EVP_PKEY_RSA:
        json_object_set_new(jwk, "kty", json_string("RSA"));
        put_bn(jwk, "n", pkey, OSSL_PKEY_PARAM_RSA_N, 0);
        put_bn(jwk, "e", pkey, OSSL_PKEY_PARAM_RSA_E, 0);

        if (private) {
            put_bn(jwk, "d", pkey, OSSL_PKEY_PARAM_RSA_D, 0);
            put_bn(jwk, "p", pkey, OSSL_PKEY_PARAM_RSA_FACTOR1, 0);
            put_bn(jwk, "q", pkey, OSSL_PKEY_PARAM_RSA_FACTOR2, 0);
            put_bn(jwk, "dp", pkey, OSSL_PKEY_PARAM_RSA_EXPONENT1, 0);
            put_bn(jwk, "dq", pkey, OSSL_PKEY_PARAM_RSA_EXPONENT2, 0);
            put_bn(jwk, "qi", pkey, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, 0);
        }

        break;

    case EVP_PKEY_EC:
        EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                       group, sizeof(group), &len);
        clen = strcmp(group, "prime256v1") == 0 ? 32
               : strcmp(group, "secp384r1") == 0 ? 48 : 66;

        json_object_set_new(jwk, "kty", json_string("EC"));
        json_object_set_new(jwk, "crv", json_string(
            clen == 32 ? "P-256" : clen == 48 ? "P-384" : "P-521"));

        EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, buf,
                                        sizeof(buf), &len);
        put_b64(jwk, "x", buf + 1, clen);
        put_b64(jwk, "y", buf + 1 + clen, clen);

        if (private) {
            put_bn(jwk, "d", pkey, OSSL_PKEY_PARAM_PRIV_KEY, (int) clen);
        }

        break;

    default:    /* ED25519, X25519 */
        json_object_set_new(jwk, "kty", json_string("OKP"));
        json_object_set_new(jwk, "crv", json_string(
            EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519 ? "Ed25519"
                                                           : "X25519"));
        len = sizeof(buf);
        EVP_PKEY_get_raw_public_key(pkey, buf, &len);
        put_b64(jwk, "x", buf, len);

        if (private) {
            len = sizeof(buf);
            EVP_PKEY_get_raw_private_key(pkey, buf, &len);
            put_b64(jwk, "d", buf, len);
        }
    }

    return jwk;
}


/* load a JSON object as a JWK file */
static mt_err_t
add_json(mt_keyset_t *ks, json_t *obj)
{
    char      *text;
    mt_err_t   rc;

    text = json_dumps(obj, JSON_COMPACT);
    err[0] = '\0';
    rc = add_jwk(ks, text, err, sizeof(err));
    free(text);

    return rc;
}


/* load JWK text into a fresh keyset; the error code, keyset freed */
static mt_err_t
try_jwk(const char *text)
{
    mt_err_t      rc;
    mt_keyset_t  *ks;

    ks = mt_keyset_new();
    err[0] = '\0';
    rc = add_jwk(ks, text, err, sizeof(err));

    if (rc != MT_OK && mt_keyset_count(ks) != 0) {
        diag("a failed load left %zu keys", mt_keyset_count(ks));
        rc = MT_ERR_INTERNAL;
    }

    mt_keyset_free(ks);

    return rc;
}


/* the object with one member replaced (value NULL: removed) */
static mt_err_t
try_with(json_t *base, const char *name, json_t *value)
{
    json_t    *copy;
    mt_err_t   rc;
    char      *text;

    copy = json_deep_copy(base);

    if (value == NULL) {
        json_object_del(copy, name);
    } else {
        json_object_set_new(copy, name, value);
    }

    text = json_dumps(copy, JSON_COMPACT);
    rc = try_jwk(text);
    free(text);
    json_decref(copy);

    return rc;
}


/* ---- the RFC 7520 keys ------------------------------------------- */

static void
cookbook_keys(void)
{
    char          *text;
    json_t        *doc;
    mt_keyset_t   *ks;
    const mt_key_t *key;

    static const struct {
        const char  *file;
        mt_kty_t     kty;
        int          private;
        mt_alg_t     fits, not_fits;
    } keys[] = {
        { "jose-cookbook/jwk/3_1.ec_public_key.json", MT_KTY_EC, 0,
          MT_ALG_ES512, MT_ALG_ES256 },
        { "jose-cookbook/jwk/3_2.ec_private_key.json", MT_KTY_EC, 1,
          MT_ALG_ES512, MT_ALG_RS256 },
        { "jose-cookbook/jwk/3_3.rsa_public_key.json", MT_KTY_RSA, 0,
          MT_ALG_PS512, MT_ALG_HS256 },
        { "jose-cookbook/jwk/3_4.rsa_private_key.json", MT_KTY_RSA, 1,
          MT_ALG_RS256, MT_ALG_ES256 },
        { "jose-cookbook/jwk/3_5.symmetric_key_mac_computation.json",
          MT_KTY_OCT, 1, MT_ALG_HS256, MT_ALG_HS384 },
        /* "use":"enc", "alg":"A256GCM": loads, verifies nothing */
        { "jose-cookbook/jwk/3_6.symmetric_key_encryption.json",
          MT_KTY_OCT, 1, MT_ALG_NONE, MT_ALG_HS256 },
    };
    size_t  i;

    if (!have_vectors()) {
        skip(3 * 6 + 4, "no vectors");
        return;
    }

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        doc = load_vector_json(keys[i].file);
        text = json_dumps(doc, JSON_COMPACT);
        ks = mt_keyset_new();

        is_int(add_jwk(ks, text, err, sizeof(err)), MT_OK, "RFC 7520 %s",
               keys[i].file + 18);

        key = mt_keyset_get(ks, 0);

        ok(key != NULL && mt_key_type(key) == keys[i].kty
           && mt_key_has_private(key) == keys[i].private
           && mt_key_has_kid(key)
           && mt_key_kid_is(key, json_string_value(json_object_get(doc, "kid")),
                            json_string_length(json_object_get(doc, "kid"))),
           "... type, private part and kid");

        ok(key != NULL
           && (keys[i].fits == MT_ALG_NONE || mt_key_fits_alg(key, keys[i].fits))
           && !mt_key_fits_alg(key, keys[i].not_fits),
           "... fits %s, not %s", mt_alg_name(keys[i].fits),
           mt_alg_name(keys[i].not_fits));

        mt_keyset_free(ks);
        free(text);
        json_decref(doc);
    }

    /* RFC 8037 keys: Ed25519 signs, X25519 only agrees */

    doc = load_vector_json("jose-cookbook/curve25519/jws.json");
    ks = mt_keyset_new();
    is_int(add_json(ks, json_object_get(json_object_get(doc, "input"), "key")),
           MT_OK, "RFC 8037 Ed25519 private key");
    key = mt_keyset_get(ks, 0);
    ok(key != NULL && mt_key_has_private(key)
       && mt_key_fits_alg(key, MT_ALG_EDDSA), "... fits EdDSA");
    mt_keyset_free(ks);
    json_decref(doc);

    doc = load_vector_json("jose-cookbook/curve25519/ecdh-es.json");
    ks = mt_keyset_new();
    is_int(add_json(ks, json_object_get(json_object_get(doc, "input"), "key")),
           MT_OK, "RFC 8037 X25519 private key");
    key = mt_keyset_get(ks, 0);
    ok(key != NULL && mt_key_type(key) == MT_KTY_OKP
       && !mt_key_fits_alg(key, MT_ALG_EDDSA), "... verifies nothing");
    mt_keyset_free(ks);
    json_decref(doc);
}


/* ---- generated keys: JWK and PEM are the same key ----------------- */

static void
generated_keys(EVP_PKEY **rsa_out, EVP_PKEY **p256_out)
{
    static const struct {
        const char  *type;
        const char  *curve;
        mt_alg_t     algs[3];
    } kinds[] = {
        { "RSA", NULL, { MT_ALG_RS256, MT_ALG_PS384, MT_ALG_RS512 } },
        { "EC", "P-256", { MT_ALG_ES256 } },
        { "EC", "P-384", { MT_ALG_ES384 } },
        { "EC", "P-521", { MT_ALG_ES512 } },
        { "ED25519", NULL, { MT_ALG_EDDSA } },
    };
    size_t         i, j;
    char          *token;
    json_t        *jwk;
    EVP_PKEY      *pkey;
    mt_keyset_t   *pem_priv, *pem_pub, *jwk_priv, *jwk_pub;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        pkey = gen_key(kinds[i].type, kinds[i].curve, 2048);

        pem_priv = mt_keyset_new();
        pem_pub = mt_keyset_new();
        jwk_priv = mt_keyset_new();
        jwk_pub = mt_keyset_new();

        add_pkey(pem_priv, pkey, 1);
        add_pkey(pem_pub, pkey, 0);

        jwk = pkey_jwk(pkey, 1);
        is_int(add_json(jwk_priv, jwk), MT_OK, "%s %s: private JWK loads",
               kinds[i].type, kinds[i].curve ? kinds[i].curve : "");
        if (err[0]) {
            diag("%s", err);
        }
        json_decref(jwk);

        jwk = pkey_jwk(pkey, 0);
        is_int(add_json(jwk_pub, jwk), MT_OK, "%s %s: public JWK loads",
               kinds[i].type, kinds[i].curve ? kinds[i].curve : "");
        json_decref(jwk);

        ok(mt_keyset_count(jwk_priv) == 1
           && mt_key_has_private(mt_keyset_get(jwk_priv, 0))
           && mt_keyset_count(jwk_pub) == 1
           && !mt_key_has_private(mt_keyset_get(jwk_pub, 0)),
           "... private and public");

        for (j = 0; j < 3 && kinds[i].algs[j] != MT_ALG_NONE; j++) {
            if (mt_keyset_count(jwk_priv) == 0) {
                ok(0, "no JWK key");
                continue;
            }

            /* signed with the JWK, verified with the PEM public key */
            token = make_jws(mt_keyset_get(jwk_priv, 0), kinds[i].algs[j],
                             "{\"alg\":\"x\"}", "{\"exp\":1}");
            ok(token != NULL
               && verify_token(pem_pub, token) == MT_ERR_UNSUPPORTED_ALG,
               "... (header alg is checked by name)");
            free(token);

            {
                char  header[64];

                snprintf(header, sizeof(header), "{\"alg\":\"%s\"}",
                         mt_alg_name(kinds[i].algs[j]));

                token = make_jws(mt_keyset_get(jwk_priv, 0),
                                 kinds[i].algs[j], header, "{\"exp\":1}");
                is_int(token ? verify_token(pem_pub, token) : MT_ERR_INTERNAL, MT_OK,
                       "... %s: JWK signs, PEM verifies",
                       mt_alg_name(kinds[i].algs[j]));
                is_int(token ? verify_token(jwk_pub, token) : MT_ERR_INTERNAL, MT_OK,
                       "... %s: public JWK verifies",
                       mt_alg_name(kinds[i].algs[j]));
                free(token);

                token = make_jws(mt_keyset_get(pem_priv, 0),
                                 kinds[i].algs[j], header, "{\"exp\":1}");
                is_int(token ? verify_token(jwk_pub, token) : MT_ERR_INTERNAL, MT_OK,
                       "... %s: PEM signs, JWK verifies",
                       mt_alg_name(kinds[i].algs[j]));
                free(token);
            }
        }

        mt_keyset_free(pem_priv);
        mt_keyset_free(pem_pub);
        mt_keyset_free(jwk_priv);
        mt_keyset_free(jwk_pub);

        if (i == 0) {
            *rsa_out = pkey;
        } else if (i == 1) {
            *p256_out = pkey;
        } else {
            EVP_PKEY_free(pkey);
        }
    }

    /* X25519: loads, never verifies, refuses "use":"sig" */

    pkey = gen_key("X25519", NULL, 0);
    jwk = pkey_jwk(pkey, 1);
    jwk_priv = mt_keyset_new();
    is_int(add_json(jwk_priv, jwk), MT_OK, "X25519 private JWK loads");
    ok(mt_keyset_count(jwk_priv) == 1
       && !mt_key_fits_alg(mt_keyset_get(jwk_priv, 0), MT_ALG_EDDSA),
       "... and verifies nothing");
    is_int(try_with(jwk, "use", json_string("sig")), MT_ERR_BAD_KEY,
           "X25519 with \"use\":\"sig\" refused");
    is_int(try_with(jwk, "alg", json_string("ECDH-ES+A256KW")), MT_OK,
           "X25519 with \"alg\":\"ECDH-ES+A256KW\" loads");
    is_int(try_with(jwk, "alg", json_string("EdDSA")), MT_ERR_BAD_KEY,
           "X25519 with \"alg\":\"EdDSA\" refused");
    mt_keyset_free(jwk_priv);
    json_decref(jwk);
    EVP_PKEY_free(pkey);
}


/* ---- every way to be wrong ---------------------------------------- */

static void
bad_files(EVP_PKEY *rsa, EVP_PKEY *p256)
{
    int             i;
    char           *text, kid[MT_MAX_KID_LEN + 2];
    json_t         *r, *e, *o, *set, *copy, *t;
    size_t          len;
    EVP_PKEY       *other, *small;
    mt_keyset_t    *ks;
    const char     *k32 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    char            oct[256];

    /* documents */

    is_int(try_jwk(""), MT_ERR_BAD_KEY, "empty file");
    is_int(try_jwk("{"), MT_ERR_BAD_KEY, "truncated JSON");
    ok(strstr(err, "\"test.jwk\": invalid JSON") == err,
       "... message: %s", err);
    is_int(try_jwk("[]"), MT_ERR_BAD_KEY, "a JSON array");
    is_int(try_jwk("{}"), MT_ERR_BAD_KEY, "an empty object (no kty)");
    is_int(try_jwk("{\"keys\":{}}"), MT_ERR_BAD_KEY, "keys not an array");
    is_int(try_jwk("{\"keys\":[]}"), MT_ERR_BAD_KEY, "keys empty");
    is_int(try_jwk("{\"keys\":[\"x\"]}"), MT_ERR_BAD_KEY,
           "keys holding a string");
    is_int(try_jwk("{\"kty\":\"oct\",\"kty\":\"oct\",\"k\":\"AA\"}"),
           MT_ERR_BAD_KEY, "duplicate member at the top");
    ok(strstr(err, "duplicate") != NULL, "... message: %s", err);

    snprintf(oct, sizeof(oct), "{\"keys\":[{\"kty\":\"oct\",\"k\":\"%s\","
             "\"k\":\"%s\"}]}", k32, k32);
    is_int(try_jwk(oct), MT_ERR_BAD_KEY, "duplicate member inside keys");

    /* oct */

    o = json_pack("{ssss}", "kty", "oct", "k", k32);

    is_int(try_with(o, "kid", NULL), MT_OK, "oct: a 32-byte key");
    is_int(try_with(o, "k", json_string("")), MT_ERR_BAD_KEY, "oct: k empty");
    is_int(try_with(o, "k", NULL), MT_ERR_BAD_KEY, "oct: k missing");
    is_int(try_with(o, "k", json_integer(5)), MT_ERR_BAD_KEY,
           "oct: k not a string");
    is_int(try_with(o, "k", json_string("AAECAwQFBgcICQoLDA0ODxA")),
           MT_ERR_BAD_KEY, "oct: a 17-byte HMAC key is too short");
    is_int(try_with(o, "k", json_string("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXG"
                                        "BkaGxwdHh8=")),
           MT_ERR_BAD_KEY, "oct: k with padding");
    is_int(try_with(o, "k", json_string("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXG"
                                        "BkaGxwdHh+/")),
           MT_ERR_BAD_KEY, "oct: k in the standard alphabet");
    ok(strstr(err, "\"k\" is not strict base64url") != NULL,
       "... message: %s", err);
    is_int(try_with(o, "alg", json_string("HS512")), MT_ERR_BAD_KEY,
           "oct: HS512 pinned on a 32-byte key");
    is_int(try_with(o, "alg", json_string("HS256")), MT_OK,
           "oct: HS256 pinned");
    is_int(try_with(o, "alg", json_string("A128KW")), MT_OK,
           "oct: A128KW (encryption) accepted");
    is_int(try_with(o, "alg", json_string("RS256")), MT_ERR_BAD_KEY,
           "oct: RS256 does not fit");
    is_int(try_with(o, "alg", json_string("RSA-OAEP")), MT_ERR_BAD_KEY,
           "oct: RSA-OAEP does not fit");

    /* members common to every kty */

    is_int(try_with(o, "kty", json_string("foo")), MT_ERR_BAD_KEY,
           "unknown kty");
    ok(strstr(err, "\"test.jwk\": unsupported \"kty\" \"foo\"") == err,
       "... message: %s", err);
    is_int(try_with(o, "kty", json_string("OCT")), MT_ERR_BAD_KEY,
           "kty is case-sensitive");
    is_int(try_with(o, "kty", json_integer(1)), MT_ERR_BAD_KEY,
           "kty not a string");
    is_int(try_with(o, "kty", json_string("bad\nkty")), MT_ERR_BAD_KEY,
           "kty with a newline");
    ok(strchr(err, '\n') == NULL, "... not echoed into the message");
    is_int(try_with(o, "alg", json_string("XS256")), MT_ERR_BAD_KEY,
           "unknown alg");
    is_int(try_with(o, "alg", json_string("none")), MT_ERR_BAD_KEY,
           "alg none");
    is_int(try_with(o, "alg", json_null()), MT_ERR_BAD_KEY, "alg null");
    is_int(try_with(o, "use", json_string("sig")), MT_OK, "use sig");
    is_int(try_with(o, "use", json_string("enc")), MT_OK, "use enc");
    is_int(try_with(o, "use", json_string("signature")), MT_ERR_BAD_KEY,
           "use neither sig nor enc");
    is_int(try_with(o, "use", json_true()), MT_ERR_BAD_KEY,
           "use not a string");

    copy = json_deep_copy(o);
    json_object_set_new(copy, "use", json_string("enc"));
    is_int(try_with(copy, "alg", json_string("HS256")), MT_ERR_BAD_KEY,
           "use enc with a signature alg");
    json_object_set_new(copy, "use", json_string("sig"));
    is_int(try_with(copy, "alg", json_string("A256GCMKW")), MT_ERR_BAD_KEY,
           "use sig with an encryption alg");
    json_decref(copy);

    memset(kid, 'k', sizeof(kid));
    kid[MT_MAX_KID_LEN] = '\0';
    is_int(try_with(o, "kid", json_string(kid)), MT_OK,
           "kid of MT_MAX_KID_LEN bytes");
    kid[MT_MAX_KID_LEN] = 'k';
    kid[MT_MAX_KID_LEN + 1] = '\0';
    is_int(try_with(o, "kid", json_string(kid)), MT_ERR_BAD_KEY,
           "kid too long");
    is_int(try_with(o, "kid", json_integer(7)), MT_ERR_BAD_KEY,
           "kid not a string");

    t = json_pack("[s]", "MIIB");
    is_int(try_with(o, "x5c", t), MT_OK, "x5c ignored");
    is_int(try_with(o, "key_ops", json_pack("[s]", "verify")), MT_OK,
           "key_ops ignored");
    is_int(try_with(o, "x5u", json_string("https://example.com/")), MT_OK,
           "x5u ignored");

    /* RSA */

    r = pkey_jwk(rsa, 1);
    is_int(try_with(r, "kid", NULL), MT_OK, "RSA private key");
    is_int(try_with(r, "n", NULL), MT_ERR_BAD_KEY, "RSA without n");
    is_int(try_with(r, "e", NULL), MT_ERR_BAD_KEY, "RSA without e");
    is_int(try_with(r, "qi", NULL), MT_ERR_BAD_KEY,
           "RSA private without qi");
    ok(strstr(err, "needs all of") != NULL, "... message: %s", err);
    is_int(try_with(r, "d", NULL), MT_ERR_BAD_KEY, "RSA CRT without d");
    is_int(try_with(r, "oth", json_array()), MT_ERR_BAD_KEY,
           "RSA multi-prime (oth)");
    is_int(try_with(r, "e", json_string("AQAD")), MT_ERR_BAD_KEY,
           "RSA private with a wrong e");
    is_int(try_with(r, "alg", json_string("PS256")), MT_OK, "RSA PS256");
    is_int(try_with(r, "alg", json_string("RSA-OAEP-256")), MT_OK,
           "RSA RSA-OAEP-256 (encryption) accepted");
    is_int(try_with(r, "alg", json_string("ES256")), MT_ERR_BAD_KEY,
           "RSA with ES256");
    is_int(try_with(r, "alg", json_string("HS256")), MT_ERR_BAD_KEY,
           "RSA with HS256");
    is_int(try_with(r, "alg", json_string("ECDH-ES")), MT_ERR_BAD_KEY,
           "RSA with ECDH-ES");

    /* someone else's d: the pairwise check refuses the mix */
    other = gen_key("RSA", NULL, 2048);
    e = pkey_jwk(other, 1);
    json_object_set(e, "n", json_object_get(r, "n"));
    is_int(try_with(e, "kid", NULL), MT_ERR_BAD_KEY,
           "RSA private parts of another key");
    json_decref(e);
    EVP_PKEY_free(other);

    /* public only */
    for (i = 0; i < 6; i++) {
        static const char  *priv[] = { "d", "p", "q", "dp", "dq", "qi" };

        json_object_del(r, priv[i]);
    }

    is_int(try_with(r, "kid", NULL), MT_OK, "RSA public key");
    is_int(try_with(r, "p", json_string("AQAB")), MT_ERR_BAD_KEY,
           "RSA public with a stray p");
    is_int(try_with(r, "e", json_string("AQAA")), MT_ERR_BAD_KEY,
           "RSA public with an even e");
    is_int(try_with(r, "n", json_string("")), MT_ERR_BAD_KEY, "RSA n empty");
    json_decref(r);

    small = gen_key("RSA", NULL, 1024);
    r = pkey_jwk(small, 0);
    is_int(try_with(r, "kid", NULL), MT_ERR_BAD_KEY, "RSA 1024 bits");
    ok(strstr(err, "2048") != NULL, "... message: %s", err);
    json_decref(r);
    EVP_PKEY_free(small);

    /* EC */

    e = pkey_jwk(p256, 1);
    is_int(try_with(e, "kid", NULL), MT_OK, "EC P-256 private key");
    is_int(try_with(e, "crv", json_string("P-192")), MT_ERR_BAD_KEY,
           "EC P-192");
    is_int(try_with(e, "crv", json_string("secp256k1")), MT_ERR_BAD_KEY,
           "EC secp256k1");
    is_int(try_with(e, "crv", json_string("P-384")), MT_ERR_BAD_KEY,
           "EC P-256 coordinates labelled P-384");
    is_int(try_with(e, "crv", NULL), MT_ERR_BAD_KEY, "EC without crv");
    is_int(try_with(e, "y", NULL), MT_ERR_BAD_KEY, "EC without y");
    is_int(try_with(e, "alg", json_string("ES384")), MT_ERR_BAD_KEY,
           "EC P-256 with ES384");
    is_int(try_with(e, "alg", json_string("ES256")), MT_OK,
           "EC P-256 with ES256");
    is_int(try_with(e, "alg", json_string("ECDH-ES+A128KW")), MT_OK,
           "EC P-256 with ECDH-ES+A128KW");
    is_int(try_with(e, "alg", json_string("EdDSA")), MT_ERR_BAD_KEY,
           "EC with EdDSA");

    {
        size_t          n;
        unsigned char   y[66];
        const char     *ys;

        /* a coordinate one byte short (leading zero dropped) */
        ys = json_string_value(json_object_get(e, "y"));
        mt_base64url_decode(y, &n, ys, strlen(ys));
        text = b64url_str(y + 1, n - 1);
        is_int(try_with(e, "y", json_string(text)), MT_ERR_BAD_KEY,
               "EC y of 31 bytes");
        ok(strstr(err, "\"y\" is not 32 bytes") != NULL, "... message: %s",
           err);
        free(text);

        /* a point off the curve */
        y[31] ^= 1;
        text = b64url_str(y, n);
        copy = json_deep_copy(e);
        json_object_del(copy, "d");
        is_int(try_with(copy, "y", json_string(text)), MT_ERR_BAD_KEY,
               "EC public point not on the curve");
        is_int(try_with(e, "y", json_string(text)), MT_ERR_BAD_KEY,
               "EC private with a point not on the curve");
        json_decref(copy);
        free(text);
    }

    /* someone else's d */
    other = gen_key("EC", "P-256", 0);
    copy = pkey_jwk(other, 1);
    is_int(try_with(e, "d", json_incref(json_object_get(copy, "d"))),
           MT_ERR_BAD_KEY, "EC d of another key");
    json_decref(copy);
    EVP_PKEY_free(other);
    json_decref(e);

    /* OKP */

    other = gen_key("ED25519", NULL, 0);
    e = pkey_jwk(other, 1);
    is_int(try_with(e, "kid", NULL), MT_OK, "Ed25519 private key");
    is_int(try_with(e, "crv", json_string("Ed448")), MT_ERR_BAD_KEY,
           "OKP Ed448");
    is_int(try_with(e, "x", json_string("AAAA")), MT_ERR_BAD_KEY,
           "OKP x of 3 bytes");
    is_int(try_with(e, "x", json_string("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaa"
                                        "PcHURo")),
           MT_ERR_BAD_KEY, "Ed25519 d of another key");
    ok(strstr(err, "does not match") != NULL, "... message: %s", err);
    is_int(try_with(e, "alg", json_string("ES256")), MT_ERR_BAD_KEY,
           "Ed25519 with ES256");
    json_object_del(e, "d");
    is_int(try_with(e, "alg", json_string("EdDSA")), MT_OK,
           "Ed25519 public with EdDSA");
    json_decref(e);
    EVP_PKEY_free(other);

    /* sets: bounds, all or nothing, message with the key's index */

    set = json_pack("{s[OO]}", "keys", o, o);
    json_object_set_new(json_array_get(set, 0), "kid", json_string("x"));
    is_int(try_jwk("{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAECAwQFBgcICQoLDA0"
                   "ODxAREhMUFRYXGBkaGxwdHh8\"},{\"kty\":\"EC\"}]}"),
           MT_ERR_BAD_KEY, "a set with one bad key");
    ok(strstr(err, "\"test.jwk\": key 1: ") == err, "... message: %s", err);
    json_decref(set);

    set = json_object();
    t = json_array();
    json_object_set_new(set, "keys", t);

    for (i = 0; i < MT_MAX_KEYS; i++) {
        json_array_append(t, o);
    }

    ks = mt_keyset_new();
    is_int(add_json(ks, set), MT_OK, "a set of MT_MAX_KEYS keys");
    is_int(mt_keyset_count(ks), MT_MAX_KEYS, "... all loaded");
    is_int(add_json(ks, o), MT_ERR_TOO_LARGE, "one more is refused");
    mt_keyset_free(ks);

    json_array_append(t, o);
    ks = mt_keyset_new();
    is_int(add_json(ks, set), MT_ERR_TOO_LARGE, "a set of MT_MAX_KEYS + 1");
    is_int(mt_keyset_count(ks), 0, "... nothing loaded");
    mt_keyset_free(ks);
    json_decref(set);

    /* the file loader recognises JWK files */

    {
        char   path[] = "/tmp/mt-test-jwk-XXXXXX";
        int    fd;

        text = json_dumps(o, JSON_INDENT(2));
        len = strlen(text);
        fd = mkstemp(path);
        ok(fd >= 0 && write(fd, "\n  ", 3) == 3
           && write(fd, text, len) == (ssize_t) len, "wrote a JWK file");
        close(fd);
        ks = mt_keyset_new();
        is_int(mt_keyset_add_file(ks, path, err, sizeof(err)), MT_OK,
               "mt_keyset_add_file reads a JWK");
        mt_keyset_free(ks);
        unlink(path);
        free(text);
    }

    json_decref(o);
}


/* ---- use and alg pins at verification time ------------------------ */

static void
pins(EVP_PKEY *rsa)
{
    char          *token, *text;
    json_t        *pub;
    mt_keyset_t   *signer, *ks;
    unsigned char  *cred;
    size_t          cred_len;
    char           *b64;
    size_t          b64_len;

    signer = mt_keyset_new();
    add_pkey(signer, rsa, 1);
    token = make_jws(mt_keyset_get(signer, 0), MT_ALG_RS256,
                     "{\"alg\":\"RS256\"}", "{\"exp\":1}");

    pub = pkey_jwk(rsa, 0);

    ks = mt_keyset_new();
    add_json(ks, pub);
    is_int(verify_token(ks, token), MT_OK, "plain RSA JWK verifies RS256");
    mt_keyset_free(ks);

    json_object_set_new(pub, "use", json_string("enc"));
    ks = mt_keyset_new();
    add_json(ks, pub);
    is_int(verify_token(ks, token), MT_ERR_UNKNOWN_KEY,
           "\"use\":\"enc\" key does not verify");
    mt_keyset_free(ks);

    json_object_del(pub, "use");
    json_object_set_new(pub, "alg", json_string("RSA-OAEP-256"));
    ks = mt_keyset_new();
    add_json(ks, pub);
    is_int(verify_token(ks, token), MT_ERR_UNKNOWN_KEY,
           "\"alg\":\"RSA-OAEP-256\" key does not verify");
    mt_keyset_free(ks);

    json_object_set_new(pub, "alg", json_string("PS256"));
    ks = mt_keyset_new();
    add_json(ks, pub);
    is_int(verify_token(ks, token), MT_ERR_UNKNOWN_KEY,
           "\"alg\":\"PS256\" key does not verify RS256");
    mt_keyset_free(ks);

    json_object_set_new(pub, "alg", json_string("RS256"));
    json_object_set_new(pub, "use", json_string("sig"));
    ks = mt_keyset_new();
    add_json(ks, pub);
    is_int(verify_token(ks, token), MT_OK,
           "\"alg\":\"RS256\", \"use\":\"sig\" key verifies RS256");
    mt_keyset_free(ks);
    json_decref(pub);

    /* an encryption key still decrypts credentials */
    pub = pkey_jwk(rsa, 1);
    json_object_set_new(pub, "use", json_string("enc"));
    json_object_set_new(pub, "alg", json_string("RSA-OAEP-256"));
    ks = mt_keyset_new();
    add_json(ks, pub);
    mt_credential_encrypt(mt_keyset_get(signer, 0),
                          (const unsigned char *) "secret", 6, &b64,
                          &b64_len);
    ok(mt_credential_decrypt(ks, b64, b64_len, &cred, &cred_len) == MT_OK
       && cred_len == 6 && memcmp(cred, "secret", 6) == 0,
       "an RSA-OAEP-256 JWK decrypts the credential");
    OPENSSL_clear_free(cred, cred_len);
    free(b64);
    ok(mt_jws_sign(mt_keyset_get(ks, 0), MT_ALG_RS256, (unsigned char *) "x",
                   1, (unsigned char *) err, &cred_len) == MT_ERR_UNKNOWN_KEY,
       "... and does not sign");
    mt_keyset_free(ks);
    json_decref(pub);

    (void) text;
    free(token);
    mt_keyset_free(signer);
}


/* ---- key_ops (RFC 7517 section 4.3) --------------------------------- */

/* the JWK of rsa (private or not) with "key_ops" set from JSON text */
static json_t *
jwk_with_ops(EVP_PKEY *rsa, int private, const char *ops)
{
    json_t  *jwk;

    jwk = pkey_jwk(rsa, private);
    json_object_set_new(jwk, "key_ops", json_loads(ops, 0, NULL));

    return jwk;
}


static void
key_ops(EVP_PKEY *rsa)
{
    size_t          i, n, b64_len;
    char           *token, *b64;
    json_t         *jwk, *base;
    mt_keyset_t    *signer, *ks;
    unsigned char  *cred, sig[1024];
    static const char  *bad[] = {
        "\"verify\"", "[]", "[1]", "[null]", "[\"verify\",\"verify\"]",
        "[\"Verify\"]", "[\"frobnicate\"]", "{\"verify\":true}",
        "[\"sign\",\"decrypt\"]", "[\"verify\",\"unwrapKey\"]",
    };

    base = pkey_jwk(rsa, 1);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        is_int(try_with(base, "key_ops", json_loads(bad[i], JSON_DECODE_ANY,
                                                    NULL)),
               MT_ERR_BAD_KEY, "key_ops %s refused", bad[i]);
    }

    ok(strstr(err, "key_ops") != NULL, "... the message names key_ops: %s",
       err);

    /* inconsistent with "use" or "alg" */
    json_object_set_new(base, "use", json_string("sig"));
    is_int(try_with(base, "key_ops", json_loads("[\"decrypt\"]", 0, NULL)),
           MT_ERR_BAD_KEY, "\"use\":\"sig\" with key_ops decrypt refused");
    json_object_set_new(base, "use", json_string("enc"));
    is_int(try_with(base, "key_ops", json_loads("[\"verify\"]", 0, NULL)),
           MT_ERR_BAD_KEY, "\"use\":\"enc\" with key_ops verify refused");
    json_object_del(base, "use");
    json_object_set_new(base, "alg", json_string("RS256"));
    is_int(try_with(base, "key_ops", json_loads("[\"unwrapKey\"]", 0, NULL)),
           MT_ERR_BAD_KEY, "\"alg\":\"RS256\" with key_ops unwrapKey refused");
    json_object_set_new(base, "alg", json_string("RSA-OAEP-256"));
    is_int(try_with(base, "key_ops", json_loads("[\"sign\"]", 0, NULL)),
           MT_ERR_BAD_KEY, "\"alg\":\"RSA-OAEP-256\" with key_ops sign "
           "refused");
    is_int(try_with(base, "key_ops", json_loads("[\"unwrapKey\"]", 0, NULL)),
           MT_OK, "\"alg\":\"RSA-OAEP-256\" with key_ops unwrapKey loads");
    json_decref(base);

    /* all or nothing: a set whose second key has bad key_ops adds none */
    is_int(try_jwk("{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAAAAAAAAAAAAAAAAAA"
                   "AAAAAAAAAAAAAAAAAAAAAAA\"},{\"kty\":\"oct\",\"k\":\"AAAAAA"
                   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"key_ops\":[\"x"
                   "\"]}]}"),
           MT_ERR_BAD_KEY, "a set with one bad key_ops loads no key");

    /* honoured: verify, sign, decrypt/unwrapKey */
    signer = mt_keyset_new();
    add_pkey(signer, rsa, 1);
    token = make_jws(mt_keyset_get(signer, 0), MT_ALG_RS256,
                     "{\"alg\":\"RS256\"}", "{\"exp\":1}");
    mt_credential_encrypt(mt_keyset_get(signer, 0),
                          (const unsigned char *) "secret", 6, &b64,
                          &b64_len);

    static const struct {
        const char  *ops;
        int          private;
        mt_err_t     verify, sign, decrypt;
    } cases[] = {
        { "[\"verify\"]", 0, MT_OK, MT_ERR_UNKNOWN_KEY, MT_ERR_DECRYPT },
        { "[\"sign\"]", 1, MT_ERR_UNKNOWN_KEY, MT_OK, MT_ERR_DECRYPT },
        { "[\"sign\",\"verify\"]", 1, MT_OK, MT_OK, MT_ERR_DECRYPT },
        { "[\"verify\"]", 1, MT_OK, MT_ERR_UNKNOWN_KEY, MT_ERR_DECRYPT },
        { "[\"decrypt\"]", 1, MT_ERR_UNKNOWN_KEY, MT_ERR_UNKNOWN_KEY, MT_OK },
        { "[\"unwrapKey\"]", 1, MT_ERR_UNKNOWN_KEY, MT_ERR_UNKNOWN_KEY,
          MT_OK },
        { "[\"encrypt\",\"wrapKey\"]", 1, MT_ERR_UNKNOWN_KEY,
          MT_ERR_UNKNOWN_KEY, MT_ERR_DECRYPT },
        { "[\"deriveKey\"]", 1, MT_ERR_UNKNOWN_KEY, MT_ERR_UNKNOWN_KEY,
          MT_ERR_DECRYPT },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        jwk = jwk_with_ops(rsa, cases[i].private, cases[i].ops);
        ks = mt_keyset_new();

        if (!is_int(add_json(ks, jwk), MT_OK, "RSA JWK with key_ops %s "
                    "loads", cases[i].ops))
        {
            diag("%s", err);
        }

        is_int(verify_token(ks, token), cases[i].verify, "... verify");
        is_int(mt_jws_sign(mt_keyset_get(ks, 0), MT_ALG_RS256,
                           (unsigned char *) "x", 1, sig, &n),
               cases[i].sign, "... sign");
        cred = NULL;
        n = 0;
        is_int(mt_credential_decrypt(ks, b64, b64_len, &cred, &n),
               cases[i].decrypt, "... decrypt the credential");
        OPENSSL_clear_free(cred, n);

        mt_keyset_free(ks);
        json_decref(jwk);
    }

    free(b64);
    free(token);
    mt_keyset_free(signer);

    /* JWE algs: each needs its own operation */
    ks = mt_keyset_new();
    is_int(add_jwk(ks, "{\"kty\":\"oct\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                   "AAAAAAAAAAAAAAA\",\"key_ops\":[\"unwrapKey\"]}", err,
                   sizeof(err)), MT_OK, "oct JWK with key_ops unwrapKey loads");
    ok(mt_key_for_jwe_alg(mt_keyset_get(ks, 0), "A256KW", NULL),
       "... unwraps A256KW");
    ok(!mt_key_for_jwe_alg(mt_keyset_get(ks, 0), "dir", "A256GCM"),
       "... is no \"dir\" key (needs decrypt)");
    ok(!mt_key_fits_alg(mt_keyset_get(ks, 0), MT_ALG_HS256),
       "... and no HMAC key");
    mt_keyset_free(ks);

    ks = mt_keyset_new();
    add_jwk(ks, "{\"kty\":\"oct\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            "AAAAAAAA\",\"key_ops\":[\"decrypt\"]}", err, sizeof(err));
    ok(mt_key_for_jwe_alg(mt_keyset_get(ks, 0), "dir", "A256GCM")
       && !mt_key_for_jwe_alg(mt_keyset_get(ks, 0), "A256KW", NULL),
       "oct key_ops decrypt: \"dir\" only");
    mt_keyset_free(ks);
}


/* ---- two keys with one kid ----------------------------------------- */

static void
same_kid(EVP_PKEY *rsa, EVP_PKEY *p256)
{
    char          *a, *b, *set;
    json_t        *ja, *jb;
    size_t         n;
    mt_keyset_t   *ks;
    static const unsigned char  sa[32] = "secret A secret A secret A sec A";

    ja = pkey_jwk(rsa, 0);
    json_object_set_new(ja, "kid", json_string("k1"));
    jb = pkey_jwk(p256, 0);
    json_object_set_new(jb, "kid", json_string("k1"));
    a = json_dumps(ja, JSON_COMPACT);
    b = json_dumps(jb, JSON_COMPACT);

    n = strlen(a) * 2 + strlen(b) + 32;
    set = malloc(n);

    snprintf(set, n, "{\"keys\":[%s,%s]}", a, a);
    is_int(try_jwk(set), MT_ERR_BAD_KEY, "two RSA keys with kid k1 refused");
    ok(strstr(err, "key 1") != NULL && strstr(err, "kid") != NULL,
       "... the message names the key and the kid: %s", err);

    snprintf(set, n, "{\"keys\":[%s,%s]}", a, b);
    is_int(try_jwk(set), MT_OK, "RSA and EC keys with kid k1 load");

    json_object_del(ja, "kid");
    free(a);
    a = json_dumps(ja, JSON_COMPACT);
    snprintf(set, n, "{\"keys\":[%s,%s]}", a, a);
    is_int(try_jwk(set), MT_OK, "two keys without kid load");

    /* across files of one key list: the second file adds nothing */
    ks = mt_keyset_new();
    add_jwk(ks, b, err, sizeof(err));
    snprintf(set, n, "{\"keys\":[%s,%s]}", a, b);
    is_int(add_jwk(ks, set, err, sizeof(err)), MT_ERR_BAD_KEY,
           "an EC kid k1 already in the list refused");
    is_int(mt_keyset_count(ks), 1, "... and no key of that set is added");
    mt_keyset_free(ks);

    /* secrets */
    ks = mt_keyset_new();
    is_int(mt_keyset_add_secret(ks, sa, 32, "s", 1, err, sizeof(err)), MT_OK,
           "secret kid s");
    is_int(mt_keyset_add_secret(ks, sa, 32, "s", 1, err, sizeof(err)),
           MT_ERR_BAD_KEY, "a second secret kid s refused");
    is_int(add_jwk(ks, "{\"kty\":\"oct\",\"kid\":\"s\",\"k\":\"AAAAAAAAAAAAA"
                   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}", err, sizeof(err)),
           MT_ERR_BAD_KEY, "an oct JWK kid s after the secret refused");
    is_int(mt_keyset_add_secret(ks, sa, 32, NULL, 0, err, sizeof(err)), MT_OK,
           "secrets without kid are not compared");
    is_int(mt_keyset_add_secret(ks, sa, 32, NULL, 0, err, sizeof(err)), MT_OK,
           "... twice");
    is_int(mt_keyset_count(ks), 3, "three keys in the list");
    mt_keyset_free(ks);

    free(a);
    free(b);
    free(set);
    json_decref(ja);
    json_decref(jb);
}


/*
 * PEM keys get the checks JWKs get: an RSA public key with e = 1 would
 * "verify" a signature equal to the encoded message, i.e. anyone's.
 */
static void
pem_public_check(EVP_PKEY *rsa)
{
    BIO             *bio;
    long             len;
    char            *pem, err[256];
    BIGNUM          *n, *e;
    EVP_PKEY        *weak;
    OSSL_PARAM      *params;
    mt_keyset_t     *ks;
    EVP_PKEY_CTX    *ctx;
    OSSL_PARAM_BLD  *bld;

    n = NULL;
    weak = NULL;
    e = BN_new();
    bld = OSSL_PARAM_BLD_new();
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);

    if (e == NULL || bld == NULL || ctx == NULL
        || EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_N, &n) != 1
        || BN_set_word(e, 1) != 1
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1
        || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
    {
        ok(0, "PEM e=1: could not build the key");
        goto done;
    }

    if (EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &weak, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        OSSL_PARAM_free(params);
        ok(0, "PEM e=1: could not build the key");
        goto done;
    }

    OSSL_PARAM_free(params);

    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, weak);
    len = BIO_get_mem_data(bio, &pem);

    ks = mt_keyset_new();
    ok(mt_keyset_add_pem(ks, pem, (size_t) len, "e1.pem", err, sizeof(err))
       == MT_ERR_BAD_KEY, "a PEM RSA public key with e = 1 is refused (%s)",
       err);

    mt_keyset_free(ks);
    BIO_free(bio);

done:

    EVP_PKEY_free(weak);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
}


int
main(void)
{
    EVP_PKEY  *rsa, *p256;

    rsa = NULL;
    p256 = NULL;

    cookbook_keys();
    generated_keys(&rsa, &p256);
    bad_files(rsa, p256);
    pins(rsa);
    key_ops(rsa);
    same_kid(rsa, p256);
    pem_public_check(rsa);

    EVP_PKEY_free(rsa);
    EVP_PKEY_free(p256);

    return tap_exit();
}
