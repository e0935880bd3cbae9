/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Writes the generated part of the seed corpus (fuzz/corpus/<harness>/
 * gen-*) with the fixture keys: signed tokens, JWEs for every alg/enc,
 * claims with encrypted credentials.  ECDSA, PSS and JWE outputs are
 * randomised, so a rerun changes those files; that is harmless.
 *
 *   cc -std=c99 -D_POSIX_C_SOURCE=200809L -Ingx_http_magic_token_module \
 *      -Ifuzz -o build/fuzz/gen_seeds fuzz/gen_seeds.c \
 *      ngx_http_magic_token_module/mt_*.c -ljansson -lpcre2-8 -lcrypto
 *   build/fuzz/gen_seeds fuzz/corpus
 */

#include <errno.h>
#include <sys/stat.h>

#include "common.h"


static const char  *root;
static mt_keyset_t *ks;


static void
put(const char *dir, const char *name, const void *data, size_t len)
{
    char   path[1024];
    FILE  *f;

    snprintf(path, sizeof(path), "%s/%s", root, dir);

    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }

    snprintf(path, sizeof(path), "%s/%s/gen-%s", root, dir, name);

    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}


static void
puts_(const char *dir, const char *name, const char *s)
{
    put(dir, name, s, strlen(s));
}


static char *
sign(int key, mt_alg_t alg, const char *header, const char *payload)
{
    char  *tok;

    tok = fx_sign(mt_keyset_get(ks, key), alg, header, strlen(header),
                  (const unsigned char *) payload, strlen(payload), NULL);
    if (tok == NULL) {
        fprintf(stderr, "signing %s failed\n", header);
        exit(1);
    }

    return tok;
}


static char *
jwe(int key, const char *alg, const char *enc, const char *kid,
    const char *plain)
{
    char    *out;
    size_t   len;

    if (mt_jwe_encrypt(mt_keyset_get(ks, key), alg, enc, kid,
                       (const unsigned char *) plain, strlen(plain), &out,
                       &len) != MT_OK)
    {
        fprintf(stderr, "mt_jwe_encrypt %s %s failed\n", alg, enc);
        exit(1);
    }

    return out;
}


