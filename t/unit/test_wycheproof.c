/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Wycheproof vectors (C2SP/wycheproof, testvectors_v1) through the
 * core: every signature test via mt_jws_verify_signature(), every
 * RSA-OAEP test via mt_credential_decrypt().  Each key is loaded both
 * from its PEM and from its JWK when the group has one, so the two
 * loaders are held to the same answers.
 *
 * "valid" must pass and "invalid" must fail; "acceptable" may go either
 * way and is only counted.  One TAP line per file and key source; the
 * failing tcIds are listed as diagnostics.
 *
 * What the JOSE profile changes, by design:
 *   - HMAC: JWS HS256 carries the whole 256-bit tag (RFC 7518 3.2: no
 *     truncation).  A truncated tag, even one that is a correct prefix,
 *     is therefore a wrong HS256 signature: the tagSize 128 groups run
 *     with every test expected to fail, "valid" ones included.
 *   - RSA-OAEP: the credential format has no label, so a "valid"
 *     ciphertext made with a label must fail to decrypt; and a
 *     plaintext that is empty or holds control characters decrypts but
 *     is refused with MT_ERR_INVALID_CREDENTIAL (it would go into a
 *     request header).  Every failure must be the one MT_ERR_DECRYPT.
 *   - RSA keys under 2048 bits are refused at load time; a group whose
 *     key does not load is skipped with a diagnostic.
 */

#include "mt_core.h"
#include "tap.h"


typedef struct {
    int  valid_ok, valid_bad;
    int  invalid_ok, invalid_bad;
    int  acceptable_accepted, acceptable_rejected;
    int  expected_fail;             /* valid by Wycheproof, not for JOSE */
    int  skipped;
    char failures[1024];
} counts_t;


static void
note_failure(counts_t *c, json_int_t tc)
{
    size_t  n;

    n = strlen(c->failures);

    if (n < sizeof(c->failures) - 16) {
        snprintf(c->failures + n, sizeof(c->failures) - n, " %lld",
                 (long long) tc);
    }
}


/*
 * Score one result: pass is whether the core accepted; expect_pass is
 * what this test wants (Wycheproof's verdict, adjusted for JOSE).
 */
static void
score(counts_t *c, json_t *test, int pass, int expect_pass)
{
    const char  *result;
    json_int_t   tc;

    result = json_string_value(json_object_get(test, "result"));
    tc = json_integer_value(json_object_get(test, "tcId"));

    if (strcmp(result, "acceptable") == 0) {
        if (pass) {
            c->acceptable_accepted++;
        } else {
            c->acceptable_rejected++;
        }

        return;
    }

    if (strcmp(result, "valid") == 0 && !expect_pass) {
        /* a valid primitive that the JOSE profile refuses */
        if (pass) {
            c->valid_bad++;
            note_failure(c, tc);
        } else {
            c->expected_fail++;
        }

        return;
    }

    if (expect_pass) {
        if (pass) {
            c->valid_ok++;
        } else {
            c->valid_bad++;
            note_failure(c, tc);
        }

    } else {
        if (pass) {
            c->invalid_bad++;
            note_failure(c, tc);
        } else {
            c->invalid_ok++;
        }
    }
}


static void
report(const char *file, const char *source, counts_t *c)
{
    ok(c->valid_bad == 0 && c->invalid_bad == 0
       && c->valid_ok + c->invalid_ok + c->expected_fail > 0,
       "%s (%s keys): %d valid pass, %d invalid fail", file, source,
       c->valid_ok, c->invalid_ok);

    diag("%s (%s): valid %d/%d, invalid %d/%d, acceptable %d accepted "
         "%d rejected, refused by the JOSE profile %d, skipped %d",
         file, source, c->valid_ok, c->valid_ok + c->valid_bad,
         c->invalid_ok, c->invalid_ok + c->invalid_bad,
         c->acceptable_accepted, c->acceptable_rejected, c->expected_fail,
         c->skipped);

    if (c->failures[0]) {
        diag("  failing tcIds:%s", c->failures);
    }
}


