/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * magic-token: subcommand dispatch and the helpers they share.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#include "mt_cli.h"


static const char  mt_cli_usage[] =
"usage: magic-token COMMAND [OPTIONS] [ARGS]\n"
"\n"
"Keys and scoped tokens for ngx_http_magic_token_module and\n"
"magic-api-proxy.\n"
"\n"
"commands:\n"
"  keygen    generate a key pair (RSA, EC, Ed25519) or an HMAC secret\n"
"  mint      mint a token carrying an encrypted credential\n"
"  inspect   show a token's header and claims, without verifying\n"
"  verify    verify a token as the nginx module does\n"
"  revoke    edit a magic_token_zone's revocations file\n"
"  attenuate narrow a token offline: append a link to a chain\n"
"\n"
"  magic-token COMMAND --help    help for one command\n"
"  magic-token --version\n"
"\n"
"examples:\n"
"  magic-token keygen --out /etc/nginx/magic-token\n"
"  printf '%s' \"$GITHUB_TOKEN\" | magic-token mint \\\n"
"      --key /etc/nginx/magic-token/private.pem --allowed 'GET /user'\n"
"  magic-token inspect - < token.txt\n"
"  magic-token verify --key /etc/nginx/magic-token/private.pem \\\n"
"      --method GET --path /user - < token.txt\n";


int
main(int argc, char **argv)
{
    const char  *cmd;

    mt_cli_json_wipe_on_free();

    if (argc < 2) {
        fputs(mt_cli_usage, stderr);
        return MT_CLI_USAGE;
    }

    cmd = argv[1];

    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0
        || strcmp(cmd, "help") == 0)
    {
        if (argc > 2 && strcmp(cmd, "help") == 0) {
            /* "magic-token help mint" */
            argv[1] = argv[2];
            argv[2] = "--help";
            argc = 3;
            cmd = argv[1];

        } else {
            fputs(mt_cli_usage, stdout);
            return MT_CLI_OK;
        }
    }

    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0
        || strcmp(cmd, "version") == 0)
    {
        printf("%s %s (%s)\n", MT_CLI_NAME, MT_CLI_VERSION,
               OpenSSL_version(OPENSSL_VERSION));
        return MT_CLI_OK;
    }

    if (strcmp(cmd, "keygen") == 0) {
        return mt_cli_keygen(argc - 1, argv + 1);
    }

    if (strcmp(cmd, "mint") == 0) {
        return mt_cli_mint(argc - 1, argv + 1);
    }

    if (strcmp(cmd, "inspect") == 0) {
        return mt_cli_inspect(argc - 1, argv + 1);
    }

    if (strcmp(cmd, "verify") == 0) {
        return mt_cli_verify(argc - 1, argv + 1);
    }

    if (strcmp(cmd, "revoke") == 0) {
        return mt_cli_revoke(argc - 1, argv + 1);
    }

    if (strcmp(cmd, "attenuate") == 0) {
        return mt_cli_attenuate(argc - 1, argv + 1);
    }

    mt_cli_error("unknown command \"%.64s\"; see magic-token --help", cmd);

    return MT_CLI_USAGE;
}


void
mt_cli_error(const char *fmt, ...)
{
    va_list  ap;

    fprintf(stderr, MT_CLI_NAME ": ");

    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);

    fputc('\n', stderr);
}


void
mt_cli_bad_option(char **argv, const char *cmd)
{
    size_t       n;
    const char  *arg;

    arg = optind > 1 ? argv[optind - 1] : "";
    n = strcspn(arg, "=");

    mt_cli_error("%s: unknown option or missing value \"%.*s\"; see "
                 "magic-token %s --help", cmd, (int) (n > 64 ? 64 : n), arg,
                 cmd);
}