static void
gen_jws(void)
{
    char          name[64], *tok, *t2;
    size_t        i;
    mt_keyset_t  *other;
    char          err[256];

    for (i = 0; i < FX_N_SIGNED; i++) {
        tok = sign(fx_signed[i].key, fx_signed[i].alg, fx_signed[i].header,
                   fx_signed[i].payload);
        snprintf(name, sizeof(name), "signed-%02zu-%s", i,
                 mt_alg_name(fx_signed[i].alg));
        puts_("jws", name, tok);

        /* the same, in the harness's raw "header\npayload\nsig" form */
        {
            char           *raw, *sig;
            size_t          hl, pl, sl;
            unsigned char  *sb;

            sig = strrchr(tok, '.') + 1;
            sb = malloc(strlen(sig));
            if (sb == NULL
                || mt_base64url_decode(sb, &sl, sig, strlen(sig)) != MT_OK)
            {
                exit(1);
            }

            hl = strlen(fx_signed[i].header);
            pl = strlen(fx_signed[i].payload);
            raw = malloc(hl + pl + sl + 2);
            memcpy(raw, fx_signed[i].header, hl);
            raw[hl] = '\n';
            memcpy(raw + hl + 1, fx_signed[i].payload, pl);
            raw[hl + 1 + pl] = '\n';
            memcpy(raw + hl + pl + 2, sb, sl);

            snprintf(name, sizeof(name), "raw-signed-%02zu-%s", i,
                     mt_alg_name(fx_signed[i].alg));
            put("jws", name, raw, hl + pl + sl + 2);
            free(raw);
            free(sb);
        }

        free(tok);
    }

    put("jws", "raw-crit", "{\"alg\":\"ES256\",\"crit\":[\"b64\"],"
        "\"b64\":false}\n{}\nAAAA", 50);
    put("jws", "raw-kid", "{\"alg\":\"HS512\",\"kid\":\"x25519\"}\n"
        "{\"exp\":1}\n0123456789", 51);

    /* must all fail: the wrong keys, confusions, forbidden headers */
    /* the 32-byte oct encryption key (bytes 20..3f) used as an HMAC key */
    {
        unsigned char  k[32];

        for (i = 0; i < 32; i++) {
            k[i] = (unsigned char) (0x20 + i);
        }

        other = mt_keyset_new();
        if (mt_keyset_add_secret(other, k, 32, NULL, 0, err, sizeof(err))
            != MT_OK)
        {
            exit(1);
        }

        tok = fx_sign(mt_keyset_get(other, 0), MT_ALG_HS256,
                      "{\"alg\":\"HS256\"}", 15,
                      (const unsigned char *) FX_CLAIMS, strlen(FX_CLAIMS),
                      NULL);
        puts_("jws", "hs256-with-enc-key", tok);
        free(tok);
        mt_keyset_free(other);
    }

    other = mt_keyset_new();
    if (mt_keyset_add_secret(other, (const unsigned char *) fx_rsa_pem,
                             strlen(fx_rsa_pem), NULL, 0, err, sizeof(err))
        != MT_OK)
    {
        exit(1);
    }

    tok = fx_sign(mt_keyset_get(other, 0), MT_ALG_HS256,
                  "{\"alg\":\"HS256\"}", 15,
                  (const unsigned char *) FX_CLAIMS, strlen(FX_CLAIMS), NULL);
    puts_("jws", "hs256-keyed-with-rsa-pem", tok);
    free(tok);
    mt_keyset_free(other);

    tok = sign(FX_KEY_HMAC, MT_ALG_HS256,
               "{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}", FX_CLAIMS);
    puts_("jws", "crit", tok);
    free(tok);

    tok = sign(FX_KEY_HMAC, MT_ALG_HS256,
               "{\"alg\":\"HS256\",\"jwk\":{\"kty\":\"oct\",\"k\":\"AA\"}}",
               FX_CLAIMS);
    puts_("jws", "jwk-header", tok);
    free(tok);

    tok = sign(FX_KEY_HMAC, MT_ALG_HS256,
               "{\"alg\":\"HS256\",\"kid\":\"x25519\"}", FX_CLAIMS);
    puts_("jws", "kid-of-enc-key", tok);
    free(tok);

    tok = sign(FX_KEY_HMAC, MT_ALG_HS256,
               "{\"alg\":\"HS256\",\"alg\":\"none\"}", FX_CLAIMS);
    puts_("jws", "duplicate-alg", tok);
    free(tok);

    tok = sign(FX_KEY_EC, MT_ALG_ES256, "{\"alg\":\"ES256\",\"kid\":7}",
               "[1,2,3]");
    puts_("jws", "kid-number-array-payload", tok);
    free(tok);

    puts_("jws", "alg-none",
          "eyJhbGciOiJub25lIn0.eyJleHAiOjE3MDAwMDM2MDB9.");
    puts_("jws", "two-parts", "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9");

    tok = jwe(FX_KEY_OCT32, "dir", "A256GCM", NULL, FX_CLAIMS);
    puts_("jws", "a-jwe", tok);
    free(tok);

    /* an ES256 signature with a DER body instead of r||s */
    tok = sign(FX_KEY_EC, MT_ALG_ES256, "{\"alg\":\"ES256\"}", "{\"exp\":2}");
    t2 = strrchr(tok, '.');
    strcpy(t2 + 1, "MEUCIQDfakefakefakefakefakefakefakefakefakefakefakeCIAAAAA");
    puts_("jws", "es256-der-sig", tok);
    free(tok);
}


