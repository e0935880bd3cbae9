/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Chains of attenuated tokens (docs/attenuation.md): ROOT~LINK~...~LINK.
 * The root is verified with the proxy's keys; a link only with the key
 * the element before it names in "cnf".  Keys carried in a token are
 * never roots.  Every element must allow the request.
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/sha.h>

#include "mt_core.h"


#define MT_CHAIN_MAX_ELTS  (MT_CHAIN_MAX_LINKS + 1)


typedef struct {
    const char  *data[MT_CHAIN_MAX_ELTS];
    size_t       len[MT_CHAIN_MAX_ELTS];
    size_t       n;
} mt_chain_elts_t;


/* the claims a link may hold; anything else is refused */
static const char  *mt_link_members[] = {
    "prev", "exp", "nbf", "iat", "allowed", "scopes", "methods", "aud",
    "max_further_links", "cnf", "jti", "sub", "iss"
};

/* members of a JWK that make it private or secret */
static const char  *mt_jwk_private[] = {
    "d", "p", "q", "dp", "dq", "qi", "oth", "k"
};


int
mt_chain_is_chain(const char *token, size_t len)
{
    return memchr(token, MT_CHAIN_SEP, len) != NULL;
}


void
mt_chain_prev(char out[MT_CHAIN_PREV_LEN + 1], const char *element,
    size_t len)
{
    unsigned char  md[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *) element, len, md);
    out[mt_base64url_encode(out, md, sizeof(md))] = '\0';
}


/* split at MT_CHAIN_SEP: no empty element, at most MT_CHAIN_MAX_ELTS */
static mt_err_t
mt_chain_split(mt_chain_elts_t *e, const char *token, size_t len)
{
    const char  *p, *end, *sep;

    e->n = 0;

    if (len == 0) {
        return MT_ERR_MISSING;
    }

    if (len > MT_MAX_TOKEN_LEN) {
        return MT_ERR_TOO_LARGE;
    }

    p = token;
    end = token + len;

    for ( ;; ) {
        sep = memchr(p, MT_CHAIN_SEP, (size_t) (end - p));

        if ((sep != NULL ? sep : end) == p) {
            return MT_ERR_MALFORMED;
        }

        if (e->n == MT_CHAIN_MAX_ELTS) {
            return MT_ERR_TOO_LARGE;
        }

        e->data[e->n] = p;
        e->len[e->n] = (size_t) ((sep != NULL ? sep : end) - p);
        e->n++;

        if (sep == NULL) {
            return MT_OK;
        }

        p = sep + 1;
    }
}


/* does an element's "cnf" name a key (is it open)? */
static int
mt_chain_is_open(const json_t *claims)
{
    return json_object_get(json_object_get(claims, "cnf"), "jwk") != NULL;
}


int
mt_token_is_open(const mt_token_t *t)
{
    return mt_chain_is_open(t->jws.claims);
}


/*
 * The key an element names for the next link: "cnf" is {"jwk": JWK},
 * the JWK a public RSA, EC or OKP key, loaded as a JWK file would be.
 */
static mt_err_t
mt_chain_cnf_key(const json_t *claims, mt_keyset_t **out)
{
    char            *s;
    size_t           i;
    json_t          *cnf, *jwk, *kty;
    mt_err_t         rc;
    mt_keyset_t     *ks;
    const mt_key_t  *key;

    *out = NULL;

    cnf = json_object_get(claims, "cnf");
    jwk = json_object_get(cnf, "jwk");

    if (!json_is_object(cnf) || json_object_size(cnf) != 1
        || !json_is_object(jwk))
    {
        return MT_ERR_INVALID_CLAIMS;
    }

    kty = json_object_get(jwk, "kty");

    if (!json_is_string(kty)
        || (strcmp(json_string_value(kty), "EC") != 0
            && strcmp(json_string_value(kty), "OKP") != 0
            && strcmp(json_string_value(kty), "RSA") != 0)
        || json_object_get(jwk, "keys") != NULL)
    {
        return MT_ERR_BAD_KEY;
    }

    for (i = 0; i < sizeof(mt_jwk_private) / sizeof(char *); i++) {
        if (json_object_get(jwk, mt_jwk_private[i]) != NULL) {
            return MT_ERR_BAD_KEY;
        }
    }

    s = json_dumps(jwk, JSON_COMPACT);
    if (s == NULL) {
        return MT_ERR_NOMEM;
    }

    ks = mt_keyset_new();
    if (ks == NULL) {
        free(s);
        return MT_ERR_NOMEM;
    }

    rc = mt_keyset_add_jwks(ks, s, strlen(s), "cnf", NULL, 0);
    free(s);

    if (rc != MT_OK) {
        mt_keyset_free(ks);
        return rc == MT_ERR_NOMEM ? rc : MT_ERR_BAD_KEY;
    }

    key = mt_keyset_get(ks, 0);

    if (mt_keyset_count(ks) != 1 || mt_key_has_private(key)
        || mt_key_type(key) == MT_KTY_OCT)
    {
        mt_keyset_free(ks);
        return MT_ERR_BAD_KEY;
    }

    *out = ks;

    return MT_OK;
}


