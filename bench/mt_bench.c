/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Micro-benchmarks for bench/run.sh, linked with the core (mt_*.c).
 *
 *   mt_bench mint KEY.pem N
 *       N distinct RS256 tokens (OAEP credential to the same key,
 *       "allowed": ["GET /.*"], exp in one day) on stdout, one a line.
 *
 *   mt_bench mint5 KEY.pem N
 *       the same with five "allowed" entries and a sub (1.1 kB tokens),
 *       the same five in every token.
 *
 *   mt_bench mint5u KEY.pem N
 *       the same, but the fourth entry names the token's number: every
 *       token has rules of its own (nothing to share, the worst case).
 *
 *   mt_bench core SECONDS TOKENFILE KEY...
 *       what nginx does on the cold path, in a loop: mt_token_verify,
 *       mt_token_authorize, mt_token_decrypt, mt_token_clear.  KEY is a
 *       PEM/JWK file, or secret:FILE for an HMAC secret (trusted to sign
 *       credentials).
 *
 *   mt_bench restore SECONDS TOKENFILE
 *       what a shared-cache hit (magic_token_cache zone=) costs the core:
 *       the claims of the token's bytes and its rules, then
 *       mt_token_clear; "restore" is mt_token_restore (all the claims,
 *       "allowed" compiled every time), "restore-interned"
 *       mt_token_restore_interned (the claims without the credential's
 *       ciphertext, the rules from an intern table, mt_intern.c, where a
 *       token like it, a cache entry, holds them).  TOKENFILE holds one
 *       token.
 *
 *   mt_bench raw SECONDS KEY.pem TOKENFILE
 *       the bare OpenSSL operations of an RS256 token with an OAEP
 *       credential: EVP_DigestVerify (RSASSA-PKCS1-v1_5, SHA-256) of its
 *       signing input, and EVP_PKEY_decrypt (RSA-OAEP, SHA-256) of its
 *       credential; no JSON, no base64, no regex.
 *
 *   mt_bench dpop SECONDS
 *       what a DPoP-bound token adds to every request, cache hit or not
 *       (docs/directives.md#magic_token_dpop): mt_dpop_verify of fresh
 *       proofs (ES256 and EdDSA holder keys made here, 1000 proofs each
 *       signed before the clock starts), with ath and jkt checked.  The
 *       replay store's insert (an rbtree in the zone) is not included.
 *
 *   mt_bench chain SECONDS KEY.pem
 *       chains (docs/attenuation.md) against the plain token: a root as
 *       "mint" makes them, open to a holder key, and 3 links, ES256 (EC
 *       P-256 holder keys, what "magic-token attenuate --new-key" makes)
 *       and EdDSA (Ed25519).  Cold: mt_chain_verify + authorize +
 *       decrypt; from a cached prefix of 2, 1 or 0 links (what the cache
 *       keeps: the elements and the key the last names), the new links
 *       with mt_chain_verify_from + authorize; a hit: authorize and the
 *       audience check alone.  "link": a new last link on a cached
 *       prefix (1 new link - hit), against EVP_DigestVerify of a link
 *       alone; "link-import": a further new link, which also imports the
 *       key the new open link before it names (2 new links - 1).
 *
 *   mt_bench chains KEY.pem N
 *       for bench/run.sh: a chain of 3 ES256 links over a root as "mint"
 *       makes, then N chains over its first 2 links, each with a new
 *       last link, one a line.
 *
 *   mt_bench dpoplist KEY.pem N URL...
 *       for bench/run.sh: a token as "mint" makes, bound (cnf.jkt) to a
 *       new ES256 key, and for each URL N fresh proofs for GET URL, one
 *       "TOKEN PROOF" line each (bench/requests.pl sends them as DPoP).
 *
 *   mt_bench scrub SECONDS
 *       the response scrubber (mt_scrub.c) over a body of text, fed in
 *       8 KiB slices as the filter does: once with no credential in it,
 *       once with the credential every KiB; "ops" are KiB scanned.
 *
 * Every mode prints "name ops/s us/op" lines.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "mt_core.h"


#define BENCH_CRED  "ghp_BenchmarkCredential0123456789abcdef"


static double
now_s(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static char *
read_file(const char *path, size_t *len)
{
    FILE  *f;
    char  *buf;
    long   n;

    f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    buf = malloc(n + 1);
    if (buf == NULL || fread(buf, 1, n, f) != (size_t) n) {
        fprintf(stderr, "%s: read error\n", path);
        exit(1);
    }

    fclose(f);

    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        n--;
    }

    buf[n] = '\0';
    *len = n;

    return buf;
}


static void
report(const char *name, long ops, double secs)
{
    printf("%s %.1f %.2f\n", name, ops / secs, secs * 1e6 / ops);
}


static mt_keyset_t *
load_keys(char **argv, int n)
{
    int           i;
    char          err[256];
    char         *buf;
    size_t        len;
    mt_keyset_t  *ks;

    ks = mt_keyset_new();

    for (i = 0; i < n; i++) {
        err[0] = '\0';

        if (strncmp(argv[i], "secret:", 7) == 0) {
            /* the file's bytes, as magic_token_secret reads them */
            FILE  *f = fopen(argv[i] + 7, "rb");
            char   sbuf[4097];

            if (f == NULL) {
                perror(argv[i] + 7);
                exit(1);
            }

            len = fread(sbuf, 1, sizeof(sbuf) - 1, f);
            fclose(f);
            buf = sbuf;

            if (mt_keyset_add_secret(ks, (unsigned char *) buf, len, NULL, 0,
                                     err, sizeof(err))
                != MT_OK)
            {
                fprintf(stderr, "%s: %s\n", argv[i], err);
                exit(1);
            }

            /* as "magic_token_secret FILE credentials;" in run.sh */
            mt_keyset_trust_credentials(ks, mt_keyset_count(ks) - 1);

            continue;
        }

        if (mt_keyset_add_file(ks, argv[i], err, sizeof(err)) != MT_OK) {
            fprintf(stderr, "%s: %s\n", argv[i], err);
            exit(1);
        }
    }

    return ks;
}


/*
 * wide: 5 "allowed" entries and a sub (a 1.2 kB token), else one; 2: the
 * fourth entry differs in every token
 */
static int
cmd_mint(const char *keyfile, long n, int wide)
{
    long            i;
    char            err[256], *out, jti[32], own[64];
    size_t          out_len;
    json_t         *claims;
    mt_keyset_t    *ks;
    mt_mint_opts_t  opts;
    const mt_key_t *key;

    ks = mt_keyset_new();

    if (mt_keyset_add_file(ks, keyfile, err, sizeof(err)) != MT_OK) {
        fprintf(stderr, "%s: %s\n", keyfile, err);
        return 1;
    }

    key = mt_keyset_get(ks, 0);

    memset(&opts, 0, sizeof(opts));
    opts.sign_key = key;
    opts.alg = MT_ALG_RS256;
    opts.enc_key = key;

    for (i = 0; i < n; i++) {
        snprintf(jti, sizeof(jti), "bench-%ld", i);
        snprintf(own, sizeof(own), "PUT /v1/items/%s[a-z0-9-]+",
                 wide == 2 ? jti : "");

        if (wide) {
            claims = json_pack("{s:I, s:I, s:[s,s,s,s,s], s:s, s:s}",
                               "iat", (json_int_t) time(NULL),
                               "exp", (json_int_t) time(NULL) + 86400,
                               "allowed", "GET /v1/users/[0-9]+",
                               "POST /v1/items", "GET /v1/items/.*",
                               own, "GET /.*",
                               "jti", jti, "sub", "service-account-0042");
        } else {
            claims = json_pack("{s:I, s:I, s:[s], s:s}",
                               "iat", (json_int_t) time(NULL),
                               "exp", (json_int_t) time(NULL) + 86400,
                               "allowed", "GET /.*", "jti", jti);
        }

        if (claims == NULL
            || mt_token_mint(&opts, claims, (const unsigned char *)
                             BENCH_CRED, sizeof(BENCH_CRED) - 1,
                             &out, &out_len)
               != MT_OK)
        {
            fprintf(stderr, "mint failed\n");
            return 1;
        }

        fwrite(out, 1, out_len, stdout);
        fputc('\n', stdout);
        free(out);
        json_decref(claims);
    }

    mt_keyset_free(ks);

    return 0;
}


static int
cmd_core(double secs, const char *tokfile, char **keys, int nkeys)
{
    long          ops;
    char         *tok;
    size_t        len, mlen;
    double        t0, t;
    mt_err_t      rc;
    mt_token_t    t_;
    const char   *matched;
    mt_keyset_t  *ks;

    tok = read_file(tokfile, &len);
    ks = load_keys(keys, nkeys);

    ops = 0;
    t0 = now_s();

    do {
        for (int i = 0; i < 50; i++) {
            rc = mt_token_verify(&t_, ks, tok, len, time(NULL), 0,
                                 MT_MATCH_FULL);
            if (rc == MT_OK) {
                rc = mt_token_authorize(&t_, NULL, 0, MT_MATCH_FULL, "GET", 3,
                                        "/x", 2, &matched, &mlen);
            }
            if (rc == MT_OK) {
                rc = mt_token_decrypt(&t_, ks);
            }
            if (rc != MT_OK) {
                fprintf(stderr, "%s: %s\n", tokfile, mt_strerror(rc));
                return 1;
            }
            mt_token_clear(&t_);
            ops++;
        }

        t = now_s() - t0;

    } while (t < secs);

    report("core", ops, t);

    mt_keyset_free(ks);
    free(tok);

    return 0;
}


static int
cmd_restore(double secs, const char *tokfile)
{
    int                 interned;
    long                ops;
    char               *tok;
    size_t              len;
    double              t0, t;
    mt_err_t            rc;
    mt_token_t          held, t_;
    mt_rules_intern_t  *in;

    tok = read_file(tokfile, &len);

    for (interned = 0; interned < 2; interned++) {
        in = interned ? mt_rules_intern_new(1024) : NULL;

        /* a cache entry of a token like it: its rules stay interned */
        rc = mt_token_restore_interned(&held, tok, len, time(NULL), 0,
                                       MT_MATCH_FULL, in);
        if (rc != MT_OK) {
            fprintf(stderr, "%s: %s\n", tokfile, mt_strerror(rc));
            return 1;
        }

        ops = 0;
        t0 = now_s();

        do {
            for (int i = 0; i < 50; i++) {
                rc = interned
                     ? mt_token_restore_interned(&t_, tok, len, time(NULL),
                                                 0, MT_MATCH_FULL, in)
                     : mt_token_restore(&t_, tok, len, time(NULL), 0,
                                        MT_MATCH_FULL);
                if (rc != MT_OK) {
                    fprintf(stderr, "%s: %s\n", tokfile, mt_strerror(rc));
                    return 1;
                }

                mt_token_clear(&t_);
                ops++;
            }

            t = now_s() - t0;

        } while (t < secs);

        report(interned ? "restore-interned" : "restore", ops, t);

        mt_token_clear(&held);
        mt_rules_intern_free(in);
    }

    free(tok);

    return 0;
}


static int
cmd_raw(double secs, const char *keyfile, const char *tokfile)
{
    long           ops;
    char          *tok, *p, *dot2, err[256];
    size_t         len, sig_len, cred_len, out_len, plen;
    double         t0, t;
    json_t        *claims, *cred;
    EVP_PKEY      *pkey;
    EVP_MD_CTX    *md;
    EVP_PKEY_CTX  *pctx;
    mt_keyset_t   *ks;
    unsigned char  sig[1024], ct[1024], out[1024], payload[16384];

    tok = read_file(tokfile, &len);

    ks = mt_keyset_new();
    if (mt_keyset_add_file(ks, keyfile, err, sizeof(err)) != MT_OK) {
        fprintf(stderr, "%s: %s\n", keyfile, err);
        return 1;
    }

    pkey = mt_key_pkey(mt_keyset_get(ks, 0));

    /* header.payload.signature: the inputs, decoded once, outside the loop */
    p = strchr(tok, '.');
    dot2 = strchr(p + 1, '.');

    if (mt_base64url_decode(sig, &sig_len, dot2 + 1, len - (dot2 + 1 - tok))
        != MT_OK
        || mt_base64url_decode(payload, &plen, p + 1, dot2 - p - 1) != MT_OK
        || mt_json_parse_object(&claims, (char *) payload, plen, 64) != MT_OK)
    {
        fprintf(stderr, "%s: not an RS256 token\n", tokfile);
        return 1;
    }

    cred = json_object_get(claims, "token");
    if (!json_is_string(cred)
        || mt_base64_decode(ct, &cred_len, json_string_value(cred),
                            json_string_length(cred))
           != MT_OK)
    {
        fprintf(stderr, "%s: no OAEP credential\n", tokfile);
        return 1;
    }

    /* RS256 verify */

    md = EVP_MD_CTX_new();
    ops = 0;
    t0 = now_s();

    do {
        for (int i = 0; i < 50; i++) {
            if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) != 1
                || EVP_DigestVerify(md, sig, sig_len, (unsigned char *) tok,
                                    dot2 - tok) != 1)
            {
                fprintf(stderr, "raw verify failed\n");
                return 1;
            }
            EVP_MD_CTX_reset(md);
            ops++;
        }
        t = now_s() - t0;
    } while (t < secs / 2);

    report("raw_rs256_verify", ops, t);

    /* RSA-OAEP-SHA256 decrypt */

    ops = 0;
    t0 = now_s();

    do {
        for (int i = 0; i < 5; i++) {
            pctx = EVP_PKEY_CTX_new(pkey, NULL);
            out_len = sizeof(out);

            if (pctx == NULL
                || EVP_PKEY_decrypt_init(pctx) != 1
                || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING)
                   != 1
                || EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) != 1
                || EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1
                || EVP_PKEY_decrypt(pctx, out, &out_len, ct, cred_len) != 1)
            {
                fprintf(stderr, "raw decrypt failed\n");
                return 1;
            }
            EVP_PKEY_CTX_free(pctx);
            ops++;
        }
        t = now_s() - t0;
    } while (t < secs / 2);

    report("raw_oaep_decrypt", ops, t);

    EVP_MD_CTX_free(md);
    json_decref(claims);
    mt_keyset_free(ks);
    free(tok);

    return 0;
}