static void
gen_claims(void)
{
    char    *cred, *j, *c;
    size_t   len;

    puts_("claims", "basic", FX_CLAIMS);
    puts_("claims", "minimal", "{\"exp\":1700003600}");
    puts_("claims", "expired", "{\"exp\":1699999000}");
    puts_("claims", "nbf-future", "{\"exp\":1800000000,\"nbf\":1800000000}");
    puts_("claims", "exp-real", "{\"exp\":1.7e9}");
    puts_("claims", "exp-string", "{\"exp\":\"1800000000\"}");
    puts_("claims", "exp-huge",
          "{\"exp\":9223372036854775807,\"nbf\":-9223372036854775808,"
          "\"iat\":0}");
    puts_("claims", "duplicate", "{\"exp\":1800000000,\"exp\":1}");
    puts_("claims", "scopes",
          "{\"exp\":1800000000,\"scopes\":[\"read\",\"write\"]}");
    puts_("claims", "scopes-unknown",
          "{\"exp\":1800000000,\"scopes\":[\"nope\"],\"allowed\":null}");
    puts_("claims", "allowed-bad-regex",
          "{\"exp\":1800000000,\"allowed\":[\"GET /(\"]}");
    puts_("claims", "allowed-many",
          "{\"exp\":1800000000,\"allowed\":[\"GET /v1/items\","
          "\"* /admin/.*\",\"DELETE /admin/\",\"get /\",\"PO$T /x\","
          "\"GET (?i)/V1/ITEMS\",\"GET /v1/(a+)+$\"]}");
    puts_("claims", "aud",
          "{\"exp\":1800000000,\"aud\":\"api\",\"sub\":\"\\u00e9\\ud83d\\ude00\"}");
    puts_("claims", "not-object", "[{\"exp\":1800000000}]");
    puts_("claims", "token-number", "{\"exp\":1800000000,\"token\":5}");

    if (mt_credential_encrypt(mt_keyset_get(ks, FX_KEY_RSA),
                              (const unsigned char *) "Bearer sk-fuzz-123",
                              18, &cred, &len) != MT_OK)
    {
        exit(1);
    }

    c = malloc(len + 200);
    sprintf(c, "{\"exp\":1800000000,\"allowed\":[\"GET /v1/.*\"],"
            "\"token\":\"%s\"}", cred);
    puts_("claims", "credential-rsa", c);
    free(c);
    free(cred);

    j = jwe(FX_KEY_OCT32, "dir", "A256GCM", NULL, "Bearer sk-fuzz-jwe");
    c = malloc(strlen(j) + 200);
    sprintf(c, "{\"exp\":1800000000,\"scopes\":[\"any\"],\"token\":\"%s\"}",
            j);
    puts_("claims", "credential-jwe-dir", c);
    free(c);
    free(j);

    j = jwe(FX_KEY_X25519, "ECDH-ES", "A128CBC-HS256", "x25519",
            "token\x01with-control");
    c = malloc(strlen(j) + 200);
    sprintf(c, "{\"exp\":1800000000,\"allowed\":[],\"token\":\"%s\"}", j);
    puts_("claims", "credential-jwe-control", c);
    free(c);
    free(j);
}


static void
gen_jwe(void)
{
    int           a, e, key;
    char          name[96], *j;
    char          rt[64];
    static const char  *algs[] = {
        "RSA-OAEP", "RSA-OAEP-256", "ECDH-ES", "ECDH-ES+A128KW",
        "ECDH-ES+A256KW", "A128KW", "A256KW", "dir"
    };
    static const char  *encs[] = {
        "A128GCM", "A256GCM", "A128CBC-HS256", "A256CBC-HS512"
    };
    static const size_t  cek[] = { 16, 32, 32, 64 };
    mt_keyset_t  *other;
    char          err[256];

    for (a = 0; a < 8; a++) {
        for (e = 0; e < 4; e++) {
            switch (a) {
            case 0: case 1: key = FX_KEY_RSA; break;
            case 2: case 3: key = (e & 1) ? FX_KEY_X25519 : FX_KEY_EC; break;
            case 4: key = (e & 1) ? FX_KEY_EC : FX_KEY_X25519; break;
            case 5: key = FX_KEY_OCT16; break;
            case 6: key = FX_KEY_OCT32; break;
            default:
                key = cek[e] == 16 ? FX_KEY_OCT16
                      : cek[e] == 32 ? FX_KEY_OCT32 : FX_KEY_OCT64;
            }

            j = jwe(key, algs[a], encs[e],
                    key == FX_KEY_X25519 ? "x25519" : NULL,
                    "Bearer sk-fuzz-credential");
            snprintf(name, sizeof(name), "%s-%s", algs[a], encs[e]);
            puts_("jwe", name, j);
            free(j);
        }
    }

    /* "dir" with the HMAC secret as the CEK: must never decrypt */
    other = mt_keyset_new();
    if (mt_keyset_add_secret(other, (const unsigned char *) FX_HMAC_SECRET,
                             sizeof(FX_HMAC_SECRET) - 1, NULL, 0, err,
                             sizeof(err)) != MT_OK
        || mt_jwe_encrypt(mt_keyset_get(other, 0), "dir", "A256CBC-HS512",
                          NULL, (const unsigned char *) "FORBIDDEN: HMAC key",
                          19, &j, &(size_t){0}) != MT_OK)
    {
        exit(1);
    }

    puts_("jwe", "forbidden-hmac-secret-dir", j);
    free(j);
    mt_keyset_free(other);

    /* round-trip seeds: "!" + selector + plaintext */
    for (a = 0; a < 256; a += 9) {
        snprintf(rt, sizeof(rt), "!%cBearer sk-%d", (char) a, a);
        snprintf(name, sizeof(name), "roundtrip-%03d", a);
        put("jwe", name, rt, 2 + strlen(rt + 2));
    }

    /* a base64 RSA-OAEP credential */
    if (mt_credential_encrypt(mt_keyset_get(ks, FX_KEY_RSA),
                              (const unsigned char *) "Bearer sk-fuzz", 14,
                              &j, &(size_t){0}) != MT_OK)
    {
        exit(1);
    }

    puts_("jwe", "credential-b64", j);
    free(j);
}


