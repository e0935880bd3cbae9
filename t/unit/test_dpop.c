/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * DPoP proofs (mt_dpop.c, RFC 9449) and JWK thumbprints (RFC 7638):
 * the RFCs' published examples, then proofs made here for every reason
 * a proof is refused.
 */

#include "mt_core.h"
#include "tap.h"


#define NOW  INT64_C(1700000000)

#define is_str(got, want, ...)                                            \
    ok(strcmp((got), (want)) == 0, __VA_ARGS__)

#define HTU  "https://api.example.com/repos/acme/web"


/* RFC 7638 section 3.1 (the key of RFC 7517 appendix A.1) */
static const char  rfc7638_jwk[] =
    "{\"kty\":\"RSA\",\"n\":\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM"
    "78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhM"
    "stn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY"
    "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdk"
    "t-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur"
    "-kEgU8awapJzKnqDKgw\",\"e\":\"AQAB\",\"alg\":\"RS256\","
    "\"kid\":\"2011-04-29\"}";

/* RFC 9449 section 4.1, figure 2: a proof for the token endpoint */
static const char  rfc9449_proof[] =
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieC"
    "I6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5Ijoi"
    "OVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6Il"
    "AtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI"
    "6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2f"
    "Q.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FN"
    "yJK70nfbV37xRZT3Lg";

/* the thumbprint of its key (RFC 9449 section 6.1) */
#define RFC9449_JKT  "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


static mt_keyset_t  *holder[3];     /* EC P-256, Ed25519, RSA */
static char          jkt[3][MT_DPOP_JKT_LEN + 1];
static const char   *token = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln";


static const char *
alg_name(int i)
{
    return i == 0 ? "ES256" : i == 1 ? "EdDSA" : "PS256";
}


static mt_alg_t
alg(int i)
{
    return i == 0 ? MT_ALG_ES256 : i == 1 ? MT_ALG_EDDSA : MT_ALG_PS256;
}


/* a proof by holder i with this header (jwk added unless it has one)
 * and these claims, both consumed */
static char *
proof_raw(int i, mt_alg_t a, json_t *header, json_t *claims)
{
    char    *h, *c, *out;
    json_t  *jwk;

    if (json_object_get(header, "jwk") == NULL) {
        mt_key_public_jwk(mt_keyset_get(holder[i], 0), &jwk);
        json_object_set_new(header, "jwk", jwk);
    }

    h = json_dumps(header, JSON_COMPACT);
    c = json_dumps(claims, JSON_COMPACT);
    out = make_jws(mt_keyset_get(holder[i], 0), a, h, c);
    free(h);
    free(c);
    json_decref(header);
    json_decref(claims);

    return out;
}


static json_t *
claims(const char *htm, const char *htu, int64_t iat)
{
    char  ath[MT_DPOP_JKT_LEN + 1];

    mt_dpop_ath(ath, token, strlen(token));

    return json_pack("{s:s,s:s,s:s,s:I,s:s}", "jti", "j-1", "htm", htm,
                     "htu", htu, "iat", (json_int_t) iat, "ath", ath);
}


static char *
proof(int i, json_t *cl)
{
    return proof_raw(i, alg(i), json_pack("{s:s,s:s}", "typ", "dpop+jwt",
                                          "alg", alg_name(i)), cl);
}


static mt_err_t
check_full(const char *p, const char *method, const char *htu,
    const char *key, const char *tok, mt_dpop_t *d)
{
    mt_dpop_req_t  req;

    memset(&req, 0, sizeof(req));
    req.method = method;
    req.method_len = strlen(method);
    req.htu = htu;
    req.htu_len = strlen(htu);
    req.token = tok;
    req.token_len = tok ? strlen(tok) : 0;
    req.jkt = key;
    req.jkt_len = key ? strlen(key) : 0;
    req.now = NOW;
    req.window = 60;
    req.leeway = 5;

    return mt_dpop_verify(d, p, p ? strlen(p) : 0, &req);
}


static mt_err_t
check(char *p, const char *key)
{
    mt_err_t   rc;
    mt_dpop_t  d;

    rc = check_full(p, "GET", HTU, key, token, &d);
    free(p);

    return rc;
}


