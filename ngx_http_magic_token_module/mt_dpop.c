/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Sender-constrained tokens (RFC 9449, DPoP): a token whose "cnf" holds
 * a "jkt" (the RFC 7638 thumbprint of a public key) is used only with a
 * proof signed by that key for this request.  The proof's "jwk" header
 * is the one key carried in a request that is ever used, and only once
 * its thumbprint equals the one the verified token names.
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "mt_core.h"


/* members of a JWK that make it private or secret */
static const char  *mt_dpop_jwk_private[] = {
    "d", "p", "q", "dp", "dq", "qi", "oth", "k"
};

/* header members a proof must not have */
static const char  *mt_dpop_forbidden_header[] = {
    "jku", "x5u", "x5c", "crit", "kid", "enc"
};


void
mt_dpop_ath(char out[MT_DPOP_JKT_LEN + 1], const char *token, size_t len)
{
    unsigned char  md[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *) token, len, md);
    out[mt_base64url_encode(out, md, sizeof(md))] = '\0';
}


/* member names of the thumbprint input (RFC 7638 section 3.2), sorted */
static const char *const *
mt_jwk_required(const char *kty)
{
    static const char  *rsa[] = { "e", "kty", "n", NULL };
    static const char  *ec[] = { "crv", "kty", "x", "y", NULL };
    static const char  *okp[] = { "crv", "kty", "x", NULL };

    if (strcmp(kty, "RSA") == 0) {
        return rsa;
    }

    if (strcmp(kty, "EC") == 0) {
        return ec;
    }

    if (strcmp(kty, "OKP") == 0) {
        return okp;
    }

    return NULL;
}


mt_err_t
mt_jwk_thumbprint(const json_t *jwk, char out[MT_DPOP_JKT_LEN + 1])
{
    char               *s;
    size_t              i;
    json_t             *v, *obj;
    const char         *kty;
    const char *const  *names;
    unsigned char       md[SHA256_DIGEST_LENGTH];

    if (!json_is_object(jwk)
        || !json_is_string(json_object_get(jwk, "kty")))
    {
        return MT_ERR_BAD_KEY;
    }

    kty = json_string_value(json_object_get(jwk, "kty"));
    names = mt_jwk_required(kty);

    if (names == NULL) {
        return MT_ERR_BAD_KEY;
    }

    obj = json_object();
    if (obj == NULL) {
        return MT_ERR_NOMEM;
    }

    for (i = 0; names[i] != NULL; i++) {
        v = json_object_get(jwk, names[i]);

        if (!json_is_string(v) || json_string_length(v) == 0
            || json_object_set(obj, names[i], v) != 0)
        {
            json_decref(obj);
            return MT_ERR_BAD_KEY;
        }
    }

    /* no whitespace, members in lexicographic order: the names are */
    s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(obj);

    if (s == NULL) {
        return MT_ERR_NOMEM;
    }

    SHA256((const unsigned char *) s, strlen(s), md);
    free(s);

    out[mt_base64url_encode(out, md, sizeof(md))] = '\0';

    return MT_OK;
}


static int
mt_dpop_unreserved(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
           || c == '~';
}


static int
mt_dpop_hex(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}


/* the path, percent-encodings in upper case, unreserved ones decoded */
static mt_err_t
mt_dpop_htu_path(const char *p, const char *end, char *o, size_t *n)
{
    int  hi, lo, c;

    *n = 0;

    if (p == end) {
        o[(*n)++] = '/';
        return MT_OK;
    }

    if (*p != '/') {
        return MT_ERR_MALFORMED;
    }

    while (p < end) {
        c = (unsigned char) *p;

        if (c <= 0x20 || c >= 0x7f) {
            return MT_ERR_MALFORMED;
        }

        if (c != '%') {
            o[(*n)++] = (char) c;
            p++;
            continue;
        }

        if (end - p < 3
            || (hi = mt_dpop_hex(p[1])) < 0 || (lo = mt_dpop_hex(p[2])) < 0)
        {
            return MT_ERR_MALFORMED;
        }

        c = hi * 16 + lo;

        if (mt_dpop_unreserved(c)) {
            o[(*n)++] = (char) c;

        } else {
            o[(*n)++] = '%';
            o[(*n)++] = "0123456789ABCDEF"[hi];
            o[(*n)++] = "0123456789ABCDEF"[lo];
        }

        p += 3;
    }

    return MT_OK;
}


