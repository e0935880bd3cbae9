/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Chains of attenuated tokens (mt_chain.c, docs/attenuation.md): every
 * attack of the threat model is refused, and what is allowed is the
 * intersection of every element.
 */

#include "mt_core.h"
#include "tap.h"


#define NOW  INT64_C(1700000000)
#define JKT  "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


static mt_keyset_t  *proxy;         /* the proxy's RSA key pair */
static mt_keyset_t  *holder[4];     /* k0 EC P-256, k1 Ed25519, k2 EC
                                       P-384, k3 RSA: private keys */
static mt_named_scope_t  named[1];


static const mt_key_t *
hk(int i)
{
    return mt_keyset_get(holder[i], 0);
}


static mt_alg_t
halg(int i)
{
    static const mt_alg_t  algs[] = {
        MT_ALG_ES256, MT_ALG_EDDSA, MT_ALG_ES384, MT_ALG_PS256
    };

    return algs[i];
}


/* {"jwk": public JWK of holder i} */
static json_t *
cnf(int i)
{
    json_t  *jwk;

    if (mt_key_public_jwk(hk(i), &jwk) != MT_OK) {
        diag("mt_key_public_jwk(%d) failed", i);
        return json_object();
    }

    return json_pack("{s:o}", "jwk", jwk);
}


/* a root token signed by the proxy; claims consumed; open to holder h
 * when h >= 0 */
static char *
root(json_t *claims, int h)
{
    char  *payload, *token;

    if (json_object_get(claims, "exp") == NULL) {
        json_object_set_new(claims, "exp", json_integer(NOW + 3600));
    }

    if (json_object_get(claims, "allowed") == NULL) {
        json_object_set_new(claims, "allowed",
                            json_pack("[s]", "GET /repos/acme/.*"));
    }

    if (h >= 0) {
        json_object_set_new(claims, "cnf", cnf(h));
    }

    payload = json_dumps(claims, JSON_COMPACT);
    token = make_jws(mt_keyset_get(proxy, 0), MT_ALG_RS256,
                     "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", payload);
    free(payload);
    json_decref(claims);

    return token;
}


/* chain + a link signed by holder s, claims consumed; open to holder
 * next when next >= 0; chain freed */
static char *
link_(char *chain, int s, json_t *claims, int next)
{
    char      *out;
    size_t     len;
    mt_err_t   rc;

    if (next >= 0) {
        json_object_set_new(claims, "cnf", cnf(next));
    }

    rc = mt_chain_attenuate(chain, strlen(chain), hk(s), halg(s), claims,
                            &out, &len);
    json_decref(claims);

    if (rc != MT_OK) {
        diag("mt_chain_attenuate: %s", mt_strerror(rc));
        out = strdup("");
    }

    free(chain);

    return out;
}


/* a link made by hand: header and claims as given, signed by holder s;
 * "prev" of the last element of chain added unless prev == 0 */
static char *
raw_link(const char *chain, int s, mt_alg_t alg, const char *header,
    json_t *claims, int prev)
{
    char         p[MT_CHAIN_PREV_LEN + 1], *payload, *l, *out;
    size_t       n;
    const char  *last;

    last = strrchr(chain, MT_CHAIN_SEP);
    last = last != NULL ? last + 1 : chain;

    if (prev) {
        mt_chain_prev(p, last, strlen(last));
        json_object_set_new(claims, "prev", json_string(p));
    }

    payload = json_dumps(claims, JSON_COMPACT);
    json_decref(claims);
    l = make_jws(hk(s), alg, header, payload);
    free(payload);

    n = strlen(chain) + strlen(l) + 2;
    out = malloc(n);
    snprintf(out, n, "%s~%s", chain, l);
    free(l);

    return out;
}


static char *
cat(const char *a, const char *b)
{
    size_t  n;
    char   *out;

    n = strlen(a) + strlen(b) + 2;
    out = malloc(n);
    snprintf(out, n, "%s~%s", a, b);

    return out;
}


/* element i (0: root) of a chain, malloc()ed */
static char *
element(const char *chain, int i)
{
    const char  *p, *e;

    for (p = chain; i > 0; i--) {
        p = strchr(p, MT_CHAIN_SEP) + 1;
    }

    e = strchr(p, MT_CHAIN_SEP);

    return strndup(p, e != NULL ? (size_t) (e - p) : strlen(p));
}


static mt_err_t
verify_at(const char *chain, int64_t now, int64_t leeway)
{
    mt_err_t    rc;
    mt_chain_t  c;

    rc = mt_chain_verify(&c, proxy, chain, strlen(chain), now, leeway,
                         MT_MATCH_FULL);
    if (rc == MT_OK) {
        mt_chain_clear(&c);
    }

    return rc;
}


static mt_err_t
verify(const char *chain)
{
    return verify_at(chain, NOW, 0);
}


/* verify, then authorize method path */
static mt_err_t
check(const char *chain, const char *method, const char *path)
{
    size_t       mlen;
    mt_err_t     rc;
    mt_chain_t   c;
    const char  *m;

    rc = mt_chain_verify(&c, proxy, chain, strlen(chain), NOW, 0,
                         MT_MATCH_FULL);
    if (rc != MT_OK) {
        return rc;
    }

    rc = mt_chain_authorize(&c, named, 1, MT_MATCH_FULL, method,
                            strlen(method), path, strlen(path), &m, &mlen);
    mt_chain_clear(&c);

    return rc;
}


