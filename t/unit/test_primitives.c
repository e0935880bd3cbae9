/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The JWE primitives (mt_jwe.c) against Wycheproof (C2SP/wycheproof,
 * testvectors_v1) and RFC 7518:
 *
 *   aes_gcm_test.json       mt_gcm(), both directions, the vector's AAD
 *   aes_wrap_test.json      mt_aes_unwrap() and mt_aes_wrap()
 *   x25519_test.json        mt_epk_load() of the public key, mt_ecdh()
 *   ecdh_secp256r1_webcrypto_test.json
 *                           JWK keys: the private one through
 *                           mt_keyset_add_jwks(), the public one through
 *                           mt_epk_load() (curve and on-curve checks),
 *                           then mt_ecdh()
 *   RFC 7518 appendix C     mt_concat_kdf()
 *
 * "valid" must pass and "invalid" must fail; "acceptable" may go either
 * way and is counted (diag).  One TAP line per file and key size; the
 * failing tcIds are listed as diagnostics.
 *
 * What JOSE leaves out, by design (counted as skipped, never run):
 *   - AES-GCM: JWE uses 96-bit IVs and 128-bit tags only (RFC 7518
 *     5.3), and no A192GCM here: the other groups are skipped.
 *   - AES key wrap: no A192KW here: the 192-bit group is skipped (one
 *     test checks that a 192-bit kek is refused).  A wrapped key longer
 *     than the largest CEK (64 bytes, A256CBC-HS512) is refused by
 *     mt_aes_unwrap(): the "valid" 384-byte key is counted as "refused
 *     by the JOSE profile" (its wrapping is still checked).
 *   - X25519: the "acceptable" low-order public keys give an all-zero
 *     shared secret, which we refuse (RFC 7748 section 6.1; RFC 8037
 *     section 3.2 requires it): they must all be rejected.  The other
 *     "acceptable" ones (twist points, non-canonical encodings) compute
 *     a non-zero secret like any other point: accepted, and the secret
 *     must be Wycheproof's.
 */

#include <openssl/evp.h>

#include "mt_core.h"
#include "tap.h"


typedef struct {
    int  valid_ok, valid_bad;
    int  invalid_ok, invalid_bad;
    int  acceptable_accepted, acceptable_rejected;
    int  profile_refused;           /* valid primitive, refused by JOSE */
    int  skipped;
    char failures[1024];
} counts_t;


static void
note_failure(counts_t *c, json_t *test)
{
    size_t  n;

    n = strlen(c->failures);

    if (n < sizeof(c->failures) - 16) {
        snprintf(c->failures + n, sizeof(c->failures) - n, " %lld",
                 (long long) json_integer_value(json_object_get(test,
                                                                "tcId")));
    }
}


static const char *
result_of(json_t *test)
{
    return json_string_value(json_object_get(test, "result"));
}


/* pass: the core accepted (and, when it computed something, correctly) */
static void
score(counts_t *c, json_t *test, int pass)
{
    const char  *result;

    result = result_of(test);

    if (strcmp(result, "acceptable") == 0) {
        if (pass) {
            c->acceptable_accepted++;
        } else {
            c->acceptable_rejected++;
        }

    } else if (strcmp(result, "valid") == 0) {
        if (pass) {
            c->valid_ok++;
        } else {
            c->valid_bad++;
            note_failure(c, test);
        }

    } else {
        if (pass) {
            c->invalid_bad++;
            note_failure(c, test);
        } else {
            c->invalid_ok++;
        }
    }
}


