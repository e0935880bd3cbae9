/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * magic-token verify: the module's checks, in the module's order,
 * with the core's own functions: signature and claims, audience, the
 * request against the token's scopes, the credential's decryption.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "mt_cli.h"


#define MT_VERIFY_MAX_AUD   16


static const char  mt_verify_usage[] =
"usage: magic-token verify (--key FILE | --secret FILE)... [--credentials]\n"
"                          [--method METHOD --path PATH]\n"
"                          [--match full|prefix] [--leeway TIME]\n"
"                          [--audience AUD]... [--at UNIXTIME]\n"
"                          [--show-credential] [--quiet] TOKEN|-\n"
"\n"
"Verify a token as ngx_http_magic_token_module does: signature (with\n"
"any of the keys given, selected by kid as the module does), exp, nbf\n"
"and claim types, then the audience, then whether the token allows\n"
"the request METHOD PATH, then whether its credential decrypts.  The\n"
"credential is never printed unless --show-credential is given.  With\n"
"-, the token is read from stdin.  A chain (ROOT~LINK~..., made with\n"
"magic-token attenuate or a JOSE library, docs/attenuation.md) is\n"
"verified link by link, and every link must allow the request; a\n"
"link's aud is checked even without --audience.\n"
"\n"
"options:\n"
"  --key FILE         a PEM or JWK (set) file: private keys, public keys,\n"
"                     certificates (repeatable)\n"
"  --secret FILE      an HMAC secret file, as magic_token_secret\n"
"                     (repeatable)\n"
"  --credentials      the keys given may sign tokens that carry a\n"
"                     credential (the \"credentials\" parameter of\n"
"                     magic_token_key); by default only private keys and\n"
"                     public keys whose private key is also given do:\n"
"                     other keys refuse such tokens as untrusted_key\n"
"  --method M         request method, with --path: check the scopes\n"
"  --path P           request path, as the upstream sees it (/user)\n"
"  --match MODE       full (default) or prefix, as magic_token_scope_match\n"
"  --leeway TIME      clock skew tolerated for exp and nbf (default 0)\n"
"  --audience AUD     accepted audience (repeatable); without it, aud is\n"
"                     not checked (magic_token_audience any)\n"
"  --at UNIXTIME      verify as at this time instead of now\n"
"  --show-credential  print the decrypted credential, alone, on stdout\n"
"  --quiet            print nothing when the token is valid\n"
"\n"
"Without a private key, the credential cannot be decrypted; this is\n"
"reported and does not make the token invalid.  Named scopes (the\n"
"\"scopes\" claim) are defined in nginx's configuration, not known\n"
"here: with --method and --path such a token is refused as\n"
"unknown_scope.\n"
"\n"
"exit status: 0 valid, 1 invalid (the reason, as $magic_token_error\n"
"names it, on stderr), 2 usage errors and unreadable keys.\n"
"\n"
"examples:\n"
"  magic-token verify --key public.x509.cer - < token.txt\n"
"  magic-token verify --key private.pem --method GET --path /user \\\n"
"      --audience github - < token.txt\n"
"  magic-token verify --secret lockbox.secret --at 1767225600 \"$TOKEN\"\n";


static int
mt_verify_can_decrypt(const mt_keyset_t *ks)
{
    size_t           i;
    const mt_key_t  *key;

    for (i = 0; i < mt_keyset_count(ks); i++) {
        key = mt_keyset_get(ks, i);

        if (mt_key_has_private(key) && mt_key_for_encryption(key)) {
            return 1;
        }
    }

    return 0;
}


static int
mt_verify_write(const unsigned char *p, size_t len)
{
    ssize_t  n;

    while (len > 0) {
        n = write(STDOUT_FILENO, p, len);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            return -1;
        }

        p += n;
        len -= (size_t) n;
    }

    return 0;
}


static int
mt_verify_refuse(mt_err_t rc, const char *what)
{
    mt_cli_error("invalid token: %s (%s)", mt_strerror(rc), what);
    return MT_CLI_INVALID;
}


