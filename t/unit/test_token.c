/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Whole magic tokens in magic-api-proxy's format, minted here:
 *
 *   header  {"alg":"RS256","typ":"JWT"}
 *   claims  {"iat":..,"exp":..,"token":<base64 RSA-OAEP credential>,
 *            "allowed":["METHOD regex",..],"scopes":["name",..]}
 *
 * then mt_token_verify(), mt_token_authorize(), mt_token_decrypt().
 */

#include "mt_core.h"
#include "tap.h"


#define NOW  INT64_C(1700000000)


static mt_keyset_t  *proxy;        /* the proxy's RSA key pair */
static mt_keyset_t  *other;        /* an unrelated RSA key pair */


/* sign claims (a JSON object, consumed) with the proxy's key */
static char *
mint(json_t *claims)
{
    char  *payload, *token;

    payload = json_dumps(claims, JSON_COMPACT);
    token = make_jws(mt_keyset_get(proxy, 0), MT_ALG_RS256,
                     "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", payload);
    free(payload);
    json_decref(claims);

    return token;
}


/* the credential claim: encrypted to key */
static json_t *
credential(const mt_keyset_t *ks, const char *plain)
{
    char     *b64;
    size_t    len;
    json_t   *v;

    if (mt_credential_encrypt(mt_keyset_get(ks, 0),
                              (const unsigned char *) plain, strlen(plain),
                              &b64, &len) != MT_OK)
    {
        diag("mt_credential_encrypt failed");
        return json_null();
    }

    v = json_stringn(b64, len);
    free(b64);

    return v;
}


static json_t *
base_claims(void)
{
    return json_pack("{sIsI}", "iat", (json_int_t) NOW - 10,
                     "exp", (json_int_t) NOW + 3600);
}


/* verify with the proxy's keys, prefix mode */
static mt_err_t
verify(mt_token_t *t, const char *token)
{
    return mt_token_verify(t, proxy, token, strlen(token), NOW, 0,
                           MT_MATCH_PREFIX);
}


static mt_err_t
authorize(const mt_token_t *t, const mt_named_scope_t *named, size_t n,
    const char *method, const char *path, const char **matched,
    size_t *matched_len)
{
    return mt_token_authorize(t, named, n, MT_MATCH_PREFIX, method,
                              strlen(method), path, strlen(path), matched,
                              matched_len);
}


