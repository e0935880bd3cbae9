/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * magic-token mint: the request magic-api-proxy's /__magictoken takes
 * ({"token": ..., "allowed": [...]}) is built from the options and
 * handed to the core's mt_mint_claims() and mt_token_mint(), the same
 * code the issuer endpoint runs.  The credential comes from stdin or a
 * file, never from the command line unless explicitly asked for.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "mt_cli.h"


#define MT_MINT_DEFAULT_TTL     3600


typedef struct {
    const char     *key_file;
    const char     *secret_file;
    const char     *alg_name;
    const char     *kid;
    const char     *encrypt_to;
    const char     *jwe_alg;
    const char     *jwe_enc;
    const char     *credential_file;
    const char     *credential_arg;
    int             no_credential;
    int             admin;          /* an admin token (magic_token_admin) */
    const char     *holder_key;     /* attenuable: cnf.jwk of this key */
    const char     *jkt;            /* bound: cnf.jkt (RFC 9449) */
    const char     *dpop_key;       /* bound to this key's thumbprint */
    int64_t         max_further;    /* -1: none */
    json_t         *req;            /* allowed, scopes, ttl, exp, ... */
} mt_mint_conf_t;


static const char  mt_mint_usage[] =
"usage: magic-token mint (--key FILE | --secret FILE) [--alg ALG]\n"
"                        [--kid KID] [--encrypt-to FILE]\n"
"                        [--jwe ALG [--enc ENC]]\n"
"                        (--allowed 'METHOD REGEX'... | --scope NAME...)\n"
"                        [--mcp-tool REGEX]... [--mcp-resource REGEX]...\n"
"                        [--mcp-prompt REGEX]...\n"
"                        [--ttl TIME | --exp UNIXTIME] [--aud AUD]...\n"
"                        [--sub SUB] [--jti JTI]\n"
"                        [--credential-file FILE | --no-credential]\n"
"                        [--holder-key FILE [--max-further-links N]]\n"
"                        [--dpop-key FILE | --jkt THUMBPRINT]\n"
"       magic-token mint (--key FILE | --secret FILE) --admin [--ttl TIME]\n"
"\n"
"Mint a magic token and print it, followed by a newline.  The API\n"
"credential it carries is read from stdin (one trailing newline is\n"
"dropped; on a terminal it is read without echo) or from\n"
"--credential-file, and is encrypted to the proxy's key.\n"
"\n"
"signing:\n"
"  --key FILE          private key, PEM or JWK (set); with several keys,\n"
"                      the first private one (or the one named by --kid)\n"
"  --secret FILE       HMAC secret: the file's bytes, exactly as\n"
"                      magic_token_secret reads them\n"
"  --alg ALG           RS256 (default for RSA), RS384, RS512, PS256,\n"
"                      PS384, PS512, ES256/ES384/ES512 (by curve), EdDSA,\n"
"                      HS256 (default for secrets), HS384, HS512\n"
"  --kid KID           the header's kid (default: the JWK's kid, if any)\n"
"\n"
"credential:\n"
"  --encrypt-to FILE   key the credential is encrypted to (default: the\n"
"                      signing key when it is an RSA key)\n"
"  --jwe ALG           a compact JWE credential (RSA-OAEP, RSA-OAEP-256,\n"
"                      ECDH-ES, ECDH-ES+A128KW, ECDH-ES+A256KW, A128KW,\n"
"                      A256KW, dir) instead of magic-api-proxy's base64\n"
"                      RSA-OAEP-SHA256\n"
"  --enc ENC           JWE content encryption: A256GCM (default),\n"
"                      A128GCM, A128CBC-HS256, A256CBC-HS512\n"
"  --credential-file F read the credential from F\n"
"  --credential-arg S  the credential itself (visible to other users in\n"
"                      ps(1) and kept in shell history: avoid)\n"
"  --no-credential     a token without a credential\n"
"  --admin             an admin token for magic_token_admin: \"admin\":\n"
"                      true, no credential, no allowed requests\n"
"\n"
"claims:\n"
"  --allowed ENTRY     an allowed request, \"METHOD REGEX\" (repeatable)\n"
"  --scope NAME        a scope configured on the proxy (repeatable)\n"
"  --mcp-tool REGEX    an MCP tool name the token may call (tools/call;\n"
"                      repeatable; full match; docs/mcp.md)\n"
"  --mcp-resource REGEX  an MCP resource URI it may read (resources/read)\n"
"  --mcp-prompt REGEX  an MCP prompt name it may get (prompts/get)\n"
"  --ttl TIME          lifetime: seconds, or 90s, 15m, 12h, 30d, 2w\n"
"                      (default 3600)\n"
"  --exp UNIXTIME      absolute expiry instead of --ttl\n"
"  --aud AUD           audience (repeatable: an array)\n"
"  --sub SUB           subject\n"
"  --jti JTI           token id (default: 128 random bits)\n"
"\n"
"attenuation (docs/attenuation.md):\n"
"  --holder-key FILE   mint an attenuable root: cnf names FILE's public\n"
"                      key, whose holder narrows it with magic-token\n"
"                      attenuate (alone, such a token is refused)\n"
"  --max-further-links N   at most N links may follow the root\n"
"\n"
"sender-constrained tokens (DPoP, RFC 9449):\n"
"  --dpop-key FILE     bind the token to FILE's key (cnf.jkt): the proxy\n"
"                      accepts it only with DPoP proofs signed by that key\n"
"  --jkt THUMBPRINT    the same, by the key's RFC 7638 thumbprint\n"
"\n"
"examples:\n"
"  printf '%s' \"$GITHUB_TOKEN\" | magic-token mint --key private.pem \\\n"
"      --allowed 'GET /user' --allowed 'POST /repos/[^/]+/[^/]+/issues' \\\n"
"      --ttl 30d --sub labeler-bot\n"
"  magic-token mint --key ec/private.pem --encrypt-to rsa/public.pem \\\n"
"      --jwe RSA-OAEP-256 --scope read-only --credential-file cred.txt\n"
"  magic-token mint --secret hs/secret --kid 2026-11 --no-credential \\\n"
"      --allowed 'GET /status' --aud billing\n";