int
mt_cli_read_file(const char *path, size_t max, char **out, size_t *out_len)
{
    int       fd;
    char     *buf;
    size_t    len;
    ssize_t   n;

    *out = NULL;
    *out_len = 0;

    if (strcmp(path, "-") == 0) {
        fd = STDIN_FILENO;

    } else {
        fd = open(path, O_RDONLY);
        if (fd == -1) {
            mt_cli_error("cannot open \"%s\": %s", path, strerror(errno));
            return -1;
        }
    }

    /* one byte more than max to tell "too large" apart, one for NUL */
    buf = OPENSSL_malloc(max + 2);
    if (buf == NULL) {
        mt_cli_error("out of memory");
        goto failed;
    }

    len = 0;

    for ( ;; ) {
        n = read(fd, buf + len, max + 1 - len);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            mt_cli_error("cannot read \"%s\": %s", path, strerror(errno));
            goto failed;
        }

        if (n == 0) {
            break;
        }

        len += (size_t) n;

        if (len > max) {
            mt_cli_error("\"%s\" is larger than %zu bytes", path, max);
            goto failed;
        }
    }

    if (fd != STDIN_FILENO) {
        close(fd);
    }

    buf[len] = '\0';

    *out = buf;
    *out_len = len;

    return 0;

failed:

    if (fd != STDIN_FILENO) {
        close(fd);
    }

    if (buf != NULL) {
        OPENSSL_clear_free(buf, max + 2);
    }

    return -1;
}


int
mt_cli_read_token(const char *arg, char **out, size_t *out_len)
{
    char    *buf, *p;
    size_t   len, max;

    *out = NULL;

    max = MT_MAX_TOKEN_LEN;

    if (strcmp(arg, "-") == 0) {
        if (isatty(STDIN_FILENO)) {
            fprintf(stderr, "token: ");
        }

        if (mt_cli_read_file("-", max + 64, &p, &len) != 0) {
            return -1;
        }

    } else {
        p = OPENSSL_strdup(arg);
        if (p == NULL) {
            mt_cli_error("out of memory");
            return -1;
        }

        len = strlen(p);
    }

    /* white space around, and an "Authorization: Bearer" style prefix */
    buf = p;

    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'
                       || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
    {
        len--;
    }

    while (len > 0 && (*buf == ' ' || *buf == '\t' || *buf == '\n'
                       || *buf == '\r'))
    {
        buf++;
        len--;
    }

    if (len == 0) {
        OPENSSL_free(p);
        mt_cli_error("no token");
        return -1;
    }

    if (len > max) {
        OPENSSL_free(p);
        mt_cli_error("the token is longer than %zu bytes", max);
        return -1;
    }

    *out = malloc(len + 1);
    if (*out == NULL) {
        OPENSSL_free(p);
        mt_cli_error("out of memory");
        return -1;
    }

    memcpy(*out, buf, len);
    (*out)[len] = '\0';
    *out_len = len;

    OPENSSL_free(p);

    return 0;
}


int
mt_cli_add_key_file(mt_keyset_t *ks, const char *path)
{
    char      errbuf[512];
    size_t    before;
    mt_err_t  rc;

    before = mt_keyset_count(ks);

    errbuf[0] = '\0';
    rc = mt_keyset_add_file(ks, path, errbuf, sizeof(errbuf));

    if (rc != MT_OK) {
        if (errbuf[0] != '\0') {
            mt_cli_error("%s", errbuf);

        } else {
            mt_cli_error("\"%s\": %s", path, mt_strerror(rc));
        }

        return -1;
    }

    if (mt_keyset_count(ks) == before) {
        mt_cli_error("\"%s\": no key found", path);
        return -1;
    }

    return 0;
}


int
mt_cli_add_secret_file(mt_keyset_t *ks, const char *path, const char *kid)
{
    int        rv;
    char      *buf;
    char       errbuf[512];
    size_t     len;
    mt_err_t   rc;

    if (mt_cli_read_file(path, MT_MAX_CREDENTIAL_LEN, &buf, &len) != 0) {
        return -1;
    }

    rv = 0;

    if (len == 0) {
        mt_cli_error("\"%s\": the secret file is empty", path);
        rv = -1;

    } else {
        errbuf[0] = '\0';
        rc = mt_keyset_add_secret(ks, (unsigned char *) buf, len, kid,
                                  kid != NULL ? strlen(kid) : 0, errbuf,
                                  sizeof(errbuf));
        if (rc != MT_OK) {
            /* errbuf names no secret bytes, only lengths */
            mt_cli_error("\"%s\": %s", path,
                         errbuf[0] != '\0' ? errbuf : mt_strerror(rc));
            rv = -1;
        }
    }

    OPENSSL_clear_free(buf, MT_MAX_CREDENTIAL_LEN + 2);

    return rv;
}