int
main(void)
{
    char              *token;
    json_t            *claims;
    size_t             mlen;
    EVP_PKEY          *pkey;
    mt_err_t           rc;
    mt_token_t         t;
    const char        *matched;
    mt_named_scope_t   named[2];

    pkey = gen_key("RSA", NULL, 2048);
    proxy = mt_keyset_new();
    add_pkey(proxy, pkey, 1);
    EVP_PKEY_free(pkey);

    pkey = gen_key("RSA", NULL, 2048);
    other = mt_keyset_new();
    add_pkey(other, pkey, 1);
    EVP_PKEY_free(pkey);

    /* named scopes, compiled for both modes */
    named[0].name = "read";
    named[0].name_len = 4;
    named[1].name = "admin";
    named[1].name_len = 5;

    {
        int   i, m;
        char  err[256];
        static const char  *rules[2] = { "GET /items/.*", "* /admin/.*" };

        for (i = 0; i < 2; i++) {
            for (m = 0; m < 2; m++) {
                named[i].rules[m] = mt_rules_new((mt_match_mode_t) m);
                mt_rules_add(named[i].rules[m], rules[i], strlen(rules[i]),
                             err, sizeof(err));
            }
        }
    }

    /* 1. the success path */

    claims = base_claims();
    json_object_set_new(claims, "token", credential(proxy, "Bearer s3cr3t"));
    json_object_set_new(claims, "allowed",
                        json_pack("[ss]", "GET /api/.*", "POST /upload"));
    json_object_set_new(claims, "scopes", json_pack("[s]", "read"));
    token = mint(claims);

    is_int(verify(&t, token), MT_OK, "a full token verifies");
    ok(t.credential == NULL, "... the credential is still encrypted");
    is_int(mt_rules_count(t.rules), 2, "... two allowed entries compiled");

    rc = authorize(&t, named, 2, "GET", "/api/users/1", &matched, &mlen);
    ok(rc == MT_OK && mlen == 11 && memcmp(matched, "GET /api/.*", 11) == 0,
       "allowed entry matches GET /api/users/1");
    rc = authorize(&t, named, 2, "GET", "/items/7", &matched, &mlen);
    ok(rc == MT_OK && mlen == 13 && memcmp(matched, "GET /items/.*", 13) == 0,
       "named scope read matches GET /items/7");
    is_int(authorize(&t, named, 2, "DELETE", "/items/7", &matched, &mlen),
           MT_ERR_SCOPE_DENIED, "DELETE /items/7 denied");
    is_int(authorize(&t, named, 2, "GET", "/admin/x", &matched, &mlen),
           MT_ERR_SCOPE_DENIED, "scope admin not granted");
    is_int(authorize(&t, named, 2, "POST", "/upload/more", &matched, &mlen),
           MT_OK, "prefix mode: POST /upload/more allowed");

    is_int(mt_token_decrypt(&t, proxy), MT_OK, "credential decrypts");
    ok(t.credential_len == 13
       && memcmp(t.credential, "Bearer s3cr3t", 13) == 0,
       "... to the minted value");
    mt_token_clear(&t);
    ok(t.credential == NULL && t.rules == NULL && t.jws.claims == NULL,
       "mt_token_clear resets the token");

    /* full mode: the same token, stricter matching */
    rc = mt_token_verify(&t, proxy, token, strlen(token), NOW, 0,
                         MT_MATCH_FULL);
    is_int(rc, MT_OK, "full mode verifies");
    is_int(mt_token_authorize(&t, named, 2, MT_MATCH_FULL, "POST", 4,
                              "/upload/more", 12, &matched, &mlen),
           MT_ERR_SCOPE_DENIED, "full mode: POST /upload/more denied");
    is_int(mt_token_authorize(&t, named, 2, MT_MATCH_FULL, "POST", 4,
                              "/upload", 7, &matched, &mlen),
           MT_OK, "full mode: POST /upload allowed");
    mt_token_clear(&t);

    /* time */
    is_int(mt_token_verify(&t, proxy, token, strlen(token), NOW + 3600, 0,
                           MT_MATCH_PREFIX),
           MT_ERR_EXPIRED, "expired at exp");
    is_int(mt_token_verify(&t, proxy, token, strlen(token), NOW + 3600, 1,
                           MT_MATCH_PREFIX),
           MT_OK, "... valid with a second of leeway");
    mt_token_clear(&t);

    /* keys */
    is_int(mt_token_verify(&t, other, token, strlen(token), NOW, 0,
                           MT_MATCH_PREFIX),
           MT_ERR_BAD_SIGNATURE, "another key set: bad signature");
    free(token);

    /* 2. credentials with control characters */

    {
        static const char  *evil[] = {
            "abc\r\nX-Injected: 1", "abc\n", "\tabc", "abc\x7f", "a\x01",
        };
        size_t  i;

        for (i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
            claims = base_claims();
            json_object_set_new(claims, "token", credential(proxy, evil[i]));
            token = mint(claims);

            verify(&t, token);
            is_int(mt_token_decrypt(&t, proxy), MT_ERR_INVALID_CREDENTIAL,
                   "credential with control characters (#%zu) refused", i);
            ok(t.credential == NULL, "... and not kept");
            mt_token_clear(&t);
            free(token);
        }
    }

    /* a credential with bytes >= 0x80 (UTF-8) is fine */
    claims = base_claims();
    json_object_set_new(claims, "token", credential(proxy, "p\xc3\xa4ss"));
    token = mint(claims);
    verify(&t, token);
    is_int(mt_token_decrypt(&t, proxy), MT_OK, "UTF-8 credential decrypts");
    mt_token_clear(&t);
    free(token);

    /* 3. the wrong key, garbage, and the wrong type */

    claims = base_claims();
    json_object_set_new(claims, "token", credential(other, "Bearer x"));
    token = mint(claims);
    is_int(verify(&t, token), MT_OK, "token with a credential for another "
           "key verifies");
    is_int(mt_token_decrypt(&t, proxy), MT_ERR_DECRYPT,
           "... its credential does not decrypt");
    mt_token_clear(&t);
    free(token);

    {
        static const struct {
            const char  *value;
            const char  *name;
        } garbage[] = {
            { "", "empty" },
            { "not base64!", "not base64" },
            { "QUJD", "three bytes" },
            { "QUJD\n", "trailing newline" },
        };
        size_t  i;

        for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
            claims = base_claims();
            json_object_set_new(claims, "token",
                                json_string(garbage[i].value));
            token = mint(claims);
            verify(&t, token);
            is_int(mt_token_decrypt(&t, proxy), MT_ERR_DECRYPT,
                   "credential %s: decrypt_failed", garbage[i].name);
            mt_token_clear(&t);
            free(token);
        }
    }

    /* a keyset of public keys only cannot decrypt */
    {
        mt_keyset_t  *pub;
        EVP_PKEY     *pk;

        pk = mt_key_pkey(mt_keyset_get(proxy, 0));
        pub = mt_keyset_new();
        add_pkey(pub, pk, 0);

        claims = base_claims();
        json_object_set_new(claims, "token", credential(proxy, "x"));
        token = mint(claims);
        is_int(mt_token_verify(&t, pub, token, strlen(token), NOW, 0,
                               MT_MATCH_PREFIX), MT_ERR_UNTRUSTED_KEY,
               "another party's public key: no credential tokens");
        mt_token_clear(&t);

        add_pkey(pub, pk, 1);
        is_int(mt_token_verify(&t, pub, token, strlen(token), NOW, 0,
                               MT_MATCH_PREFIX), MT_OK,
               "... unless its private half is in the set");
        mt_token_clear(&t);
        mt_keyset_free(pub);

        pub = mt_keyset_new();
        add_pkey(pub, pk, 0);
        mt_keyset_trust_credentials(pub, 0);
        is_int(mt_token_verify(&t, pub, token, strlen(token), NOW, 0,
                               MT_MATCH_PREFIX), MT_OK,
               "... or it is marked for credentials");
        is_int(mt_token_decrypt(&t, pub), MT_ERR_DECRYPT,
               "... and cannot decrypt");
        mt_token_clear(&t);
        free(token);
        mt_keyset_free(pub);
    }

    /*
     * A secret shared with other services: whoever holds it could wrap
     * a credential ciphertext copied from a real token into a token of
     * their own with wider scopes.
     */
    {
        char          *payload, *p;
        mt_keyset_t   *shared;
        static const unsigned char  secret[] =
            "0123456789abcdef0123456789abcdef";

        shared = mt_keyset_new();
        mt_keyset_add_secret(shared, secret, 32, NULL, 0, NULL, 0);

        claims = base_claims();
        json_object_set_new(claims, "token", credential(proxy, "x"));
        json_object_set_new(claims, "allowed", json_pack("[s]", "* .*"));
        payload = json_dumps(claims, JSON_COMPACT);
        p = make_jws(mt_keyset_get(shared, 0), MT_ALG_HS256,
                     "{\"alg\":\"HS256\"}", payload);
        json_decref(claims);

        is_int(mt_token_verify(&t, shared, p, strlen(p), NOW, 0,
                               MT_MATCH_PREFIX), MT_ERR_UNTRUSTED_KEY,
               "HMAC secret: a credential token is untrusted_key");
        mt_token_clear(&t);

        mt_keyset_trust_credentials(shared, 0);
        is_int(mt_token_verify(&t, shared, p, strlen(p), NOW, 0,
                               MT_MATCH_PREFIX), MT_OK,
               "... unless the secret is marked for credentials");
        mt_token_clear(&t);

        free(payload);
        free(p);
        mt_keyset_free(shared);
    }

    claims = base_claims();
    json_object_set_new(claims, "token", json_integer(5));
    token = mint(claims);
    verify(&t, token);
    is_int(mt_token_decrypt(&t, proxy), MT_ERR_INVALID_CLAIMS,
           "token claim a number: invalid_claims");
    mt_token_clear(&t);
    free(token);

    /* 4. no credential */

    claims = base_claims();
    json_object_set_new(claims, "allowed", json_pack("[s]", "GET /"));
    token = mint(claims);
    is_int(verify(&t, token), MT_OK, "token without a credential verifies");
    is_int(mt_token_decrypt(&t, proxy), MT_OK, "... decrypt is a no-op");
    ok(t.credential == NULL && t.credential_len == 0, "... credential NULL");
    mt_token_clear(&t);
    free(token);

    claims = base_claims();
    json_object_set_new(claims, "token", json_null());
    token = mint(claims);
    verify(&t, token);
    ok(mt_token_decrypt(&t, proxy) == MT_OK && t.credential == NULL,
       "token claim null: credential NULL");
    mt_token_clear(&t);
    free(token);

    /* 5. named scopes */

    {
        static const struct {
            const char  *scopes;
            const char  *method, *path;
            mt_err_t     want;
            const char  *name;
        } cases[] = {
            { "[\"nope\"]", "GET", "/items/1", MT_ERR_UNKNOWN_SCOPE,
              "unknown scope" },
            { "[\"read\",\"nope\"]", "GET", "/items/1",
              MT_ERR_UNKNOWN_SCOPE,
              "unknown scope refused even when a known one matches" },
            { "[\"read\",\"nope\"]", "GET", "/other", MT_ERR_UNKNOWN_SCOPE,
              "unknown scope refused when nothing matches" },
            { "[\"admin\"]", "PUT", "/admin/x", MT_OK, "admin: * method" },
            { "[\"READ\"]", "GET", "/items/1", MT_ERR_UNKNOWN_SCOPE,
              "scope names are case-sensitive" },
            { "[\"rea\"]", "GET", "/items/1", MT_ERR_UNKNOWN_SCOPE,
              "scope names compare whole" },
            { "[]", "GET", "/items/1", MT_ERR_SCOPE_DENIED,
              "no scopes, no allowed: denied" },
            { "null", "GET", "/items/1", MT_ERR_SCOPE_DENIED,
              "scopes null: denied" },
        };
        size_t  i;

        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            claims = base_claims();
            json_object_set_new(claims, "scopes",
                                json_loads(cases[i].scopes, 0, NULL));
            token = mint(claims);
            rc = verify(&t, token);
            is_int(rc == MT_OK
                   ? authorize(&t, named, 2, cases[i].method, cases[i].path,
                               &matched, &mlen)
                   : rc,
                   cases[i].want, "scopes %s: %s", cases[i].scopes,
                   cases[i].name);
            mt_token_clear(&t);
            free(token);
        }
    }

    /* 6. malformed "allowed" and "scopes" */

    {
        static const struct {
            const char  *name;
            const char  *value;
        } bad[] = {
            { "allowed", "\"GET /x\"" },
            { "allowed", "[\"GET /x\", 5]" },
            { "allowed", "[[\"GET /x\"]]" },
            { "allowed", "[\"GET /(\"]" },
            { "allowed", "[\"GET\"]" },
            { "allowed", "{\"GET\":\"/x\"}" },
            { "allowed", "true" },
            { "scopes", "\"read\"" },
            { "scopes", "[\"read\", null]" },
            { "scopes", "[1]" },
        };
        size_t  i;

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            claims = base_claims();
            json_object_set_new(claims, bad[i].name,
                                json_loads(bad[i].value, JSON_DECODE_ANY,
                                           NULL));
            token = mint(claims);
            is_int(verify(&t, token), MT_ERR_INVALID_CLAIMS,
                   "%s = %s: invalid_claims", bad[i].name, bad[i].value);
            ok(t.jws.claims == NULL && t.rules == NULL, "... nothing kept");
            mt_token_clear(&t);
            free(token);
        }
    }

    /* too many allowed entries */
    {
        int      i;
        char     e[32];
        json_t  *list;

        list = json_array();

        for (i = 0; i <= MT_MAX_RULES; i++) {
            snprintf(e, sizeof(e), "GET /r%d", i);
            json_array_append_new(list, json_string(e));
        }

        claims = base_claims();
        json_object_set_new(claims, "allowed", list);
        token = mint(claims);
        is_int(verify(&t, token), MT_ERR_INVALID_CLAIMS,
               "more than MT_MAX_RULES allowed entries");
        mt_token_clear(&t);
        free(token);
    }

    /* 7. claims are checked after the signature */

    claims = json_pack("{ss}", "exp", "soon");
    token = mint(claims);
    is_int(verify(&t, token), MT_ERR_INVALID_CLAIMS, "exp a string");
    mt_token_clear(&t);
    free(token);

    /* mt_token_restore: attested bytes, the claims without a signature */
    {
        mt_token_t  u;

        claims = base_claims();
        json_object_set_new(claims, "token",
                            credential(proxy, "Bearer s3cr3t"));
        json_object_set_new(claims, "allowed", json_pack("[s]", "GET /r/.*"));
        json_object_set_new(claims, "scopes", json_pack("[s]", "read"));
        token = mint(claims);

        is_int(mt_token_restore(&u, token, strlen(token), NOW, 0,
                                MT_MATCH_FULL), MT_OK, "restore: ok");
        ok(u.jws.header == NULL && u.jws.key == NULL && u.credential == NULL,
           "restore: no header, no key, credential still encrypted");
        is_int(authorize(&u, named, 2, "GET", "/r/x", &matched, &mlen),
               MT_OK, "restore: allowed rules compiled");
        is_int(authorize(&u, named, 2, "GET", "/items/1", &matched, &mlen),
               MT_OK, "restore: named scopes kept");
        is_int(authorize(&u, named, 2, "POST", "/r/x", &matched, &mlen),
               MT_ERR_SCOPE_DENIED, "restore: other requests denied");
        is_int(mt_token_decrypt(&u, proxy), MT_OK, "restore: decryptable");
        ok(u.credential_len == 13
           && memcmp(u.credential, "Bearer s3cr3t", 13) == 0,
           "restore: the credential");
        mt_token_clear(&u);

        is_int(mt_token_restore(&u, token, strlen(token), NOW + 7200, 0,
                                MT_MATCH_FULL),
               MT_ERR_EXPIRED, "restore: exp checked");
        is_int(mt_token_restore(&u, token, strlen(token), NOW - 3600, 0,
                                MT_MATCH_FULL),
               MT_ERR_NOT_YET_VALID, "restore: iat checked");
        is_int(mt_token_restore(&u, token, strlen(token) - 3 * 4, NOW, 0,
                                MT_MATCH_FULL),
               MT_OK, "restore: the signature is not looked at");
        mt_token_clear(&u);
        free(token);

        is_int(mt_token_restore(&u, "abc", 3, NOW, 0, MT_MATCH_FULL),
               MT_ERR_MALFORMED, "restore: no dots");
        is_int(mt_token_restore(&u, "a..", 3, NOW, 0, MT_MATCH_FULL),
               MT_ERR_MALFORMED, "restore: empty claims");

        claims = base_claims();
        json_object_set_new(claims, MT_REFRESH_CLAIM, json_pack("{}"));
        token = mint(claims);
        is_int(mt_token_restore(&u, token, strlen(token), NOW, 0,
                                MT_MATCH_FULL),
               MT_ERR_INVALID_CLAIMS, "restore: refresh tokens refused");
        free(token);

        claims = base_claims();
        json_object_set_new(claims, "allowed", json_pack("[s]", "GET (x"));
        token = mint(claims);
        is_int(mt_token_restore(&u, token, strlen(token), NOW, 0,
                                MT_MATCH_PREFIX),
               MT_ERR_INVALID_CLAIMS, "restore: bad rules refused");
        free(token);
    }

    /* mt_keyset_digest: the same material, the same digest */
    {
        unsigned char  d1[MT_DIGEST_LEN], d2[MT_DIGEST_LEN], d3[MT_DIGEST_LEN];
        mt_keyset_t   *again;
        char           err[256];

        again = mt_keyset_new();
        add_pkey(again, mt_key_pkey(mt_keyset_get(proxy, 0)), 1);

        is_int(mt_keyset_digest(proxy, d1), MT_OK, "digest");
        is_int(mt_keyset_digest(again, d2), MT_OK, "digest again");
        ok(memcmp(d1, d2, MT_DIGEST_LEN) == 0, "digest: same keys, same");

        is_int(mt_keyset_digest(other, d3), MT_OK, "digest other");
        ok(memcmp(d1, d3, MT_DIGEST_LEN) != 0, "digest: other keys differ");

        mt_keyset_add_secret(again, (const unsigned char *) "0123456789abcdef"
                             "0123456789abcdef", 32, NULL, 0, err,
                             sizeof(err));
        mt_keyset_digest(again, d2);
        ok(memcmp(d1, d2, MT_DIGEST_LEN) != 0, "digest: a key added");
        mt_keyset_free(again);

        again = mt_keyset_new();
        add_pkey(again, mt_key_pkey(mt_keyset_get(proxy, 0)), 0);
        mt_keyset_digest(again, d2);
        ok(memcmp(d1, d2, MT_DIGEST_LEN) != 0,
           "digest: the public half alone differs");
        mt_keyset_free(again);
    }

    /* error names are stable: $magic_token_error */
    ok(strcmp(mt_strerror(MT_OK), "") == 0
       && strcmp(mt_strerror(MT_ERR_DECRYPT), "decrypt_failed") == 0
       && strcmp(mt_strerror(MT_ERR_INVALID_CREDENTIAL),
                 "invalid_credential") == 0
       && strcmp(mt_strerror(MT_ERR_UNKNOWN_SCOPE), "unknown_scope") == 0
       && strcmp(mt_strerror(MT_ERR_INTERNAL), "internal") == 0
       && strcmp(mt_strerror((mt_err_t) 999), "internal") == 0,
       "mt_strerror names");

    {
        int  i;

        for (i = 0; i < 2; i++) {
            mt_rules_free(named[i].rules[0]);
            mt_rules_free(named[i].rules[1]);
        }
    }

    mt_keyset_free(proxy);
    mt_keyset_free(other);

    return tap_exit();
}
