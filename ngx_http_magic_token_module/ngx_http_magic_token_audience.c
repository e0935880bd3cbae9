/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * "nginx -t" warns when a token minted for one API would be accepted by
 * a location that forwards to another: two locations with magic_token on
 * and a content handler (proxy_pass, ...) that trust a common key, where
 * one accepts any audience or both accept a common one, and whose
 * upstreams differ or cannot be told apart.
 *
 * The upstream of a location is proxy_pass's: the proxy module's
 * location configuration begins with its ngx_http_upstream_conf_t, whose
 * first member is the upstream{} (explicit, or made by proxy_pass for a
 * host and port).  That layout is not an API but has not changed since
 * the upstream was introduced; the proxy module is found by name, so a
 * binary without it only loses the comparison.  proxy_pass with
 * variables, and other content handlers, count as a different upstream.
 */

#include "ngx_http_magic_token_module.h"


#define NGX_HTTP_MAGIC_TOKEN_AUD_WARNINGS  8


static ngx_int_t ngx_http_magic_token_audience_overlap(
    ngx_http_magic_token_loc_conf_t *a, ngx_http_magic_token_loc_conf_t *b);
static void *ngx_http_magic_token_audience_upstream(ngx_conf_t *cf,
    ngx_http_core_loc_conf_t *clcf);


/* from the merge: a location that checks tokens and forwards */
ngx_int_t
ngx_http_magic_token_audience_note(ngx_conf_t *cf,
    ngx_http_magic_token_loc_conf_t *conf)
{
    ngx_http_core_loc_conf_t          **p;
    ngx_http_core_loc_conf_t           *clcf;
    ngx_http_magic_token_main_conf_t   *mmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (conf->source == NGX_HTTP_MAGIC_TOKEN_OFF || conf->keys == NULL
        || clcf->handler == NULL || clcf->noname || clcf->name.len == 0)
    {
        return NGX_OK;
    }

    mmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_magic_token_module);

    if (mmcf->proxied == NULL) {
        mmcf->proxied = ngx_array_create(cf->pool, 4,
                                         sizeof(ngx_http_core_loc_conf_t *));
        if (mmcf->proxied == NULL) {
            return NGX_ERROR;
        }
    }

    p = ngx_array_push(mmcf->proxied);
    if (p == NULL) {
        return NGX_ERROR;
    }

    *p = clcf;

    return NGX_OK;
}


/* from postconfiguration: warnings only */
void
ngx_http_magic_token_audience_check(ngx_conf_t *cf)
{
    void                               *ua, *ub;
    ngx_uint_t                          i, j, n;
    ngx_http_core_loc_conf_t          **locs;
    ngx_http_magic_token_loc_conf_t    *a, *b;
    ngx_http_magic_token_main_conf_t   *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_magic_token_module);

    if (mmcf->proxied == NULL) {
        return;
    }

    locs = mmcf->proxied->elts;
    n = 0;

    for (i = 0; i < mmcf->proxied->nelts; i++) {
        a = locs[i]->loc_conf[ngx_http_magic_token_module.ctx_index];
        ua = ngx_http_magic_token_audience_upstream(cf, locs[i]);

        for (j = i + 1; j < mmcf->proxied->nelts; j++) {
            b = locs[j]->loc_conf[ngx_http_magic_token_module.ctx_index];
            ub = ngx_http_magic_token_audience_upstream(cf, locs[j]);

            if ((ua != NULL && ua == ub)
                || !ngx_http_magic_token_audience_overlap(a, b)
                || (a->keys != b->keys
                    && !mt_keyset_shares_key(a->keys, b->keys)))
            {
                continue;
            }

            if (n++ == NGX_HTTP_MAGIC_TOKEN_AUD_WARNINGS) {
                ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                              "magic_token: more locations share keys "
                              "without an audience of their own");
                return;
            }

            ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                          "magic_token: locations \"%V\" and \"%V\" trust "
                          "the same key and forward to different "
                          "upstreams, but %s: a token minted for one is "
                          "accepted by the other; give each its own "
                          "\"magic_token_audience\" (see docs/security.md)",
                          &locs[i]->name, &locs[j]->name,
                          (a->audiences && b->audiences)
                          ? "accept a common audience"
                          : "accept tokens of any audience");
        }
    }
}


/* may one token pass the audience checks of both? */
static ngx_int_t
ngx_http_magic_token_audience_overlap(ngx_http_magic_token_loc_conf_t *a,
    ngx_http_magic_token_loc_conf_t *b)
{
    ngx_str_t   *x, *y;
    ngx_uint_t   i, j;

    if (a->audiences == NULL && b->audiences == NULL) {
        return 1;
    }

    /* "none" is an empty list: no token at all */

    if (a->audiences == NULL) {
        return b->audiences->nelts > 0;
    }

    if (b->audiences == NULL) {
        return a->audiences->nelts > 0;
    }

    x = a->audiences->elts;
    y = b->audiences->elts;

    for (i = 0; i < a->audiences->nelts; i++) {
        for (j = 0; j < b->audiences->nelts; j++) {
            if (x[i].len == y[j].len
                && ngx_strncmp(x[i].data, y[j].data, x[i].len) == 0)
            {
                return 1;
            }
        }
    }

    return 0;
}


static void *
ngx_http_magic_token_audience_upstream(ngx_conf_t *cf,
    ngx_http_core_loc_conf_t *clcf)
{
    ngx_uint_t                 i;
    ngx_module_t             **modules;
    ngx_http_upstream_conf_t  *ucf;

    modules = cf->cycle->modules;

    for (i = 0; modules[i]; i++) {
        if (modules[i]->type == NGX_HTTP_MODULE
            && ngx_strcmp(modules[i]->name, "ngx_http_proxy_module") == 0)
        {
            ucf = clcf->loc_conf[modules[i]->ctx_index];
            return ucf ? ucf->upstream : NULL;
        }
    }

    return NULL;
}
