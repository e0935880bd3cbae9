/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Chains of attenuated tokens, ROOT~LINK~... (docs/attenuation.md): the
 * root is verified with the location's keys as a single token is, each
 * link with the key the element before it names (mt_chain.c).  The
 * root goes to ctx->token, where everything else expects a token; the
 * links stay in ctx->chain, and every one of them must allow the
 * request.  With magic_token_cache, a chain seen before is borrowed
 * from the cache, and a chain on a cached prefix verifies its new links
 * only (ngx_http_magic_token_cache.c); the links' checks
 * (ngx_http_magic_token_chain_check) run on every request all the same.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_magic_token_module.h"


static void ngx_http_magic_token_chain_cleanup(void *data);


/*
 * Verifies a chain into ctx, which holds no token.  NGX_OK: ctx->error
 * says how it went; NGX_ERROR: out of memory.
 */
ngx_int_t
ngx_http_magic_token_chain_verify(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx,
    ngx_str_t *token)
{
    mt_err_t             rc;
    ngx_int_t            hit;
    mt_chain_t          *chain;
    ngx_pool_cleanup_t  *cln;
    const mt_keyset_t   *key;

    /* freed with the request: variables may point into its root */
    cln = ngx_pool_cleanup_add(r->pool, sizeof(mt_chain_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    chain = cln->data;
    ngx_memzero(chain, sizeof(mt_chain_t));
    cln->handler = ngx_http_magic_token_chain_cleanup;

    key = NULL;

    if (mlcf->cache) {
        hit = ngx_http_magic_token_cache_chain_lookup(r, mlcf, ctx, chain,
                                                      &key);
        if (hit == NGX_OK) {
            ctx->chain = chain;
            return NGX_OK;
        }
    }

    if (chain->borrowed > 0) {
        /* a cached prefix: its last element's key, its links borrowed */
        rc = mt_chain_verify_from(chain, chain->borrowed, key,
                                  (char *) token->data, token->len,
                                  (int64_t) ngx_time(),
                                  (int64_t) mlcf->leeway,
                                  (mt_match_mode_t) mlcf->scope_match);

    } else {
        rc = mt_chain_verify(chain, mlcf->keys, (char *) token->data,
                             token->len, (int64_t) ngx_time(),
                             (int64_t) mlcf->leeway,
                             (mt_match_mode_t) mlcf->scope_match);
    }

    if (rc == MT_ERR_NOMEM) {
        return NGX_ERROR;
    }

    ctx->error = rc;
    ctx->verified = (rc == MT_OK);

    if (rc != MT_OK) {
        /* the prefix goes back; the root was not the request's */
        ngx_http_magic_token_cache_release(ctx);
        ctx->decrypted = 0;
        mt_chain_clear(chain);
        return NGX_OK;
    }

    /* the root is the request's token; the chain keeps the links */
    if (chain->borrowed == 0) {
        ctx->token = chain->root;
        ngx_memzero(&chain->root, sizeof(mt_token_t));
    }

    ctx->chain = chain;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "magic token: chain of %uz links, id %s",
                   chain->n_links, ngx_http_magic_token_id(ctx));

    return NGX_OK;
}


/*
 * The links' audiences, methods and scopes against the request.
 * NGX_OK: every link allows it; NGX_DECLINED: ctx->error says why;
 * NGX_ERROR: an internal error.
 */
ngx_int_t
ngx_http_magic_token_chain_check(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx,
    ngx_str_t *path)
{
    mt_err_t                           rc;
    ngx_http_magic_token_main_conf_t  *mmcf;

    if (ctx->chain == NULL) {
        return NGX_OK;
    }

    /* a link's aud is checked even where any audience goes: fail closed */
    rc = mt_chain_check_audience(ctx->chain, mlcf->aud_names, mlcf->aud_lens,
                                 mlcf->audiences ? mlcf->audiences->nelts
                                                 : 0);
    if (rc != MT_OK) {
        ctx->error = rc;
        return NGX_DECLINED;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_magic_token_module);

    rc = mt_chain_authorize_links(ctx->chain,
                                  mmcf->scopes ? mmcf->scopes->elts : NULL,
                                  mmcf->scopes ? mmcf->scopes->nelts : 0,
                                  (mt_match_mode_t) mlcf->scope_match,
                                  (char *) r->method_name.data,
                                  r->method_name.len, (char *) path->data,
                                  path->len);
    if (rc != MT_OK) {
        ctx->error = rc;
        return rc == MT_ERR_NOMEM ? NGX_ERROR : NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_magic_token_chain_cleanup(void *data)
{
    mt_chain_t  *chain = data;

    mt_chain_clear(chain);
}
