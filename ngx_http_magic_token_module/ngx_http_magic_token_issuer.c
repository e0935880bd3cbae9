/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The issuer endpoint, compatible with magic-api-proxy's /__magictoken:
 *
 *   GET   a short description;
 *   POST  {"token": "...", "allowed": [...]} or {"token": "...",
 *         "scopes": [...]} (optional "ttl" or "exp", "aud", "sub",
 *         "jti") returns the signed magic token, application/jwt.
 *
 * Validation and minting are the core's (mt_mint.c); this file reads
 * the body and answers.
 */


#include "ngx_http_magic_token_module.h"

#include <openssl/crypto.h>


#define NGX_HTTP_MAGIC_TOKEN_ISSUER_MAX_BODY  16384


static void ngx_http_magic_token_issuer_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_magic_token_issuer_send(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *type, u_char *data, size_t len);
static int ngx_http_magic_token_issuer_scope_known(void *data,
    const char *name, size_t len);
static mt_err_t ngx_http_magic_token_issuer_trial(mt_mint_opts_t *opts);
static ngx_int_t ngx_http_magic_token_issuer_nocache(ngx_http_request_t *r);
static ngx_int_t ngx_http_magic_token_issuer_mint(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, json_t *req,
    mt_mint_policy_t *policy);
static mt_err_t ngx_http_magic_token_issuer_refresh(
    ngx_http_magic_token_loc_conf_t *mlcf, json_t *token, json_t *req,
    mt_mint_policy_t *policy, int64_t now, json_t **claims, char *errbuf,
    size_t errlen);


static ngx_str_t  ngx_http_magic_token_text = ngx_string("text/plain");
static ngx_str_t  ngx_http_magic_token_jwt = ngx_string("application/jwt");
static ngx_str_t  ngx_http_magic_token_json =
    ngx_string("application/json");

static u_char  ngx_http_magic_token_issuer_about[] =
    "This endpoint mints magic tokens.\n"
    "POST a JSON object: {\"token\": \"<API credential>\", "
    "\"allowed\": [\"METHOD regex\", ...]}\n"
    "or {\"token\": \"<API credential>\", \"scopes\": [\"name\", ...]};\n"
    "optional: \"ttl\" (seconds) or \"exp\", \"aud\", \"sub\", \"jti\".\n"
    "The answer is the token (application/jwt).\n";


ngx_int_t
ngx_http_magic_token_issuer_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (r->method == NGX_HTTP_GET || r->method == NGX_HTTP_HEAD) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_magic_token_issuer_send(r, NGX_HTTP_OK,
                   &ngx_http_magic_token_text,
                   ngx_http_magic_token_issuer_about,
                   sizeof(ngx_http_magic_token_issuer_about) - 1);
    }

    if (r->method != NGX_HTTP_POST) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    /*
     * The body holds a credential: refuse what would not fit the
     * in-memory buffer rather than let nginx write it to a temp file.
     */
    if (r->headers_in.content_length_n > NGX_HTTP_MAGIC_TOKEN_ISSUER_MAX_BODY)
    {
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_magic_token_issuer_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static ngx_int_t
ngx_http_magic_token_issuer_error(ngx_http_request_t *r, char *msg)
{
    size_t   len;
    u_char  *p;

    len = ngx_strlen(msg);

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(p, msg, len);
    p[len] = '\n';

    return ngx_http_magic_token_issuer_send(r, NGX_HTTP_BAD_REQUEST,
                                            &ngx_http_magic_token_text, p,
                                            len + 1);
}


/* the request body buffers (and so the header buffer's preread part) */
static void
ngx_http_magic_token_issuer_wipe_body(ngx_http_request_t *r)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (r->request_body == NULL) {
        return;
    }

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b) && b->last > b->pos) {
            ngx_explicit_memzero(b->pos, b->last - b->pos);
        }
    }
}


/* tokens are credentials too: wiped before they are freed */
static void
ngx_http_magic_token_issuer_free(char *s)
{
    if (s != NULL) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}


