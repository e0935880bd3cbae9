/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * JWE (mt_jwe.c) through mt_jwe_decrypt() and mt_jwe_encrypt():
 *
 *   - the RFC 7520 section 5 examples (and the X25519 one of the
 *     cookbook's curve25519 folder) whose alg and enc we support
 *     decrypt to their exact plaintext; the others are refused;
 *   - a bit flipped in any of the five parts of each example (sampled
 *     positions) is refused: MT_ERR_DECRYPT, or for the header, a
 *     refusal of what it became (MT_ERR_MALFORMED, MT_ERR_UNSUPPORTED_ALG)
 *     and never a success;
 *   - encrypt/decrypt round trips for every alg x enc, on every curve;
 *   - a JWE to another key of the same type, or to no configured key,
 *     is MT_ERR_DECRYPT; an HMAC secret never decrypts;
 *   - X25519 low-order ephemeral keys: a JWE forged with the all-zero
 *     shared secret they give (which an attacker knows) is refused;
 *     EC ephemeral keys off the curve, or on another one, are refused;
 *   - kid selection.
 */

#include <openssl/rand.h>

#include "mt_core.h"
#include "tap.h"


static char  err[512];


/* ---- helpers ------------------------------------------------------------ */

/* mt_jwe_decrypt(), the error code; out must be NULL on failure */
static mt_err_t
decrypt_rc(const mt_keyset_t *ks, const char *jwe)
{
    size_t          len;
    mt_err_t        rc;
    unsigned char  *out;

    rc = mt_jwe_decrypt(ks, jwe, strlen(jwe), &out, &len);

    if (rc == MT_OK) {
        OPENSSL_clear_free(out, len);

    } else if (out != NULL) {
        diag("mt_jwe_decrypt failed (%s) but set *out", mt_strerror(rc));
        return MT_ERR_INTERNAL;
    }

    return rc;
}


/* decrypts to exactly plain? */
static int
decrypts_to(const mt_keyset_t *ks, const char *jwe, const void *plain,
    size_t plain_len)
{
    int             same;
    size_t          len;
    mt_err_t        rc;
    unsigned char  *out;

    rc = mt_jwe_decrypt(ks, jwe, strlen(jwe), &out, &len);

    if (rc != MT_OK) {
        diag("mt_jwe_decrypt: %s", mt_strerror(rc));
        return 0;
    }

    same = len == plain_len && memcmp(out, plain, len) == 0;
    OPENSSL_clear_free(out, len);

    if (!same) {
        diag("mt_jwe_decrypt: a different plaintext (%zu bytes)", len);
    }

    return same;
}


/* a JWK (json) added to ks as an encryption key: "use":"enc" if absent */
static mt_err_t
add_enc_jwk(mt_keyset_t *ks, json_t *jwk)
{
    char      *text;
    json_t    *copy;
    mt_err_t   rc;

    copy = json_deep_copy(jwk);

    if (json_object_get(copy, "use") == NULL) {
        json_object_set_new(copy, "use", json_string("enc"));
    }

    text = json_dumps(copy, JSON_COMPACT);
    json_decref(copy);

    if (text == NULL) {
        return MT_ERR_NOMEM;
    }

    rc = add_jwk(ks, text, err, sizeof(err));
    free(text);

    if (rc != MT_OK) {
        diag("add_enc_jwk: %s", err);
    }

    return rc;
}


/* a random "oct" encryption key of len bytes; kid may be NULL */
static mt_err_t
add_oct(mt_keyset_t *ks, const unsigned char *secret, size_t len,
    const char *kid)
{
    char      *k;
    json_t    *jwk;
    mt_err_t   rc;

    k = b64url_str(secret, len);
    jwk = json_pack("{s:s, s:s}", "kty", "oct", "k", k);

    if (kid != NULL) {
        json_object_set_new(jwk, "kid", json_string(kid));
    }

    rc = add_enc_jwk(ks, jwk);
    json_decref(jwk);
    free(k);

    return rc;
}


/* a keyset with one fresh key: "RSA", "P-256", "P-384", "P-521",
 * "X25519", or "oct16", "oct32", "oct64" */
static mt_keyset_t *
fresh_keyset(const char *kind, const char *kid)
{
    int             ok_;
    EVP_PKEY       *pkey;
    mt_keyset_t    *ks;
    unsigned char   secret[64];

    ks = mt_keyset_new();

    if (strncmp(kind, "oct", 3) == 0) {
        size_t  len = (size_t) atoi(kind + 3);

        RAND_bytes(secret, (int) len);
        ok_ = add_oct(ks, secret, len, kid) == MT_OK;

    } else {
        if (strcmp(kind, "RSA") == 0) {
            pkey = gen_key("RSA", NULL, 2048);

        } else if (strcmp(kind, "X25519") == 0) {
            pkey = gen_key("X25519", NULL, 0);

        } else {
            pkey = gen_key("EC", kind, 0);
        }

        ok_ = pkey != NULL && add_pkey(ks, pkey, 1) == MT_OK;
        EVP_PKEY_free(pkey);

        if (ok_ && kid != NULL) {
            diag("fresh_keyset: kid only for oct keys");
        }
    }

    if (!ok_ || mt_keyset_count(ks) != 1) {
        diag("fresh_keyset(%s) failed", kind);
        mt_keyset_free(ks);
        return NULL;
    }

    return ks;
}


/* the key kind that fits alg (and enc, for dir) */
static const char *
kind_for(const char *alg, const char *enc)
{
    if (strncmp(alg, "RSA", 3) == 0) {
        return "RSA";
    }

    if (strcmp(alg, "A128KW") == 0) {
        return "oct16";
    }

    if (strcmp(alg, "A256KW") == 0) {
        return "oct32";
    }

    if (strcmp(alg, "dir") == 0) {
        return strcmp(enc, "A128GCM") == 0 ? "oct16"
               : strcmp(enc, "A256CBC-HS512") == 0 ? "oct64" : "oct32";
    }

    return "P-256";
}


/* split a compact JWE into five malloc()ed strings */
static int
split5(const char *jwe, char *part[5])
{
    int          i;
    const char  *p, *dot;

    p = jwe;

    for (i = 0; i < 5; i++) {
        dot = strchr(p, '.');

        if ((i < 4 && dot == NULL) || (i == 4 && dot != NULL)) {
            while (i-- > 0) {
                free(part[i]);
            }
            return 0;
        }

        if (dot == NULL) {
            dot = p + strlen(p);
        }

        part[i] = strndup(p, (size_t) (dot - p));
        p = dot + 1;
    }

    return 1;
}


/* join five parts, part idx replaced by the base64url of data */
static char *
join5(char *const part[5], int idx, const unsigned char *data, size_t len)
{
    int      i;
    char    *rep, *out;
    size_t   n;

    rep = idx >= 0 ? b64url_str(data, len) : NULL;

    for (n = 5, i = 0; i < 5; i++) {
        n += strlen(i == idx ? rep : part[i]);
    }

    out = malloc(n);
    out[0] = '\0';

    for (i = 0; i < 5; i++) {
        strcat(out, i == idx ? rep : part[i]);

        if (i < 4) {
            strcat(out, ".");
        }
    }

    free(rep);

    return out;
}


static unsigned char *
b64url_decode_str(const char *s, size_t *len)
{
    unsigned char  *buf;

    buf = malloc(mt_base64_decoded_max(strlen(s)) + 1);

    if (mt_base64url_decode(buf, len, s, strlen(s)) != MT_OK) {
        free(buf);
        return NULL;
    }

    return buf;
}


/*
 * A compact JWE built here from a header, the encrypted key and a
 * known CEK: what an attacker does who knows the shared secret.
 */
static char *
forge_jwe(json_t *header, const unsigned char *ek, size_t ek_len,
    const unsigned char *cek, size_t cek_len, const char *plain)
{
    char           *hdr, *h, *e, *i, *c, *t, *out;
    size_t          n, plen;
    mt_err_t        rc;
    unsigned char   iv[12], tag[16], *ct;

    hdr = json_dumps(header, JSON_COMPACT);
    h = b64url_str(hdr, strlen(hdr));
    free(hdr);

    RAND_bytes(iv, sizeof(iv));
    plen = strlen(plain);
    ct = malloc(plen + 1);

    rc = mt_gcm(0, cek, cek_len, iv, (const unsigned char *) h, strlen(h),
                (const unsigned char *) plain, plen, tag, ct);

    if (rc != MT_OK) {
        diag("forge_jwe: mt_gcm: %s", mt_strerror(rc));
        free(h);
        free(ct);
        return NULL;
    }

    e = b64url_str(ek, ek_len);
    i = b64url_str(iv, sizeof(iv));
    c = b64url_str(ct, plen);
    t = b64url_str(tag, sizeof(tag));

    n = strlen(h) + strlen(e) + strlen(i) + strlen(c) + strlen(t) + 5;
    out = malloc(n);
    snprintf(out, n, "%s.%s.%s.%s.%s", h, e, i, c, t);

    free(h);
    free(e);
    free(i);
    free(c);
    free(t);
    free(ct);

    return out;
}


/* ---- RFC 7520 section 5 ------------------------------------------------- */

typedef struct {
    int  ok, decrypt, malformed, unsupported, other;
} outcomes_t;


static void
outcome(outcomes_t *o, mt_err_t rc)
{
    switch (rc) {
    case MT_OK:
        o->ok++;
        break;
    case MT_ERR_DECRYPT:
        o->decrypt++;
        break;
    case MT_ERR_MALFORMED:
        o->malformed++;
        break;
    case MT_ERR_UNSUPPORTED_ALG:
        o->unsupported++;
        break;
    default:
        o->other++;
        diag("unexpected %s", mt_strerror(rc));
    }
}


static const char  *part_names[5] = {
    "header", "encrypted key", "iv", "ciphertext", "tag"
};


/* a bit flipped at sampled positions of each part; a byte added to an
 * empty encrypted key */
static void
tamper(const mt_keyset_t *ks, const char *name, const char *compact)
{
    int             i;
    char           *part[5], *jwe;
    size_t          len, pos, step;
    outcomes_t      o;
    unsigned char  *raw, zero;

    if (!split5(compact, part)) {
        for (i = 0; i < 5; i++) {
            ok(0, "%s: splits", name);
        }
        return;
    }

    for (i = 0; i < 5; i++) {
        memset(&o, 0, sizeof(o));
        raw = b64url_decode_str(part[i], &len);

        if (raw == NULL) {
            ok(0, "%s: part %d decodes", name, i);
            continue;
        }

        if (len == 0) {
            zero = 0;
            jwe = join5(part, i, &zero, 1);
            outcome(&o, decrypt_rc(ks, jwe));
            free(jwe);

        } else {
            step = len / 24 + 1;

            for (pos = 0; pos < len; pos += step) {
                raw[pos] ^= 0x01;
                jwe = join5(part, i, raw, len);
                outcome(&o, decrypt_rc(ks, jwe));
                free(jwe);
                raw[pos] ^= 0x01;
            }
        }

        free(raw);

        if (i == 0) {
            ok(o.ok == 0 && o.other == 0 && o.decrypt + o.malformed
                                            + o.unsupported > 0,
               "%s: tampered header refused (%d decrypt, %d malformed, "
               "%d unsupported)", name, o.decrypt, o.malformed,
               o.unsupported);

        } else {
            ok(o.ok == 0 && o.other == 0 && o.malformed == 0
               && o.unsupported == 0 && o.decrypt > 0,
               "%s: tampered %s: %d times MT_ERR_DECRYPT", name,
               part_names[i], o.decrypt);
        }
    }

    for (i = 0; i < 5; i++) {
        free(part[i]);
    }
}


/* the header with one more member: valid JSON, another AAD */
static void
header_member(const mt_keyset_t *ks, const char *name, const char *compact)
{
    int             i;
    char           *part[5], *text, *jwe;
    size_t          len;
    json_t         *header;
    unsigned char  *raw;

    if (!split5(compact, part)) {
        ok(0, "%s: splits", name);
        return;
    }

    raw = b64url_decode_str(part[0], &len);
    header = raw ? json_loadb((char *) raw, len, 0, NULL) : NULL;
    free(raw);

    json_object_set_new(header, "x-tampered", json_true());
    text = json_dumps(header, JSON_COMPACT);
    json_decref(header);

    jwe = join5(part, 0, (unsigned char *) text, text ? strlen(text) : 0);
    is_int(decrypt_rc(ks, jwe), MT_ERR_DECRYPT,
           "%s: a header member added (the AAD changes): MT_ERR_DECRYPT",
           name);

    free(jwe);
    free(text);

    for (i = 0; i < 5; i++) {
        free(part[i]);
    }
}


static void
cookbook(void)
{
    static const struct {
        const char  *file;
        const char  *name;
    } supported[] = {
        { "jose-cookbook/jwe/5_2.key_encryption_using_rsa-oaep_with_aes-gcm"
          ".json", "5.2 RSA-OAEP A256GCM" },
        { "jose-cookbook/jwe/5_4.key_agreement_with_key_wrapping_using_ecdh"
          "-es_and_aes-keywrap_with_aes-gcm.json",
          "5.4 ECDH-ES+A128KW A128GCM" },
        { "jose-cookbook/jwe/5_5.key_agreement_using_ecdh-es_with_aes-cbc-"
          "hmac-sha2.json", "5.5 ECDH-ES A128CBC-HS256" },
        { "jose-cookbook/jwe/5_6.direct_encryption_using_aes-gcm.json",
          "5.6 dir A128GCM" },
        { "jose-cookbook/jwe/5_8.key_wrap_using_aes-keywrap_with_aes-gcm"
          ".json", "5.8 A128KW A128GCM" },
        { "jose-cookbook/curve25519/ecdh-es.json",
          "curve25519 ECDH-ES A128GCM" },
    };
    static const struct {
        const char  *file;
        const char  *name;
    } unsupported[] = {
        { "jose-cookbook/jwe/5_1.key_encryption_using_rsa_v15_and_aes-hmac"
          "-sha2.json", "5.1 RSA1_5" },
        { "jose-cookbook/jwe/5_3.key_wrap_using_pbes2-aes-keywrap_with-aes"
          "-cbc-hmac-sha2.json", "5.3 PBES2-HS512+A256KW" },
        { "jose-cookbook/jwe/5_7.key_wrap_using_aes-gcm_keywrap_with_aes-"
          "cbc-hmac-sha2.json", "5.7 A256GCMKW" },
        { "jose-cookbook/jwe/5_9.compressed_content.json",
          "5.9 A128KW with zip DEF" },
    };
    size_t          i, plain_len;
    json_t         *doc, *input, *key, *bare;
    const char     *compact, *plain;
    mt_err_t        rc;
    mt_keyset_t    *ks;
    char           *kid_less;

    for (i = 0; i < sizeof(supported) / sizeof(supported[0]); i++) {
        doc = load_vector_json(supported[i].file);
        input = json_object_get(doc, "input");
        key = json_object_get(input, "key");
        compact = json_string_value(json_object_get(json_object_get(doc,
                                                                "output"),
                                                    "compact"));
        plain = json_string_value(json_object_get(input, "plaintext"));

        ks = mt_keyset_new();

        if (!ok(doc != NULL && compact != NULL && plain != NULL
                && add_enc_jwk(ks, key) == MT_OK,
                "%s: the example and its key load", supported[i].name))
        {
            skip(9, "no example");
            mt_keyset_free(ks);
            json_decref(doc);
            continue;
        }

        plain_len = strlen(plain);

        ok(decrypts_to(ks, compact, plain, plain_len),
           "%s: decrypts to the plaintext", supported[i].name);

        tamper(ks, supported[i].name, compact);
        header_member(ks, supported[i].name, compact);

        /* the compact form with a sixth part, or with four */
        kid_less = malloc(strlen(compact) + 3);
        snprintf(kid_less, strlen(compact) + 3, "%s.A", compact);
        is_int(decrypt_rc(ks, kid_less), MT_ERR_MALFORMED,
               "%s: six parts: MT_ERR_MALFORMED", supported[i].name);
        *strrchr(kid_less, '.') = '\0';
        *strrchr(kid_less, '.') = '\0';
        rc = decrypt_rc(ks, kid_less);
        ok(rc == MT_ERR_MALFORMED, "%s: four parts: MT_ERR_MALFORMED (%s)",
           supported[i].name, mt_strerror(rc));
        free(kid_less);

        mt_keyset_free(ks);
        json_decref(doc);
    }

    /* an oct key without "use":"enc" (nor an encryption "alg") */
    doc = load_vector_json(supported[4].file);
    bare = json_deep_copy(json_object_get(json_object_get(doc, "input"),
                                          "key"));
    json_object_del(bare, "use");
    json_object_del(bare, "alg");
    kid_less = json_dumps(bare, JSON_COMPACT);
    ks = mt_keyset_new();
    rc = add_jwk(ks, kid_less, err, sizeof(err));
    compact = json_string_value(json_object_get(json_object_get(doc,
                                                                "output"),
                                                "compact"));
    /* refused at load (an HMAC key of 16 bytes is too short) or later */
    ok(compact != NULL
       && (rc != MT_OK || decrypt_rc(ks, compact) == MT_ERR_DECRYPT),
       "5.8 with the key as a plain secret (no \"use\":\"enc\"): "
       "never decrypts (%s)", rc != MT_OK ? "refused at load" : "decrypt");
    free(kid_less);
    json_decref(bare);
    mt_keyset_free(ks);
    json_decref(doc);

    for (i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
        doc = load_vector_json(unsupported[i].file);
        input = json_object_get(doc, "input");
        key = json_object_get(input, "key");
        compact = json_string_value(json_object_get(json_object_get(doc,
                                                                "output"),
                                                    "compact"));
        ks = mt_keyset_new();

        if (json_is_object(key) && add_enc_jwk(ks, key) != MT_OK) {
            diag("%s: the key does not load (tried without it)",
                 unsupported[i].name);
        }

        rc = compact != NULL ? decrypt_rc(ks, compact) : MT_ERR_INTERNAL;
        is_int(rc, MT_ERR_UNSUPPORTED_ALG, "%s: refused as unsupported",
               unsupported[i].name);

        mt_keyset_free(ks);
        json_decref(doc);
    }

    /* 5.10 AAD, 5.11 unprotected headers, 5.12 no protected header,
     * 5.13 multiple recipients: the JSON serializations only */
    skip(4, "5.10-5.13 have no compact serialization");
}


/* ---- round trips ---------------------------------------------------------- */

static const char  *algs[] = {
    "RSA-OAEP", "RSA-OAEP-256", "ECDH-ES", "ECDH-ES+A128KW",
    "ECDH-ES+A256KW", "A128KW", "A256KW", "dir"
};

static const char  *encs[] = {
    "A128GCM", "A256GCM", "A128CBC-HS256", "A256CBC-HS512"
};

#define N_ALGS  (sizeof(algs) / sizeof(algs[0]))
#define N_ENCS  (sizeof(encs) / sizeof(encs[0]))


static const char  secret_text[] =
    "sk-test-0123456789abcdefghijklmnopqrstuvwxyz/+=";


static void
round_trips(void)
{
    static const char  *curves[] = { "P-256", "P-384", "P-521", "X25519" };
    size_t          a, e, c, len;
    char           *jwe;
    mt_err_t        rc;
    mt_keyset_t    *ks, *rsa, *ec[4];
    const char     *kind;

    rsa = fresh_keyset("RSA", NULL);

    for (c = 0; c < 4; c++) {
        ec[c] = fresh_keyset(curves[c], NULL);
    }

    for (a = 0; a < N_ALGS; a++) {
        for (e = 0; e < N_ENCS; e++) {
            for (c = 0; c < 4; c++) {
                kind = kind_for(algs[a], encs[e]);

                if (strncmp(algs[a], "ECDH", 4) == 0) {
                    ks = ec[c];
                    kind = curves[c];

                } else if (c > 0) {
                    break;

                } else if (strcmp(kind, "RSA") == 0) {
                    ks = rsa;

                } else {
                    ks = fresh_keyset(kind, NULL);
                }

                jwe = NULL;
                rc = ks == NULL ? MT_ERR_INTERNAL
                     : mt_jwe_encrypt(mt_keyset_get(ks, 0), algs[a],
                                      encs[e], NULL,
                                      (const unsigned char *) secret_text,
                                      strlen(secret_text), &jwe, &len);

                ok(rc == MT_OK && len == strlen(jwe)
                   && decrypts_to(ks, jwe, secret_text, strlen(secret_text)),
                   "round trip %s %s (%s key)", algs[a], encs[e], kind);

                if (rc != MT_OK) {
                    diag("mt_jwe_encrypt: %s", mt_strerror(rc));
                }

                free(jwe);

                if (ks != rsa && strncmp(algs[a], "ECDH", 4) != 0) {
                    mt_keyset_free(ks);
                }
            }
        }
    }

    /* unknown alg or enc, and a key of the wrong type */
    ks = fresh_keyset("oct32", NULL);
    is_int(mt_jwe_encrypt(mt_keyset_get(ks, 0), "A192KW", "A128GCM", NULL,
                          (const unsigned char *) "x", 1, &jwe, &len),
           MT_ERR_UNSUPPORTED_ALG, "encrypt: alg A192KW is unsupported");
    is_int(mt_jwe_encrypt(mt_keyset_get(ks, 0), "A256KW", "A192GCM", NULL,
                          (const unsigned char *) "x", 1, &jwe, &len),
           MT_ERR_UNSUPPORTED_ALG, "encrypt: enc A192GCM is unsupported");
    is_int(mt_jwe_encrypt(mt_keyset_get(ks, 0), "RSA-OAEP", "A128GCM", NULL,
                          (const unsigned char *) "x", 1, &jwe, &len),
           MT_ERR_UNKNOWN_KEY, "encrypt: RSA-OAEP to an oct key is refused");
    is_int(mt_jwe_encrypt(mt_keyset_get(rsa, 0), "ECDH-ES", "A128GCM", NULL,
                          (const unsigned char *) "x", 1, &jwe, &len),
           MT_ERR_UNKNOWN_KEY, "encrypt: ECDH-ES to an RSA key is refused");
    mt_keyset_free(ks);

    mt_keyset_free(rsa);

    for (c = 0; c < 4; c++) {
        mt_keyset_free(ec[c]);
    }
}


/* ---- wrong keys ------------------------------------------------------------ */

static void
wrong_keys(void)
{
    static const char  *ecdh_kinds[] = { "P-256", "P-384", "X25519" };
    int             cond;
    size_t          a, len, n_ecdh;
    char           *jwe;
    const char     *kind;
    mt_err_t        rc;
    mt_keyset_t    *right, *wrong, *both, *other;
    unsigned char   secret[64];
    const unsigned char  *rs;

    n_ecdh = 0;

    for (a = 0; a < N_ALGS; a++) {
        kind = kind_for(algs[a], "A256GCM");

        if (strncmp(algs[a], "ECDH", 4) == 0) {
            kind = ecdh_kinds[n_ecdh++ % 3];
        }

        right = fresh_keyset(kind, NULL);
        wrong = fresh_keyset(kind, NULL);

        jwe = NULL;
        rc = right == NULL || wrong == NULL ? MT_ERR_INTERNAL
             : mt_jwe_encrypt(mt_keyset_get(right, 0), algs[a], "A256GCM",
                              NULL, (const unsigned char *) secret_text,
                              strlen(secret_text), &jwe, &len);

        if (rc != MT_OK) {
            ok(0, "%s to another %s key: MT_ERR_DECRYPT", algs[a], kind);
            ok(0, "%s: with both keys, decrypts", algs[a]);

        } else {
            is_int(decrypt_rc(wrong, jwe), MT_ERR_DECRYPT,
                   "%s to another %s key: MT_ERR_DECRYPT", algs[a], kind);

            /* the wrong key first, then the right one: every key fits */
            both = fresh_keyset(kind, NULL);

            if (strncmp(kind, "oct", 3) == 0) {
                mt_keyset_free(both);
                both = mt_keyset_new();
                rs = mt_key_secret(mt_keyset_get(right, 0), &len);
                RAND_bytes(secret, sizeof(secret));
                add_oct(both, secret, len, NULL);
                add_oct(both, rs, len, NULL);

            } else {
                /* the right key through its PEM */
                add_pkey(both, mt_key_pkey(mt_keyset_get(right, 0)), 1);
            }

            cond = mt_keyset_count(both) == 2
                   && decrypts_to(both, jwe, secret_text,
                                  strlen(secret_text));

            /*
             * dir and direct ECDH-ES: every key yields some content key,
             * so each fitting key must be tried up to the tag.
             */
            ok(cond, "%s: with another key and the right one, decrypts",
               algs[a]);
            mt_keyset_free(both);
        }

        free(jwe);
        mt_keyset_free(right);
        mt_keyset_free(wrong);
    }

    /* no key of the alg's family at all */
    right = fresh_keyset("RSA", NULL);
    other = fresh_keyset("P-256", NULL);
    rc = mt_jwe_encrypt(mt_keyset_get(right, 0), "RSA-OAEP-256", "A128GCM",
                        NULL, (const unsigned char *) secret_text,
                        strlen(secret_text), &jwe, &len);
    ok(rc == MT_OK && decrypt_rc(other, jwe) == MT_ERR_DECRYPT,
       "RSA-OAEP-256 JWE, only an EC key configured: MT_ERR_DECRYPT");
    free(jwe);
    mt_keyset_free(right);
    mt_keyset_free(other);

    /* an HMAC secret (mt_keyset_add_secret) never unwraps or decrypts */
    right = mt_keyset_new();
    other = mt_keyset_new();
    RAND_bytes(secret, sizeof(secret));
    add_oct(right, secret, 32, NULL);
    mt_keyset_add_secret(other, secret, 32, NULL, 0, err, sizeof(err));

    rc = mt_jwe_encrypt(mt_keyset_get(right, 0), "dir", "A256GCM", NULL,
                        (const unsigned char *) secret_text,
                        strlen(secret_text), &jwe, &len);
    ok(rc == MT_OK && mt_keyset_count(other) == 1
       && decrypt_rc(other, jwe) == MT_ERR_DECRYPT,
       "dir JWE, the same bytes as an HMAC secret: MT_ERR_DECRYPT");
    free(jwe);

    rc = mt_jwe_encrypt(mt_keyset_get(right, 0), "A256KW", "A256GCM", NULL,
                        (const unsigned char *) secret_text,
                        strlen(secret_text), &jwe, &len);
    ok(rc == MT_OK && decrypt_rc(other, jwe) == MT_ERR_DECRYPT,
       "A256KW JWE, the same bytes as an HMAC secret: MT_ERR_DECRYPT");
    free(jwe);

    mt_keyset_free(right);
    mt_keyset_free(other);
}


/* ---- ephemeral keys ----------------------------------------------------- */

static void
x25519_low_order(void)
{
    /* RFC 7748 / cr.yp.to: the points of small order, and their
     * non-canonical encodings */
    static const char  *points[] = {
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "cdeb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
        "4c9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
        "d9ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "dbffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    };
    size_t          i, len, z_len, raw_len;
    char           *jwe, *x;
    json_t         *header;
    mt_err_t        rc;
    EVP_PKEY       *eph;
    mt_keyset_t    *ks;
    unsigned char   zero[32], cek[16], z[80], raw[32], *pt;

    ks = fresh_keyset("X25519", NULL);

    if (ks == NULL) {
        skip(13, "no X25519 key");
        return;
    }

    /* the control: a genuine ephemeral key, the same construction */
    eph = gen_key("X25519", NULL, 0);
    raw_len = sizeof(raw);
    EVP_PKEY_get_raw_public_key(eph, raw, &raw_len);
    z_len = sizeof(z);
    rc = mt_ecdh(eph, mt_key_pkey(mt_keyset_get(ks, 0)), z, &z_len);
    mt_concat_kdf(z, z_len, "A128GCM", NULL, 0, NULL, 0, cek, 16);
    EVP_PKEY_free(eph);

    x = b64url_str(raw, raw_len);
    header = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "alg", "ECDH-ES",
                       "enc", "A128GCM", "epk", "kty", "OKP", "crv",
                       "X25519", "x", x);
    jwe = forge_jwe(header, NULL, 0, cek, 16, secret_text);
    ok(rc == MT_OK && jwe != NULL
       && decrypts_to(ks, jwe, secret_text, strlen(secret_text)),
       "X25519: a JWE built here with a genuine epk decrypts (control)");
    free(jwe);
    free(x);
    json_decref(header);

    /* the attacker's JWE: Z is all zeros for a low-order epk */
    memset(zero, 0, sizeof(zero));
    mt_concat_kdf(zero, sizeof(zero), "A128GCM", NULL, 0, NULL, 0, cek, 16);

    for (i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
        pt = hex_decode(points[i], &len);
        x = b64url_str(pt, len);
        header = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "alg",
                           "ECDH-ES", "enc", "A128GCM", "epk", "kty", "OKP",
                           "crv", "X25519", "x", x);
        jwe = forge_jwe(header, NULL, 0, cek, 16, secret_text);
        is_int(jwe ? decrypt_rc(ks, jwe) : MT_ERR_INTERNAL, MT_ERR_DECRYPT,
               "X25519 low-order epk %.8s...: the JWE forged with Z = 0 "
               "is refused", points[i]);
        free(jwe);
        free(x);
        free(pt);
        json_decref(header);
    }

    mt_keyset_free(ks);
}


