/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * A tiny TAP producer for the core's unit tests, and the few helpers
 * the tests share (reading the public test vectors, hex).
 *
 *   plan(n) / done_testing()   the plan, first or last
 *   ok(cond, fmt, ...)         one test; returns cond
 *   is_int(got, want, ...)     ok(got == want) with a diagnostic
 *   todo(cond, why, fmt, ...)  a known bug: "# TODO why", never fails
 *   skip(n, why)               n skipped tests
 *   diag(fmt, ...)             a comment on stderr
 *   tap_exit()                 exit status: 0 when everything passed
 *
 * Test vectors: $MT_VECTORS, default ../shared/vectors (relative to the
 * repository root, the tests' working directory).
 */

#ifndef MT_TEST_TAP_H
#define MT_TEST_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>


static struct {
    int  planned;
    int  run;
    int  failed;
} tap;


static inline void
plan(int n)
{
    tap.planned = n;
    printf("1..%d\n", n);
    fflush(stdout);
}


static inline void
tap_vline(const char *status, int cond, const char *directive,
    const char *fmt, va_list args)
{
    tap.run++;
    printf("%s %d - ", status, tap.run);
    vprintf(fmt, args);

    if (directive != NULL) {
        printf(" # %s", directive);
    }

    printf("\n");
    fflush(stdout);
    (void) cond;
}


static inline void
diag(const char *fmt, ...)
{
    va_list  args;

    fflush(stdout);
    fprintf(stderr, "# ");
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fprintf(stderr, "\n");
    fflush(stderr);
}


static inline int ok(int cond, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline int
ok(int cond, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    tap_vline(cond ? "ok" : "not ok", cond, NULL, fmt, args);
    va_end(args);

    if (!cond) {
        tap.failed++;
    }

    return cond;
}


#define is_int(got, want, ...)                                            \
    is_int_impl((long long) (got), (long long) (want), __VA_ARGS__)

static inline int is_int_impl(long long got, long long want,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static inline int
is_int_impl(long long got, long long want, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    tap_vline(got == want ? "ok" : "not ok", got == want, NULL, fmt, args);
    va_end(args);

    if (got != want) {
        tap.failed++;
        diag("     got: %lld", got);
        diag("expected: %lld", want);
        return 0;
    }

    return 1;
}


/* a test that documents a known bug: reported, never a failure */
static inline int todo(int cond, const char *why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline int
todo(int cond, const char *why, const char *fmt, ...)
{
    char     directive[512];
    va_list  args;

    snprintf(directive, sizeof(directive), "TODO %s", why);
    va_start(args, fmt);
    tap_vline(cond ? "ok" : "not ok", cond, directive, fmt, args);
    va_end(args);

    return cond;
}


static inline void
skip(int n, const char *why)
{
    while (n-- > 0) {
        tap.run++;
        printf("ok %d # skip %s\n", tap.run, why);
    }

    fflush(stdout);
}


static inline void
done_testing(void)
{
    if (tap.planned == 0) {
        printf("1..%d\n", tap.run);
        tap.planned = tap.run;
    }

    fflush(stdout);
}


static inline int
tap_exit(void)
{
    done_testing();

    if (tap.run != tap.planned) {
        diag("planned %d tests but ran %d", tap.planned, tap.run);
        return 255;
    }

    if (tap.failed) {
        diag("failed %d test(s) of %d", tap.failed, tap.run);
    }

    return tap.failed > 254 ? 254 : tap.failed;
}


/* ---- helpers ------------------------------------------------------ */

/* path of a file under the vectors directory; static buffer */
static inline const char *
vector_path(const char *rel)
{
    static char  path[4096];
    const char  *dir;

    dir = getenv("MT_VECTORS");
    if (dir == NULL || dir[0] == '\0') {
        dir = "../shared/vectors";
    }

    snprintf(path, sizeof(path), "%s/%s", dir, rel);

    return path;
}


static inline int
have_vectors(void)
{
    FILE  *f;

    f = fopen(vector_path("README.md"), "r");
    if (f == NULL) {
        return 0;
    }

    fclose(f);

    return 1;
}


/* a vectors JSON file, or NULL (with a diagnostic) */
static inline json_t *
load_vector_json(const char *rel)
{
    json_t        *root;
    json_error_t   err;

    root = json_load_file(vector_path(rel), 0, &err);
    if (root == NULL) {
        diag("%s: %s", vector_path(rel), err.text);
    }

    return root;
}


static inline int
hex_value(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    return -1;
}


/* hex to a malloc()ed buffer (at least 1 byte); NULL if not hex */
static inline unsigned char *
hex_decode(const char *hex, size_t *len)
{
    int             hi, lo;
    size_t          i, n;
    unsigned char  *buf;

    *len = 0;
    n = strlen(hex);

    if (n % 2) {
        return NULL;
    }

    buf = malloc(n / 2 + 1);
    if (buf == NULL) {
        return NULL;
    }

    for (i = 0; i < n / 2; i++) {
        hi = hex_value((unsigned char) hex[2 * i]);
        lo = hex_value((unsigned char) hex[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            free(buf);
            return NULL;
        }

        buf[i] = (unsigned char) (hi << 4 | lo);
    }

    *len = n / 2;

    return buf;
}


/* ---- helpers over the core (mt_core.h included first) ------------- */

#ifdef MT_CORE_H

#include <openssl/bio.h>
#include <openssl/pem.h>

/* a fresh key: ("RSA", bits), ("EC", curve name), ("ED25519", 0) ... */
static inline EVP_PKEY *
gen_key(const char *type, const char *curve, size_t bits)
{
    if (strcmp(type, "RSA") == 0) {
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits);
    }

    if (strcmp(type, "EC") == 0) {
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
    }

    return EVP_PKEY_Q_keygen(NULL, NULL, type);
}


/* PEM text of a key (private or SubjectPublicKeyInfo), malloc()ed */
static inline char *
pkey_pem(EVP_PKEY *pkey, int private, size_t *len)
{
    BIO   *bio;
    char  *data, *out;
    long   n;
    int    rc;

    bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return NULL;
    }

    rc = private ? PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL,
                                            NULL)
                 : PEM_write_bio_PUBKEY(bio, pkey);

    n = BIO_get_mem_data(bio, &data);
    out = NULL;

    if (rc == 1 && n > 0 && (out = malloc((size_t) n + 1)) != NULL) {
        memcpy(out, data, (size_t) n);
        out[n] = '\0';
        *len = (size_t) n;
    }

    BIO_free(bio);

    return out;
}


/* add a key to ks through its PEM form */
static inline mt_err_t
add_pkey(mt_keyset_t *ks, EVP_PKEY *pkey, int private)
{
    char      *pem, err[256];
    size_t     len;
    mt_err_t   rc;

    pem = pkey_pem(pkey, private, &len);
    if (pem == NULL) {
        return MT_ERR_INTERNAL;
    }

    rc = mt_keyset_add_pem(ks, pem, len, "generated", err, sizeof(err));
    if (rc != MT_OK) {
        diag("add_pkey: %s", err);
    }

    free(pem);

    return rc;
}


/* add a JWK given as JSON text */
static inline mt_err_t
add_jwk(mt_keyset_t *ks, const char *json, char *err, size_t errlen)
{
    return mt_keyset_add_jwks(ks, json, strlen(json), "test.jwk", err,
                              errlen);
}


/* base64url of a NUL-terminated text, malloc()ed and NUL-terminated */
static inline char *
b64url_str(const void *data, size_t len)
{
    char    *out;
    size_t   n;

    out = malloc(mt_base64url_encoded_len(len) + 1);
    if (out == NULL) {
        return NULL;
    }

    n = mt_base64url_encode(out, data, len);
    out[n] = '\0';

    return out;
}


/* "<b64url(header)>.<b64url(payload)>", malloc()ed */
static inline char *
signing_input(const char *header, const char *payload)
{
    char    *h, *p, *out;
    size_t   n;

    h = b64url_str(header, strlen(header));
    p = b64url_str(payload, strlen(payload));
    n = strlen(h) + strlen(p) + 2;
    out = malloc(n);
    snprintf(out, n, "%s.%s", h, p);
    free(h);
    free(p);

    return out;
}


/* a compact JWS with the given signature bytes */
static inline char *
jws_with_sig(const char *header, const char *payload,
    const unsigned char *sig, size_t sig_len)
{
    char    *in, *s, *out;
    size_t   n;

    in = signing_input(header, payload);
    s = b64url_str(sig, sig_len);
    n = strlen(in) + strlen(s) + 2;
    out = malloc(n);
    snprintf(out, n, "%s.%s", in, s);
    free(in);
    free(s);

    return out;
}


/* a compact JWS signed by key with alg; the header text is as given */
static inline char *
make_jws(const mt_key_t *key, mt_alg_t alg, const char *header,
    const char *payload)
{
    char           *in, *s, *out;
    size_t          n, sig_len;
    mt_err_t        rc;
    unsigned char   sig[1024];

    in = signing_input(header, payload);

    rc = mt_jws_sign(key, alg, (unsigned char *) in, strlen(in), sig,
                     &sig_len);
    if (rc != MT_OK) {
        diag("make_jws: mt_jws_sign(%s): %s", mt_alg_name(alg),
             mt_strerror(rc));
        free(in);
        return NULL;
    }

    s = b64url_str(sig, sig_len);
    n = strlen(in) + strlen(s) + 2;
    out = malloc(n);
    snprintf(out, n, "%s.%s", in, s);
    free(in);
    free(s);

    return out;
}


/* mt_jws_verify() and nothing else: the error code */
static inline mt_err_t
verify_token(const mt_keyset_t *ks, const char *token)
{
    mt_jws_t  jws;
    mt_err_t  rc;

    rc = mt_jws_verify(&jws, ks, token, strlen(token));
    mt_jws_clear(&jws);

    return rc;
}

#endif /* MT_CORE_H */

#endif /* MT_TEST_TAP_H */
