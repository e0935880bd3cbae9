/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * scope-match: the module's scope matcher over a corpus, for the
 * differential test against Python's re (t/012-scope-differential.t,
 * t/tools/scope_diff.py).  Built by "make scope-match" into build/.
 *
 * Reads lines "<mode> <hex regex> <hex path>" (mode "prefix" or
 * "full"), writes one line each: "R" when the entry "GET <regex>" is
 * refused, else "1" when it allows GET <path>, "0" when it does not.
 *
 * Every pair is also matched by a JIT-compiled copy of the rule
 * (mt_rules_jit, as cached tokens are, through a reused match data):
 * when the two answers differ, it says so on stderr and exits with 3.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt_core.h"


#define SM_MAX_LINE  (64 * 1024)


static int
sm_unhex(const char *hex, size_t len, char *out, size_t *out_len)
{
    size_t        i;
    unsigned int  byte;

    if (len % 2 != 0) {
        return -1;
    }

    for (i = 0; i < len; i += 2) {
        if (sscanf(hex + i, "%2x", &byte) != 1) {
            return -1;
        }

        out[i / 2] = (char) byte;
    }

    *out_len = len / 2;

    return 0;
}


int
main(void)
{
    char              *line, *mode, *rx, *path, *sp1, *sp2, *prev, *entry;
    char               err[256];
    size_t             rx_len, path_len, prev_len, mlen;
    mt_err_t           rc;
    int                jit_differs;
    mt_err_t           jrc;
    mt_rules_t        *rules, *jit;
    mt_matcher_t      *matcher;
    const char        *matched;
    mt_match_mode_t    m;

    line = malloc(SM_MAX_LINE);
    entry = malloc(SM_MAX_LINE);
    path = malloc(SM_MAX_LINE);
    prev = malloc(SM_MAX_LINE);

    if (line == NULL || entry == NULL || path == NULL || prev == NULL) {
        return 2;
    }

    rules = NULL;
    jit = NULL;
    prev_len = 0;
    jit_differs = 0;

    matcher = mt_matcher_new();
    if (matcher == NULL) {
        return 2;
    }

    while (fgets(line, SM_MAX_LINE, stdin) != NULL) {
        line[strcspn(line, "\n")] = '\0';

        sp1 = strchr(line, ' ');
        sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;

        if (sp2 == NULL) {
            fprintf(stderr, "scope-match: bad line\n");
            return 2;
        }

        mode = line;
        rx = sp1 + 1;
        *sp1 = '\0';
        *sp2 = '\0';
        m = strcmp(mode, "full") == 0 ? MT_MATCH_FULL : MT_MATCH_PREFIX;

        memcpy(entry, "GET ", 4);

        if (sm_unhex(rx, strlen(rx), entry + 4, &rx_len) != 0
            || sm_unhex(sp2 + 1, strlen(sp2 + 1), path, &path_len) != 0)
        {
            fprintf(stderr, "scope-match: bad hex\n");
            return 2;
        }

        /* compile once per (mode, regex): the corpus is grouped */
        if (rules == NULL || rx_len + 5 != prev_len || prev[0] != (char) m
            || memcmp(prev + 1, entry, rx_len + 4) != 0)
        {
            mt_rules_free(rules);
            mt_rules_free(jit);
            rules = mt_rules_new(m);
            jit = mt_rules_new(m);

            if (rules == NULL || jit == NULL) {
                return 2;
            }

            prev[0] = (char) m;
            memcpy(prev + 1, entry, rx_len + 4);
            prev_len = rx_len + 5;

            rc = mt_rules_add(rules, entry, rx_len + 4, err, sizeof(err));

            if (rc == MT_ERR_NOMEM) {
                return 2;
            }

            if (rc == MT_OK) {
                if (mt_rules_add(jit, entry, rx_len + 4, NULL, 0) != MT_OK) {
                    return 2;
                }

                (void) mt_rules_jit(jit);
            }
        }

        if (mt_rules_count(rules) == 0) {
            puts("R");
            continue;
        }

        rc = mt_rules_match(rules, "GET", 3, path, path_len, &matched, &mlen);
        puts(rc == MT_OK ? "1" : "0");

        jrc = mt_rules_match_with(jit, matcher, "GET", 3, path, path_len,
                                  &matched, &mlen);

        if ((jrc == MT_OK) != (rc == MT_OK)) {
            fprintf(stderr, "scope-match: JIT %s, interpreter %s: %s\n",
                    jrc == MT_OK ? "allows" : "denies",
                    rc == MT_OK ? "allows" : "denies", line);
            jit_differs = 1;
        }
    }

    mt_rules_free(rules);
    mt_rules_free(jit);
    mt_matcher_free(matcher);
    free(line);
    free(entry);
    free(path);
    free(prev);

    return jit_differs ? 3 : 0;
}