int
mt_cli_verify(int argc, char **argv)
{
    int               c, rv, quiet, show, nkeys, verified, trust;
    char             *token, when[64], left[64];
    size_t            len, matched_len, n_aud, aud_lens[MT_VERIFY_MAX_AUD];
    json_t           *v;
    int64_t           now, leeway, t;
    mt_err_t          rc;
    mt_chain_t        chain;
    mt_token_t       *tok;
    const char       *method, *path, *matched;
    const char       *aud[MT_VERIFY_MAX_AUD];
    mt_keyset_t      *ks;
    mt_match_mode_t   mode;

    static const struct option  opts[] = {
        { "key",             required_argument, NULL, 'k' },
        { "secret",          required_argument, NULL, 'S' },
        { "method",          required_argument, NULL, 'm' },
        { "path",            required_argument, NULL, 'p' },
        { "match",           required_argument, NULL, 'M' },
        { "leeway",          required_argument, NULL, 'l' },
        { "audience",        required_argument, NULL, 'a' },
        { "at",              required_argument, NULL, 't' },
        { "show-credential", no_argument,       NULL, 'c' },
        { "credentials",     no_argument,       NULL, 'C' },
        { "quiet",           no_argument,       NULL, 'q' },
        { "help",            no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    ks = mt_keyset_new();
    if (ks == NULL) {
        mt_cli_error("out of memory");
        return MT_CLI_USAGE;
    }

    rv = MT_CLI_USAGE;
    token = NULL;
    verified = 0;
    quiet = 0;
    show = 0;
    trust = 0;
    nkeys = 0;
    n_aud = 0;
    method = NULL;
    path = NULL;
    leeway = 0;
    mode = MT_MATCH_FULL;
    now = (int64_t) time(NULL);

    memset(&chain, 0, sizeof(chain));

    optind = 1;
    opterr = 0;

    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (c) {

        case 'k':
            if (mt_cli_add_key_file(ks, optarg) != 0) {
                goto done;
            }

            nkeys++;
            break;

        case 'S':
            if (mt_cli_add_secret_file(ks, optarg, NULL) != 0) {
                goto done;
            }

            nkeys++;
            break;

        case 'C':
            trust = 1;
            break;

        case 'm':
            method = optarg;
            break;

        case 'p':
            path = optarg;
            break;

        case 'M':
            if (strcmp(optarg, "full") == 0) {
                mode = MT_MATCH_FULL;

            } else if (strcmp(optarg, "prefix") == 0) {
                mode = MT_MATCH_PREFIX;

            } else {
                mt_cli_error("--match must be full or prefix");
                goto done;
            }

            break;

        case 'l':
            leeway = mt_cli_parse_duration(optarg);

            if (leeway < 0) {
                mt_cli_error("--leeway: \"%.32s\" is not a duration",
                             optarg);
                goto done;
            }

            break;

        case 'a':
            if (n_aud == MT_VERIFY_MAX_AUD) {
                mt_cli_error("at most %d --audience", MT_VERIFY_MAX_AUD);
                goto done;
            }

            aud[n_aud] = optarg;
            aud_lens[n_aud] = strlen(optarg);
            n_aud++;
            break;

        case 't':
            if (mt_cli_parse_int64(optarg, &now) != 0 || now < 0) {
                mt_cli_error("--at: \"%.32s\" is not a Unix time", optarg);
                goto done;
            }

            break;

        case 'c':
            show = 1;
            break;

        case 'q':
            quiet = 1;
            break;

        case 'h':
            fputs(mt_verify_usage, stdout);
            rv = MT_CLI_OK;
            goto done;

        default:
            mt_cli_bad_option(argv, "verify");
            goto done;
        }
    }

    if (optind + 1 != argc) {
        mt_cli_error("verify needs one TOKEN, or - to read it from stdin");
        goto done;
    }

    if (nkeys == 0) {
        mt_cli_error("verify needs --key FILE or --secret FILE");
        goto done;
    }

    if ((method == NULL) != (path == NULL)) {
        mt_cli_error("--method and --path go together");
        goto done;
    }

    if (trust) {
        mt_keyset_trust_credentials(ks, 0);
    }

    if (mt_cli_read_token(argv[optind], &token, &len) != 0) {
        goto done;
    }

    /* 1. signature, exp/nbf/iat, the scope claims; every link of a chain */
    rc = mt_chain_verify(&chain, ks, token, len, now, leeway, mode);
    if (rc != MT_OK) {
        rv = mt_verify_refuse(rc, "signature and claims");
        goto done;
    }

    verified = 1;
    tok = &chain.root;

    /* 2. audience */
    if (n_aud > 0) {
        rc = mt_claims_check_audience(tok->jws.claims, aud, aud_lens,
                                      n_aud);
        if (rc != MT_OK) {
            rv = mt_verify_refuse(rc, "audience");
            goto done;
        }
    }

    /* a link's aud is checked even without --audience */
    rc = mt_chain_check_audience(&chain, aud, aud_lens, n_aud);
    if (rc != MT_OK) {
        rv = mt_verify_refuse(rc, "audience of a link");
        goto done;
    }

    /* 3. the request against "scopes" and "allowed" */
    matched = NULL;
    matched_len = 0;

    if (method != NULL) {
        rc = mt_chain_authorize(&chain, NULL, 0, mode, method,
                                strlen(method), path, strlen(path), &matched,
                                &matched_len);
        if (rc != MT_OK) {
            rv = mt_verify_refuse(rc, rc == MT_ERR_UNKNOWN_SCOPE
                                      ? "named scopes are not known here"
                                      : "scopes");
            goto done;
        }
    }

    /* 4. the credential */
    if (mt_verify_can_decrypt(ks)) {
        rc = mt_token_decrypt(tok, ks);
        if (rc != MT_OK) {
            rv = mt_verify_refuse(rc, "credential");
            goto done;
        }
    }

    rv = MT_CLI_OK;

    if (show) {
        if (tok->credential == NULL) {
            mt_cli_error("%s", mt_verify_can_decrypt(ks)
                               ? "the token carries no credential"
                               : "no private key to decrypt the credential");
            rv = MT_CLI_INVALID;
            goto done;
        }

        /* straight to the descriptor: no copy left in a stdio buffer */
        if (mt_verify_write(tok->credential, tok->credential_len) != 0
            || mt_verify_write((unsigned char *) "\n", 1) != 0)
        {
            mt_cli_error("cannot write the credential");
            rv = MT_CLI_USAGE;
        }

        goto done;
    }

    if (quiet) {
        goto done;
    }

    printf("valid\n");
    printf("%-11s %s\n", "alg", mt_alg_name(tok->jws.alg));

    v = json_object_get(tok->jws.header, "kid");
    if (json_is_string(v)) {
        printf("%-11s %s\n", "kid", json_string_value(v));
    }

    v = json_object_get(tok->jws.claims, "sub");
    if (json_is_string(v)) {
        printf("%-11s %s\n", "sub", json_string_value(v));
    }

    v = json_object_get(tok->jws.claims, "jti");
    if (json_is_string(v)) {
        printf("%-11s %s\n", "jti", json_string_value(v));
    }

    if (chain.n_links > 0) {
        printf("%-11s %zu (every one allows the request)\n", "links",
               chain.n_links);
    }

    /* the earliest exp of the chain */
    t = chain.exp;
    mt_cli_format_time(when, sizeof(when), t);
    mt_cli_format_interval(left, sizeof(left), t - now);
    printf("%-11s %lld  %s  (%s %s)\n", "exp", (long long) t, when,
           t > now ? "expires in" : "expired, within leeway,", left);

    if (n_aud > 0) {
        printf("%-11s accepted\n", "audience");

    } else {
        printf("%-11s not checked (no --audience)\n", "audience");
    }

    if (method != NULL) {
        printf("%-11s %s %s allowed by \"%.*s\"\n", "request", method, path,
               (int) matched_len, matched);

    } else {
        printf("%-11s not checked (no --method and --path)\n", "request");
    }

    v = json_object_get(tok->jws.claims, "token");

    if (v == NULL || json_is_null(v)) {
        printf("%-11s none\n", "credential");

    } else if (tok->credential != NULL) {
        printf("%-11s decrypts (%zu bytes)\n", "credential",
               tok->credential_len);

    } else {
        printf("%-11s not checked (no private key)\n", "credential");
    }

done:

    if (verified) {
        mt_chain_clear(&chain);
    }

    if (token != NULL) {
        OPENSSL_cleanse(token, len);
        free(token);
    }

    mt_keyset_free(ks);

    return rv;
}
