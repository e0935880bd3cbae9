/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The worker's table of interned "allowed" rule lists (mt_intern.c):
 * the tokens of magic_token_cache share one compiled list per set of
 * entries, and a token whose set is compiled already (a shared-zone hit,
 * a miss like a cached token) compiles nothing.
 *
 * Lifetime: made by the worker on first use (the master never serves
 * requests), freed with the cycle pool at worker exit; lists still held
 * by cache entries or requests then are freed by their last user.  The
 * table holds only lists in use, at most
 * NGX_HTTP_MAGIC_TOKEN_INTERN_MAX; past that a token compiles its own.
 */


#include "ngx_http_magic_token_module.h"


#define NGX_HTTP_MAGIC_TOKEN_INTERN_MAX  1024


static void ngx_http_magic_token_intern_cleanup(void *data);


/* the worker's table, or NULL: the caller compiles as without one */
mt_rules_intern_t *
ngx_http_magic_token_intern(ngx_http_request_t *r)
{
    mt_rules_intern_t                 *in;
    ngx_pool_cleanup_t                *cln;
    ngx_http_magic_token_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_magic_token_module);

    if (mmcf->intern != NULL) {
        return mmcf->intern;
    }

    /* first use in this worker */

    in = mt_rules_intern_new(NGX_HTTP_MAGIC_TOKEN_INTERN_MAX);
    if (in == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "magic_token: cannot create the rules table");
        return NULL;
    }

    cln = ngx_pool_cleanup_add(ngx_cycle->pool, 0);
    if (cln == NULL) {
        mt_rules_intern_free(in);
        return NULL;
    }

    mmcf->intern = in;
    cln->handler = ngx_http_magic_token_intern_cleanup;
    cln->data = mmcf;

    return mmcf->intern;
}


static void
ngx_http_magic_token_intern_cleanup(void *data)
{
    ngx_http_magic_token_main_conf_t  *mmcf = data;

    mt_rules_intern_free(mmcf->intern);
    mmcf->intern = NULL;
}
