/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Minting, shared by the issuer endpoint and the magic-token CLI: the
 * validation of a magic-api-proxy style request ({"token": ...,
 * "allowed": [...]} or {"token": ..., "scopes": [...]}) into claims,
 * and the signing of claims with an encrypted credential.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "mt_core.h"


/* no lifetime beyond this: exp = now + ttl never overflows */
#define MT_MINT_MAX_TTL  ((int64_t) 100 * 366 * 86400)


#define MT_MINT_ERROR(...)                                                    \
    do {                                                                      \
        if (errbuf != NULL) {                                                 \
            snprintf(errbuf, errlen, __VA_ARGS__);                            \
        }                                                                     \
    } while (0)


/* claims may end up in request headers: no CR, LF, NUL and the like */
static int
mt_mint_has_control(const json_t *v)
{
    size_t       i;
    const char  *s;

    s = json_string_value(v);

    for (i = 0; i < json_string_length(v); i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
            return 1;
        }
    }

    return 0;
}


static mt_err_t
mt_mint_string_list(const json_t *v, const char *name, char *errbuf,
    size_t errlen)
{
    size_t   i;
    json_t  *item;

    if (!json_is_array(v)) {
        MT_MINT_ERROR("%s must be a list", name);
        return MT_ERR_INVALID_CLAIMS;
    }

    if (json_array_size(v) == 0 || json_array_size(v) > MT_MAX_RULES) {
        MT_MINT_ERROR("%s must have 1 to %d entries", name, MT_MAX_RULES);
        return MT_ERR_INVALID_CLAIMS;
    }

    json_array_foreach(v, i, item) {
        if (!json_is_string(item)) {
            MT_MINT_ERROR("%s must be a list of strings", name);
            return MT_ERR_INVALID_CLAIMS;
        }

        if (mt_mint_has_control(item)) {
            MT_MINT_ERROR("%s must not contain control characters", name);
            return MT_ERR_INVALID_CLAIMS;
        }
    }

    return MT_OK;
}


static mt_err_t
mt_mint_string_claim(json_t *claims, const json_t *req, const char *name,
    size_t max, char *errbuf, size_t errlen)
{
    json_t  *v;

    v = json_object_get(req, name);

    if (v == NULL) {
        return MT_OK;
    }

    if (!json_is_string(v) || json_string_length(v) == 0
        || json_string_length(v) > max)
    {
        MT_MINT_ERROR("%s must be a non-empty string of at most %zu bytes",
                      name, max);
        return MT_ERR_INVALID_CLAIMS;
    }

    if (mt_mint_has_control(v)) {
        MT_MINT_ERROR("%s must not contain control characters", name);
        return MT_ERR_INVALID_CLAIMS;
    }

    json_object_set(claims, name, v);

    return MT_OK;
}


static int
mt_mint_is_b64url(const char *s, size_t len)
{
    size_t          n;
    unsigned char   buf[mt_base64_decoded_max(MT_DPOP_JKT_LEN)];

    return len <= MT_DPOP_JKT_LEN
           && mt_base64url_decode(buf, &n, s, len) == MT_OK;
}


/*
 * "cnf": {"jwk": public key} makes an attenuable root
 * (docs/attenuation.md), "max_further_links" bounds its chains.
 */
static mt_err_t
mt_mint_attenuable(json_t *claims, const json_t *req, char *errbuf,
    size_t errlen)
{
    json_t  *v;

    v = json_object_get(req, "cnf");

    if (v != NULL) {
        if (mt_chain_cnf_check(v) != MT_OK) {
            MT_MINT_ERROR("cnf must be {\"jwk\": a public RSA, EC or "
                          "Ed25519 key}");
            return MT_ERR_INVALID_CLAIMS;
        }

        json_object_set(claims, "cnf", v);
    }

    /* "jkt": bound to a DPoP key (RFC 9449), not attenuable */
    v = json_object_get(req, "jkt");

    if (v != NULL) {
        if (json_object_get(req, "cnf") != NULL
            || json_object_get(req, "max_further_links") != NULL
            || !json_is_string(v)
            || json_string_length(v) != MT_DPOP_JKT_LEN
            || !mt_mint_is_b64url(json_string_value(v), MT_DPOP_JKT_LEN))
        {
            MT_MINT_ERROR("jkt must be an RFC 7638 SHA-256 thumbprint (43 "
                          "base64url characters), without cnf");
            return MT_ERR_INVALID_CLAIMS;
        }

        json_object_set_new(claims, "cnf", json_pack("{s:O}", "jkt", v));
    }

    v = json_object_get(req, "max_further_links");

    if (v != NULL) {
        if (json_object_get(req, "cnf") == NULL || !json_is_integer(v)
            || json_integer_value(v) < 0
            || json_integer_value(v) > MT_CHAIN_MAX_LINKS)
        {
            MT_MINT_ERROR("max_further_links must be an integer from 0 to "
                          "%d, with cnf", MT_CHAIN_MAX_LINKS);
            return MT_ERR_INVALID_CLAIMS;
        }

        json_object_set(claims, "max_further_links", v);
    }

    return MT_OK;
}