mt_err_t
mt_chain_cnf_check(const json_t *cnf)
{
    json_t       *claims;
    mt_err_t      rc;
    mt_keyset_t  *ks;

    claims = json_pack("{s:O}", "cnf", (json_t *) cnf);
    if (claims == NULL) {
        return MT_ERR_NOMEM;
    }

    rc = mt_chain_cnf_key(claims, &ks);
    json_decref(claims);

    if (rc == MT_OK) {
        mt_keyset_free(ks);
    }

    return rc;
}


/* null/absent, or an array of at most max strings of 1 to max_len bytes */
static mt_err_t
mt_link_strings(const json_t *claims, const char *name, size_t max,
    size_t max_len, json_t **out)
{
    size_t   i;
    json_t  *v, *item;

    *out = NULL;

    v = json_object_get(claims, name);

    if (v == NULL) {
        return MT_OK;
    }

    if (!json_is_array(v) || json_array_size(v) > max) {
        return MT_ERR_INVALID_CLAIMS;
    }

    json_array_foreach(v, i, item) {
        if (!json_is_string(item) || json_string_length(item) == 0
            || json_string_length(item) > max_len)
        {
            return MT_ERR_INVALID_CLAIMS;
        }
    }

    *out = v;

    return MT_OK;
}


/* exp, nbf and iat: optional integers, checked against now */
static mt_err_t
mt_link_times(const json_t *claims, int64_t now, int64_t leeway,
    int64_t *exp)
{
    json_t  *v;

    v = json_object_get(claims, "exp");

    if (v != NULL) {
        if (!json_is_integer(v)) {
            return MT_ERR_INVALID_CLAIMS;
        }

        *exp = (int64_t) json_integer_value(v);
    }

    v = json_object_get(claims, "nbf");

    if (v != NULL && !json_is_integer(v)) {
        return MT_ERR_INVALID_CLAIMS;
    }

    if (v != NULL && (int64_t) json_integer_value(v) > now + leeway) {
        return MT_ERR_NOT_YET_VALID;
    }

    v = json_object_get(claims, "iat");

    if (v != NULL && !json_is_integer(v)) {
        return MT_ERR_INVALID_CLAIMS;
    }

    if (v != NULL && (int64_t) json_integer_value(v) > now + leeway) {
        return MT_ERR_NOT_YET_VALID;
    }

    if (json_object_get(claims, "exp") != NULL && *exp <= now - leeway) {
        return MT_ERR_EXPIRED;
    }

    return MT_OK;
}