static void
ec_invalid_epk(void)
{
    size_t           i, len;
    char            *x, *y, *jwe;
    json_t          *epk, *header;
    mt_err_t         rc, load;
    EVP_PKEY        *eph, *peer;
    mt_keyset_t     *ks, *xks;
    const mt_key_t  *key;
    unsigned char    point[1 + 2 * 66], cek[16];
    struct {
        const char  *what;
        const char  *kty, *crv;
        int          mutate;    /* 0 none, 1 y+1, 2 zeros, 3 x short,
                                   4 x and y swapped, 5 no y */
    } cases[] = {
        { "y + 1 (off the curve)", "EC", "P-256", 1 },
        { "(0, 0)", "EC", "P-256", 2 },
        { "x and y swapped", "EC", "P-256", 4 },
        { "a 31-byte x", "EC", "P-256", 3 },
        { "no y", "EC", "P-256", 5 },
        { "crv P-384 to a P-256 key", "EC", "P-384", 0 },
        { "kty OKP to a P-256 key", "OKP", "X25519", 0 },
    };

    ks = fresh_keyset("P-256", NULL);
    xks = fresh_keyset("X25519", NULL);

    if (ks == NULL || xks == NULL) {
        skip((int) (2 * sizeof(cases) / sizeof(cases[0]) + 1), "no keys");
        mt_keyset_free(ks);
        mt_keyset_free(xks);
        return;
    }

    key = mt_keyset_get(ks, 0);
    eph = gen_key("EC", "P-256", 0);
    EVP_PKEY_get_octet_string_param(eph, "encoded-pub-key", point,
                                    sizeof(point), &len);
    EVP_PKEY_free(eph);

    RAND_bytes(cek, sizeof(cek));

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char  px[32], py[32];

        memcpy(px, point + 1, 32);
        memcpy(py, point + 33, 32);

        switch (cases[i].mutate) {
        case 1:
            for (len = 32; len-- > 0 && ++py[len] == 0; ) { /* carry */ }
            break;
        case 2:
            memset(px, 0, 32);
            memset(py, 0, 32);
            break;
        case 4:
            memcpy(px, point + 33, 32);
            memcpy(py, point + 1, 32);
            break;
        }

        x = b64url_str(px, cases[i].mutate == 3 ? 31 : 32);
        y = b64url_str(py, 32);

        epk = json_pack("{s:s, s:s, s:s}", "kty", cases[i].kty, "crv",
                        cases[i].crv, "x", x);

        if (cases[i].mutate != 5 && strcmp(cases[i].kty, "EC") == 0) {
            json_object_set_new(epk, "y", json_string(y));
        }

        peer = NULL;
        load = mt_epk_load(epk, key, &peer);
        EVP_PKEY_free(peer);
        ok(load != MT_OK, "EC epk %s: mt_epk_load refuses it (%s)",
           cases[i].what, mt_strerror(load));

        header = json_pack("{s:s, s:s, s:O}", "alg", "ECDH-ES", "enc",
                           "A128GCM", "epk", epk);
        jwe = forge_jwe(header, NULL, 0, cek, 16, secret_text);
        rc = jwe ? decrypt_rc(ks, jwe) : MT_ERR_INTERNAL;
        is_int(rc, MT_ERR_DECRYPT, "EC epk %s: the JWE is MT_ERR_DECRYPT",
               cases[i].what);

        free(jwe);
        free(x);
        free(y);
        json_decref(epk);
        json_decref(header);
    }

    /* an EC epk to an X25519 key */
    epk = json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256",
                    "x", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                    "y", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    peer = NULL;
    load = mt_epk_load(epk, mt_keyset_get(xks, 0), &peer);
    EVP_PKEY_free(peer);
    ok(load != MT_OK, "an EC epk to an X25519 key: refused (%s)",
       mt_strerror(load));
    json_decref(epk);

    mt_keyset_free(ks);
    mt_keyset_free(xks);
}