mt_err_t
mt_mint_claims(const json_t *req, const mt_mint_policy_t *policy,
    int64_t now, json_t **out, const char **cred, size_t *cred_len,
    char *errbuf, size_t errlen)
{
    size_t           i;
    json_t          *claims, *token, *allowed, *scopes, *v, *aud, *mcp;
    int64_t          exp, ttl;
    mt_err_t         rc;
    mt_rules_t      *rules;
    mt_match_mode_t  mode;
    unsigned char    rnd[16];
    char             jti[mt_base64url_encoded_len(16) + 1];
    char             rule_err[256];

    *out = NULL;

    if (!json_is_object(req)) {
        MT_MINT_ERROR("request must be a JSON object");
        return MT_ERR_MALFORMED;
    }

    token = json_object_get(req, "token");

    if (!json_is_string(token) || json_string_length(token) == 0) {
        MT_MINT_ERROR("we need a token for the API behind, in the "
                      "\"token\" field");
        return MT_ERR_INVALID_CLAIMS;
    }

    if (json_string_length(token) > MT_MAX_CREDENTIAL_LEN) {
        MT_MINT_ERROR("token is longer than %d bytes", MT_MAX_CREDENTIAL_LEN);
        return MT_ERR_INVALID_CLAIMS;
    }

    for (i = 0; i < json_string_length(token); i++) {
        if ((unsigned char) json_string_value(token)[i] < 0x20
            || json_string_value(token)[i] == 0x7f)
        {
            MT_MINT_ERROR("token must not contain control characters");
            return MT_ERR_INVALID_CLAIMS;
        }
    }

    allowed = json_object_get(req, "allowed");
    scopes = json_object_get(req, "scopes");

    if (allowed != NULL && scopes != NULL) {
        MT_MINT_ERROR("allowed (spelling out the allowed requests) or "
                      "scopes (naming scopes configured on the proxy), "
                      "not both");
        return MT_ERR_INVALID_CLAIMS;
    }

    if (allowed == NULL && scopes == NULL) {
        MT_MINT_ERROR("allowed or scopes is required");
        return MT_ERR_INVALID_CLAIMS;
    }

    if (allowed != NULL) {
        rc = mt_mint_string_list(allowed, "allowed", errbuf, errlen);
        if (rc != MT_OK) {
            return rc;
        }

        /*
         * Every entry must compile in both match modes: the issuer does
         * not know the verifying location's magic_token_scope_match,
         * and an entry refused in either would never match there.
         */
        for (mode = MT_MATCH_FULL; mode <= MT_MATCH_PREFIX; mode++) {
            rules = mt_rules_new(mode);
            if (rules == NULL) {
                return MT_ERR_NOMEM;
            }

            json_array_foreach(allowed, i, v) {
                rc = mt_rules_add(rules, json_string_value(v),
                                  json_string_length(v), rule_err,
                                  sizeof(rule_err));
                if (rc != MT_OK) {
                    mt_rules_free(rules);
                    MT_MINT_ERROR("%s (%s mode)", rule_err,
                                  mode == MT_MATCH_FULL ? "full" : "prefix");
                    return rc == MT_ERR_NOMEM ? rc : MT_ERR_INVALID_CLAIMS;
                }
            }

            mt_rules_free(rules);
        }
    }

    if (scopes != NULL) {
        rc = mt_mint_string_list(scopes, "scopes", errbuf, errlen);
        if (rc != MT_OK) {
            return rc;
        }

        json_array_foreach(scopes, i, v) {
            if (!policy->scope_known(policy->scope_data, json_string_value(v),
                                     json_string_length(v)))
            {
                MT_MINT_ERROR("unknown scope \"%.64s\"", json_string_value(v));
                return MT_ERR_UNKNOWN_SCOPE;
            }
        }
    }

    /* MCP entries (docs/mcp.md): patterns that compile, nothing else */
    mcp = json_object_get(req, "mcp");

    if (mcp != NULL) {
        rc = mt_mcp_claim(req, &rules);
        if (rc != MT_OK) {
            MT_MINT_ERROR("mcp must be an object of \"tools\", "
                          "\"resources\" and \"prompts\": lists of "
                          "patterns that compile");
            return rc == MT_ERR_NOMEM ? rc : MT_ERR_INVALID_CLAIMS;
        }

        mt_rules_free(rules);
    }

    /* lifetime: "exp" (absolute) or "ttl" (seconds), capped */
    ttl = policy->default_ttl;

    if (ttl <= 0 || ttl > MT_MINT_MAX_TTL) {
        ttl = MT_MINT_MAX_TTL;
    }

    v = json_object_get(req, "ttl");

    if (v != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) <= 0) {
            MT_MINT_ERROR("ttl must be a positive integer");
            return MT_ERR_INVALID_CLAIMS;
        }

        ttl = (int64_t) json_integer_value(v);
    }

    if (ttl > MT_MINT_MAX_TTL) {
        MT_MINT_ERROR("ttl or exp is more than 100 years away");
        return MT_ERR_INVALID_CLAIMS;
    }

    v = json_object_get(req, "exp");

    if (v != NULL) {
        if (json_object_get(req, "ttl") != NULL) {
            MT_MINT_ERROR("exp or ttl, not both");
            return MT_ERR_INVALID_CLAIMS;
        }

        if (!json_is_integer(v) || json_integer_value(v) <= now
            || json_integer_value(v) - now > MT_MINT_MAX_TTL)
        {
            MT_MINT_ERROR("exp must be an integer time in the future, at "
                          "most 100 years away");
            return MT_ERR_INVALID_CLAIMS;
        }

        ttl = (int64_t) json_integer_value(v) - now;
    }

    if (policy->max_ttl > 0 && ttl > policy->max_ttl) {
        ttl = policy->max_ttl;
    }

    exp = now + ttl;

    claims = json_object();
    if (claims == NULL) {
        return MT_ERR_NOMEM;
    }

    json_object_set_new(claims, "iat", json_integer(now));
    json_object_set_new(claims, "exp", json_integer(exp));

    if (allowed != NULL) {
        json_object_set(claims, "allowed", allowed);
    }

    if (scopes != NULL) {
        json_object_set(claims, "scopes", scopes);
    }

    if (mcp != NULL) {
        json_object_set(claims, "mcp", mcp);
    }

    rc = mt_mint_string_claim(claims, req, "sub", 256, errbuf, errlen);

    if (rc == MT_OK) {
        rc = mt_mint_string_claim(claims, req, "jti", 128, errbuf, errlen);
    }

    if (rc == MT_OK) {
        aud = json_object_get(req, "aud");

        if (json_is_array(aud)) {
            rc = mt_mint_string_list(aud, "aud", errbuf, errlen);

            json_array_foreach(aud, i, v) {
                if (rc == MT_OK && json_string_length(v) > 256) {
                    MT_MINT_ERROR("aud entries must be at most 256 bytes");
                    rc = MT_ERR_INVALID_CLAIMS;
                }
            }

            if (rc == MT_OK) {
                json_object_set(claims, "aud", aud);
            }

        } else {
            rc = mt_mint_string_claim(claims, req, "aud", 256, errbuf,
                                      errlen);
        }
    }

    if (rc != MT_OK) {
        json_decref(claims);
        return rc;
    }

    if (mt_mint_attenuable(claims, req, errbuf, errlen) != MT_OK) {
        json_decref(claims);
        return MT_ERR_INVALID_CLAIMS;
    }

    if (json_object_get(claims, "jti") == NULL) {
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            json_decref(claims);
            return MT_ERR_INTERNAL;
        }

        jti[mt_base64url_encode(jti, rnd, sizeof(rnd))] = '\0';
        json_object_set_new(claims, "jti", json_string(jti));
    }

    *out = claims;
    *cred = json_string_value(token);
    *cred_len = json_string_length(token);

    return MT_OK;
}