/* a new key of this type, and its jkt */
static mt_keyset_t *
dpop_key(const char *type, const char *curve, char *jkt)
{
    BIO          *bio;
    char         *pem;
    long          pem_len;
    json_t       *jwk;
    EVP_PKEY     *pkey;
    mt_keyset_t  *ks;

    pkey = curve ? EVP_PKEY_Q_keygen(NULL, NULL, type, curve)
                 : EVP_PKEY_Q_keygen(NULL, NULL, type);
    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
    pem_len = BIO_get_mem_data(bio, &pem);

    ks = mt_keyset_new();
    if (mt_keyset_add_pem(ks, pem, (size_t) pem_len, "bench", NULL, 0)
        != MT_OK)
    {
        fprintf(stderr, "bench: %s key\n", type);
        exit(1);
    }

    BIO_free(bio);
    EVP_PKEY_free(pkey);

    if (jkt != NULL) {
        mt_key_public_jwk(mt_keyset_get(ks, 0), &jwk);
        mt_jwk_thumbprint(jwk, jkt);
        json_decref(jwk);
    }

    return ks;
}


/* n proofs by ks's key for GET htu, with the ath of token */
static char **
dpop_sign(mt_keyset_t *ks, mt_alg_t alg, const char *token, const char *htu,
    int n)
{
    int              i;
    char           **out, *h, *c, in[4096], ath[MT_DPOP_JKT_LEN + 1];
    char            *w;
    size_t           sig_len;
    json_t          *jwk;
    unsigned char    sig[1024];
    const mt_key_t  *key;

    /* jti: unique for the key across calls (the replay store's key) */
    static long      jti;

    key = mt_keyset_get(ks, 0);
    mt_key_public_jwk(key, &jwk);
    mt_dpop_ath(ath, token, strlen(token));

    h = json_dumps(jwk, JSON_COMPACT);
    json_decref(jwk);

    out = malloc(n * sizeof(char *));

    for (i = 0; i < n; i++) {
        c = malloc(strlen(h) + strlen(htu) + 512);
        sprintf(c, "{\"typ\":\"dpop+jwt\",\"alg\":\"%s\",\"jwk\":%s}",
                mt_alg_name(alg), h);
        w = in + mt_base64url_encode(in, (unsigned char *) c, strlen(c));
        *w++ = '.';
        sprintf(c, "{\"jti\":\"bench-%ld\",\"htm\":\"GET\","
                "\"htu\":\"%s\",\"iat\":%lld,\"ath\":\"%s\"}",
                jti++, htu, (long long) time(NULL), ath);
        w += mt_base64url_encode(w, (unsigned char *) c, strlen(c));
        free(c);

        if (mt_jws_sign(key, alg, (unsigned char *) in, (size_t) (w - in),
                        sig, &sig_len) != MT_OK)
        {
            fprintf(stderr, "dpop: signing failed\n");
            exit(1);
        }

        *w++ = '.';
        w += mt_base64url_encode(w, sig, sig_len);
        *w = '\0';
        out[i] = strdup(in);
    }

    free(h);

    return out;
}