static mt_err_t
check_aud(const char *chain, const char *aud)
{
    size_t       len;
    mt_err_t     rc;
    mt_chain_t   c;
    const char  *auds[1];

    rc = mt_chain_verify(&c, proxy, chain, strlen(chain), NOW, 0,
                         MT_MATCH_FULL);
    if (rc != MT_OK) {
        return rc;
    }

    auds[0] = aud;
    len = aud != NULL ? strlen(aud) : 0;

    rc = mt_chain_check_audience(&c, auds, &len, aud != NULL ? 1 : 0);
    mt_chain_clear(&c);

    return rc;
}


static json_t *
allowed(const char *entry)
{
    return json_pack("{s:[s]}", "allowed", entry);
}


static void
test_single_tokens(void)
{
    char        *t;
    mt_chain_t   c;

    t = root(json_object(), -1);
    is_int(verify(t), MT_OK, "a plain token verifies as a chain of one");
    is_int(check(t, "GET", "/repos/acme/web"), MT_OK, "and authorizes");
    is_int(check(t, "GET", "/orgs/acme"), MT_ERR_SCOPE_DENIED,
           "within its scopes only");

    is_int(mt_chain_verify(&c, proxy, t, strlen(t), NOW, 0, MT_MATCH_FULL),
           MT_OK, "verify");
    is_int((long long) c.n_links, 0, "no links");
    is_int(c.exp, NOW + 3600, "exp is the root's");
    mt_chain_clear(&c);
    free(t);

    t = root(json_object(), 0);
    is_int(verify(t), MT_ERR_INVALID_CLAIMS,
           "an open root alone is not a token");
    free(t);

    t = root(json_pack("{s:{s:s}}", "cnf", "jkt", "abc"), -1);
    is_int(verify(t), MT_OK, "a cnf without jwk alone: as before");
    t = link_(t, 0, json_object(), -1);
    is_int(verify(t), MT_ERR_INVALID_CLAIMS,
           "but it cannot be the root of a chain");
    free(t);

    t = root(json_object(), -1);
    t = link_(t, 0, json_object(), -1);
    is_int(verify(t), MT_ERR_INVALID_CLAIMS,
           "a root that names no key takes no link");
    free(t);

    is_int(verify(""), MT_ERR_MISSING, "empty");
}


static void
test_intersection(void)
{
    char        *t, *u;
    mt_chain_t   c;

    t = root(json_object(), 0);
    t = link_(t, 0, allowed("GET /repos/acme/web/issues/42"), -1);

    is_int(check(t, "GET", "/repos/acme/web/issues/42"), MT_OK,
           "root~terminal link: allowed by both");
    is_int(check(t, "GET", "/repos/acme/web/issues/43"),
           MT_ERR_SCOPE_DENIED, "the link narrows");
    free(t);

    t = root(json_object(), 0);
    t = link_(t, 0, allowed("GET /.*"), -1);
    is_int(check(t, "GET", "/orgs/acme"), MT_ERR_SCOPE_DENIED,
           "a wider link does not widen the root");
    is_int(check(t, "GET", "/repos/acme/x"), MT_OK,
           "the root's scope still applies");
    free(t);

    /* two links: methods in the first, paths and exp in the second */
    t = root(json_object(), 0);
    t = link_(t, 0, json_pack("{s:[s]}", "methods", "GET"), 1);
    t = link_(t, 1, json_pack("{s:[s,s], s:I}", "allowed",
                              "GET /repos/acme/web/.*",
                              "POST /repos/acme/web/.*",
                              "exp", (json_int_t) NOW + 60), -1);

    is_int(check(t, "GET", "/repos/acme/web/pulls"), MT_OK,
           "three elements, all allow");
    is_int(check(t, "POST", "/repos/acme/web/pulls"), MT_ERR_SCOPE_DENIED,
           "a method the first link removed stays removed");
    is_int(check(t, "GET", "/repos/acme/api"), MT_ERR_SCOPE_DENIED,
           "the second link narrows the path");

    is_int(mt_chain_verify(&c, proxy, t, strlen(t), NOW, 0, MT_MATCH_FULL),
           MT_OK, "verify");
    is_int((long long) c.n_links, 2, "two links");
    is_int(c.exp, NOW + 60, "exp is the earliest");
    mt_chain_clear(&c);

    is_int(verify_at(t, NOW + 61, 0), MT_ERR_EXPIRED,
           "expired with its last link");
    free(t);

    /* a link with no restriction at all: the root's rights */
    t = root(json_object(), 0);
    t = link_(t, 0, json_object(), -1);
    is_int(check(t, "DELETE", "/repos/acme/web"), MT_ERR_SCOPE_DENIED,
           "an empty link: root denies DELETE");
    is_int(check(t, "GET", "/repos/acme/web"), MT_OK,
           "an empty link: root allows GET");
    free(t);

    t = root(json_object(), 0);
    t = link_(t, 0, json_pack("{s:[]}", "allowed"), -1);
    is_int(check(t, "GET", "/repos/acme/web"), MT_ERR_SCOPE_DENIED,
           "allowed: [] allows nothing");
    free(t);

    /* named scopes */
    t = root(json_object(), 0);
    t = link_(t, 0, json_pack("{s:[s]}", "scopes", "web"), -1);
    is_int(check(t, "GET", "/repos/acme/web"), MT_OK, "a named scope");
    is_int(check(t, "GET", "/repos/acme/api"), MT_ERR_SCOPE_DENIED,
           "outside the named scope");
    free(t);

    t = root(json_object(), 0);
    t = link_(t, 0, json_pack("{s:[s]}", "scopes", "nope"), -1);
    is_int(check(t, "GET", "/repos/acme/web"), MT_ERR_UNKNOWN_SCOPE,
           "an unknown named scope");
    free(t);

    /* audiences */
    t = root(json_object(), 0);
    t = link_(t, 0, json_pack("{s:s}", "aud", "ci"), -1);
    is_int(check_aud(t, "ci"), MT_OK, "link aud accepted");
    is_int(check_aud(t, "deploy"), MT_ERR_INVALID_AUDIENCE,
           "link aud not accepted");
    is_int(check_aud(t, NULL), MT_ERR_INVALID_AUDIENCE,
           "link aud where no audience is configured");
    free(t);

    t = root(json_object(), 0);
    u = link_(strdup(t), 0, json_object(), -1);
    is_int(check_aud(u, NULL), MT_OK, "no link aud: nothing to check");
    free(u);

    u = link_(strdup(t), 0, json_pack("{s:[s,s]}", "aud", "a", "ci"), -1);
    is_int(check_aud(u, "ci"), MT_OK, "link aud as an array");
    free(u);
    free(t);
}


