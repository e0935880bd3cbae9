/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * magic_token_check: a named scope decided by the operator's own code,
 * for what no scope entry or grant can say (magic-api-proxy's plugins).
 *
 *     magic_token_check dns01 /_dns01_check claims=sub
 *                       response=/_dns01_seen zone=state;
 *
 * The request side works like auth_request: when a token names the
 * scope and its other scopes refuse the request, a subrequest goes to
 * the check's location (GET, no body, none of the client's headers),
 * with
 *
 *     X-Magic-Token-Scope     the scope's name
 *     X-Magic-Token-Method    the request's method
 *     X-Magic-Token-Path      the path scopes are checked against
 *     X-Magic-Token-Id        the token id ($magic_token_id)
 *     X-Magic-Token-Claim-N   claim N as JSON text, for claims=N,...
 *
 * and its status decides: 2xx allows, 401 and 403 refuse (the token's
 * next check scope, if any, is asked), anything else (a 5xx, a timeout
 * of the operator's proxy_pass, no such location) is an error: 500.
 *
 * The response side (response=): once the upstream's response to a
 * request the check allowed has gone to the client, a background
 * subrequest POSTs its first NGX_HTTP_MAGIC_TOKEN_CHECK_BODY bytes to
 * that location, with the headers above and X-Magic-Token-Status,
 * X-Magic-Token-Content-Type, X-Magic-Token-Truncated and every
 * response header as X-Magic-Token-Header-<name>.  The client is not
 * kept waiting for it (only the connection's next request is); its
 * answer is ignored.
 *
 * zone= counts the checks made in that magic_token_zone's counters.
 */


#include "ngx_http_magic_token_module.h"


#define NGX_HTTP_MAGIC_TOKEN_CHECK_BODY  65536


typedef struct {
    ngx_str_t                     name;
    ngx_str_t                     uri;
    ngx_str_t                     response;   /* empty: none */
    ngx_array_t                  *claims;     /* of ngx_str_t, or NULL */
    ngx_http_magic_token_zone_t  *zone;       /* counters, or NULL */
} ngx_http_magic_token_check_conf_t;


typedef struct {
    ngx_http_magic_token_check_conf_t  *conf;    /* running or allowed */
    ngx_uint_t                          next;    /* in the token's scopes */
    ngx_uint_t                          uri_changes;
    ngx_str_t                           method;
    ngx_str_t                           path;
    ngx_int_t                           status;

    /* the response hook */
    u_char                             *body;
    size_t                              len;

    unsigned                            running:1;
    unsigned                            done:1;
    unsigned                            allowed:1;
    unsigned                            truncated:1;
    unsigned                            hooked:1;
} ngx_http_magic_token_check_ctx_t;


static ngx_http_magic_token_check_ctx_t *ngx_http_magic_token_check_state(
    ngx_http_request_t *r, ngx_http_magic_token_ctx_t *ctx, ngx_str_t *path);
static ngx_http_magic_token_check_conf_t *ngx_http_magic_token_check_next(
    ngx_http_request_t *r, ngx_http_magic_token_ctx_t *ctx,
    ngx_http_magic_token_check_ctx_t *cc);
static ngx_int_t ngx_http_magic_token_check_start(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_http_magic_token_check_ctx_t *cc);
static ngx_int_t ngx_http_magic_token_check_done(ngx_http_request_t *r,
    void *data, ngx_int_t rc);
static ngx_int_t ngx_http_magic_token_check_headers(ngx_http_request_t *r,
    ngx_http_request_t *sr, ngx_http_magic_token_ctx_t *ctx,
    ngx_http_magic_token_check_ctx_t *cc);
static ngx_int_t ngx_http_magic_token_check_header(ngx_http_request_t *r,
    ngx_list_t *list, char *prefix, ngx_str_t *name, ngx_str_t *value);
static ngx_int_t ngx_http_magic_token_check_hook(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_http_magic_token_check_ctx_t *cc);
static ngx_int_t ngx_http_magic_token_check_hook_headers(
    ngx_http_request_t *r, ngx_http_request_t *sr,
    ngx_http_magic_token_check_ctx_t *cc);
static ngx_int_t ngx_http_magic_token_check_body_filter(
    ngx_http_request_t *r, ngx_chain_t *in);


static char *ngx_http_magic_token_check_claims(ngx_conf_t *cf,
    ngx_http_magic_token_check_conf_t *cc, ngx_str_t *value);
static char *ngx_http_magic_token_check_named(ngx_conf_t *cf,
    ngx_http_magic_token_main_conf_t *mmcf, ngx_str_t *name);
static ngx_uint_t ngx_http_magic_token_check_name_char(u_char c);
static void ngx_http_magic_token_check_free_rules(void *data);


static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/*
 * From ngx_http_magic_token_check(), when the token's scopes refused
 * the request (*rc is MT_ERR_SCOPE_DENIED): NGX_OK with *rc MT_OK when a
 * check allowed, unchanged when none did; NGX_AGAIN while a check runs;
 * NGX_ERROR when a check failed.
 */
ngx_int_t
ngx_http_magic_token_check_scopes(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_str_t *path, mt_err_t *rc,
    const char **matched, size_t *matched_len)
{
    ngx_uint_t                         i;
    ngx_http_magic_token_check_ctx_t  *cc;
    ngx_http_magic_token_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_magic_token_module);

    if (mmcf->checks == NULL || *rc != MT_ERR_SCOPE_DENIED
        || ctx->token.scopes == NULL || r != r->main)
    {
        /* a subrequest is never checked remotely: it is refused */
        return NGX_OK;
    }

    /* the path goes in a header: never one with a control character */
    for (i = 0; i < path->len; i++) {
        if (path->data[i] < 0x20 || path->data[i] == 0x7f) {
            return NGX_OK;
        }
    }

    cc = ngx_http_magic_token_check_state(r, ctx, path);
    if (cc == NULL) {
        return NGX_ERROR;
    }

    for ( ;; ) {

        if (cc->allowed) {
            *rc = MT_OK;
            *matched = (const char *) cc->conf->name.data;
            *matched_len = cc->conf->name.len;
            return NGX_OK;
        }

        if (cc->running) {
            if (!cc->done) {
                return NGX_AGAIN;
            }

            cc->running = 0;

            if (cc->status >= NGX_HTTP_OK
                && cc->status < NGX_HTTP_SPECIAL_RESPONSE)
            {
                cc->allowed = 1;
                continue;
            }

            if (cc->status != NGX_HTTP_UNAUTHORIZED
                && cc->status != NGX_HTTP_FORBIDDEN)
            {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "magic_token_check \"%V\": \"%V\" answered "
                              "%i, the request is refused (token %s)",
                              &cc->conf->name, &cc->conf->uri, cc->status,
                              ngx_http_magic_token_id(ctx));
                return NGX_ERROR;
            }

            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "magic_token_check \"%V\" refused",
                           &cc->conf->name);
        }

        cc->conf = ngx_http_magic_token_check_next(r, ctx, cc);

        if (cc->conf == NULL) {
            return NGX_OK;
        }

        if (ngx_http_magic_token_check_start(r, ctx, cc) != NGX_OK) {
            return NGX_ERROR;
        }

        return NGX_AGAIN;
    }
}