/* n proofs by a new key of this type for GET http://bench/x, and jkt */
static char **
dpop_proofs(const char *type, const char *curve, mt_alg_t alg,
    const char *token, int n, char *jkt)
{
    char         **out;
    mt_keyset_t   *ks;

    ks = dpop_key(type, curve, jkt);
    out = dpop_sign(ks, alg, token, "http://bench/x", n);
    mt_keyset_free(ks);

    return out;
}


static int
cmd_dpop(double secs)
{
    int             k, i;
    long            ops;
    char          **p, jkt[MT_DPOP_JKT_LEN + 1];
    double          t0, t;
    mt_dpop_t       d;
    mt_dpop_req_t   req;
    const char     *token = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln";

    static const struct {
        const char  *name, *type, *curve;
        mt_alg_t     alg;
    } kinds[] = {
        { "dpop-es256", "EC", "P-256", MT_ALG_ES256 },
        { "dpop-eddsa", "ED25519", NULL, MT_ALG_EDDSA },
    };

    for (k = 0; k < 2; k++) {
        p = dpop_proofs(kinds[k].type, kinds[k].curve, kinds[k].alg, token,
                        1000, jkt);

        memset(&req, 0, sizeof(req));
        req.method = "GET";
        req.method_len = 3;
        req.htu = "http://bench/x";
        req.htu_len = 14;
        req.token = token;
        req.token_len = strlen(token);
        req.jkt = jkt;
        req.jkt_len = MT_DPOP_JKT_LEN;
        req.window = 600;
        req.leeway = 5;

        ops = 0;
        t0 = now_s();

        do {
            for (i = 0; i < 50; i++) {
                req.now = (int64_t) time(NULL);

                if (mt_dpop_verify(&d, p[ops % 1000], strlen(p[ops % 1000]),
                                   &req) != MT_OK)
                {
                    fprintf(stderr, "%s: refused\n", kinds[k].name);
                    return 1;
                }

                ops++;
            }

            t = now_s() - t0;

        } while (t < secs);

        report(kinds[k].name, ops, t);

        for (i = 0; i < 1000; i++) {
            free(p[i]);
        }

        free(p);
    }

    return 0;
}