/* every member known, of its type; "prev" names the element before */
static mt_err_t
mt_link_members_check(const json_t *claims, const char *prev,
    size_t prev_len)
{
    char         want[MT_CHAIN_PREV_LEN + 1];
    size_t       i;
    json_t      *v;
    const char  *name, *jkt;

    json_object_foreach((json_t *) claims, name, v) {
        for (i = 0; i < sizeof(mt_link_members) / sizeof(char *); i++) {
            if (strcmp(name, mt_link_members[i]) == 0) {
                break;
            }
        }

        if (i == sizeof(mt_link_members) / sizeof(char *)) {
            return MT_ERR_INVALID_CLAIMS;
        }
    }

    v = json_object_get(claims, "prev");

    if (!json_is_string(v) || json_string_length(v) != MT_CHAIN_PREV_LEN) {
        return MT_ERR_INVALID_CLAIMS;
    }

    mt_chain_prev(want, prev, prev_len);

    if (CRYPTO_memcmp(want, json_string_value(v), MT_CHAIN_PREV_LEN) != 0) {
        return MT_ERR_INVALID_CLAIMS;
    }

    /*
     * cnf is {"jwk": ...} or {"jkt": ...} alone.  A jwk is checked by
     * the link that uses it; a last link naming one is open.  A jkt binds
     * the chain to a DPoP key (mt_dpop.c, checked by the module); a link
     * after it would find no jwk, so only the last element holds one.
     */
    v = json_object_get(claims, "cnf");

    if (v != NULL
        && (!json_is_object(v) || json_object_size(v) != 1
            || (!json_is_object(json_object_get(v, "jwk"))
                && mt_cnf_jkt(claims, &jkt) != MT_OK)))
    {
        return MT_ERR_INVALID_CLAIMS;
    }

    for (i = 0; i < 3; i++) {
        v = json_object_get(claims, i == 0 ? "jti" : i == 1 ? "sub" : "iss");

        if (v != NULL && !json_is_string(v)) {
            return MT_ERR_INVALID_CLAIMS;
        }
    }

    return MT_OK;
}


/* aud: a string, or an array of at most MT_CHAIN_MAX_AUD strings */
static mt_err_t
mt_link_aud(const json_t *claims, json_t **out)
{
    size_t   i;
    json_t  *v, *item;

    *out = NULL;

    v = json_object_get(claims, "aud");

    if (v == NULL || json_is_string(v)) {
        *out = v;
        return MT_OK;
    }

    if (!json_is_array(v) || json_array_size(v) == 0
        || json_array_size(v) > MT_CHAIN_MAX_AUD)
    {
        return MT_ERR_INVALID_CLAIMS;
    }

    json_array_foreach(v, i, item) {
        if (!json_is_string(item)) {
            return MT_ERR_INVALID_CLAIMS;
        }
    }

    *out = v;

    return MT_OK;
}


/* the restrictions of a verified link */
static mt_err_t
mt_link_restrictions(mt_link_t *l, mt_match_mode_t mode)
{
    size_t     i;
    json_t    *allowed, *v;
    mt_err_t   rc;

    rc = mt_link_strings(l->jws.claims, "methods", MT_CHAIN_MAX_METHODS,
                         MT_CHAIN_MAX_METHOD_LEN, &l->methods);
    if (rc != MT_OK) {
        return rc;
    }

    rc = mt_link_aud(l->jws.claims, &l->aud);
    if (rc != MT_OK) {
        return rc;
    }

    rc = mt_link_strings(l->jws.claims, "scopes", MT_MAX_RULES,
                         MT_MAX_RULE_LEN, &l->scopes);
    if (rc != MT_OK) {
        return rc;
    }

    rc = mt_link_strings(l->jws.claims, "allowed", MT_MAX_RULES,
                         MT_MAX_RULE_LEN, &allowed);
    if (rc != MT_OK) {
        return rc;
    }

    if (allowed == NULL && l->scopes == NULL) {
        return MT_OK;
    }

    /* with either claim, the request must match one of its entries */
    l->rules = mt_rules_new(mode);
    if (l->rules == NULL) {
        return MT_ERR_NOMEM;
    }

    if (allowed != NULL) {
        json_array_foreach(allowed, i, v) {
            rc = mt_rules_add(l->rules, json_string_value(v),
                              json_string_length(v), NULL, 0);
            if (rc != MT_OK) {
                return rc == MT_ERR_NOMEM ? rc : MT_ERR_INVALID_CLAIMS;
            }
        }
    }

    return MT_OK;
}


static void
mt_link_clear(mt_link_t *l)
{
    mt_rules_free(l->rules);
    mt_jws_clear(&l->jws);
    mt_keyset_free(l->key);
    memset(l, 0, sizeof(mt_link_t));
}


