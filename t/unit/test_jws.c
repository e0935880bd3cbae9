/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * JWS: the RFC 7520 / RFC 8037 examples, tampering, algorithm
 * confusion, forbidden headers, kid selection, token shape, ECDSA
 * signature edge cases (CVE-2022-21449) and sign/verify round trips.
 */

#include <openssl/ecdsa.h>
#include <openssl/hmac.h>

#include "mt_core.h"
#include "tap.h"


static char  err[512];


/* ---- RFC 7520 section 4 and RFC 8037 appendix A.4 ------------------ */

static void
cookbook(void)
{
    static const struct {
        const char  *file;
        mt_alg_t     alg;
        int          deterministic;     /* our own signature must equal */
    } examples[] = {
        { "jose-cookbook/jws/4_1.rsa_v15_signature.json", MT_ALG_RS256, 1 },
        { "jose-cookbook/jws/4_2.rsa-pss_signature.json", MT_ALG_PS384, 0 },
        { "jose-cookbook/jws/4_3.ecdsa_signature.json", MT_ALG_ES512, 0 },
        { "jose-cookbook/jws/4_4.hmac-sha2_integrity_protection.json",
          MT_ALG_HS256, 1 },
        { "jose-cookbook/curve25519/jws.json", MT_ALG_EDDSA, 1 },
    };
    size_t           i, sig_len, my_len, in_len;
    char            *keytext, *tampered;
    json_t          *doc, *input, *signing;
    mt_err_t         rc;
    const char      *in, *sig_b64, *compact, *dot;
    mt_keyset_t     *ks;
    const mt_key_t  *key;
    unsigned char    sig[1024], mine[1024];

    if (!have_vectors()) {
        skip(5 * 7, "no vectors");
        return;
    }

    for (i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
        doc = load_vector_json(examples[i].file);
        input = json_object_get(doc, "input");
        signing = json_object_get(doc, "signing");

        keytext = json_dumps(json_object_get(input, "key"), JSON_COMPACT);
        ks = mt_keyset_new();
        rc = add_jwk(ks, keytext, err, sizeof(err));
        free(keytext);

        if (!is_int(rc, MT_OK, "%s: JWK loads", examples[i].file + 14)) {
            diag("%s", err);
            skip(6, "no key");
            mt_keyset_free(ks);
            json_decref(doc);
            continue;
        }

        key = mt_keyset_get(ks, 0);

        in = json_string_value(json_object_get(signing, "sig-input"));
        in_len = strlen(in);
        sig_b64 = json_string_value(json_object_get(signing, "sig"));
        mt_base64url_decode(sig, &sig_len, sig_b64, strlen(sig_b64));

        is_int(mt_jws_verify_signature(key, examples[i].alg,
                                       (const unsigned char *) in, in_len,
                                       sig, sig_len),
               MT_OK, "... %s signature verifies",
               mt_alg_name(examples[i].alg));

        /* the compact form verifies; its payload is text, not claims */
        compact = json_string_value(json_object_get(
                      json_object_get(doc, "output"), "compact"));
        is_int(verify_token(ks, compact), MT_ERR_MALFORMED,
               "... compact form verifies, then its text payload is "
               "refused as claims");

        /* tampered signature and payload */
        sig[sig_len / 2] ^= 0x01;
        is_int(mt_jws_verify_signature(key, examples[i].alg,
                                       (const unsigned char *) in, in_len,
                                       sig, sig_len),
               MT_ERR_BAD_SIGNATURE, "... a flipped signature bit fails");
        sig[sig_len / 2] ^= 0x01;

        tampered = strdup(compact);
        dot = strchr(tampered, '.');
        tampered[dot - tampered + 5] ^= 0x01;   /* 'S' <-> 'R', ... */
        is_int(verify_token(ks, tampered), MT_ERR_BAD_SIGNATURE,
               "... a tampered payload fails before it is parsed");
        free(tampered);

        is_int(mt_jws_verify_signature(key, examples[i].alg,
                                       (const unsigned char *) in,
                                       in_len - 1, sig, sig_len),
               MT_ERR_BAD_SIGNATURE, "... a truncated input fails");

        /* deterministic algorithms: our signature is byte for byte */
        if (examples[i].deterministic) {
            ok(mt_jws_sign(key, examples[i].alg, (const unsigned char *) in,
                           in_len, mine, &my_len) == MT_OK
               && my_len == sig_len && memcmp(mine, sig, sig_len) == 0,
               "... our signature equals the RFC's");
        } else {
            ok(mt_jws_sign(key, examples[i].alg, (const unsigned char *) in,
                           in_len, mine, &my_len) == MT_OK
               && mt_jws_verify_signature(key, examples[i].alg,
                                          (const unsigned char *) in, in_len,
                                          mine, my_len) == MT_OK,
               "... our (randomised) signature verifies");
        }

        mt_keyset_free(ks);
        json_decref(doc);
    }
}