mt_err_t
mt_dpop_htu_normalize(const char *in, size_t len, char *out, size_t size,
    size_t *out_len)
{
    int          https;
    size_t       n, i, port_len;
    const char  *p, *end, *host, *host_end, *port;

    if (len > MT_DPOP_MAX_HTU || size < len + 1) {
        return MT_ERR_TOO_LARGE;
    }

    end = in + len;

    /* the query and the fragment are ignored (RFC 9449 section 4.3) */
    for (p = in; p < end && *p != '?' && *p != '#'; p++) {
        /* void */
    }

    end = p;

    if (len >= 8 && strncasecmp(in, "https://", 8) == 0) {
        https = 1;
        p = in + 8;

    } else if (len >= 7 && strncasecmp(in, "http://", 7) == 0) {
        https = 0;
        p = in + 7;

    } else {
        return MT_ERR_MALFORMED;
    }

    host = p;

    if (p < end && *p == '[') {
        while (p < end && *p != ']') {
            p++;
        }

        if (p == end) {
            return MT_ERR_MALFORMED;
        }

        p++;

    } else {
        while (p < end && *p != ':' && *p != '/') {
            p++;
        }
    }

    host_end = p;
    port = NULL;
    port_len = 0;

    if (p < end && *p == ':') {
        port = ++p;

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }

        port_len = (size_t) (p - port);

        if (port_len > 5) {
            return MT_ERR_MALFORMED;
        }
    }

    if (host_end == host || (p < end && *p != '/')) {
        return MT_ERR_MALFORMED;    /* no host, userinfo, a bad port */
    }

    /* leading zeros of a port are not its value: "080" is 80 */
    while (port_len > 1 && port[0] == '0') {
        port++;
        port_len--;
    }

    n = 0;
    memcpy(out, https ? "https://" : "http://", https ? 8 : 7);
    n += https ? 8 : 7;

    for (i = 0; host + i < host_end; i++) {
        if ((unsigned char) host[i] <= 0x20 || (unsigned char) host[i] >= 0x7f
            || host[i] == '@')
        {
            return MT_ERR_MALFORMED;
        }

        out[n++] = (host[i] >= 'A' && host[i] <= 'Z') ? host[i] | 0x20
                                                       : host[i];
    }

    /* the default port of the scheme is left out (RFC 3986 6.2.3) */
    if (port_len > 0
        && !(port_len == 3 && https && memcmp(port, "443", 3) == 0)
        && !(port_len == 2 && !https && memcmp(port, "80", 2) == 0))
    {
        out[n++] = ':';
        memcpy(out + n, port, port_len);
        n += port_len;
    }

    if (mt_dpop_htu_path(p, end, out + n, &i) != MT_OK) {
        return MT_ERR_MALFORMED;
    }

    *out_len = n + i;

    return MT_OK;
}


mt_err_t
mt_cnf_jkt(const json_t *claims, const char **jkt)
{
    json_t  *cnf, *v;

    *jkt = NULL;

    cnf = json_object_get(claims, "cnf");

    if (cnf == NULL) {
        return MT_OK;
    }

    if (!json_is_object(cnf) || json_object_size(cnf) != 1) {
        return MT_ERR_INVALID_CLAIMS;
    }

    if (json_object_get(cnf, "jwk") != NULL) {
        return MT_OK;           /* an open element: mt_chain.c checks it */
    }

    v = json_object_get(cnf, "jkt");

    if (!json_is_string(v) || json_string_length(v) != MT_DPOP_JKT_LEN) {
        return MT_ERR_INVALID_CLAIMS;
    }

    *jkt = json_string_value(v);

    return MT_OK;
}


