/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_chain: chains of attenuated tokens (mt_chain.c).
 *
 * Input, either
 *   - a chain as it is sent (ROOT~LINK~...; anything not starting with
 *     '{'), verified as it is; or
 *   - lines, so that the fuzzer gets behind the signatures: line 0 the
 *     root's claims (signed HS256 with the fixture secret, kid "hs"),
 *     each further line a flags byte F and a link's claims:
 *       F & 1   the link is signed with the fixture Ed25519 key (EdDSA),
 *               else with the EC P-256 key (ES256);
 *       F & 2   the claims are parsed and the link made with
 *               mt_chain_attenuate() ("prev" and the header right),
 *               else the bytes are signed as they are, header
 *               {"alg":..,"typ":"mt-link+jwt"};
 *       F & 4   (with F & 2) "cnf" names the key of the next line's
 *               link (EC when it is the last).
 *
 * Properties: a failure leaves nothing behind and uses a documented
 * code; a verified chain has one link per separator, at most
 * MT_CHAIN_MAX_LINKS, a terminal last element, a "prev" in every link,
 * every link key one of the two fixture keys we sign links with (no
 * link verifies under a key from the token alone), an exp no later
 * than the root's and not past; whatever the chain allows its root
 * allows, and a link's "methods" name the method; a link's aud is
 * never accepted where no audience is.
 *
 * mt_chain_verify_from(), as the cache uses it: from every prefix of a
 * verified chain (its elements borrowed, the key its last element names
 * given or imported), the chain verifies to the same links and exp, and
 * the prefix is left as it was; with a byte of the part after the
 * prefix changed, it answers as mt_chain_verify() does.
 */

#include "common.h"


static mt_keyset_t  *ks;
static json_t       *jwk_ec, *jwk_ed;
static mt_named_scope_t  named[1];


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int   m;
    char  err[256];

    (void) argc;
    (void) argv;

    ks = fx_keyset();

    if (mt_key_public_jwk(mt_keyset_get(ks, FX_KEY_EC), &jwk_ec) != MT_OK
        || mt_key_public_jwk(mt_keyset_get(ks, FX_KEY_ED), &jwk_ed) != MT_OK)
    {
        fx_die("mt_key_public_jwk", NULL);
    }

    named[0].name = "read";
    named[0].name_len = 4;

    for (m = 0; m < 2; m++) {
        named[0].rules[m] = mt_rules_new((mt_match_mode_t) m);

        if (named[0].rules[m] == NULL
            || mt_rules_add(named[0].rules[m], "GET /v1/.*", 10, err,
                            sizeof(err)) != MT_OK)
        {
            fx_die("named scope", err);
        }
    }

    return 0;
}


/* chain (malloc()ed, *len) + "~" + a link built from line (F, claims) */
static char *
fx_link(char *chain, size_t *len, const uint8_t *line, size_t n, int next)
{
    int              ed;
    char            *out, *l, hdr[64];
    size_t           out_len, l_len;
    json_t          *claims;
    const mt_key_t  *key;

    ed = line[0] & 1;
    key = mt_keyset_get(ks, ed ? FX_KEY_ED : FX_KEY_EC);

    if (line[0] & 2) {
        if (mt_json_parse_object(&claims, (const char *) line + 1, n - 1,
                                 MT_MAX_CLAIMS) != MT_OK)
        {
            return chain;
        }

        if (line[0] & 4) {
            json_object_set_new(claims, "cnf",
                                json_pack("{s:O}", "jwk",
                                          next ? jwk_ed : jwk_ec));
        }

        if (mt_chain_attenuate(chain, *len, key,
                               ed ? MT_ALG_EDDSA : MT_ALG_ES256, claims,
                               &out, &out_len)
            != MT_OK)
        {
            out = NULL;
        }

        json_decref(claims);

        if (out == NULL) {
            return chain;
        }

        free(chain);
        *len = out_len;

        return out;
    }

    snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"%s\"}",
             ed ? "EdDSA" : "ES256", MT_CHAIN_LINK_TYP);

    l = fx_sign(key, ed ? MT_ALG_EDDSA : MT_ALG_ES256, hdr, strlen(hdr),
                line + 1, n - 1, &l_len);
    FX_CHECK(l != NULL, "signing failed");

    out = malloc(*len + 1 + l_len + 1);
    FX_CHECK(out != NULL, "malloc");
    memcpy(out, chain, *len);
    out[*len] = MT_CHAIN_SEP;
    memcpy(out + *len + 1, l, l_len);
    out[*len + 1 + l_len] = '\0';
    *len += 1 + l_len;

    free(l);
    free(chain);

    return out;
}