static void
test_attacks(void)
{
    char  *r, *a1, *a2, *t, *u, *e0, *e1, *e2, *rb, *b1, *b2;

    /* R~A1(open, k1)~A2 */
    r = root(json_object(), 0);
    a1 = link_(strdup(r), 0, allowed("GET /repos/acme/web/.*"), 1);
    a2 = link_(strdup(a1), 1, allowed("GET /repos/acme/web/issues"), -1);

    is_int(check(a2, "GET", "/repos/acme/web/issues"), MT_OK,
           "the chain under attack is good");

    /* truncation / stripping the last link */
    is_int(verify(a1), MT_ERR_INVALID_CLAIMS,
           "stripping the last link leaves an open chain");

    e0 = element(a2, 0);
    e1 = element(a2, 1);
    e2 = element(a2, 2);

    /* dropping a middle link */
    t = cat(e0, e2);
    ok(verify(t) != MT_OK, "dropping a middle link (%s)",
       mt_strerror(verify(t)));
    free(t);

    /* reordering */
    t = cat(e0, e2);
    u = cat(t, e1);
    ok(verify(u) != MT_OK, "reordering links (%s)",
       mt_strerror(verify(u)));
    free(t);
    free(u);

    /* replacing the last link: the holder of A2 lacks k1; with k2 */
    t = link_(strdup(a1), 2, allowed("GET /.*"), -1);
    ok(verify(t) != MT_OK, "a last link by another key (%s)",
       mt_strerror(verify(t)));
    free(t);

    /* widening a link in place: edit its claims, keep the signature */
    {
        char  *dot1, *dot2, *claims_s, *b64, *forged;
        json_t  *cl;
        size_t  n;
        unsigned char  buf[4096];

        dot1 = strchr(e2, '.');
        dot2 = strchr(dot1 + 1, '.');
        mt_base64url_decode(buf, &n, dot1 + 1, (size_t) (dot2 - dot1 - 1));
        cl = json_loadb((char *) buf, n, 0, NULL);
        json_object_set_new(cl, "allowed", json_pack("[s]", "GET /.*"));
        claims_s = json_dumps(cl, JSON_COMPACT);
        json_decref(cl);
        b64 = malloc(mt_base64url_encoded_len(strlen(claims_s)) + 1);
        b64[mt_base64url_encode(b64, (unsigned char *) claims_s,
                                strlen(claims_s))] = '\0';
        n = strlen(a1) + strlen(b64) + strlen(e2) + 8;
        forged = malloc(n);
        snprintf(forged, n, "%s~%.*s.%s%s", a1, (int) (dot1 - e2), e2, b64,
                 dot2);
        is_int(verify(forged), MT_ERR_BAD_SIGNATURE,
               "an edited link does not verify");
        free(forged);
        free(b64);
        free(claims_s);
    }

    /* splicing: RB~B1(open, the same k1)~B2; B2 after A1 */
    rb = root(json_pack("{s:s}", "jti", "other-root"), 0);
    b1 = link_(strdup(rb), 0, allowed("GET /repos/acme/api/.*"), 1);
    b2 = link_(strdup(b1), 1, json_object(), -1);
    t = element(b2, 2);
    u = cat(a1, t);
    is_int(verify(u), MT_ERR_INVALID_CLAIMS,
           "splicing a link of another chain, same key (prev)");
    free(t);
    free(u);

    /* replaying a first link under another root naming the same key */
    t = cat(rb, e1);
    u = cat(t, e2);
    is_int(verify(u), MT_ERR_INVALID_CLAIMS,
           "replaying a link under another root (prev)");
    free(t);
    free(u);

    /* a link key posing as a root key */
    t = strdup(e1);
    u = link_(t, 1, json_object(), -1);
    ok(verify(u) != MT_OK, "a link as the root (%s)",
       mt_strerror(verify(u)));
    free(u);

    {
        char   *payload, *fake;
        json_t *cl;

        cl = json_pack("{s:I, s:[s], s:o}", "exp", (json_int_t) NOW + 60,
                       "allowed", "GET /.*", "cnf", cnf(1));
        payload = json_dumps(cl, JSON_COMPACT);
        json_decref(cl);
        fake = make_jws(hk(0), MT_ALG_ES256,
                        "{\"alg\":\"ES256\",\"typ\":\"JWT\"}", payload);
        free(payload);
        t = link_(fake, 1, json_object(), -1);
        is_int(verify(t), MT_ERR_UNKNOWN_KEY,
               "a root signed by a holder key is not a root");
        free(t);
    }

    free(e0);
    free(e1);
    free(e2);
    free(r);
    free(a1);
    free(a2);
    free(rb);
    free(b1);
    free(b2);
}


