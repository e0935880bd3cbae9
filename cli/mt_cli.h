/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * magic-token: the command line companion of the nginx module.  It is
 * linked against the nginx-free core (mt_*.c) so that the tokens it
 * mints and the checks it runs are exactly those of the module.
 */

#ifndef MT_CLI_H
#define MT_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "mt_core.h"


#define MT_CLI_NAME         "magic-token"
/* the package version (debian/changelog), given by the Makefile */
#ifndef MT_CLI_VERSION
#define MT_CLI_VERSION      "unknown"
#endif

/* exit codes */
#define MT_CLI_OK           0
#define MT_CLI_INVALID      1       /* verify: the token was refused */
#define MT_CLI_USAGE        2       /* bad options, unreadable files */

#define MT_CLI_MAX_FILE     (1024 * 1024)


/* subcommands: argv[0] is the subcommand's name */
int mt_cli_keygen(int argc, char **argv);
int mt_cli_mint(int argc, char **argv);
int mt_cli_inspect(int argc, char **argv);
int mt_cli_verify(int argc, char **argv);
int mt_cli_revoke(int argc, char **argv);
int mt_cli_attenuate(int argc, char **argv);

/* {"jwk": the public key of the first key in a key file}, for "cnf" */
int mt_cli_cnf_from_file(const char *path, json_t **cnf);
/* {"jkt": ...}: the thumbprint jkt, or that of path's key (jkt NULL) */
int mt_cli_jkt_cnf(const char *jkt, const char *path, json_t **cnf);


/*
 * After getopt_long() returned '?': name the bad option without what
 * follows a '=', which may be a secret given to a mistyped option.
 */
void mt_cli_bad_option(char **argv, const char *cmd);

/* "magic-token: " + message + newline, on stderr */
void mt_cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/*
 * Read a whole file (at most max bytes) into an OPENSSL_malloc()ed
 * buffer with a NUL after the data; "-" is stdin.  The caller wipes
 * and frees it with OPENSSL_clear_free(buf, *len + 1).
 */
int mt_cli_read_file(const char *path, size_t max, char **buf, size_t *len);

/* a token argument: the string itself, or "-" for one read from stdin;
 * surrounding white space is dropped.  *buf is malloc()ed. */
int mt_cli_read_token(const char *arg, char **buf, size_t *len);

/* add the keys of a PEM or JWK file to ks; prints the reason and
 * returns -1 on failure */
int mt_cli_add_key_file(mt_keyset_t *ks, const char *path);

/* raw HMAC secret: the file's bytes as they are (as magic_token_secret) */
int mt_cli_add_secret_file(mt_keyset_t *ks, const char *path,
    const char *kid);

/* the kid a key file gave key, or NULL (malloc()ed) */
char *mt_cli_key_kid(const mt_key_t *key, const char *path);

/* "3600", "90s", "15m", "12h", "30d" to seconds; -1 when invalid */
int64_t mt_cli_parse_duration(const char *s);
/* a decimal integer; returns -1 when invalid */
int mt_cli_parse_int64(const char *s, int64_t *out);

/* "2026-11-24 04:00:00 UTC" */
void mt_cli_format_time(char *buf, size_t size, int64_t t);
/* "3h 2m", "5d 1h", "42s" */
void mt_cli_format_interval(char *buf, size_t size, int64_t secs);

/* make jansson wipe what it frees: claims and requests hold secrets */
void mt_cli_json_wipe_on_free(void);

#endif /* MT_CLI_H */