/* the chain from lines */
static char *
fx_build(const uint8_t *data, size_t size, size_t *len)
{
    char           *chain;
    size_t          i, n, start;
    const uint8_t  *nl, *next;
    static const char  header[] = "{\"alg\":\"HS256\",\"kid\":\"hs\"}";

    nl = memchr(data, '\n', size);
    n = nl != NULL ? (size_t) (nl - data) : size;

    chain = fx_sign(mt_keyset_get(ks, FX_KEY_HMAC), MT_ALG_HS256, header,
                    sizeof(header) - 1, data, n, len);
    FX_CHECK(chain != NULL, "signing failed");

    for (start = n + 1; start < size; start = i + 1) {
        nl = memchr(data + start, '\n', size - start);
        i = nl != NULL ? (size_t) (nl - data) : size;

        if (i == start) {
            continue;
        }

        next = i + 1 < size ? data + i + 1 : NULL;

        chain = fx_link(chain, len, data + start, i - start,
                        next != NULL ? (next[0] & 1) : 0);
    }

    return chain;
}


static void
fx_check_ok(const mt_chain_t *c, const char *chain, size_t len)
{
    size_t           i, seps;
    json_t          *cnf, *last;
    const mt_key_t  *key;

    for (seps = 0, i = 0; i < len; i++) {
        seps += chain[i] == MT_CHAIN_SEP;
    }

    FX_CHECK(c->n_links == seps, "%zu links, %zu separators", c->n_links,
             seps);
    FX_CHECK(c->n_links <= MT_CHAIN_MAX_LINKS, "%zu links", c->n_links);

    last = c->n_links > 0 ? c->links[c->n_links - 1].jws.claims
                          : c->root.jws.claims;
    cnf = json_object_get(last, "cnf");
    FX_CHECK(json_object_get(cnf, "jwk") == NULL, "the last element is open");

    FX_CHECK(c->exp <= json_integer_value(json_object_get(c->root.jws.claims,
                                                          "exp")),
             "exp later than the root's");
    FX_CHECK(c->exp > FX_NOW - 60, "an expired chain verified");

    for (i = 0; i < c->n_links; i++) {
        FX_CHECK(json_string_length(json_object_get(c->links[i].jws.claims,
                                                    "prev"))
                 == MT_CHAIN_PREV_LEN, "link %zu without prev", i);

        key = c->links[i].jws.key;
        FX_CHECK(key != NULL
                 && (EVP_PKEY_eq(mt_key_pkey(key),
                                 mt_key_pkey(mt_keyset_get(ks, FX_KEY_EC)))
                     == 1
                     || EVP_PKEY_eq(mt_key_pkey(key),
                                    mt_key_pkey(mt_keyset_get(ks,
                                                              FX_KEY_ED)))
                        == 1),
                 "link %zu verified under a key we never signed with", i);
    }
}


static void
fx_check_requests(const mt_chain_t *c, mt_match_mode_t mode)
{
    size_t               i, j, k, mlen, rlen;
    json_t              *v;
    mt_err_t             rc, root_rc;
    const char          *m, *rm;
    int                  found;
    const fx_request_t  *q;

    for (i = 0; i < FX_REQUESTS; i++) {
        q = fx_request(i);

        rc = mt_chain_authorize(c, named, 1, mode, q->method,
                                strlen(q->method), q->path,
                                strlen(q->path), &m, &mlen);

        FX_CHECK(rc == MT_OK || rc == MT_ERR_SCOPE_DENIED
                 || rc == MT_ERR_UNKNOWN_SCOPE || rc == MT_ERR_NOMEM,
                 "authorize: %s", mt_strerror(rc));

        if (rc != MT_OK) {
            continue;
        }

        root_rc = mt_token_authorize(&c->root, named, 1, mode,
                                     q->method,
                                     strlen(q->method),
                                     q->path,
                                     strlen(q->path), &rm, &rlen);
        FX_CHECK(root_rc == MT_OK, "the chain allows what its root denies");

        for (j = 0; j < c->n_links; j++) {
            if (c->links[j].methods == NULL) {
                continue;
            }

            found = 0;

            json_array_foreach(c->links[j].methods, k, v) {
                found |= strcmp(json_string_value(v),
                                q->method) == 0;
            }

            FX_CHECK(found, "link %zu: method %s not in its methods", j,
                     q->method);
        }
    }
}


/* c's first "from" elements, borrowed, into p */
static void
fx_prefix(mt_chain_t *p, const mt_chain_t *c, size_t from)
{
    size_t   i;
    json_t  *v;

    memset(p, 0, sizeof(mt_chain_t));
    p->root = c->root;
    p->exp = (int64_t) json_integer_value(json_object_get(c->root.jws.claims,
                                                          "exp"));

    for (i = 0; i + 1 < from; i++) {
        p->links[i] = c->links[i];
        v = json_object_get(c->links[i].jws.claims, "exp");

        if (v != NULL && (int64_t) json_integer_value(v) < p->exp) {
            p->exp = (int64_t) json_integer_value(v);
        }
    }

    p->n_links = from - 1;
    p->borrowed = from;
}