mt_err_t
mt_token_mint(const mt_mint_opts_t *opts, json_t *claims,
    const unsigned char *cred, size_t cred_len, char **out, size_t *out_len)
{
    char           *enc, *hdr_s, *claims_s, *tok, *w;
    size_t          enc_len, hlen, clen, sig_len;
    json_t         *header;
    mt_err_t        rc;
    unsigned char   sig[1024];

    *out = NULL;

    if (cred != NULL) {
        if (opts->enc_key == NULL) {
            return MT_ERR_UNKNOWN_KEY;
        }

        if (opts->jwe_alg != NULL) {
            rc = mt_jwe_encrypt(opts->enc_key, opts->jwe_alg, opts->jwe_enc,
                                opts->enc_kid, cred, cred_len, &enc,
                                &enc_len);
        } else {
            rc = mt_credential_encrypt(opts->enc_key, cred, cred_len, &enc,
                                       &enc_len);
        }

        if (rc != MT_OK) {
            return rc;
        }

        json_object_set_new(claims, "token", json_stringn(enc, enc_len));
        free(enc);
    }

    header = json_object();
    if (header == NULL) {
        return MT_ERR_NOMEM;
    }

    json_object_set_new(header, "alg", json_string(mt_alg_name(opts->alg)));
    json_object_set_new(header, "typ", json_string("JWT"));

    if (opts->kid != NULL) {
        json_object_set_new(header, "kid", json_string(opts->kid));
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

    tok = malloc(mt_base64url_encoded_len(hlen) + mt_base64url_encoded_len(clen)
                 + mt_base64url_encoded_len(sizeof(sig)) + 3);
    if (tok == NULL) {
        free(hdr_s);
        free(claims_s);
        return MT_ERR_NOMEM;
    }

    w = tok + mt_base64url_encode(tok, (unsigned char *) hdr_s, hlen);
    *w++ = '.';
    w += mt_base64url_encode(w, (unsigned char *) claims_s, clen);

    free(hdr_s);
    free(claims_s);

    rc = mt_jws_sign(opts->sign_key, opts->alg, (unsigned char *) tok,
                     (size_t) (w - tok), sig, &sig_len);
    if (rc != MT_OK) {
        free(tok);
        return rc;
    }

    *w++ = '.';
    w += mt_base64url_encode(w, sig, sig_len);
    *w = '\0';

    /* no token the proxy would refuse for its size */
    if ((size_t) (w - tok) > MT_MAX_TOKEN_LEN) {
        OPENSSL_cleanse(tok, (size_t) (w - tok));
        free(tok);
        return MT_ERR_TOO_LARGE;
    }

    *out = tok;
    *out_len = (size_t) (w - tok);

    return MT_OK;
}


static mt_err_t
mt_mint_new_jti(json_t *claims)
{
    unsigned char  rnd[16];
    char           jti[mt_base64url_encoded_len(16) + 1];

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return MT_ERR_INTERNAL;
    }

    jti[mt_base64url_encode(jti, rnd, sizeof(rnd))] = '\0';
    json_object_set_new(claims, "jti", json_string(jti));

    return MT_OK;
}


