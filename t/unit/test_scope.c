/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Scope rules "METHOD regex": full mode (whole path, case-sensitive)
 * against prefix mode (Python re.match(regex, path, re.I)), methods,
 * bad entries, bounds and PCRE2 limits.
 */

#include <time.h>

#include "mt_core.h"
#include "tap.h"


/* a rule set of one or more entries, NULL-terminated */
static mt_rules_t *
rules_of(mt_match_mode_t mode, const char *first, ...)
{
    char         err[256];
    va_list      args;
    const char  *e;
    mt_rules_t  *rules;

    rules = mt_rules_new(mode);

    va_start(args, first);

    for (e = first; e != NULL; e = va_arg(args, const char *)) {
        if (mt_rules_add(rules, e, strlen(e), err, sizeof(err)) != MT_OK) {
            diag("rule \"%s\": %s", e, err);
        }
    }

    va_end(args);

    return rules;
}


static void jit_agrees(void);


static int
allows(const mt_rules_t *rules, const char *method, const char *path)
{
    size_t       len;
    const char  *matched;

    return mt_rules_match(rules, method, strlen(method), path, strlen(path),
                          &matched, &len) == MT_OK;
}


static double
now_seconds(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


/*
 * Every case three ways: a match data per match, a reused one, then the
 * same list JIT-compiled (mt_rules_jit): the same answer and entry.
 */
static void
jit_agrees(void)
{
    int            n, way;
    size_t         i, len, plen;
    mt_err_t       rc, want;
    mt_rules_t    *r;
    const char    *matched, *first;
    mt_matcher_t  *m;

    static const struct {
        mt_match_mode_t   mode;
        const char       *entries[3];
        const char       *method;
        const char       *path;
        size_t            path_len;         /* 0: strlen */
    } cases[] = {
        { MT_MATCH_FULL, { "GET /user", NULL }, "GET", "/user", 0 },
        { MT_MATCH_FULL, { "GET /user", NULL }, "GET", "/USER", 0 },
        { MT_MATCH_FULL, { "GET /user", NULL }, "GET", "/user/x", 0 },
        { MT_MATCH_FULL, { "GET /user", NULL }, "POST", "/user", 0 },
        { MT_MATCH_FULL, { "GET /a$", NULL }, "GET", "/a\n", 0 },
        { MT_MATCH_FULL, { "GET /a", NULL }, "GET", "/a\0b", 4 },
        { MT_MATCH_FULL, { "GET /a|/b", NULL }, "GET", "/b", 0 },
        { MT_MATCH_FULL, { "GET /a|/b", NULL }, "GET", "/x/b", 0 },
        { MT_MATCH_FULL, { "POST /x", "* /repos/[^/]+/issues(/.*)?", NULL },
          "DELETE", "/repos/acme/issues/42", 0 },
        { MT_MATCH_FULL, { "* /repos/[^/]+/issues(/.*)?", NULL },
          "GET", "/repos/acme/pulls/42", 0 },
        { MT_MATCH_PREFIX, { "GET /user", NULL }, "GET", "/USERS/1", 0 },
        { MT_MATCH_PREFIX, { "GET /user", NULL }, "GET", "/x/user", 0 },
        { MT_MATCH_PREFIX, { "GET /caf\xc3\xa9", NULL },
          "GET", "/CAF\xc3\x89/x", 0 },
        { MT_MATCH_PREFIX, { "GET /a", NULL }, "GET", "/a\xff", 0 },
        { MT_MATCH_PREFIX, { "GET /a", NULL }, "GET", "/a\x01", 0 },
        { MT_MATCH_FULL, { "GET (a+)+b", NULL }, "GET",
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", 0 },
        { MT_MATCH_FULL, { "GET /v2/(x|y)/[0-9]{1,6}", "GET /v2/.*", NULL },
          "GET", "/v2/y/123456", 0 },
    };

    m = mt_matcher_new();
    ok(m != NULL, "mt_matcher_new");

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        r = mt_rules_new(cases[i].mode);

        for (n = 0; n < 3 && cases[i].entries[n] != NULL; n++) {
            mt_rules_add(r, cases[i].entries[n],
                         strlen(cases[i].entries[n]), NULL, 0);
        }

        plen = cases[i].path_len ? cases[i].path_len
                                 : strlen(cases[i].path);

        first = NULL;
        want = mt_rules_match(r, cases[i].method, strlen(cases[i].method),
                              cases[i].path, plen, &first, &len);

        for (way = 0; way < 3; way++) {
            if (way == 2) {
                mt_rules_jit(r);
            }

            matched = NULL;
            rc = mt_rules_match_with(r, m, cases[i].method,
                                     strlen(cases[i].method), cases[i].path,
                                     plen, &matched, &len);

            ok(rc == want && (rc != MT_OK || matched == first),
               "case %zu, %s: %s", i,
               way == 2 ? "jit" : way ? "matcher again" : "matcher",
               mt_strerror(rc));
        }

        mt_rules_free(r);
    }

    mt_matcher_free(m);
}


int
main(void)
{
    int          i, good;
    char         err[256], entry[2048], path[4096];
    size_t       len;
    double       t0, t;
    mt_err_t     rc;
    mt_rules_t  *full, *prefix, *r;
    const char  *matched;

    /* 1. full against prefix, one rule "GET /user" */

    full = rules_of(MT_MATCH_FULL, "GET /user", NULL);
    prefix = rules_of(MT_MATCH_PREFIX, "GET /user", NULL);

    ok(allows(full, "GET", "/user"), "full: exact path allowed");
    ok(!allows(full, "GET", "/user/../x"), "full: /user/../x denied");
    ok(!allows(full, "GET", "/USERS"), "full: /USERS denied");
    ok(!allows(full, "GET", "/USER"), "full: case-sensitive");
    ok(!allows(full, "GET", "/x/user"), "full: anchored at the start");
    ok(!allows(full, "GET", "/user\n"), "full: trailing newline denied");

    ok(allows(prefix, "GET", "/user"), "prefix: exact path allowed");
    ok(allows(prefix, "GET", "/user/../x"),
       "prefix: /user/../x allowed (re.match)");
    ok(allows(prefix, "GET", "/USERS"), "prefix: /USERS allowed (re.I)");
    ok(!allows(prefix, "GET", "/x/user"), "prefix: anchored at the start");
    ok(!allows(prefix, "GET", "/use"), "prefix: shorter path denied");

    mt_rules_free(full);
    mt_rules_free(prefix);

    /* 2. alternation: anchoring applies to every branch */

    full = rules_of(MT_MATCH_FULL, "GET /a|/b", NULL);
    prefix = rules_of(MT_MATCH_PREFIX, "GET /a|/b", NULL);

    ok(allows(full, "GET", "/a") && allows(full, "GET", "/b"),
       "full /a|/b: both branches match whole paths");
    ok(!allows(full, "GET", "/a/x"), "full /a|/b: /a/x denied");
    ok(!allows(full, "GET", "/b/x"), "full /a|/b: /b/x denied");
    ok(!allows(full, "GET", "/x/b"), "full /a|/b: /x/b denied");
    ok(allows(prefix, "GET", "/a/x") && allows(prefix, "GET", "/b/x"),
       "prefix /a|/b: both branches match prefixes");
    ok(!allows(prefix, "GET", "/x/b"), "prefix /a|/b: /x/b denied");

    mt_rules_free(full);
    mt_rules_free(prefix);

    /* '$' in full mode cannot stop before a final newline */
    full = rules_of(MT_MATCH_FULL, "GET /a$", NULL);
    ok(!allows(full, "GET", "/a\n"), "full /a$: /a\\n denied");
    mt_rules_free(full);

    /* an explicit length: a NUL does not end the path */
    full = rules_of(MT_MATCH_FULL, "GET /a", NULL);
    ok(mt_rules_match(full, "GET", 3, "/a\0b", 4, &matched, &len)
       == MT_ERR_SCOPE_DENIED, "full: /a\\0b denied");
    mt_rules_free(full);

    /* 3. methods */

    full = rules_of(MT_MATCH_FULL, "GET /r/.*", "* /any/.*", NULL);

    ok(allows(full, "GET", "/r/1"), "GET rule allows GET");
    ok(!allows(full, "HEAD", "/r/1"), "GET rule does not allow HEAD");
    ok(!allows(full, "POST", "/r/1"), "GET rule does not allow POST");
    ok(!allows(full, "get", "/r/1"), "methods compare case-sensitively");
    ok(!allows(full, "GETX", "/r/1") && !allows(full, "GE", "/r/1"),
       "methods compare by length too");
    ok(allows(full, "GET", "/any/1") && allows(full, "DELETE", "/any/1")
       && allows(full, "PROPFIND", "/any/1"), "* allows every method");

    rc = mt_rules_match(full, "PATCH", 5, "/any/x", 6, &matched, &len);
    ok(rc == MT_OK && len == strlen("* /any/.*")
       && memcmp(matched, "* /any/.*", len) == 0,
       "the matching entry is reported");

    mt_rules_free(full);

    /* first matching rule wins */
    full = rules_of(MT_MATCH_FULL, "GET /a/.*", "GET /a/b", NULL);
    rc = mt_rules_match(full, "GET", 3, "/a/b", 4, &matched, &len);
    ok(rc == MT_OK && len == 9 && memcmp(matched, "GET /a/.*", 9) == 0,
       "the first matching entry is reported");
    mt_rules_free(full);

    /* 4. bad entries */

    r = mt_rules_new(MT_MATCH_FULL);

    err[0] = '\0';
    is_int(mt_rules_add(r, "GET", 3, err, sizeof(err)), MT_ERR_BAD_SCOPE,
           "entry without a space");
    ok(strstr(err, "METHOD regex") != NULL, "... message: %s", err);

    is_int(mt_rules_add(r, " /x", 3, err, sizeof(err)), MT_ERR_BAD_SCOPE,
           "entry with an empty method");
    is_int(mt_rules_add(r, "G(T /x", 6, err, sizeof(err)), MT_ERR_BAD_SCOPE,
           "entry with a bad method character");

    err[0] = '\0';
    is_int(mt_rules_add(r, "GET /(", 6, err, sizeof(err)), MT_ERR_BAD_SCOPE,
           "bad regex");
    ok(strstr(err, "GET /(") != NULL && strstr(err, "parenthesis") != NULL,
       "... message names the entry and the reason: %s", err);

    is_int(mt_rules_add(r, "GET /[a", 7, NULL, 0), MT_ERR_BAD_SCOPE,
           "bad regex without errbuf");
    is_int(mt_rules_count(r), 0, "no rule was added");

    memset(entry, 'a', sizeof(entry));
    memcpy(entry, "GET /", 5);
    is_int(mt_rules_add(r, entry, MT_MAX_RULE_LEN + 1, err, sizeof(err)),
           MT_ERR_TOO_LARGE, "entry longer than MT_MAX_RULE_LEN");
    is_int(mt_rules_add(r, entry, MT_MAX_RULE_LEN, err, sizeof(err)), MT_OK,
           "entry of MT_MAX_RULE_LEN bytes");

    mt_rules_free(r);

    /* 5. too many entries */

    r = mt_rules_new(MT_MATCH_PREFIX);
    good = 1;

    for (i = 0; i < MT_MAX_RULES; i++) {
        snprintf(entry, sizeof(entry), "GET /r%d", i);
        good &= mt_rules_add(r, entry, strlen(entry), err, sizeof(err))
                == MT_OK;
    }

    ok(good && mt_rules_count(r) == MT_MAX_RULES, "MT_MAX_RULES entries");
    is_int(mt_rules_add(r, "GET /one-more", 13, err, sizeof(err)),
           MT_ERR_TOO_LARGE, "one more is refused");
    ok(allows(r, "GET", "/r255/x") && !allows(r, "GET", "/q"),
       "the last entry still matches");

    mt_rules_free(r);

    /* 6. catastrophic backtracking is cut by the PCRE2 limits */

    for (i = 0; i < 2; i++) {
        r = rules_of(i ? MT_MATCH_PREFIX : MT_MATCH_FULL, "GET /(a+)+$",
                     "GET /(a|aa)+$", "GET /(a*)*c", NULL);

        /* "/aaa...ab": no rule matches, every one backtracks */
        memset(path, 'a', sizeof(path));
        path[0] = '/';
        path[sizeof(path) - 2] = 'b';
        path[sizeof(path) - 1] = '\0';

        t0 = now_seconds();
        rc = mt_rules_match(r, "GET", 3, path, strlen(path), &matched, &len);
        t = now_seconds() - t0;
        is_int(rc, MT_ERR_SCOPE_DENIED, "%s: (a+)+$ against /aaa...ab "
               "(%zu bytes) denied", i ? "prefix" : "full", strlen(path));
        ok(t < 2.0, "%s: ... in %.3fs", i ? "prefix" : "full", t);

        /* 30 a's: few enough to finish, and still no match */
        path[31] = 'b';
        path[32] = '\0';
        is_int(mt_rules_match(r, "GET", 3, path, 32, &matched, &len),
               MT_ERR_SCOPE_DENIED, "%s: short /aaa...ab denied",
               i ? "prefix" : "full");

        /* the limits do not hide a real match */
        path[31] = 'a';
        ok(allows(r, "GET", path), "%s: /aaa...a (no b) allowed",
           i ? "prefix" : "full");

        mt_rules_free(r);
    }

    /* 7. an empty regex: like re.match("", path) in prefix mode */

    prefix = rules_of(MT_MATCH_PREFIX, "GET ", NULL);
    full = rules_of(MT_MATCH_FULL, "GET ", NULL);
    ok(allows(prefix, "GET", "/anything"),
       "prefix: empty regex allows every path (re.match semantics)");
    ok(!allows(full, "GET", "/anything") && allows(full, "GET", ""),
       "full: empty regex allows only the empty path");
    mt_rules_free(prefix);
    mt_rules_free(full);

    /* 8. full mode: bytes; "\\xff" is U+00FF, its UTF-8 bytes */

    full = rules_of(MT_MATCH_FULL, "GET /\\xff.*", "GET /ok", NULL);
    ok(allows(full, "GET", "/\xc3\xbf\xfe"),
       "full: \\xff matches UTF-8 of U+00FF");
    ok(!allows(full, "GET", "/\xff\xfe"), "full: \\xff is not the byte 0xff");
    ok(!allows(full, "GET", "/o\xffk"), "invalid UTF-8 is just denied");
    mt_rules_free(full);

    /* 9. prefix mode is Python's re.match(p, path, re.I) on code points */

    prefix = rules_of(MT_MATCH_PREFIX, "GET /user", "GET /k/k$",
                      "GET /w/\\w+$", "GET /n/\\d+$", "GET /list",
                      "GET /sp/a\\sb", "GET /g/\\u0390", "GET /end\\Z",
                      "GET /dot/.$", "GET /nb\\B", NULL);
    ok(allows(prefix, "GET", "/u\xc5\xbf" "er"),
       "prefix: /user allows /u + long s + er");
    ok(allows(prefix, "GET", "/k/\xe2\x84\xaa"),
       "prefix: /k/ + Kelvin sign matches k$");
    ok(allows(prefix, "GET", "/w/\xc3\xa9t\xc3\xa9"), "prefix: \\w is Unicode");
    ok(!allows(prefix, "GET", "/w/a\xe2\x80\x83"),
       "prefix: \\w is not an em space");
    ok(allows(prefix, "GET", "/n/\xd9\xa1\xd9\xa2"),
       "prefix: \\d takes Arabic-Indic digits");
    ok(allows(prefix, "GET", "/L\xc4\xb1ST")
       && allows(prefix, "GET", "/L\xc4\xb0ST"),
       "prefix: i matches dotless i and dotted capital I, as in Python");
    ok(allows(prefix, "GET", "/sp/a\xc2\x85" "b"),
       "prefix: \\s takes U+0085, as in Python");
    ok(!allows(prefix, "GET", "/sp/a\xe1\xa0\x8e" "b"),
       "prefix: \\s is not U+180E, as in Python");
    ok(allows(prefix, "GET", "/g/\xe1\xbf\x93"),
       "prefix: U+0390 matches U+1FD3, as in Python");
    ok(allows(prefix, "GET", "/END") && !allows(prefix, "GET", "/end/"),
       "prefix: \\Z is the very end");
    ok(allows(prefix, "GET", "/dot/\xf0\x9f\x98\x80"),
       "prefix: . is one code point (an emoji)");
    ok(!allows(prefix, "GET", "/user\xff"),
       "prefix: a path that is not UTF-8 matches nothing");
    ok(!allows(prefix, "GET", "/u\xc0\xb3" "er"),
       "prefix: an overlong form matches nothing");
    ok(!allows(prefix, "GET", "/nb") && allows(prefix, "GET", "/nbx"),
       "prefix: \\B, as in Python");
    mt_rules_free(prefix);

    full = rules_of(MT_MATCH_FULL, "GET /user", "GET /caf\xc3\xa9+", NULL);
    ok(!allows(full, "GET", "/u\xc5\xbf" "er"), "full: no case folding");
    ok(allows(full, "GET", "/caf\xc3\xa9\xc3\xa9"),
       "full: a quantifier repeats a whole non-ASCII character");
    ok(!allows(full, "GET", "/caf\xc3\xa9\xa9"), "full: ... not its last byte");
    mt_rules_free(full);

    /* 10. agree or refuse: syntax whose meaning differs is refused */

    {
        static const char  *refused[] = {
            "GET /a{,3}", "GET /[[:alpha:]]", "GET (?a)/x", "GET (?i)/x",
            "GET (?L)/x", "GET (?u)/x", "GET (?s:.)", "GET /a*+",
            "GET /a++", "GET /a?+", "GET /a{2}+", "GET /(?>a)",
            "GET /\\Z+", "GET /\\p{L}", "GET /\\x{41}", "GET /\\N{DIGIT ONE}",
            "GET /\\K", "GET /\\Qa\\E", "GET /(a)\\1", "GET /(?P<n>a)(?P=n)",
            "GET /(?(1)a|b)", "GET /(?R)", "GET /(*FAIL)", "GET /\\0",
            "GET /\\e", "GET /\\G", "GET /\\h", "GET /\\R", "GET /\\z",
            "GET /(?<=a)b", "GET /(?<!a)b", "GET /(?#c)", "GET /[a-\xc3\xa9]",
            "GET /a{1001}", "GET /x{a}", "GET /[\\S]", "GET /\\ud800",
            "GET /\xff", "GET /\xc0\xaf", "GET /[a--]", "GET /a**",
            "GET /(?P<a>x)(?P<a>y)", "GET /(?=a)*", "GET ^*", NULL
        };

        for (i = 0; refused[i] != NULL; i++) {
            r = mt_rules_new(i % 2 ? MT_MATCH_FULL : MT_MATCH_PREFIX);
            err[0] = '\0';
            is_int(mt_rules_add(r, refused[i], strlen(refused[i]), err,
                                sizeof(err)),
                   MT_ERR_BAD_SCOPE, "refused: %s (%s)", refused[i], err);
            mt_rules_free(r);
        }
    }

    r = mt_rules_new(MT_MATCH_PREFIX);
    err[0] = '\0';
    mt_rules_add(r, "GET /a{,3}", 10, err, sizeof(err));
    ok(strstr(err, "GET /a{,3}") != NULL && strstr(err, "{0,n}") != NULL,
       "... the message names the entry and the fix: %s", err);
    mt_rules_free(r);

    r = mt_rules_new(MT_MATCH_FULL);
    is_int(mt_rules_add(r, "GET /[\xc3\xa9]", 9, err, sizeof(err)),
           MT_ERR_BAD_SCOPE, "full: a non-ASCII character in a class is "
           "refused (%s)", err);
    mt_rules_free(r);

    r = mt_rules_new(MT_MATCH_PREFIX);
    is_int(mt_rules_add(r, "GET /[\xc3\xa9]", 9, err, sizeof(err)), MT_OK,
           "prefix: a non-ASCII character in a class is accepted");
    mt_rules_free(r);

    /* 11. an empty rule set denies */

    r = mt_rules_new(MT_MATCH_FULL);
    is_int(mt_rules_match(r, "GET", 3, "/", 1, &matched, &len),
           MT_ERR_SCOPE_DENIED, "no rules: denied");
    mt_rules_free(r);

    /* 12. a reused match data and PCRE2's JIT answer the same */

    jit_agrees();

    return tap_exit();
}