static void
test_rfc_examples(void)
{
    char           tp[MT_DPOP_JKT_LEN + 1];
    json_t        *jwk;
    mt_err_t       rc;
    mt_dpop_t      d;
    mt_dpop_req_t  req;

    jwk = json_loads(rfc7638_jwk, 0, NULL);
    is_int(mt_jwk_thumbprint(jwk, tp), MT_OK, "RFC 7638 3.1: thumbprint");
    is_str(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
           "RFC 7638 3.1: the published value");
    json_decref(jwk);

    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.method_len = 4;
    req.htu = "https://server.example.com/token";
    req.htu_len = strlen(req.htu);
    req.jkt = RFC9449_JKT;
    req.jkt_len = MT_DPOP_JKT_LEN;
    req.now = 1562262616 + 10;
    req.window = 60;
    req.leeway = 0;

    rc = mt_dpop_verify(&d, rfc9449_proof, strlen(rfc9449_proof), &req);
    is_int(rc, MT_OK, "RFC 9449 figure 2: the proof verifies");
    is_str(d.jkt, RFC9449_JKT, "RFC 9449 6.1: its key's jkt");
    is_int(d.iat, 1562262616, "its iat");

    req.htu = "HTTPS://Server.Example.COM:443/token?x=1#f";
    req.htu_len = strlen(req.htu);
    is_int(mt_dpop_verify(&d, rfc9449_proof, strlen(rfc9449_proof), &req),
           MT_OK, "the same URL with another case, port 443, a query");

    req.method = "GET";
    req.method_len = 3;
    is_int(mt_dpop_verify(&d, rfc9449_proof, strlen(rfc9449_proof), &req),
           MT_ERR_INVALID_DPOP_PROOF, "RFC 9449 proof: another method");

    req.method = "POST";
    req.method_len = 4;
    req.now += 3600;
    is_int(mt_dpop_verify(&d, rfc9449_proof, strlen(rfc9449_proof), &req),
           MT_ERR_INVALID_DPOP_PROOF, "RFC 9449 proof: an hour later");

    req.now -= 3600;
    req.token = token;
    req.token_len = strlen(token);
    is_int(mt_dpop_verify(&d, rfc9449_proof, strlen(rfc9449_proof), &req),
           MT_ERR_INVALID_DPOP_PROOF, "RFC 9449 proof: no ath with a token");
}


static void
test_htu(void)
{
    static const struct {
        const char  *in;
        const char  *out;
    } t[] = {
        { "https://a.example/x", "https://a.example/x" },
        { "HTTPS://A.Example:443/x?q#f", "https://a.example/x" },
        { "http://a.example:80", "http://a.example/" },
        { "http://a.example:8080/", "http://a.example:8080/" },
        { "https://a.example:80/", "https://a.example:80/" },
        { "http://a.example:080/p", "http://a.example/p" },
        { "https://[::1]:8443/a%2fb%7E%41", "https://[::1]:8443/a%2Fb~A" },
        { "https://a.example/A/b", "https://a.example/A/b" },
        { "https://a.example?x", "https://a.example/" },
    };
    static const char  *bad[] = {
        "ftp://a.example/", "https://", "https:///x", "https://u@a/x",
        "https://a.example:12x/", "https://a.example/%zz", "a.example/x",
        "https://a.example/ x", "https://[::1/x", "https://a:123456/"
    };

    char      out[128];
    size_t    i, n;
    mt_err_t  rc;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        rc = mt_dpop_htu_normalize(t[i].in, strlen(t[i].in), out,
                                   sizeof(out), &n);
        out[rc == MT_OK ? n : 0] = '\0';
        is_str(out, t[i].out, "htu %s", t[i].in);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rc = mt_dpop_htu_normalize(bad[i], strlen(bad[i]), out, sizeof(out),
                                   &n);
        ok(rc != MT_OK, "htu refused: %s", bad[i]);
    }

    is_int(mt_dpop_htu_normalize(HTU, strlen(HTU), out, 8, &n),
           MT_ERR_TOO_LARGE, "htu: out too small");
}


