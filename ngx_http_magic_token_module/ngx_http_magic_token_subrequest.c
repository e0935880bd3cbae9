/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Subrequests (SSI "include virtual", mirror, auth_request, ...).
 *
 * nginx skips the access phase for subrequests: the main request's check
 * is taken to cover them.  A magic token's scopes name methods and
 * paths, so it does not: a subrequest is checked on its own, its own
 * method and URI (or magic_token_scope_uri) under its own location's
 * settings, in the preaccess phase, which subrequests do run.  The
 * result is kept in the subrequest's module context (the main request's
 * lives on r->main) and is all that releases $magic_token_credential
 * and $magic_token_scope in it; where the subrequest's location has
 * magic_token off there is no check, and they are empty.
 */


#include "ngx_http_magic_token_module.h"


typedef struct {
    ngx_http_magic_token_ctx_t        ctx;
    ngx_http_magic_token_loc_conf_t  *conf;     /* the location checked */
} ngx_http_magic_token_sr_ctx_t;


static ngx_int_t ngx_http_magic_token_subrequest_handler(
    ngx_http_request_t *r);
static ngx_http_magic_token_sr_ctx_t *ngx_http_magic_token_subrequest_check(
    ngx_http_request_t *r, ngx_http_magic_token_loc_conf_t *mlcf);
static ngx_int_t ngx_http_magic_token_subrequest_token(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx);
static void ngx_http_magic_token_subrequest_cleanup(void *data);


/*
 * Preaccess: after the location is found and rewritten, before access
 * (which subrequests skip), precontent and content.  Runs again, with a
 * new check, after an internal redirect of the subrequest.
 */
ngx_int_t
ngx_http_magic_token_subrequest_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_magic_token_subrequest_handler;

    return NGX_OK;
}


static ngx_int_t
ngx_http_magic_token_subrequest_handler(ngx_http_request_t *r)
{
    ngx_http_magic_token_sr_ctx_t    *sctx;
    ngx_http_magic_token_loc_conf_t  *mlcf;

    if (r == r->main) {
        return NGX_DECLINED;
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_magic_token_module);

    if (mlcf->source == NGX_HTTP_MAGIC_TOKEN_OFF) {
        return NGX_DECLINED;
    }

    sctx = ngx_http_magic_token_subrequest_check(r, mlcf);
    if (sctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (sctx->ctx.passed) {
        /* the other preaccess handlers (limit_req, ...) still run */
        return NGX_DECLINED;
    }

    return ngx_http_magic_token_deny(r, mlcf, &sctx->ctx);
}


/*
 * The subrequest's own check for its current location, NULL when that
 * location has magic_token off.  A subrequest that skipped preaccess (a
 * clone, e.g. for slice or a cache background update, starts at its
 * parent's content phase) is checked here, the first time a variable
 * asks.  NGX_ERROR: an internal error.
 */
ngx_int_t
ngx_http_magic_token_subrequest_ctx(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t **ctx)
{
    ngx_http_magic_token_sr_ctx_t    *sctx;
    ngx_http_magic_token_loc_conf_t  *mlcf;

    *ctx = NULL;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_magic_token_module);

    if (mlcf->source == NGX_HTTP_MAGIC_TOKEN_OFF) {
        return NGX_OK;
    }

    sctx = ngx_http_get_module_ctx(r, ngx_http_magic_token_module);

    /* a check made in another location ("rewrite ... last") is not it */
    if (sctx == NULL || sctx->conf != mlcf) {
        sctx = ngx_http_magic_token_subrequest_check(r, mlcf);
        if (sctx == NULL) {
            return NGX_ERROR;
        }
    }

    *ctx = &sctx->ctx;

    return NGX_OK;
}


/*
 * A new check of the subrequest, made the subrequest's context.  Only
 * the token is shared with the main request; the main request's own
 * check (ctx->passed, error, scope) is left as it was.
 */
static ngx_http_magic_token_sr_ctx_t *
ngx_http_magic_token_subrequest_check(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf)
{
    ngx_int_t                       rc;
    ngx_http_magic_token_ctx_t     *ctx;
    ngx_http_magic_token_sr_ctx_t  *sctx;

    sctx = ngx_pcalloc(r->pool, sizeof(ngx_http_magic_token_sr_ctx_t));
    if (sctx == NULL) {
        return NULL;
    }

    sctx->conf = mlcf;
    ctx = &sctx->ctx;

    /*
     * Set first: variables of this module in magic_token_require or
     * magic_token_scope_uri read the check in progress, and do not
     * start another one.
     */
    ngx_http_set_ctx(r, sctx, ngx_http_magic_token_module);

    if (ngx_http_magic_token_subrequest_token(r, mlcf, ctx) != NGX_OK) {
        return NULL;
    }

    rc = ngx_http_magic_token_check(r, mlcf, ctx);

    if (rc == NGX_ERROR) {
        return NULL;
    }

    if (rc == NGX_OK) {
        ctx->error = MT_OK;
        ctx->passed = 1;
    }

    return sctx;
}


/*
 * The main request's token when it was verified and decrypted with the
 * same bytes and settings: it is never changed after that, and lives
 * in the request pool, which subrequests share, until the request ends
 * (a replaced one is retired, not freed).  Else one verified here.
 */
static ngx_int_t
ngx_http_magic_token_subrequest_token(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx)
{
    ngx_str_t                    token;
    ngx_pool_cleanup_t          *cln;
    ngx_http_magic_token_ctx_t  *mctx;

    if (ngx_http_magic_token_find(r, mlcf, &token) != NGX_OK) {
        return NGX_ERROR;
    }

    mctx = ngx_http_magic_token_get_ctx(r);

    if (mctx != NULL
        && mctx->verified
        && mctx->decrypted
        && ngx_http_magic_token_same(mctx, mlcf, &token))
    {
        /*
         * The copy has no cache entry to parse them from: the claims of
         * a hit on a bare entry (ngx_http_magic_token_cache.c) first.
         */
        if (mctx->token.jws.claims == NULL
            && ngx_http_magic_token_claims(mctx) == NULL)
        {
            return NGX_ERROR;
        }

        *ctx = *mctx;

        /*
         * borrowed: no cleanup, no cache reference of its own, never
         * stored in a cache (the main request owns, or borrows, it all)
         */
        ctx->borrowed = 1;
        ctx->cache_entry = NULL;
        ctx->passed = 0;
        ctx->error = MT_OK;
        ngx_str_null(&ctx->scope);

        return NGX_OK;
    }

    /* not ngx_http_magic_token_cleanup: that one marks the main ctx */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_magic_token_subrequest_cleanup;
    cln->data = ctx;

    return ngx_http_magic_token_verify_token(r, mlcf, ctx, &token);
}


static void
ngx_http_magic_token_subrequest_cleanup(void *data)
{
    ngx_http_magic_token_ctx_t  *ctx = data;

    ngx_http_magic_token_cache_release(ctx);
    mt_token_clear(&ctx->token);
}