/* ---- chains ---------------------------------------------------------- */

/* a token as "mint" makes (RS256, the credential RSA-OAEP to the key);
 * with holder, open to its key */
static char *
bench_root(mt_keyset_t *ks, const mt_keyset_t *holder, const char *jti)
{
    char            *out;
    size_t           out_len;
    json_t          *claims, *jwk;
    mt_mint_opts_t   opts;

    memset(&opts, 0, sizeof(opts));
    opts.sign_key = mt_keyset_get(ks, 0);
    opts.alg = MT_ALG_RS256;
    opts.enc_key = opts.sign_key;

    claims = json_pack("{s:I, s:I, s:[s], s:s}",
                       "iat", (json_int_t) time(NULL),
                       "exp", (json_int_t) time(NULL) + 86400,
                       "allowed", "GET /.*", "jti", jti);

    if (holder != NULL) {
        mt_key_public_jwk(mt_keyset_get(holder, 0), &jwk);
        json_object_set_new(claims, "cnf", json_pack("{s:o}", "jwk", jwk));
    }

    if (mt_token_mint(&opts, claims, (const unsigned char *) BENCH_CRED,
                      sizeof(BENCH_CRED) - 1, &out, &out_len)
        != MT_OK)
    {
        fprintf(stderr, "mint failed\n");
        exit(1);
    }

    json_decref(claims);

    return out;
}


