/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * A magic token from end to end: signature, claims, the encrypted
 * credential and the request's scope check.
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "mt_core.h"


static const char  *mt_errors[] = {
    "",                     /* MT_OK */
    "missing",
    "malformed",
    "too_large",
    "unsupported_alg",
    "unknown_key",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "invalid_claims",
    "decrypt_failed",
    "invalid_credential",
    "unknown_scope",
    "scope_denied",
    "bad_scope",
    "bad_key",
    "invalid_audience",
    "requirement_failed",
    "unsafe_path",
    "untrusted_key",
    "revoked",
    "dpop_required",
    "invalid_dpop_proof",
    "dpop_replay",
    "out_of_memory",
    "internal"
};


const char *
mt_strerror(mt_err_t err)
{
    if ((size_t) err >= sizeof(mt_errors) / sizeof(mt_errors[0])) {
        return "internal";
    }

    return mt_errors[err];
}


void
mt_hash_hex(char out[MT_HASH_HEX_LEN + 1], const void *data, size_t len)
{
    size_t          i;
    unsigned char   md[SHA256_DIGEST_LENGTH];
    static const char  hex[] = "0123456789abcdef";

    SHA256(data, len, md);

    for (i = 0; i < MT_HASH_HEX_LEN / 2; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0f];
    }

    out[MT_HASH_HEX_LEN] = '\0';
}


/* a NumericDate: a JSON integer (not a real, not a string) */
static mt_err_t
mt_claim_time(const json_t *claims, const char *name, int required,
    int64_t *value, int *present)
{
    json_t  *v;

    *present = 0;

    v = json_object_get(claims, name);

    if (v == NULL) {
        return required ? MT_ERR_INVALID_CLAIMS : MT_OK;
    }

    if (!json_is_integer(v)) {
        return MT_ERR_INVALID_CLAIMS;
    }

    *value = (int64_t) json_integer_value(v);
    *present = 1;

    return MT_OK;
}


mt_err_t
mt_claims_check(const json_t *claims, int64_t now, int64_t leeway)
{
    int       present, has_iat;
    int64_t   exp, nbf, iat;
    mt_err_t  rc;

    rc = mt_claim_time(claims, "exp", 1, &exp, &present);
    if (rc != MT_OK) {
        return rc;
    }

    rc = mt_claim_time(claims, "iat", 0, &iat, &has_iat);
    if (rc != MT_OK) {
        return rc;
    }

    rc = mt_claim_time(claims, "nbf", 0, &nbf, &present);
    if (rc != MT_OK) {
        return rc;
    }

    /* written so that huge or negative values cannot overflow */
    if (exp <= now - leeway) {
        return MT_ERR_EXPIRED;
    }

    if (present && nbf > now + leeway) {
        return MT_ERR_NOT_YET_VALID;
    }

    /* issued in the future: google-auth and PyJWT refuse it too */
    if (has_iat && iat > now + leeway) {
        return MT_ERR_NOT_YET_VALID;
    }

    return MT_OK;
}


static int
mt_audience_accepted(const json_t *aud, const char *const *audiences,
    const size_t *lens, size_t n)
{
    size_t  i;

    if (!json_is_string(aud)) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (lens[i] == json_string_length(aud)
            && memcmp(audiences[i], json_string_value(aud), lens[i]) == 0)
        {
            return 1;
        }
    }

    return 0;
}


mt_err_t
mt_claims_check_audience(const json_t *claims, const char *const *audiences,
    const size_t *lens, size_t n)
{
    size_t   i;
    json_t  *aud, *v;

    aud = json_object_get(claims, "aud");

    if (json_is_array(aud)) {
        /* every member a string: a malformed claim is no audience */
        json_array_foreach(aud, i, v) {
            if (!json_is_string(v)) {
                return MT_ERR_INVALID_AUDIENCE;
            }
        }

        json_array_foreach(aud, i, v) {
            if (mt_audience_accepted(v, audiences, lens, n)) {
                return MT_OK;
            }
        }

        return MT_ERR_INVALID_AUDIENCE;
    }

    return mt_audience_accepted(aud, audiences, lens, n)
           ? MT_OK : MT_ERR_INVALID_AUDIENCE;
}