static void
test_times(void)
{
    char  *t;

    t = root(json_object(), 0);
    t = link_(t, 0, json_pack("{s:I}", "exp", (json_int_t) NOW - 10), 1);
    t = link_(t, 1, json_object(), -1);
    is_int(verify(t), MT_ERR_EXPIRED, "an expired middle link");
    is_int(verify_at(t, NOW, 30), MT_OK, "within the leeway");
    free(t);

    t = root(json_object(), 0);
    t = link_(t, 0, json_pack("{s:I}", "nbf", (json_int_t) NOW + 100), 1);
    t = link_(t, 1, json_object(), -1);
    is_int(verify(t), MT_ERR_NOT_YET_VALID, "a middle link not yet valid");
    free(t);

    t = root(json_object(), 0);
    t = link_(t, 0, json_pack("{s:I}", "iat", (json_int_t) NOW + 100), -1);
    is_int(verify(t), MT_ERR_NOT_YET_VALID, "a link issued in the future");
    free(t);

    t = root(json_object(), 0);
    t = link_(t, 0, json_pack("{s:s}", "exp", "tomorrow"), -1);
    is_int(verify(t), MT_ERR_INVALID_CLAIMS, "exp a string");
    free(t);

    t = root(json_pack("{s:I}", "exp", (json_int_t) NOW - 1), 0);
    t = link_(t, 0, json_pack("{s:I}", "exp", (json_int_t) NOW + 99), -1);
    is_int(verify(t), MT_ERR_EXPIRED, "a link does not extend the root");
    free(t);
}


