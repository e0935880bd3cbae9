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
"\n"
"options:\n"
"  --json    one JSON object: header, claims, expired\n"
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


int
mt_cli_inspect(int argc, char **argv)
{
    int          c, as_json, rv, expired;
    char        *token, *dot1, *dot2, *s, desc[256], tok_desc[64];
    size_t       len, dots, i;
    json_t      *header, *claims, *v, *out;
    int64_t      now;

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

    header = NULL;
    claims = NULL;
    rv = MT_CLI_INVALID;

    for (dots = 0, i = 0; i < len; i++) {
        dots += token[i] == '.';
    }

    dot1 = strchr(token, '.');
    dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;

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

    printf("NOT VERIFIED: this shows what the token claims, not that it is "
           "genuine\n\nheader\n");
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
    free(token);

    return rv;
}