/* chain (freed) and a link by h, open to next's key or terminal */
static char *
bench_link(char *chain, const mt_keyset_t *h, mt_alg_t alg,
    const mt_keyset_t *next, int i)
{
    char    *out, jti[32];
    size_t   out_len;
    json_t  *claims, *jwk;

    snprintf(jti, sizeof(jti), "link-%d", i);
    claims = json_pack("{s:[s], s:I, s:s}", "allowed", "GET /.*", "exp",
                       (json_int_t) time(NULL) + 86400, "jti", jti);

    if (next != NULL) {
        mt_key_public_jwk(mt_keyset_get(next, 0), &jwk);
        json_object_set_new(claims, "cnf", json_pack("{s:o}", "jwk", jwk));
    }

    if (mt_chain_attenuate(chain, strlen(chain), mt_keyset_get(h, 0), alg,
                           claims, &out, &out_len)
        != MT_OK)
    {
        fprintf(stderr, "attenuate failed\n");
        exit(1);
    }

    json_decref(claims);
    free(chain);

    return out;
}


typedef struct {
    mt_keyset_t   *ks;
    const char    *tok;
    size_t         len;
    mt_token_t    *token;       /* verified: the plain hit */
    mt_chain_t    *full;        /* verified: prefixes, the chain hit */
    size_t         from;        /* elements cached */
    EVP_PKEY      *pkey;        /* raw: the last link's key */
    unsigned char *sig;
    size_t         sig_len;
    int            eddsa;
} bench_ctx_t;


static void
bench_fail(const char *what, mt_err_t rc)
{
    fprintf(stderr, "%s: %s\n", what, mt_strerror(rc));
    exit(1);
}


static void
bench_plain_cold(bench_ctx_t *b)
{
    size_t       mlen;
    mt_err_t     rc;
    mt_token_t   t;
    const char  *m;

    rc = mt_token_verify(&t, b->ks, b->tok, b->len, time(NULL), 0,
                         MT_MATCH_FULL);
    if (rc == MT_OK) {
        rc = mt_token_authorize(&t, NULL, 0, MT_MATCH_FULL, "GET", 3, "/x", 2,
                                &m, &mlen);
    }
    if (rc == MT_OK) {
        rc = mt_token_decrypt(&t, b->ks);
    }
    if (rc != MT_OK) {
        bench_fail("plain", rc);
    }
    mt_token_clear(&t);
}


static void
bench_plain_hit(bench_ctx_t *b)
{
    size_t       mlen;
    mt_err_t     rc;
    const char  *m;

    rc = mt_token_authorize(b->token, NULL, 0, MT_MATCH_FULL, "GET", 3, "/x",
                            2, &m, &mlen);
    if (rc != MT_OK) {
        bench_fail("plain hit", rc);
    }
}


static void
bench_chain_cold(bench_ctx_t *b)
{
    size_t       mlen;
    mt_err_t     rc;
    mt_chain_t   c;
    const char  *m;

    rc = mt_chain_verify(&c, b->ks, b->tok, b->len, time(NULL), 0,
                         MT_MATCH_FULL);
    if (rc == MT_OK) {
        rc = mt_chain_authorize(&c, NULL, 0, MT_MATCH_FULL, "GET", 3, "/x", 2,
                                &m, &mlen);
    }
    if (rc == MT_OK) {
        rc = mt_token_decrypt(&c.root, b->ks);
    }
    if (rc != MT_OK) {
        bench_fail("chain", rc);
    }
    mt_chain_clear(&c);
}