static void
report(const char *what, counts_t *c)
{
    ok(c->valid_bad == 0 && c->invalid_bad == 0
       && c->valid_ok + c->invalid_ok > 0,
       "%s: %d valid pass, %d invalid fail", what, c->valid_ok,
       c->invalid_ok);

    diag("%s: valid %d/%d, invalid %d/%d, acceptable %d accepted "
         "%d rejected, refused by the JOSE profile %d, skipped %d", what,
         c->valid_ok, c->valid_ok + c->valid_bad, c->invalid_ok,
         c->invalid_ok + c->invalid_bad, c->acceptable_accepted,
         c->acceptable_rejected, c->profile_refused, c->skipped);

    if (c->failures[0]) {
        diag("  failing tcIds:%s", c->failures);
    }
}


static unsigned char *
test_hex(json_t *test, const char *name, size_t *len)
{
    const char  *s;

    s = json_string_value(json_object_get(test, name));

    if (s == NULL) {
        *len = 0;
        return NULL;
    }

    return hex_decode(s, len);
}


static int
same(const unsigned char *a, size_t a_len, const unsigned char *b,
    size_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}


/* ---- AES-GCM ---------------------------------------------------------- */

static void
aes_gcm(void)
{
    int             valid, pass;
    size_t          g, t, ks, key_len, iv_len, aad_len, msg_len, ct_len,
                    tag_len;
    json_t         *doc, *groups, *group, *test;
    counts_t        c[2], other;
    mt_err_t        rc;
    unsigned char  *key, *iv, *aad, *msg, *ct, *tag, *out, mytag[16];
    char            what[64];

    doc = load_vector_json("wycheproof/aes_gcm_test.json");
    if (doc == NULL) {
        ok(0, "aes_gcm_test.json loads");
        ok(0, "aes_gcm_test.json loads");
        return;
    }

    memset(c, 0, sizeof(c));
    memset(&other, 0, sizeof(other));
    groups = json_object_get(doc, "testGroups");

    json_array_foreach(groups, g, group) {
        ks = (size_t) json_integer_value(json_object_get(group, "keySize"));

        if (json_integer_value(json_object_get(group, "ivSize")) != 96
            || json_integer_value(json_object_get(group, "tagSize")) != 128
            || (ks != 128 && ks != 256))
        {
            other.skipped += (int) json_array_size(json_object_get(group,
                                                                   "tests"));
            continue;
        }

        json_array_foreach(json_object_get(group, "tests"), t, test) {
            key = test_hex(test, "key", &key_len);
            iv = test_hex(test, "iv", &iv_len);
            aad = test_hex(test, "aad", &aad_len);
            msg = test_hex(test, "msg", &msg_len);
            ct = test_hex(test, "ct", &ct_len);
            tag = test_hex(test, "tag", &tag_len);

            valid = strcmp(result_of(test), "valid") == 0;

            if (key == NULL || iv == NULL || aad == NULL || msg == NULL
                || ct == NULL || tag == NULL || key_len * 8 != ks
                || iv_len != 12 || tag_len != 16)
            {
                c[ks == 256].skipped++;
                goto next;
            }

            out = malloc(ct_len + msg_len + 1);

            /* decryption: the tag is checked */
            rc = mt_gcm(1, key, key_len, iv, aad, aad_len, ct, ct_len, tag,
                        out);
            pass = rc == MT_OK && same(out, ct_len, msg, msg_len);

            if (rc != MT_OK && rc != MT_ERR_DECRYPT) {
                diag("aes_gcm tcId %lld: unexpected %s",
                     (long long) json_integer_value(json_object_get(test,
                                                                    "tcId")),
                     mt_strerror(rc));
                pass = valid ? 0 : 1;   /* counted as a failure below */
            }

            /* encryption of a valid one gives the vector's ct and tag */
            if (valid && pass) {
                rc = mt_gcm(0, key, key_len, iv, aad, aad_len, msg, msg_len,
                            mytag, out);
                pass = rc == MT_OK && same(out, msg_len, ct, ct_len)
                       && memcmp(mytag, tag, 16) == 0;
            }

            score(&c[ks == 256], test, pass);
            free(out);

        next:
            free(key);
            free(iv);
            free(aad);
            free(msg);
            free(ct);
            free(tag);
        }
    }

    for (ks = 0; ks < 2; ks++) {
        snprintf(what, sizeof(what), "aes_gcm_test.json AES-%d-GCM",
                 ks ? 256 : 128);
        report(what, &c[ks]);
    }

    diag("aes_gcm_test.json: %d tests in groups other than ivSize 96, "
         "tagSize 128, keySize 128/256 skipped (not used by JWE here)",
         other.skipped);

    json_decref(doc);
}


