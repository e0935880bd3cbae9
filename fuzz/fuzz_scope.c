/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_scope: scope rules (mt_rules_new / mt_rules_add / mt_rules_match).
 *
 * Input: one flags byte, then lines separated by "\n": every line but
 * the last is a scope entry ("METHOD regex"), the last is the request
 * path.  Flags: bit 0 the match mode (0 full, 1 prefix), bits 1-3 the
 * request method (GET POST PUT DELETE HEAD PATCH get *).
 *
 * Must never crash or hang (PCRE2 match/depth/heap limits).  Properties:
 *   - a matched entry is one that was added, and its method is "*" or
 *     the request's;
 *   - a path with a control character never matches;
 *   - in prefix mode, a path that is not valid UTF-8 never matches;
 *   - matching is deterministic;
 *   - a valid UTF-8 path itself, every ASCII punctuation character
 *     escaped, as an entry "METHOD <escaped>" always matches (full and
 *     prefix mode), and in full mode "METHOD <escaped>x" never does: the
 *     anchoring.
 */

#include "common.h"


/* kept from one input to the next, as a worker keeps its own */
static mt_matcher_t  *matcher;

static const char  *fx_methods[] = {
    "GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "get", "*"
};


/* strict UTF-8, as Python's decoder: no overlong forms, no surrogates */
static int
fx_valid_utf8(const unsigned char *p, size_t len)
{
    size_t    i, n, k;
    uint32_t  c, min;

    for (i = 0; i < len; i += n) {
        c = p[i];

        if (c < 0x80) {
            n = 1;
            continue;
        }

        if (c >= 0xc2 && c <= 0xdf) {
            n = 2; min = 0x80; c &= 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3; min = 0x800; c &= 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4; min = 0x10000; c &= 0x07;
        } else {
            return 0;
        }

        if (len - i < n) {
            return 0;
        }

        for (k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return 0;
            }

            c = (c << 6) | (p[i + k] & 0x3f);
        }

        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
            return 0;
        }
    }

    return 1;
}


