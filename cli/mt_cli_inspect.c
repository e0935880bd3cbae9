/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * magic-token inspect: decode a token's header and claims for a human.
 * Nothing is verified, no key is read, and the credential claim is
 * shown only as its size.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mt_cli.h"


static const char  mt_inspect_usage[] =
"usage: magic-token inspect [--json] TOKEN|-\n"
"\n"
"Decode a token's header and claims, WITHOUT verifying anything: the\n"
"output says what the token claims, not that it is genuine (see\n"
"\"magic-token verify\").  The encrypted credential is shown as\n"
"\"<encrypted, N bytes>\"; it is never decrypted.  iat, nbf and exp are\n"
"shown in UTC, with whether the token has expired.  With -, the token\n"
"is read from stdin, which keeps it out of ps(1) and shell history.\n"
"A chain (ROOT~LINK~..., docs/attenuation.md) is shown element by\n"
"element.\n"
"\n"
"options:\n"
"  --json    one JSON object: header, claims, expired (for a chain,\n"
"            {\"chain\": [one such object per element]})\n"
"\n"
"exit status: 0 when the token decodes, 1 when it does not, 2 on usage\n"
"errors.\n"
"\n"
"examples:\n"
"  magic-token inspect - < token.txt\n"
"  magic-token inspect --json \"$MAGIC_TOKEN\" | jq .claims.allowed\n";


/* decode one base64url JSON segment */
static json_t *
mt_inspect_segment(const char *s, size_t len, const char *what)
{
    json_t         *obj;
    mt_err_t        rc;
    unsigned char  *buf;
    size_t          n;

    buf = malloc(mt_base64_decoded_max(len) + 1);
    if (buf == NULL) {
        mt_cli_error("out of memory");
        return NULL;
    }

    if (mt_base64url_decode(buf, &n, s, len) != MT_OK) {
        free(buf);
        mt_cli_error("malformed token: the %s is not base64url", what);
        return NULL;
    }

    rc = mt_json_parse_object(&obj, (char *) buf, n, MT_MAX_CLAIMS);
    free(buf);

    if (rc != MT_OK) {
        mt_cli_error("malformed token: the %s is not a JSON object (%s)",
                     what, mt_strerror(rc));
        return NULL;
    }

    return obj;
}


/* what the "token" claim is, without its content */
static void
mt_inspect_credential(const json_t *v, char *buf, size_t size)
{
    char        *dot;
    json_t      *hdr, *alg, *enc, *kid;
    const char  *s;

    if (!json_is_string(v)) {
        snprintf(buf, size, "not a string: refused by the module");
        return;
    }

    s = json_string_value(v);
    dot = strchr(s, '.');

    if (dot == NULL) {
        snprintf(buf, size, "magic-api-proxy RSA-OAEP-SHA256, %zu base64 "
                 "characters", json_string_length(v));
        return;
    }

    /* a JWE: its protected header is not secret */
    hdr = mt_inspect_segment(s, (size_t) (dot - s), "credential's header");

    if (hdr == NULL) {
        snprintf(buf, size, "JWE with an unreadable header");
        return;
    }

    alg = json_object_get(hdr, "alg");
    enc = json_object_get(hdr, "enc");
    kid = json_object_get(hdr, "kid");

    snprintf(buf, size, "JWE alg %.32s, enc %.32s%s%.64s%s",
             json_is_string(alg) ? json_string_value(alg) : "?",
             json_is_string(enc) ? json_string_value(enc) : "?",
             json_is_string(kid) ? ", kid \"" : "",
             json_is_string(kid) ? json_string_value(kid) : "",
             json_is_string(kid) ? "\"" : "");

    json_decref(hdr);
}


static void
mt_inspect_time(const json_t *claims, const char *name, int64_t now)
{
    char     when[64], ago[64];
    json_t  *v;
    int64_t  t;

    v = json_object_get(claims, name);

    if (v == NULL) {
        if (strcmp(name, "exp") == 0) {
            printf("%-11s missing: refused by the module\n", name);
        }

        return;
    }

    if (!json_is_integer(v)) {
        printf("%-11s not an integer: refused by the module\n", name);
        return;
    }

    t = (int64_t) json_integer_value(v);

    mt_cli_format_time(when, sizeof(when), t);
    mt_cli_format_interval(ago, sizeof(ago), t - now);

    printf("%-11s %lld  %s  ", name, (long long) t, when);

    if (strcmp(name, "exp") == 0) {
        if (t <= now) {
            printf("(EXPIRED %s ago)\n", ago);

        } else {
            printf("(expires in %s)\n", ago);
        }

    } else if (strcmp(name, "nbf") == 0 && t > now) {
        printf("(NOT YET VALID: in %s)\n", ago);

    } else {
        printf(t > now ? "(in %s)\n" : "(%s ago)\n", ago);
    }
}


/* one JWS: the token, or an element of a chain (in_chain; in JSON,
 * appended to chain) */