/* what a hit checks: the audiences of the links, every element's scopes */
static void
bench_chain_hit(bench_ctx_t *b)
{
    size_t       mlen;
    mt_err_t     rc;
    const char  *m;

    rc = mt_chain_check_audience(b->full, NULL, NULL, 0);
    if (rc == MT_OK) {
        rc = mt_chain_authorize(b->full, NULL, 0, MT_MATCH_FULL, "GET", 3,
                                "/x", 2, &m, &mlen);
    }
    if (rc != MT_OK) {
        bench_fail("chain hit", rc);
    }
}


/* the new links after b->from cached elements, then as a hit */
static void
bench_chain_prefix(bench_ctx_t *b)
{
    size_t       i, mlen;
    mt_err_t     rc;
    mt_chain_t   c;
    const char  *m;

    memset(&c, 0, sizeof(c));
    c.root = b->full->root;
    c.exp = b->full->exp;

    for (i = 0; i + 1 < b->from; i++) {
        c.links[i] = b->full->links[i];
    }

    c.n_links = b->from - 1;
    c.borrowed = b->from;

    rc = mt_chain_verify_from(&c, b->from, b->full->links[b->from - 1].key,
                              b->tok, b->len, time(NULL), 0, MT_MATCH_FULL);
    if (rc == MT_OK) {
        rc = mt_chain_check_audience(&c, NULL, NULL, 0);
    }
    if (rc == MT_OK) {
        rc = mt_chain_authorize(&c, NULL, 0, MT_MATCH_FULL, "GET", 3, "/x", 2,
                                &m, &mlen);
    }
    if (rc != MT_OK) {
        bench_fail("chain prefix", rc);
    }
    mt_chain_clear(&c);
}


static void
bench_raw_link(bench_ctx_t *b)
{
    static EVP_MD_CTX  *md;
    const char         *last, *dot;

    if (md == NULL) {
        md = EVP_MD_CTX_new();
    }

    last = strrchr(b->tok, MT_CHAIN_SEP) + 1;
    dot = strrchr(last, '.');

    if (EVP_DigestVerifyInit(md, NULL, b->eddsa ? NULL : EVP_sha256(), NULL,
                             b->pkey) != 1
        || EVP_DigestVerify(md, b->sig, b->sig_len, (unsigned char *) last,
                            (size_t) (dot - last)) != 1)
    {
        fprintf(stderr, "raw link verify failed\n");
        exit(1);
    }

    EVP_MD_CTX_reset(md);
}


/* µs per call of f, over secs */
static double
bench_us(double secs, void (*f)(bench_ctx_t *), bench_ctx_t *b)
{
    long    ops;
    double  t0, t;

    ops = 0;
    t0 = now_s();

    do {
        for (int i = 0; i < 20; i++) {
            f(b);
            ops++;
        }

        t = now_s() - t0;

    } while (t < secs);

    return t * 1e6 / ops;
}


static void
bench_print(const char *name, double us)
{
    printf("%s %.1f %.2f\n", name, 1e6 / us, us);
}


/* the last link's signature, as EVP_DigestVerify takes it */
static void
bench_raw_sig(bench_ctx_t *b, const mt_keyset_t *h)
{
    char           *dot;
    size_t          n;
    BIGNUM         *r, *s;
    ECDSA_SIG      *es;
    unsigned char   raw[256], *p;

    dot = strrchr(b->tok, '.');
    mt_base64url_decode(raw, &n, dot + 1, strlen(dot + 1));

    b->pkey = mt_key_pkey(mt_keyset_get(h, 0));
    b->sig = malloc(256);

    if (b->eddsa) {
        memcpy(b->sig, raw, n);
        b->sig_len = n;
        return;
    }

    r = BN_bin2bn(raw, (int) n / 2, NULL);
    s = BN_bin2bn(raw + n / 2, (int) n / 2, NULL);
    es = ECDSA_SIG_new();
    ECDSA_SIG_set0(es, r, s);
    p = b->sig;
    b->sig_len = (size_t) i2d_ECDSA_SIG(es, &p);
    ECDSA_SIG_free(es);
}