static void
test_keys_and_headers(void)
{
    char    *r, *t;
    json_t  *jwk, *c;

    r = root(json_object(), 0);

    /* a private key in cnf would let later holders re-sign */
    mt_key_public_jwk(hk(1), &jwk);
    json_object_set_new(jwk, "d", json_string("AAAA"));
    t = link_(strdup(r), 0, json_pack("{s:{s:o}}", "cnf", "jwk", jwk), -1);
    t = link_(t, 1, json_object(), -1);
    is_int(verify(t), MT_ERR_BAD_KEY, "a private JWK in cnf");
    free(t);

    t = link_(strdup(r), 0,
              json_pack("{s:{s:{s:s,s:s}}}", "cnf", "jwk", "kty", "oct",
                        "k", "c2VjcmV0"), -1);
    t = link_(t, 1, json_object(), -1);
    is_int(verify(t), MT_ERR_BAD_KEY, "a secret (oct) in cnf");
    free(t);

    c = cnf(1);
    json_object_set_new(c, "jkt", json_string("x"));
    t = link_(strdup(r), 0, json_pack("{s:o}", "cnf", c), -1);
    t = link_(t, 1, json_object(), -1);
    is_int(verify(t), MT_ERR_INVALID_CLAIMS, "cnf with another member");
    free(t);

    t = link_(strdup(r), 0, json_pack("{s:{s:s}}", "cnf", "jkt", "abc"),
              -1);
    is_int(verify(t), MT_ERR_INVALID_CLAIMS,
           "a last link with a jkt that is no thumbprint");
    free(t);

    /* a DPoP binding (mt_dpop.c): in the last link only */
    t = link_(strdup(r), 0, json_pack("{s:{s:s}}", "cnf", "jkt", JKT), -1);
    is_int(verify(t), MT_OK, "a last link bound to a DPoP key (cnf.jkt)");
    {
        const char  *jkt;
        json_t      *cl;
        mt_chain_t   ch;

        is_int(mt_chain_verify(&ch, proxy, t, strlen(t), NOW, 0,
                               MT_MATCH_FULL), MT_OK, "verified");
        cl = ch.links[0].jws.claims;
        ok(mt_cnf_jkt(cl, &jkt) == MT_OK && jkt != NULL
           && strcmp(jkt, JKT) == 0, "the chain's binding is the last jkt");
        mt_chain_clear(&ch);
    }
    t = link_(t, 1, json_object(), -1);
    is_int(verify(t), MT_ERR_INVALID_CLAIMS, "no link after a bound one");
    free(t);

    c = json_pack("{s:s}", "jkt", JKT);
    json_object_set_new(c, "jwk", json_string("x"));
    t = link_(strdup(r), 0, json_pack("{s:o}", "cnf", c), -1);
    is_int(verify(t), MT_ERR_INVALID_CLAIMS, "cnf with jkt and jwk");
    free(t);

    t = link_(strdup(r), 0, json_pack("{s:s}", "cnf", "x"), -1);
    is_int(verify(t), MT_ERR_INVALID_CLAIMS, "a last link with cnf a string");
    free(t);

    mt_key_public_jwk(hk(1), &jwk);
    t = link_(strdup(r), 0,
              json_pack("{s:{s:{s:[o]}}}", "cnf", "jwk", "keys", jwk), -1);
    t = link_(t, 1, json_object(), -1);
    is_int(verify(t), MT_ERR_BAD_KEY, "a JWK set in cnf");
    free(t);

    {
        int             n;
        char           *nb;
        BIGNUM         *bn;
        EVP_PKEY       *weak;
        unsigned char   bytes[256];

        /* a 1024-bit public key as a JWK */
        weak = gen_key("RSA", NULL, 1024);
        bn = NULL;
        EVP_PKEY_get_bn_param(weak, "n", &bn);
        n = BN_bn2bin(bn, bytes);
        BN_free(bn);
        nb = b64url_str(bytes, (size_t) n);
        jwk = json_pack("{s:s,s:s,s:s}", "kty", "RSA", "e", "AQAB", "n", nb);
        free(nb);
        t = link_(strdup(r), 0, json_pack("{s:{s:o}}", "cnf", "jwk", jwk),
                  -1);
        t = link_(t, 1, json_object(), -1);
        is_int(verify(t), MT_ERR_BAD_KEY, "a short RSA key in cnf");
        free(t);
        EVP_PKEY_free(weak);
    }

    /* RSA holder keys (PS256) work */
    t = link_(strdup(r), 0, json_object(), 3);
    t = link_(t, 3, allowed("GET /repos/acme/x"), -1);
    is_int(check(t, "GET", "/repos/acme/x"), MT_OK, "an RSA link key");
    free(t);

    /* headers */
    t = raw_link(r, 0, MT_ALG_ES256, "{\"alg\":\"ES256\"}", json_object(), 1);
    is_int(verify(t), MT_ERR_MALFORMED, "a link without typ");
    free(t);

    t = raw_link(r, 0, MT_ALG_ES256,
                 "{\"alg\":\"ES256\",\"typ\":\"dpop+jwt\"}", json_object(), 1);
    is_int(verify(t), MT_ERR_MALFORMED, "a link of another typ");
    free(t);

    t = raw_link(r, 0, MT_ALG_ES256,
                 "{\"alg\":\"ES256\",\"typ\":\"mt-link+jwt\"}",
                 json_object(), 1);
    is_int(verify(t), MT_OK, "a link made by hand");
    free(t);

    t = raw_link(r, 0, MT_ALG_ES256,
                 "{\"alg\":\"ES256\",\"typ\":\"mt-link+jwt\",\"jwk\":{}}",
                 json_object(), 1);
    is_int(verify(t), MT_ERR_UNSUPPORTED_ALG, "a jwk header");
    free(t);

    t = raw_link(r, 0, MT_ALG_ES256,
                 "{\"alg\":\"ES384\",\"typ\":\"mt-link+jwt\"}",
                 json_object(), 1);
    is_int(verify(t), MT_ERR_UNKNOWN_KEY, "an alg that does not fit the key");
    free(t);

    t = raw_link(r, 0, MT_ALG_ES256,
                 "{\"alg\":\"HS256\",\"typ\":\"mt-link+jwt\"}",
                 json_object(), 1);
    is_int(verify(t), MT_ERR_UNKNOWN_KEY, "HS256 with the public key");
    free(t);

    t = raw_link(r, 0, MT_ALG_ES256,
                 "{\"alg\":\"none\",\"typ\":\"mt-link+jwt\"}",
                 json_object(), 1);
    is_int(verify(t), MT_ERR_UNSUPPORTED_ALG, "alg none");
    free(t);

    /* claims */
    t = raw_link(r, 0, MT_ALG_ES256,
                 "{\"alg\":\"ES256\",\"typ\":\"mt-link+jwt\"}",
                 json_object(), 0);
    is_int(verify(t), MT_ERR_INVALID_CLAIMS, "a link without prev");
    free(t);

    t = link_(strdup(r), 0, json_pack("{s:s}", "foo", "bar"), -1);
    is_int(verify(t), MT_ERR_INVALID_CLAIMS, "an unknown restriction");
    free(t);

    t = link_(strdup(r), 0, json_pack("{s:s}", "token", "c2VjcmV0"), -1);
    is_int(verify(t), MT_ERR_INVALID_CLAIMS, "a credential in a link");
    free(t);

    t = link_(strdup(r), 0, json_pack("{s:[s]}", "allowed", "GET ("), -1);
    is_int(verify(t), MT_ERR_INVALID_CLAIMS, "an entry that does not "
           "compile");
    free(t);

    t = link_(strdup(r), 0, json_pack("{s:s}", "methods", "GET"), -1);
    is_int(verify(t), MT_ERR_INVALID_CLAIMS, "methods not an array");
    free(t);

    t = link_(strdup(r), 0, json_pack("{s:[i]}", "aud", 1), -1);
    is_int(verify(t), MT_ERR_INVALID_CLAIMS, "aud not strings");
    free(t);

    t = link_(strdup(r), 0, json_pack("{s:i}", "sub", 1), -1);
    is_int(verify(t), MT_ERR_INVALID_CLAIMS, "sub not a string");
    free(t);

    free(r);
}