/*
 * One link, with the key the element before it (prev, pclaims) names:
 * key, imported from it before (borrowed), or NULL: imported now into
 * l->key.
 */
static mt_err_t
mt_link_verify(mt_link_t *l, const json_t *pclaims, const mt_keyset_t *key,
    const char *prev, size_t prev_len, const char *s, size_t len,
    int64_t now, int64_t leeway, mt_match_mode_t mode, int64_t *exp)
{
    json_t    *typ;
    mt_err_t   rc;

    memset(l, 0, sizeof(mt_link_t));

    if (len > MT_CHAIN_MAX_LINK_LEN) {
        return MT_ERR_TOO_LARGE;
    }

    /* padded segments are a single token's compatibility, not a link's */
    if (memchr(s, '=', len) != NULL) {
        return MT_ERR_MALFORMED;
    }

    if (key == NULL) {
        rc = mt_chain_cnf_key(pclaims, &l->key);
        if (rc != MT_OK) {
            return rc;
        }

        key = l->key;
    }

    rc = mt_jws_verify(&l->jws, key, s, len);
    if (rc != MT_OK) {
        goto failed;
    }

    typ = json_object_get(l->jws.header, "typ");

    if (!json_is_string(typ)
        || strcmp(json_string_value(typ), MT_CHAIN_LINK_TYP) != 0)
    {
        rc = MT_ERR_MALFORMED;
        goto failed;
    }

    rc = mt_link_members_check(l->jws.claims, prev, prev_len);
    if (rc != MT_OK) {
        goto failed;
    }

    rc = mt_link_times(l->jws.claims, now, leeway, exp);
    if (rc != MT_OK) {
        goto failed;
    }

    rc = mt_link_restrictions(l, mode);
    if (rc != MT_OK) {
        goto failed;
    }

    return MT_OK;

failed:

    mt_link_clear(l);

    return rc;
}


/* element i allows at most m further links: n_links - i <= m */
static mt_err_t
mt_chain_depth(const json_t *claims, size_t i, size_t n_links)
{
    json_t  *v;

    v = json_object_get(claims, "max_further_links");

    if (v == NULL) {
        return MT_OK;
    }

    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        return MT_ERR_INVALID_CLAIMS;
    }

    return (json_int_t) (n_links - i) <= json_integer_value(v)
           ? MT_OK : MT_ERR_INVALID_CLAIMS;
}


static const json_t *
mt_chain_claims(const mt_chain_t *c, size_t i)
{
    return i == 0 ? c->root.jws.claims : c->links[i - 1].jws.claims;
}


mt_err_t
mt_chain_verify(mt_chain_t *c, const mt_keyset_t *ks, const char *token,
    size_t len, int64_t now, int64_t leeway, mt_match_mode_t mode)
{
    mt_err_t         rc;
    mt_chain_elts_t  e;

    memset(c, 0, sizeof(mt_chain_t));

    rc = mt_chain_split(&e, token, len);
    if (rc != MT_OK) {
        return rc;
    }

    rc = mt_token_verify(&c->root, ks, e.data[0], e.len[0], now, leeway,
                         mode);
    if (rc != MT_OK) {
        return rc;
    }

    c->exp = (int64_t) json_integer_value(json_object_get(c->root.jws.claims,
                                                          "exp"));

    rc = mt_chain_verify_from(c, 1, NULL, token, len, now, leeway, mode);
    if (rc != MT_OK) {
        mt_chain_clear(c);
    }

    return rc;
}