static void
gen_mint(void)
{
    puts_("mint", "allowed",
          "{\"token\":\"Bearer sk-1\",\"allowed\":[\"GET /v1/.*\"]}");
    puts_("mint", "scopes",
          "{\"token\":\"sk\",\"scopes\":[\"read\",\"write\"],\"ttl\":60,"
          "\"sub\":\"alice\",\"aud\":[\"api\"],\"jti\":\"j1\"}");
    puts_("mint", "exp", "{\"token\":\"sk\",\"allowed\":[\"* .*\"],"
          "\"exp\":1700000100,\"aud\":\"api\"}");
    puts_("mint", "ttl-huge", "{\"token\":\"sk\",\"allowed\":[\"* .*\"],"
          "\"ttl\":922337203685477580}");
    puts_("mint", "both", "{\"token\":\"sk\",\"allowed\":[\"GET /\"],"
          "\"scopes\":[\"read\"]}");
    puts_("mint", "bad-regex", "{\"token\":\"sk\",\"allowed\":[\"GET (\"]}");
    puts_("mint", "unknown-scope", "{\"token\":\"sk\",\"scopes\":[\"root\"]}");
    puts_("mint", "control", "{\"token\":\"a\\r\\nb\",\"allowed\":[\"GET /\"]}");
    puts_("mint", "not-object", "[\"token\"]");
    puts_("mint", "exp-and-ttl", "{\"token\":\"sk\",\"allowed\":[\"GET /\"],"
          "\"exp\":1800000000,\"ttl\":5}");

    /* an attenuable root (docs/attenuation.md) */
    {
        char    *jwk_s, buf[1024];
        json_t  *jwk;

        if (mt_key_public_jwk(mt_keyset_get(ks, FX_KEY_ED), &jwk) != MT_OK) {
            fprintf(stderr, "mt_key_public_jwk failed\n");
            exit(1);
        }

        jwk_s = json_dumps(jwk, JSON_COMPACT);
        json_decref(jwk);
        snprintf(buf, sizeof(buf), "{\"token\":\"sk\",\"allowed\":[\"GET /\"],"
                 "\"cnf\":{\"jwk\":%s},\"max_further_links\":2}", jwk_s);
        free(jwk_s);
        puts_("mint", "cnf", buf);
    }
}