/* ---- AES key wrap ------------------------------------------------------- */

static void
aes_wrap(void)
{
    int             valid, unwrap_ok, wrap_ok;
    size_t          g, t, ks, key_len, msg_len, ct_len, out_len;
    json_t         *doc, *groups, *group, *test;
    counts_t        c[2];
    mt_err_t        rc;
    unsigned char  *key, *msg, *ct, *out;
    char            what[64];
    int             skipped192, refused192;
    int             wrap_refused, wrap_accepted, wrap_empty;

    doc = load_vector_json("wycheproof/aes_wrap_test.json");
    if (doc == NULL) {
        ok(0, "aes_wrap_test.json loads");
        ok(0, "aes_wrap_test.json loads");
        ok(0, "aes_wrap_test.json loads");
        return;
    }

    memset(c, 0, sizeof(c));
    skipped192 = 0;
    refused192 = -1;
    wrap_refused = 0;
    wrap_accepted = 0;
    wrap_empty = 0;
    groups = json_object_get(doc, "testGroups");

    json_array_foreach(groups, g, group) {
        ks = (size_t) json_integer_value(json_object_get(group, "keySize"));

        json_array_foreach(json_object_get(group, "tests"), t, test) {
            key = test_hex(test, "key", &key_len);
            msg = test_hex(test, "msg", &msg_len);
            ct = test_hex(test, "ct", &ct_len);
            valid = strcmp(result_of(test), "valid") == 0;

            if (key == NULL || msg == NULL || ct == NULL) {
                if (ks == 128 || ks == 256) {
                    c[ks == 256].skipped++;
                }
                goto next;
            }

            out = malloc(msg_len + ct_len + 16);

            if (ks != 128 && ks != 256) {
                /* no A192KW: a 192-bit kek must be refused */
                skipped192++;

                if (valid && refused192 != 0) {
                    refused192 = mt_aes_unwrap(key, key_len, ct, ct_len, out,
                                               &out_len) == MT_ERR_DECRYPT;
                }

                free(out);
                goto next;
            }

            rc = mt_aes_unwrap(key, key_len, ct, ct_len, out, &out_len);
            unwrap_ok = rc == MT_OK && same(out, out_len, msg, msg_len);

            if (rc != MT_OK && rc != MT_ERR_DECRYPT) {
                diag("aes_wrap tcId %lld: unwrap gives %s",
                     (long long) json_integer_value(json_object_get(test,
                                                                    "tcId")),
                     mt_strerror(rc));
            }

            /* the wrapping of msg is the vector's ct (valid) or not */
            out_len = 0;
            rc = mt_aes_wrap(key, key_len, msg, msg_len, out, &out_len);
            wrap_ok = rc == MT_OK && same(out, out_len, ct, ct_len);

            if (valid && msg_len > 64) {
                /* longer than any CEK: unwrap refuses, wrap still works */
                if (!unwrap_ok && wrap_ok) {
                    c[ks == 256].profile_refused++;
                } else {
                    c[ks == 256].valid_bad++;
                    note_failure(&c[ks == 256], test);
                }

            } else if (valid) {
                score(&c[ks == 256], test, unwrap_ok && wrap_ok);

            } else {
                /* invalid: the wrapped key must not unwrap */
                score(&c[ks == 256], test, unwrap_ok);

                /* and a key that cannot be wrapped must not wrap */
                if (ct_len == 0 || msg_len % 8 != 0 || msg_len < 16) {
                    if (rc == MT_OK) {
                        wrap_accepted++;

                        if (msg_len == 0) {
                            wrap_empty++;
                        }

                    } else {
                        wrap_refused++;
                    }
                }
            }

            free(out);

        next:
            free(key);
            free(msg);
            free(ct);
        }
    }

    for (ks = 0; ks < 2; ks++) {
        snprintf(what, sizeof(what), "aes_wrap_test.json AES-%d key wrap",
                 ks ? 256 : 128);
        report(what, &c[ks]);
    }

    /*
     * mt_aes_wrap() of an empty input succeeds with an empty output
     * (RFC 3394 needs at least two 64-bit blocks).  Not reachable from
     * mt_jwe_encrypt(), whose CEKs are 16 to 64 bytes.
     */
    ok(wrap_accepted - wrap_empty == 0 && wrap_refused > 0,
       "aes_wrap_test.json: mt_aes_wrap refuses %d invalid key sizes",
       wrap_refused);
    ok(wrap_empty == 0, "aes_wrap_test.json: mt_aes_wrap refuses an empty "
       "key (it accepted it in %d tests)", wrap_empty);

    ok(refused192 == 1, "aes_wrap_test.json: a 192-bit kek is refused "
       "(no A192KW)");
    diag("aes_wrap_test.json: %d tests of the 192-bit group skipped "
         "(A192KW is not supported)", skipped192);

    json_decref(doc);
}