mt_err_t
mt_chain_verify_from(mt_chain_t *c, size_t from, const mt_keyset_t *key,
    const char *token, size_t len, int64_t now, int64_t leeway,
    mt_match_mode_t mode)
{
    size_t           i;
    int64_t          exp;
    mt_err_t         rc;
    mt_chain_elts_t  e;

    rc = mt_chain_split(&e, token, len);
    if (rc != MT_OK) {
        return rc;
    }

    /* the elements c holds, and nothing more */
    if (from == 0 || from > e.n || c->n_links != from - 1
        || c->root.jws.claims == NULL)
    {
        return MT_ERR_INTERNAL;
    }

    for (i = from; i < e.n; i++) {
        exp = c->exp;

        rc = mt_link_verify(&c->links[i - 1], mt_chain_claims(c, i - 1),
                            i == from ? key : NULL, e.data[i - 1],
                            e.len[i - 1], e.data[i], e.len[i], now, leeway,
                            mode, &exp);
        if (rc != MT_OK) {
            goto failed;
        }

        c->n_links = i;

        if (exp < c->exp) {
            c->exp = exp;
        }
    }

    /* the last element proves the key of the one before: it names none */
    if (mt_chain_is_open(mt_chain_claims(c, c->n_links))) {
        rc = MT_ERR_INVALID_CLAIMS;
        goto failed;
    }

    /* every element's max_further_links, the cached ones' too */
    for (i = 0; i < e.n && e.n > 1; i++) {
        rc = mt_chain_depth(mt_chain_claims(c, i), i, c->n_links);
        if (rc != MT_OK) {
            goto failed;
        }
    }

    return MT_OK;

failed:

    for (i = from - 1; i < c->n_links; i++) {
        mt_link_clear(&c->links[i]);
    }

    c->n_links = from - 1;

    return rc;
}


mt_err_t
mt_chain_check_audience(const mt_chain_t *c, const char *const *audiences,
    const size_t *lens, size_t n)
{
    size_t    i;
    mt_err_t  rc;

    for (i = 0; i < c->n_links; i++) {
        if (c->links[i].aud == NULL) {
            continue;
        }

        rc = mt_claims_check_audience(c->links[i].jws.claims, audiences,
                                      lens, n);
        if (rc != MT_OK) {
            return rc;
        }
    }

    return MT_OK;
}


