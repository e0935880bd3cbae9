/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_claims: the input is a claims payload (normally JSON).
 *
 *   1. mt_json_parse_object(), mt_claims_check(),
 *      mt_claims_check_audience() and mt_json_claim_string() on it;
 *   2. the harness signs the raw bytes with the fixture HMAC key (so the
 *      fuzzer gets behind a valid signature) and runs the whole token
 *      path: mt_token_verify() in both match modes,
 *      mt_token_authorize() against configured named scopes, and
 *      mt_token_decrypt() of the "token" claim (RSA-OAEP credential or
 *      JWE, with the fixture keys); mt_token_restore() of the same
 *      bytes gives verify's answer (the shared cache's path);
 *      mt_token_verify_interned() and mt_token_restore_interned()
 *      through one small intern table (mt_intern.c, 4 lists; the last
 *      token of each mode kept, so that lists are shared across inputs)
 *      give the same answers, and the same authorisations, as the plain
 *      forms, the claims of the interned restore being verify's without
 *      "token"; mt_json_cut_string_member() of a payload that parses
 *      leaves every other member as it was.
 *
 * Properties: the token verifies only if the payload parses as an
 * object and passes mt_claims_check(); a failure leaves nothing behind;
 * an authorised request names a rule whose method fits; a decrypted
 * credential is 1..MT_MAX_CREDENTIAL_LEN bytes without control
 * characters; mt_json_claim_string() of a string is the string.
 */

#include "common.h"


static mt_keyset_t       *ks;
static mt_named_scope_t   named[3];
static mt_rules_intern_t *intern;
static mt_token_t         held[2];      /* per mode: lists stay interned */


static void
fx_named(mt_named_scope_t *s, const char *name, const char *const *entries)
{
    int     m;
    size_t  i;
    char    err[256];

    s->name = name;
    s->name_len = strlen(name);

    for (m = 0; m < 2; m++) {
        s->rules[m] = mt_rules_new((mt_match_mode_t) m);
        if (s->rules[m] == NULL) {
            fx_die("mt_rules_new", NULL);
        }

        for (i = 0; entries[i] != NULL; i++) {
            if (mt_rules_add(s->rules[m], entries[i], strlen(entries[i]),
                             err, sizeof(err)) != MT_OK)
            {
                fx_die("named scope", err);
            }
        }
    }
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const  read[] = { "GET /v1/.*", "HEAD /v1/.*", NULL };
    static const char *const  write[] = { "POST /v1/items", "* /admin/?",
                                          NULL };
    static const char *const  any[] = { "* .*", NULL };

    (void) argc;
    (void) argv;

    ks = fx_keyset();

    fx_named(&named[0], "read", read);
    fx_named(&named[1], "write", write);
    fx_named(&named[2], "any", any);

    intern = mt_rules_intern_new(4);
    if (intern == NULL) {
        fx_die("mt_rules_intern_new", NULL);
    }

    return 0;
}


/* a token with interned rules answers every request as t does */
static void
fx_same_answers(const mt_token_t *t, const mt_token_t *v, int mode)
{
    size_t               i, tlen, vlen;
    mt_err_t             trc, vrc;
    const char          *tm, *vm;
    const fx_request_t  *q;

    FX_CHECK(mt_rules_count(t->rules) == mt_rules_count(v->rules),
             "interned list of another length");

    for (i = 0; i < FX_REQUESTS; i++) {
        q = fx_request(i);

        tm = vm = NULL;
        tlen = vlen = 0;

        trc = mt_token_authorize(t, named, 3, (mt_match_mode_t) mode,
                                 q->method,
                                 strlen(q->method),
                                 q->path, strlen(q->path),
                                 &tm, &tlen);
        vrc = mt_token_authorize(v, named, 3, (mt_match_mode_t) mode,
                                 q->method,
                                 strlen(q->method),
                                 q->path, strlen(q->path),
                                 &vm, &vlen);

        FX_CHECK(trc == vrc, "authorize %s, interned %s", mt_strerror(trc),
                 mt_strerror(vrc));
        FX_CHECK(trc != MT_OK
                 || (tlen == vlen && memcmp(tm, vm, tlen) == 0),
                 "interned rules matched another entry");
    }
}