static void
test_proofs(void)
{
    int        i;
    char      *p;
    json_t    *cl, *jwk;
    mt_err_t   rc;
    mt_dpop_t  d;

    for (i = 0; i < 3; i++) {
        p = proof(i, claims("GET", HTU, NOW));
        rc = check_full(p, "GET", HTU, jkt[i], token, &d);
        is_int(rc, MT_OK, "%s proof with its key's jkt", alg_name(i));
        is_str(d.jkt, jkt[i], "%s: the jkt", alg_name(i));
        free(p);
    }

    is_int(check(proof(0, claims("GET", HTU, NOW)), NULL), MT_OK,
           "any key when no jkt is asked (the issuer)");
    is_int(check(proof(0, claims("GET", HTU, NOW)), jkt[1]),
           MT_ERR_INVALID_DPOP_PROOF, "another holder's key");
    is_int(check(proof(0, claims("POST", HTU, NOW)), jkt[0]),
           MT_ERR_INVALID_DPOP_PROOF, "another method");
    is_int(check(proof(0, claims("get", HTU, NOW)), jkt[0]),
           MT_ERR_INVALID_DPOP_PROOF, "a method in another case");
    is_int(check(proof(0, claims("GET", HTU "/x", NOW)), jkt[0]),
           MT_ERR_INVALID_DPOP_PROOF, "another path");
    is_int(check(proof(0, claims("GET", "http://api.example.com/repos/acme/web",
                                 NOW)), jkt[0]),
           MT_ERR_INVALID_DPOP_PROOF, "another scheme");
    is_int(check(proof(0, claims("GET", HTU "?page=2", NOW)), jkt[0]),
           MT_OK, "a query in htu is ignored");
    is_int(check(proof(0, claims("GET", HTU, NOW - 66)), jkt[0]),
           MT_ERR_INVALID_DPOP_PROOF, "iat past the window and leeway");
    is_int(check(proof(0, claims("GET", HTU, NOW - 65)), jkt[0]),
           MT_OK, "iat at the end of the window and leeway");
    is_int(check(proof(0, claims("GET", HTU, NOW + 6)), jkt[0]),
           MT_ERR_INVALID_DPOP_PROOF, "iat in the future");
    is_int(check(proof(0, claims("GET", HTU, NOW + 5)), jkt[0]),
           MT_OK, "iat within the leeway");

    cl = claims("GET", HTU, NOW);
    json_object_set_new(cl, "ath", json_string("x"));
    is_int(check(proof(0, cl), jkt[0]), MT_ERR_INVALID_DPOP_PROOF,
           "a wrong ath");

    cl = claims("GET", HTU, NOW);
    json_object_del(cl, "ath");
    is_int(check(proof(0, cl), jkt[0]), MT_ERR_INVALID_DPOP_PROOF, "no ath");

    cl = claims("GET", HTU, NOW);
    json_object_del(cl, "jti");
    is_int(check(proof(0, cl), jkt[0]), MT_ERR_INVALID_DPOP_PROOF, "no jti");

    cl = claims("GET", HTU, NOW);
    json_object_set_new(cl, "iat", json_string("1700000000"));
    is_int(check(proof(0, cl), jkt[0]), MT_ERR_INVALID_DPOP_PROOF,
           "iat a string");

    /* headers */
    is_int(check(proof_raw(0, MT_ALG_ES256,
                           json_pack("{s:s,s:s}", "typ", "JWT", "alg",
                                     "ES256"),
                           claims("GET", HTU, NOW)), jkt[0]),
           MT_ERR_INVALID_DPOP_PROOF, "typ JWT");
    is_int(check(proof_raw(0, MT_ALG_ES256,
                           json_pack("{s:s,s:s,s:s}", "typ", "dpop+jwt",
                                     "alg", "ES256", "kid", "k"),
                           claims("GET", HTU, NOW)), jkt[0]),
           MT_ERR_INVALID_DPOP_PROOF, "a kid header");

    mt_key_public_jwk(mt_keyset_get(holder[0], 0), &jwk);
    json_object_set_new(jwk, "d", json_string("AAAA"));
    is_int(check(proof_raw(0, MT_ALG_ES256,
                           json_pack("{s:s,s:s,s:o}", "typ", "dpop+jwt",
                                     "alg", "ES256", "jwk", jwk),
                           claims("GET", HTU, NOW)), NULL),
           MT_ERR_INVALID_DPOP_PROOF, "a private key in jwk");

    is_int(check(proof_raw(0, MT_ALG_ES256,
                           json_pack("{s:s,s:s,s:{s:s,s:s}}", "typ",
                                     "dpop+jwt", "alg", "ES256", "jwk", "kty",
                                     "oct", "k", "c2VjcmV0"),
                           claims("GET", HTU, NOW)), NULL),
           MT_ERR_INVALID_DPOP_PROOF, "a secret key in jwk");

    /* alg none and HS256: made by hand */
    {
        static const char  *h[] = {
            "{\"typ\":\"dpop+jwt\",\"alg\":\"none\"}",
            "{\"typ\":\"dpop+jwt\",\"alg\":\"HS256\"}"
        };
        char  *hd, *c, *in, *s;
        int    k;

        c = json_dumps(claims("GET", HTU, NOW), JSON_COMPACT);

        for (k = 0; k < 2; k++) {
            hd = b64url_str((unsigned char *) h[k], strlen(h[k]));
            s = b64url_str((unsigned char *) c, strlen(c));
            in = malloc(strlen(hd) + strlen(s) + 16);
            sprintf(in, "%s.%s.%s", hd, s, k == 0 ? "" : "c2ln");
            is_int(check(in, NULL), MT_ERR_INVALID_DPOP_PROOF,
                   "alg %s", k == 0 ? "none" : "HS256");
            free(hd);
            free(s);
        }

        free(c);
    }

    /* alg of one key, signed by another */
    is_int(check(proof_raw(0, MT_ALG_ES256,
                           json_pack("{s:s,s:s}", "typ", "dpop+jwt", "alg",
                                     "ES384"),
                           claims("GET", HTU, NOW)), jkt[0]),
           MT_ERR_INVALID_DPOP_PROOF, "alg not the key's");

    /* a proof whose jwk is another key than the signer's */
    mt_key_public_jwk(mt_keyset_get(holder[0], 0), &jwk);
    is_int(check(proof_raw(2, MT_ALG_PS256,
                           json_pack("{s:s,s:s,s:o}", "typ", "dpop+jwt",
                                     "alg", "PS256", "jwk", jwk),
                           claims("GET", HTU, NOW)), jkt[0]),
           MT_ERR_INVALID_DPOP_PROOF, "signed by a key not in jwk");

    /* tampering and shapes */
    p = proof(0, claims("GET", HTU, NOW));
    p[strlen(p) - 5] ^= 1;
    is_int(check(p, jkt[0]), MT_ERR_INVALID_DPOP_PROOF, "a bad signature");
    is_int(check_full("", "GET", HTU, jkt[0], token, &d),
           MT_ERR_DPOP_REQUIRED, "no proof");
    is_int(check(strdup("a.b"), jkt[0]), MT_ERR_INVALID_DPOP_PROOF, "a.b");
    is_int(check(strdup("a.b.c.d"), jkt[0]), MT_ERR_INVALID_DPOP_PROOF,
           "four segments");
    p = malloc(MT_DPOP_MAX_PROOF + 2);
    memset(p, 'A', MT_DPOP_MAX_PROOF + 1);
    p[MT_DPOP_MAX_PROOF + 1] = '\0';
    is_int(check(p, jkt[0]), MT_ERR_INVALID_DPOP_PROOF, "too long");

    /* the replay key: the same for the same jti and key, else not */
    {
        unsigned char  r1[32];
        mt_dpop_t      d2;

        p = proof(0, claims("GET", HTU, NOW));
        check_full(p, "GET", HTU, jkt[0], token, &d);
        memcpy(r1, d.replay, 32);
        free(p);
        p = proof(0, claims("GET", HTU, NOW - 1));
        check_full(p, "GET", HTU, jkt[0], token, &d2);
        ok(memcmp(r1, d2.replay, 32) == 0, "replay key: jti and key");
        free(p);
        p = proof(1, claims("GET", HTU, NOW));
        check_full(p, "GET", HTU, jkt[1], token, &d2);
        ok(memcmp(r1, d2.replay, 32) != 0, "replay key: another key");
        free(p);
    }
}