static int
mt_mint_scope_known(void *data, const char *name, size_t len)
{
    (void) data;
    (void) name;
    (void) len;

    /* named scopes live in the proxy's configuration, unknown here */
    return 1;
}


/* ---- the credential ---------------------------------------------- */

static int
mt_mint_read_tty(char **out, size_t *out_len)
{
    int             echo_off;
    char           *buf;
    size_t          len, max;
    ssize_t         n;
    struct termios  saved, t;

    max = MT_MAX_CREDENTIAL_LEN + 2;

    buf = OPENSSL_malloc(max + 1);
    if (buf == NULL) {
        mt_cli_error("out of memory");
        return -1;
    }

    fprintf(stderr, "credential (not echoed): ");
    fflush(stderr);

    echo_off = 0;

    if (tcgetattr(STDIN_FILENO, &saved) == 0) {
        t = saved;
        t.c_lflag &= ~((tcflag_t) ECHO);
        echo_off = tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0;
    }

    /* canonical mode: one read returns one line */
    len = 0;

    for ( ;; ) {
        n = read(STDIN_FILENO, buf + len, max - len);

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n <= 0) {
            break;
        }

        len += (size_t) n;

        if (buf[len - 1] == '\n' || len == max) {
            break;
        }
    }

    if (echo_off) {
        (void) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    }

    fputc('\n', stderr);

    buf[len] = '\0';
    *out = buf;
    *out_len = len;

    return 0;
}