mt_err_t
mt_mint_refresh_claims(const json_t *claims, int64_t now, int64_t ttl,
    json_t **out)
{
    json_t    *r, *grant, *v;
    mt_err_t   rc;

    *out = NULL;

    r = json_object();
    grant = json_object();

    if (r == NULL || grant == NULL) {
        json_decref(r);
        json_decref(grant);
        return MT_ERR_NOMEM;
    }

    json_object_set_new(r, "iat", json_integer(now));
    json_object_set_new(r, "exp", json_integer(now + ttl));

    if ((v = json_object_get(claims, "allowed")) != NULL) {
        json_object_set(grant, "allowed", v);
    }

    if ((v = json_object_get(claims, "scopes")) != NULL) {
        json_object_set(grant, "scopes", v);
    }

    if ((v = json_object_get(claims, "aud")) != NULL) {
        json_object_set(grant, "aud", v);
    }

    if ((v = json_object_get(claims, "mcp")) != NULL) {
        json_object_set(grant, "mcp", v);
    }

    if ((v = json_object_get(claims, "sub")) != NULL) {
        json_object_set(r, "sub", v);
    }

    json_object_set_new(r, MT_REFRESH_CLAIM, grant);

    rc = mt_mint_new_jti(r);
    if (rc != MT_OK) {
        json_decref(r);
        return rc;
    }

    *out = r;

    return MT_OK;
}