/* null/absent, or an array of strings */
static mt_err_t
mt_claim_string_list(const json_t *claims, const char *name, json_t **out)
{
    size_t   i;
    json_t  *v, *item;

    *out = NULL;

    v = json_object_get(claims, name);

    if (v == NULL || json_is_null(v)) {
        return MT_OK;
    }

    if (!json_is_array(v) || json_array_size(v) > MT_MAX_RULES) {
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


static mt_err_t mt_token_claims(mt_token_t *t, int64_t now, int64_t leeway,
    mt_match_mode_t mode, int attested, mt_rules_intern_t *in);


mt_err_t
mt_token_verify(mt_token_t *t, const mt_keyset_t *ks, const char *token,
    size_t len, int64_t now, int64_t leeway, mt_match_mode_t mode)
{
    return mt_token_verify_interned(t, ks, token, len, now, leeway, mode,
                                    NULL);
}


mt_err_t
mt_token_verify_interned(mt_token_t *t, const mt_keyset_t *ks,
    const char *token, size_t len, int64_t now, int64_t leeway,
    mt_match_mode_t mode, mt_rules_intern_t *in)
{
    mt_err_t  rc;

    memset(t, 0, sizeof(mt_token_t));

    rc = mt_jws_verify(&t->jws, ks, token, len);
    if (rc != MT_OK) {
        return rc;
    }

    return mt_token_claims(t, now, leeway, mode, 0, in);
}


mt_err_t
mt_token_restore(mt_token_t *t, const char *token, size_t len, int64_t now,
    int64_t leeway, mt_match_mode_t mode)
{
    mt_err_t  rc;

    memset(t, 0, sizeof(mt_token_t));

    rc = mt_jws_claims_attested(&t->jws, token, len);
    if (rc != MT_OK) {
        return rc;
    }

    return mt_token_claims(t, now, leeway, mode, 1, NULL);
}


mt_err_t
mt_token_restore_interned(mt_token_t *t, const char *token, size_t len,
    int64_t now, int64_t leeway, mt_match_mode_t mode, mt_rules_intern_t *in)
{
    mt_err_t  rc;

    memset(t, 0, sizeof(mt_token_t));

    /* the credential comes from the cache: its ciphertext is not parsed */
    rc = mt_jws_claims_attested_cut(&t->jws, token, len, "token");
    if (rc != MT_OK) {
        return rc;
    }

    return mt_token_claims(t, now, leeway, mode, 1, in);
}


/* after the signature: claims, the signing key's trust, scope claims */
static mt_err_t
mt_token_claims(mt_token_t *t, int64_t now, int64_t leeway,
    mt_match_mode_t mode, int attested, mt_rules_intern_t *in)
{
    json_t   *v, *allowed, *scopes;
    mt_err_t  rc;

    rc = mt_claims_check(t->jws.claims, now, leeway);
    if (rc != MT_OK) {
        goto failed;
    }

    /* a refresh token is only good at the issuer */
    if (json_object_get(t->jws.claims, MT_REFRESH_CLAIM) != NULL) {
        rc = MT_ERR_INVALID_CLAIMS;
        goto failed;
    }

    /*
     * Whoever holds a key that is not the proxy's own (a secret shared
     * with other services, another party's public key) must not wrap a
     * credential ciphertext they saw into a token of their own making.
     * (Attested bytes passed this check when they were verified.)
     */
    v = json_object_get(t->jws.claims, "token");

    if (!attested && v != NULL && !json_is_null(v)
        && !mt_key_signs_credentials(t->jws.key))
    {
        rc = MT_ERR_UNTRUSTED_KEY;
        goto failed;
    }

    rc = mt_claim_string_list(t->jws.claims, "scopes", &scopes);
    if (rc != MT_OK) {
        goto failed;
    }

    rc = mt_claim_string_list(t->jws.claims, "allowed", &allowed);
    if (rc != MT_OK) {
        goto failed;
    }

    t->scopes = scopes;

    /* compiled, or shared with tokens of the same entries (mt_intern.c) */
    rc = mt_rules_intern_get(in, mode, allowed, &t->rules);
    if (rc != MT_OK) {
        /* an entry that does not compile was never allowed */
        rc = rc == MT_ERR_NOMEM ? rc : MT_ERR_INVALID_CLAIMS;
        goto failed;
    }

    return MT_OK;

failed:

    mt_token_clear(t);

    return rc;
}


mt_err_t
mt_token_decrypt(mt_token_t *t, const mt_keyset_t *ks)
{
    json_t  *v;

    v = json_object_get(t->jws.claims, "token");

    if (v == NULL || json_is_null(v)) {
        return MT_OK;
    }

    if (!json_is_string(v)) {
        return MT_ERR_INVALID_CLAIMS;
    }

    return mt_credential_decrypt(ks, json_string_value(v),
                                 json_string_length(v), &t->credential,
                                 &t->credential_len);
}


static const mt_named_scope_t *
mt_named_scope_find(const mt_named_scope_t *named, size_t n_named,
    const char *name, size_t len)
{
    size_t  i;

    for (i = 0; i < n_named; i++) {
        if (named[i].name_len == len
            && memcmp(named[i].name, name, len) == 0)
        {
            return &named[i];
        }
    }

    return NULL;
}


mt_err_t
mt_token_authorize(const mt_token_t *t, const mt_named_scope_t *named,
    size_t n_named, mt_match_mode_t mode, const char *method,
    size_t method_len, const char *path, size_t path_len,
    const char **matched, size_t *matched_len)
{
    return mt_token_authorize_with(t, NULL, named, n_named, mode, method,
                                   method_len, path, path_len, matched,
                                   matched_len);
}


mt_err_t
mt_token_authorize_with(const mt_token_t *t, mt_matcher_t *m,
    const mt_named_scope_t *named, size_t n_named, mt_match_mode_t mode,
    const char *method, size_t method_len, const char *path,
    size_t path_len, const char **matched, size_t *matched_len)
{
    size_t                   i;
    json_t                  *v;
    const mt_named_scope_t  *scope;

    if (t->scopes == NULL) {
        goto allowed;
    }

    /* every named scope must exist, whichever would match */
    json_array_foreach(t->scopes, i, v) {
        if (mt_named_scope_find(named, n_named, json_string_value(v),
                                json_string_length(v)) == NULL)
        {
            return MT_ERR_UNKNOWN_SCOPE;
        }
    }

    json_array_foreach(t->scopes, i, v) {
        scope = mt_named_scope_find(named, n_named, json_string_value(v),
                                    json_string_length(v));

        if (mt_rules_match_with(scope->rules[mode], m, method, method_len,
                                path, path_len, matched, matched_len)
            == MT_OK)
        {
            return MT_OK;
        }
    }

allowed:

    return mt_rules_match_with(t->rules, m, method, method_len, path,
                               path_len, matched, matched_len);
}


void
mt_token_clear(mt_token_t *t)
{
    OPENSSL_clear_free(t->credential, t->credential_len);
    mt_rules_free(t->rules);
    mt_jws_clear(&t->jws);
    memset(t, 0, sizeof(mt_token_t));
}