static void
test_cnf(void)
{
    const char  *k;
    json_t      *c;

    c = json_pack("{s:{s:s}}", "cnf", "jkt", RFC9449_JKT);
    ok(mt_cnf_jkt(c, &k) == MT_OK && k && strcmp(k, RFC9449_JKT) == 0,
       "cnf.jkt");
    json_decref(c);

    c = json_pack("{s:i}", "exp", 1);
    ok(mt_cnf_jkt(c, &k) == MT_OK && k == NULL, "no cnf");
    json_decref(c);

    c = json_pack("{s:{s:{}}}", "cnf", "jwk");
    ok(mt_cnf_jkt(c, &k) == MT_OK && k == NULL, "cnf.jwk: open, not bound");
    json_decref(c);

    c = json_pack("{s:{s:s}}", "cnf", "jkt", "short");
    is_int(mt_cnf_jkt(c, &k), MT_ERR_INVALID_CLAIMS, "a short jkt");
    json_decref(c);

    c = json_pack("{s:{s:s}}", "cnf", "x5t#S256", RFC9449_JKT);
    is_int(mt_cnf_jkt(c, &k), MT_ERR_INVALID_CLAIMS,
           "another confirmation method");
    json_decref(c);

    c = json_pack("{s:{s:s,s:{}}}", "cnf", "jkt", RFC9449_JKT, "jwk");
    is_int(mt_cnf_jkt(c, &k), MT_ERR_INVALID_CLAIMS, "jkt and jwk");
    json_decref(c);

    c = json_pack("{s:s}", "cnf", RFC9449_JKT);
    is_int(mt_cnf_jkt(c, &k), MT_ERR_INVALID_CLAIMS, "cnf a string");
    json_decref(c);
}