/* ---- generated keys for everything else --------------------------- */

typedef struct {
    EVP_PKEY     *rsa, *p256, *p384, *p521, *ed;
    mt_keyset_t  *rsa_priv, *rsa_pub, *p256_priv, *p384_priv, *p521_priv;
    mt_keyset_t  *ed_priv, *oct;
} keys_t;


static void
keys_init(keys_t *k)
{
    static const unsigned char  secret[64] = "0123456789abcdef0123456789abcdef"
                                             "0123456789abcdef0123456789abcde";

    k->rsa = gen_key("RSA", NULL, 2048);
    k->p256 = gen_key("EC", "P-256", 0);
    k->p384 = gen_key("EC", "P-384", 0);
    k->p521 = gen_key("EC", "P-521", 0);
    k->ed = gen_key("ED25519", NULL, 0);

    k->rsa_priv = mt_keyset_new();
    k->rsa_pub = mt_keyset_new();
    k->p256_priv = mt_keyset_new();
    k->p384_priv = mt_keyset_new();
    k->p521_priv = mt_keyset_new();
    k->ed_priv = mt_keyset_new();
    k->oct = mt_keyset_new();

    add_pkey(k->rsa_priv, k->rsa, 1);
    add_pkey(k->rsa_pub, k->rsa, 0);
    add_pkey(k->p256_priv, k->p256, 1);
    add_pkey(k->p384_priv, k->p384, 1);
    add_pkey(k->p521_priv, k->p521, 1);
    add_pkey(k->ed_priv, k->ed, 1);
    mt_keyset_add_secret(k->oct, secret, sizeof(secret), NULL, 0, err,
                         sizeof(err));
}


static void
keys_free(keys_t *k)
{
    EVP_PKEY_free(k->rsa);
    EVP_PKEY_free(k->p256);
    EVP_PKEY_free(k->p384);
    EVP_PKEY_free(k->p521);
    EVP_PKEY_free(k->ed);
    mt_keyset_free(k->rsa_priv);
    mt_keyset_free(k->rsa_pub);
    mt_keyset_free(k->p256_priv);
    mt_keyset_free(k->p384_priv);
    mt_keyset_free(k->p521_priv);
    mt_keyset_free(k->ed_priv);
    mt_keyset_free(k->oct);
}