static int
cmd_chain(double secs, const char *keyfile)
{
    int           k, j;
    char         *root, *c3, *plain, name[64];
    double        hit, pre[4];
    mt_err_t      rc;
    mt_chain_t    full;
    mt_token_t    t;
    mt_keyset_t  *ks, *h[3];
    bench_ctx_t   b;

    static const struct {
        const char  *name, *type, *curve;
        mt_alg_t     alg;
    } kinds[] = {
        { "es256", "EC", "P-256", MT_ALG_ES256 },
        { "eddsa", "ED25519", NULL, MT_ALG_EDDSA },
    };

    ks = load_keys((char **) &keyfile, 1);

    memset(&b, 0, sizeof(b));
    b.ks = ks;

    plain = bench_root(ks, NULL, "bench-plain");
    b.tok = plain;
    b.len = strlen(plain);
    bench_print("plain-cold", bench_us(secs, bench_plain_cold, &b));

    rc = mt_token_verify(&t, ks, plain, b.len, time(NULL), 0, MT_MATCH_FULL);
    if (rc != MT_OK) {
        bench_fail("plain", rc);
    }
    b.token = &t;
    bench_print("plain-hit", bench_us(secs, bench_plain_hit, &b));
    mt_token_clear(&t);

    for (k = 0; k < 2; k++) {
        for (j = 0; j < 3; j++) {
            h[j] = dpop_key(kinds[k].type, kinds[k].curve, NULL);
        }

        root = bench_root(ks, h[0], "bench-root");
        c3 = bench_link(strdup(root), h[0], kinds[k].alg, h[1], 1);
        c3 = bench_link(c3, h[1], kinds[k].alg, h[2], 2);
        c3 = bench_link(c3, h[2], kinds[k].alg, NULL, 3);

        b.tok = c3;
        b.len = strlen(c3);
        b.eddsa = (k == 1);

        snprintf(name, sizeof(name), "chain3-cold-%s", kinds[k].name);
        bench_print(name, bench_us(secs, bench_chain_cold, &b));

        rc = mt_chain_verify(&full, ks, c3, b.len, time(NULL), 0,
                             MT_MATCH_FULL);
        if (rc != MT_OK) {
            bench_fail("chain", rc);
        }
        b.full = &full;

        /* 1, 2, 3 new links: from 3, 2, 1 cached elements */
        for (j = 1; j <= 3; j++) {
            b.from = (size_t) (4 - j);
            pre[j] = bench_us(secs, bench_chain_prefix, &b);
            snprintf(name, sizeof(name), "chain3-prefix%d-%s", j,
                     kinds[k].name);
            bench_print(name, pre[j]);
        }

        hit = bench_us(secs, bench_chain_hit, &b);
        snprintf(name, sizeof(name), "chain3-hit-%s", kinds[k].name);
        bench_print(name, hit);

        /*
         * A new last link on a cached prefix: its signature check (the
         * key kept with the prefix); a new link after a new open one
         * adds the import of that one's cnf key as well.
         */
        snprintf(name, sizeof(name), "link-%s", kinds[k].name);
        bench_print(name, pre[1] - hit);
        snprintf(name, sizeof(name), "link-import-%s", kinds[k].name);
        bench_print(name, pre[2] - pre[1]);

        bench_raw_sig(&b, h[2]);
        snprintf(name, sizeof(name), "raw-%s-verify", kinds[k].name);
        bench_print(name, bench_us(secs, bench_raw_link, &b));

        free(b.sig);
        mt_chain_clear(&full);
        free(root);
        free(c3);

        for (j = 0; j < 3; j++) {
            mt_keyset_free(h[j]);
        }
    }

    free(plain);
    mt_keyset_free(ks);

    return 0;
}


/* a chain of 3 ES256 links, then n over its first 2 with a new last */
static int
cmd_chains(const char *keyfile, long n)
{
    int           j;
    long          i;
    char         *c2, *c;
    mt_keyset_t  *ks, *h[3];

    ks = load_keys((char **) &keyfile, 1);

    for (j = 0; j < 3; j++) {
        h[j] = dpop_key("EC", "P-256", NULL);
    }

    c2 = bench_root(ks, h[0], "bench-chain-root");
    c2 = bench_link(c2, h[0], MT_ALG_ES256, h[1], 1);
    c2 = bench_link(c2, h[1], MT_ALG_ES256, h[2], 2);

    for (i = 0; i <= n; i++) {
        c = bench_link(strdup(c2), h[2], MT_ALG_ES256, NULL, (int) i + 3);
        printf("%s\n", c);
        free(c);
    }

    free(c2);

    for (j = 0; j < 3; j++) {
        mt_keyset_free(h[j]);
    }

    mt_keyset_free(ks);

    return 0;
}