static int
mt_link_method_allowed(const mt_link_t *l, const char *method,
    size_t method_len)
{
    size_t   i;
    json_t  *v;

    if (l->methods == NULL) {
        return 1;
    }

    json_array_foreach(l->methods, i, v) {
        if (json_string_length(v) == method_len
            && memcmp(json_string_value(v), method, method_len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


mt_err_t
mt_chain_authorize(const mt_chain_t *c, const mt_named_scope_t *named,
    size_t n_named, mt_match_mode_t mode, const char *method,
    size_t method_len, const char *path, size_t path_len,
    const char **matched, size_t *matched_len)
{
    mt_err_t  rc;

    rc = mt_token_authorize(&c->root, named, n_named, mode, method,
                            method_len, path, path_len, matched,
                            matched_len);
    if (rc != MT_OK) {
        return rc;
    }

    return mt_chain_authorize_links(c, named, n_named, mode, method,
                                    method_len, path, path_len);
}


mt_err_t
mt_chain_authorize_links(const mt_chain_t *c, const mt_named_scope_t *named,
    size_t n_named, mt_match_mode_t mode, const char *method,
    size_t method_len, const char *path, size_t path_len)
{
    size_t            i, mlen;
    mt_err_t          rc;
    mt_token_t        view;
    const char       *m;
    const mt_link_t  *l;

    for (i = 0; i < c->n_links; i++) {
        l = &c->links[i];

        if (!mt_link_method_allowed(l, method, method_len)) {
            return MT_ERR_SCOPE_DENIED;
        }

        if (l->rules == NULL) {
            continue;
        }

        /* a link's scopes and allowed are matched as a token's are */
        memset(&view, 0, sizeof(view));
        view.scopes = l->scopes;
        view.rules = l->rules;

        rc = mt_token_authorize(&view, named, n_named, mode, method,
                                method_len, path, path_len, &m, &mlen);
        if (rc != MT_OK) {
            return rc;
        }
    }

    return MT_OK;
}


void
mt_chain_clear(mt_chain_t *c)
{
    size_t  i;

    /* elements 0 .. borrowed - 1 (the root first) are their owner's */
    for (i = c->borrowed > 0 ? c->borrowed - 1 : 0; i < c->n_links; i++) {
        mt_link_clear(&c->links[i]);
    }

    if (c->borrowed == 0) {
        mt_token_clear(&c->root);
    }

    memset(c, 0, sizeof(mt_chain_t));
}


void
mt_chain_link_clear(mt_link_t *l)
{
    mt_link_clear(l);
}


/* ---- making links ------------------------------------------------- */

/* header.payload of a link, base64url; *out is malloc()ed with room
 * for the signature */
static mt_err_t
mt_link_signing_input(mt_alg_t alg, const json_t *claims, char **out,
    size_t *out_len)
{
    char    *hdr_s, *claims_s, *w;
    size_t   hlen, clen;
    json_t  *header;

    header = json_pack("{s:s, s:s}", "alg", mt_alg_name(alg), "typ",
                       MT_CHAIN_LINK_TYP);
    if (header == NULL) {
        return MT_ERR_NOMEM;
    }

    hdr_s = json_dumps(header, JSON_COMPACT);
    claims_s = json_dumps(claims, JSON_COMPACT);
    json_decref(header);

    if (hdr_s == NULL || claims_s == NULL) {
        free(hdr_s);
        free(claims_s);
        return MT_ERR_NOMEM;
    }

    hlen = strlen(hdr_s);
    clen = strlen(claims_s);

    *out = malloc(mt_base64url_encoded_len(hlen)
                  + mt_base64url_encoded_len(clen)
                  + mt_base64url_encoded_len(1024) + 3);
    if (*out == NULL) {
        free(hdr_s);
        free(claims_s);
        return MT_ERR_NOMEM;
    }

    w = *out + mt_base64url_encode(*out, (unsigned char *) hdr_s, hlen);
    *w++ = '.';
    w += mt_base64url_encode(w, (unsigned char *) claims_s, clen);
    *out_len = (size_t) (w - *out);

    free(hdr_s);
    free(claims_s);

    return MT_OK;
}


mt_err_t
mt_chain_attenuate(const char *chain, size_t len, const mt_key_t *key,
    mt_alg_t alg, json_t *claims, char **out, size_t *out_len)
{
    char             prev[MT_CHAIN_PREV_LEN + 1], *link, *res;
    size_t           link_len, sig_len;
    mt_err_t         rc;
    unsigned char    sig[1024];
    mt_chain_elts_t  e;

    *out = NULL;

    rc = mt_chain_split(&e, chain, len);
    if (rc != MT_OK) {
        return rc;
    }

    if (e.n == MT_CHAIN_MAX_ELTS) {
        return MT_ERR_TOO_LARGE;
    }

    if (mt_key_type(key) == MT_KTY_OCT || !mt_key_has_private(key)
        || !mt_key_fits_alg(key, alg))
    {
        return MT_ERR_UNKNOWN_KEY;
    }

    mt_chain_prev(prev, e.data[e.n - 1], e.len[e.n - 1]);

    if (json_object_set_new(claims, "prev", json_string(prev)) != 0) {
        return MT_ERR_NOMEM;
    }

    rc = mt_link_signing_input(alg, claims, &link, &link_len);
    if (rc != MT_OK) {
        return rc;
    }

    rc = mt_jws_sign(key, alg, (unsigned char *) link, link_len, sig,
                     &sig_len);
    if (rc != MT_OK) {
        free(link);
        return rc;
    }

    link[link_len++] = '.';
    link_len += mt_base64url_encode(link + link_len, sig, sig_len);

    if (link_len > MT_CHAIN_MAX_LINK_LEN
        || len + 1 + link_len > MT_MAX_TOKEN_LEN)
    {
        free(link);
        return MT_ERR_TOO_LARGE;
    }

    res = malloc(len + 1 + link_len + 1);
    if (res == NULL) {
        free(link);
        return MT_ERR_NOMEM;
    }

    memcpy(res, chain, len);
    res[len] = MT_CHAIN_SEP;
    memcpy(res + len + 1, link, link_len);
    res[len + 1 + link_len] = '\0';
    free(link);

    *out = res;
    *out_len = len + 1 + link_len;

    return MT_OK;
}


/* ---- public JWK --------------------------------------------------- */

static mt_err_t
mt_jwk_set_bn(json_t *jwk, const char *name, EVP_PKEY *pkey,
    const char *param, int pad)
{
    int             n;
    char            b64[mt_base64url_encoded_len(1024) + 1];
    BIGNUM         *bn;
    unsigned char   bytes[1024];

    bn = NULL;

    if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1) {
        ERR_clear_error();
        return MT_ERR_BAD_KEY;
    }

    if (pad > 0) {
        n = BN_num_bytes(bn) <= pad ? BN_bn2binpad(bn, bytes, pad) : -1;

    } else {
        n = BN_num_bytes(bn) <= (int) sizeof(bytes) ? BN_bn2bin(bn, bytes)
                                                     : -1;
    }

    BN_free(bn);

    if (n <= 0) {
        return MT_ERR_BAD_KEY;
    }

    b64[mt_base64url_encode(b64, bytes, (size_t) n)] = '\0';

    return json_object_set_new(jwk, name, json_string(b64)) == 0
           ? MT_OK : MT_ERR_NOMEM;
}


static mt_err_t
mt_jwk_ec_public(json_t *jwk, EVP_PKEY *pkey)
{
    int        pad;
    char       group[64];
    size_t     glen;
    mt_err_t   rc;
    const char  *crv;

    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                       group, sizeof(group), &glen) != 1)
    {
        ERR_clear_error();
        return MT_ERR_BAD_KEY;
    }

    if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0) {
        crv = "P-256";
        pad = 32;

    } else if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
    {
        crv = "P-384";
        pad = 48;

    } else if (strcmp(group, "secp521r1") == 0 || strcmp(group, "P-521") == 0)
    {
        crv = "P-521";
        pad = 66;

    } else {
        return MT_ERR_BAD_KEY;
    }

    json_object_set_new(jwk, "kty", json_string("EC"));
    json_object_set_new(jwk, "crv", json_string(crv));

    rc = mt_jwk_set_bn(jwk, "x", pkey, OSSL_PKEY_PARAM_EC_PUB_X, pad);

    return rc != MT_OK ? rc
                       : mt_jwk_set_bn(jwk, "y", pkey,
                                       OSSL_PKEY_PARAM_EC_PUB_Y, pad);
}


