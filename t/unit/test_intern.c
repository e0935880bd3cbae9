/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Interned rule lists (mt_intern.c): tokens with the same "allowed"
 * entries in the same mode share one compiled list, tokens with other
 * entries (or another mode, order, count) do not, and each token allows
 * exactly what its own entries allow; references, the bound, the table
 * freed while lists are still in use; mt_token_verify_interned and
 * mt_token_restore_interned against their plain forms; the cut of the
 * credential's ciphertext out of the claims' text for a shared-cache hit
 * (mt_json_cut_string_member).
 */

#include "mt_core.h"
#include "tap.h"


#define NOW  INT64_C(1700000000)


static mt_keyset_t  *ks;


/* HS256 over {"exp":..,"allowed":[entries..]} (entries NULL: none) */
static char *
mint(const char *const *entries)
{
    char     *payload, *token;
    json_t   *claims, *a;

    claims = json_pack("{sI}", "exp", (json_int_t) NOW + 3600);

    if (entries != NULL) {
        a = json_array();

        for ( /* void */ ; *entries; entries++) {
            json_array_append_new(a, json_string(*entries));
        }

        json_object_set_new(claims, "allowed", a);
    }

    payload = json_dumps(claims, JSON_COMPACT);
    token = make_jws(mt_keyset_get(ks, 0), MT_ALG_HS256,
                     "{\"alg\":\"HS256\"}", payload);
    free(payload);
    json_decref(claims);

    return token;
}


static int
allows(const mt_token_t *t, const char *method, const char *path)
{
    size_t       len;
    const char  *matched;

    return mt_token_authorize(t, NULL, 0, MT_MATCH_FULL, method,
                              strlen(method), path, strlen(path), &matched,
                              &len)
           == MT_OK;
}


static mt_err_t
verify(mt_token_t *t, const char *token, mt_match_mode_t mode,
    mt_rules_intern_t *in)
{
    return mt_token_verify_interned(t, ks, token, strlen(token), NOW, 0,
                                    mode, in);
}


static json_t *
entries_of(const char *json)
{
    return json_loads(json, 0, NULL);
}


/* the text after cutting "token", or "-" when the cut is refused */
static const char *
cut(const char *text)
{
    size_t       len;
    static char  buf[256];

    len = strlen(text);
    memcpy(buf, text, len + 1);

    if (mt_json_cut_string_member(buf, &len, "token", 5) != 0) {
        return strcmp(buf, text) == 0 && len == strlen(text) ? "-" : "?";
    }

    buf[len] = '\0';

    return buf;
}


static void
test_cut(void)
{
    static const struct {
        const char  *in;
        const char  *out;
    } cases[] = {
        { "{\"token\":\"x\",\"a\":1}", "{\"a\":1}" },
        { "{\"a\":1,\"token\":\"x\"}", "{\"a\":1}" },
        { "{\"a\":1,\"token\":\"x\",\"b\":[1,{\"c\":\"}\"}]}",
          "{\"a\":1,\"b\":[1,{\"c\":\"}\"}]}" },
        { "{\"token\":\"x\"}", "{}" },
        { " { \"token\" : \"x\\\"y\" , \"a\" : \"token\" } ",
          " {  \"a\" : \"token\" } " },
        { "{\"a\":{\"token\":\"x\"}}", "-" },
        { "{\"tok\\u0065n\":\"x\"}", "-" },
        { "{\"token\":5}", "-" },
        { "{\"token\":null}", "-" },
        { "{\"token\":\"x\",\"token\":\"y\"}", "-" },
        { "{\"tokens\":\"x\"}", "-" },
        { "{\"token\":\"x\"", "-" },
        { "{\"token\":\"x\"}}", "-" },
        { "[\"token\",\"x\"]", "-" },
        { "{\"token\":\"x\" \"a\":1}", "-" },
        { "", "-" },
    };

    size_t       i;
    const char  *got;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        got = cut(cases[i].in);

        if (!ok(strcmp(got, cases[i].out) == 0, "cut of %s", cases[i].in)) {
            diag("got %s, want %s", got, cases[i].out);
        }
    }
}


