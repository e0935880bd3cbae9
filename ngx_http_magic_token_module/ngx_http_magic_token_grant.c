/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * magic_token_grant: stateful scopes.  A response to a trigger request
 * made with a token that names the grant's scope allows that token one
 * more exact request ("METHOD /path"), for a while:
 *
 *     magic_token_scope dns01 "POST /v2/domains/example\.com/records";
 *     magic_token_grant dns01 "POST /v2/domains/([^/]+)/records"
 *                       "DELETE /v2/domains/$1/records/$json"
 *                       json=domain_record.id zone=state ttl=1h max=20;
 *
 * The request side (ngx_http_magic_token_grant_check, called from the
 * access check): a request its token's scopes refuse is allowed when
 * the token holds a grant for exactly its method and path; a request
 * that passed and matches a trigger is remembered in the context.
 *
 * The response side (a header and a body filter): for such a request
 * only, and only when its status is in the grant's class, the body is
 * copied (at most NGX_HTTP_MAGIC_TOKEN_GRANT_BODY bytes) as it goes by,
 * and once it is complete the grant is expanded (mt_grant.c) and stored
 * in the zone.  The response itself is never changed.
 *
 * The zone keeps, per token (the SHA-256 of its signed part, as the
 * token id), a node in a red-black tree with the token's grants; each
 * grant expires after ttl=, never after the token's exp.  Nodes whose
 * grants all expired are swept from the tail of a queue on every store.
 */


#include "ngx_http_magic_token_module.h"

#include <openssl/sha.h>


/* the most of a response body read for $json */
#define NGX_HTTP_MAGIC_TOKEN_GRANT_BODY    65536
#define NGX_HTTP_MAGIC_TOKEN_GRANT_MAX     1024   /* max= per token */
#define NGX_HTTP_MAGIC_TOKEN_GRANT_SWEEP   4      /* nodes per store */


typedef struct {
    ngx_str_t                      scope;      /* a magic_token_scope */
    mt_grant_rule_t               *rule;
    ngx_http_magic_token_zone_t   *zone;
    ngx_uint_t                     status_min;
    ngx_uint_t                     status_max;
    time_t                         ttl;
    ngx_uint_t                     max;
    u_char                        *file;
    ngx_uint_t                     line;
} ngx_http_magic_token_grant_conf_t;


/* in the zone */
typedef struct {
    ngx_rbtree_t                   rbtree;
    ngx_rbtree_node_t              sentinel;
    ngx_queue_t                    queue;      /* nodes, newest first */
} ngx_http_magic_token_grant_sh_t;


typedef struct {
    ngx_rbtree_node_t              node;       /* key: hash bytes */
    ngx_queue_t                    queue;
    ngx_queue_t                    grants;
    time_t                         expire;     /* its last grant's */
    ngx_uint_t                     n;
    u_char                         token[SHA256_DIGEST_LENGTH];
} ngx_http_magic_token_grant_node_t;


typedef struct {
    ngx_queue_t                    queue;
    time_t                         expire;
    size_t                         len;
    u_char                         data[1];    /* "METHOD /path" */
} ngx_http_magic_token_grant_entry_t;


#define ngx_http_magic_token_grant_sh(zone)                                   \
    ((ngx_http_magic_token_grant_sh_t *) (zone)->sh->grants)


/* per request: the triggers a request that passed has matched */
typedef struct {
    ngx_http_magic_token_grant_conf_t  *conf;
    mt_grant_match_t                    match;
} ngx_http_magic_token_grant_hit_t;


typedef struct {
    ngx_array_t                    hits;       /* of ..._grant_hit_t */
    ngx_uint_t                     uri_changes;
    u_char                        *body;
    size_t                         len;
    size_t                         size;
    unsigned                       reading:1;
    unsigned                       done:1;
} ngx_http_magic_token_grant_ctx_t;


static mt_err_t ngx_http_magic_token_grant_lookup(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_str_t *path, const char **matched,
    size_t *matched_len);
static ngx_uint_t ngx_http_magic_token_grant_holds(
    ngx_http_magic_token_grant_node_t *gn, ngx_str_t *method, ngx_str_t *path);
static ngx_int_t ngx_http_magic_token_grant_triggers(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_str_t *path);
static ngx_uint_t ngx_http_magic_token_grant_named(
    ngx_http_magic_token_ctx_t *ctx, ngx_str_t *scope);