static void
round_trips(keys_t *k)
{
    static const struct {
        mt_alg_t  alg;
        int       which;    /* 0 rsa, 1 p256, 2 p384, 3 p521, 4 ed, 5 oct */
    } algs[] = {
        { MT_ALG_RS256, 0 }, { MT_ALG_RS384, 0 }, { MT_ALG_RS512, 0 },
        { MT_ALG_PS256, 0 }, { MT_ALG_PS384, 0 }, { MT_ALG_PS512, 0 },
        { MT_ALG_ES256, 1 }, { MT_ALG_ES384, 2 }, { MT_ALG_ES512, 3 },
        { MT_ALG_EDDSA, 4 },
        { MT_ALG_HS256, 5 }, { MT_ALG_HS384, 5 }, { MT_ALG_HS512, 5 },
    };
    size_t         i, j;
    char           header[64], *token;
    mt_jws_t       jws;
    mt_err_t       rc;
    mt_keyset_t   *sets[6], *all;

    sets[0] = k->rsa_priv;
    sets[1] = k->p256_priv;
    sets[2] = k->p384_priv;
    sets[3] = k->p521_priv;
    sets[4] = k->ed_priv;
    sets[5] = k->oct;

    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}",
                 mt_alg_name(algs[i].alg));

        token = make_jws(mt_keyset_get(sets[algs[i].which], 0), algs[i].alg,
                         header, "{\"exp\":2000000000,\"sub\":\"x\"}");

        rc = mt_jws_verify(&jws, sets[algs[i].which], token, strlen(token));
        ok(rc == MT_OK && jws.alg == algs[i].alg
           && jws.key == mt_keyset_get(sets[algs[i].which], 0)
           && json_integer_value(json_object_get(jws.claims, "exp"))
              == 2000000000,
           "%s: sign and verify round trip", mt_alg_name(algs[i].alg));
        mt_jws_clear(&jws);

        /* every other key set refuses it as not fitting */
        for (j = 0; j < 6; j++) {
            if (j != (size_t) algs[i].which
                && verify_token(sets[j], token) != MT_ERR_UNKNOWN_KEY)
            {
                break;
            }
        }

        ok(j == 6, "%s: keys of other families or curves do not fit",
           mt_alg_name(algs[i].alg));

        free(token);
    }

    /* a set of every key: the right one is found */
    all = mt_keyset_new();
    add_pkey(all, k->rsa, 0);
    add_pkey(all, k->p256, 0);
    add_pkey(all, k->p384, 0);
    add_pkey(all, k->p521, 0);
    add_pkey(all, k->ed, 0);

    token = make_jws(mt_keyset_get(k->p384_priv, 0), MT_ALG_ES384,
                     "{\"alg\":\"ES384\"}", "{\"exp\":1}");
    is_int(verify_token(all, token), MT_OK, "a mixed key set finds the key");
    free(token);

    /* a public key cannot sign */
    {
        size_t         n;
        unsigned char  sig[1024];

        is_int(mt_jws_sign(mt_keyset_get(all, 0), MT_ALG_RS256,
                           (const unsigned char *) "x", 1, sig, &n),
               MT_ERR_UNKNOWN_KEY, "a public key does not sign");
    }

    mt_keyset_free(all);

    /* PS256 signature presented as RS256 and the reverse */
    {
        size_t          n;
        char           *in;
        unsigned char   sig[1024];

        in = signing_input("{\"alg\":\"RS256\"}", "{\"exp\":1}");
        mt_jws_sign(mt_keyset_get(k->rsa_priv, 0), MT_ALG_PS256,
                    (unsigned char *) in, strlen(in), sig, &n);
        is_int(mt_jws_verify_signature(mt_keyset_get(k->rsa_pub, 0),
                                       MT_ALG_RS256, (unsigned char *) in,
                                       strlen(in), sig, n),
               MT_ERR_BAD_SIGNATURE, "a PS256 signature is no RS256 one");
        mt_jws_sign(mt_keyset_get(k->rsa_priv, 0), MT_ALG_RS256,
                    (unsigned char *) in, strlen(in), sig, &n);
        is_int(mt_jws_verify_signature(mt_keyset_get(k->rsa_pub, 0),
                                       MT_ALG_PS256, (unsigned char *) in,
                                       strlen(in), sig, n),
               MT_ERR_BAD_SIGNATURE, "an RS256 signature is no PS256 one");
        is_int(mt_jws_verify_signature(mt_keyset_get(k->rsa_pub, 0),
                                       MT_ALG_RS384, (unsigned char *) in,
                                       strlen(in), sig, n),
               MT_ERR_BAD_SIGNATURE, "an RS256 signature is no RS384 one");
        free(in);
    }
}


/* ---- HS256 with the RSA public key as the secret ------------------- */

