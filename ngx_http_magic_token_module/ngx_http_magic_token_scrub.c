/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * magic_token_scrub: the credential a request released never comes back
 * in its response.  A header and a body filter, active only when the
 * request's token was decrypted, replace every form of the credential
 * (mt_scrub.c) in the response headers, body and trailers with a marker
 * of the same length, so Content-Length stays right.  A response that
 * cannot be scanned is refused (502) before its header goes out: a
 * Content-Encoding other than identity, a 206; a body buffer that is
 * not in memory ends the response.
 *
 * The body is copied, a slice at a time, into at most
 * NGX_HTTP_MAGIC_TOKEN_SCRUB_BUFS buffers of the filter's own; input is
 * consumed only as they free up, so a slow client holds the upstream
 * back as it would without the filter.
 */

#include "ngx_http_magic_token_module.h"


#define NGX_HTTP_MAGIC_TOKEN_SCRUB_SLICE  8192
#define NGX_HTTP_MAGIC_TOKEN_SCRUB_BUFS   8


typedef struct {
    ngx_flag_t                   enable;
} ngx_http_magic_token_scrub_conf_t;


typedef struct {
    mt_scrub_t                  *scrub;
    ngx_http_magic_token_ctx_t  *token;
    size_t                       size;      /* of an output buffer */
    size_t                       hits;

    ngx_chain_t                 *in;
    ngx_buf_t                   *in_buf;
    ngx_buf_t                   *out_buf;
    ngx_chain_t                 *out;
    ngx_chain_t                **last_out;
    ngx_chain_t                 *free;
    ngx_chain_t                 *busy;
    ngx_uint_t                   bufs;

    unsigned                     done:1;
    unsigned                     nomem:1;
    unsigned                     refused:1;
    unsigned                     logged:1;
} ngx_http_magic_token_scrub_ctx_t;


static ngx_int_t ngx_http_magic_token_scrub_start(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *mctx);
static ngx_int_t ngx_http_magic_token_scrub_refuse(ngx_http_request_t *r,
    ngx_http_magic_token_scrub_ctx_t *ctx, const char *why);
static ngx_int_t ngx_http_magic_token_scrub_headers(ngx_http_request_t *r,
    ngx_http_magic_token_scrub_ctx_t *ctx, ngx_list_t *headers);
static ngx_int_t ngx_http_magic_token_scrub_str(ngx_http_request_t *r,
    ngx_http_magic_token_scrub_ctx_t *ctx, ngx_str_t *s);
static ngx_int_t ngx_http_magic_token_scrub_get_buf(ngx_http_request_t *r,
    ngx_http_magic_token_scrub_ctx_t *ctx);
static ngx_int_t ngx_http_magic_token_scrub_data(ngx_http_request_t *r,
    ngx_http_magic_token_scrub_ctx_t *ctx);
static void ngx_http_magic_token_scrub_log(ngx_http_request_t *r,
    ngx_http_magic_token_scrub_ctx_t *ctx);
static void ngx_http_magic_token_scrub_cleanup(void *data);
static void *ngx_http_magic_token_scrub_create_conf(ngx_conf_t *cf);
static char *ngx_http_magic_token_scrub_merge_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_magic_token_scrub_init(ngx_conf_t *cf);


