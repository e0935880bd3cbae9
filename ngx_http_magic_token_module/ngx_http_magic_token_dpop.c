/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Sender-constrained tokens, RFC 9449 (DPoP):
 *
 *     magic_token_dpop on | off [zone=name] [window=time];
 *
 * A token whose "cnf" holds a "jkt" (for a chain: its last element's)
 * is used only with a "DPoP" request header holding a proof by that key
 * for this method and URL (mt_dpop.c), whose "jti" was not seen within
 * the window: in the named magic_token_zone, shared by the workers, or
 * else in a small store of each worker's own.  "off" refuses bound
 * tokens.  Unbound tokens are not affected.
 */


#include "ngx_http_magic_token_module.h"


/* each worker's own replay store, when no zone is named */
#define NGX_HTTP_MAGIC_TOKEN_DPOP_LOCAL_SIZE  (256 * 1024)

#define NGX_HTTP_MAGIC_TOKEN_DPOP_ALGS                                        \
    "algs=\"ES256 ES384 ES512 EdDSA RS256 RS384 RS512 PS256 PS384 PS512\""


struct ngx_http_magic_token_dpop_conf_s {
    ngx_flag_t                     enable;
    time_t                         window;
    ngx_http_magic_token_zone_t   *zone;        /* NULL: per worker */
    ngx_str_t                      challenge_required;
    ngx_str_t                      challenge_invalid;
};


/* the replay store, in a zone's or a worker's own slab pool */
typedef struct {
    ngx_rbtree_t                   rbtree;
    ngx_rbtree_node_t              sentinel;
    ngx_queue_t                    queue;       /* oldest first */
} ngx_http_magic_token_dpop_sh_t;


typedef struct {
    ngx_rbtree_node_t              node;        /* key: replay's start */
    ngx_queue_t                    queue;
    time_t                         expires;
    u_char                         replay[32];
} ngx_http_magic_token_dpop_node_t;


/* this request's accepted proof: checked again, not counted again */
typedef struct {
    u_char                         replay[32];
} ngx_http_magic_token_dpop_seen_t;


static ngx_int_t ngx_http_magic_token_dpop_verify(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx,
    const char *jkt, mt_dpop_t *d);
static ngx_int_t ngx_http_magic_token_dpop_htu(ngx_http_request_t *r,
    ngx_str_t *htu);
static ngx_int_t ngx_http_magic_token_dpop_proof(ngx_http_request_t *r,
    ngx_str_t *proof);
static ngx_uint_t ngx_http_magic_token_dpop_bearer(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf);
static ngx_int_t ngx_http_magic_token_dpop_record(ngx_http_request_t *r,
    ngx_http_magic_token_dpop_conf_t *dcf, mt_dpop_t *d, time_t expires);
static ngx_int_t ngx_http_magic_token_dpop_insert(ngx_slab_pool_t *shpool,
    ngx_http_magic_token_dpop_sh_t *dsh, ngx_http_magic_token_zone_t *zone,
    u_char *replay, time_t expires);
static void *ngx_http_magic_token_dpop_alloc(ngx_slab_pool_t *shpool,
    ngx_http_magic_token_zone_t *zone);
static void ngx_http_magic_token_dpop_expire(ngx_slab_pool_t *shpool,
    ngx_http_magic_token_dpop_sh_t *dsh, time_t now, ngx_uint_t all);
static ngx_http_magic_token_dpop_sh_t *ngx_http_magic_token_dpop_local(
    ngx_slab_pool_t **shpool);
static void ngx_http_magic_token_dpop_seen_cleanup(void *data);
static void ngx_http_magic_token_dpop_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);


static ngx_slab_pool_t                 *ngx_http_magic_token_dpop_pool;
static ngx_http_magic_token_dpop_sh_t  *ngx_http_magic_token_dpop_store;
static ngx_uint_t                       ngx_http_magic_token_dpop_full;


static ngx_str_t  ngx_http_magic_token_dpop_header = ngx_string("DPoP");


/*
 * NGX_OK: the token is not bound, or the request holds a fresh proof by
 * its key; NGX_DECLINED: ctx->error says why; NGX_ERROR: internal.
 */