/* every string of want is in have */
static int
mt_mint_subset(const json_t *want, const json_t *have)
{
    size_t   i, j;
    json_t  *w, *h;
    int      found;

    if (!json_is_array(have)) {
        return 0;
    }

    json_array_foreach(want, i, w) {
        found = 0;

        json_array_foreach(have, j, h) {
            if (json_equal(w, h)) {
                found = 1;
                break;
            }
        }

        if (!found) {
            return 0;
        }
    }

    return 1;
}


mt_err_t
mt_mint_from_refresh(const json_t *refresh, const json_t *req,
    const mt_mint_policy_t *policy, int64_t now, json_t **out, char *errbuf,
    size_t errlen)
{
    size_t          i;
    json_t         *grant, *claims, *v, *want;
    int64_t         exp, rexp;
    mt_err_t        rc;
    const char     *name;
    static const char  *lists[] = { "allowed", "scopes" };

    *out = NULL;

    grant = json_object_get(refresh, MT_REFRESH_CLAIM);
    v = json_object_get(refresh, "exp");

    if (!json_is_object(grant) || !json_is_integer(v)) {
        MT_MINT_ERROR("not a refresh token");
        return MT_ERR_INVALID_CLAIMS;
    }

    rexp = (int64_t) json_integer_value(v);

    claims = json_object();
    if (claims == NULL) {
        return MT_ERR_NOMEM;
    }

    for (i = 0; i < 2; i++) {
        name = lists[i];
        want = json_object_get(req, name);

        if (want == NULL) {
            /* the same grant */
            if ((v = json_object_get(grant, name)) != NULL) {
                json_object_set(claims, name, v);
            }

            continue;
        }

        rc = mt_mint_string_list(want, name, errbuf, errlen);
        if (rc != MT_OK) {
            json_decref(claims);
            return rc;
        }

        if (!mt_mint_subset(want, json_object_get(grant, name))) {
            MT_MINT_ERROR("%s may only narrow the refresh token's %s", name,
                          name);
            json_decref(claims);
            return MT_ERR_SCOPE_DENIED;
        }

        json_object_set(claims, name, want);
    }

    if (json_object_get(claims, "allowed") == NULL
        && json_object_get(claims, "scopes") == NULL)
    {
        MT_MINT_ERROR("the refresh token grants nothing");
        json_decref(claims);
        return MT_ERR_INVALID_CLAIMS;
    }

    exp = now + (policy->max_ttl > 0 ? policy->max_ttl : policy->default_ttl);

    if (exp > rexp) {
        exp = rexp;
    }

    json_object_set_new(claims, "iat", json_integer(now));
    json_object_set_new(claims, "exp", json_integer(exp));

    if ((v = json_object_get(grant, "aud")) != NULL) {
        json_object_set(claims, "aud", v);
    }

    /* MCP entries are kept as they are: a request may only repeat them */
    want = json_object_get(req, "mcp");
    v = json_object_get(grant, "mcp");

    if (want != NULL && (v == NULL || !json_equal(want, v))) {
        MT_MINT_ERROR("mcp may not change the refresh token's mcp");
        json_decref(claims);
        return MT_ERR_SCOPE_DENIED;
    }

    if (v != NULL) {
        json_object_set(claims, "mcp", v);
    }

    if ((v = json_object_get(refresh, "sub")) != NULL) {
        json_object_set(claims, "sub", v);
    }

    /* the encrypted credential, as it is: the issuer never decrypts */
    if ((v = json_object_get(refresh, "token")) != NULL) {
        json_object_set(claims, "token", v);
    }

    rc = mt_mint_new_jti(claims);
    if (rc != MT_OK) {
        json_decref(claims);
        return rc;
    }

    *out = claims;

    return MT_OK;
}