/* load a group's key from "pem" or "jwk"; NULL when it has none */
static mt_keyset_t *
group_keys(json_t *group, const char *source, const char *file)
{
    char          err[512], *text;
    json_t       *v;
    mt_err_t      rc;
    mt_keyset_t  *ks;

    if (strcmp(source, "pem") == 0) {
        v = json_object_get(group, "publicKeyPem");
        if (v == NULL) {
            v = json_object_get(group, "privateKeyPem");
        }

        if (v == NULL) {
            return NULL;
        }

        ks = mt_keyset_new();
        rc = mt_keyset_add_pem(ks, json_string_value(v),
                               json_string_length(v), file, err,
                               sizeof(err));

    } else {
        v = json_object_get(group, "publicKeyJwk");
        if (v == NULL) {
            v = json_object_get(group, "keyJwk");
        }
        if (v == NULL) {
            v = json_object_get(group, "privateKeyJwk");
        }

        if (v == NULL) {
            return NULL;
        }

        text = json_dumps(v, JSON_COMPACT);
        ks = mt_keyset_new();
        rc = mt_keyset_add_jwks(ks, text, strlen(text), file, err,
                                sizeof(err));
        free(text);
    }

    if (rc != MT_OK) {
        diag("skipping a group of %s: its %s key does not load: %s", file,
             source, err);
        mt_keyset_free(ks);
        return NULL;
    }

    return ks;
}


/* ---- signatures ------------------------------------------------------ */

static void
signatures(const char *file, mt_alg_t alg)
{
    int            s;
    size_t         g, t, msg_len, sig_len;
    json_t        *doc, *groups, *group, *test;
    counts_t       c;
    mt_err_t       rc;
    mt_keyset_t   *ks;
    unsigned char *msg, *sig;
    static const char  *sources[] = { "pem", "jwk" };
    char           rel[256];

    snprintf(rel, sizeof(rel), "wycheproof/%s", file);

    doc = load_vector_json(rel);
    if (doc == NULL) {
        ok(0, "%s loads", file);
        ok(0, "%s loads", file);
        return;
    }

    groups = json_object_get(doc, "testGroups");

    for (s = 0; s < 2; s++) {
        memset(&c, 0, sizeof(c));

        json_array_foreach(groups, g, group) {
            ks = group_keys(group, sources[s], file);

            if (ks == NULL) {
                c.skipped += (int) json_array_size(json_object_get(group,
                                                                   "tests"));
                continue;
            }

            json_array_foreach(json_object_get(group, "tests"), t, test) {
                msg = hex_decode(json_string_value(json_object_get(test,
                                                                   "msg")),
                                 &msg_len);
                sig = hex_decode(json_string_value(json_object_get(test,
                                                                   "sig")),
                                 &sig_len);

                if (msg == NULL || sig == NULL) {
                    c.skipped++;

                } else {
                    rc = mt_jws_verify_signature(mt_keyset_get(ks, 0), alg,
                                                 msg, msg_len, sig, sig_len);
                    score(&c, test, rc == MT_OK,
                          strcmp(json_string_value(json_object_get(test,
                                                             "result")),
                                 "valid") == 0);
                }

                free(msg);
                free(sig);
            }

            mt_keyset_free(ks);
        }

        report(file, sources[s], &c);
    }

    json_decref(doc);
}


/* ---- HMAC-SHA256 as HS256 -------------------------------------------- */

static void
hmac(void)
{
    char           err[256];
    size_t         g, t, key_len, msg_len, tag_len;
    json_t        *doc, *group, *test;
    counts_t       c;
    mt_err_t       rc;
    json_int_t     tag_size;
    mt_keyset_t   *ks;
    unsigned char *key, *msg, *tag;

    doc = load_vector_json("wycheproof/hmac_sha256_test.json");
    if (doc == NULL) {
        ok(0, "hmac_sha256_test.json loads");
        return;
    }

    memset(&c, 0, sizeof(c));

    json_array_foreach(json_object_get(doc, "testGroups"), g, group) {
        tag_size = json_integer_value(json_object_get(group, "tagSize"));

        json_array_foreach(json_object_get(group, "tests"), t, test) {
            key = hex_decode(json_string_value(json_object_get(test, "key")),
                             &key_len);
            msg = hex_decode(json_string_value(json_object_get(test, "msg")),
                             &msg_len);
            tag = hex_decode(json_string_value(json_object_get(test, "tag")),
                             &tag_len);

            ks = mt_keyset_new();

            if (key == NULL || msg == NULL || tag == NULL
                || mt_keyset_add_secret(ks, key, key_len, NULL, 0, err,
                                        sizeof(err)) != MT_OK)
            {
                /* an empty key: mt_keyset_add_secret refuses it */
                c.skipped++;

            } else {
                rc = mt_jws_verify_signature(mt_keyset_get(ks, 0),
                                             MT_ALG_HS256, msg, msg_len, tag,
                                             tag_len);

                /* truncated tags are never an HS256 signature */
                score(&c, test, rc == MT_OK,
                      tag_size == 256
                      && strcmp(json_string_value(json_object_get(test,
                                                            "result")),
                                "valid") == 0);
            }

            mt_keyset_free(ks);
            free(key);
            free(msg);
            free(tag);
        }
    }

    report("hmac_sha256_test.json", "raw secret", &c);

    json_decref(doc);
}