/* the issuer's "jkt" field (mt_mint.c) */
static void
test_mint(void)
{
    char              err[256];
    size_t            cred_len, i;
    json_t           *req, *claims;
    const char       *cred, *k;
    mt_mint_policy_t  policy = { 3600, 0, NULL, NULL };

    static const char  *bad[] = {
        "short", "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4", /* 42 */
        "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I=",
        "0ZcOCORZNYy+DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    };

    req = json_pack("{s:s,s:[s],s:s}", "token", "x", "allowed", "GET /x",
                    "jkt", RFC9449_JKT);
    is_int(mt_mint_claims(req, &policy, NOW, &claims, &cred, &cred_len, err,
                          sizeof(err)), MT_OK, "mint: jkt accepted");
    ok(mt_cnf_jkt(claims, &k) == MT_OK && k != NULL
       && strcmp(k, RFC9449_JKT) == 0, "mint: cnf.jkt in the claims");
    json_decref(claims);
    json_decref(req);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        req = json_pack("{s:s,s:[s],s:s}", "token", "x", "allowed",
                        "GET /x", "jkt", bad[i]);
        is_int(mt_mint_claims(req, &policy, NOW, &claims, &cred, &cred_len,
                              err, sizeof(err)), MT_ERR_INVALID_CLAIMS,
               "mint: jkt refused: %s", bad[i]);
        json_decref(req);
    }

    req = json_pack("{s:s,s:[s],s:s,s:{s:{}}}", "token", "x", "allowed",
                    "GET /x", "jkt", RFC9449_JKT, "cnf", "jwk");
    is_int(mt_mint_claims(req, &policy, NOW, &claims, &cred, &cred_len, err,
                          sizeof(err)), MT_ERR_INVALID_CLAIMS,
           "mint: jkt and cnf");
    json_decref(req);

    req = json_pack("{s:s,s:[s],s:s,s:i}", "token", "x", "allowed",
                    "GET /x", "jkt", RFC9449_JKT, "max_further_links", 1);
    is_int(mt_mint_claims(req, &policy, NOW, &claims, &cred, &cred_len, err,
                          sizeof(err)), MT_ERR_INVALID_CLAIMS,
           "mint: jkt and max_further_links (a bound token is terminal)");
    ok(strstr(err, "jkt") != NULL, "mint: the message names jkt");
    json_decref(req);
}


int
main(void)
{
    int        i;
    json_t    *jwk;
    EVP_PKEY  *pkey;

    for (i = 0; i < 3; i++) {
        pkey = i == 0 ? gen_key("EC", "P-256", 0)
               : i == 1 ? gen_key("ED25519", NULL, 0)
               : gen_key("RSA", NULL, 2048);
        holder[i] = mt_keyset_new();
        add_pkey(holder[i], pkey, 1);
        EVP_PKEY_free(pkey);

        mt_key_public_jwk(mt_keyset_get(holder[i], 0), &jwk);
        mt_jwk_thumbprint(jwk, jkt[i]);
        json_decref(jwk);
    }

    test_rfc_examples();
    test_htu();
    test_proofs();
    test_cnf();
    test_mint();

    for (i = 0; i < 3; i++) {
        mt_keyset_free(holder[i]);
    }

    done_testing();
}