static void
alg_confusion(keys_t *k)
{
    int             i, n;
    char           *pem, *in, *token, jwk[4096];
    size_t          pem_len, mac_len;
    mt_keyset_t    *ks;
    unsigned char  *der, mac[64];
    unsigned int    ml;

    pem = pkey_pem(k->rsa, 0, &pem_len);
    der = NULL;
    n = i2d_PUBKEY(k->rsa, &der);

    in = signing_input("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                       "{\"exp\":2000000000}");

    for (i = 0; i < 3; i++) {
        const unsigned char  *secret;
        size_t                secret_len;

        /* the PEM text, the PEM without its final newline, the DER */
        secret = i < 2 ? (const unsigned char *) pem : der;
        secret_len = i == 0 ? pem_len : i == 1 ? pem_len - 1 : (size_t) n;

        HMAC(EVP_sha256(), secret, (int) secret_len, (unsigned char *) in,
             strlen(in), mac, &ml);
        mac_len = ml;
        token = jws_with_sig("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                             "{\"exp\":2000000000}", mac, mac_len);

        is_int(verify_token(k->rsa_pub, token), MT_ERR_UNKNOWN_KEY,
               "HS256 signed with the RSA public key's %s: refused by the "
               "PEM key set", i == 0 ? "PEM" : i == 1 ? "PEM (no newline)"
                                                     : "DER");
        is_int(verify_token(k->rsa_priv, token), MT_ERR_UNKNOWN_KEY,
               "... and by the private key set");

        free(token);
    }

    /* the same through a JWK-loaded key */
    {
        json_t  *obj;
        char    *s;
        BIGNUM  *bn_n, *bn_e;
        unsigned char  buf[512];
        char    *ns, *es;

        bn_n = bn_e = NULL;
        EVP_PKEY_get_bn_param(k->rsa, "n", &bn_n);
        EVP_PKEY_get_bn_param(k->rsa, "e", &bn_e);
        ns = b64url_str(buf, (size_t) BN_bn2bin(bn_n, buf));
        es = b64url_str(buf, (size_t) BN_bn2bin(bn_e, buf));
        snprintf(jwk, sizeof(jwk), "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":"
                 "\"%s\"}", ns, es);

        ks = mt_keyset_new();
        is_int(add_jwk(ks, jwk, err, sizeof(err)), MT_OK, "RSA JWK loads");

        /* the JWK text itself as the HMAC secret */
        HMAC(EVP_sha256(), jwk, (int) strlen(jwk), (unsigned char *) in,
             strlen(in), mac, &ml);
        token = jws_with_sig("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                             "{\"exp\":2000000000}", mac, ml);
        is_int(verify_token(ks, token), MT_ERR_UNKNOWN_KEY,
               "HS256 signed with the JWK text: refused by the JWK key set");

        free(token);
        mt_keyset_free(ks);
        free(ns);
        free(es);
        BN_free(bn_n);
        BN_free(bn_e);
        (void) obj;
        (void) s;
    }

    free(in);
    free(pem);
    OPENSSL_free(der);
}


/* ---- header rules ------------------------------------------------- */

static void
headers(keys_t *k)
{
    static const struct {
        const char  *header;
        mt_err_t     want;
        const char  *name;
    } cases[] = {
        { "{\"alg\":\"HS256\"}", MT_OK, "plain HS256" },
        { "{\"alg\":\"none\"}", MT_ERR_UNSUPPORTED_ALG, "alg none" },
        { "{\"alg\":\"None\"}", MT_ERR_UNSUPPORTED_ALG, "alg None" },
        { "{\"alg\":\"NONE\"}", MT_ERR_UNSUPPORTED_ALG, "alg NONE" },
        { "{\"alg\":\"hs256\"}", MT_ERR_UNSUPPORTED_ALG, "alg hs256" },
        { "{\"alg\":\"HS256 \"}", MT_ERR_UNSUPPORTED_ALG, "alg with a space" },
        { "{\"alg\":\"\"}", MT_ERR_UNSUPPORTED_ALG, "alg empty" },
        { "{\"alg\":\"RSA-OAEP\"}", MT_ERR_UNSUPPORTED_ALG,
          "alg of JWE key management" },
        { "{}", MT_ERR_MALFORMED, "alg missing" },
        { "{\"typ\":\"JWT\"}", MT_ERR_MALFORMED, "alg missing, typ present" },
        { "{\"alg\":null}", MT_ERR_MALFORMED, "alg null" },
        { "{\"alg\":[\"HS256\"]}", MT_ERR_MALFORMED, "alg array" },
        { "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", MT_ERR_UNSUPPORTED_ALG,
          "crit" },
        { "{\"alg\":\"HS256\",\"crit\":[]}", MT_ERR_UNSUPPORTED_ALG,
          "crit empty" },
        { "{\"alg\":\"HS256\",\"b64\":false,\"crit\":[\"b64\"]}",
          MT_ERR_UNSUPPORTED_ALG, "unencoded payload (b64 + crit)" },
        { "{\"alg\":\"HS256\",\"jwk\":{\"kty\":\"oct\",\"k\":\"AA\"}}",
          MT_ERR_UNSUPPORTED_ALG, "jwk" },
        { "{\"alg\":\"HS256\",\"jku\":\"https://evil.example/\"}",
          MT_ERR_UNSUPPORTED_ALG, "jku" },
        { "{\"alg\":\"HS256\",\"x5u\":\"https://evil.example/\"}",
          MT_ERR_UNSUPPORTED_ALG, "x5u" },
        { "{\"alg\":\"HS256\",\"x5c\":[\"MIIB\"]}", MT_ERR_UNSUPPORTED_ALG,
          "x5c" },
        { "{\"alg\":\"HS256\",\"jwk\":null}", MT_ERR_UNSUPPORTED_ALG,
          "jwk null" },
        { "{\"alg\":\"HS256\",\"enc\":\"A128GCM\"}", MT_ERR_MALFORMED,
          "enc (a JWE header)" },
        { "{\"alg\":\"HS256\",\"alg\":\"HS256\"}", MT_ERR_MALFORMED,
          "duplicate alg, same value" },
        { "{\"alg\":\"none\",\"alg\":\"HS256\"}", MT_ERR_MALFORMED,
          "duplicate alg, none first" },
        { "{\"alg\":\"HS256\",\"kid\":5}", MT_ERR_MALFORMED, "kid number" },
        { "[\"HS256\"]", MT_ERR_MALFORMED, "header an array" },
        { "\"HS256\"", MT_ERR_MALFORMED, "header a string" },
        { "{\"alg\":\"HS256\"", MT_ERR_MALFORMED, "header truncated" },
        { "{\"alg\":\"HS256\"} ", MT_OK, "header with trailing space" },
    };
    size_t   i;
    char    *token, kid[MT_MAX_KID_LEN + 32];

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        token = make_jws(mt_keyset_get(k->oct, 0), MT_ALG_HS256,
                         cases[i].header, "{\"exp\":1}");
        is_int(verify_token(k->oct, token), cases[i].want, "header: %s",
               cases[i].name);
        free(token);
    }

    /* alg none with an empty signature, the classic form */
    token = jws_with_sig("{\"alg\":\"none\"}", "{\"exp\":1}",
                         (const unsigned char *) "", 0);
    ok(verify_token(k->oct, token) != MT_OK
       && verify_token(k->rsa_pub, token) != MT_OK,
       "alg none with an empty signature is refused");
    free(token);

    /* kid at and over the bound */
    memset(kid, 'k', sizeof(kid));
    snprintf(kid, sizeof(kid), "{\"alg\":\"HS256\",\"kid\":\"%.*s\"}",
             MT_MAX_KID_LEN, "");
    {
        char  header[MT_MAX_KID_LEN + 64];
        char  name[MT_MAX_KID_LEN + 2];

        memset(name, 'k', sizeof(name));
        name[MT_MAX_KID_LEN] = '\0';
        snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"kid\":\"%s\"}",
                 name);
        token = make_jws(mt_keyset_get(k->oct, 0), MT_ALG_HS256, header,
                         "{\"exp\":1}");
        is_int(verify_token(k->oct, token), MT_OK,
               "kid of MT_MAX_KID_LEN bytes");
        free(token);

        name[MT_MAX_KID_LEN] = 'k';
        name[MT_MAX_KID_LEN + 1] = '\0';
        snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"kid\":\"%s\"}",
                 name);
        token = make_jws(mt_keyset_get(k->oct, 0), MT_ALG_HS256, header,
                         "{\"exp\":1}");
        is_int(verify_token(k->oct, token), MT_ERR_MALFORMED,
               "kid over MT_MAX_KID_LEN bytes");
        free(token);
    }
}


