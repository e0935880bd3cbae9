/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Directives, configuration and the access phase handler.  All crypto,
 * JSON and regex work is in the nginx-free core (mt_core.h); this file
 * only reads configuration, finds the token and answers the request.
 */


#include "ngx_http_magic_token_module.h"


static ngx_int_t ngx_http_magic_token_handler(ngx_http_request_t *r);
static ngx_http_magic_token_ctx_t *ngx_http_magic_token_ctx_alloc(
    ngx_log_t *log);
static void ngx_http_magic_token_cleanup(void *data);
static ngx_int_t ngx_http_magic_token_retire(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx);
static void ngx_http_magic_token_retired(void *data);

static void *ngx_http_magic_token_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_magic_token_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_magic_token_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_magic_token_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_magic_token_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_magic_token_init_process(ngx_cycle_t *cycle);
static void ngx_http_magic_token_exit_process(ngx_cycle_t *cycle);

static char *ngx_http_magic_token(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_magic_token_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_magic_token_scope(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_magic_token_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_magic_token_scope_uri(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_magic_token_audience(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_magic_token_require(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_magic_token_rules(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx);
static ngx_int_t ngx_http_magic_token_path(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_str_t *path);
static ngx_uint_t ngx_http_magic_token_raw_differs(ngx_http_request_t *r);
static void ngx_http_magic_token_named_warning(ngx_conf_t *cf,
    ngx_http_magic_token_loc_conf_t *conf);
static mt_keyset_t *ngx_http_magic_token_keyset(ngx_conf_t *cf,
    ngx_http_magic_token_loc_conf_t *mlcf);
static void ngx_http_magic_token_free_rules(void *data);


static ngx_conf_enum_t  ngx_http_magic_token_scope_match[] = {
    { ngx_string("full"), MT_MATCH_FULL },
    { ngx_string("prefix"), MT_MATCH_PREFIX },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_magic_token_log_levels[] = {
    { ngx_string("info"), NGX_LOG_INFO },
    { ngx_string("notice"), NGX_LOG_NOTICE },
    { ngx_string("warn"), NGX_LOG_WARN },
    { ngx_string("error"), NGX_LOG_ERR },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_magic_token_commands[] = {

    { ngx_string("magic_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LMT_CONF
                        |NGX_CONF_TAKE1,
      ngx_http_magic_token,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("magic_token_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_magic_token_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("magic_token_secret"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_magic_token_secret,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("magic_token_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_magic_token_loc_conf_t, leeway),
      NULL },

    { ngx_string("magic_token_audience"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_magic_token_audience,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("magic_token_require"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_magic_token_require,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("magic_token_cache"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_magic_token_cache,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("magic_token_dpop"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_magic_token_dpop,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("magic_token_scope_required"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_magic_token_loc_conf_t, scope_required),
      NULL },

    { ngx_string("magic_token_path_check"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_magic_token_loc_conf_t, path_check),
      NULL },

    { ngx_string("magic_token_log_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_magic_token_loc_conf_t, log_level),
      &ngx_http_magic_token_log_levels },

    { ngx_string("magic_token_issuer"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_magic_token_issuer,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("magic_token_issuer_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_magic_token_issuer_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("magic_token_issuer_max_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_magic_token_loc_conf_t, issuer_max_ttl),
      NULL },

    { ngx_string("magic_token_issuer_refresh_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_magic_token_loc_conf_t, issuer_refresh_ttl),
      NULL },

    { ngx_string("magic_token_scope"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_magic_token_scope,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("magic_token_scope_match"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_magic_token_loc_conf_t, scope_match),
      &ngx_http_magic_token_scope_match },

    { ngx_string("magic_token_scope_uri"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_magic_token_scope_uri,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_magic_token_loc_conf_t, scope_uri),
      NULL },

    { ngx_string("magic_token_realm"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_magic_token_loc_conf_t, realm),
      NULL },

    { ngx_string("magic_token_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_magic_token_loc_conf_t, max_size),
      NULL },

    { ngx_string("magic_token_revocation"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_magic_token_revocation,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("magic_token_admin"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_magic_token_admin,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("magic_token_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_magic_token_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("magic_token_grant"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_magic_token_grant,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("magic_token_check"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_magic_token_check_scope,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("magic_token_mcp"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_magic_token_mcp_conf,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("magic_token_mcp_scope"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_magic_token_mcp_scope,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_magic_token_module_ctx = {
    ngx_http_magic_token_preconfiguration,  /* preconfiguration */
    ngx_http_magic_token_init,              /* postconfiguration */

    ngx_http_magic_token_create_main_conf,  /* create main configuration */
    NULL,                                   /* init main configuration */

    NULL,                                   /* create server configuration */
    NULL,                                   /* merge server configuration */

    ngx_http_magic_token_create_loc_conf,   /* create location configuration */
    ngx_http_magic_token_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_magic_token_module = {
    NGX_MODULE_V1,
    &ngx_http_magic_token_module_ctx,       /* module context */
    ngx_http_magic_token_commands,          /* module directives */
    NGX_HTTP_MODULE,                        /* module type */
    NULL,                                   /* init master */
    NULL,                                   /* init module */
    ngx_http_magic_token_init_process,      /* init process */
    NULL,                                   /* init thread */
    NULL,                                   /* exit thread */
    ngx_http_magic_token_exit_process,      /* exit process */
    NULL,                                   /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * The worker's PCRE2 match data for the scopes, kept from one request
 * to the next as ngx_regex.c keeps its own; NULL: one per match.
 */
static mt_matcher_t  *ngx_http_magic_token_matcher;

/* the worker's contexts of finished requests, reused */
#define NGX_HTTP_MAGIC_TOKEN_FREE_CTX  256

static ngx_http_magic_token_ctx_t  *ngx_http_magic_token_free_ctx;
static ngx_uint_t                   ngx_http_magic_token_nfree_ctx;


static ngx_str_t  ngx_http_magic_token_bearer = ngx_string("Bearer ");
static ngx_str_t  ngx_http_magic_token_github = ngx_string("token ");
static ngx_str_t  ngx_http_magic_token_dpop_scheme = ngx_string("DPoP ");


static ngx_int_t
ngx_http_magic_token_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_http_magic_token_ctx_t       *ctx;
    ngx_http_magic_token_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_magic_token_module);

    if (mlcf->source == NGX_HTTP_MAGIC_TOKEN_OFF) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_magic_token_verify(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * Only this handler, in this location, lets the credential out:
     * not an earlier location's check, nor a cache hit in preaccess.
     */
    ctx->passed = 0;

    rc = ngx_http_magic_token_check(r, mlcf, ctx);

    if (rc == NGX_OK) {
        rc = ngx_http_magic_token_mcp(r, mlcf, ctx);
        if (rc != NGX_OK) {
            return rc;          /* NGX_DONE: reading the body, refused */
        }

        ctx->error = MT_OK;
        ctx->passed = 1;
        return NGX_OK;
    }

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_magic_token_deny(r, mlcf, ctx);
}


/*
 * The token's signature and claims, checked once per request with the
 * current location's keys, early enough for preaccess modules
 * (limit_req keyed by $magic_token_id) to use the result.  Returns the
 * context, whose error field says how it went; NULL on internal errors.
 */
ngx_http_magic_token_ctx_t *
ngx_http_magic_token_verify(ngx_http_request_t *r)
{
    ngx_str_t                         token;
    ngx_pool_cleanup_t               *cln;
    ngx_http_magic_token_ctx_t       *ctx;
    ngx_http_magic_token_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_magic_token_module);

    ctx = ngx_http_magic_token_get_ctx(r);

    if (ctx == NULL) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NULL;
        }

        ctx = ngx_http_magic_token_ctx_alloc(r->connection->log);
        if (ctx == NULL) {
            return NULL;
        }

        cln->handler = ngx_http_magic_token_cleanup;
        cln->data = ctx;

        ngx_http_set_ctx(r->main, ctx, ngx_http_magic_token_module);
    }

    if (mlcf->source == NGX_HTTP_MAGIC_TOKEN_OFF) {
        return ctx;
    }

    if (ngx_http_magic_token_find(r, mlcf, &token) != NGX_OK) {
        return NULL;
    }

    /*
     * Done already (by a variable, or before an internal redirect) for
     * the same token, keys and match mode: nothing more to do.
     */
    if (ngx_http_magic_token_same(ctx, mlcf, &token)) {
        return ctx;
    }

    if (ngx_http_magic_token_retire(r, ctx) != NGX_OK) {
        return NULL;
    }

    if (ngx_http_magic_token_verify_token(r, mlcf, ctx, &token) != NGX_OK) {
        return NULL;
    }

    return ctx;
}


/* ctx was attempted with these token bytes and verification settings */
ngx_uint_t
ngx_http_magic_token_same(ngx_http_magic_token_ctx_t *ctx,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_str_t *token)
{
    return ctx->attempted
           && token->len == ctx->raw.len
           && ngx_memcmp(token->data, ctx->raw.data, token->len) == 0
           && ctx->keys == mlcf->keys
           && ctx->scope_match == mlcf->scope_match
           && ctx->leeway == mlcf->leeway
           && token->len <= mlcf->max_size;
}


/*
 * Verifies token into ctx, which holds no token (a new one, or one
 * whose token was retired).  NGX_OK: ctx->error says how it went;
 * NGX_ERROR: out of memory.
 */
ngx_int_t
ngx_http_magic_token_verify_token(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx,
    ngx_str_t *token)
{
    mt_err_t   rc;
    ngx_int_t  hit;

    ctx->attempted = 1;
    ctx->passed = 0;
    ctx->verified = 0;
    ctx->decrypted = 0;
    ctx->has_token = token->len > 0;
    ctx->hashed = 0;            /* the id, when asked: magic_token_id() */
    ctx->claims_read = 0;
    ctx->cache_status = NGX_HTTP_MAGIC_TOKEN_CACHE_NONE;
    ctx->raw = *token;
    ctx->keys = mlcf->keys;
    ctx->scope_match = mlcf->scope_match;
    ctx->leeway = mlcf->leeway;
    ctx->chain = NULL;
    ngx_str_null(&ctx->scope);

    if (token->len == 0) {
        ctx->error = MT_ERR_MISSING;
        return NGX_OK;
    }

    if (token->len > mlcf->max_size) {
        ctx->error = MT_ERR_TOO_LARGE;
        return NGX_OK;
    }

    if (mlcf->keys == NULL) {
        ctx->error = MT_ERR_UNKNOWN_KEY;
        return NGX_OK;
    }

    /*
     * A hit in this worker's cache first: the commonest case, and no scan
     * of the token for a chain's separator (a chain is never such a hit:
     * its entries are found by ngx_http_magic_token_cache_chain_lookup).
     */
    if (mlcf->cache
        && ngx_http_magic_token_cache_local(r, mlcf->cache, ctx) == NGX_OK)
    {
        return NGX_OK;
    }

    if (mt_chain_is_chain((char *) token->data, token->len)) {
        return ngx_http_magic_token_chain_verify(r, mlcf, ctx, token);
    }

    /* verified and decrypted before in another worker: the zone's */
    if (mlcf->cache) {
        hit = ngx_http_magic_token_cache_lookup(r, mlcf, ctx);

        if (hit != NGX_DECLINED) {
            return hit;
        }
    }

    /* cached tokens share their rules (..._intern.c) */
    rc = mt_token_verify_interned(&ctx->token, mlcf->keys,
                                  (char *) token->data, token->len,
                                  (int64_t) ngx_time(),
                                  (int64_t) mlcf->leeway,
                                  (mt_match_mode_t) mlcf->scope_match,
                                  mlcf->cache
                                  ? ngx_http_magic_token_intern(r) : NULL);
    if (rc == MT_ERR_NOMEM) {
        return NGX_ERROR;
    }

    /* an attenuable root alone: links could have been stripped */
    if (rc == MT_OK && mt_token_is_open(&ctx->token)) {
        mt_token_clear(&ctx->token);
        rc = MT_ERR_INVALID_CLAIMS;
    }

    ctx->error = rc;
    ctx->verified = (rc == MT_OK);

    return NGX_OK;
}


/*
 * The token's id (SHA-256 of its signed part, hex), computed on first
 * use: by $magic_token_id, a refusal's log line or a debug line, not by
 * every request.  The id hashes the signed part only: an ECDSA
 * signature can be altered (s to n - s) and stay valid, the header and
 * claims cannot.  ctx->raw stays valid for the request's life (a
 * request header, or a value in the request pool).  For a chain
 * (docs/attenuation.md), the root's signed part.
 */
const char *
ngx_http_magic_token_id(ngx_http_magic_token_ctx_t *ctx)
{
    u_char  *p, *start, *end;

    if (!ctx->hashed) {
        start = ctx->raw.data;

        /* a chain's id is its root's: revoking the root revokes them all */
        end = ngx_strlchr(start, start + ctx->raw.len, MT_CHAIN_SEP);

        if (end == NULL) {
            end = start + ctx->raw.len;
        }

        for (p = end; p > start && p[-1] != '.'; p--) {
            /* void */
        }

        mt_hash_hex(ctx->hash, start,
                    p > start ? (size_t) (p - 1 - start)
                              : (size_t) (end - start));

        ctx->hashed = 1;
    }

    return ctx->hash;
}


/*
 * NGX_OK: the request may go on; NGX_DECLINED: refused, ctx->error
 * says why; NGX_AGAIN: a magic_token_check subrequest runs (main
 * requests only); NGX_ERROR: an internal error.
 */
ngx_int_t
ngx_http_magic_token_check(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx)
{
    size_t       matched_len;
    mt_err_t     rc;
    ngx_int_t    n;
    ngx_str_t    path;
    const char  *matched;

    ngx_http_magic_token_main_conf_t  *mmcf;

    if (!ctx->verified) {
        return NGX_DECLINED;
    }

    ngx_str_null(&ctx->scope);

    if (ngx_http_magic_token_revoke_check(r, mlcf, ctx) != NGX_OK) {
        return NGX_DECLINED;
    }

    rc = ngx_http_magic_token_rules(r, mlcf, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_magic_token_path(r, mlcf, &path) != NGX_OK) {
        return NGX_ERROR;
    }

    /* even a token that grants a whole location: "..;" would leave it */
    if (mlcf->path_check
        && (mt_path_check((char *) path.data, path.len) != MT_OK
            || ngx_http_magic_token_raw_differs(r)))
    {
        ctx->error = MT_ERR_UNSAFE_PATH;
        return NGX_DECLINED;
    }

    rc = ngx_http_magic_token_chain_check(r, mlcf, ctx, &path);
    if (rc != NGX_OK) {
        return rc;
    }

    /* a token bound to a key (cnf.jkt): a DPoP proof by that key */
    rc = ngx_http_magic_token_dpop_check(r, mlcf, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    /* a token without rules is never kept bare: its claims are here */
    if (!mlcf->scope_required
        && ctx->token.scopes == NULL
        && mt_rules_count(ctx->token.rules) == 0   /* no lookup by name */
        && json_object_get(ctx->token.jws.claims, "allowed") == NULL)
    {
        /* a token without scope claims, where scopes are optional */
        goto decrypt;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_magic_token_module);

    rc = mt_token_authorize_with(&ctx->token, ngx_http_magic_token_matcher,
                                 mmcf->scopes ? mmcf->scopes->elts : NULL,
                                 mmcf->scopes ? mmcf->scopes->nelts : 0,
                                 (mt_match_mode_t) mlcf->scope_match,
                                 (char *) r->method_name.data,
                                 r->method_name.len, (char *) path.data,
                                 path.len, &matched, &matched_len);

    n = ngx_http_magic_token_check_scopes(r, ctx, &path, &rc, &matched,
                                          &matched_len);
    if (n != NGX_OK) {
        return n;               /* NGX_AGAIN: a magic_token_check runs */
    }

    rc = ngx_http_magic_token_grant_check(r, ctx, &path, rc, &matched,
                                          &matched_len);
    if (rc != MT_OK) {
        ctx->error = rc;
        return rc == MT_ERR_NOMEM ? NGX_ERROR : NGX_DECLINED;
    }

    ctx->scope.data = (u_char *) matched;
    ctx->scope.len = matched_len;

decrypt:

    if (!ctx->decrypted) {
        rc = mt_token_decrypt(&ctx->token, mlcf->keys);
        if (rc != MT_OK) {
            ctx->error = rc;
            return rc == MT_ERR_NOMEM ? NGX_ERROR : NGX_DECLINED;
        }

        ctx->decrypted = 1;
    }

    if (mlcf->cache && ctx->chain != NULL) {
        ngx_http_magic_token_cache_chain_store(r, mlcf, ctx);

    } else if (mlcf->cache) {
        ngx_http_magic_token_cache_store(r, mlcf, ctx);
    }

    return NGX_OK;
}


/* the path scopes are checked against: magic_token_scope_uri or $uri */
static ngx_int_t
ngx_http_magic_token_path(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_str_t *path)
{
    if (mlcf->scope_uri) {
        return ngx_http_complex_value(r, mlcf->scope_uri, path);
    }

    *path = r->uri;

    return NGX_OK;
}


/*
 * proxy_pass in a named location sends the URI as the client wrote it,
 * not $uri: only a request whose raw path is $uri, byte for byte, has
 * been checked as the upstream will read it.
 */
static ngx_uint_t
ngx_http_magic_token_raw_differs(ngx_http_request_t *r)
{
    u_char                    *q, *last;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (!clcf->named || !r->valid_unparsed_uri) {
        return 0;
    }

    last = r->unparsed_uri.data + r->unparsed_uri.len;
    q = ngx_strlchr(r->unparsed_uri.data, last, '?');

    if (q == NULL) {
        q = last;
    }

    return (size_t) (q - r->unparsed_uri.data) != r->uri.len
           || ngx_memcmp(r->unparsed_uri.data, r->uri.data, r->uri.len) != 0;
}


/* audience and magic_token_require */
static ngx_int_t
ngx_http_magic_token_rules(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx)
{
    ngx_str_t                        val;
    ngx_uint_t                       i, j;
    ngx_http_complex_value_t        *cv;
    ngx_http_magic_token_require_t  *req;

    if (mlcf->audiences
        && mt_claims_check_audience(ngx_http_magic_token_claims(ctx),
                                    mlcf->aud_names, mlcf->aud_lens,
                                    mlcf->audiences->nelts)
           != MT_OK)
    {
        ctx->error = MT_ERR_INVALID_AUDIENCE;
        return NGX_DECLINED;
    }

    if (mlcf->require == NULL) {
        return NGX_OK;
    }

    req = mlcf->require->elts;

    for (i = 0; i < mlcf->require->nelts; i++) {
        cv = req[i].values->elts;

        for (j = 0; j < req[i].values->nelts; j++) {
            if (ngx_http_complex_value(r, &cv[j], &val) != NGX_OK) {
                return NGX_ERROR;
            }

            if (val.len == 0 || (val.len == 1 && val.data[0] == '0')) {
                ctx->error = MT_ERR_REQUIREMENT;
                ctx->require_status = req[i].status;
                return NGX_DECLINED;
            }
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_magic_token_find(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_str_t *token)
{
    u_char  *p, *last;

    if (mlcf->source == NGX_HTTP_MAGIC_TOKEN_VARIABLE) {
        if (ngx_http_complex_value(r, mlcf->token, token) != NGX_OK) {
            return NGX_ERROR;
        }

    } else if (r->headers_in.authorization) {
        *token = r->headers_in.authorization->value;

    } else {
        ngx_str_null(token);
        return NGX_OK;
    }

    p = token->data;
    last = p + token->len;

    /* a scheme alone ("Bearer ", its space trimmed by nginx): no token */
    if ((token->len == ngx_http_magic_token_bearer.len - 1
         && ngx_strncasecmp(p, ngx_http_magic_token_bearer.data,
                            token->len) == 0)
        || (token->len == ngx_http_magic_token_github.len - 1
            && ngx_strncasecmp(p, ngx_http_magic_token_github.data,
                               token->len) == 0))
    {
        ngx_str_null(token);
        return NGX_OK;
    }

    /*
     * "Bearer <jwt>", GitHub's "token <jwt>" or "DPoP <jwt>", the scheme
     * case-insensitive, or a bare <jwt>
     */
    if (token->len >= ngx_http_magic_token_bearer.len
        && (ngx_strncmp(p, ngx_http_magic_token_bearer.data,
                        ngx_http_magic_token_bearer.len) == 0
            || ngx_strncasecmp(p, ngx_http_magic_token_bearer.data,
                               ngx_http_magic_token_bearer.len) == 0))
    {
        /* "Bearer " as written most of the time: compared first */
        p += ngx_http_magic_token_bearer.len;

    } else if (token->len >= ngx_http_magic_token_github.len
               && ngx_strncasecmp(p, ngx_http_magic_token_github.data,
                                  ngx_http_magic_token_github.len) == 0)
    {
        p += ngx_http_magic_token_github.len;

    } else if (token->len >= ngx_http_magic_token_dpop_scheme.len
               && ngx_strncasecmp(p, ngx_http_magic_token_dpop_scheme.data,
                                  ngx_http_magic_token_dpop_scheme.len) == 0)
    {
        /* RFC 9449 section 7.1; ..._dpop.c checks the binding */
        p += ngx_http_magic_token_dpop_scheme.len;

    } else if (mlcf->source == NGX_HTTP_MAGIC_TOKEN_HEADER
               && (ngx_strlchr(p, last, ' ') || ngx_strlchr(p, last, '\t')))
    {
        /* another scheme ("Basic ..."): no magic token, nothing logged */
        ngx_str_null(token);
        return NGX_OK;
    }

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    token->data = p;
    token->len = last - p;

    return NGX_OK;
}


ngx_int_t
ngx_http_magic_token_deny(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx)
{
    ngx_int_t         status;
    ngx_str_t        *challenge;
    ngx_table_elt_t  *h;

    if (ctx->has_token) {
        ngx_log_error(mlcf->log_level, r->connection->log, 0,
                      "magic_token: denied: %s (token %s)",
                      mt_strerror(ctx->error),
                      ngx_http_magic_token_id(ctx));

    } else {
        ngx_log_error(mlcf->log_level, r->connection->log, 0,
                      "magic_token: denied: %s", mt_strerror(ctx->error));
    }

    switch (ctx->error) {

    case MT_ERR_MISSING:
        status = NGX_HTTP_UNAUTHORIZED;
        challenge = &mlcf->challenge;
        break;

    case MT_ERR_SCOPE_DENIED:
    case MT_ERR_UNKNOWN_SCOPE:
    case MT_ERR_UNSAFE_PATH:
        status = NGX_HTTP_FORBIDDEN;
        challenge = &mlcf->challenge_scope;
        break;

    case MT_ERR_DPOP_REQUIRED:
    case MT_ERR_INVALID_DPOP_PROOF:
    case MT_ERR_DPOP_REPLAY:
        status = NGX_HTTP_UNAUTHORIZED;
        challenge = ngx_http_magic_token_dpop_challenge(mlcf, ctx->error);
        break;

    case MT_ERR_REQUIREMENT:
        status = ctx->require_status;
        challenge = (status == NGX_HTTP_FORBIDDEN) ? &mlcf->challenge_scope
                                                   : &mlcf->challenge_invalid;
        break;

    default:
        status = NGX_HTTP_UNAUTHORIZED;
        challenge = &mlcf->challenge_invalid;
        break;
    }

    /* checked again after an internal redirect: one challenge only */
    h = r->headers_out.www_authenticate;

    if (h == NULL) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_str_set(&h->key, "WWW-Authenticate");
#if (nginx_version >= 1023000)
        /*
         * since 1.23.0 headers of one name are chained through "next";
         * "satisfy any" walks this chain when another access module
         * allows the request, and ngx_list_push() does not zero memory
         */
        h->next = NULL;
#endif
        r->headers_out.www_authenticate = h;
    }

    h->hash = 1;
    h->value = *challenge;

    return status;
}


/*
 * A token about to be replaced may still be pointed at by variable
 * values of this request: it is freed (or given back to the cache)
 * with the request, not now.
 */
static ngx_int_t
ngx_http_magic_token_retire(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx)
{
    ngx_pool_cleanup_t          *cln;
    ngx_http_magic_token_ctx_t  *old;

    if (ctx->cache_entry == NULL && ctx->token.jws.header == NULL
        && ctx->token.jws.claims == NULL)
    {
        return NGX_OK;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_magic_token_ctx_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    old = cln->data;
    ngx_memzero(old, sizeof(ngx_http_magic_token_ctx_t));
    old->token = ctx->token;
    old->cache_entry = ctx->cache_entry;

    /* a handler of its own: the ctx lookup must not find this copy */
    cln->handler = ngx_http_magic_token_retired;

    ngx_memzero(&ctx->token, sizeof(mt_token_t));
    ctx->cache_entry = NULL;
    ctx->chain = NULL;          /* freed with the request */

    return NGX_OK;
}


static void
ngx_http_magic_token_retired(void *data)
{
    ngx_http_magic_token_ctx_t  *old = data;

    /* a copy in the request pool: released, not given back to the list */
    ngx_http_magic_token_cache_release(old);
    mt_token_clear(&old->token);
}


ngx_http_magic_token_ctx_t *
ngx_http_magic_token_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t          *cln;
    ngx_http_magic_token_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_magic_token_module);

    if (ctx != NULL) {
        return ctx;
    }

    /*
     * An internal redirect zeroes the module contexts; the request pool,
     * shared with subrequests, still holds ours.
     */
    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_magic_token_cleanup) {
            ctx = cln->data;
            ngx_http_set_ctx(r->main, ctx, ngx_http_magic_token_module);
            return ctx;
        }
    }

    return NULL;
}


/*
 * A request's context comes from the worker's list of finished ones
 * (at most ..._FREE_CTX kept), not from the request pool: a request
 * then takes from its pool the cleanup alone, so that one bearing a
 * token crosses no pool block boundary a request without one would not
 * (a new 4 KiB block costs more than a whole cache hit).
 */
static ngx_http_magic_token_ctx_t *
ngx_http_magic_token_ctx_alloc(ngx_log_t *log)
{
    ngx_http_magic_token_ctx_t  *ctx;

    ctx = ngx_http_magic_token_free_ctx;

    if (ctx != NULL) {
        ngx_http_magic_token_free_ctx = ctx->next_free;
        ngx_http_magic_token_nfree_ctx--;

    } else {
        ctx = ngx_alloc(sizeof(ngx_http_magic_token_ctx_t), log);
        if (ctx == NULL) {
            return NULL;
        }
    }

    ngx_memzero(ctx, sizeof(ngx_http_magic_token_ctx_t));

    return ctx;
}


static void
ngx_http_magic_token_cleanup(void *data)
{
    ngx_http_magic_token_ctx_t  *ctx = data;

    ngx_http_magic_token_cache_release(ctx);
    mt_token_clear(&ctx->token);

    /* nothing of the request stays: the next one zeroes it again */
    ngx_explicit_memzero(ctx, sizeof(ngx_http_magic_token_ctx_t));

    if (ngx_http_magic_token_nfree_ctx >= NGX_HTTP_MAGIC_TOKEN_FREE_CTX) {
        ngx_free(ctx);
        return;
    }

    ctx->next_free = ngx_http_magic_token_free_ctx;
    ngx_http_magic_token_free_ctx = ctx;
    ngx_http_magic_token_nfree_ctx++;
}


static void *
ngx_http_magic_token_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_magic_token_main_conf_t  *mmcf;

    mmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_magic_token_main_conf_t));
    if (mmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mmcf->scopes = NULL;
     */

    return mmcf;
}


static void *
ngx_http_magic_token_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_magic_token_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_magic_token_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->token = NULL;
     *     conf->keys = NULL;
     *     conf->realm = { 0, NULL };
     *     conf->challenge* = { 0, NULL };
     */

    conf->source = NGX_CONF_UNSET_UINT;
    conf->scope_match = NGX_CONF_UNSET_UINT;
    conf->scope_uri = NGX_CONF_UNSET_PTR;
    conf->max_size = NGX_CONF_UNSET_SIZE;
    conf->leeway = NGX_CONF_UNSET;
    conf->scope_required = NGX_CONF_UNSET;
    conf->path_check = NGX_CONF_UNSET;
    conf->log_level = NGX_CONF_UNSET_UINT;
    conf->audiences = NGX_CONF_UNSET_PTR;
    conf->require = NGX_CONF_UNSET_PTR;
    conf->cache = NGX_CONF_UNSET_PTR;
    conf->dpop = NGX_CONF_UNSET_PTR;
    conf->revocation = NGX_CONF_UNSET_PTR;
    conf->issuer_enabled = NGX_CONF_UNSET;
    conf->issuer = NGX_CONF_UNSET_PTR;
    conf->issuer_max_ttl = NGX_CONF_UNSET;
    conf->issuer_refresh_ttl = NGX_CONF_UNSET;
    conf->mcp = NGX_CONF_UNSET;
    conf->mcp_max_body = NGX_CONF_UNSET_SIZE;

    return conf;
}


static ngx_int_t
ngx_http_magic_token_challenge(ngx_conf_t *cf, ngx_str_t *out,
    ngx_str_t *realm, char *error)
{
    size_t  len;

    len = sizeof("Bearer realm=\"\"") - 1 + realm->len;

    if (error) {
        len += sizeof(", error=\"\"") - 1 + ngx_strlen(error);
    }

    out->data = ngx_pnalloc(cf->pool, len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    if (error) {
        out->len = ngx_sprintf(out->data, "Bearer realm=\"%V\", error=\"%s\"",
                               realm, error)
                   - out->data;

    } else {
        out->len = ngx_sprintf(out->data, "Bearer realm=\"%V\"", realm)
                   - out->data;
    }

    return NGX_OK;
}


static char *
ngx_http_magic_token_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_magic_token_loc_conf_t  *prev = parent;
    ngx_http_magic_token_loc_conf_t  *conf = child;

    u_char                    *p;
    ngx_http_core_loc_conf_t  *clcf;

    if (conf->source == NGX_CONF_UNSET_UINT) {
        conf->source = prev->source;
        conf->token = prev->token;
    }

    ngx_conf_merge_uint_value(conf->source, prev->source,
                              NGX_HTTP_MAGIC_TOKEN_OFF);

    if (conf->keys == NULL) {
        conf->keys = prev->keys;
    }

    ngx_conf_merge_uint_value(conf->scope_match, prev->scope_match,
                              MT_MATCH_FULL);
    ngx_conf_merge_ptr_value(conf->scope_uri, prev->scope_uri, NULL);
    ngx_conf_merge_size_value(conf->max_size, prev->max_size, 16384);
    ngx_conf_merge_sec_value(conf->leeway, prev->leeway, 0);
    ngx_conf_merge_value(conf->scope_required, prev->scope_required, 1);
    ngx_conf_merge_value(conf->path_check, prev->path_check, 1);
    ngx_conf_merge_uint_value(conf->log_level, prev->log_level,
                              NGX_LOG_INFO);
    ngx_conf_merge_ptr_value(conf->require, prev->require, NULL);
    ngx_conf_merge_ptr_value(conf->cache, prev->cache, NULL);

    if (conf->audiences == NGX_CONF_UNSET_PTR) {
        conf->audiences = prev->audiences;
        conf->aud_names = prev->aud_names;
        conf->aud_lens = prev->aud_lens;
    }

    if (conf->audiences == NGX_CONF_UNSET_PTR) {
        conf->audiences = NULL;
    }

    if (conf->max_size == 0 || conf->max_size > MT_MAX_TOKEN_LEN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"magic_token_max_size\" must be between 1 and "
                           "%d", MT_MAX_TOKEN_LEN);
        return NGX_CONF_ERROR;
    }

    if (conf->realm.data == NULL) {
        conf->realm = prev->realm;
        conf->challenge = prev->challenge;
        conf->challenge_invalid = prev->challenge_invalid;
        conf->challenge_scope = prev->challenge_scope;
    }

    if (conf->realm.data == NULL) {
        ngx_str_set(&conf->realm, "magic-token");
    }

    if (conf->challenge.data == NULL) {
        for (p = conf->realm.data; p < conf->realm.data + conf->realm.len;
             p++)
        {
            if (*p == '"' || *p == '\\' || *p < 0x20 || *p == 0x7f) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"magic_token_realm\" must not contain "
                                   "quotes, backslashes or control "
                                   "characters");
                return NGX_CONF_ERROR;
            }
        }

        if (ngx_http_magic_token_challenge(cf, &conf->challenge,
                                           &conf->realm, NULL)
            != NGX_OK
            || ngx_http_magic_token_challenge(cf, &conf->challenge_invalid,
                                              &conf->realm, "invalid_token")
               != NGX_OK
            || ngx_http_magic_token_challenge(cf, &conf->challenge_scope,
                                              &conf->realm,
                                              "insufficient_scope")
               != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_magic_token_issuer_merge(cf, prev, conf) != NGX_CONF_OK
        || ngx_http_magic_token_cache_merge(cf, conf) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_magic_token_revoke_merge(cf, prev, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_magic_token_dpop_merge(cf, prev, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_magic_token_mcp_merge(cf, prev, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    /*
     * http and server levels may leave the keys to their locations; a
     * location must have some (and the handler denies without them).
     */
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->named && conf->source != NGX_HTTP_MAGIC_TOKEN_OFF
        && clcf->handler != NULL)
    {
        ngx_http_magic_token_named_warning(cf, conf);
    }

    if (conf->source != NGX_HTTP_MAGIC_TOKEN_OFF && conf->keys == NULL
        && clcf->name.len > 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"magic_token\" is on in location \"%V\" but no "
                           "\"magic_token_key\" or \"magic_token_secret\" "
                           "is configured for it",
                           &clcf->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_magic_token_audience_note(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * A content handler (proxy_pass, ...) in a named location forwards the
 * request URI as the client sent it: scopes see $uri.
 */
static void
ngx_http_magic_token_named_warning(ngx_conf_t *cf,
    ngx_http_magic_token_loc_conf_t *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (conf->path_check) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"magic_token\" in named location \"%V\": the "
                           "upstream gets the request URI as the client "
                           "sent it, so requests whose raw path is not "
                           "exactly $uri are refused (see docs/scopes.md)",
                           &clcf->name);
        return;
    }

    ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                       "\"magic_token\" in named location \"%V\": the "
                       "upstream gets the request URI as the client sent "
                       "it, not the $uri that scopes are checked against "
                       "(see docs/scopes.md)", &clcf->name);
}


static char *
ngx_http_magic_token(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_magic_token_loc_conf_t *mlcf = conf;

    ngx_str_t                         *value;
    ngx_http_compile_complex_value_t   ccv;

    if (mlcf->source != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        mlcf->source = NGX_HTTP_MAGIC_TOKEN_OFF;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value[1].data, "on") == 0) {
        mlcf->source = NGX_HTTP_MAGIC_TOKEN_HEADER;
        return NGX_CONF_OK;
    }

    if (value[1].len == 0 || value[1].data[0] != '$') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\": expected \"on\", \"off\" "
                           "or a variable", &value[1]);
        return NGX_CONF_ERROR;
    }

    mlcf->token = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (mlcf->token == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = mlcf->token;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    mlcf->source = NGX_HTTP_MAGIC_TOKEN_VARIABLE;

    return NGX_CONF_OK;
}


static char *
ngx_http_magic_token_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_magic_token_loc_conf_t *mlcf = conf;

    char        errbuf[NGX_MAX_CONF_ERRSTR];
    size_t      from;
    ngx_str_t  *value, file;

    value = cf->args->elts;
    file = value[1];

    if (cf->args->nelts == 3
        && ngx_strcmp(value[2].data, "credentials") != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_magic_token_keyset(cf, mlcf) == NULL) {
        return NGX_CONF_ERROR;
    }

    errbuf[0] = '\0';
    from = mt_keyset_count(mlcf->keys);

    if (mt_keyset_add_file(mlcf->keys, (char *) file.data, errbuf,
                           sizeof(errbuf))
        != MT_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "magic_token_key %s",
                           errbuf);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 3) {
        mt_keyset_trust_credentials(mlcf->keys, from);
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_magic_token_scope(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_magic_token_main_conf_t *mmcf = conf;

    char                 errbuf[NGX_MAX_CONF_ERRSTR];
    ngx_str_t           *value;
    ngx_uint_t           i, m;
    mt_named_scope_t    *scope;
    ngx_pool_cleanup_t  *cln;

    value = cf->args->elts;

    if (mmcf->scopes == NULL) {
        mmcf->scopes = ngx_array_create(cf->pool, 4, sizeof(mt_named_scope_t));
        if (mmcf->scopes == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    scope = mmcf->scopes->elts;

    for (i = 0; i < mmcf->scopes->nelts; i++) {
        if (scope[i].name_len == value[1].len
            && ngx_strncmp(scope[i].name, value[1].data, value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate magic_token_scope \"%V\"",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    scope = ngx_array_push(mmcf->scopes);
    if (scope == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(scope, sizeof(mt_named_scope_t));
    scope->name = (char *) value[1].data;
    scope->name_len = value[1].len;

    for (m = MT_MATCH_FULL; m <= MT_MATCH_PREFIX; m++) {
        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            return NGX_CONF_ERROR;
        }

        scope->rules[m] = mt_rules_new((mt_match_mode_t) m);
        if (scope->rules[m] == NULL) {
            return NGX_CONF_ERROR;
        }

        cln->handler = ngx_http_magic_token_free_rules;
        cln->data = scope->rules[m];

        for (i = 2; i < cf->args->nelts; i++) {
            errbuf[0] = '\0';

            if (mt_rules_add(scope->rules[m], (char *) value[i].data,
                             value[i].len, errbuf, sizeof(errbuf))
                != MT_OK)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "magic_token_scope \"%V\": %s",
                                   &value[1], errbuf);
                return NGX_CONF_ERROR;
            }
        }

        /* matched by every token naming the scope: JIT when it can */
        (void) mt_rules_jit(scope->rules[m]);
    }

    return NGX_CONF_OK;
}


static mt_keyset_t *
ngx_http_magic_token_keyset(ngx_conf_t *cf,
    ngx_http_magic_token_loc_conf_t *mlcf)
{
    ngx_pool_cleanup_t  *cln;

    if (mlcf->keys) {
        return mlcf->keys;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    mlcf->keys = mt_keyset_new();
    if (mlcf->keys == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_magic_token_free_keyset;
    cln->data = mlcf->keys;

    return mlcf->keys;
}


/*
 * magic_token_scope_uri: the raw request URI is not what the upstream
 * gets from proxy_pass with a URI part, and "%2e%2e" or "%2F" in it
 * would never match what a scope means: say so when it is used.
 */
static char *
ngx_http_magic_token_scope_uri(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char       *rv;
    ngx_str_t  *value;

    rv = ngx_http_set_complex_value_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    value = cf->args->elts;

    if (ngx_strstr(value[1].data, "request_uri") != NULL) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"magic_token_scope_uri\" uses $request_uri, "
                           "which is neither decoded nor normalized: "
                           "scopes would be checked against another path "
                           "than the one nginx resolves (see docs/scopes.md)");
    }

    return NGX_CONF_OK;
}


typedef struct {
    ngx_str_t   kid;
    mt_alg_t    alg;            /* MT_ALG_NONE: any HS algorithm */
    ngx_uint_t  allow_short;
    ngx_uint_t  credentials;    /* may sign credential tokens */
} ngx_http_magic_token_secret_params_t;


/* RFC 7518 section 3.2: at least the size of the hash output */
#define NGX_HTTP_MAGIC_TOKEN_SECRET_MIN    32
/* the floor of "allow_short", for secrets of older deployments */
#define NGX_HTTP_MAGIC_TOKEN_SECRET_SHORT  16
#define NGX_HTTP_MAGIC_TOKEN_SECRET_MAX    4096


/* [kid=ID] [alg=HS256|HS384|HS512] [allow_short], in any order */
static char *
ngx_http_magic_token_secret_params(ngx_conf_t *cf,
    ngx_http_magic_token_secret_params_t *sp)
{
    ngx_str_t   *value;
    ngx_uint_t   i;

    value = cf->args->elts;

    ngx_str_null(&sp->kid);
    sp->alg = MT_ALG_NONE;
    sp->allow_short = 0;
    sp->credentials = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "kid=", 4) == 0 && value[i].len > 4) {
            sp->kid.data = value[i].data + 4;
            sp->kid.len = value[i].len - 4;
            continue;
        }

        if (ngx_strncmp(value[i].data, "alg=", 4) == 0) {
            sp->alg = mt_alg_from_name((char *) value[i].data + 4,
                                       value[i].len - 4);

            if (sp->alg < MT_ALG_HS256 || sp->alg > MT_ALG_HS512) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\": a secret "
                                   "verifies HS256, HS384 or HS512",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (value[i].len == sizeof("allow_short") - 1
            && ngx_strncmp(value[i].data, "allow_short", value[i].len) == 0)
        {
            sp->allow_short = 1;
            continue;
        }

        if (value[i].len == sizeof("credentials") - 1
            && ngx_strncmp(value[i].data, "credentials", value[i].len) == 0)
        {
            sp->credentials = 1;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * The secret's length against RFC 7518: the hash size of its algorithm
 * (32 bytes when it is not pinned), or 16 with "allow_short" and a
 * warning at every configuration load.
 */
static char *
ngx_http_magic_token_secret_length(ngx_conf_t *cf, ngx_str_t *file,
    ssize_t n, ngx_http_magic_token_secret_params_t *sp)
{
    size_t  min;

    min = sp->alg == MT_ALG_HS512 ? 64
          : sp->alg == MT_ALG_HS384 ? 48 : NGX_HTTP_MAGIC_TOKEN_SECRET_MIN;

    if (n < 0 || n > NGX_HTTP_MAGIC_TOKEN_SECRET_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "magic_token_secret \"%V\": %s", file,
                           n < 0 ? "unreadable" : "longer than 4096 bytes");
        return NGX_CONF_ERROR;
    }

    if ((size_t) n >= min) {
        return NGX_CONF_OK;
    }

    if (!sp->allow_short || n < NGX_HTTP_MAGIC_TOKEN_SECRET_SHORT) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "magic_token_secret \"%V\": %z bytes, shorter "
                           "than the %uz bytes RFC 7518 requires; use a "
                           "longer random secret, or, to keep an existing "
                           "secret of at least %d bytes while migrating, "
                           "add the \"allow_short\" parameter",
                           file, n, min, NGX_HTTP_MAGIC_TOKEN_SECRET_SHORT);
        return NGX_CONF_ERROR;
    }

    ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                       "magic_token_secret \"%V\": %z bytes, shorter than "
                       "the %uz bytes RFC 7518 requires, accepted because "
                       "of \"allow_short\": replace it with a longer "
                       "random secret", file, n, min);

    return NGX_CONF_OK;
}


/*
 * magic_token_secret file [kid=ID] [alg=HS256|HS384|HS512] [allow_short]
 *     [credentials];
 * the file's bytes, as they are
 */
static char *
ngx_http_magic_token_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_magic_token_loc_conf_t *mlcf = conf;

    char                                  errbuf[NGX_MAX_CONF_ERRSTR];
    char                                 *rv;
    size_t                                from;
    ssize_t                               n;
    ngx_str_t                            *value, file;
    ngx_fd_t                              fd;
    mt_err_t                              rc;
    u_char                                buf[4096 + 1];
    ngx_file_t                            f;
    ngx_http_magic_token_secret_params_t  sp;

    value = cf->args->elts;
    file = value[1];

    if (ngx_http_magic_token_secret_params(cf, &sp) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "magic_token_secret \"%V\": cannot open file",
                           &file);
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&f, sizeof(ngx_file_t));
    f.fd = fd;
    f.name = file;
    f.log = cf->log;

    n = ngx_read_file(&f, buf, sizeof(buf), 0);

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &file);
    }

    rv = ngx_http_magic_token_secret_length(cf, &file, n, &sp);

    if (rv != NGX_CONF_OK || ngx_http_magic_token_keyset(cf, mlcf) == NULL) {
        ngx_explicit_memzero(buf, sizeof(buf));
        return NGX_CONF_ERROR;
    }

    errbuf[0] = '\0';
    from = mt_keyset_count(mlcf->keys);

    rc = mt_keyset_add_hmac(mlcf->keys, buf, (size_t) n,
                            sp.kid.len ? (char *) sp.kid.data : NULL,
                            sp.kid.len, sp.alg, errbuf, sizeof(errbuf));

    ngx_explicit_memzero(buf, sizeof(buf));

    if (rc != MT_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "magic_token_secret \"%V\": %s", &file, errbuf);
        return NGX_CONF_ERROR;
    }

    if (sp.credentials) {
        mt_keyset_trust_credentials(mlcf->keys, from);
    }

    return NGX_CONF_OK;
}


/* magic_token_audience any | none | name ... */
static char *
ngx_http_magic_token_audience(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_magic_token_loc_conf_t *mlcf = conf;

    ngx_str_t   *value, *aud;
    ngx_uint_t   i, n;

    if (mlcf->audiences != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    n = cf->args->nelts - 1;

    if (n == 1 && ngx_strcmp(value[1].data, "any") == 0) {
        mlcf->audiences = NULL;
        return NGX_CONF_OK;
    }

    mlcf->audiences = ngx_array_create(cf->pool, n, sizeof(ngx_str_t));
    if (mlcf->audiences == NULL) {
        return NGX_CONF_ERROR;
    }

    if (n == 1 && ngx_strcmp(value[1].data, "none") == 0) {
        /* an empty list: every token is refused */
        return NGX_CONF_OK;
    }

    mlcf->aud_names = ngx_palloc(cf->pool, n * sizeof(char *));
    mlcf->aud_lens = ngx_palloc(cf->pool, n * sizeof(size_t));

    if (mlcf->aud_names == NULL || mlcf->aud_lens == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i <= n; i++) {
        if (value[i].len == 0
            || ngx_strcmp(value[i].data, "any") == 0
            || ngx_strcmp(value[i].data, "none") == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid audience \"%V\": \"any\" and "
                               "\"none\" must stand alone", &value[i]);
            return NGX_CONF_ERROR;
        }

        aud = ngx_array_push(mlcf->audiences);
        if (aud == NULL) {
            return NGX_CONF_ERROR;
        }

        *aud = value[i];
        mlcf->aud_names[i - 1] = (char *) value[i].data;
        mlcf->aud_lens[i - 1] = value[i].len;
    }

    return NGX_CONF_OK;
}


/* magic_token_require value ... [error=401|403] */
static char *
ngx_http_magic_token_require(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_magic_token_loc_conf_t *mlcf = conf;

    ngx_str_t                         *value;
    ngx_uint_t                         i, last;
    ngx_http_complex_value_t          *cv;
    ngx_http_magic_token_require_t    *req;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    if (mlcf->require == NGX_CONF_UNSET_PTR) {
        mlcf->require = ngx_array_create(cf->pool, 2,
                                      sizeof(ngx_http_magic_token_require_t));
        if (mlcf->require == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    req = ngx_array_push(mlcf->require);
    if (req == NULL) {
        return NGX_CONF_ERROR;
    }

    req->status = NGX_HTTP_UNAUTHORIZED;
    last = cf->args->nelts;

    if (ngx_strncmp(value[last - 1].data, "error=", 6) == 0) {
        if (ngx_strcmp(value[last - 1].data, "error=401") == 0) {
            req->status = NGX_HTTP_UNAUTHORIZED;

        } else if (ngx_strcmp(value[last - 1].data, "error=403") == 0) {
            req->status = NGX_HTTP_FORBIDDEN;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": expected "
                               "\"error=401\" or \"error=403\"",
                               &value[last - 1]);
            return NGX_CONF_ERROR;
        }

        last--;
    }

    if (last < 2) {
        return "needs at least one value";
    }

    req->values = ngx_array_create(cf->pool, last - 1,
                                   sizeof(ngx_http_complex_value_t));
    if (req->values == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < last; i++) {
        cv = ngx_array_push(req->values);
        if (cv == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value[i];
        ccv.complex_value = cv;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


void
ngx_http_magic_token_free_keyset(void *data)
{
    mt_keyset_free(data);
}


static void
ngx_http_magic_token_free_rules(void *data)
{
    mt_rules_free(data);
}


static ngx_int_t
ngx_http_magic_token_init_process(ngx_cycle_t *cycle)
{
    ngx_http_magic_token_matcher = mt_matcher_new();

    if (ngx_http_magic_token_matcher == NULL) {
        /* not fatal: mt_rules_match_with() makes one per match */
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "magic_token: no memory for the match data");
    }

    return NGX_OK;
}


static void
ngx_http_magic_token_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_magic_token_ctx_t  *ctx;

    mt_matcher_free(ngx_http_magic_token_matcher);
    ngx_http_magic_token_matcher = NULL;

    while (ngx_http_magic_token_free_ctx) {
        ctx = ngx_http_magic_token_free_ctx;
        ngx_http_magic_token_free_ctx = ctx->next_free;
        ngx_free(ctx);
    }

    ngx_http_magic_token_nfree_ctx = 0;
}


static ngx_int_t
ngx_http_magic_token_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_magic_token_add_variables(cf);
}


static ngx_int_t
ngx_http_magic_token_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_magic_token_handler;

    if (ngx_http_magic_token_zone_check(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_magic_token_revoke_postconf(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_magic_token_grant_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_magic_token_check_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_magic_token_audience_check(cf);

    if (ngx_http_magic_token_mcp_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_magic_token_subrequest_init(cf);
}


/*
 * The request body, copied into one buffer (it may be in a temp file):
 * NGX_DECLINED when it is longer than max, NGX_ERROR on a read error.
 */
ngx_int_t
ngx_http_magic_token_read_body(ngx_http_request_t *r, size_t max,
    ngx_str_t *body)
{
    off_t         len;
    size_t        size;
    ssize_t       n;
    u_char       *p;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    ngx_str_null(body);

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len > (off_t) max) {
        return NGX_DECLINED;
    }

    body->data = ngx_pnalloc(r->pool, (size_t) len + 1);
    if (body->data == NULL) {
        return NGX_ERROR;
    }

    p = body->data;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        if (b->in_file) {
            size = (size_t) (b->file_last - b->file_pos);

            n = ngx_read_file(b->file, p, size, b->file_pos);
            if (n != (ssize_t) size) {
                return NGX_ERROR;
            }

            p += size;
        }
    }

    body->len = p - body->data;

    return NGX_OK;
}