/* this request's checks: again from the start after a redirect */
static ngx_http_magic_token_check_ctx_t *
ngx_http_magic_token_check_state(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_str_t *path)
{
    ngx_http_magic_token_check_ctx_t  *cc;

    cc = ctx->check;

    if (cc != NULL
        && cc->uri_changes == r->uri_changes
        && cc->path.len == path->len
        && ngx_memcmp(cc->path.data, path->data, path->len) == 0)
    {
        return cc;
    }

    if (cc != NULL && cc->running) {
        /* a redirect while a check ran: impossible; refuse */
        return NULL;
    }

    cc = ngx_pcalloc(r->pool, sizeof(ngx_http_magic_token_check_ctx_t));
    if (cc == NULL) {
        return NULL;
    }

    cc->path.data = ngx_pstrdup(r->pool, path);
    if (cc->path.data == NULL) {
        return NULL;
    }

    cc->path.len = path->len;
    cc->method = r->method_name;
    cc->uri_changes = r->uri_changes;

    ctx->check = cc;

    return cc;
}


/* the next check scope the token names, in the order it names them */
static ngx_http_magic_token_check_conf_t *
ngx_http_magic_token_check_next(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_http_magic_token_check_ctx_t *cc)
{
    size_t                              n;
    json_t                             *v;
    ngx_uint_t                          j;
    ngx_http_magic_token_check_conf_t  *conf;
    ngx_http_magic_token_main_conf_t   *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_magic_token_module);
    conf = mmcf->checks->elts;

    while (cc->next < json_array_size(ctx->token.scopes)) {
        v = json_array_get(ctx->token.scopes, cc->next++);
        n = json_string_length(v);

        for (j = 0; j < mmcf->checks->nelts; j++) {
            if (conf[j].name.len == n
                && ngx_memcmp(conf[j].name.data, json_string_value(v), n)
                   == 0)
            {
                return &conf[j];
            }
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_magic_token_check_start(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_http_magic_token_check_ctx_t *cc)
{
    ngx_http_request_t           *sr;
    ngx_http_post_subrequest_t   *ps;

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_magic_token_check_done;
    ps->data = cc;

    if (ngx_http_subrequest(r, &cc->conf->uri, NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* an empty body of its own: the client's is not the check's */
    sr->request_body = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (sr->request_body == NULL) {
        return NGX_ERROR;
    }

    sr->header_only = 1;

    if (ngx_http_magic_token_check_headers(r, sr, ctx, cc) != NGX_OK) {
        return NGX_ERROR;
    }

    cc->running = 1;
    cc->done = 0;
    cc->status = 0;

    if (cc->conf->zone) {
        (void) ngx_atomic_fetch_add(
                  &cc->conf->zone->sh->stats[NGX_HTTP_MAGIC_TOKEN_STAT_CHECKS],
                  1);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_magic_token_check_done(ngx_http_request_t *r, void *data,
    ngx_int_t rc)
{
    ngx_http_magic_token_check_ctx_t  *cc = data;

    cc->done = 1;
    cc->status = r->headers_out.status;

    /* no answer at all (the location failed before any): an error */
    if (cc->status == 0 && rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        cc->status = rc;
    }

    return rc;
}


/*
 * The subrequest's headers: only ours, none of the client's (its
 * Authorization holds the magic token); no body.
 */
static ngx_int_t
ngx_http_magic_token_check_headers(ngx_http_request_t *r,
    ngx_http_request_t *sr, ngx_http_magic_token_ctx_t *ctx,
    ngx_http_magic_token_check_ctx_t *cc)
{
    char        *s;
    size_t       len;
    json_t      *v, *claims;
    ngx_str_t    value, *claim;
    ngx_uint_t   i;
    ngx_list_t  *list;

    list = &sr->headers_in.headers;

    if (ngx_list_init(list, r->pool, 8, sizeof(ngx_table_elt_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    sr->headers_in.authorization = NULL;
    sr->headers_in.content_length = NULL;
    sr->headers_in.content_length_n = -1;
    sr->headers_in.transfer_encoding = NULL;
    sr->headers_in.chunked = 0;

    value.data = (u_char *) ngx_http_magic_token_id(ctx);
    value.len = ngx_strlen(value.data);

    if (ngx_http_magic_token_check_header(r, list, "Scope", NULL,
                                          &cc->conf->name) != NGX_OK
        || ngx_http_magic_token_check_header(r, list, "Method", NULL,
                                             &cc->method) != NGX_OK
        || ngx_http_magic_token_check_header(r, list, "Path", NULL,
                                             &cc->path) != NGX_OK
        || ngx_http_magic_token_check_header(r, list, "Id", NULL, &value)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (cc->conf->claims == NULL) {
        return NGX_OK;
    }

    claims = ngx_http_magic_token_claims(ctx);
    if (claims == NULL) {
        return NGX_ERROR;
    }

    claim = cc->conf->claims->elts;

    for (i = 0; i < cc->conf->claims->nelts; i++) {
        v = json_object_get(claims, (char *) claim[i].data);
        if (v == NULL) {
            continue;
        }

        /* JSON, ASCII only: no control character reaches the header */
        s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
        if (s == NULL) {
            return NGX_ERROR;
        }

        len = ngx_strlen(s);

        value.data = ngx_pnalloc(r->pool, len);
        if (value.data == NULL) {
            free(s);
            return NGX_ERROR;
        }

        ngx_memcpy(value.data, s, len);
        value.len = len;
        free(s);

        if (ngx_http_magic_token_check_header(r, list, "Claim-", &claim[i],
                                              &value)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* "X-Magic-Token-<prefix><name>: value" */
static ngx_int_t
ngx_http_magic_token_check_header(ngx_http_request_t *r, ngx_list_t *list,
    char *prefix, ngx_str_t *name, ngx_str_t *value)
{
    size_t            len;
    u_char           *p;
    ngx_table_elt_t  *h;

    h = ngx_list_push(list);
    if (h == NULL) {
        return NGX_ERROR;
    }

    len = sizeof("X-Magic-Token-") - 1 + ngx_strlen(prefix)
          + (name ? name->len : 0);

    h->key.data = ngx_pnalloc(r->pool, len);
    h->lowcase_key = ngx_pnalloc(r->pool, len);

    if (h->key.data == NULL || h->lowcase_key == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(h->key.data, "X-Magic-Token-",
                   sizeof("X-Magic-Token-") - 1);
    p = ngx_cpymem(p, prefix, ngx_strlen(prefix));

    if (name) {
        p = ngx_cpymem(p, name->data, name->len);
    }

    h->key.len = len;
    h->hash = ngx_hash_strlow(h->lowcase_key, h->key.data, len);
    h->value = *value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}


/*
 * The response hook: a copy of the first bytes of the response to a
 * request a check with response= allowed, posted once it is complete.
 */
static ngx_int_t
ngx_http_magic_token_check_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in)
{
    size_t                             size;
    ngx_buf_t                         *b;
    ngx_chain_t                       *cl;
    ngx_http_magic_token_ctx_t        *ctx;
    ngx_http_magic_token_check_ctx_t  *cc;

    if (r != r->main || in == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_magic_token_module);

    if (ctx == NULL || ctx->check == NULL || !ctx->passed) {
        return ngx_http_next_body_filter(r, in);
    }

    cc = ctx->check;

    if (!cc->allowed || cc->hooked || cc->conf->response.len == 0
        || cc->uri_changes != r->uri_changes)
    {
        return ngx_http_next_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b) && !ngx_buf_special(b)) {
            size = b->last - b->pos;

            if (size > NGX_HTTP_MAGIC_TOKEN_CHECK_BODY - cc->len) {
                size = NGX_HTTP_MAGIC_TOKEN_CHECK_BODY - cc->len;
                cc->truncated = 1;
            }

            if (size && cc->body == NULL) {
                cc->body = ngx_pnalloc(r->pool,
                                       NGX_HTTP_MAGIC_TOKEN_CHECK_BODY);
                if (cc->body == NULL) {
                    return NGX_ERROR;
                }
            }

            if (size) {
                ngx_memcpy(cc->body + cc->len, b->pos, size);
                cc->len += size;
            }

        } else if (ngx_buf_size(b) > 0) {
            cc->truncated = 1;      /* in a file: not read */
        }

        if (b->last_buf) {
            cc->hooked = 1;

            if (ngx_http_magic_token_check_hook(r, ctx, cc) != NGX_OK) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "magic_token_check \"%V\": the response hook "
                              "could not be called", &cc->conf->name);
            }

            break;
        }
    }

    return ngx_http_next_body_filter(r, in);
}


static ngx_int_t
ngx_http_magic_token_check_hook(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_http_magic_token_check_ctx_t *cc)
{
    ngx_buf_t                *b;
    ngx_chain_t              *cl;
    ngx_http_request_t       *sr;
    ngx_http_request_body_t  *rb;

    if (ngx_http_subrequest(r, &cc->conf->response, NULL, &sr, NULL,
                            NGX_HTTP_SUBREQUEST_BACKGROUND)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sr->header_only = 1;
    sr->method = NGX_HTTP_POST;
    ngx_str_set(&sr->method_name, "POST");

    rb = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (rb == NULL) {
        return NGX_ERROR;
    }

    sr->request_body = rb;

    if (ngx_http_magic_token_check_headers(r, sr, ctx, cc) != NGX_OK
        || ngx_http_magic_token_check_hook_headers(r, sr, cc) != NGX_OK)
    {
        return NGX_ERROR;
    }

    sr->headers_in.content_length_n = cc->len;

    if (cc->len == 0) {
        return NGX_OK;
    }

    b = ngx_calloc_buf(r->pool);
    cl = ngx_alloc_chain_link(r->pool);

    if (b == NULL || cl == NULL) {
        return NGX_ERROR;
    }

    b->pos = cc->body;
    b->last = cc->body + cc->len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    cl->buf = b;
    cl->next = NULL;
    rb->bufs = cl;

    return NGX_OK;
}


/* status, content type, truncation and the response's own headers */
static ngx_int_t
ngx_http_magic_token_check_hook_headers(ngx_http_request_t *r,
    ngx_http_request_t *sr, ngx_http_magic_token_check_ctx_t *cc)
{
    u_char           *p;
    ngx_str_t         value;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value.data = p;
    value.len = ngx_sprintf(p, "%ui", r->headers_out.status) - p;

    if (ngx_http_magic_token_check_header(r, &sr->headers_in.headers,
                                          "Status", NULL, &value)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&value, "1");

    if (cc->truncated
        && ngx_http_magic_token_check_header(r, &sr->headers_in.headers,
                                             "Truncated", NULL, &value)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (r->headers_out.content_type.len
        && ngx_http_magic_token_check_header(r, &sr->headers_in.headers,
                                             "Content-Type", NULL,
                                             &r->headers_out.content_type)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    part = &r->headers_out.headers.part;
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

        if (h[i].hash == 0) {
            continue;
        }

        if (ngx_http_magic_token_check_header(r, &sr->headers_in.headers,
                                              "Header-", &h[i].key,
                                              &h[i].value)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * magic_token_check name uri [claims=name,...] [response=uri] [zone=name];
 * a named scope, as magic_token_scope makes, without entries of its own
 */
char *
ngx_http_magic_token_check_scope(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_magic_token_main_conf_t *mmcf = conf;

    ngx_str_t                          *value, name;
    ngx_uint_t                          i;
    ngx_http_magic_token_check_conf_t  *cc;

    value = cf->args->elts;

    if (value[2].len == 0 || value[2].data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "magic_token_check \"%V\": \"%V\" is not a URI",
                           &value[1], &value[2]);
        return NGX_CONF_ERROR;
    }

    if (mmcf->checks == NULL) {
        mmcf->checks = ngx_array_create(cf->pool, 2,
                                   sizeof(ngx_http_magic_token_check_conf_t));
        if (mmcf->checks == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    cc = ngx_array_push(mmcf->checks);
    if (cc == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(cc, sizeof(ngx_http_magic_token_check_conf_t));
    cc->name = value[1];
    cc->uri = value[2];

    for (i = 3; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            name.data = value[i].data + 5;
            name.len = value[i].len - 5;

            cc->zone = ngx_http_magic_token_zone_ref(cf, &name);
            if (cc->zone == NULL) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "response=", 9) == 0
            && value[i].len > 10 && value[i].data[9] == '/')
        {
            cc->response.data = value[i].data + 9;
            cc->response.len = value[i].len - 9;
            continue;
        }

        if (ngx_strncmp(value[i].data, "claims=", 7) == 0
            && value[i].len > 7)
        {
            if (ngx_http_magic_token_check_claims(cf, cc, &value[i])
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    return ngx_http_magic_token_check_named(cf, mmcf, &value[1]);
}


/* claims=name,...: names NUL-terminated, for json_object_get() */
static char *
ngx_http_magic_token_check_claims(ngx_conf_t *cf,
    ngx_http_magic_token_check_conf_t *cc, ngx_str_t *value)
{
    u_char      *p, *last, *start;
    ngx_str_t   *claim;
    ngx_uint_t   m;

    cc->claims = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
    if (cc->claims == NULL) {
        return NGX_CONF_ERROR;
    }

    last = value->data + value->len;

    for (start = value->data + 7; start < last; start = p + 1) {
        p = ngx_strlchr(start, last, ',');
        p = p ? p : last;

        for (m = 0; start + m < p; m++) {
            if (!ngx_http_magic_token_check_name_char(start[m])) {
                break;
            }
        }

        if (p == start || start + m != p || (p < last && p + 1 == last)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": claim names are "
                               "[A-Za-z0-9_-]+, separated by commas", value);
            return NGX_CONF_ERROR;
        }

        claim = ngx_array_push(cc->claims);
        if (claim == NULL) {
            return NGX_CONF_ERROR;
        }

        claim->len = p - start;
        claim->data = ngx_pnalloc(cf->pool, claim->len + 1);
        if (claim->data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_cpystrn(claim->data, start, claim->len + 1);
    }

    return NGX_CONF_OK;
}


/*
 * The check's name among the named scopes, without entries: a token may
 * name it, no entry of it ever matches
 */
static char *
ngx_http_magic_token_check_named(ngx_conf_t *cf,
    ngx_http_magic_token_main_conf_t *mmcf, ngx_str_t *name)
{
    ngx_uint_t           i, m;
    mt_named_scope_t    *scope;
    ngx_pool_cleanup_t  *cln;

    if (mmcf->scopes == NULL) {
        mmcf->scopes = ngx_array_create(cf->pool, 4, sizeof(mt_named_scope_t));
        if (mmcf->scopes == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    scope = mmcf->scopes->elts;

    for (i = 0; i < mmcf->scopes->nelts; i++) {
        if (scope[i].name_len == name->len
            && ngx_strncmp(scope[i].name, name->data, name->len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate magic_token_scope \"%V\"", name);
            return NGX_CONF_ERROR;
        }
    }

    scope = ngx_array_push(mmcf->scopes);
    if (scope == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(scope, sizeof(mt_named_scope_t));
    scope->name = (char *) name->data;
    scope->name_len = name->len;

    for (m = MT_MATCH_FULL; m <= MT_MATCH_PREFIX; m++) {
        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            return NGX_CONF_ERROR;
        }

        scope->rules[m] = mt_rules_new((mt_match_mode_t) m);
        if (scope->rules[m] == NULL) {
            return NGX_CONF_ERROR;
        }

        cln->handler = ngx_http_magic_token_check_free_rules;
        cln->data = scope->rules[m];
    }

    return NGX_CONF_OK;
}


static ngx_uint_t
ngx_http_magic_token_check_name_char(u_char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_' || c == '-';
}


static void
ngx_http_magic_token_check_free_rules(void *data)
{
    mt_rules_free(data);
}


/* postconfiguration: the response hook's filter, when there are checks */
ngx_int_t
ngx_http_magic_token_check_init(ngx_conf_t *cf)
{
    ngx_http_magic_token_main_conf_t  *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_magic_token_module);

    if (mmcf->checks == NULL) {
        return NGX_OK;
    }

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_magic_token_check_body_filter;

    return NGX_OK;
}