/* *out is OPENSSL_malloc()ed with room for a NUL; wipe on free */
static int
mt_mint_read_credential(const mt_mint_conf_t *conf, char **out,
    size_t *out_len, size_t *cap)
{
    char    *buf;
    size_t   len;

    *out = NULL;

    if (conf->credential_arg != NULL) {
        mt_cli_error("warning: a credential on the command line can be "
                     "seen by other users and stays in shell history");

        len = strlen(conf->credential_arg);

        buf = OPENSSL_malloc(len + 1);
        if (buf == NULL) {
            mt_cli_error("out of memory");
            return -1;
        }

        memcpy(buf, conf->credential_arg, len + 1);
        *cap = len + 1;

    } else if (conf->credential_file == NULL && isatty(STDIN_FILENO)) {
        if (mt_mint_read_tty(&buf, &len) != 0) {
            return -1;
        }

        *cap = MT_MAX_CREDENTIAL_LEN + 3;

    } else {
        if (mt_cli_read_file(conf->credential_file != NULL
                             ? conf->credential_file : "-",
                             MT_MAX_CREDENTIAL_LEN + 2, &buf, &len)
            != 0)
        {
            return -1;
        }

        *cap = MT_MAX_CREDENTIAL_LEN + 4;
    }

    /* the newline echo(1), a file or the terminal added */
    if (len > 0 && buf[len - 1] == '\n') {
        len--;

        if (len > 0 && buf[len - 1] == '\r') {
            len--;
        }
    }

    buf[len] = '\0';

    if (len == 0) {
        OPENSSL_clear_free(buf, *cap);
        mt_cli_error("the credential is empty (--no-credential mints a "
                     "token without one)");
        return -1;
    }

    *out = buf;
    *out_len = len;

    return 0;
}


/* ---- keys -------------------------------------------------------- */

static const mt_key_t *
mt_mint_sign_key(const mt_keyset_t *ks, const char *kid, mt_alg_t alg)
{
    size_t           i;
    const mt_key_t  *key, *first;

    first = NULL;

    for (i = 0; i < mt_keyset_count(ks); i++) {
        key = mt_keyset_get(ks, i);

        if (!mt_key_has_private(key)) {
            continue;
        }

        if (alg != MT_ALG_NONE && !mt_key_fits_alg(key, alg)) {
            continue;
        }

        if (kid != NULL && mt_key_kid_is(key, kid, strlen(kid))) {
            return key;
        }

        if (first == NULL) {
            first = key;
        }
    }

    return first;
}


static mt_alg_t
mt_mint_default_alg(const mt_key_t *key)
{
    static const mt_alg_t  algs[] = {
        MT_ALG_RS256, MT_ALG_ES256, MT_ALG_ES384, MT_ALG_ES512, MT_ALG_EDDSA,
        MT_ALG_HS256
    };

    size_t  i;

    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        if (mt_key_fits_alg(key, algs[i])) {
            return algs[i];
        }
    }

    return MT_ALG_NONE;
}


/* does key take the credential for this encryption? */
static int
mt_mint_enc_fits(const mt_key_t *key, const char *jwe_alg)
{
    mt_kty_t  kty;

    kty = mt_key_type(key);

    if (jwe_alg == NULL || strncmp(jwe_alg, "RSA-OAEP", 8) == 0) {
        return kty == MT_KTY_RSA;
    }

    if (strncmp(jwe_alg, "ECDH-ES", 7) == 0) {
        return (kty == MT_KTY_EC || kty == MT_KTY_OKP)
               && mt_key_for_encryption(key);
    }

    /* A128KW, A256KW, dir: a JWK "oct" key */
    return kty == MT_KTY_OCT;
}


/* ---- mint -------------------------------------------------------- */

/* --holder-key: the root of chains (docs/attenuation.md) */
static int
mt_mint_attenuable(const mt_mint_conf_t *conf, json_t *claims)
{
    json_t  *cnf;

    if (conf->jkt != NULL || conf->dpop_key != NULL) {
        if (mt_cli_jkt_cnf(conf->jkt, conf->dpop_key, &cnf) != 0) {
            return -1;
        }

        json_object_set_new(claims, "cnf", cnf);
        return 0;
    }

    if (conf->holder_key == NULL) {
        return 0;
    }

    if (mt_cli_cnf_from_file(conf->holder_key, &cnf) != 0) {
        return -1;
    }

    json_object_set_new(claims, "cnf", cnf);

    if (conf->max_further >= 0) {
        json_object_set_new(claims, "max_further_links",
                            json_integer(conf->max_further));
    }

    return 0;
}