/* the proof's "jwk": a public RSA, EC or OKP key fitting alg */
static mt_err_t
mt_dpop_key(const json_t *jwk, mt_alg_t alg, mt_keyset_t **out)
{
    char            *s;
    size_t           i;
    mt_err_t         rc;
    mt_keyset_t     *ks;
    const mt_key_t  *key;

    *out = NULL;

    if (!json_is_object(jwk) || json_object_get(jwk, "keys") != NULL) {
        return MT_ERR_INVALID_DPOP_PROOF;
    }

    for (i = 0; i < sizeof(mt_dpop_jwk_private) / sizeof(char *); i++) {
        if (json_object_get(jwk, mt_dpop_jwk_private[i]) != NULL) {
            return MT_ERR_INVALID_DPOP_PROOF;
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

    rc = mt_keyset_add_jwks(ks, s, strlen(s), "dpop", NULL, 0);
    free(s);

    if (rc != MT_OK) {
        mt_keyset_free(ks);
        return rc == MT_ERR_NOMEM ? rc : MT_ERR_INVALID_DPOP_PROOF;
    }

    key = mt_keyset_get(ks, 0);

    if (mt_keyset_count(ks) != 1 || mt_key_has_private(key)
        || mt_key_type(key) == MT_KTY_OCT || !mt_key_fits_alg(key, alg))
    {
        mt_keyset_free(ks);
        return MT_ERR_INVALID_DPOP_PROOF;
    }

    *out = ks;

    return MT_OK;
}


static mt_err_t
mt_dpop_json(const char *seg, size_t len, json_t **out)
{
    size_t          n;
    mt_err_t        rc;
    unsigned char  *buf;

    buf = malloc(mt_base64_decoded_max(len) + 1);
    if (buf == NULL) {
        return MT_ERR_NOMEM;
    }

    rc = mt_base64url_decode(buf, &n, seg, len);

    if (rc == MT_OK) {
        rc = mt_json_parse_object(out, (const char *) buf, n, MT_MAX_CLAIMS);
    }

    free(buf);

    if (rc != MT_OK && rc != MT_ERR_NOMEM) {
        return MT_ERR_INVALID_DPOP_PROOF;
    }

    return rc;
}


/* the header: typ, an asymmetric alg, a public jwk; the key loaded */
static mt_err_t
mt_dpop_header(const json_t *header, mt_alg_t *alg, mt_keyset_t **ks)
{
    size_t   i;
    json_t  *v;

    for (i = 0; i < sizeof(mt_dpop_forbidden_header) / sizeof(char *); i++) {
        if (json_object_get(header, mt_dpop_forbidden_header[i]) != NULL) {
            return MT_ERR_INVALID_DPOP_PROOF;
        }
    }

    v = json_object_get(header, "typ");

    if (!json_is_string(v) || strcmp(json_string_value(v), MT_DPOP_TYP) != 0)
    {
        return MT_ERR_INVALID_DPOP_PROOF;
    }

    v = json_object_get(header, "alg");

    if (!json_is_string(v)) {
        return MT_ERR_INVALID_DPOP_PROOF;
    }

    *alg = mt_alg_from_name(json_string_value(v), json_string_length(v));

    if (*alg == MT_ALG_NONE || *alg == MT_ALG_HS256 || *alg == MT_ALG_HS384
        || *alg == MT_ALG_HS512)
    {
        return MT_ERR_INVALID_DPOP_PROOF;
    }

    return mt_dpop_key(json_object_get(header, "jwk"), *alg, ks);
}


/* a string claim equal to (s, len), compared in constant time */
static int
mt_dpop_claim_is(const json_t *claims, const char *name, const char *s,
    size_t len)
{
    json_t  *v;

    v = json_object_get(claims, name);

    return json_is_string(v) && json_string_length(v) == len
           && CRYPTO_memcmp(json_string_value(v), s, len) == 0;
}


static mt_err_t
mt_dpop_claims(mt_dpop_t *d, const json_t *claims, const mt_dpop_req_t *req)
{
    char      ath[MT_DPOP_JKT_LEN + 1];
    char      a[MT_DPOP_MAX_HTU + 1], b[MT_DPOP_MAX_HTU + 1];
    size_t    a_len, b_len;
    json_t   *v;
    int64_t   iat;

    v = json_object_get(claims, "jti");

    if (!json_is_string(v) || json_string_length(v) == 0
        || json_string_length(v) > MT_DPOP_MAX_JTI)
    {
        return MT_ERR_INVALID_DPOP_PROOF;
    }

    d->jti = json_string_value(v);
    d->jti_len = json_string_length(v);

    if (!mt_dpop_claim_is(claims, "htm", req->method, req->method_len)) {
        return MT_ERR_INVALID_DPOP_PROOF;
    }

    v = json_object_get(claims, "htu");

    if (!json_is_string(v)
        || mt_dpop_htu_normalize(json_string_value(v), json_string_length(v),
                                 a, sizeof(a), &a_len) != MT_OK
        || mt_dpop_htu_normalize(req->htu, req->htu_len, b, sizeof(b),
                                 &b_len) != MT_OK
        || a_len != b_len || memcmp(a, b, a_len) != 0)
    {
        return MT_ERR_INVALID_DPOP_PROOF;
    }

    v = json_object_get(claims, "iat");

    if (!json_is_integer(v)) {
        return MT_ERR_INVALID_DPOP_PROOF;
    }

    iat = (int64_t) json_integer_value(v);

    if (iat > req->now + req->leeway
        || iat < req->now - req->window - req->leeway)
    {
        return MT_ERR_INVALID_DPOP_PROOF;
    }

    d->iat = iat;

    if (req->token != NULL) {
        mt_dpop_ath(ath, req->token, req->token_len);

        if (!mt_dpop_claim_is(claims, "ath", ath, MT_DPOP_JKT_LEN)) {
            return MT_ERR_INVALID_DPOP_PROOF;
        }
    }

    return MT_OK;
}


static mt_err_t
mt_dpop_check(mt_dpop_t *d, const char *proof, size_t len,
    const mt_dpop_req_t *req, json_t **header, json_t **claims)
{
    size_t            sig_len;
    mt_alg_t          alg;
    mt_err_t          rc;
    const char       *dot1, *dot2, *end;
    mt_keyset_t      *ks;
    unsigned char     sig[1024];

    if (len == 0) {
        return MT_ERR_DPOP_REQUIRED;
    }

    if (len > MT_DPOP_MAX_PROOF) {
        return MT_ERR_INVALID_DPOP_PROOF;
    }

    end = proof + len;
    dot1 = memchr(proof, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t) (end - dot1 - 1)) : NULL;

    if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t) (end - dot2 - 1))
        || dot1 == proof || dot2 == dot1 + 1 || dot2 + 1 == end
        || (size_t) (end - dot2 - 1) > mt_base64url_encoded_len(sizeof(sig)))
    {
        return MT_ERR_INVALID_DPOP_PROOF;
    }

    rc = mt_dpop_json(proof, (size_t) (dot1 - proof), header);
    if (rc != MT_OK) {
        return rc;
    }

    rc = mt_dpop_header(*header, &alg, &ks);
    if (rc != MT_OK) {
        return rc;
    }

    rc = mt_base64url_decode(sig, &sig_len, dot2 + 1,
                             (size_t) (end - dot2 - 1));
    if (rc == MT_OK) {
        rc = mt_jws_verify_signature(mt_keyset_get(ks, 0), alg,
                                     (const unsigned char *) proof,
                                     (size_t) (dot2 - proof), sig, sig_len);
    }

    mt_keyset_free(ks);

    if (rc != MT_OK) {
        return rc == MT_ERR_NOMEM ? rc : MT_ERR_INVALID_DPOP_PROOF;
    }

    rc = mt_jwk_thumbprint(json_object_get(*header, "jwk"), d->jkt);
    if (rc != MT_OK) {
        return rc == MT_ERR_NOMEM ? rc : MT_ERR_INVALID_DPOP_PROOF;
    }

    /* the key the token names, and no other (RFC 9449 section 4.3) */
    if (req->jkt != NULL
        && (req->jkt_len != MT_DPOP_JKT_LEN
            || CRYPTO_memcmp(req->jkt, d->jkt, MT_DPOP_JKT_LEN) != 0))
    {
        return MT_ERR_INVALID_DPOP_PROOF;
    }

    rc = mt_dpop_json(dot1 + 1, (size_t) (dot2 - dot1 - 1), claims);
    if (rc != MT_OK) {
        return rc;
    }

    return mt_dpop_claims(d, *claims, req);
}


mt_err_t
mt_dpop_verify(mt_dpop_t *d, const char *proof, size_t len,
    const mt_dpop_req_t *req)
{
    char       buf[MT_DPOP_JKT_LEN + 1 + MT_DPOP_MAX_JTI];
    json_t    *header, *claims;
    mt_err_t   rc;

    memset(d, 0, sizeof(mt_dpop_t));
    header = NULL;
    claims = NULL;

    rc = mt_dpop_check(d, proof, len, req, &header, &claims);

    if (rc == MT_OK) {
        /* the replay key: a jti is the key holder's, so both */
        memcpy(buf, d->jkt, MT_DPOP_JKT_LEN);
        buf[MT_DPOP_JKT_LEN] = '\n';
        memcpy(buf + MT_DPOP_JKT_LEN + 1, d->jti, d->jti_len);
        SHA256((const unsigned char *) buf, MT_DPOP_JKT_LEN + 1 + d->jti_len,
               d->replay);
    }

    d->jti = NULL;
    d->jti_len = 0;

    json_decref(header);
    json_decref(claims);

    return rc;
}