static void
gen_scope(void)
{
    static const struct {
        const char  *name;
        const char  *text;
        size_t       len;
    } s[] = {
#define S(n, t) { n, t, sizeof(t) - 1 }
        S("full-get", "\x00GET /v1/items/[0-9]+\n/v1/items/42"),
        S("prefix-get", "\x01GET /v1/\n/V1/items/42"),
        S("star", "\x0f* /admin/.*\n/admin/users"),
        S("several", "\x00POST /a\nGET /b\nGET /c(/.*)?\n/c/d"),
        S("redos", "\x00GET (a+)+$\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"),
        S("bad-method", "\x00GE T /x\nGET\n* \n/x"),
        S("options", "\x00GET (*UTF)(*LIMIT_MATCH=10)/\xc3\xa9\n/\xc3"),
        S("accept", "\x00GET /a(*ACCEPT)b\n/abc"),
        S("lookbehind", "\x01GET /x(?<=x)\\K.*\n/xyz"),
        S("newline-dollar", "\x00GET /a$\n/a\x0a"),
        S("backref", "\x00GET (/\\w+)\\1\n/ab/ab"),
        S("unicode-prefix",
          "\x01GET /u\\u017fer\\Z\nGET /k/k$\n/k/\xe2\x84\xaa"),
        S("unicode-classes",
          "\x01GET /[^/]+/\\w+\\s\\d{1,3}[iI-K]\n"
          "/\xc3\xa9/\xc4\xb1\xc2\x85\xd9\xa1\xc4\xb0"),
        S("refused",
          "\x01GET /a{,3}\nGET /[[:alpha:]]\nGET (?i)x\nGET /x++\n/aaa"),
        S("bad-utf8-path", "\x01GET /.*\n/\xff"),
        S("full-non-ascii", "\x00GET /caf\xc3\xa9+\n/caf\xc3\xa9\xc3\xa9"),
#undef S
    };
    size_t  i;

    for (i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
        put("scope", s[i].name, s[i].text, s[i].len);
    }
}