static int
mt_mint_run(mt_mint_conf_t *conf)
{
    int               rv;
    char             *cred_buf, *token, *kid_buf, *enc_kid_buf;
    char              errbuf[512];
    size_t            cred_len, cred_cap, token_len, claim_cred_len, i;
    json_t           *claims, *v;
    int64_t           now;
    mt_err_t          rc;
    mt_keyset_t      *ks, *eks;
    const char       *claim_cred, *sign_path;
    const mt_key_t   *key, *enc_key;
    mt_mint_opts_t    opts;
    mt_mint_policy_t  policy;

    rv = MT_CLI_USAGE;
    cred_buf = NULL;
    cred_cap = 0;
    cred_len = 0;
    kid_buf = NULL;
    enc_kid_buf = NULL;
    claims = NULL;
    eks = NULL;

    memset(&opts, 0, sizeof(opts));

    ks = mt_keyset_new();
    if (ks == NULL) {
        mt_cli_error("out of memory");
        return MT_CLI_USAGE;
    }

    /* the signing key */
    if (conf->key_file != NULL) {
        if (mt_cli_add_key_file(ks, conf->key_file) != 0) {
            goto done;
        }

        sign_path = conf->key_file;

    } else {
        if (mt_cli_add_secret_file(ks, conf->secret_file, conf->kid) != 0) {
            goto done;
        }

        sign_path = NULL;
    }

    opts.alg = MT_ALG_NONE;

    if (conf->alg_name != NULL) {
        opts.alg = mt_alg_from_name(conf->alg_name, strlen(conf->alg_name));

        if (opts.alg == MT_ALG_NONE) {
            mt_cli_error("unknown --alg \"%.32s\"", conf->alg_name);
            goto done;
        }
    }

    key = mt_mint_sign_key(ks, conf->kid, opts.alg);

    if (key == NULL) {
        mt_cli_error("\"%s\": no private key%s%s",
                     conf->key_file ? conf->key_file : conf->secret_file,
                     conf->alg_name ? " for " : "",
                     conf->alg_name ? conf->alg_name : "");
        goto done;
    }

    if (opts.alg == MT_ALG_NONE) {
        opts.alg = mt_mint_default_alg(key);

        if (opts.alg == MT_ALG_NONE) {
            mt_cli_error("the key signs no algorithm (an encryption key?)");
            goto done;
        }
    }

    opts.sign_key = key;
    opts.kid = conf->kid;

    if (opts.kid == NULL) {
        kid_buf = mt_cli_key_kid(key, sign_path);
        opts.kid = kid_buf;
    }

    /* the credential and the key it is encrypted to */
    if (!conf->no_credential) {
        enc_key = NULL;

        if (conf->encrypt_to != NULL) {
            eks = mt_keyset_new();
            if (eks == NULL) {
                mt_cli_error("out of memory");
                goto done;
            }

            if (mt_cli_add_key_file(eks, conf->encrypt_to) != 0) {
                goto done;
            }

            for (i = 0; i < mt_keyset_count(eks); i++) {
                if (mt_mint_enc_fits(mt_keyset_get(eks, i), conf->jwe_alg)) {
                    enc_key = mt_keyset_get(eks, i);
                    break;
                }
            }

            if (enc_key == NULL) {
                mt_cli_error("\"%s\": no key for %s", conf->encrypt_to,
                             conf->jwe_alg ? conf->jwe_alg
                                           : "RSA-OAEP-SHA256");
                goto done;
            }

            enc_kid_buf = mt_cli_key_kid(enc_key, conf->encrypt_to);

        } else if (mt_key_type(key) != MT_KTY_OCT
                   && mt_mint_enc_fits(key, conf->jwe_alg))
        {
            enc_key = key;
            enc_kid_buf = mt_cli_key_kid(key, sign_path);

        } else {
            mt_cli_error("the credential needs --encrypt-to FILE: the "
                         "signing key cannot take %s",
                         conf->jwe_alg ? conf->jwe_alg : "RSA-OAEP-SHA256");
            goto done;
        }

        opts.enc_key = enc_key;
        opts.jwe_alg = conf->jwe_alg;
        opts.jwe_enc = conf->jwe_enc;
        opts.enc_kid = enc_kid_buf;

        if (mt_mint_read_credential(conf, &cred_buf, &cred_len, &cred_cap)
            != 0)
        {
            goto done;
        }

        v = json_stringn(cred_buf, cred_len);

    } else {
        /* mt_mint_claims() wants a credential; this one is not used */
        v = json_string("-");
    }

    if (v == NULL) {
        mt_cli_error("the credential is not valid UTF-8");
        goto done;
    }

    json_object_set_new(conf->req, "token", v);

    policy.default_ttl = MT_MINT_DEFAULT_TTL;
    policy.max_ttl = 0;
    policy.scope_known = mt_mint_scope_known;
    policy.scope_data = NULL;

    now = (int64_t) time(NULL);
    errbuf[0] = '\0';

    rc = mt_mint_claims(conf->req, &policy, now, &claims, &claim_cred,
                        &claim_cred_len, errbuf, sizeof(errbuf));
    if (rc != MT_OK) {
        /* messages name fields and lengths, never the credential */
        mt_cli_error("%s", errbuf[0] != '\0' ? errbuf : mt_strerror(rc));
        goto done;
    }

    if (conf->admin
        && (json_object_del(claims, "allowed") != 0
            || json_object_set_new(claims, "admin", json_true()) != 0))
    {
        mt_cli_error("out of memory");
        goto done;
    }

    if (mt_mint_attenuable(conf, claims) != 0) {
        goto done;
    }

    rc = mt_token_mint(&opts, claims,
                       conf->no_credential
                       ? NULL : (const unsigned char *) claim_cred,
                       claim_cred_len, &token, &token_len);
    if (rc != MT_OK) {
        mt_cli_error("cannot mint the token: %s", mt_strerror(rc));
        rv = MT_CLI_INVALID;
        goto done;
    }

    fwrite(token, 1, token_len, stdout);
    fputc('\n', stdout);
    free(token);

    rv = fflush(stdout) == 0 ? MT_CLI_OK : MT_CLI_INVALID;

done:

    if (cred_buf != NULL) {
        OPENSSL_clear_free(cred_buf, cred_cap);
    }

    json_decref(claims);
    free(kid_buf);
    free(enc_kid_buf);
    mt_keyset_free(eks);
    mt_keyset_free(ks);

    return rv;
}