static void
test_bounds(void)
{
    int      i;
    char    *t, *u, *out, *big;
    size_t   len;
    json_t  *cl;

    /* max_further_links */
    t = root(json_pack("{s:i}", "max_further_links", 1), 0);
    t = link_(t, 0, json_object(), -1);
    is_int(verify(t), MT_OK, "root allows one link, one");
    free(t);

    t = root(json_pack("{s:i}", "max_further_links", 1), 0);
    t = link_(t, 0, json_object(), 1);
    t = link_(t, 1, json_object(), -1);
    is_int(verify(t), MT_ERR_INVALID_CLAIMS, "root allows one link, two");
    free(t);

    t = root(json_object(), 0);
    t = link_(t, 0, json_pack("{s:i}", "max_further_links", 0), 1);
    t = link_(t, 1, json_object(), -1);
    is_int(verify(t), MT_ERR_INVALID_CLAIMS, "a link allows none after it");
    free(t);

    t = root(json_object(), 0);
    t = link_(t, 0, json_pack("{s:i}", "max_further_links", -1), -1);
    is_int(verify(t), MT_ERR_INVALID_CLAIMS, "max_further_links negative");
    free(t);

    /* the number of links */
    t = root(json_object(), 0);

    for (i = 0; i < MT_CHAIN_MAX_LINKS - 1; i++) {
        t = link_(t, i % 2, json_object(), (i + 1) % 2);
    }

    u = link_(strdup(t), i % 2, json_object(), -1);
    is_int(verify(u), MT_OK, "%d links", MT_CHAIN_MAX_LINKS);
    free(u);

    t = link_(t, i % 2, json_object(), (i + 1) % 2);
    cl = json_object();
    is_int(mt_chain_attenuate(t, strlen(t), hk((i + 1) % 2),
                              halg((i + 1) % 2), cl, &out, &len),
           MT_ERR_TOO_LARGE, "no link past the bound");
    json_decref(cl);

    u = raw_link(t, (i + 1) % 2, halg((i + 1) % 2),
                 (i + 1) % 2 ? "{\"alg\":\"EdDSA\",\"typ\":\"mt-link+jwt\"}"
                             : "{\"alg\":\"ES256\",\"typ\":\"mt-link+jwt\"}",
                 json_object(), 1);
    is_int(verify(u), MT_ERR_TOO_LARGE, "%d links", MT_CHAIN_MAX_LINKS + 1);
    free(u);
    free(t);

    /* shapes */
    t = root(json_object(), 0);
    u = link_(strdup(t), 0, json_object(), -1);

    big = malloc(strlen(u) + 4);
    sprintf(big, "%s~", u);
    is_int(verify(big), MT_ERR_MALFORMED, "a trailing ~");
    sprintf(big, "~%s", u);
    is_int(verify(big), MT_ERR_MALFORMED, "a leading ~");
    free(big);

    big = strdup(u);
    *strchr(big, MT_CHAIN_SEP) = '\0';
    len = strlen(big);
    free(big);
    big = malloc(strlen(u) + 4);
    snprintf(big, strlen(u) + 4, "%.*s~~%s", (int) len, u, u + len + 1);
    is_int(verify(big), MT_ERR_MALFORMED, "an empty link");
    free(big);

    big = malloc(strlen(u) + 4);
    sprintf(big, "%s==", u);
    is_int(verify(big), MT_ERR_MALFORMED, "a padded link");
    free(big);
    free(u);

    /* a link over MT_CHAIN_MAX_LINK_LEN */
    big = malloc(MT_CHAIN_MAX_LINK_LEN + 1);
    memset(big, 'a', MT_CHAIN_MAX_LINK_LEN);
    big[MT_CHAIN_MAX_LINK_LEN] = '\0';
    u = link_(strdup(t), 0, json_pack("{s:s}", "jti", big), -1);
    is_int((long long) strlen(u), 0, "attenuate refuses a link too large");
    free(u);
    u = raw_link(t, 0, MT_ALG_ES256,
                 "{\"alg\":\"ES256\",\"typ\":\"mt-link+jwt\"}",
                 json_pack("{s:s}", "jti", big), 1);
    is_int(verify(u), MT_ERR_TOO_LARGE, "a link too large");
    free(u);
    free(big);
    free(t);
}


static void
test_credential_and_jwk(void)
{
    char        *b64, *t;
    size_t       len;
    json_t      *jwk;
    mt_chain_t   c;

    mt_credential_encrypt(mt_keyset_get(proxy, 0),
                          (const unsigned char *) "ghp_secret", 10, &b64,
                          &len);
    t = root(json_pack("{s:s}", "token", b64), 0);
    free(b64);
    t = link_(t, 0, allowed("GET /repos/acme/web"), -1);

    is_int(mt_chain_verify(&c, proxy, t, strlen(t), NOW, 0, MT_MATCH_FULL),
           MT_OK, "a chain over a root with a credential");
    is_int(mt_token_decrypt(&c.root, proxy), MT_OK, "the root's decrypts");
    ok(c.root.credential_len == 10
       && memcmp(c.root.credential, "ghp_secret", 10) == 0,
       "the credential is the root's");
    ok(strstr(t, "ghp_secret") == NULL, "and never in clear in the chain");
    mt_chain_clear(&c);
    free(t);

    mt_key_public_jwk(hk(2), &jwk);
    ok(strcmp(json_string_value(json_object_get(jwk, "crv")), "P-384") == 0
       && json_string_length(json_object_get(jwk, "x")) == 64
       && json_object_get(jwk, "d") == NULL, "public JWK of P-384");
    json_decref(jwk);

    mt_key_public_jwk(hk(3), &jwk);
    ok(strcmp(json_string_value(json_object_get(jwk, "kty")), "RSA") == 0
       && json_object_get(jwk, "d") == NULL, "public JWK of RSA");
    json_decref(jwk);

    ok(mt_key_public_jwk(mt_keyset_get(proxy, 0), &jwk) == MT_OK
       && json_object_get(jwk, "d") == NULL, "public JWK of the proxy");
    json_decref(jwk);

    ok(mt_chain_is_chain("a.b.c~d", 7) && !mt_chain_is_chain("a.b.c", 5),
       "mt_chain_is_chain");
}