/* the same token through the intern table: the same answers */
static void
fx_interned(const char *tok, size_t tlen, const mt_token_t *t, mt_err_t rc,
    int mode)
{
    mt_err_t    irc;
    mt_token_t  v;

    /* first: a list the table holds now stays there until the restore */
    mt_token_clear(&held[mode]);

    irc = mt_token_verify_interned(&v, ks, tok, tlen, FX_NOW, 60,
                                   (mt_match_mode_t) mode, intern);
    FX_CHECK(irc == rc, "interned verify %s, verify %s", mt_strerror(irc),
             mt_strerror(rc));

    if (irc != MT_OK) {
        FX_CHECK(v.jws.claims == NULL && v.rules == NULL,
                 "failed interned verify left state behind");
        return;
    }

    fx_same_answers(t, &v, mode);

    held[mode] = v;

    irc = mt_token_restore_interned(&v, tok, tlen, FX_NOW, 60,
                                    (mt_match_mode_t) mode, intern);
    FX_CHECK(irc == MT_OK, "interned restore %s", mt_strerror(irc));

    /*
     * the claims of the verified token, less the credential's ciphertext
     * when it is a string the text let cut (not written with escapes)
     */
    {
        json_t  *lean;

        lean = json_copy(t->jws.claims);
        FX_CHECK(lean != NULL, "json_copy");

        if (json_is_string(json_object_get(lean, "token"))) {
            (void) json_object_del(lean, "token");
        }

        FX_CHECK(irc != MT_OK || json_equal(v.jws.claims, lean)
                 || json_equal(v.jws.claims, t->jws.claims),
                 "interned restore: other claims");
        json_decref(lean);
    }

    if (mt_rules_intern_count(intern) < 4) {
        FX_CHECK(v.rules == held[mode].rules, "the same entries not shared");
    }

    fx_same_answers(t, &v, mode);
    mt_token_clear(&v);

    FX_CHECK(mt_rules_intern_count(intern) <= 4, "the table passed its bound");
}