/* "METHOD " + the path with every ASCII non-alphanumeric escaped */
static size_t
fx_literal_entry(char *buf, const char *method, const char *path,
    size_t len, const char *suffix)
{
    char          *w;
    size_t         i;
    unsigned char  c;

    w = buf;
    memcpy(w, method, strlen(method));
    w += strlen(method);
    *w++ = ' ';

    for (i = 0; i < len; i++) {
        c = (unsigned char) path[i];

        if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
                          || (c >= 'A' && c <= 'Z')))
        {
            *w++ = '\\';
        }

        *w++ = (char) c;
    }

    memcpy(w, suffix, strlen(suffix));
    w += strlen(suffix);

    return (size_t) (w - buf);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 has_ctl, mode;
    char                err[256], *lit;
    size_t              i, n_added, path_len, mlen, mlen2, start, llen;
    mt_err_t            rc, rc2;
    mt_rules_t         *rules, *one;
    const char         *method, *path, *line, *nl, *matched, *matched2;
    const char         *end;

    if (size < 1) {
        return 0;
    }

    mode = data[0] & 1;
    method = fx_methods[(data[0] >> 1) & 7];

    rules = mt_rules_new((mt_match_mode_t) mode);
    FX_CHECK(rules != NULL, "mt_rules_new");

    line = (const char *) data + 1;
    end = (const char *) data + size;
    n_added = 0;

    for ( ;; ) {
        nl = memchr(line, '\n', (size_t) (end - line));
        if (nl == NULL) {
            break;
        }

        err[0] = '\0';
        rc = mt_rules_add(rules, line, (size_t) (nl - line), err,
                          sizeof(err));

        if (rc == MT_OK) {
            n_added++;
        } else {
            FX_CHECK(rc == MT_ERR_BAD_SCOPE || rc == MT_ERR_TOO_LARGE
                     || rc == MT_ERR_NOMEM, "mt_rules_add: %s",
                     mt_strerror(rc));
            FX_CHECK(err[0] != '\0', "no error message");
        }

        FX_CHECK(mt_rules_count(rules) == n_added, "rule count");
        line = nl + 1;
    }

    path = line;
    path_len = (size_t) (end - line);

    has_ctl = 0;

    for (i = 0; i < path_len; i++) {
        if ((unsigned char) path[i] < 0x20 || path[i] == 0x7f) {
            has_ctl = 1;
        }
    }

    matched = NULL;
    rc = mt_rules_match(rules, method, strlen(method), path, path_len,
                        &matched, &mlen);

    if (rc == MT_OK) {
        FX_CHECK(!has_ctl, "a path with a control character matched");
        FX_CHECK(mode == 0 || fx_valid_utf8((const unsigned char *) path,
                                            path_len),
                 "prefix mode: a path that is not UTF-8 matched");
        FX_CHECK(matched != NULL && mlen >= 2, "matched entry");
        FX_CHECK(matched[0] == '*'
                 || (memcmp(matched, method, strlen(method)) == 0
                     && matched[strlen(method)] == ' '),
                 "entry \"%.*s\" matched method %s", (int) mlen, matched,
                 method);
        FX_CHECK(matched[mlen] == '\0', "entry not NUL-terminated");

        /* the entry is one of the input's lines */
        start = 1;
        llen = 0;

        for (i = 1; i < size; i++) {
            if (data[i] == '\n') {
                llen = i - start;

                if (llen == mlen && memcmp(data + start, matched, mlen) == 0)
                {
                    break;
                }

                start = i + 1;
            }
        }

        FX_CHECK(i < size, "matched entry \"%.*s\" was never added",
                 (int) mlen, matched);

    } else {
        FX_CHECK(rc == MT_ERR_SCOPE_DENIED || rc == MT_ERR_NOMEM,
                 "mt_rules_match: %s", mt_strerror(rc));
    }

    /* deterministic */
    matched2 = NULL;
    rc2 = mt_rules_match(rules, method, strlen(method), path, path_len,
                         &matched2, &mlen2);
    FX_CHECK(rc == rc2 && matched == matched2, "second match differs");

    /* a reused match data gives the same answer, twice */
    if (matcher == NULL) {
        matcher = mt_matcher_new();
        FX_CHECK(matcher != NULL, "mt_matcher_new");
    }

    for (i = 0; i < 2; i++) {
        matched2 = NULL;
        rc2 = mt_rules_match_with(rules, matcher, method, strlen(method),
                                  path, path_len, &matched2, &mlen2);
        FX_CHECK(rc2 == rc || rc2 == MT_ERR_NOMEM || rc == MT_ERR_NOMEM,
                 "matcher: %s, not %s", mt_strerror(rc2), mt_strerror(rc));
        FX_CHECK(rc2 != MT_OK || matched2 == matched, "matcher: entry");
    }

    /*
     * JIT: the same invariants (limits count differently, so a regex at
     * the edge of one may answer otherwise; never a path with a control
     * character, nor one that is not UTF-8 in prefix mode)
     */
    (void) mt_rules_jit(rules);
    matched2 = NULL;
    rc2 = mt_rules_match_with(rules, matcher, method, strlen(method), path,
                              path_len, &matched2, &mlen2);

    if (rc2 == MT_OK) {
        FX_CHECK(!has_ctl, "jit: a path with a control character matched");
        FX_CHECK(mode == 0 || fx_valid_utf8((const unsigned char *) path,
                                            path_len),
                 "jit: prefix mode: a path that is not UTF-8 matched");
        FX_CHECK(matched2 != NULL && matched2[mlen2] == '\0', "jit: entry");

    } else {
        FX_CHECK(rc2 == MT_ERR_SCOPE_DENIED || rc2 == MT_ERR_NOMEM,
                 "jit: %s", mt_strerror(rc2));
    }

    mt_rules_free(rules);

    /* the path as a literal entry */
    if (has_ctl || path_len > 400 || strcmp(method, "*") == 0
        || !fx_valid_utf8((const unsigned char *) path, path_len))
    {
        return 0;
    }

    lit = malloc(strlen(method) + 2 + 2 * path_len + 2);
    FX_CHECK(lit != NULL, "malloc");

    for (mode = 0; mode < 2; mode++) {
        one = mt_rules_new((mt_match_mode_t) mode);
        FX_CHECK(one != NULL, "mt_rules_new");

        llen = fx_literal_entry(lit, method, path, path_len, "");
        rc = mt_rules_add(one, lit, llen, err, sizeof(err));
        FX_CHECK(rc == MT_OK, "literal entry \"%.*s\" refused: %s",
                 (int) llen, lit, err);
        start = llen;

        llen = fx_literal_entry(lit, method, path, path_len, "x");
        rc = mt_rules_add(one, lit, llen, err, sizeof(err));
        FX_CHECK(rc == MT_OK, "literal entry \"%.*s\" refused: %s",
                 (int) llen, lit, err);

        matched = NULL;
        rc = mt_rules_match(one, method, strlen(method), path, path_len,
                            &matched, &mlen);
        FX_CHECK(rc == MT_OK, "mode %d: the path \"%.*s\" does not match "
                 "itself (%s)", mode, (int) path_len, path, mt_strerror(rc));

        /* entries are tried in order: the exact one comes first */
        FX_CHECK(mlen == start, "mode %d: matched \"%.*s\", not the first "
                 "entry", mode, (int) mlen, matched);

        mt_rules_free(one);
    }

    /* full mode: "<path>x" alone must not match <path> */
    one = mt_rules_new(MT_MATCH_FULL);
    FX_CHECK(one != NULL, "mt_rules_new");
    llen = fx_literal_entry(lit, method, path, path_len, "x");
    FX_CHECK(mt_rules_add(one, lit, llen, err, sizeof(err)) == MT_OK,
             "literal");
    rc = mt_rules_match(one, method, strlen(method), path, path_len,
                        &matched, &mlen);
    FX_CHECK(rc == MT_ERR_SCOPE_DENIED, "full mode: \"%.*s\" matched the "
             "shorter path \"%.*s\"", (int) llen, lit, (int) path_len, path);
    mt_rules_free(one);

    free(lit);

    return 0;
}