static int
scope_known(void *data, const char *name, size_t len)
{
    (void) data;
    (void) name;
    (void) len;

    return 1;
}


/* the issuer's request: "cnf" and "max_further_links" */
static void
test_mint_and_links(void)
{
    char              err[256], *t;
    size_t            cred_len;
    json_t           *req, *claims, *jwk;
    mt_chain_t        c;
    const char       *cred;
    mt_mint_policy_t  policy = { 3600, 0, scope_known, NULL };

    req = json_pack("{s:s, s:[s], s:o, s:i}", "token", "x", "allowed",
                    "GET /repos/acme/.*", "cnf", cnf(0),
                    "max_further_links", 2);
    is_int(mt_mint_claims(req, &policy, NOW, &claims, &cred, &cred_len, err,
                          sizeof(err)), MT_OK, "mint: cnf accepted");
    ok(json_object_get(json_object_get(claims, "cnf"), "jwk") != NULL
       && json_integer_value(json_object_get(claims, "max_further_links"))
          == 2, "mint: cnf and max_further_links in the claims");
    json_object_del(claims, "iat");
    json_object_del(claims, "jti");
    t = root(claims, -1);
    is_int(verify(t), MT_ERR_INVALID_CLAIMS, "mint: an attenuable root");
    t = link_(t, 0, json_object(), -1);
    is_int(verify(t), MT_OK, "mint: and a chain on it");
    free(t);
    json_decref(req);

    mt_key_public_jwk(hk(0), &jwk);
    json_object_set_new(jwk, "d", json_string("AAAA"));
    req = json_pack("{s:s, s:[s], s:{s:o}}", "token", "x", "allowed",
                    "GET /x", "cnf", "jwk", jwk);
    is_int(mt_mint_claims(req, &policy, NOW, &claims, &cred, &cred_len, err,
                          sizeof(err)), MT_ERR_INVALID_CLAIMS,
           "mint: a private key in cnf");
    ok(strstr(err, "cnf") != NULL, "mint: the message names cnf");
    json_decref(req);

    req = json_pack("{s:s, s:[s], s:i}", "token", "x", "allowed", "GET /x",
                    "max_further_links", 1);
    is_int(mt_mint_claims(req, &policy, NOW, &claims, &cred, &cred_len, err,
                          sizeof(err)), MT_ERR_INVALID_CLAIMS,
           "mint: max_further_links without cnf");
    json_decref(req);

    /* mt_chain_authorize_links and mt_token_is_open */
    t = root(json_object(), 0);
    t = link_(t, 0, json_pack("{s:[s]}", "methods", "GET"), -1);

    is_int(mt_chain_verify(&c, proxy, t, strlen(t), NOW, 0, MT_MATCH_FULL),
           MT_OK, "verify");
    ok(mt_token_is_open(&c.root), "the root is open");
    is_int(mt_chain_authorize_links(&c, named, 1, MT_MATCH_FULL, "POST", 4,
                                    "/orgs/x", 7),
           MT_ERR_SCOPE_DENIED, "links alone: methods");
    is_int(mt_chain_authorize_links(&c, named, 1, MT_MATCH_FULL, "GET", 3,
                                    "/orgs/x", 7),
           MT_OK, "links alone: the root's scope is not theirs");
    mt_chain_clear(&c);
    free(t);
}


/*
 * A cached prefix (what the module keeps: elements borrowed from a
 * verified chain, the key the last one names) and new links after it.
 */
static mt_err_t
from_prefix(mt_chain_t *full, size_t from, const mt_keyset_t *key,
    const char *chain, const char *method, const char *path)
{
    size_t       i, mlen;
    mt_err_t     rc;
    mt_chain_t   c;
    const char  *m;

    memset(&c, 0, sizeof(c));
    c.root = full->root;
    c.exp = full->exp;

    for (i = 0; i + 1 < from; i++) {
        c.links[i] = full->links[i];
    }

    c.n_links = from - 1;
    c.borrowed = from;

    rc = mt_chain_verify_from(&c, from, key, chain, strlen(chain), NOW, 0,
                              MT_MATCH_FULL);

    if (rc != MT_OK) {
        ok(c.n_links == from - 1 && c.borrowed == from
           && c.root.jws.claims == full->root.jws.claims,
           "a failure leaves the prefix as it was");
        return rc;
    }

    if (method != NULL) {
        rc = mt_chain_authorize(&c, named, 1, MT_MATCH_FULL, method,
                                strlen(method), path, strlen(path), &m,
                                &mlen);
    }

    mt_chain_clear(&c);          /* the new links only */

    return rc;
}