static void
ngx_http_magic_token_issuer_body(ngx_http_request_t *r)
{
    json_t                             *req;
    ngx_int_t                           status;
    ngx_str_t                           body;
    mt_mint_policy_t                    policy;
    json_error_t                        jerr;
    ngx_http_magic_token_loc_conf_t    *mlcf;
    ngx_http_magic_token_main_conf_t   *mmcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_magic_token_module);
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_magic_token_module);

    switch (ngx_http_magic_token_read_body(r,
                       NGX_HTTP_MAGIC_TOKEN_ISSUER_MAX_BODY, &body)) {

    case NGX_OK:
        break;

    case NGX_DECLINED:
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE);
        return;

    default:
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    req = json_loadb((char *) body.data, body.len, JSON_REJECT_DUPLICATES,
                     &jerr);

    /* the body held the credential: it is not needed any more */
    if (body.len) {
        ngx_explicit_memzero(body.data, body.len);
    }

    ngx_http_magic_token_issuer_wipe_body(r);

    if (req == NULL) {
        ngx_http_finalize_request(r, ngx_http_magic_token_issuer_error(r,
                                      "request must be json"));
        return;
    }

    policy.max_ttl = (int64_t) mlcf->issuer_max_ttl;
    policy.default_ttl = policy.max_ttl;
    policy.scope_known = ngx_http_magic_token_issuer_scope_known;
    policy.scope_data = mmcf;

    status = ngx_http_magic_token_issuer_mint(r, mlcf, req, &policy);

    json_decref(req);

    ngx_http_finalize_request(r, status);
}


/*
 * A token for a minting request, or for a refresh token; with
 * {"refresh": true} also a refresh token, answered as JSON.
 */