static void ngx_http_magic_token_grant_hash(ngx_http_magic_token_ctx_t *ctx,
    u_char *hash);
static ngx_http_magic_token_grant_node_t *ngx_http_magic_token_grant_find(
    ngx_http_magic_token_grant_sh_t *gsh, u_char *hash);
static void ngx_http_magic_token_grant_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static void ngx_http_magic_token_grant_expire(
    ngx_http_magic_token_zone_t *zone, ngx_http_magic_token_grant_node_t *gn,
    time_t now);
static void ngx_http_magic_token_grant_sweep(
    ngx_http_magic_token_zone_t *zone, time_t now);
static void ngx_http_magic_token_grant_free_node(
    ngx_http_magic_token_zone_t *zone, ngx_http_magic_token_grant_node_t *gn);
static void ngx_http_magic_token_grant_record(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_http_magic_token_grant_ctx_t *gctx);
static ngx_int_t ngx_http_magic_token_grant_store(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_http_magic_token_grant_conf_t *gcf,
    u_char *grant, size_t len);
static ngx_int_t ngx_http_magic_token_grant_add(
    ngx_http_magic_token_zone_t *zone, ngx_http_magic_token_grant_node_t *gn,
    u_char *grant, size_t len, time_t expire);
static ngx_int_t ngx_http_magic_token_grant_header_filter(
    ngx_http_request_t *r);
static ngx_uint_t ngx_http_magic_token_grant_readable(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx);
static ngx_int_t ngx_http_magic_token_grant_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_magic_token_grant_copy(ngx_http_request_t *r,
    ngx_http_magic_token_grant_ctx_t *gctx, ngx_chain_t *in);
static char *ngx_http_magic_token_grant_param(ngx_conf_t *cf,
    ngx_http_magic_token_grant_conf_t *gcf, ngx_str_t *value,
    ngx_str_t *json);
static void ngx_http_magic_token_grant_free_rule(void *data);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/*
 * From ngx_http_magic_token_check(), with what the token's scopes said
 * (rc): a refused request may be allowed by a grant; a request that
 * passed may be a trigger.  Returns the new verdict.
 */
mt_err_t
ngx_http_magic_token_grant_check(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_str_t *path, mt_err_t rc,
    const char **matched, size_t *matched_len)
{
    ngx_http_magic_token_main_conf_t  *mmcf;

    ctx->grant = NULL;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_magic_token_module);

    if (mmcf->grants == NULL || ctx->token.scopes == NULL) {
        return rc;
    }

    if (rc == MT_ERR_SCOPE_DENIED) {
        rc = ngx_http_magic_token_grant_lookup(r, ctx, path, matched,
                                               matched_len);
        if (rc != MT_OK) {
            return rc;
        }
    }

    if (rc == MT_OK
        && ngx_http_magic_token_grant_triggers(r, ctx, path) != NGX_OK)
    {
        return MT_ERR_NOMEM;
    }

    return rc;
}


/* does this token hold a grant for exactly this method and path? */
static mt_err_t
ngx_http_magic_token_grant_lookup(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_str_t *path, const char **matched,
    size_t *matched_len)
{
    u_char                              hash[SHA256_DIGEST_LENGTH], *p;
    size_t                              len;
    ngx_uint_t                          i, found;
    ngx_http_magic_token_zone_t        *zone;
    ngx_http_magic_token_grant_conf_t  *gcf;
    ngx_http_magic_token_grant_node_t  *gn;
    ngx_http_magic_token_main_conf_t   *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_magic_token_module);

    gcf = mmcf->grants->elts;
    found = 0;
    zone = NULL;

    ngx_http_magic_token_grant_hash(ctx, hash);

    for (i = 0; !found && i < mmcf->grants->nelts; i++) {

        if (!ngx_http_magic_token_grant_named(ctx, &gcf[i].scope)) {
            continue;
        }

        zone = gcf[i].zone;

        ngx_shmtx_lock(&zone->shpool->mutex);

        gn = ngx_http_magic_token_grant_find(zone->sh->grants, hash);

        if (gn != NULL) {
            ngx_http_magic_token_grant_expire(zone, gn, ngx_time());

            found = ngx_http_magic_token_grant_holds(gn, &r->method_name,
                                                     path);

            if (gn->n == 0) {
                ngx_http_magic_token_grant_free_node(zone, gn);
            }
        }

        ngx_shmtx_unlock(&zone->shpool->mutex);
    }

    if (!found) {
        return MT_ERR_SCOPE_DENIED;
    }

    (void) ngx_atomic_fetch_add(
                    &zone->sh->stats[NGX_HTTP_MAGIC_TOKEN_STAT_GRANTS_USED], 1);

    /* $magic_token_scope: the grant */
    len = r->method_name.len + 1 + path->len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return MT_ERR_NOMEM;
    }

    ngx_memcpy(p, r->method_name.data, r->method_name.len);
    p[r->method_name.len] = ' ';
    ngx_memcpy(p + r->method_name.len + 1, path->data, path->len);

    *matched = (const char *) p;
    *matched_len = len;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "magic_token: allowed by a grant of token %s",
                   ngx_http_magic_token_id(ctx));

    return MT_OK;
}