static int
mt_inspect_element(const char *token, size_t len, int as_json, int in_chain,
    json_t *chain)
{
    int          rv, expired;
    char        *s, desc[256], tok_desc[64];
    const char  *dot1, *dot2;
    size_t       dots, i;
    json_t      *header, *claims, *v, *out;
    int64_t      now;

    header = NULL;
    claims = NULL;
    rv = MT_CLI_INVALID;

    for (dots = 0, i = 0; i < len; i++) {
        dots += token[i] == '.';
    }

    dot1 = memchr(token, '.', len);
    dot2 = dot1 != NULL
           ? memchr(dot1 + 1, '.', len - (size_t) (dot1 + 1 - token)) : NULL;

    if (dots == 4) {
        mt_cli_error("this is a JWE, not a signed token: a magic token is "
                     "a JWS whose \"token\" claim may be a JWE");
        goto done;
    }

    if (dots != 2) {
        mt_cli_error("malformed token: a JWS has three parts separated by "
                     "dots");
        goto done;
    }

    header = mt_inspect_segment(token, (size_t) (dot1 - token), "header");
    if (header == NULL) {
        goto done;
    }

    claims = mt_inspect_segment(dot1 + 1, (size_t) (dot2 - dot1 - 1),
                                "payload");
    if (claims == NULL) {
        goto done;
    }

    /* the credential: its size, never its content */
    v = json_object_get(claims, "token");
    desc[0] = '\0';

    if (v != NULL) {
        mt_inspect_credential(v, desc, sizeof(desc));

        snprintf(tok_desc, sizeof(tok_desc), "<encrypted, %zu bytes>",
                 json_is_string(v) ? json_string_length(v) : (size_t) 0);
        json_object_set_new(claims, "token", json_string(tok_desc));
    }

    now = (int64_t) time(NULL);
    v = json_object_get(claims, "exp");
    expired = json_is_integer(v) && json_integer_value(v) <= now;

    if (as_json) {
        out = json_pack("{s:O, s:O, s:b, s:b}", "header", header,
                        "claims", claims, "expired", expired,
                        "verified", 0);

        if (in_chain) {
            rv = out != NULL && json_array_append_new(chain, out) == 0
                 ? MT_CLI_OK : MT_CLI_INVALID;
            goto done;
        }

        s = out != NULL ? json_dumps(out, JSON_INDENT(2)
                                          | JSON_PRESERVE_ORDER)
                        : NULL;
        json_decref(out);

        if (s == NULL) {
            mt_cli_error("out of memory");
            goto done;
        }

        printf("%s\n", s);
        free(s);

        rv = MT_CLI_OK;
        goto done;
    }

    if (!in_chain) {
        printf("NOT VERIFIED: this shows what the token claims, not that it "
               "is genuine\n\n");
    }

    printf("header\n");
    json_dumpf(header, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("\n\nclaims\n");
    json_dumpf(claims, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("\n\n");

    mt_inspect_time(claims, "iat", now);
    mt_inspect_time(claims, "nbf", now);
    mt_inspect_time(claims, "exp", now);

    if (desc[0] != '\0') {
        printf("%-11s %s\n", "credential", desc);

    } else {
        printf("%-11s none\n", "credential");
    }

    printf("%-11s %zu base64url characters, not checked\n", "signature",
           len - (size_t) (dot2 + 1 - token));

    rv = MT_CLI_OK;

done:

    json_decref(header);
    json_decref(claims);

    return rv;
}


int
mt_cli_inspect(int argc, char **argv)
{
    int          c, as_json, rv;
    char        *token, *s;
    size_t       len, i, n, start;
    json_t      *chain;

    static const struct option  opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    as_json = 0;
    optind = 1;
    opterr = 0;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {

        case 'j':
            as_json = 1;
            break;

        case 'h':
            fputs(mt_inspect_usage, stdout);
            return MT_CLI_OK;

        default:
            mt_cli_bad_option(argv, "inspect");
            return MT_CLI_USAGE;
        }
    }

    if (optind + 1 != argc) {
        mt_cli_error("inspect needs one TOKEN, or - to read it from stdin");
        return MT_CLI_USAGE;
    }

    if (mt_cli_read_token(argv[optind], &token, &len) != 0) {
        return MT_CLI_USAGE;
    }

    if (!mt_chain_is_chain(token, len)) {
        rv = mt_inspect_element(token, len, as_json, 0, NULL);
        free(token);
        return rv;
    }

    /* a chain (docs/attenuation.md): every element, root first */
    chain = as_json ? json_array() : NULL;
    rv = MT_CLI_OK;

    if (!as_json) {
        printf("NOT VERIFIED: this shows what the chain claims, not that it "
               "is genuine\n");
    }

    for (n = 0, start = 0, i = 0; i <= len && rv == MT_CLI_OK; i++) {
        if (i < len && token[i] != MT_CHAIN_SEP) {
            continue;
        }

        if (!as_json) {
            printf("\n== %s %zu\n", n == 0 ? "root" : "link", n);
        }

        rv = mt_inspect_element(token + start, i - start, as_json, 1,
                                chain);
        start = i + 1;
        n++;
    }

    if (as_json && rv == MT_CLI_OK) {
        s = json_dumps(chain, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

        if (s == NULL) {
            mt_cli_error("out of memory");
            rv = MT_CLI_INVALID;

        } else {
            printf("{\"chain\": %s}\n", s);
            free(s);
        }
    }

    json_decref(chain);
    free(token);

    return rv;
}