static void
test_from_prefix(void)
{
    char        *r, *a1, *a2, *b2, *t, *u, *e2, *o1, *o2;
    mt_chain_t   full;

    /* R(open, k0) ~ A1(open, k1) ~ A2 */
    r = root(json_object(), 0);
    a1 = link_(strdup(r), 0, allowed("GET /repos/acme/web/.*"), 1);
    a2 = link_(strdup(a1), 1, allowed("GET /repos/acme/web/issues"), -1);

    is_int(mt_chain_verify(&full, proxy, a2, strlen(a2), NOW, 0,
                           MT_MATCH_FULL), MT_OK, "the full chain verifies");

    /* R~A1 cached: a new last link, with the key A1 named */
    b2 = link_(strdup(a1), 1, allowed("GET /repos/acme/web/pulls"), -1);
    is_int(from_prefix(&full, 2, full.links[1].key, b2, "GET",
                       "/repos/acme/web/pulls"), MT_OK,
           "a new link on a cached prefix");
    is_int(from_prefix(&full, 2, full.links[1].key, b2, "GET",
                       "/repos/acme/web/issues"), MT_ERR_SCOPE_DENIED,
           "its own restriction holds");
    is_int(from_prefix(&full, 2, full.links[1].key, b2, "GET",
                       "/repos/acme/api"), MT_ERR_SCOPE_DENIED,
           "and the cached link's");
    is_int(from_prefix(&full, 2, NULL, b2, "GET", "/repos/acme/web/pulls"),
           MT_OK, "the key imported from the claims: the same");

    /* the same bytes as the full chain: nothing new to verify */
    is_int(from_prefix(&full, 3, NULL, a2, "GET", "/repos/acme/web/issues"),
           MT_OK, "from the whole chain: no link left to verify");

    /* a link signed by another key than the one A1 names */
    t = link_(strdup(a1), 2, allowed("GET /.*"), -1);
    ok(from_prefix(&full, 2, full.links[1].key, t, NULL, NULL) != MT_OK,
       "a new link by another key is refused");
    free(t);

    /* the prefix's key given, a link spliced from another chain */
    o1 = link_(root(json_object(), 0), 0, json_object(), 1);
    o2 = link_(strdup(o1), 1, json_object(), -1);
    e2 = element(o2, 2);
    t = cat(a1, e2);
    ok(from_prefix(&full, 2, full.links[1].key, t, NULL, NULL) != MT_OK,
       "a link spliced from another chain (same key) is refused");
    free(t);
    free(e2);
    free(o1);
    free(o2);

    /* a tampered new link: its signature's last character */
    t = strdup(b2);
    u = t + strlen(t) - 2;
    *u = *u == 'A' ? 'B' : 'A';
    ok(from_prefix(&full, 2, full.links[1].key, t, NULL, NULL) != MT_OK,
       "a tampered new link is refused");
    free(t);

    /* an open last element from a prefix is refused */
    t = link_(strdup(a1), 1, json_object(), 2);
    is_int(from_prefix(&full, 2, full.links[1].key, t, NULL, NULL),
           MT_ERR_INVALID_CLAIMS, "an open last link is refused");
    free(t);

    /* more than the cached elements hold */
    is_int(from_prefix(&full, 4, NULL, a2, NULL, NULL), MT_ERR_INTERNAL,
           "a prefix longer than the chain");

    /* two new links after the root */
    t = link_(strdup(r), 0, json_object(), 1);
    t = link_(t, 1, allowed("GET /repos/acme/web/x"), -1);
    is_int(from_prefix(&full, 1, full.links[0].key, t, "GET",
                       "/repos/acme/web/x"), MT_OK,
           "two new links after a cached root");
    free(t);

    mt_chain_clear(&full);
    free(b2);

    /* the prefix's max_further_links counts the new links too */
    free(r);
    r = root(json_pack("{s:i}", "max_further_links", 1), 0);
    free(a1);
    a1 = link_(strdup(r), 0, json_object(), 1);
    free(a2);
    a2 = link_(strdup(r), 0, json_object(), -1);

    is_int(mt_chain_verify(&full, proxy, a2, strlen(a2), NOW, 0,
                           MT_MATCH_FULL), MT_OK, "one link under a root "
           "that allows one");
    t = link_(strdup(a1), 1, json_object(), -1);
    is_int(from_prefix(&full, 1, full.links[0].key, t, NULL, NULL),
           MT_ERR_INVALID_CLAIMS, "max_further_links of a cached root");
    free(t);
    mt_chain_clear(&full);

    free(r);
    free(a1);
    free(a2);
}


int
main(void)
{
    EVP_PKEY  *pkey;
    char       err[128];

    pkey = gen_key("RSA", NULL, 2048);
    proxy = mt_keyset_new();
    add_pkey(proxy, pkey, 1);
    EVP_PKEY_free(pkey);

    {
        static const char  *types[] = { "EC", "ED25519", "EC", "RSA" };
        static const char  *curves[] = { "P-256", NULL, "P-384", NULL };
        int                 i;

        for (i = 0; i < 4; i++) {
            pkey = i == 3 ? gen_key("RSA", NULL, 2048)
                          : gen_key(types[i], curves[i], 0);
            holder[i] = mt_keyset_new();
            add_pkey(holder[i], pkey, 1);
            EVP_PKEY_free(pkey);
        }
    }

    named[0].name = "web";
    named[0].name_len = 3;
    named[0].rules[MT_MATCH_FULL] = mt_rules_new(MT_MATCH_FULL);
    named[0].rules[MT_MATCH_PREFIX] = mt_rules_new(MT_MATCH_PREFIX);
    mt_rules_add(named[0].rules[MT_MATCH_FULL], "GET /repos/acme/web", 19,
                 err, sizeof(err));
    mt_rules_add(named[0].rules[MT_MATCH_PREFIX], "GET /repos/acme/web", 19,
                 err, sizeof(err));

    test_single_tokens();
    test_intersection();
    test_attacks();
    test_times();
    test_keys_and_headers();
    test_bounds();
    test_credential_and_jwk();
    test_mint_and_links();
    test_from_prefix();

    mt_rules_free(named[0].rules[0]);
    mt_rules_free(named[0].rules[1]);
    mt_keyset_free(proxy);

    {
        int  i;

        for (i = 0; i < 4; i++) {
            mt_keyset_free(holder[i]);
        }
    }

    done_testing();

    return tap_exit();
}