mt_err_t
mt_key_public_jwk(const mt_key_t *key, json_t **out)
{
    char            x[mt_base64url_encoded_len(64) + 1];
    size_t          len;
    json_t         *jwk;
    mt_err_t        rc;
    EVP_PKEY       *pkey;
    unsigned char   raw[64];

    *out = NULL;
    pkey = mt_key_pkey(key);

    if (pkey == NULL) {
        return MT_ERR_BAD_KEY;
    }

    jwk = json_object();
    if (jwk == NULL) {
        return MT_ERR_NOMEM;
    }

    switch (mt_key_type(key)) {

    case MT_KTY_RSA:
        json_object_set_new(jwk, "kty", json_string("RSA"));
        rc = mt_jwk_set_bn(jwk, "n", pkey, OSSL_PKEY_PARAM_RSA_N, 0);

        if (rc == MT_OK) {
            rc = mt_jwk_set_bn(jwk, "e", pkey, OSSL_PKEY_PARAM_RSA_E, 0);
        }

        break;

    case MT_KTY_EC:
        rc = mt_jwk_ec_public(jwk, pkey);
        break;

    case MT_KTY_OKP:
        len = sizeof(raw);
        rc = MT_ERR_BAD_KEY;

        if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519
            && EVP_PKEY_get_raw_public_key(pkey, raw, &len) == 1)
        {
            x[mt_base64url_encode(x, raw, len)] = '\0';
            json_object_set_new(jwk, "kty", json_string("OKP"));
            json_object_set_new(jwk, "crv", json_string("Ed25519"));
            json_object_set_new(jwk, "x", json_string(x));
            rc = MT_OK;
        }

        ERR_clear_error();
        break;

    default:
        rc = MT_ERR_BAD_KEY;
    }

    if (rc != MT_OK) {
        json_decref(jwk);
        return rc;
    }

    *out = jwk;

    return MT_OK;
}
