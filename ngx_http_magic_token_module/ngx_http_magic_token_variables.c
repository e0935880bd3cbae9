/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * $magic_token_credential, $magic_token_claim_<name>,
 * $magic_token_string_<name>, $magic_token_scope, $magic_token_id,
 * $magic_token_error and $magic_token_cache_status.  None is cacheable:
 * a request can be checked again after an internal redirect.
 */


#include "ngx_http_magic_token_module.h"


static ngx_int_t ngx_http_magic_token_credential_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_magic_token_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_magic_token_string_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_magic_token_claim_value(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_str_t *name, size_t prefix,
    ngx_uint_t strings_only);
static ngx_int_t ngx_http_magic_token_scope_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_magic_token_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_magic_token_error_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_magic_token_cache_status_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_magic_token_vars[] = {

    { ngx_string("magic_token_credential"), NULL,
      ngx_http_magic_token_credential_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("magic_token_claim_"), NULL,
      ngx_http_magic_token_claim_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("magic_token_string_"), NULL,
      ngx_http_magic_token_string_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("magic_token_scope"), NULL,
      ngx_http_magic_token_scope_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("magic_token_id"), NULL,
      ngx_http_magic_token_id_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("magic_token_error"), NULL,
      ngx_http_magic_token_error_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("magic_token_cache_status"), NULL,
      ngx_http_magic_token_cache_status_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_magic_token_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_magic_token_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void
ngx_http_magic_token_set(ngx_http_variable_value_t *v, u_char *data,
    size_t len)
{
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = data;
}


/*
 * A subrequest's own check where its location has one, else the main
 * request's.
 */
static ngx_int_t
ngx_http_magic_token_current(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t **ctx)
{
    if (r != r->main) {
        if (ngx_http_magic_token_subrequest_ctx(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        if (*ctx != NULL) {
            return NGX_OK;
        }
    }

    *ctx = ngx_http_magic_token_get_ctx(r);

    return NGX_OK;
}


/*
 * The id and the claims are known once the signature is checked, which
 * may be before the access phase (limit_req runs in preaccess).
 */
static ngx_int_t
ngx_http_magic_token_early(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t **ctx)
{
    if (r != r->main) {
        return ngx_http_magic_token_current(r, ctx);
    }

    *ctx = ngx_http_magic_token_verify(r);

    return *ctx ? NGX_OK : NGX_ERROR;
}


/*
 * *ctx: a verified token whose request passed, else NULL.  In a subrequest,
 * only the subrequest's own check counts: the main request's is for
 * another method and URI.
 */
static ngx_int_t
ngx_http_magic_token_passed(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t **ctx)
{
    if (r != r->main) {
        if (ngx_http_magic_token_subrequest_ctx(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

    } else {
        *ctx = ngx_http_magic_token_get_ctx(r);
    }

    if (*ctx != NULL && !(*ctx)->passed) {
        *ctx = NULL;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_magic_token_credential_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_magic_token_ctx_t  *ctx;

    if (ngx_http_magic_token_passed(r, &ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx == NULL || !ctx->decrypted || ctx->token.credential == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    ngx_http_magic_token_set(v, ctx->token.credential,
                             ctx->token.credential_len);

    return NGX_OK;
}


static ngx_inline ngx_uint_t
ngx_http_magic_token_escape(u_char c)
{
    return c < 0x20 || c == 0x7f || c == '%';
}


/*
 * $magic_token_claim_<name>: the claim as text (a string as it is, any
 * other value as compact JSON).  $magic_token_string_<name>: the claim
 * only when it is a JSON string, so that 123 never passes for "123".
 */
static ngx_int_t
ngx_http_magic_token_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    return ngx_http_magic_token_claim_value(r, v, (ngx_str_t *) data,
                                            sizeof("magic_token_claim_") - 1,
                                            0);
}


static ngx_int_t
ngx_http_magic_token_string_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    return ngx_http_magic_token_claim_value(r, v, (ngx_str_t *) data,
                                            sizeof("magic_token_string_") - 1,
                                            1);
}


static ngx_int_t
ngx_http_magic_token_claim_value(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_str_t *name, size_t prefix,
    ngx_uint_t strings_only)
{
    char                        *s, *key;
    u_char                      *p;
    size_t                       len, i, n;
    json_t                      *value, *claims;
    ngx_http_magic_token_ctx_t  *ctx;
    static u_char                hex[] = "0123456789ABCDEF";

    if (ngx_http_magic_token_early(r, &ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    /* claims of a token whose signature verified, even if out of scope */
    if (ctx == NULL || !ctx->verified) {
        v->not_found = 1;
        return NGX_OK;
    }

    key = ngx_pnalloc(r->pool, name->len - prefix + 1);
    if (key == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(key, name->data + prefix, name->len - prefix);
    key[name->len - prefix] = '\0';

    claims = ngx_http_magic_token_claims(ctx);
    if (claims == NULL) {
        return NGX_ERROR;
    }

    value = json_object_get(claims, key);

    if ((ctx->cache_entry != NULL
         || ctx->cache_status == NGX_HTTP_MAGIC_TOKEN_CACHE_SHARED)
        && (value == NULL || json_is_null(value)))
    {
        /* a claim a cache entry (or a SHARED hit) does not keep */
        if (ngx_http_magic_token_cache_claim(r, ctx, key, &value) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (value == NULL || (strings_only && !json_is_string(value))) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (mt_json_claim_string(value, &s, &len) != MT_OK) {
        return NGX_ERROR;
    }

    /*
     * Claims are the token holder's words: control characters (CR, LF)
     * would split the headers this value goes into.  They and "%" are
     * %-escaped; other JSON values are escaped by the serialisation.
     */
    for (n = 0, i = 0; i < len; i++) {
        if (ngx_http_magic_token_escape((u_char) s[i])) {
            n++;
        }
    }

    p = ngx_pnalloc(r->pool, len + 2 * n);
    if (p == NULL) {
        free(s);
        return NGX_ERROR;
    }

    v->data = p;

    for (i = 0; i < len; i++) {
        if (n && ngx_http_magic_token_escape((u_char) s[i])) {
            *p++ = '%';
            *p++ = hex[(u_char) s[i] >> 4];
            *p++ = hex[(u_char) s[i] & 0x0f];

        } else {
            *p++ = s[i];
        }
    }

    free(s);

    len = p - v->data;
    p = v->data;

    ngx_http_magic_token_set(v, p, len);

    return NGX_OK;
}


static ngx_int_t
ngx_http_magic_token_scope_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_magic_token_ctx_t  *ctx;

    if (ngx_http_magic_token_passed(r, &ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx == NULL || ctx->scope.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    ngx_http_magic_token_set(v, ctx->scope.data, ctx->scope.len);

    return NGX_OK;
}


static ngx_int_t
ngx_http_magic_token_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    size_t                       i, len;
    ngx_int_t                    rc;
    ngx_str_t                    jti;
    const char                  *s;
    ngx_http_magic_token_ctx_t  *ctx;

    if (ngx_http_magic_token_early(r, &ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx == NULL || !ctx->has_token) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ctx->verified) {
        rc = ngx_http_magic_token_jti(ctx, &jti);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            s = (const char *) jti.data;
            len = jti.len;

            for (i = 0; i < len; i++) {
                /* printable ASCII without quotes: safe in any log format */
                if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '"'
                    || s[i] == '\\')
                {
                    break;
                }
            }

            if (len > 0 && i == len && len <= NGX_HTTP_MAGIC_TOKEN_MAX_JTI) {
                ngx_http_magic_token_set(v, (u_char *) s, len);
                return NGX_OK;
            }
        }
    }

    ngx_http_magic_token_set(v, (u_char *) ngx_http_magic_token_id(ctx),
                             MT_HASH_HEX_LEN);

    return NGX_OK;
}


static ngx_int_t
ngx_http_magic_token_error_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    const char                  *s;
    ngx_http_magic_token_ctx_t  *ctx;

    if (ngx_http_magic_token_current(r, &ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx == NULL || ctx->error == MT_OK) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = mt_strerror(ctx->error);

    ngx_http_magic_token_set(v, (u_char *) s, ngx_strlen(s));

    return NGX_OK;
}


/* MISS, HIT (this worker's cache), SHARED (the zone's); empty: no cache */
static ngx_int_t
ngx_http_magic_token_cache_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_magic_token_ctx_t  *ctx;

    static ngx_str_t  names[] = {
        ngx_null_string,
        ngx_string("MISS"),
        ngx_string("HIT"),
        ngx_string("SHARED")
    };

    if (ngx_http_magic_token_current(r, &ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx == NULL || ctx->cache_status == NGX_HTTP_MAGIC_TOKEN_CACHE_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    ngx_http_magic_token_set(v, names[ctx->cache_status].data,
                             names[ctx->cache_status].len);

    return NGX_OK;
}