/* an exact "METHOD path" among the node's grants; the mutex is held */
static ngx_uint_t
ngx_http_magic_token_grant_holds(ngx_http_magic_token_grant_node_t *gn,
    ngx_str_t *method, ngx_str_t *path)
{
    ngx_queue_t                         *q;
    ngx_http_magic_token_grant_entry_t  *ge;

    for (q = ngx_queue_head(&gn->grants);
         q != ngx_queue_sentinel(&gn->grants);
         q = ngx_queue_next(q))
    {
        ge = ngx_queue_data(q, ngx_http_magic_token_grant_entry_t, queue);

        if (ge->len == method->len + 1 + path->len
            && ngx_memcmp(ge->data, method->data, method->len) == 0
            && ge->data[method->len] == ' '
            && ngx_memcmp(ge->data + method->len + 1, path->data, path->len)
               == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* remember the grant rules this request that passed triggers */
static ngx_int_t
ngx_http_magic_token_grant_triggers(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_str_t *path)
{
    mt_err_t                            rc;
    ngx_uint_t                          i;
    mt_grant_match_t                    match;
    ngx_http_magic_token_grant_hit_t   *hit;
    ngx_http_magic_token_grant_ctx_t   *gctx;
    ngx_http_magic_token_grant_conf_t  *gcf;
    ngx_http_magic_token_main_conf_t   *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_magic_token_module);

    gcf = mmcf->grants->elts;
    gctx = NULL;

    for (i = 0; i < mmcf->grants->nelts; i++) {

        if (!ngx_http_magic_token_grant_named(ctx, &gcf[i].scope)) {
            continue;
        }

        rc = mt_grant_trigger(gcf[i].rule, (char *) r->method_name.data,
                              r->method_name.len, (char *) path->data,
                              path->len, &match);
        if (rc == MT_ERR_NOMEM) {
            return NGX_ERROR;
        }

        if (rc != MT_OK) {
            continue;
        }

        if (gctx == NULL) {
            gctx = ngx_pcalloc(r->pool,
                               sizeof(ngx_http_magic_token_grant_ctx_t));
            if (gctx == NULL) {
                return NGX_ERROR;
            }

            if (ngx_array_init(&gctx->hits, r->pool, 1,
                               sizeof(ngx_http_magic_token_grant_hit_t))
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            /* an internal redirect after the check voids the trigger */
            gctx->uri_changes = r->uri_changes;
        }

        hit = ngx_array_push(&gctx->hits);
        if (hit == NULL) {
            return NGX_ERROR;
        }

        hit->conf = &gcf[i];
        hit->match = match;
    }

    ctx->grant = gctx;

    return NGX_OK;
}


/* the token names this scope in its "scopes" claim */
static ngx_uint_t
ngx_http_magic_token_grant_named(ngx_http_magic_token_ctx_t *ctx,
    ngx_str_t *scope)
{
    size_t   i;
    json_t  *v;

    json_array_foreach(ctx->token.scopes, i, v) {
        if (json_string_length(v) == scope->len
            && ngx_memcmp(json_string_value(v), scope->data, scope->len)
               == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* SHA-256 of the signed part, the whole of what the token id is from */
static void
ngx_http_magic_token_grant_hash(ngx_http_magic_token_ctx_t *ctx, u_char *hash)
{
    u_char  *p, *start;

    start = ctx->raw.data;

    for (p = start + ctx->raw.len; p > start && p[-1] != '.'; p--) {
        /* void */
    }

    SHA256(start, p > start ? (size_t) (p - 1 - start) : ctx->raw.len, hash);
}


static ngx_http_magic_token_grant_node_t *
ngx_http_magic_token_grant_find(ngx_http_magic_token_grant_sh_t *gsh,
    u_char *hash)
{
    ngx_int_t                           rc;
    ngx_rbtree_key_t                    key;
    ngx_rbtree_node_t                  *node, *sentinel;
    ngx_http_magic_token_grant_node_t  *gn;

    ngx_memcpy(&key, hash, sizeof(ngx_rbtree_key_t));

    node = gsh->rbtree.root;
    sentinel = gsh->rbtree.sentinel;

    while (node != sentinel) {

        if (key < node->key) {
            node = node->left;
            continue;
        }

        if (key > node->key) {
            node = node->right;
            continue;
        }

        gn = (ngx_http_magic_token_grant_node_t *) node;

        /* a hash of a token, no secret: ordinary comparison */
        rc = ngx_memcmp(hash, gn->token, SHA256_DIGEST_LENGTH);

        if (rc == 0) {
            return gn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_http_magic_token_grant_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t                  **p;
    ngx_http_magic_token_grant_node_t   *gn, *gnt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            gn = (ngx_http_magic_token_grant_node_t *) node;
            gnt = (ngx_http_magic_token_grant_node_t *) temp;

            p = (ngx_memcmp(gn->token, gnt->token, SHA256_DIGEST_LENGTH) < 0)
                ? &temp->left : &temp->right;
        }

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


/* frees the node's expired grants; the mutex is held */
static void
ngx_http_magic_token_grant_expire(ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_grant_node_t *gn, time_t now)
{
    ngx_queue_t                         *q, *next;
    ngx_http_magic_token_grant_entry_t  *ge;

    for (q = ngx_queue_head(&gn->grants);
         q != ngx_queue_sentinel(&gn->grants);
         q = next)
    {
        next = ngx_queue_next(q);
        ge = ngx_queue_data(q, ngx_http_magic_token_grant_entry_t, queue);

        if (ge->expire > now) {
            continue;
        }

        ngx_queue_remove(q);
        ngx_slab_free_locked(zone->shpool, ge);
        gn->n--;

        (void) ngx_atomic_fetch_add(
                        &zone->sh->stats[NGX_HTTP_MAGIC_TOKEN_STAT_GRANTS], -1);
    }
}


/* frees a few nodes whose grants have all expired, oldest first */
static void
ngx_http_magic_token_grant_sweep(ngx_http_magic_token_zone_t *zone,
    time_t now)
{
    ngx_uint_t                          i;
    ngx_queue_t                        *q;
    ngx_http_magic_token_grant_sh_t    *gsh;
    ngx_http_magic_token_grant_node_t  *gn;

    gsh = zone->sh->grants;

    for (i = 0; i < NGX_HTTP_MAGIC_TOKEN_GRANT_SWEEP; i++) {

        if (ngx_queue_empty(&gsh->queue)) {
            return;
        }

        q = ngx_queue_last(&gsh->queue);
        gn = ngx_queue_data(q, ngx_http_magic_token_grant_node_t, queue);

        if (gn->expire > now) {
            return;
        }

        ngx_http_magic_token_grant_expire(zone, gn, now);
        ngx_http_magic_token_grant_free_node(zone, gn);
    }
}


/* a node without grants; the mutex is held */
static void
ngx_http_magic_token_grant_free_node(ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_grant_node_t *gn)
{
    ngx_queue_remove(&gn->queue);
    ngx_rbtree_delete(&ngx_http_magic_token_grant_sh(zone)->rbtree,
                      &gn->node);
    ngx_slab_free_locked(zone->shpool, gn);
}


static ngx_int_t
ngx_http_magic_token_grant_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t                          i, reading, status;
    ngx_http_magic_token_ctx_t         *ctx;
    ngx_http_magic_token_grant_hit_t   *hit;
    ngx_http_magic_token_grant_ctx_t   *gctx;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_magic_token_module);

    if (ctx == NULL || ctx->grant == NULL) {
        return ngx_http_next_header_filter(r);
    }

    gctx = ctx->grant;
    status = r->headers_out.status;

    if (!ctx->passed || gctx->uri_changes != r->uri_changes) {
        ctx->grant = NULL;
        return ngx_http_next_header_filter(r);
    }

    /* only the rules whose status class this response is in */
    hit = gctx->hits.elts;
    reading = 0;

    for (i = 0; i < gctx->hits.nelts; /* void */ ) {
        if (status < hit[i].conf->status_min
            || status > hit[i].conf->status_max)
        {
            hit[i] = hit[--gctx->hits.nelts];
            continue;
        }

        reading |= mt_grant_needs_body(hit[i].conf->rule);
        i++;
    }

    if (gctx->hits.nelts == 0) {
        ctx->grant = NULL;
        return ngx_http_next_header_filter(r);
    }

    if (!reading) {
        ngx_http_magic_token_grant_record(r, ctx, gctx);
        ctx->grant = NULL;
        return ngx_http_next_header_filter(r);
    }

    if (!ngx_http_magic_token_grant_readable(r, ctx)) {
        ctx->grant = NULL;
        return ngx_http_next_header_filter(r);
    }

    gctx->size = r->headers_out.content_length_n >= 0
                 ? (size_t) r->headers_out.content_length_n
                 : NGX_HTTP_MAGIC_TOKEN_GRANT_BODY;
    gctx->reading = 1;

    return ngx_http_next_header_filter(r);
}


/* can the body be read as it is sent?  Says why not */
static ngx_uint_t
ngx_http_magic_token_grant_readable(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx)
{
    if (r->headers_out.content_encoding
        && r->headers_out.content_encoding->value.len)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "magic_token_grant: a response with Content-Encoding "
                      "\"%V\" grants nothing (token %s)",
                      &r->headers_out.content_encoding->value,
                      ngx_http_magic_token_id(ctx));
        return 0;
    }

    if (r->header_only
        || r->headers_out.content_length_n > NGX_HTTP_MAGIC_TOKEN_GRANT_BODY)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "magic_token_grant: %s response grants nothing "
                      "(token %s)",
                      r->header_only ? "a body-less" : "a too large",
                      ngx_http_magic_token_id(ctx));
        return 0;
    }

    return 1;
}


static ngx_int_t
ngx_http_magic_token_grant_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_http_magic_token_ctx_t        *ctx;
    ngx_http_magic_token_grant_ctx_t  *gctx;

    if (r != r->main || in == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_magic_token_module);

    if (ctx == NULL || ctx->grant == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    gctx = ctx->grant;

    if (!gctx->reading || gctx->done) {
        return ngx_http_next_body_filter(r, in);
    }

    switch (ngx_http_magic_token_grant_copy(r, gctx, in)) {

    case NGX_DONE:
        gctx->done = 1;
        ngx_http_magic_token_grant_record(r, ctx, gctx);
        ctx->grant = NULL;
        break;

    case NGX_ERROR:
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "magic_token_grant: a response body larger than %d "
                      "bytes or not in memory grants nothing (token %s)",
                      NGX_HTTP_MAGIC_TOKEN_GRANT_BODY,
                      ngx_http_magic_token_id(ctx));
        ctx->grant = NULL;
        break;

    default: /* NGX_AGAIN */
        break;
    }

    return ngx_http_next_body_filter(r, in);
}


/*
 * Copies the chain's bytes: NGX_DONE at the last buffer, NGX_AGAIN for
 * more, NGX_ERROR when the body cannot be read (too large, in a file,
 * or no memory); the chain itself is left as it is.
 */
static ngx_int_t
ngx_http_magic_token_grant_copy(ngx_http_request_t *r,
    ngx_http_magic_token_grant_ctx_t *gctx, ngx_chain_t *in)
{
    size_t        size;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (!ngx_buf_special(b)) {
            if (!ngx_buf_in_memory(b)) {
                return NGX_ERROR;
            }

            size = b->last - b->pos;

            if (size > gctx->size - gctx->len) {
                return NGX_ERROR;
            }

            if (gctx->body == NULL) {
                gctx->body = ngx_pnalloc(r->pool, gctx->size);
                if (gctx->body == NULL) {
                    return NGX_ERROR;
                }
            }

            ngx_memcpy(gctx->body + gctx->len, b->pos, size);
            gctx->len += size;
        }

        if (b->last_buf) {
            return NGX_DONE;
        }
    }

    return NGX_AGAIN;
}