/* ---- kid selection ------------------------------------------------- */

static void
kids(void)
{
    char            *token;
    mt_jws_t         jws;
    mt_keyset_t     *ab, *abc;
    const mt_key_t  *a, *c;
    static const unsigned char  sa[32] = "secret A secret A secret A sec A";
    static const unsigned char  sb[32] = "secret B secret B secret B sec B";
    static const unsigned char  sc[32] = "secret C secret C secret C sec C";

    ab = mt_keyset_new();
    mt_keyset_add_secret(ab, sa, 32, "a", 1, err, sizeof(err));
    mt_keyset_add_secret(ab, sb, 32, "b", 1, err, sizeof(err));

    abc = mt_keyset_new();
    mt_keyset_add_secret(abc, sa, 32, "a", 1, err, sizeof(err));
    mt_keyset_add_secret(abc, sb, 32, "b", 1, err, sizeof(err));
    mt_keyset_add_secret(abc, sc, 32, NULL, 0, err, sizeof(err));

    a = mt_keyset_get(ab, 0);
    c = mt_keyset_get(abc, 2);

    token = make_jws(a, MT_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"a\"}",
                     "{\"exp\":1}");
    ok(mt_jws_verify(&jws, ab, token, strlen(token)) == MT_OK
       && jws.key == a, "kid a picks key a");
    mt_jws_clear(&jws);
    free(token);

    token = make_jws(a, MT_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"b\"}",
                     "{\"exp\":1}");
    is_int(verify_token(ab, token), MT_ERR_BAD_SIGNATURE,
           "signed by a, kid b: only key b is tried");
    free(token);

    token = make_jws(a, MT_ALG_HS256, "{\"alg\":\"HS256\"}", "{\"exp\":1}");
    is_int(verify_token(ab, token), MT_OK, "no kid: every key is tried");
    free(token);

    token = make_jws(a, MT_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"zz\"}",
                     "{\"exp\":1}");
    is_int(verify_token(ab, token), MT_ERR_UNKNOWN_KEY,
           "unknown kid, no kid-less key: unknown key");
    is_int(verify_token(abc, token), MT_ERR_BAD_SIGNATURE,
           "unknown kid: key a (with a kid) is not tried");
    free(token);

    token = make_jws(c, MT_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"zz\"}",
                     "{\"exp\":1}");
    ok(mt_jws_verify(&jws, abc, token, strlen(token)) == MT_OK
       && jws.key == c, "unknown kid: the kid-less key verifies");
    mt_jws_clear(&jws);
    free(token);

    token = make_jws(c, MT_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"a\"}",
                     "{\"exp\":1}");
    is_int(verify_token(abc, token), MT_ERR_BAD_SIGNATURE,
           "kid a: the kid-less key is not tried");
    free(token);

    /* kids compare as bytes: prefix and case do not match */
    token = make_jws(a, MT_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"A\"}",
                     "{\"exp\":1}");
    is_int(verify_token(ab, token), MT_ERR_UNKNOWN_KEY, "kid A is not a");
    free(token);

    mt_keyset_free(ab);
    mt_keyset_free(abc);
}