/* ---- X25519 ------------------------------------------------------------ */

static int
all_zero(const unsigned char *p, size_t len)
{
    unsigned char  acc;

    for (acc = 0; len; len--) {
        acc |= *p++;
    }

    return acc == 0;
}


static void
x25519(void)
{
    int             pass, zero_acceptable_rejected, zero_acceptable_accepted;
    size_t          g, t, pub_len, priv_len, shared_len, z_len;
    char            b64[64];
    json_t         *doc, *groups, *group, *test, *epk;
    counts_t        c;
    mt_err_t        rc;
    EVP_PKEY       *ours, *peer, *gen;
    mt_keyset_t    *ks;
    const mt_key_t *key;
    unsigned char  *pub, *priv, *shared, z[80];

    doc = load_vector_json("wycheproof/x25519_test.json");
    if (doc == NULL) {
        ok(0, "x25519_test.json loads");
        ok(0, "x25519_test.json loads");
        return;
    }

    /* mt_epk_load() wants our key: an X25519 key of a keyset */
    ks = mt_keyset_new();
    gen = gen_key("X25519", NULL, 0);

    if (gen == NULL || add_pkey(ks, gen, 1) != MT_OK
        || mt_keyset_count(ks) != 1)
    {
        ok(0, "an X25519 key loads");
        ok(0, "an X25519 key loads");
        EVP_PKEY_free(gen);
        mt_keyset_free(ks);
        json_decref(doc);
        return;
    }

    EVP_PKEY_free(gen);
    key = mt_keyset_get(ks, 0);

    memset(&c, 0, sizeof(c));
    zero_acceptable_rejected = 0;
    zero_acceptable_accepted = 0;
    groups = json_object_get(doc, "testGroups");

    json_array_foreach(groups, g, group) {
        json_array_foreach(json_object_get(group, "tests"), t, test) {
            pub = test_hex(test, "public", &pub_len);
            priv = test_hex(test, "private", &priv_len);
            shared = test_hex(test, "shared", &shared_len);

            if (pub == NULL || priv == NULL || shared == NULL
                || priv_len != 32 || pub_len != 32)
            {
                c.skipped++;
                goto next;
            }

            ours = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv,
                                                priv_len);

            b64[mt_base64url_encode(b64, pub, pub_len)] = '\0';
            epk = json_pack("{s:s, s:s, s:s}", "kty", "OKP", "crv", "X25519",
                            "x", b64);

            peer = NULL;
            rc = ours == NULL ? MT_ERR_INTERNAL
                              : mt_epk_load(epk, key, &peer);

            if (rc == MT_OK) {
                z_len = sizeof(z);
                rc = mt_ecdh(ours, peer, z, &z_len);
            }

            pass = rc == MT_OK && same(z, z_len, shared, shared_len);

            if (rc == MT_OK && !pass) {
                diag("x25519 tcId %lld: a different shared secret",
                     (long long) json_integer_value(json_object_get(test,
                                                                    "tcId")));
            }

            if (all_zero(shared, shared_len)) {
                /* low-order points: the all-zero secret is refused */
                if (rc == MT_OK) {
                    zero_acceptable_accepted++;
                    note_failure(&c, test);

                } else {
                    zero_acceptable_rejected++;
                }
            }

            if (strcmp(result_of(test), "acceptable") == 0 && rc == MT_OK
                && !pass)
            {
                /* accepted with a wrong secret is never acceptable */
                c.valid_bad++;
                note_failure(&c, test);
            }

            score(&c, test, pass);

            EVP_PKEY_free(ours);
            EVP_PKEY_free(peer);
            json_decref(epk);

        next:
            free(pub);
            free(priv);
            free(shared);
        }
    }

    report("x25519_test.json", &c);

    ok(zero_acceptable_accepted == 0 && zero_acceptable_rejected > 0,
       "x25519_test.json: all %d low-order public keys (all-zero shared "
       "secret, \"acceptable\") are rejected", zero_acceptable_rejected);

    diag("x25519_test.json: of the \"acceptable\" tests, %d have an "
         "all-zero shared secret (low-order points) and are rejected by "
         "design; %d others (twist, non-canonical) are accepted with "
         "Wycheproof's secret", zero_acceptable_rejected,
         c.acceptable_accepted);

    mt_keyset_free(ks);
    json_decref(doc);
}