int
main(void)
{
    char                *a1, *a2, *b, *c, *none, *bad;
    size_t               i;
    json_t              *j, *k;
    mt_token_t           ta1, ta2, tb, tc, tp, tn, tr;
    mt_rules_t          *r1, *r2, *own[3];
    mt_rules_intern_t   *in;

    static const char *const  ea[] = { "GET /a/[0-9]+", "POST /a", NULL };
    static const char *const  eb[] = { "GET /b/[0-9]+", "POST /b", NULL };
    static const char *const  ec[] = { "POST /a", "GET /a/[0-9]+", NULL };
    static const char *const  ebad[] = { "GET /(", NULL };

    ks = mt_keyset_new();
    mt_keyset_add_secret(ks, (const unsigned char *)
                         "0123456789abcdef0123456789abcdef", 32, NULL, 0,
                         NULL, 0);

    a1 = mint(ea);
    a2 = mint(ea);      /* the same entries, another token (same bytes) */
    b = mint(eb);
    c = mint(ec);       /* the same entries in another order */
    none = mint(NULL);
    bad = mint(ebad);

    in = mt_rules_intern_new(8);
    ok(in != NULL, "mt_rules_intern_new");
    ok(mt_rules_intern_new(0) == NULL, "a table of no lists is refused");

    /* the same entries share, other entries do not */

    is_int(verify(&ta1, a1, MT_MATCH_FULL, in), MT_OK, "token a verifies");
    is_int(verify(&ta2, a2, MT_MATCH_FULL, in), MT_OK, "token a' verifies");
    is_int(verify(&tb, b, MT_MATCH_FULL, in), MT_OK, "token b verifies");
    is_int(verify(&tc, c, MT_MATCH_FULL, in), MT_OK, "token c verifies");
    is_int(verify(&tp, a1, MT_MATCH_PREFIX, in), MT_OK,
           "token a verifies in prefix mode");

    ok(ta1.rules == ta2.rules, "same entries, same mode: one list");
    ok(tb.rules != ta1.rules, "other entries: another list");
    ok(tc.rules != ta1.rules, "the same entries in another order: another");
    ok(tp.rules != ta1.rules, "the same entries in another mode: another");
    is_int(mt_rules_intern_count(in), 4, "four lists in the table");

    /* each token allows what its own entries allow, and nothing else */

    ok(allows(&ta1, "GET", "/a/1") && allows(&ta2, "POST", "/a"),
       "tokens a allow their entries");
    ok(!allows(&ta1, "GET", "/b/1") && !allows(&ta2, "POST", "/b"),
       "tokens a do not allow b's");
    ok(allows(&tb, "GET", "/b/1") && allows(&tb, "POST", "/b"),
       "token b allows its entries");
    ok(!allows(&tb, "GET", "/a/1") && !allows(&tb, "POST", "/a"),
       "token b does not allow a's");
    ok(!allows(&ta1, "GET", "/a/x") && !allows(&tb, "GET", "/b/x"),
       "the regexes still decide");
    ok(allows(&tc, "GET", "/a/2") && !allows(&tc, "GET", "/b/2"),
       "token c: a's entries, not b's");

    /* the last user takes a list out of the table */

    mt_token_clear(&ta1);
    is_int(mt_rules_intern_count(in), 4, "a list stays while a token uses it");
    ok(allows(&ta2, "GET", "/a/7"), "... and still works for the other");
    mt_token_clear(&ta2);
    is_int(mt_rules_intern_count(in), 3, "the last user frees it");

    is_int(verify(&ta1, a1, MT_MATCH_FULL, in), MT_OK, "token a again");
    is_int(mt_rules_intern_count(in), 4, "... compiled and in the table");

    /* no "allowed": an empty list, shared too; bad entries: refused */

    is_int(verify(&tn, none, MT_MATCH_FULL, in), MT_OK, "no allowed claim");
    is_int(mt_rules_count(tn.rules), 0, "... no rules");
    ok(!allows(&tn, "GET", "/a/1"), "... allows nothing");
    is_int(verify(&tr, bad, MT_MATCH_FULL, in), MT_ERR_INVALID_CLAIMS,
           "an entry that does not compile: invalid claims");
    ok(tr.rules == NULL && tr.jws.claims == NULL, "... nothing kept");
    is_int(mt_rules_intern_count(in), 5, "... and nothing interned");

    /* restore: attested bytes, the same list */

    is_int(mt_token_restore_interned(&tr, b, strlen(b), NOW, 0,
                                     MT_MATCH_FULL, in), MT_OK,
           "restore of token b");
    ok(tr.rules == tb.rules, "... shares b's list");
    ok(allows(&tr, "POST", "/b") && !allows(&tr, "POST", "/a"),
       "... and allows b's entries only");
    mt_token_clear(&tr);

    /* the bound: a full table compiles lists of their own */

    j = entries_of("[\"GET /x0\"]");
    ok(mt_rules_intern_get(in, MT_MATCH_FULL, j, &r1) == MT_OK
       && mt_rules_intern_count(in) == 6, "a sixth list");
    mt_rules_free(r1);
    json_decref(j);
    is_int(mt_rules_intern_count(in), 5, "... gone with its user");

    for (i = 0; i < 3; i++) {
        char  buf[64];

        snprintf(buf, sizeof(buf), "[\"GET /own%zu\"]", i);
        j = entries_of(buf);
        mt_rules_intern_get(in, MT_MATCH_FULL, j, &own[i]);
        json_decref(j);
    }

    is_int(mt_rules_intern_count(in), 8, "the table holds at most 8");

    j = entries_of("[\"GET /own2\"]");
    ok(mt_rules_intern_get(in, MT_MATCH_FULL, j, &r1) == MT_OK
       && r1 == own[2], "a list in the full table is still shared");
    mt_rules_free(r1);
    json_decref(j);

    j = entries_of("[\"GET /more\"]");
    k = entries_of("[\"GET /more\"]");
    ok(mt_rules_intern_get(in, MT_MATCH_FULL, j, &r1) == MT_OK
       && mt_rules_intern_get(in, MT_MATCH_FULL, k, &r2) == MT_OK
       && r1 != r2 && mt_rules_intern_count(in) == 8,
       "past the bound: lists of their own");
    ok(allows(&(mt_token_t) { .rules = r1 }, "GET", "/more"),
       "... that work");
    mt_rules_free(r1);
    mt_rules_free(r2);
    json_decref(j);
    json_decref(k);

    /* errors of the entries themselves */

    j = entries_of("[\"GET /a\", 1]");
    is_int(mt_rules_intern_get(in, MT_MATCH_FULL, j, &r1), MT_ERR_BAD_SCOPE,
           "a non-string entry is refused");
    ok(r1 == NULL, "... no list");
    json_decref(j);

    j = entries_of("{\"a\": 1}");
    is_int(mt_rules_intern_get(NULL, MT_MATCH_FULL, j, &r1), MT_ERR_BAD_SCOPE,
           "not an array: refused");
    json_decref(j);

    /* without a table: a list of its own every time */

    j = entries_of("[\"GET /a/[0-9]+\", \"POST /a\"]");
    ok(mt_rules_intern_get(NULL, MT_MATCH_FULL, j, &r1) == MT_OK
       && mt_rules_intern_get(NULL, MT_MATCH_FULL, j, &r2) == MT_OK
       && r1 != r2 && r1 != ta1.rules, "no table: no sharing");
    mt_rules_free(r1);
    mt_rules_free(r2);
    json_decref(j);

    /* restore for a hit: the claims without the credential's ciphertext */

    {
        char        *tok, *payload;
        json_t      *cl;
        mt_token_t   full, lean;

        cl = json_pack("{sIsss[s]ss}", "exp", (json_int_t) NOW + 3600,
                       "token", "Y2lwaGVydGV4dA==", "allowed", "GET /a",
                       "sub", "someone");
        payload = json_dumps(cl, JSON_COMPACT);
        tok = make_jws(mt_keyset_get(ks, 0), MT_ALG_HS256,
                       "{\"alg\":\"HS256\"}", payload);
        free(payload);
        ok(tok != NULL, "a token with a credential claim");

        is_int(mt_token_restore(&full, tok, strlen(tok), NOW, 0,
                                MT_MATCH_FULL), MT_OK, "plain restore");
        is_int(mt_token_restore_interned(&lean, tok, strlen(tok), NOW, 0,
                                         MT_MATCH_FULL, NULL), MT_OK,
               "interned restore, no table");
        ok(json_object_get(full.jws.claims, "token") != NULL,
           "... the plain one keeps \"token\"");
        ok(json_object_get(lean.jws.claims, "token") == NULL,
           "... the interned one has no \"token\"");
        (void) json_object_del(full.jws.claims, "token");
        ok(json_equal(full.jws.claims, lean.jws.claims),
           "... and every other claim the same");
        ok(allows(&lean, "GET", "/a") && !allows(&lean, "GET", "/b"),
           "... its rules those of its entries");

        mt_token_clear(&full);
        mt_token_clear(&lean);
        json_decref(cl);
        free(tok);
    }

    /* JIT of a shared list: counted once, until its last user frees it */

    {
        size_t              count, n;
        mt_token_t          j1, j2;
        mt_rules_intern_t  *in2;

        count = 0;
        in2 = mt_rules_intern_new(4);

        is_int(verify(&j1, b, MT_MATCH_PREFIX, in2), MT_OK, "b, prefix");
        is_int(verify(&j2, b, MT_MATCH_PREFIX, in2), MT_OK, "b again");
        ok(j1.rules == j2.rules, "... one list");

        n = mt_rules_jit_counted(j1.rules, &count);
        is_int(count, n, "JIT by the first user: counted");
        is_int(mt_rules_jit_counted(j2.rules, &count), 0,
               "by the second: nothing more compiled");
        is_int(count, n, "... nor counted");
        ok(allows(&j2, "GET", "/B/7") && !allows(&j2, "GET", "/a/7"),
           "... and it matches as before");
        mt_token_clear(&j1);
        is_int(count, n, "the first user gone: still counted");
        mt_token_clear(&j2);
        is_int(count, 0, "the last user gone: no more");
        mt_rules_intern_free(in2);

        if (n == 0) {
            diag("no JIT in this PCRE2: the counts were all 0");
        }
    }

    test_cut();

    /* the table goes first: lists in use are freed by their last user */

    mt_rules_intern_free(in);
    ok(allows(&tb, "GET", "/b/3"), "a list outlives the table");
    mt_token_clear(&tb);
    mt_token_clear(&ta1);
    mt_token_clear(&tc);
    mt_token_clear(&tp);
    mt_token_clear(&tn);

    for (i = 0; i < 3; i++) {
        mt_rules_free(own[i]);
    }

    ok(1, "every list freed once (valgrind and ASan check the rest)");

    free(a1);
    free(a2);
    free(b);
    free(c);
    free(none);
    free(bad);
    mt_keyset_free(ks);

    return tap_exit();
}