/* ---- token shape ---------------------------------------------------- */

static void
shapes(keys_t *k)
{
    size_t       i;
    char        *good, *s, *big;
    mt_jws_t     jws;

    good = make_jws(mt_keyset_get(k->oct, 0), MT_ALG_HS256,
                    "{\"alg\":\"HS256\"}", "{\"exp\":1}");
    is_int(verify_token(k->oct, good), MT_OK, "the reference token");

    is_int(mt_jws_verify(&jws, k->oct, "", 0), MT_ERR_MISSING, "empty");

    {
        static const char  *bad[] = {
            "abc", "a.b", "a.b.c.d", "a.b.c.d.e", "..", "...", "....",
            ".eyJleHAiOjF9.c2ln", "eyJhbGciOiJIUzI1NiJ9..c2ln",
            "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.",
        };

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            is_int(verify_token(k->oct, bad[i]), MT_ERR_MALFORMED,
                   "shape \"%s\"", bad[i]);
        }
    }

    /* the reference token with an extra part, or parts emptied */
    s = malloc(strlen(good) + 16);

    sprintf(s, "%s.", good);
    is_int(verify_token(k->oct, s), MT_ERR_MALFORMED, "4 parts (trailing .)");
    sprintf(s, "%s.AAAA", good);
    is_int(verify_token(k->oct, s), MT_ERR_MALFORMED, "4 parts");
    sprintf(s, "%s.AAAA.AAAA", good);
    is_int(verify_token(k->oct, s), MT_ERR_MALFORMED, "5 parts (JWE shape)");
    sprintf(s, "%s\n", good);
    is_int(verify_token(k->oct, s), MT_ERR_MALFORMED, "trailing newline");
    sprintf(s, " %s", good);
    is_int(verify_token(k->oct, s), MT_ERR_MALFORMED, "leading space");
    /* its header and payload need no '=': this is its padded form */
    sprintf(s, "%s=", good);
    is_int(verify_token(k->oct, s), MT_OK, "padded signature");
    sprintf(s, "%s==", good);
    is_int(verify_token(k->oct, s), MT_ERR_MALFORMED,
           "over-padded signature");

    /* the explicit length rules, not the NUL */
    ok(mt_jws_verify(&jws, k->oct, good, strlen(good) - 1) != MT_OK,
       "the length, not the NUL, ends the token");
    mt_jws_clear(&jws);
    free(s);

    /* payloads: duplicate members, not an object, too many claims */
    s = make_jws(mt_keyset_get(k->oct, 0), MT_ALG_HS256,
                 "{\"alg\":\"HS256\"}", "{\"exp\":1,\"exp\":2}");
    is_int(verify_token(k->oct, s), MT_ERR_MALFORMED,
           "duplicate claim in the payload");
    free(s);

    s = make_jws(mt_keyset_get(k->oct, 0), MT_ALG_HS256,
                 "{\"alg\":\"HS256\"}", "[1,2]");
    is_int(verify_token(k->oct, s), MT_ERR_MALFORMED, "payload an array");
    free(s);

    {
        char  claims[MT_MAX_CLAIMS * 16 + 16];
        int   n;

        n = sprintf(claims, "{\"exp\":1");
        for (i = 0; i < MT_MAX_CLAIMS; i++) {
            n += sprintf(claims + n, ",\"c%zu\":1", i);
        }
        sprintf(claims + n, "}");

        s = make_jws(mt_keyset_get(k->oct, 0), MT_ALG_HS256,
                     "{\"alg\":\"HS256\"}", claims);
        is_int(verify_token(k->oct, s), MT_ERR_TOO_LARGE,
               "more than MT_MAX_CLAIMS claims");
        free(s);
    }

    /* size bounds */
    big = malloc(MT_MAX_TOKEN_LEN + 2);
    memset(big, 'A', MT_MAX_TOKEN_LEN + 1);
    big[10] = '.';
    big[20] = '.';
    big[MT_MAX_TOKEN_LEN + 1] = '\0';
    is_int(verify_token(k->oct, big), MT_ERR_TOO_LARGE,
           "token over MT_MAX_TOKEN_LEN");

    /* a signature part longer than any signature we accept */
    big[3000] = '\0';
    is_int(verify_token(k->oct, big), MT_ERR_MALFORMED,
           "signature part over 1024 bytes");
    free(big);

    free(good);
}


/* ---- padded segments (google-auth before 1.6.3) -------------------- */