/* ---- kid selection -------------------------------------------------------- */

static void
kids(void)
{
    size_t          len;
    char           *jwe;
    mt_keyset_t    *ks, *b_only, *ac;
    const mt_key_t *b, *c;
    unsigned char   sa[32], sb[32], sc[32];

    RAND_bytes(sa, sizeof(sa));
    RAND_bytes(sb, sizeof(sb));
    RAND_bytes(sc, sizeof(sc));

    ks = mt_keyset_new();
    add_oct(ks, sa, 32, "a");
    add_oct(ks, sb, 32, "b");

    b_only = mt_keyset_new();
    add_oct(b_only, sb, 32, "b");
    b = mt_keyset_get(b_only, 0);

    ac = mt_keyset_new();
    add_oct(ac, sa, 32, "a");
    add_oct(ac, sc, 32, NULL);
    c = mt_keyset_get(ac, 1);

#define KID_TEST(key, kid, set, want, ...)                                  \
    jwe = NULL;                                                             \
    ok(mt_jwe_encrypt(key, "A256KW", "A128CBC-HS256", kid,                  \
                      (const unsigned char *) secret_text,                  \
                      strlen(secret_text), &jwe, &len) == MT_OK             \
       && decrypt_rc(set, jwe) == want, __VA_ARGS__);                       \
    free(jwe)

    KID_TEST(b, "b", ks, MT_OK, "kid b selects key b of {a, b}");
    KID_TEST(b, "a", ks, MT_ERR_DECRYPT,
             "kid a for key b's JWE: only key a is tried: MT_ERR_DECRYPT");
    KID_TEST(b, NULL, ks, MT_OK, "no kid: every key is tried, b decrypts");
    KID_TEST(b, "zzz", ks, MT_ERR_DECRYPT,
             "an unknown kid, every key has a kid: MT_ERR_DECRYPT");
    KID_TEST(c, "zzz", ac, MT_OK,
             "an unknown kid falls back to the keys without a kid");
    KID_TEST(c, "a", ac, MT_ERR_DECRYPT,
             "kid a for the kid-less key's JWE: MT_ERR_DECRYPT");

#undef KID_TEST

    mt_keyset_free(ks);
    mt_keyset_free(b_only);
    mt_keyset_free(ac);
}