ngx_int_t
ngx_http_magic_token_dpop_check(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx)
{
    mt_err_t                           rc;
    mt_dpop_t                          d;
    ngx_int_t                          n;
    const char                        *jkt;
    const json_t                      *claims;
    ngx_http_magic_token_dpop_conf_t  *dcf;

    /*
     * A chain is bound by its last element.  Read directly: a hit on a
     * bare cache entry has no claims here, and a token with "cnf" is
     * never kept bare (ngx_http_magic_token_cache.c), so none is unbound.
     */
    claims = (ctx->chain && ctx->chain->n_links > 0)
             ? ctx->chain->links[ctx->chain->n_links - 1].jws.claims
             : ctx->token.jws.claims;

    rc = mt_cnf_jkt(claims, &jkt);

    if (rc != MT_OK) {
        ctx->error = rc;
        return NGX_DECLINED;
    }

    if (jkt == NULL) {
        return NGX_OK;
    }

    dcf = mlcf->dpop;

    /* not with Bearer (RFC 9449 section 7.2), nor where DPoP is off */
    if (!dcf->enable || ngx_http_magic_token_dpop_bearer(r, mlcf)) {
        ctx->error = MT_ERR_DPOP_REQUIRED;
        return NGX_DECLINED;
    }

    n = ngx_http_magic_token_dpop_verify(r, mlcf, ctx, jkt, &d);
    if (n != NGX_OK) {
        return n;
    }

    n = ngx_http_magic_token_dpop_record(r, dcf, &d,
                                         (time_t) d.iat + dcf->window
                                         + mlcf->leeway + 1);
    if (n == NGX_DECLINED) {
        ctx->error = MT_ERR_DPOP_REPLAY;
        ngx_log_error(mlcf->log_level, r->connection->log, 0,
                      "magic_token: DPoP proof replayed (token %s)",
                      ngx_http_magic_token_id(ctx));

    } else if (n == NGX_BUSY) {
        ctx->error = MT_ERR_INVALID_DPOP_PROOF;
        n = NGX_DECLINED;
    }

    return n;
}


static ngx_int_t
ngx_http_magic_token_dpop_verify(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx,
    const char *jkt, mt_dpop_t *d)
{
    mt_err_t                           rc;
    ngx_str_t                          htu, proof;
    mt_dpop_req_t                      req;
    ngx_http_magic_token_dpop_conf_t  *dcf;

    dcf = mlcf->dpop;

    if (ngx_http_magic_token_dpop_proof(r, &proof) != NGX_OK) {
        ctx->error = MT_ERR_INVALID_DPOP_PROOF;     /* several proofs */
        return NGX_DECLINED;
    }

    if (ngx_http_magic_token_dpop_htu(r, &htu) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&req, sizeof(mt_dpop_req_t));

    req.method = (char *) r->main->method_name.data;
    req.method_len = r->main->method_name.len;
    req.htu = (char *) htu.data;
    req.htu_len = htu.len;
    req.token = (char *) ctx->raw.data;
    req.token_len = ctx->raw.len;
    req.jkt = jkt;
    req.jkt_len = ngx_strlen(jkt);
    req.now = (int64_t) ngx_time();
    req.window = (int64_t) dcf->window;
    req.leeway = (int64_t) mlcf->leeway;

    rc = mt_dpop_verify(d, (char *) proof.data, proof.len, &req);

    if (rc != MT_OK) {
        ctx->error = rc;
        return rc == MT_ERR_NOMEM ? NGX_ERROR : NGX_DECLINED;
    }

    return NGX_OK;
}