static void
fx_check_from(const mt_chain_t *c, const char *chain, size_t len,
    mt_match_mode_t mode, const uint8_t *data, size_t size)
{
    char        *m;
    size_t       from, at, start;
    mt_err_t     rc, full;
    mt_chain_t   p, f;

    start = 0;

    for (from = 1; from <= c->n_links + 1; from++) {
        fx_prefix(&p, c, from);

        rc = mt_chain_verify_from(&p, from,
                                  from <= c->n_links ? c->links[from - 1].key
                                                     : NULL,
                                  chain, len, FX_NOW, 60, mode);
        FX_CHECK(rc == MT_OK, "from %zu elements: %s", from,
                 mt_strerror(rc));
        FX_CHECK(p.n_links == c->n_links && p.exp == c->exp,
                 "from %zu elements: another chain", from);
        mt_chain_clear(&p);

        fx_prefix(&p, c, from);
        rc = mt_chain_verify_from(&p, from, NULL, chain, len, FX_NOW, 60,
                                  mode);
        FX_CHECK(rc == MT_OK, "from %zu elements, key imported: %s", from,
                 mt_strerror(rc));
        mt_chain_clear(&p);

        /* the end of element from - 1: a byte after it changed */
        while (start < len && chain[start] != MT_CHAIN_SEP) {
            start++;
        }

        if (start >= len || size == 0) {
            break;
        }

        at = start + 1 + data[size - 1] % (len - start - 1 > 0
                                           ? len - start - 1 : 1);
        start++;

        if (at >= len) {
            continue;
        }

        m = malloc(len + 1);
        FX_CHECK(m != NULL, "malloc");
        memcpy(m, chain, len + 1);
        m[at] ^= (char) (data[0] | 1);

        full = mt_chain_verify(&f, ks, m, len, FX_NOW, 60, mode);
        if (full == MT_OK) {
            mt_chain_clear(&f);
        }

        fx_prefix(&p, c, from);
        rc = mt_chain_verify_from(&p, from,
                                  from <= c->n_links ? c->links[from - 1].key
                                                     : NULL,
                                  m, len, FX_NOW, 60, mode);
        FX_CHECK(p.n_links == from - 1 || rc == MT_OK,
                 "a failure from a prefix changed it");
        FX_CHECK(rc == full || (rc == MT_ERR_NOMEM || full == MT_ERR_NOMEM),
                 "changed after %zu elements: %s from the prefix, %s in full",
                 from, mt_strerror(rc), mt_strerror(full));
        mt_chain_clear(&p);
        free(m);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int           mode, has_aud;
    char         *chain;
    size_t        len, i, alen;
    mt_err_t      rc;
    mt_chain_t    c;
    const char   *auds[1] = { "api" };

    if (size > 0 && data[0] == '{') {
        chain = fx_build(data, size, &len);

    } else {
        chain = malloc(size + 1);
        FX_CHECK(chain != NULL, "malloc");
        memcpy(chain, data, size);
        chain[size] = '\0';
        len = size;
    }

    for (mode = 0; mode < 2; mode++) {
        rc = mt_chain_verify(&c, ks, chain, len, FX_NOW, 60,
                             (mt_match_mode_t) mode);

        if (rc != MT_OK) {
            FX_CHECK(c.n_links == 0 && c.root.jws.claims == NULL
                     && c.root.rules == NULL && c.links[0].jws.claims == NULL
                     && c.links[0].key == NULL,
                     "failed verify (%s) left state behind",
                     mt_strerror(rc));
            FX_CHECK(rc != MT_ERR_INTERNAL && rc != MT_ERR_DECRYPT
                     && rc != MT_ERR_SCOPE_DENIED && rc != MT_ERR_REVOKED,
                     "verify: %s", mt_strerror(rc));
            continue;
        }

        fx_check_ok(&c, chain, len);
        fx_check_requests(&c, (mt_match_mode_t) mode);

        if (mode == 0) {
            fx_check_from(&c, chain, len, (mt_match_mode_t) mode, data, size);
        }

        has_aud = 0;

        for (i = 0; i < c.n_links; i++) {
            has_aud |= c.links[i].aud != NULL;
        }

        alen = 3;
        rc = mt_chain_check_audience(&c, auds, &alen, 1);
        FX_CHECK(rc == MT_OK || rc == MT_ERR_INVALID_AUDIENCE,
                 "audience: %s", mt_strerror(rc));

        rc = mt_chain_check_audience(&c, NULL, NULL, 0);
        FX_CHECK((rc == MT_OK) == !has_aud,
                 "a link's aud with no audience accepted: %s",
                 mt_strerror(rc));

        mt_chain_clear(&c);
    }

    free(chain);

    return 0;
}