/* ---- malformed input ------------------------------------------------------- */

static void
malformed(void)
{
    static const struct {
        const char  *jwe;
        mt_err_t     want;
        const char  *what;
    } cases[] = {
        { "", MT_ERR_DECRYPT, "empty" },
        { "....", MT_ERR_MALFORMED, "four dots" },
        { "a.b.c.d", MT_ERR_MALFORMED, "four parts" },
        /* {"alg":"dir","enc":"A128GCM"} with an empty ciphertext */
        { "eyJhbGciOiJkaXIiLCJlbmMiOiJBMTI4R0NNIn0..AAAAAAAAAAAAAAAA.."
          "AAAAAAAAAAAAAAAAAAAAAA", MT_ERR_MALFORMED, "empty ciphertext" },
        /* {"alg":"dir","enc":"A128GCM"}, an 8-byte iv */
        { "eyJhbGciOiJkaXIiLCJlbmMiOiJBMTI4R0NNIn0..AAAAAAAAAAA.AAAA."
          "AAAAAAAAAAAAAAAAAAAAAA", MT_ERR_MALFORMED, "a short iv" },
        /* {"alg":"none","enc":"A128GCM"} */
        { "eyJhbGciOiJub25lIiwiZW5jIjoiQTEyOEdDTSJ9..AAAAAAAAAAAAAAAA.AAAA."
          "AAAAAAAAAAAAAAAAAAAAAA", MT_ERR_UNSUPPORTED_ALG, "alg none" },
        /* {"alg":"dir","enc":"A128GCM","crit":["exp"]} */
        { "eyJhbGciOiJkaXIiLCJlbmMiOiJBMTI4R0NNIiwiY3JpdCI6WyJleHAiXX0.."
          "AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA",
          MT_ERR_UNSUPPORTED_ALG, "crit" },
        /* not JSON */
        { "bm90IGpzb24..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA",
          MT_ERR_MALFORMED, "a header that is not JSON" },
    };
    size_t          i;
    mt_keyset_t    *ks;
    unsigned char   secret[16];

    RAND_bytes(secret, sizeof(secret));
    ks = mt_keyset_new();
    add_oct(ks, secret, 16, NULL);

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        is_int(decrypt_rc(ks, cases[i].jwe), cases[i].want, "malformed: %s",
               cases[i].what);
    }

    mt_keyset_free(ks);
}


int
main(void)
{
    if (have_vectors()) {
        cookbook();

    } else {
        skip(6 * 10 + 1 + 4 + 4, "no vectors");
    }

    round_trips();
    wrong_keys();
    x25519_low_order();
    ec_invalid_epk();
    kids();
    malformed();

    return tap_exit();
}