static ngx_int_t
ngx_http_magic_token_issuer_mint(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, json_t *req,
    mt_mint_policy_t *policy)
{
    int          from_refresh;
    char         errbuf[256], *token, *refresh, *out;
    size_t       token_len, refresh_len, cred_len;
    json_t      *claims, *rclaims, *answer, *v;
    int64_t      now;
    mt_err_t     rc;
    ngx_int_t    status;
    json_int_t   expires;
    const char  *cred;

    now = (int64_t) ngx_time();
    errbuf[0] = '\0';
    refresh = NULL;

    v = json_object_get(req, "refresh_token");
    from_refresh = (v != NULL);

    if (from_refresh) {
        if (!json_is_string(v) || json_object_get(req, "token") != NULL) {
            return ngx_http_magic_token_issuer_error(r,
                       "refresh_token must be a string, without token");
        }

        rc = ngx_http_magic_token_issuer_refresh(mlcf, v, req, policy, now,
                                                 &claims, errbuf,
                                                 sizeof(errbuf));
        cred = NULL;
        cred_len = 0;

    } else {
        /* a DPoP proof binds the token to its key (..._dpop.c) */
        status = ngx_http_magic_token_dpop_issuer(r, mlcf, req, &out);

        if (status != NGX_OK) {
            return status == NGX_DECLINED
                   ? ngx_http_magic_token_issuer_error(r, out)
                   : NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = mt_mint_claims(req, policy, now, &claims, &cred, &cred_len,
                            errbuf, sizeof(errbuf));
    }

    if (rc != MT_OK) {
        return rc == MT_ERR_NOMEM ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                  : ngx_http_magic_token_issuer_error(r,
                                                                      errbuf);
    }

    v = json_object_get(req, "refresh");

    if (v != NULL && !json_is_boolean(v)) {
        json_decref(claims);
        return ngx_http_magic_token_issuer_error(r,
                                                 "refresh must be a boolean");
    }

    if (json_is_true(v) && from_refresh) {
        /* no rotation: a refresh token's lifetime is never extended */
        json_decref(claims);
        return ngx_http_magic_token_issuer_error(r,
                   "refresh tokens are not renewed: ask for a new one with "
                   "the credential");
    }

    if (json_is_true(v)
        && json_object_get(json_object_get(claims, "cnf"), "jkt") != NULL)
    {
        /* a refresh token would mint tokens without the binding */
        json_decref(claims);
        return ngx_http_magic_token_issuer_error(r,
                   "refresh tokens are not issued for DPoP-bound tokens");
    }

    if (json_is_true(v) && mlcf->issuer_refresh_ttl == 0) {
        json_decref(claims);
        return ngx_http_magic_token_issuer_error(r,
                   "refresh tokens are not enabled here "
                   "(magic_token_issuer_refresh_ttl)");
    }

    rclaims = NULL;

    if (json_is_true(v)) {
        rc = mt_mint_refresh_claims(claims, now,
                                    (int64_t) mlcf->issuer_refresh_ttl,
                                    &rclaims);
        if (rc == MT_OK) {
            rc = mt_token_mint(&mlcf->issuer->opts, rclaims,
                               (const unsigned char *) cred, cred_len,
                               &refresh, &refresh_len);
        }

        json_decref(rclaims);

        if (rc != MT_OK) {
            json_decref(claims);
            goto failed;
        }
    }

    rc = mt_token_mint(&mlcf->issuer->opts, claims,
                       (const unsigned char *) cred, cred_len, &token,
                       &token_len);

    expires = json_integer_value(json_object_get(claims, "exp")) - now;
    json_decref(claims);

    if (rc != MT_OK) {
        ngx_http_magic_token_issuer_free(refresh);
        goto failed;
    }

    if (refresh == NULL && !from_refresh) {
        /* magic-api-proxy's answer: the token itself */
        status = ngx_http_magic_token_issuer_send(r, NGX_HTTP_OK,
                                                  &ngx_http_magic_token_jwt,
                                                  (u_char *) token,
                                                  token_len);
        ngx_http_magic_token_issuer_free(token);
        return status;
    }

    /* an OAuth 2.0 style token response (RFC 6749 section 5.1) */
    answer = json_pack("{s:s, s:s, s:I}", "access_token", token,
                       "token_type", "Bearer", "expires_in", expires);

    if (answer != NULL && refresh != NULL) {
        json_object_set_new(answer, "refresh_token", json_string(refresh));
    }

    ngx_http_magic_token_issuer_free(token);
    ngx_http_magic_token_issuer_free(refresh);

    out = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
    json_decref(answer);

    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    status = ngx_http_magic_token_issuer_send(r, NGX_HTTP_OK,
                                              &ngx_http_magic_token_json,
                                              (u_char *) out, strlen(out));
    ngx_http_magic_token_issuer_free(out);

    return status;

failed:

    if (rc == MT_ERR_TOO_LARGE) {
        return ngx_http_magic_token_issuer_error(r,
                   "token is too long to be encrypted to this key "
                   "(RSA-OAEP: at most the key size minus 66 bytes), or "
                   "the magic token would be longer than 64k");
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "magic_token_issuer: minting failed: %s", mt_strerror(rc));

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/* verify a refresh token with the issuer's own signing key */
static mt_err_t
ngx_http_magic_token_issuer_refresh(ngx_http_magic_token_loc_conf_t *mlcf,
    json_t *token, json_t *req, mt_mint_policy_t *policy, int64_t now,
    json_t **claims, char *errbuf, size_t errlen)
{
    mt_err_t  rc;
    mt_jws_t  jws;

    rc = mt_jws_verify(&jws, mlcf->issuer->verify, json_string_value(token),
                       json_string_length(token));

    /*
     * Only the key the issuer signs with: another key of the location
     * (a secret shared with other services) must not wrap somebody
     * else's credential into a refresh grant of its own.
     */
    if (rc == MT_OK && jws.key != mlcf->issuer->opts.sign_key) {
        mt_jws_clear(&jws);
        rc = MT_ERR_UNTRUSTED_KEY;
    }

    if (rc == MT_OK) {
        rc = mt_claims_check(jws.claims, now, 0);

        if (rc == MT_OK
            && json_object_get(jws.claims, MT_REFRESH_CLAIM) == NULL)
        {
            rc = MT_ERR_INVALID_CLAIMS;
        }

        if (rc == MT_OK) {
            rc = mt_mint_from_refresh(jws.claims, req, policy, now, claims,
                                      errbuf, errlen);
            mt_jws_clear(&jws);
            return rc;
        }

        mt_jws_clear(&jws);
    }

    if (rc != MT_ERR_NOMEM) {
        ngx_snprintf((u_char *) errbuf, errlen, "invalid refresh token (%s)%Z",
                     mt_strerror(rc));
    }

    return rc;
}


static ngx_int_t
ngx_http_magic_token_issuer_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, u_char *data, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;

    /* tokens are credentials: never cached on the way back */
    if (ngx_http_magic_token_issuer_nocache(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only || len == 0) {
        return rc;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->pos, data, len);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_magic_token_issuer_nocache(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");
    ngx_str_set(&h->value, "no-store");
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}


static int
ngx_http_magic_token_issuer_scope_known(void *data, const char *name,
    size_t len)
{
    ngx_http_magic_token_main_conf_t *mmcf = data;

    ngx_uint_t         i;
    mt_named_scope_t  *scope;

    if (mmcf->scopes == NULL) {
        return 0;
    }

    scope = mmcf->scopes->elts;

    for (i = 0; i < mmcf->scopes->nelts; i++) {
        if (scope[i].name_len == len
            && ngx_strncmp(scope[i].name, name, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static mt_err_t
ngx_http_magic_token_issuer_trial(mt_mint_opts_t *opts)
{
    char      *token;
    size_t     len;
    json_t    *claims;
    mt_err_t   rc;

    claims = json_pack("{s:i}", "exp", (json_int_t) 1);
    if (claims == NULL) {
        return MT_ERR_NOMEM;
    }

    rc = mt_token_mint(opts, claims, (const unsigned char *) "trial", 5,
                       &token, &len);
    json_decref(claims);

    if (rc == MT_OK) {
        free(token);
    }

    return rc;
}


/*
 * magic_token_issuer_key file [alg=ALG] [kid=ID] [encrypt=file]
 *                        [jwe=ALG enc=ENC] [enc_kid=ID];
 */
char *
ngx_http_magic_token_issuer_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_magic_token_loc_conf_t *mlcf = conf;

    char                           errbuf[NGX_MAX_CONF_ERRSTR];
    size_t                         i;
    ngx_str_t                     *value, file, enc_file;
    ngx_uint_t                     n;
    mt_keyset_t                   *ks;
    const mt_key_t                *key;
    ngx_pool_cleanup_t            *cln;
    ngx_http_magic_token_issuer_t *iss;

    if (mlcf->issuer != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    iss = ngx_pcalloc(cf->pool, sizeof(ngx_http_magic_token_issuer_t));
    if (iss == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;
    file = value[1];
    ngx_str_null(&enc_file);

    for (n = 2; n < cf->args->nelts; n++) {

        if (ngx_strncmp(value[n].data, "alg=", 4) == 0) {
            iss->opts.alg = mt_alg_from_name((char *) value[n].data + 4,
                                             value[n].len - 4);
            if (iss->opts.alg == MT_ALG_NONE) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[n].data, "kid=", 4) == 0
            && value[n].len > 4)
        {
            iss->opts.kid = (char *) value[n].data + 4;
            continue;
        }

        if (ngx_strncmp(value[n].data, "encrypt=", 8) == 0
            && value[n].len > 8)
        {
            enc_file.data = value[n].data + 8;
            enc_file.len = value[n].len - 8;
            continue;
        }

        if (ngx_strncmp(value[n].data, "jwe=", 4) == 0
            && value[n].len > 4)
        {
            iss->opts.jwe_alg = (char *) value[n].data + 4;
            continue;
        }

        if (ngx_strncmp(value[n].data, "enc=", 4) == 0
            && value[n].len > 4)
        {
            iss->opts.jwe_enc = (char *) value[n].data + 4;
            continue;
        }

        if (ngx_strncmp(value[n].data, "enc_kid=", 8) == 0
            && value[n].len > 8)
        {
            iss->opts.enc_kid = (char *) value[n].data + 8;
            continue;
        }

        goto invalid;
    }

    if ((iss->opts.jwe_alg == NULL) != (iss->opts.jwe_enc == NULL)) {
        return "needs both \"jwe=\" and \"enc=\", or neither";
    }

    /* the signing key */

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < 2; i++) {
        ks = mt_keyset_new();
        if (ks == NULL) {
            return NGX_CONF_ERROR;
        }

        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            mt_keyset_free(ks);
            return NGX_CONF_ERROR;
        }

        cln->handler = ngx_http_magic_token_free_keyset;
        cln->data = ks;

        if (i == 0) {
            iss->sign = ks;

        } else {
            iss->encrypt = ks;

            if (enc_file.len == 0) {
                break;
            }

            if (ngx_conf_full_name(cf->cycle, &enc_file, 1) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            file = enc_file;
        }

        errbuf[0] = '\0';

        if (mt_keyset_add_file(ks, (char *) file.data, errbuf,
                               sizeof(errbuf))
            != MT_OK)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "magic_token_issuer_key %s", errbuf);
            return NGX_CONF_ERROR;
        }
    }

    key = mt_keyset_get(iss->sign, 0);

    if (iss->opts.alg == MT_ALG_NONE) {
        for (n = MT_ALG_RS256; n <= MT_ALG_HS512; n++) {
            if (mt_key_fits_alg(key, (mt_alg_t) n)) {
                iss->opts.alg = (mt_alg_t) n;
                break;
            }
        }
    }

    if (!mt_key_has_private(key) || !mt_key_fits_alg(key, iss->opts.alg)
        || !mt_key_allows_op(key, MT_KEY_OP_SIGN))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "magic_token_issuer_key \"%V\": not a private key "
                           "that signs %s", &value[1],
                           mt_alg_name(iss->opts.alg));
        return NGX_CONF_ERROR;
    }

    iss->opts.sign_key = key;
    iss->opts.enc_key = mt_keyset_count(iss->encrypt)
                        ? mt_keyset_get(iss->encrypt, 0) : key;
    iss->verify = iss->sign;

    if (iss->opts.jwe_alg == NULL && mt_key_type(iss->opts.enc_key)
                                     != MT_KTY_RSA)
    {
        return "needs an RSA key to encrypt to, or \"jwe=\" and \"enc=\"";
    }

    /* a trial run: algorithm names and key types are checked now */
    if (ngx_http_magic_token_issuer_trial(&iss->opts) != MT_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "magic_token_issuer_key \"%V\": cannot mint with "
                           "these keys and algorithms", &value[1]);
        return NGX_CONF_ERROR;
    }

    mlcf->issuer = iss;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       &value[n]);

    return NGX_CONF_ERROR;
}