/*
 * A token with a 22-byte header (needs "=="), a 20-byte payload (needs
 * "=") and an HS256 signature (32 bytes, needs "="), each segment
 * followed by the given padding.  The signature covers the segments as
 * written, or their unpadded form when sign_unpadded is set.
 */
static char *
padded_jws(const mt_key_t *key, const char *hpad, const char *ppad,
    const char *spad, int sign_unpadded)
{
    char           *h, *p, *s, *in, *out;
    size_t          n, sig_len;
    unsigned char   sig[1024];

    h = b64url_str("{\"alg\":\"HS256\",\"x\":12}", 22);
    p = b64url_str("{\"exp\":999999999999}", 20);

    n = strlen(h) + strlen(p) + 16;
    in = malloc(n);

    snprintf(in, n, "%s.%s", h, p);
    mt_jws_sign(key, MT_ALG_HS256, (unsigned char *) in, strlen(in), sig,
                &sig_len);

    if (!sign_unpadded) {
        snprintf(in, n, "%s%s.%s%s", h, hpad, p, ppad);
        mt_jws_sign(key, MT_ALG_HS256, (unsigned char *) in, strlen(in), sig,
                    &sig_len);
    }

    snprintf(in, n, "%s%s.%s%s", h, hpad, p, ppad);

    s = b64url_str(sig, sig_len);
    n = strlen(in) + strlen(s) + strlen(spad) + 2;
    out = malloc(n);
    snprintf(out, n, "%s.%s%s", in, s, spad);

    free(h);
    free(p);
    free(s);
    free(in);

    return out;
}


static void
padding(keys_t *k)
{
    size_t           i;
    char            *t;
    const mt_key_t  *key;

    static const struct {
        const char  *h, *p, *s;
        mt_err_t     rc;
        const char  *what;
    } cases[] = {
        { "==", "=", "=", MT_OK, "every segment padded canonically" },
        { "", "", "", MT_OK, "no segment padded (RFC 7515)" },
        { "==", "", "", MT_ERR_MALFORMED, "header padded, others not" },
        { "", "=", "", MT_ERR_MALFORMED, "payload padded, others not" },
        { "", "", "=", MT_ERR_MALFORMED, "signature padded, others not" },
        { "==", "=", "", MT_ERR_MALFORMED, "signature padding missing" },
        { "", "=", "=", MT_ERR_MALFORMED, "header padding missing" },
        { "=", "=", "=", MT_ERR_MALFORMED, "header short of one '='" },
        { "===", "=", "=", MT_ERR_MALFORMED, "header with '==='" },
        { "==", "==", "=", MT_ERR_MALFORMED, "payload with one '=' extra" },
        { "==", "=", "==", MT_ERR_MALFORMED, "signature with one '=' extra" },
        { "==", "=", "=====", MT_ERR_MALFORMED,
          "signature with a block of '=' extra" },
        { "==", "=", "=.", MT_ERR_MALFORMED, "a fourth, empty part" },
        { "==", "=", "= ", MT_ERR_MALFORMED, "a space after the padding" },
        { "==%3D", "=", "=", MT_ERR_MALFORMED, "percent-encoded padding" },
    };

    key = mt_keyset_get(k->oct, 0);

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        t = padded_jws(key, cases[i].h, cases[i].p, cases[i].s, 0);
        is_int(verify_token(k->oct, t), cases[i].rc, "padding: %s",
               cases[i].what);
        free(t);
    }

    /* the signature covers the bytes as sent, padding included */
    t = padded_jws(key, "==", "=", "=", 1);
    is_int(verify_token(k->oct, t), MT_ERR_BAD_SIGNATURE,
           "padding: signed unpadded, sent padded");
    free(t);

    /* '=' inside a segment, the length kept canonical */
    t = padded_jws(key, "==", "=", "=", 0);
    t[4] = '=';
    is_int(verify_token(k->oct, t), MT_ERR_MALFORMED,
           "padding: '=' inside the header");
    free(t);

    t = padded_jws(key, "==", "=", "=", 0);
    t[strlen(t) - 2] = '=';
    is_int(verify_token(k->oct, t), MT_ERR_MALFORMED,
           "padding: '==' ending a signature that needs one '='");
    free(t);

    /* non-zero trailing bits stay refused when padded */
    t = padded_jws(key, "==", "=", "=", 0);
    t[strlen(t) - 2] = t[strlen(t) - 2] == 'A' ? 'B' : 'A';
    ok(verify_token(k->oct, t) != MT_OK,
       "padding: a changed last signature character is refused");
    free(t);
}


/* ---- ECDSA signature encoding (CVE-2022-21449 and friends) --------- */