/* the URL the client sent: scheme, Host as sent, path without query */
static ngx_int_t
ngx_http_magic_token_dpop_htu(ngx_http_request_t *r, ngx_str_t *htu)
{
    u_char              *p, *q, *end;
    ngx_str_t            scheme, host;
    ngx_http_request_t  *m;

    m = r->main;

    ngx_str_set(&scheme, "http://");

#if (NGX_HTTP_SSL)
    if (m->connection->ssl) {
        ngx_str_set(&scheme, "https://");
    }
#endif

    if (m->headers_in.host) {
        host = m->headers_in.host->value;

    } else {
        ngx_str_null(&host);    /* no host: no htu matches */
    }

    end = m->unparsed_uri.data + m->unparsed_uri.len;
    q = ngx_strlchr(m->unparsed_uri.data, end, '?');

    if (q == NULL) {
        q = end;
    }

    htu->len = scheme.len + host.len + (q - m->unparsed_uri.data);

    htu->data = ngx_pnalloc(r->pool, htu->len);
    if (htu->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(htu->data, scheme.data, scheme.len);
    p = ngx_cpymem(p, host.data, host.len);
    ngx_memcpy(p, m->unparsed_uri.data, q - m->unparsed_uri.data);

    return NGX_OK;
}


/* the one DPoP header (none: an empty proof); NGX_DECLINED: several */
static ngx_int_t
ngx_http_magic_token_dpop_proof(ngx_http_request_t *r, ngx_str_t *proof)
{
    ngx_uint_t        i, n;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    ngx_str_null(proof);
    n = 0;

    part = &r->main->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == ngx_http_magic_token_dpop_header.len
            && ngx_strncasecmp(h[i].key.data,
                               ngx_http_magic_token_dpop_header.data,
                               h[i].key.len) == 0)
        {
            *proof = h[i].value;
            n++;
        }
    }

    return n > 1 ? NGX_DECLINED : NGX_OK;
}


/* was the token sent with a scheme other than DPoP ("Bearer", "token")? */
static ngx_uint_t
ngx_http_magic_token_dpop_bearer(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf)
{
    ngx_str_t  v;

    if (mlcf->source == NGX_HTTP_MAGIC_TOKEN_VARIABLE) {
        if (ngx_http_complex_value(r, mlcf->token, &v) != NGX_OK) {
            return 1;
        }

    } else if (r->headers_in.authorization) {
        v = r->headers_in.authorization->value;

    } else {
        return 1;
    }

    if (v.len > 5 && ngx_strncasecmp(v.data, (u_char *) "DPoP ", 5) == 0) {
        return 0;
    }

    /* a bare token, from a variable */
    return ngx_strlchr(v.data, v.data + v.len, ' ') != NULL
           || ngx_strlchr(v.data, v.data + v.len, '\t') != NULL;
}


/*
 * NGX_OK: first seen (or already accepted for this request), now
 * recorded; NGX_DECLINED: a replay; NGX_BUSY: the store is full;
 * NGX_ERROR: internal.
 */