/* a bound token and n proofs for each url: "TOKEN PROOF" lines */
static int
cmd_dpoplist(const char *keyfile, int n, char **urls, int nurls)
{
    int            i, u;
    char          *tok, **p, jkt[MT_DPOP_JKT_LEN + 1];
    size_t         out_len;
    json_t        *claims;
    mt_keyset_t   *ks, *h;
    mt_mint_opts_t opts;

    ks = load_keys((char **) &keyfile, 1);
    h = dpop_key("EC", "P-256", jkt);

    memset(&opts, 0, sizeof(opts));
    opts.sign_key = mt_keyset_get(ks, 0);
    opts.alg = MT_ALG_RS256;
    opts.enc_key = opts.sign_key;

    claims = json_pack("{s:I, s:I, s:[s], s:s, s:{s:s}}",
                       "iat", (json_int_t) time(NULL),
                       "exp", (json_int_t) time(NULL) + 86400,
                       "allowed", "GET /.*", "jti", "bench-bound",
                       "cnf", "jkt", jkt);

    if (mt_token_mint(&opts, claims, (const unsigned char *) BENCH_CRED,
                      sizeof(BENCH_CRED) - 1, &tok, &out_len)
        != MT_OK)
    {
        fprintf(stderr, "mint failed\n");
        return 1;
    }

    json_decref(claims);

    for (u = 0; u < nurls; u++) {
        p = dpop_sign(h, MT_ALG_ES256, tok, urls[u], n);

        for (i = 0; i < n; i++) {
            printf("%s %s\n", tok, p[i]);
            free(p[i]);
        }

        free(p);
    }

    free(tok);
    mt_keyset_free(h);
    mt_keyset_free(ks);

    return 0;
}


static int
cmd_scrub(double seconds)
{
    char           *name;
    long            kib;
    size_t          i, n, hits, len, body_len;
    double          t0;
    mt_scrub_t     *s;
    unsigned char  *body, *out;
    int             echo;

    body_len = 1024 * 1024;
    body = malloc(body_len);
    out = malloc(body_len + 8192);

    if (body == NULL || out == NULL
        || mt_scrub_new(&s, (unsigned char *) BENCH_CRED,
                        sizeof(BENCH_CRED) - 1) != MT_OK)
    {
        fprintf(stderr, "scrub: out of memory\n");
        return 1;
    }

    for (echo = 0; echo < 2; echo++) {
        for (i = 0; i < body_len; i++) {
            body[i] = (unsigned char) "{\"login\": \"octocat\", \"id\": 1}\n"
                                      [i % 33];
        }

        if (echo) {
            for (i = 0; i + sizeof(BENCH_CRED) < body_len; i += 1024) {
                memcpy(body + i, BENCH_CRED, sizeof(BENCH_CRED) - 1);
            }
        }

        kib = 0;
        hits = 0;
        t0 = now_s();

        do {
            for (i = 0; i < body_len; i += 8192) {
                n = body_len - i < 8192 ? body_len - i : 8192;
                mt_scrub_feed(s, body + i, n, i + n == body_len, out, &len,
                              &hits);
            }

            kib += (long) (body_len / 1024);

        } while (now_s() - t0 < seconds);

        name = echo ? "scrub-echo-per-KiB" : "scrub-clean-per-KiB";
        report(name, kib, now_s() - t0);
    }

    mt_scrub_free(s);
    free(body);
    free(out);

    return 0;
}


int
main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "mint") == 0) {
        return cmd_mint(argv[2], atol(argv[3]), 0);
    }

    if (argc == 4 && strcmp(argv[1], "mint5") == 0) {
        return cmd_mint(argv[2], atol(argv[3]), 1);
    }

    if (argc == 4 && strcmp(argv[1], "mint5u") == 0) {
        return cmd_mint(argv[2], atol(argv[3]), 2);
    }

    if (argc >= 5 && strcmp(argv[1], "core") == 0) {
        return cmd_core(atof(argv[2]), argv[3], argv + 4, argc - 4);
    }

    if (argc == 4 && strcmp(argv[1], "restore") == 0) {
        return cmd_restore(atof(argv[2]), argv[3]);
    }

    if (argc == 5 && strcmp(argv[1], "raw") == 0) {
        return cmd_raw(atof(argv[2]), argv[3], argv[4]);
    }

    if (argc == 4 && strcmp(argv[1], "chain") == 0) {
        return cmd_chain(atof(argv[2]), argv[3]);
    }

    if (argc == 4 && strcmp(argv[1], "chains") == 0) {
        return cmd_chains(argv[2], atol(argv[3]));
    }

    if (argc >= 5 && strcmp(argv[1], "dpoplist") == 0) {
        return cmd_dpoplist(argv[2], atoi(argv[3]), argv + 4, argc - 4);
    }

    if (argc == 3 && strcmp(argv[1], "scrub") == 0) {
        return cmd_scrub(atof(argv[2]));
    }

    if (argc == 3 && strcmp(argv[1], "dpop") == 0) {
        return cmd_dpop(atof(argv[2]));
    }

    fprintf(stderr,
            "usage: mt_bench mint|mint5|mint5u KEY N\n"
            "       mt_bench scrub SECONDS\n"
            "       mt_bench dpop SECONDS\n"
            "       mt_bench chain SECONDS KEY\n"
            "       mt_bench chains KEY N\n"
            "       mt_bench dpoplist KEY N URL...\n"
            "       mt_bench core SECONDS TOKENFILE KEY|secret:FILE...\n"
            "       mt_bench restore SECONDS TOKENFILE\n"
            "       mt_bench raw SECONDS KEY TOKENFILE\n");

    return 2;
}