/*
 * The core keeps a JWK's kid but has no accessor for it: find the kid
 * of the file's JWKs that the key answers to.
 */
char *
mt_cli_key_kid(const mt_key_t *key, const char *path)
{
    char        *buf, *kid;
    size_t       len, i, n;
    json_t      *doc, *keys, *jwk, *v;
    json_error_t err;

    if (!mt_key_has_kid(key) || path == NULL) {
        return NULL;
    }

    if (mt_cli_read_file(path, MT_CLI_MAX_FILE, &buf, &len) != 0) {
        return NULL;
    }

    doc = json_loadb(buf, len, 0, &err);
    OPENSSL_clear_free(buf, MT_CLI_MAX_FILE + 2);

    if (doc == NULL) {
        return NULL;
    }

    keys = json_object_get(doc, "keys");
    n = json_is_array(keys) ? json_array_size(keys) : 1;
    kid = NULL;

    for (i = 0; i < n && kid == NULL; i++) {
        jwk = json_is_array(keys) ? json_array_get(keys, i) : doc;
        v = json_object_get(jwk, "kid");

        if (json_is_string(v)
            && mt_key_kid_is(key, json_string_value(v), json_string_length(v)))
        {
            kid = strdup(json_string_value(v));
        }
    }

    json_decref(doc);

    return kid;
}


int
mt_cli_parse_int64(const char *s, int64_t *out)
{
    char       *end;
    long long   v;

    if (*s == '\0') {
        return -1;
    }

    errno = 0;
    v = strtoll(s, &end, 10);

    if (errno != 0 || *end != '\0') {
        return -1;
    }

    *out = (int64_t) v;

    return 0;
}


int64_t
mt_cli_parse_duration(const char *s)
{
    char       *end;
    int64_t     mul;
    long long   v;

    if (*s < '0' || *s > '9') {
        return -1;
    }

    errno = 0;
    v = strtoll(s, &end, 10);

    if (errno != 0) {
        return -1;
    }

    switch (*end) {
    case '\0':
    case 's':
        mul = 1;
        break;
    case 'm':
        mul = 60;
        break;
    case 'h':
        mul = 3600;
        break;
    case 'd':
        mul = 86400;
        break;
    case 'w':
        mul = 7 * 86400;
        break;
    default:
        return -1;
    }

    if (*end != '\0' && end[1] != '\0') {
        return -1;
    }

    /* a century is plenty, and keeps now + ttl far from overflowing */
    if (v > (long long) (100LL * 365 * 86400) / mul) {
        return -1;
    }

    return (int64_t) v * mul;
}


void
mt_cli_format_time(char *buf, size_t size, int64_t t)
{
    time_t     tt;
    struct tm  tm;

    tt = (time_t) t;

    if ((int64_t) tt != t || gmtime_r(&tt, &tm) == NULL
        || strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
    {
        snprintf(buf, size, "out of range");
    }
}


void
mt_cli_format_interval(char *buf, size_t size, int64_t secs)
{
    int64_t  d, h, m, s;

    if (secs < 0) {
        secs = -secs;
    }

    d = secs / 86400;
    h = secs % 86400 / 3600;
    m = secs % 3600 / 60;
    s = secs % 60;

    if (d > 0) {
        snprintf(buf, size, "%lldd %lldh", (long long) d, (long long) h);

    } else if (h > 0) {
        snprintf(buf, size, "%lldh %lldm", (long long) h, (long long) m);

    } else if (m > 0) {
        snprintf(buf, size, "%lldm %llds", (long long) m, (long long) s);

    } else {
        snprintf(buf, size, "%llds", (long long) s);
    }
}


/*
 * jansson frees through a function that wipes first: requests and
 * claims hold the credential in clear.  The allocation stays plain
 * malloc(), as the core free()s what json_dumps() returns.
 */

static void
mt_cli_json_free(void *ptr)
{
    if (ptr == NULL) {
        return;
    }

#if defined(__GLIBC__)
    OPENSSL_cleanse(ptr, malloc_usable_size(ptr));
#endif

    free(ptr);
}


void
mt_cli_json_wipe_on_free(void)
{
    json_set_alloc_funcs(malloc, mt_cli_json_free);
}