static ngx_int_t
ngx_http_magic_token_dpop_record(ngx_http_request_t *r,
    ngx_http_magic_token_dpop_conf_t *dcf, mt_dpop_t *d, time_t expires)
{
    ngx_int_t                          rc;
    ngx_slab_pool_t                   *shpool;
    ngx_pool_cleanup_t                *cln;
    ngx_http_magic_token_dpop_sh_t    *dsh;
    ngx_http_magic_token_dpop_seen_t  *seen;

    for (cln = r->main->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_magic_token_dpop_seen_cleanup) {
            seen = cln->data;

            if (ngx_memcmp(seen->replay, d->replay, 32) == 0) {
                return NGX_OK;
            }
        }
    }

    if (dcf->zone) {
        shpool = dcf->zone->shpool;
        dsh = dcf->zone->sh->dpop;

    } else {
        dsh = ngx_http_magic_token_dpop_local(&shpool);
    }

    if (dsh == NULL) {
        return NGX_ERROR;
    }

    if (dcf->zone) {
        ngx_shmtx_lock(&shpool->mutex);
    }

    rc = ngx_http_magic_token_dpop_insert(shpool, dsh, dcf->zone, d->replay,
                                          expires);

    if (dcf->zone) {
        ngx_shmtx_unlock(&shpool->mutex);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    cln = ngx_pool_cleanup_add(r->main->pool,
                               sizeof(ngx_http_magic_token_dpop_seen_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    seen = cln->data;
    ngx_memcpy(seen->replay, d->replay, 32);
    cln->handler = ngx_http_magic_token_dpop_seen_cleanup;

    return NGX_OK;
}


/* the mutex held (a zone's store) */
static ngx_int_t
ngx_http_magic_token_dpop_insert(ngx_slab_pool_t *shpool,
    ngx_http_magic_token_dpop_sh_t *dsh, ngx_http_magic_token_zone_t *zone,
    u_char *replay, time_t expires)
{
    time_t                             now;
    ngx_rbtree_key_t                   key;
    ngx_rbtree_node_t                 *node, *sentinel;
    ngx_http_magic_token_dpop_node_t  *dn;

    now = ngx_time();

    /* expired entries go first; a proof they held is stale by now */
    ngx_http_magic_token_dpop_expire(shpool, dsh, now, 0);

    ngx_memcpy(&key, replay, sizeof(ngx_rbtree_key_t));

    node = dsh->rbtree.root;
    sentinel = dsh->rbtree.sentinel;

    while (node != sentinel) {
        dn = (ngx_http_magic_token_dpop_node_t *) node;

        if (key == node->key && ngx_memcmp(dn->replay, replay, 32) == 0) {
            return NGX_DECLINED;
        }

        node = (key < node->key) ? node->left : node->right;
    }

    /* tried silently first: entries of a shorter window may wait behind
     * a longer one, and are freed before the store is called full */
    dn = ngx_slab_alloc_locked(shpool,
                               sizeof(ngx_http_magic_token_dpop_node_t));

    if (dn == NULL) {
        ngx_http_magic_token_dpop_expire(shpool, dsh, now, 1);
        dn = ngx_http_magic_token_dpop_alloc(shpool, zone);
    }

    if (dn == NULL) {
        return NGX_BUSY;        /* fail closed: a jti not recorded */
    }

    dn->node.key = key;
    dn->expires = expires;
    ngx_memcpy(dn->replay, replay, 32);

    ngx_rbtree_insert(&dsh->rbtree, &dn->node);
    ngx_queue_insert_tail(&dsh->queue, &dn->queue);

    return NGX_OK;
}


/* an entry; when there is no room, says so once (the zone: in its own
 * words and counter) */
static void *
ngx_http_magic_token_dpop_alloc(ngx_slab_pool_t *shpool,
    ngx_http_magic_token_zone_t *zone)
{
    void  *p;

    if (zone) {
        return ngx_http_magic_token_zone_alloc(zone,
                                 sizeof(ngx_http_magic_token_dpop_node_t));
    }

    p = ngx_slab_alloc_locked(shpool,
                              sizeof(ngx_http_magic_token_dpop_node_t));

    if (p == NULL && !ngx_http_magic_token_dpop_full) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "magic_token_dpop: the worker's replay store is "
                      "full, proofs are refused");
    }

    ngx_http_magic_token_dpop_full = (p == NULL);

    return p;
}


/*
 * Frees expired entries: from the oldest until one is not expired, or
 * (all) every one, when the store is full.  The mutex held (a zone).
 */
static void
ngx_http_magic_token_dpop_expire(ngx_slab_pool_t *shpool,
    ngx_http_magic_token_dpop_sh_t *dsh, time_t now, ngx_uint_t all)
{
    ngx_queue_t                       *q, *next;
    ngx_http_magic_token_dpop_node_t  *dn;

    for (q = ngx_queue_head(&dsh->queue);
         q != ngx_queue_sentinel(&dsh->queue);
         q = next)
    {
        next = ngx_queue_next(q);
        dn = ngx_queue_data(q, ngx_http_magic_token_dpop_node_t, queue);

        if (dn->expires > now) {
            if (!all) {
                return;
            }

            continue;
        }

        ngx_queue_remove(q);
        ngx_rbtree_delete(&dsh->rbtree, &dn->node);
        ngx_slab_free_locked(shpool, dn);
    }
}


/* the worker's own store, made on first use */
static ngx_http_magic_token_dpop_sh_t *
ngx_http_magic_token_dpop_local(ngx_slab_pool_t **shpool)
{
    ngx_slab_pool_t                 *sp;
    ngx_http_magic_token_dpop_sh_t  *dsh;

    if (ngx_http_magic_token_dpop_store) {
        *shpool = ngx_http_magic_token_dpop_pool;
        return ngx_http_magic_token_dpop_store;
    }

    sp = ngx_memalign(ngx_pagesize, NGX_HTTP_MAGIC_TOKEN_DPOP_LOCAL_SIZE,
                      ngx_cycle->log);
    if (sp == NULL) {
        return NULL;
    }

    ngx_memzero(sp, sizeof(ngx_slab_pool_t));

    sp->end = (u_char *) sp + NGX_HTTP_MAGIC_TOKEN_DPOP_LOCAL_SIZE;
    sp->min_shift = 3;
    sp->addr = sp;

    ngx_slab_init(sp);
    sp->log_nomem = 0;

    dsh = ngx_slab_calloc_locked(sp, sizeof(ngx_http_magic_token_dpop_sh_t));
    if (dsh == NULL) {
        ngx_free(sp);
        return NULL;
    }

    ngx_rbtree_init(&dsh->rbtree, &dsh->sentinel,
                    ngx_http_magic_token_dpop_insert_value);
    ngx_queue_init(&dsh->queue);

    ngx_http_magic_token_dpop_pool = sp;
    ngx_http_magic_token_dpop_store = dsh;

    *shpool = sp;

    return dsh;
}