static ngx_command_t  ngx_http_magic_token_scrub_commands[] = {

    { ngx_string("magic_token_scrub"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_magic_token_scrub_conf_t, enable),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_magic_token_scrub_filter_module_ctx = {
    NULL,                                   /* preconfiguration */
    ngx_http_magic_token_scrub_init,        /* postconfiguration */

    NULL,                                   /* create main configuration */
    NULL,                                   /* init main configuration */

    NULL,                                   /* create server configuration */
    NULL,                                   /* merge server configuration */

    ngx_http_magic_token_scrub_create_conf, /* create location configuration */
    ngx_http_magic_token_scrub_merge_conf   /* merge location configuration */
};


ngx_module_t  ngx_http_magic_token_scrub_filter_module = {
    NGX_MODULE_V1,
    &ngx_http_magic_token_scrub_filter_module_ctx, /* module context */
    ngx_http_magic_token_scrub_commands,    /* module directives */
    NGX_HTTP_MODULE,                        /* module type */
    NULL,                                   /* init master */
    NULL,                                   /* init module */
    NULL,                                   /* init process */
    NULL,                                   /* init thread */
    NULL,                                   /* exit thread */
    NULL,                                   /* exit process */
    NULL,                                   /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_int_t
ngx_http_magic_token_scrub_header_filter(ngx_http_request_t *r)
{
    ngx_int_t                           rc;
    ngx_http_magic_token_ctx_t         *mctx;
    ngx_http_magic_token_scrub_ctx_t   *ctx;
    ngx_http_magic_token_scrub_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r,
                                  ngx_http_magic_token_scrub_filter_module);

    ctx = ngx_http_get_module_ctx(r, ngx_http_magic_token_scrub_filter_module);

    /* our own error page after a refusal */
    if (!conf->enable || ctx != NULL) {
        return ngx_http_next_header_filter(r);
    }

    mctx = ngx_http_magic_token_get_ctx(r);

    if (mctx == NULL || !mctx->decrypted || mctx->token.credential == NULL) {
        return ngx_http_next_header_filter(r);
    }

    rc = ngx_http_magic_token_scrub_start(r, mctx);
    if (rc != NGX_OK) {
        return rc;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_magic_token_scrub_filter_module);

    if (r->headers_out.content_encoding
        && r->headers_out.content_encoding->value.len
        && !(r->headers_out.content_encoding->value.len == 8
             && ngx_strncasecmp(r->headers_out.content_encoding->value.data,
                                (u_char *) "identity", 8) == 0))
    {
        return ngx_http_magic_token_scrub_refuse(r, ctx,
                                                 "an encoded response");
    }

    if (r->headers_out.status == NGX_HTTP_PARTIAL_CONTENT) {
        return ngx_http_magic_token_scrub_refuse(r, ctx, "a 206 response");
    }

    if (ngx_http_magic_token_scrub_headers(r, ctx, &r->headers_out.headers)
        != NGX_OK
        || ngx_http_magic_token_scrub_str(r, ctx,
                                          &r->headers_out.status_line)
           != NGX_OK
        || ngx_http_magic_token_scrub_str(r, ctx,
                                          &r->headers_out.content_type)
           != NGX_OK
        || ngx_http_magic_token_scrub_str(r, ctx, &r->headers_out.charset)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_magic_token_scrub_log(r, ctx);

    /* the body as it goes out: in memory, and no ranges cut from it */
    r->filter_need_in_memory = 1;
    r->allow_ranges = 0;

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_magic_token_scrub_start(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *mctx)
{
    mt_err_t                           rc;
    ngx_pool_cleanup_t                *cln;
    ngx_http_magic_token_scrub_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_magic_token_scrub_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    ctx->token = mctx;
    ctx->last_out = &ctx->out;

    ngx_http_set_ctx(r, ctx, ngx_http_magic_token_scrub_filter_module);

    rc = mt_scrub_new(&ctx->scrub, mctx->token.credential,
                      mctx->token.credential_len);

    if (rc != MT_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "magic_token: scrubbing: %s", mt_strerror(rc));

        return ngx_http_magic_token_scrub_refuse(r, ctx, "this response");
    }

    cln->handler = ngx_http_magic_token_scrub_cleanup;
    cln->data = ctx->scrub;

    ctx->size = mt_scrub_out_max(ctx->scrub,
                                 NGX_HTTP_MAGIC_TOKEN_SCRUB_SLICE);

    return NGX_OK;
}


/* fail closed: a 502 of our own instead of what cannot be scanned */
static ngx_int_t
ngx_http_magic_token_scrub_refuse(ngx_http_request_t *r,
    ngx_http_magic_token_scrub_ctx_t *ctx, const char *why)
{
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "magic_token: cannot scrub the credential from %s, "
                  "response refused, token \"%s\"",
                  why, ngx_http_magic_token_id(ctx->token));

    ctx->refused = 1;
    ctx->done = 1;

    return ngx_http_filter_finalize_request(r,
                                    &ngx_http_magic_token_scrub_filter_module,
                                    NGX_HTTP_BAD_GATEWAY);
}


static ngx_int_t
ngx_http_magic_token_scrub_headers(ngx_http_request_t *r,
    ngx_http_magic_token_scrub_ctx_t *ctx, ngx_list_t *headers)
{
    ngx_uint_t        i;
    ngx_table_elt_t  *h;
    ngx_list_part_t  *part;

    part = &headers->part;
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

        if (ngx_http_magic_token_scrub_str(r, ctx, &h[i].key) != NGX_OK
            || ngx_http_magic_token_scrub_str(r, ctx, &h[i].value) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * Values may point into the configuration (add_header with a constant):
 * never changed in place, a scrubbed copy replaces one that matches.
 */
static ngx_int_t
ngx_http_magic_token_scrub_str(ngx_http_request_t *r,
    ngx_http_magic_token_scrub_ctx_t *ctx, ngx_str_t *s)
{
    u_char  *p;

    if (s->len == 0
        || mt_scrub_count(ctx->scrub, s->data, s->len) == 0)
    {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, s->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, s->data, s->len);

    ctx->hits += mt_scrub_buffer(ctx->scrub, p, s->len);
    s->data = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_magic_token_scrub_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in)
{
    ngx_int_t                          rc;
    ngx_uint_t                         flush;
    ngx_chain_t                       *cl;
    ngx_http_magic_token_scrub_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_magic_token_scrub_filter_module);

    if (ctx == NULL || ctx->refused || (ctx->done && ctx->busy == NULL)) {
        return ngx_http_next_body_filter(r, in);
    }

    if (in && ngx_chain_add_copy(r->pool, &ctx->in, in) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx->nomem) {

        /* send what is busy, then see what is free */

        if (ngx_http_next_body_filter(r, NULL) == NGX_ERROR) {
            return NGX_ERROR;
        }

        cl = NULL;

        ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy, &cl,
                    (ngx_buf_tag_t) &ngx_http_magic_token_scrub_filter_module);
        ctx->nomem = 0;
        flush = 0;

    } else {
        flush = ctx->busy ? 1 : 0;
    }

    for ( ;; ) {

        while (ctx->in_buf != NULL || ctx->in != NULL) {

            if (ctx->in_buf == NULL) {
                ctx->in_buf = ctx->in->buf;
                ctx->in = ctx->in->next;
            }

            rc = ngx_http_magic_token_scrub_get_buf(r, ctx);

            if (rc == NGX_DECLINED) {
                break;
            }

            if (rc == NGX_ERROR
                || ngx_http_magic_token_scrub_data(r, ctx) != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        ngx_http_magic_token_scrub_log(r, ctx);

        if (ctx->out == NULL && !flush) {
            return ctx->busy ? NGX_AGAIN : NGX_OK;
        }

        rc = ngx_http_next_body_filter(r, ctx->out);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy, &ctx->out,
                    (ngx_buf_tag_t) &ngx_http_magic_token_scrub_filter_module);
        ctx->last_out = &ctx->out;

        ctx->nomem = 0;
        flush = 0;

        if (ctx->done) {
            return rc;
        }
    }
}


static ngx_int_t
ngx_http_magic_token_scrub_get_buf(ngx_http_request_t *r,
    ngx_http_magic_token_scrub_ctx_t *ctx)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (ctx->out_buf) {
        return NGX_OK;
    }

    if (ctx->free) {
        cl = ctx->free;
        b = cl->buf;
        ctx->free = cl->next;
        ngx_free_chain(r->pool, cl);

    } else if (ctx->bufs < NGX_HTTP_MAGIC_TOKEN_SCRUB_BUFS) {
        b = ngx_create_temp_buf(r->pool, ctx->size);
        if (b == NULL) {
            return NGX_ERROR;
        }

        b->tag = (ngx_buf_tag_t) &ngx_http_magic_token_scrub_filter_module;
        b->recycled = 1;
        ctx->bufs++;

    } else {
        ctx->nomem = 1;
        return NGX_DECLINED;
    }

    b->pos = b->start;
    b->last = b->start;
    b->temporary = 1;
    b->flush = 0;
    b->sync = 0;
    b->last_buf = 0;
    b->last_in_chain = 0;

    ctx->out_buf = b;

    return NGX_OK;
}


/* a slice of in_buf into out_buf; its flags with its last slice */
static ngx_int_t
ngx_http_magic_token_scrub_data(ngx_http_request_t *r,
    ngx_http_magic_token_scrub_ctx_t *ctx)
{
    size_t        size, n, len;
    ngx_buf_t    *in, *b;
    ngx_uint_t    last;
    ngx_chain_t  *cl;

    in = ctx->in_buf;
    b = ctx->out_buf;

    if (in->in_file && !ngx_buf_in_memory(in)) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "magic_token: a response buffer not in memory cannot "
                      "be scrubbed, response cut, token \"%s\"",
                      ngx_http_magic_token_id(ctx->token));
        return NGX_ERROR;
    }

    size = ngx_buf_in_memory(in) ? (size_t) (in->last - in->pos) : 0;
    n = ngx_min(size, NGX_HTTP_MAGIC_TOKEN_SCRUB_SLICE);
    last = (in->last_buf || in->last_in_chain) && n == size;

    if (mt_scrub_feed(ctx->scrub, in->pos, n, last, b->last, &len,
                      &ctx->hits)
        != MT_OK)
    {
        return NGX_ERROR;
    }

    b->last += len;
    in->pos += n;

    if (n == size) {
        b->flush = in->flush;
        b->sync = in->sync;
        b->last_buf = in->last_buf;
        b->last_in_chain = in->last_in_chain;

        if (in->in_file) {
            in->file_pos = in->file_last;
        }

        ctx->in_buf = NULL;
        ctx->done = last;

        if (last && r == r->main && r->headers_out.trailers.part.elts
            && ngx_http_magic_token_scrub_headers(r, ctx,
                                                  &r->headers_out.trailers)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (len == 0) {
        if (!b->flush && !b->sync && !b->last_buf && !b->last_in_chain) {
            return NGX_OK;          /* out_buf stays for the next slice */
        }

        b->temporary = 0;           /* a special buffer */
    }

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    cl->next = NULL;
    *ctx->last_out = cl;
    ctx->last_out = &cl->next;
    ctx->out_buf = NULL;

    return NGX_OK;
}


static void
ngx_http_magic_token_scrub_log(ngx_http_request_t *r,
    ngx_http_magic_token_scrub_ctx_t *ctx)
{
    if (ctx->hits == 0 || ctx->logged) {
        return;
    }

    ctx->logged = 1;

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "magic_token: the upstream sent the credential back, "
                  "replaced in the response, token \"%s\"",
                  ngx_http_magic_token_id(ctx->token));
}


static void
ngx_http_magic_token_scrub_cleanup(void *data)
{
    mt_scrub_free(data);
}


static void *
ngx_http_magic_token_scrub_create_conf(ngx_conf_t *cf)
{
    ngx_http_magic_token_scrub_conf_t  *conf;

    conf = ngx_palloc(cf->pool, sizeof(ngx_http_magic_token_scrub_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->enable = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_magic_token_scrub_merge_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_magic_token_scrub_conf_t  *prev = parent;
    ngx_http_magic_token_scrub_conf_t  *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_magic_token_scrub_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_magic_token_scrub_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_magic_token_scrub_body_filter;

    return NGX_OK;
}