/* expands and stores the grants of a complete response */
static void
ngx_http_magic_token_grant_record(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_http_magic_token_grant_ctx_t *gctx)
{
    u_char                             grant[MT_GRANT_MAX_LEN + 1];
    size_t                             len;
    mt_err_t                           rc;
    ngx_uint_t                         i;
    ngx_http_magic_token_grant_hit_t  *hit;

    hit = gctx->hits.elts;

    for (i = 0; i < gctx->hits.nelts; i++) {

        rc = mt_grant_expand(hit[i].conf->rule, &hit[i].match,
                             (char *) gctx->body, gctx->len, (char *) grant,
                             sizeof(grant), &len);

        if (rc != MT_OK) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "magic_token_grant: no grant for scope \"%V\" "
                          "from the response: %s (token %s)",
                          &hit[i].conf->scope, mt_strerror(rc),
                          ngx_http_magic_token_id(ctx));
            continue;
        }

        if (ngx_http_magic_token_grant_store(r, ctx, hit[i].conf, grant, len)
            == NGX_OK)
        {
            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "magic_token: granted \"%s\" to token %s",
                           grant, ngx_http_magic_token_id(ctx));
        }
    }
}


static ngx_int_t
ngx_http_magic_token_grant_store(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_http_magic_token_grant_conf_t *gcf,
    u_char *grant, size_t len)
{
    u_char                              hash[SHA256_DIGEST_LENGTH];
    time_t                              now, expire;
    json_t                             *exp;
    ngx_int_t                           rc;
    ngx_http_magic_token_zone_t        *zone;
    ngx_http_magic_token_grant_sh_t    *gsh;
    ngx_http_magic_token_grant_node_t  *gn;

    now = ngx_time();
    expire = now + gcf->ttl;

    /* never past the token's own exp (checked present and an integer) */
    exp = json_object_get(ngx_http_magic_token_claims(ctx), "exp");

    if (!json_is_integer(exp) || json_integer_value(exp) <= now) {
        return NGX_DECLINED;
    }

    if (json_integer_value(exp) < expire) {
        expire = (time_t) json_integer_value(exp);
    }

    ngx_http_magic_token_grant_hash(ctx, hash);

    zone = gcf->zone;
    gsh = zone->sh->grants;

    ngx_shmtx_lock(&zone->shpool->mutex);

    ngx_http_magic_token_grant_sweep(zone, now);

    gn = ngx_http_magic_token_grant_find(gsh, hash);

    if (gn == NULL) {
        gn = ngx_http_magic_token_zone_alloc(zone,
                               sizeof(ngx_http_magic_token_grant_node_t));
        if (gn == NULL) {
            ngx_shmtx_unlock(&zone->shpool->mutex);
            return NGX_DECLINED;
        }

        ngx_memzero(gn, sizeof(ngx_http_magic_token_grant_node_t));
        ngx_memcpy(gn->token, hash, SHA256_DIGEST_LENGTH);
        ngx_memcpy(&gn->node.key, hash, sizeof(ngx_rbtree_key_t));
        ngx_queue_init(&gn->grants);

        ngx_rbtree_insert(&gsh->rbtree, &gn->node);
        ngx_queue_insert_head(&gsh->queue, &gn->queue);

    } else {
        ngx_http_magic_token_grant_expire(zone, gn, now);
        ngx_queue_remove(&gn->queue);
        ngx_queue_insert_head(&gsh->queue, &gn->queue);
    }

    if (gn->n >= gcf->max) {
        ngx_shmtx_unlock(&zone->shpool->mutex);

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "magic_token_grant: token %s holds %ui grants, the "
                      "most scope \"%V\" allows: no more",
                      ngx_http_magic_token_id(ctx), gcf->max, &gcf->scope);
        return NGX_DECLINED;
    }

    rc = ngx_http_magic_token_grant_add(zone, gn, grant, len, expire);

    if (gn->n == 0) {
        /* a new node that got nothing */
        ngx_http_magic_token_grant_free_node(zone, gn);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


/* the mutex is held */
static ngx_int_t
ngx_http_magic_token_grant_add(ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_grant_node_t *gn, u_char *grant, size_t len,
    time_t expire)
{
    ngx_queue_t                         *q;
    ngx_http_magic_token_grant_entry_t  *ge;

    /* the same grant again: a longer life, not a second entry */
    for (q = ngx_queue_head(&gn->grants);
         q != ngx_queue_sentinel(&gn->grants);
         q = ngx_queue_next(q))
    {
        ge = ngx_queue_data(q, ngx_http_magic_token_grant_entry_t, queue);

        if (ge->len == len && ngx_memcmp(ge->data, grant, len) == 0) {
            ge->expire = ngx_max(ge->expire, expire);
            gn->expire = ngx_max(gn->expire, expire);
            return NGX_OK;
        }
    }

    ge = ngx_http_magic_token_zone_alloc(zone,
                 offsetof(ngx_http_magic_token_grant_entry_t, data) + len);
    if (ge == NULL) {
        return NGX_DECLINED;
    }

    ge->expire = expire;
    ge->len = len;
    ngx_memcpy(ge->data, grant, len);

    ngx_queue_insert_tail(&gn->grants, &ge->queue);
    gn->n++;
    gn->expire = ngx_max(gn->expire, expire);

    (void) ngx_atomic_fetch_add(
                    &zone->sh->stats[NGX_HTTP_MAGIC_TOKEN_STAT_GRANTS_MADE], 1);
    (void) ngx_atomic_fetch_add(
                    &zone->sh->stats[NGX_HTTP_MAGIC_TOKEN_STAT_GRANTS], 1);

    return NGX_OK;
}


/* ngx_http_magic_token_zone_features[]: the grants' part of a zone */
ngx_int_t
ngx_http_magic_token_grant_zone_init(ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_zone_t *old, ngx_log_t *log)
{
    ngx_http_magic_token_grant_sh_t  *gsh;

    if (zone->sh->grants != NULL) {
        /* a reload that kept the memory: the grants stay */
        return NGX_OK;
    }

    gsh = ngx_http_magic_token_zone_part(zone,
                                  sizeof(ngx_http_magic_token_grant_sh_t),
                                  "grants", log);
    if (gsh == NULL) {
        return NGX_ERROR;
    }

    ngx_rbtree_init(&gsh->rbtree, &gsh->sentinel,
                    ngx_http_magic_token_grant_insert_value);
    ngx_queue_init(&gsh->queue);
    zone->sh->grants = gsh;

    return NGX_OK;
}


/*
 * magic_token_grant scope "METHOD trigger-regex" "METHOD /grant/template"
 *     zone=name [json=path] [status=2xx|NNN] [ttl=time] [max=number];
 */
char *
ngx_http_magic_token_grant(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_magic_token_main_conf_t *mmcf = conf;

    char                                errbuf[NGX_MAX_CONF_ERRSTR];
    mt_err_t                            rc;
    ngx_str_t                          *value, json;
    ngx_uint_t                          i;
    ngx_pool_cleanup_t                 *cln;
    ngx_http_magic_token_grant_conf_t  *gcf;

    value = cf->args->elts;

    if (cf->args->nelts < 5) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "magic_token_grant needs a scope, a trigger "
                           "\"METHOD regex\", a grant \"METHOD /path\" and "
                           "\"zone=\"");
        return NGX_CONF_ERROR;
    }

    if (mmcf->grants == NULL) {
        mmcf->grants = ngx_array_create(cf->pool, 2,
                                   sizeof(ngx_http_magic_token_grant_conf_t));
        if (mmcf->grants == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    gcf = ngx_array_push(mmcf->grants);
    if (gcf == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(gcf, sizeof(ngx_http_magic_token_grant_conf_t));

    gcf->scope = value[1];
    gcf->status_min = 200;
    gcf->status_max = 299;
    gcf->ttl = 600;
    gcf->max = 16;
    gcf->file = cf->conf_file->file.name.data;
    gcf->line = cf->conf_file->line;
    ngx_str_null(&json);

    for (i = 4; i < cf->args->nelts; i++) {
        if (ngx_http_magic_token_grant_param(cf, gcf, &value[i], &json)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    if (gcf->zone == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "magic_token_grant \"%V\" needs \"zone=\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    errbuf[0] = '\0';

    rc = mt_grant_rule_new(&gcf->rule, (char *) value[2].data, value[2].len,
                           (char *) value[3].data, value[3].len,
                           (char *) json.data, json.len, errbuf,
                           sizeof(errbuf));
    if (rc != MT_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "magic_token_grant \"%V\": "
                           "%s", &value[1],
                           errbuf[0] ? errbuf : mt_strerror(rc));
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_magic_token_grant_free_rule;
    cln->data = gcf->rule;

    return NGX_CONF_OK;
}


static char *
ngx_http_magic_token_grant_param(ngx_conf_t *cf,
    ngx_http_magic_token_grant_conf_t *gcf, ngx_str_t *value,
    ngx_str_t *json)
{
    u_char     *p;
    ngx_int_t   n;
    ngx_str_t   s;

    if (ngx_strncmp(value->data, "zone=", 5) == 0) {
        s.data = value->data + 5;
        s.len = value->len - 5;

        gcf->zone = ngx_http_magic_token_zone_ref(cf, &s);
        return gcf->zone ? NGX_CONF_OK : NGX_CONF_ERROR;
    }

    if (ngx_strncmp(value->data, "json=", 5) == 0 && value->len > 5) {
        json->data = value->data + 5;
        json->len = value->len - 5;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "status=", 7) == 0 && value->len == 10) {
        p = value->data + 7;

        if (p[0] >= '1' && p[0] <= '5' && p[1] == 'x' && p[2] == 'x') {
            gcf->status_min = (p[0] - '0') * 100;
            gcf->status_max = gcf->status_min + 99;
            return NGX_CONF_OK;
        }

        n = ngx_atoi(p, 3);

        if (n >= 100 && n <= 599) {
            gcf->status_min = n;
            gcf->status_max = n;
            return NGX_CONF_OK;
        }
    }

    if (ngx_strncmp(value->data, "ttl=", 4) == 0) {
        s.data = value->data + 4;
        s.len = value->len - 4;

        gcf->ttl = ngx_parse_time(&s, 1);

        if (gcf->ttl != (time_t) NGX_ERROR && gcf->ttl > 0) {
            return NGX_CONF_OK;
        }
    }

    if (ngx_strncmp(value->data, "max=", 4) == 0) {
        n = ngx_atoi(value->data + 4, value->len - 4);

        if (n > 0 && n <= NGX_HTTP_MAGIC_TOKEN_GRANT_MAX) {
            gcf->max = n;
            return NGX_CONF_OK;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\": max= is 1 .. %d",
                           value, NGX_HTTP_MAGIC_TOKEN_GRANT_MAX);
        return NGX_CONF_ERROR;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       value);

    return NGX_CONF_ERROR;
}


/*
 * postconfiguration: every grant's scope is a magic_token_scope, and the
 * response filters, when there are grants
 */
ngx_int_t
ngx_http_magic_token_grant_init(ngx_conf_t *cf)
{
    ngx_uint_t                          i, j;
    mt_named_scope_t                   *scopes;
    ngx_http_magic_token_grant_conf_t  *gcf;
    ngx_http_magic_token_main_conf_t   *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_magic_token_module);

    if (mmcf->grants == NULL) {
        return NGX_OK;
    }

    gcf = mmcf->grants->elts;

    for (i = 0; i < mmcf->grants->nelts; i++) {
        scopes = mmcf->scopes ? mmcf->scopes->elts : NULL;

        for (j = 0; mmcf->scopes && j < mmcf->scopes->nelts; j++) {
            if (scopes[j].name_len == gcf[i].scope.len
                && ngx_strncmp(scopes[j].name, gcf[i].scope.data,
                               gcf[i].scope.len) == 0)
            {
                break;
            }
        }

        if (mmcf->scopes == NULL || j == mmcf->scopes->nelts) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "magic_token_grant in %s:%ui names \"%V\", which "
                          "no magic_token_scope defines",
                          gcf[i].file, gcf[i].line, &gcf[i].scope);
            return NGX_ERROR;
        }
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_magic_token_grant_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_magic_token_grant_body_filter;

    return NGX_OK;
}


static void
ngx_http_magic_token_grant_free_rule(void *data)
{
    mt_grant_rule_free(data);
}