ngx_int_t
ngx_http_magic_token_dpop_init_zone(ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_zone_t *old, ngx_log_t *log)
{
    ngx_http_magic_token_dpop_sh_t  *dsh;

    if (zone->sh->dpop != NULL) {
        /* a reload that kept the memory: the seen proofs stay */
        return NGX_OK;
    }

    dsh = ngx_http_magic_token_zone_part(zone,
                                  sizeof(ngx_http_magic_token_dpop_sh_t),
                                  "DPoP proofs", log);
    if (dsh == NULL) {
        return NGX_ERROR;
    }

    ngx_rbtree_init(&dsh->rbtree, &dsh->sentinel,
                    ngx_http_magic_token_dpop_insert_value);
    ngx_queue_init(&dsh->queue);
    zone->sh->dpop = dsh;

    return NGX_OK;
}


static void
ngx_http_magic_token_dpop_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t  **p;

    for ( ;; ) {
        p = (node->key < temp->key) ? &temp->left : &temp->right;

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static void
ngx_http_magic_token_dpop_seen_cleanup(void *data)
{
    /* nothing to free: the handler marks the entry */
}


/* the challenge of a refusal for a DPoP reason (RFC 9449 section 7.1) */
ngx_str_t *
ngx_http_magic_token_dpop_challenge(ngx_http_magic_token_loc_conf_t *mlcf,
    mt_err_t err)
{
    return err == MT_ERR_DPOP_REQUIRED ? &mlcf->dpop->challenge_required
                                       : &mlcf->dpop->challenge_invalid;
}


/* magic_token_dpop on | off [zone=name] [window=time] */
char *
ngx_http_magic_token_dpop(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_magic_token_loc_conf_t *mlcf = conf;

    ngx_str_t                         *value, s;
    ngx_uint_t                         i;
    ngx_http_magic_token_dpop_conf_t  *dcf;

    if (mlcf->dpop != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    dcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_magic_token_dpop_conf_t));
    if (dcf == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "on") == 0) {
        dcf->enable = 1;

    } else if (ngx_strcmp(value[1].data, "off") != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"magic_token_dpop\", "
                           "it must be \"on\" or \"off\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    dcf->window = 60;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0 && value[i].len > 5) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            dcf->zone = ngx_http_magic_token_zone_ref(cf, &s);
            if (dcf->zone == NULL) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "window=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            dcf->window = ngx_parse_time(&s, 1);

            if (dcf->window == (time_t) NGX_ERROR || dcf->window < 1
                || dcf->window > 3600)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\" in \"magic_token_dpop\", "
                                   "the window must be between 1s and 1h",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"magic_token_dpop\"",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    if (!dcf->enable && cf->args->nelts > 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"magic_token_dpop off\" takes no parameters");
        return NGX_CONF_ERROR;
    }

    mlcf->dpop = dcf;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_magic_token_dpop_challenges(ngx_conf_t *cf,
    ngx_http_magic_token_dpop_conf_t *dcf, ngx_str_t *realm)
{
    size_t  len;

    len = sizeof("DPoP realm=\"\", error=\"invalid_dpop_proof\", ") - 1
          + realm->len + sizeof(NGX_HTTP_MAGIC_TOKEN_DPOP_ALGS) - 1;

    dcf->challenge_invalid.data = ngx_pnalloc(cf->pool, len);
    dcf->challenge_required.data = ngx_pnalloc(cf->pool, len);

    if (dcf->challenge_invalid.data == NULL
        || dcf->challenge_required.data == NULL)
    {
        return NGX_ERROR;
    }

    dcf->challenge_invalid.len =
        ngx_sprintf(dcf->challenge_invalid.data,
                    "DPoP realm=\"%V\", error=\"invalid_dpop_proof\", %s",
                    realm, NGX_HTTP_MAGIC_TOKEN_DPOP_ALGS)
        - dcf->challenge_invalid.data;

    dcf->challenge_required.len =
        ngx_sprintf(dcf->challenge_required.data, "DPoP realm=\"%V\", %s",
                    realm, NGX_HTTP_MAGIC_TOKEN_DPOP_ALGS)
        - dcf->challenge_required.data;

    return NGX_OK;
}