static void
ecdsa(keys_t *k)
{
    size_t           n;
    char            *in, *token;
    const mt_key_t  *key;
    unsigned char    sig[1024], bad[200];

    /* P-256 group order */
    static const unsigned char  order[32] = {
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
        0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51
    };

    key = mt_keyset_get(k->p256_priv, 0);
    in = signing_input("{\"alg\":\"ES256\"}", "{\"exp\":1}");

    mt_jws_sign(key, MT_ALG_ES256, (unsigned char *) in, strlen(in), sig, &n);
    is_int(n, 64, "ES256 signature is 64 bytes");
    is_int(mt_jws_verify_signature(key, MT_ALG_ES256, (unsigned char *) in,
                                   strlen(in), sig, n), MT_OK,
           "ES256 verifies");

#define V(s, l)  mt_jws_verify_signature(key, MT_ALG_ES256,                  \
                     (unsigned char *) in, strlen(in), (s), (l))

    is_int(V(sig, 63), MT_ERR_BAD_SIGNATURE, "63 bytes refused");
    memcpy(bad, sig, 64);
    bad[64] = 0;
    is_int(V(bad, 65), MT_ERR_BAD_SIGNATURE, "65 bytes refused");
    is_int(V(sig, 0), MT_ERR_BAD_SIGNATURE, "0 bytes refused");

    /* leading-zero-padded to the P-521 size */
    memset(bad, 0, 132);
    memcpy(bad + 34, sig, 32);
    memcpy(bad + 100, sig + 32, 32);
    is_int(V(bad, 132), MT_ERR_BAD_SIGNATURE, "132 bytes (padded) refused");

    memset(bad, 0, 64);
    is_int(V(bad, 64), MT_ERR_BAD_SIGNATURE, "r = 0, s = 0 refused");
    memcpy(bad, sig, 32);
    is_int(V(bad, 64), MT_ERR_BAD_SIGNATURE, "s = 0 refused");
    memset(bad, 0, 32);
    memcpy(bad + 32, sig + 32, 32);
    is_int(V(bad, 64), MT_ERR_BAD_SIGNATURE, "r = 0 refused");
    memcpy(bad, order, 32);
    memcpy(bad + 32, order, 32);
    is_int(V(bad, 64), MT_ERR_BAD_SIGNATURE, "r = s = n refused");
    memcpy(bad, order, 32);
    memcpy(bad + 32, sig + 32, 32);
    is_int(V(bad, 64), MT_ERR_BAD_SIGNATURE, "r = n refused");

    /* the DER form of a valid signature is not a JOSE signature */
    {
        ECDSA_SIG      *es;
        BIGNUM         *r, *s;
        unsigned char  *der;
        int             dlen;

        r = BN_bin2bn(sig, 32, NULL);
        s = BN_bin2bn(sig + 32, 32, NULL);
        es = ECDSA_SIG_new();
        ECDSA_SIG_set0(es, r, s);
        der = NULL;
        dlen = i2d_ECDSA_SIG(es, &der);
        is_int(V(der, (size_t) dlen), MT_ERR_BAD_SIGNATURE,
               "DER-encoded signature refused");
        OPENSSL_free(der);
        ECDSA_SIG_free(es);
    }

    /* high s (n - s) verifies in ECDSA; JOSE does not forbid it */
    {
        BIGNUM  *bs, *bn, *hs;

        bs = BN_bin2bn(sig + 32, 32, NULL);
        bn = BN_bin2bn(order, 32, NULL);
        hs = BN_new();
        BN_sub(hs, bn, bs);
        memcpy(bad, sig, 32);
        BN_bn2binpad(hs, bad + 32, 32);
        ok(V(bad, 64) == MT_OK, "n - s (malleated) also verifies: ECDSA "
           "signatures are malleable, tokens must not be compared as "
           "signatures");
        BN_free(bs);
        BN_free(bn);
        BN_free(hs);
    }

#undef V

    /* whole tokens with a zero signature */
    memset(bad, 0, 64);
    token = jws_with_sig("{\"alg\":\"ES256\"}", "{\"exp\":1}", bad, 64);
    is_int(verify_token(k->p256_priv, token), MT_ERR_BAD_SIGNATURE,
           "token with an all-zero ES256 signature refused");
    free(token);

    /* ES512: 132 bytes, zero signature */
    memset(bad, 0, 132);
    token = jws_with_sig("{\"alg\":\"ES512\"}", "{\"exp\":1}", bad, 132);
    is_int(verify_token(k->p521_priv, token), MT_ERR_BAD_SIGNATURE,
           "token with an all-zero ES512 signature refused");
    free(token);

    free(in);
}


int
main(void)
{
    keys_t  k;

    cookbook();

    keys_init(&k);
    round_trips(&k);
    alg_confusion(&k);
    headers(&k);
    kids();
    shapes(&k);
    padding(&k);
    ecdsa(&k);
    keys_free(&k);

    return tap_exit();
}