/* magic_token_issuer; */
char *
ngx_http_magic_token_issuer(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_magic_token_loc_conf_t *mlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (mlcf->issuer_enabled != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    mlcf->issuer_enabled = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_magic_token_issuer_handler;

    return NGX_CONF_OK;
}


/*
 * Without magic_token_issuer_key, an issuer signs with the first RSA
 * private key of its magic_token_key list, in magic-api-proxy's format
 * (RS256, credential encrypted to the same key).
 */
char *
ngx_http_magic_token_issuer_merge(ngx_conf_t *cf,
    ngx_http_magic_token_loc_conf_t *prev,
    ngx_http_magic_token_loc_conf_t *conf)
{
    size_t                          i;
    const mt_key_t                 *key;
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_magic_token_issuer_t  *iss;

    /* magic_token_issuer is a location's own: not inherited */
    if (conf->issuer_enabled == NGX_CONF_UNSET) {
        conf->issuer_enabled = 0;
    }
    ngx_conf_merge_ptr_value(conf->issuer, prev->issuer, NULL);
    ngx_conf_merge_sec_value(conf->issuer_max_ttl, prev->issuer_max_ttl,
                             86400);
    ngx_conf_merge_sec_value(conf->issuer_refresh_ttl,
                             prev->issuer_refresh_ttl, 0);

    if (conf->issuer_max_ttl <= 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"magic_token_issuer_max_ttl\" must be positive");
        return NGX_CONF_ERROR;
    }

    if (!conf->issuer_enabled) {
        return NGX_CONF_OK;
    }

    /*
     * The request body holds a credential: keep it in memory.  Bodies
     * above the limit get 413 before anything is written to disk.
     */
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->client_max_body_size == 0
        || clcf->client_max_body_size > NGX_HTTP_MAGIC_TOKEN_ISSUER_MAX_BODY)
    {
        clcf->client_max_body_size = NGX_HTTP_MAGIC_TOKEN_ISSUER_MAX_BODY;
    }

    if (clcf->client_body_buffer_size
        < (size_t) NGX_HTTP_MAGIC_TOKEN_ISSUER_MAX_BODY)
    {
        clcf->client_body_buffer_size = NGX_HTTP_MAGIC_TOKEN_ISSUER_MAX_BODY;
    }

    clcf->client_body_in_file_only = 0;     /* "off" */

    if (conf->issuer != NULL) {
        return NGX_CONF_OK;
    }

    for (i = 0; conf->keys && i < mt_keyset_count(conf->keys); i++) {
        key = mt_keyset_get(conf->keys, i);

        if (mt_key_type(key) == MT_KTY_RSA && mt_key_has_private(key)) {
            iss = ngx_pcalloc(cf->pool,
                              sizeof(ngx_http_magic_token_issuer_t));
            if (iss == NULL) {
                return NGX_CONF_ERROR;
            }

            iss->opts.sign_key = key;
            iss->opts.enc_key = key;
            iss->opts.alg = MT_ALG_RS256;
            iss->verify = conf->keys;

            conf->issuer = iss;

            return NGX_CONF_OK;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"magic_token_issuer\" needs "
                       "\"magic_token_issuer_key\" or an RSA private key in "
                       "\"magic_token_key\"");

    return NGX_CONF_ERROR;
}