char *
ngx_http_magic_token_dpop_merge(ngx_conf_t *cf,
    ngx_http_magic_token_loc_conf_t *prev,
    ngx_http_magic_token_loc_conf_t *conf)
{
    ngx_http_magic_token_dpop_conf_t  *dcf;

    ngx_conf_merge_ptr_value(conf->dpop, prev->dpop, NULL);

    if (conf->dpop == NULL) {
        dcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_magic_token_dpop_conf_t));
        if (dcf == NULL) {
            return NGX_CONF_ERROR;
        }

        dcf->enable = 1;
        dcf->window = 60;
        conf->dpop = dcf;
    }

    /* the realm is the location's own: challenges made here */
    dcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_magic_token_dpop_conf_t));
    if (dcf == NULL) {
        return NGX_CONF_ERROR;
    }

    *dcf = *conf->dpop;
    conf->dpop = dcf;

    if (ngx_http_magic_token_dpop_challenges(cf, dcf, &conf->realm)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * The issuer (..._issuer.c): a DPoP proof on the minting request binds
 * the token to the proof's key, as a "jkt" field does.  NGX_OK: req has
 * the proof's jkt, or there was no proof; NGX_DECLINED: *msg says why
 * (a 400); NGX_ERROR: internal.
 */
ngx_int_t
ngx_http_magic_token_dpop_issuer(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, json_t *req, char **msg)
{
    mt_err_t        rc;
    json_t         *v;
    ngx_int_t       n;
    ngx_str_t       htu, proof;
    mt_dpop_t       d;
    mt_dpop_req_t   dr;

    if (ngx_http_magic_token_dpop_proof(r, &proof) != NGX_OK) {
        *msg = "more than one DPoP header";
        return NGX_DECLINED;
    }

    if (proof.len == 0) {
        return NGX_OK;
    }

    if (!mlcf->dpop->enable) {
        *msg = "DPoP is off here (magic_token_dpop)";
        return NGX_DECLINED;
    }

    if (ngx_http_magic_token_dpop_htu(r, &htu) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&dr, sizeof(mt_dpop_req_t));

    dr.method = (char *) r->method_name.data;
    dr.method_len = r->method_name.len;
    dr.htu = (char *) htu.data;
    dr.htu_len = htu.len;
    dr.now = (int64_t) ngx_time();
    dr.window = (int64_t) mlcf->dpop->window;
    dr.leeway = (int64_t) mlcf->leeway;

    rc = mt_dpop_verify(&d, (char *) proof.data, proof.len, &dr);

    if (rc == MT_ERR_NOMEM) {
        return NGX_ERROR;
    }

    if (rc != MT_OK) {
        *msg = "invalid_dpop_proof: the DPoP proof is not valid for this "
               "request";
        return NGX_DECLINED;
    }

    n = ngx_http_magic_token_dpop_record(r, mlcf->dpop, &d,
                                         (time_t) d.iat + mlcf->dpop->window
                                         + mlcf->leeway + 1);
    if (n == NGX_DECLINED || n == NGX_BUSY) {
        *msg = "invalid_dpop_proof: the DPoP proof was used before";
        return NGX_DECLINED;
    }

    if (n != NGX_OK) {
        return NGX_ERROR;
    }

    v = json_object_get(req, "jkt");

    if (v != NULL
        && (!json_is_string(v) || json_string_length(v) != MT_DPOP_JKT_LEN
            || ngx_memcmp(json_string_value(v), d.jkt, MT_DPOP_JKT_LEN) != 0))
    {
        *msg = "jkt is not the thumbprint of the DPoP proof's key";
        return NGX_DECLINED;
    }

    if (json_object_set_new(req, "jkt", json_string(d.jkt)) != 0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}