static void
gen_base64(void)
{
    puts_("base64", "url", "eyJhbGciOiJIUzI1NiJ9");
    puts_("base64", "std", "SGVsbG8sIHdvcmxkIQ==");
    puts_("base64", "pad1", "YWJjZA=");
    puts_("base64", "nonzero-bits", "YR");
    puts_("base64", "alphabet",
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/");
}


static void
gen_jwks(void)
{
    puts_("jwks", "x25519", fx_x25519_jwk);
    puts_("jwks", "oct-set", fx_oct_jwks);
    puts_("jwks", "rsa-pem", fx_rsa_pem);
    puts_("jwks", "ec-pem", fx_ec_pem);
    puts_("jwks", "ed-pem", fx_ed_pem);
    puts_("jwks", "ec-jwk",
          "{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES256\",\"kid\":\"e\","
          "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
          "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}");
    puts_("jwks", "rsa-jwk-small",
          "{\"kty\":\"RSA\",\"n\":\"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFs"
          "ueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGz"
          "HHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy"
          "_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBI"
          "Y2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL"
          "1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw\",\"e\":\"AQAB\"}");
}


/*
 * fuzz_chain: line-form inputs (root claims, then F + link claims) and
 * chains as sent, made with the fixture keys (EC and Ed25519 links).
 */
static char *
chain_root(const char *extra)
{
    char    *jwk_s, *claims, *tok;
    size_t   n;
    json_t  *jwk;

    if (mt_key_public_jwk(mt_keyset_get(ks, FX_KEY_EC), &jwk) != MT_OK) {
        fprintf(stderr, "mt_key_public_jwk failed\n");
        exit(1);
    }

    jwk_s = json_dumps(jwk, JSON_COMPACT);
    json_decref(jwk);

    n = strlen(jwk_s) + strlen(extra) + 128;
    claims = malloc(n);
    snprintf(claims, n, "{\"exp\":1800000000,\"allowed\":[\"GET /v1/.*\","
             "\"POST /v1/items\"]%s,\"cnf\":{\"jwk\":%s}}", extra, jwk_s);
    free(jwk_s);

    tok = claims;

    return tok;
}


static char *
chain_link(char *chain, int ed, const char *claims_s, int next_ed, int open)
{
    char      *out;
    size_t     len;
    json_t    *claims, *jwk;

    claims = json_loads(claims_s, 0, NULL);

    if (open) {
        mt_key_public_jwk(mt_keyset_get(ks, next_ed ? FX_KEY_ED : FX_KEY_EC),
                          &jwk);
        json_object_set_new(claims, "cnf", json_pack("{s:o}", "jwk", jwk));
    }

    if (mt_chain_attenuate(chain, strlen(chain),
                           mt_keyset_get(ks, ed ? FX_KEY_ED : FX_KEY_EC),
                           ed ? MT_ALG_EDDSA : MT_ALG_ES256, claims, &out,
                           &len) != MT_OK)
    {
        fprintf(stderr, "mt_chain_attenuate failed\n");
        exit(1);
    }

    json_decref(claims);
    free(chain);

    return out;
}


static void
gen_chain(void)
{
    char  *r, *t, buf[8192];

    r = chain_root("");

    snprintf(buf, sizeof(buf), "%s\n\x02{\"allowed\":[\"GET /v1/items\"]}",
             r);
    puts_("chain", "lines-one", buf);

    snprintf(buf, sizeof(buf), "%s\n\x06{\"methods\":[\"GET\"],"
             "\"exp\":1700000600}\n\x03{\"aud\":\"api\","
             "\"scopes\":[\"read\"]}", r);
    puts_("chain", "lines-two", buf);

    snprintf(buf, sizeof(buf), "%s\n\x06{\"max_further_links\":0}\n"
             "\x03{}", r);
    puts_("chain", "lines-depth", buf);

    snprintf(buf, sizeof(buf), "%s\n\x08{\"prev\":\"x\"}", r);
    puts_("chain", "lines-raw", buf);

    snprintf(buf, sizeof(buf), "%s\n\x06{}", r);
    puts_("chain", "lines-open", buf);

    free(r);

    /* chains as sent: the root signed HS256 as fuzz_chain does */
    r = chain_root(",\"max_further_links\":3");
    t = sign(FX_KEY_HMAC, MT_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"hs\"}",
             r);
    free(r);

    t = chain_link(t, 0, "{\"allowed\":[\"GET /v1/.*\"]}", 1, 1);
    t = chain_link(t, 1, "{\"methods\":[\"GET\"],\"aud\":[\"api\"],"
                   "\"exp\":1700000600,\"nbf\":1699999000}", 0, 0);
    puts_("chain", "sent-two", t);
    free(t);
}


/*
 * fuzz_dpop: "htu\nproof", proofs signed by the EC and Ed25519 fixture
 * keys for GET of that URL at FX_NOW, with and without "ath".
 */
static void
dpop_seed(const char *name, int key, mt_alg_t alg, const char *htu,
    const char *extra)
{
    char     *tok, *buf, *jwk_s;
    char      ath[MT_DPOP_JKT_LEN + 1];
    char      header[1024], payload[1024];
    json_t   *jwk;

    mt_key_public_jwk(mt_keyset_get(ks, key), &jwk);
    jwk_s = json_dumps(jwk, JSON_COMPACT);
    json_decref(jwk);

    snprintf(header, sizeof(header),
             "{\"typ\":\"dpop+jwt\",\"alg\":\"%s\",\"jwk\":%s}",
             mt_alg_name(alg), jwk_s);
    free(jwk_s);

    mt_dpop_ath(ath, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", 29);
    snprintf(payload, sizeof(payload),
             "{\"jti\":\"%s\",\"htm\":\"GET\",\"htu\":\"%s\","
             "\"iat\":1700000000,\"ath\":\"%s\"%s}", name, htu, ath, extra);

    tok = sign(key, alg, header, payload);
    buf = malloc(strlen(htu) + strlen(tok) + 2);
    sprintf(buf, "%s\n%s", htu, tok);
    puts_("dpop", name, buf);
    free(buf);
    free(tok);
}


static void
gen_dpop(void)
{
    dpop_seed("ec", FX_KEY_EC, MT_ALG_ES256, "https://api.example/v1/x", "");
    dpop_seed("ed", FX_KEY_ED, MT_ALG_EDDSA,
              "http://Api.Example:80/v1/%7Ex?q=1", "");
    dpop_seed("extra", FX_KEY_EC, MT_ALG_ES256, "https://[::1]:8443/a",
              ",\"nonce\":\"n\"");
    puts_("dpop", "htu-only", "HTTPS://A.example:443/p%2f%41#x\n");
}


int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_seeds CORPUS_DIR\n");
        return 2;
    }

    root = argv[1];
    mkdir(root, 0755);

    ks = fx_keyset();

    gen_jws();
    gen_claims();
    gen_jwe();
    gen_mint();
    gen_scope();
    gen_base64();
    gen_jwks();
    gen_chain();
    gen_dpop();

    mt_keyset_free(ks);

    return 0;
}