/* ---- RSA-OAEP: the credential --------------------------------------- */

static int
credential_ok(const unsigned char *p, size_t len)
{
    size_t  i;

    if (len == 0) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f) {
            return 0;
        }
    }

    return 1;
}


static void
oaep(void)
{
    int            s, pass, uniform;
    char          *b64;
    size_t         g, t, ct_len, msg_len, label_len, out_len, b64_len;
    json_t        *doc, *group, *test;
    counts_t       c;
    mt_err_t       rc, want;
    mt_keyset_t   *ks;
    unsigned char *ct, *msg, *label, *out;
    const char    *result;
    static const char  *sources[] = { "pem", "jwk" };

    doc = load_vector_json("wycheproof/rsa_oaep_2048_sha256_mgf1sha256_"
                           "test.json");
    if (doc == NULL) {
        ok(0, "rsa_oaep_2048_sha256_mgf1sha256_test.json loads");
        ok(0, "rsa_oaep_2048_sha256_mgf1sha256_test.json loads");
        return;
    }

    for (s = 0; s < 2; s++) {
        memset(&c, 0, sizeof(c));
        uniform = 1;

        json_array_foreach(json_object_get(doc, "testGroups"), g, group) {
            ks = group_keys(group, sources[s], "rsa_oaep");

            if (ks == NULL) {
                c.skipped += (int) json_array_size(json_object_get(group,
                                                                   "tests"));
                continue;
            }

            json_array_foreach(json_object_get(group, "tests"), t, test) {
                ct = hex_decode(json_string_value(json_object_get(test,
                                                                  "ct")),
                                &ct_len);
                msg = hex_decode(json_string_value(json_object_get(test,
                                                                   "msg")),
                                 &msg_len);
                label = hex_decode(json_string_value(json_object_get(test,
                                                                "label")),
                                   &label_len);
                result = json_string_value(json_object_get(test, "result"));

                b64 = malloc(mt_base64_encoded_len(ct_len) + 1);
                b64_len = mt_base64_encode(b64, ct, ct_len);

                out = NULL;
                rc = mt_credential_decrypt(ks, b64, b64_len, &out, &out_len);

                if (strcmp(result, "valid") == 0 && label_len == 0) {
                    want = credential_ok(msg, msg_len)
                           ? MT_OK : MT_ERR_INVALID_CREDENTIAL;

                    /* the right plaintext, or the right refusal */
                    pass = rc == want
                           && (rc != MT_OK || (out_len == msg_len
                                               && memcmp(out, msg, msg_len)
                                                  == 0));
                    score(&c, test, pass, 1);

                } else {
                    /* labelled (valid elsewhere) and invalid: one error */
                    if (rc != MT_OK && rc != MT_ERR_DECRYPT) {
                        uniform = 0;
                        diag("tcId %lld: %s instead of decrypt_failed",
                             (long long) json_integer_value(
                                 json_object_get(test, "tcId")),
                             mt_strerror(rc));
                    }

                    score(&c, test, rc == MT_OK, 0);
                }

                OPENSSL_clear_free(out, out_len);
                free(b64);
                free(ct);
                free(msg);
                free(label);
            }

            mt_keyset_free(ks);
        }

        report("rsa_oaep_2048_sha256_mgf1sha256_test.json", sources[s], &c);
        ok(uniform, "... every refused ciphertext gives decrypt_failed");
    }

    json_decref(doc);
}


int
main(void)
{
    if (!have_vectors()) {
        plan(1);
        skip(1, "no vectors");
        return tap_exit();
    }

    plan(13);

    signatures("rsa_signature_2048_sha256_test.json", MT_ALG_RS256);
    signatures("rsa_pss_2048_sha256_mgf1_32_test.json", MT_ALG_PS256);
    signatures("ecdsa_secp256r1_sha256_p1363_test.json", MT_ALG_ES256);
    signatures("ed25519_test.json", MT_ALG_EDDSA);
    hmac();
    oaep();

    return tap_exit();
}