/* ---- ECDH P-256, JWK keys ------------------------------------------------ */

static void
ecdh_webcrypto(void)
{
    int             pass, loaded;
    size_t          g, t, shared_len, z_len;
    char           *text, err[512];
    json_t         *doc, *groups, *group, *test, *priv;
    counts_t        c;
    mt_err_t        rc;
    EVP_PKEY       *peer;
    mt_keyset_t    *ks;
    const mt_key_t *key;
    unsigned char  *shared, z[80];
    int             epk_refused, ecdh_refused;
    int             zero_valid, zero_valid_accepted;

    doc = load_vector_json("wycheproof/ecdh_secp256r1_webcrypto_test.json");
    if (doc == NULL) {
        ok(0, "ecdh_secp256r1_webcrypto_test.json loads");
        return;
    }

    memset(&c, 0, sizeof(c));
    epk_refused = 0;
    ecdh_refused = 0;
    zero_valid = 0;
    zero_valid_accepted = 0;
    groups = json_object_get(doc, "testGroups");

    json_array_foreach(groups, g, group) {
        json_array_foreach(json_object_get(group, "tests"), t, test) {
            shared = test_hex(test, "shared", &shared_len);

            if (shared == NULL) {
                c.skipped++;
                continue;
            }

            /* the private key as a JWK for encryption */
            priv = json_deep_copy(json_object_get(test, "private"));
            json_object_set_new(priv, "use", json_string("enc"));
            text = json_dumps(priv, JSON_COMPACT);
            json_decref(priv);

            ks = mt_keyset_new();
            err[0] = '\0';
            loaded = text != NULL
                     && add_jwk(ks, text, err, sizeof(err)) == MT_OK
                     && mt_keyset_count(ks) == 1;
            free(text);

            if (!loaded) {
                diag("ecdh tcId %lld: the private JWK does not load: %s",
                     (long long) json_integer_value(json_object_get(test,
                                                                    "tcId")),
                     err);
                c.skipped++;
                mt_keyset_free(ks);
                free(shared);
                continue;
            }

            key = mt_keyset_get(ks, 0);
            peer = NULL;
            z_len = 0;

            rc = mt_epk_load(json_object_get(test, "public"), key, &peer);

            if (rc == MT_OK) {
                z_len = sizeof(z);
                rc = mt_ecdh(mt_key_pkey(key), peer, z, &z_len);

                if (rc != MT_OK) {
                    ecdh_refused++;
                }

            } else {
                epk_refused++;
            }

            pass = rc == MT_OK && same(z, z_len, shared, shared_len);

            if (all_zero(shared, shared_len)
                && strcmp(result_of(test), "valid") == 0)
            {
                /* x(shared point) == 0: see the TODO below */
                zero_valid++;
                zero_valid_accepted += pass;

            } else {
                score(&c, test, pass);
            }

            EVP_PKEY_free(peer);
            mt_keyset_free(ks);
            free(shared);
        }
    }

    report("ecdh_secp256r1_webcrypto_test.json", &c);

    /*
     * A P-256 shared point whose x-coordinate is 0 is a valid result:
     * the all-zero check of RFC 7748 applies to X25519 only.
     */
    ok(zero_valid > 0 && zero_valid_accepted == zero_valid,
       "ecdh_secp256r1_webcrypto_test.json: %d valid test(s) with an "
       "all-zero shared x-coordinate accepted (of %d)",
       zero_valid_accepted, zero_valid);
    diag("ecdh_secp256r1_webcrypto_test.json: %d public keys refused by "
         "mt_epk_load (curve, on-curve check), %d by mt_ecdh", epk_refused,
         ecdh_refused);

    json_decref(doc);
}