static void
fx_check_json(const uint8_t *data, size_t size, mt_err_t *parse_rc,
    mt_err_t *claims_rc)
{
    char         *s;
    size_t        len;
    json_t       *claims, *v;
    const char   *name;
    mt_err_t      rc;
    static const char *const  auds[] = { "api", "other" };
    static const size_t       aud_lens[] = { 3, 5 };

    *claims_rc = MT_ERR_INTERNAL;

    /* any text: the cut reads within it, and keeps it or cuts a member */
    {
        char    *copy;
        size_t   n;

        copy = malloc(size ? size : 1);
        FX_CHECK(copy != NULL, "malloc");
        memcpy(copy, data, size);
        n = size;

        if (mt_json_cut_string_member(copy, &n, "token", 5) != 0) {
            FX_CHECK(n == size, "a refused cut changed the length");
        } else {
            FX_CHECK(n < size, "a cut that cut nothing");
        }

        free(copy);
    }

    *parse_rc = mt_json_parse_object(&claims, (const char *) data, size,
                                     MT_MAX_CLAIMS);
    if (*parse_rc != MT_OK) {
        FX_CHECK(claims == NULL, "failed parse left an object");
        FX_CHECK(*parse_rc == MT_ERR_MALFORMED
                 || *parse_rc == MT_ERR_TOO_LARGE, "parse gave %s",
                 mt_strerror(*parse_rc));
        return;
    }

    FX_CHECK(json_is_object(claims), "parsed claims not an object");

    /* the member cut of mt_token_restore_interned: the rest unchanged */
    {
        char    *cut;
        size_t   cut_len;
        json_t  *lean, *want;

        cut = malloc(size ? size : 1);
        FX_CHECK(cut != NULL, "malloc");
        memcpy(cut, data, size);
        cut_len = size;

        if (mt_json_cut_string_member(cut, &cut_len, "token", 5) == 0) {
            FX_CHECK(cut_len < size, "a cut that cut nothing");
            FX_CHECK(json_is_string(json_object_get(claims, "token")),
                     "cut a member that is not a string \"token\"");
            FX_CHECK(mt_json_parse_object(&lean, cut, cut_len, MT_MAX_CLAIMS)
                     == MT_OK, "the cut text does not parse");
            want = json_copy(claims);
            (void) json_object_del(want, "token");
            FX_CHECK(json_equal(lean, want), "the cut changed other members");
            json_decref(want);
            json_decref(lean);

        } else {
            FX_CHECK(cut_len == size && memcmp(cut, data, size) == 0,
                     "a refused cut changed the text");
        }

        free(cut);
    }
    FX_CHECK(json_object_size(claims) <= MT_MAX_CLAIMS, "too many members");

    *claims_rc = mt_claims_check(claims, FX_NOW, 60);

    rc = mt_claims_check_audience(claims, auds, aud_lens, 2);
    FX_CHECK(rc == MT_OK || rc == MT_ERR_INVALID_AUDIENCE, "audience: %s",
             mt_strerror(rc));
    rc = mt_claims_check_audience(claims, NULL, NULL, 0);
    FX_CHECK(rc == MT_ERR_INVALID_AUDIENCE, "no audience accepted, got %s",
             mt_strerror(rc));

    json_object_foreach(claims, name, v) {
        if (mt_json_claim_string(v, &s, &len) != MT_OK) {
            continue;
        }

        FX_CHECK(s[len] == '\0', "claim string not NUL-terminated");

        if (json_is_string(v)) {
            FX_CHECK(len == json_string_length(v)
                     && memcmp(s, json_string_value(v), len) == 0,
                     "claim \"%s\": string changed", name);
        } else {
            FX_CHECK(strlen(s) == len, "claim \"%s\": length", name);
        }

        free(s);
    }

    json_decref(claims);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                   mode;
    char                 *tok;
    size_t                tlen, i, mlen;
    mt_err_t              parse_rc, claims_rc, rc;
    mt_token_t            t;
    const char           *matched;
    const fx_request_t   *q;
    static const char     header[] = "{\"alg\":\"HS256\",\"kid\":\"hs\"}";

    fx_check_json(data, size, &parse_rc, &claims_rc);

    tok = fx_sign(mt_keyset_get(ks, FX_KEY_HMAC), MT_ALG_HS256, header,
                  sizeof(header) - 1, data, size, &tlen);
    FX_CHECK(tok != NULL, "signing failed");

    for (mode = 0; mode < 2; mode++) {
        rc = mt_token_verify(&t, ks, tok, tlen, FX_NOW, 60,
                             (mt_match_mode_t) mode);

        /* the shared cache's path: the same answer without a signature */
        {
            mt_err_t    rrc;
            mt_token_t  u;

            rrc = mt_token_restore(&u, tok, tlen, FX_NOW, 60,
                                   (mt_match_mode_t) mode);

            FX_CHECK(rrc == rc || rc == MT_ERR_UNTRUSTED_KEY
                     || rc == MT_ERR_TOO_LARGE || rc == MT_ERR_MISSING,
                     "restore %s, verify %s", mt_strerror(rrc),
                     mt_strerror(rc));
            FX_CHECK(rrc == MT_OK
                     || (u.jws.claims == NULL && u.rules == NULL),
                     "failed restore left state behind");

            if (rrc == MT_OK && rc == MT_OK) {
                FX_CHECK(mt_rules_count(u.rules) == mt_rules_count(t.rules)
                         && json_equal(u.jws.claims, t.jws.claims),
                         "restore and verify disagree");
            }

            mt_token_clear(&u);
        }

        fx_interned(tok, tlen, &t, rc, mode);

        if (rc != MT_OK) {
            FX_CHECK(t.jws.claims == NULL && t.rules == NULL
                     && t.scopes == NULL && t.credential == NULL,
                     "failed verify (%s) left state behind",
                     mt_strerror(rc));

            if (size == 0 || tlen > MT_MAX_TOKEN_LEN) {
                continue;
            }

            if (parse_rc != MT_OK) {
                FX_CHECK(rc == parse_rc, "payload parse %s, verify %s",
                         mt_strerror(parse_rc), mt_strerror(rc));
            } else if (claims_rc != MT_OK) {
                FX_CHECK(rc == claims_rc, "claims %s, verify %s",
                         mt_strerror(claims_rc), mt_strerror(rc));
            } else {
                /* only "scopes" / "allowed" can still fail */
                FX_CHECK(rc == MT_ERR_INVALID_CLAIMS || rc == MT_ERR_NOMEM,
                         "valid claims but verify %s", mt_strerror(rc));
            }

            continue;
        }

        FX_CHECK(parse_rc == MT_OK && claims_rc == MT_OK,
                 "verified although parse %s / claims %s",
                 mt_strerror(parse_rc), mt_strerror(claims_rc));
        FX_CHECK(t.rules != NULL, "no rules");
        FX_CHECK(t.scopes == NULL || json_is_array(t.scopes),
                 "scopes not an array");

        for (i = 0; i < FX_REQUESTS; i++) {
            q = fx_request(i);

            matched = NULL;
            mlen = 0;

            rc = mt_token_authorize(&t, named, 3, (mt_match_mode_t) mode,
                                    q->method,
                                    strlen(q->method),
                                    q->path,
                                    strlen(q->path), &matched,
                                    &mlen);

            if (rc == MT_OK) {
                FX_CHECK(matched != NULL && mlen > 1
                         && memchr(matched, ' ', mlen) != NULL,
                         "authorised without a matched entry");
                FX_CHECK(matched[0] == '*'
                         || (memcmp(matched, q->method,
                                    strlen(q->method)) == 0
                             && matched[strlen(q->method)] == ' '),
                         "entry \"%.*s\" allowed method %s", (int) mlen,
                         matched, q->method);
            } else {
                FX_CHECK(rc == MT_ERR_SCOPE_DENIED
                         || rc == MT_ERR_UNKNOWN_SCOPE || rc == MT_ERR_NOMEM,
                         "authorize: %s", mt_strerror(rc));
            }
        }

        if (mode == 1) {
            rc = mt_token_decrypt(&t, ks);

            if (rc == MT_OK && t.credential != NULL) {
                FX_CHECK(t.credential_len > 0
                         && t.credential_len <= MT_MAX_CREDENTIAL_LEN,
                         "credential of %zu bytes", t.credential_len);

                for (i = 0; i < t.credential_len; i++) {
                    FX_CHECK(t.credential[i] >= 0x20
                             && t.credential[i] != 0x7f,
                             "control character in the credential");
                }
            } else if (rc != MT_OK) {
                FX_CHECK(t.credential == NULL, "failed decrypt left data");
                FX_CHECK(rc == MT_ERR_DECRYPT
                         || rc == MT_ERR_INVALID_CREDENTIAL
                         || rc == MT_ERR_INVALID_CLAIMS
                         || rc == MT_ERR_NOMEM,
                         "decrypt: %s", mt_strerror(rc));
            }
        }

        mt_token_clear(&t);
    }

    free(tok);

    return 0;
}