static int
mt_mint_list_add(json_t *req, const char *name, const char *value)
{
    json_t  *list;

    list = json_object_get(req, name);

    if (list == NULL) {
        list = json_array();
        if (list == NULL || json_object_set_new(req, name, list) != 0) {
            return -1;
        }
    }

    return json_array_append_new(list, json_string(value));
}


/* req["mcp"]["tools" | "resources" | "prompts"] += value */
static int
mt_mint_mcp_add(json_t *req, int opt, const char *value)
{
    json_t  *mcp;

    mcp = json_object_get(req, "mcp");

    if (mcp == NULL) {
        mcp = json_object();
        if (mcp == NULL || json_object_set_new(req, "mcp", mcp) != 0) {
            return -1;
        }
    }

    return mt_mint_list_add(mcp, opt == 'M' ? "tools"
                                 : opt == 'O' ? "resources" : "prompts",
                            value);
}


int
mt_cli_mint(int argc, char **argv)
{
    int              c, rv;
    json_t          *aud, *v;
    int64_t          n;
    mt_mint_conf_t   conf;

    static const struct option  opts[] = {
        { "key",             required_argument, NULL, 'k' },
        { "secret",          required_argument, NULL, 'S' },
        { "alg",             required_argument, NULL, 'a' },
        { "kid",             required_argument, NULL, 'K' },
        { "encrypt-to",      required_argument, NULL, 'E' },
        { "jwe",             required_argument, NULL, 'J' },
        { "enc",             required_argument, NULL, 'e' },
        { "allowed",         required_argument, NULL, 'A' },
        { "scope",           required_argument, NULL, 's' },
        { "mcp-tool",        required_argument, NULL, 'M' },
        { "mcp-resource",    required_argument, NULL, 'O' },
        { "mcp-prompt",      required_argument, NULL, 'Q' },
        { "ttl",             required_argument, NULL, 't' },
        { "exp",             required_argument, NULL, 'x' },
        { "aud",             required_argument, NULL, 'u' },
        { "sub",             required_argument, NULL, 'b' },
        { "jti",             required_argument, NULL, 'j' },
        { "credential-file", required_argument, NULL, 'f' },
        { "credential-arg",  required_argument, NULL, 'C' },
        { "no-credential",   no_argument,       NULL, 'N' },
        { "admin",           no_argument,       NULL, 'D' },
        { "holder-key",      required_argument, NULL, 'H' },
        { "max-further-links", required_argument, NULL, 'L' },
        { "jkt",             required_argument, NULL, 'T' },
        { "dpop-key",        required_argument, NULL, 'P' },
        { "help",            no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    memset(&conf, 0, sizeof(conf));
    conf.max_further = -1;

    conf.req = json_object();
    if (conf.req == NULL) {
        mt_cli_error("out of memory");
        return MT_CLI_USAGE;
    }

    rv = MT_CLI_USAGE;
    optind = 1;
    opterr = 0;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {

        case 'k':
            conf.key_file = optarg;
            break;

        case 'S':
            conf.secret_file = optarg;
            break;

        case 'a':
            conf.alg_name = optarg;
            break;

        case 'K':
            if (*optarg == '\0' || strlen(optarg) > MT_MAX_KID_LEN) {
                mt_cli_error("--kid must have 1 to %d characters",
                             MT_MAX_KID_LEN);
                goto done;
            }

            conf.kid = optarg;
            break;

        case 'E':
            conf.encrypt_to = optarg;
            break;

        case 'J':
            conf.jwe_alg = optarg;
            break;

        case 'e':
            conf.jwe_enc = optarg;
            break;

        case 'A':
        case 's':
            if (mt_mint_list_add(conf.req, c == 'A' ? "allowed" : "scopes",
                                 optarg)
                != 0)
            {
                mt_cli_error("--%s: not valid UTF-8",
                             c == 'A' ? "allowed" : "scope");
                goto done;
            }

            break;

        case 'M':
        case 'O':
        case 'Q':
            if (mt_mint_mcp_add(conf.req, c, optarg) != 0) {
                mt_cli_error("--%s: not valid UTF-8",
                             c == 'M' ? "mcp-tool" : c == 'O' ? "mcp-resource"
                                                              : "mcp-prompt");
                goto done;
            }

            break;

        case 't':
            n = mt_cli_parse_duration(optarg);

            if (n <= 0) {
                mt_cli_error("--ttl: \"%.32s\" is not a duration such as "
                             "3600, 15m, 12h or 30d", optarg);
                goto done;
            }

            json_object_set_new(conf.req, "ttl", json_integer(n));
            break;

        case 'x':
            if (mt_cli_parse_int64(optarg, &n) != 0 || n <= 0) {
                mt_cli_error("--exp: \"%.32s\" is not a Unix time", optarg);
                goto done;
            }

            json_object_set_new(conf.req, "exp", json_integer(n));
            break;

        case 'u':
            if (mt_mint_list_add(conf.req, "aud", optarg) != 0) {
                mt_cli_error("--aud: not valid UTF-8");
                goto done;
            }

            break;

        case 'b':
        case 'j':
            v = json_string(optarg);

            if (v == NULL) {
                mt_cli_error("--%s: not valid UTF-8",
                             c == 'b' ? "sub" : "jti");
                goto done;
            }

            json_object_set_new(conf.req, c == 'b' ? "sub" : "jti", v);
            break;

        case 'f':
            conf.credential_file = optarg;
            break;

        case 'C':
            conf.credential_arg = optarg;
            break;

        case 'N':
            conf.no_credential = 1;
            break;

        case 'D':
            conf.admin = 1;
            break;

        case 'H':
            conf.holder_key = optarg;
            break;

        case 'T':
            conf.jkt = optarg;
            break;

        case 'P':
            conf.dpop_key = optarg;
            break;

        case 'L':
            if (mt_cli_parse_int64(optarg, &conf.max_further) != 0
                || conf.max_further < 0
                || conf.max_further > MT_CHAIN_MAX_LINKS)
            {
                mt_cli_error("--max-further-links: 0 to %d",
                             MT_CHAIN_MAX_LINKS);
                goto done;
            }

            break;

        case 'h':
            fputs(mt_mint_usage, stdout);
            rv = MT_CLI_OK;
            goto done;

        default:
            mt_cli_bad_option(argv, "mint");
            goto done;
        }
    }

    if (optind < argc) {
        /* not echoed: it may be a credential given by mistake */
        mt_cli_error("unexpected argument (the credential is read from "
                     "stdin or --credential-file)");
        goto done;
    }

    if ((conf.key_file == NULL) == (conf.secret_file == NULL)) {
        mt_cli_error("mint needs --key FILE or --secret FILE");
        goto done;
    }

    if (conf.no_credential
        + (conf.credential_file != NULL) + (conf.credential_arg != NULL) > 1)
    {
        mt_cli_error("--no-credential, --credential-file and "
                     "--credential-arg exclude each other");
        goto done;
    }

    if (conf.admin) {
        /* a token that carries a credential never administers */
        if (conf.credential_file || conf.credential_arg
            || json_object_get(conf.req, "allowed")
            || json_object_get(conf.req, "scopes"))
        {
            mt_cli_error("--admin tokens carry no credential and allow no "
                         "request");
            goto done;
        }

        /* for mt_mint_claims(); taken out of the claims again */
        conf.no_credential = 1;
        json_object_set_new(conf.req, "allowed",
                            json_pack("[s]", "GET /"));
    }

    if (conf.admin && conf.holder_key != NULL) {
        mt_cli_error("--admin tokens are not attenuable: no --holder-key");
        goto done;
    }

    if ((conf.holder_key != NULL) + (conf.jkt != NULL)
        + (conf.dpop_key != NULL) > 1)
    {
        mt_cli_error("--holder-key, --jkt and --dpop-key: one of them");
        goto done;
    }

    if (conf.max_further >= 0 && conf.holder_key == NULL) {
        mt_cli_error("--max-further-links goes with --holder-key");
        goto done;
    }

    if (conf.jwe_enc != NULL && conf.jwe_alg == NULL) {
        mt_cli_error("--enc goes with --jwe");
        goto done;
    }

    if (conf.jwe_alg != NULL && conf.jwe_enc == NULL) {
        conf.jwe_enc = "A256GCM";
    }

    if (conf.no_credential && (conf.jwe_alg || conf.encrypt_to)) {
        mt_cli_error("--no-credential: nothing to encrypt");
        goto done;
    }

    /* one audience is a string, as magic-api-proxy's issuer writes it */
    aud = json_object_get(conf.req, "aud");

    if (aud != NULL && json_array_size(aud) == 1) {
        json_object_set(conf.req, "aud", json_array_get(aud, 0));
    }

    rv = mt_mint_run(&conf);

done:

    json_decref(conf.req);

    return rv;
}