/* ---- Concat KDF: RFC 7518 appendix C ------------------------------------ */

static void
concat_kdf(void)
{
    static const unsigned char  z[32] = {
        158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132,
        38, 156, 251, 49, 110, 163, 218, 128, 106, 72, 246, 218, 167, 121,
        140, 254, 144, 196
    };
    static const unsigned char  want[16] = {
        86, 170, 141, 234, 248, 35, 109, 32, 92, 34, 40, 205, 113, 167, 16,
        26
    };
    size_t          len;
    mt_err_t        rc;
    unsigned char   out[64], *want64;

    rc = mt_concat_kdf(z, sizeof(z), "A128GCM",
                       (const unsigned char *) "Alice", 5,
                       (const unsigned char *) "Bob", 3, out, 16);
    ok(rc == MT_OK && memcmp(out, want, 16) == 0,
       "Concat KDF: RFC 7518 appendix C (A128GCM, Alice, Bob)");

    /* two SHA-256 rounds (python3-cryptography's ConcatKDFHash) */
    want64 = hex_decode("3986aa79f6396420e580e5d3890f623fee5d4522307929eb99"
                        "ee3425a001ecc175b1754e3fb644ce825034b562523e9a8806"
                        "bca8d76afa861e9b79515803225d", &len);
    rc = mt_concat_kdf(z, sizeof(z), "A256CBC-HS512",
                       (const unsigned char *) "Alice", 5,
                       (const unsigned char *) "Bob", 3, out, 64);
    ok(rc == MT_OK && len == 64 && memcmp(out, want64, 64) == 0,
       "Concat KDF: a 64-byte key (two rounds)");
    free(want64);

    /* no apu/apv: empty fields */
    rc = mt_concat_kdf(z, sizeof(z), "A128GCM", NULL, 0, NULL, 0, out, 16);
    ok(rc == MT_OK && memcmp(out, want, 16) != 0,
       "Concat KDF: apu and apv are part of the input");
}


int
main(void)
{
    concat_kdf();

    if (!have_vectors()) {
        skip(10, "no vectors");
        return tap_exit();
    }

    aes_gcm();
    aes_wrap();
    x25519();
    ecdh_webcrypto();

    return tap_exit();
}
