/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * magic_token_mcp: MCP tool, resource and prompt scopes (docs/mcp.md).
 * Once a token passed its ordinary scopes, the JSON-RPC body of a POST
 * is read into memory (bounded) and checked (mt_mcp.c) against the
 * token's "mcp" claim and the magic_token_mcp_scope entries of the
 * scopes it names; a refusal is a JSON-RPC error the client can show.
 * The body that proxy_pass forwards is the one that was checked.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_magic_token_module.h"


typedef struct {
    ngx_str_t                         name;
    mt_rules_t                       *rules;
    u_char                           *file;
    ngx_uint_t                        line;
} ngx_http_magic_token_mcp_scope_t;


typedef struct {
    ngx_http_magic_token_loc_conf_t  *mlcf;     /* location checked */
    ngx_int_t                         status;   /* NGX_OK or HTTP status */
    unsigned                          done:1;
    mt_mcp_verdict_t                  verdict;
    mt_rules_t                      **rules;    /* [0]: the claim's */
    ngx_uint_t                        nslots;   /* some NULL */
    ngx_uint_t                        nrules;   /* not NULL */
} ngx_http_magic_token_mcp_ctx_t;


static ngx_int_t ngx_http_magic_token_mcp_start(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx,
    ngx_http_magic_token_mcp_ctx_t *mctx);
static ngx_int_t ngx_http_magic_token_mcp_rules(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_http_magic_token_mcp_ctx_t *mctx);
static size_t ngx_http_magic_token_mcp_max_body(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf);
static void ngx_http_magic_token_mcp_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_magic_token_mcp_check(ngx_http_request_t *r,
    ngx_http_magic_token_mcp_ctx_t *mctx);
static ngx_int_t ngx_http_magic_token_mcp_refuse(
    ngx_http_magic_token_mcp_ctx_t *mctx, ngx_int_t status,
    const char *message);
static ngx_int_t ngx_http_magic_token_mcp_verdict(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_http_magic_token_mcp_ctx_t *mctx);
static void ngx_http_magic_token_mcp_free(void *data);


static ngx_str_t  ngx_http_magic_token_mcp_type =
    ngx_string("application/json");


/* magic_token_mcp on | off [max_body=size] */
char *
ngx_http_magic_token_mcp_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_magic_token_loc_conf_t *mlcf = conf;

    ssize_t     size;
    ngx_str_t  *value, s;

    if (mlcf->mcp != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "on") == 0) {
        mlcf->mcp = 1;

    } else if (ngx_strcmp(value[1].data, "off") == 0) {
        mlcf->mcp = 0;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"magic_token_mcp\", "
                           "it must be \"on\" or \"off\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[2].data, "max_body=", 9) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"magic_token_mcp\"",
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    s.data = value[2].data + 9;
    s.len = value[2].len - 9;

    size = ngx_parse_size(&s);

    if (size <= 0 || size > MT_MCP_MAX_BODY) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"max_body\" \"%V\" in "
                           "\"magic_token_mcp\", it must be 1 to %d bytes",
                           &s, MT_MCP_MAX_BODY);
        return NGX_CONF_ERROR;
    }

    mlcf->mcp_max_body = (size_t) size;

    return NGX_CONF_OK;
}


/*
 * The body is checked in memory only: max_body, when given, may not
 * exceed the location's client_body_buffer_size, its default.
 */
char *
ngx_http_magic_token_mcp_merge(ngx_conf_t *cf,
    ngx_http_magic_token_loc_conf_t *prev,
    ngx_http_magic_token_loc_conf_t *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    ngx_conf_merge_value(conf->mcp, prev->mcp, 0);
    ngx_conf_merge_size_value(conf->mcp_max_body, prev->mcp_max_body, 0);

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (conf->mcp && conf->mcp_max_body > clcf->client_body_buffer_size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"magic_token_mcp\" max_body=%uz is larger than "
                           "client_body_buffer_size %uz: bodies are "
                           "checked in memory, raise "
                           "client_body_buffer_size",
                           conf->mcp_max_body,
                           clcf->client_body_buffer_size);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* max_body, or the location's client_body_buffer_size */
static size_t
ngx_http_magic_token_mcp_max_body(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf)
{
    ngx_http_core_loc_conf_t  *clcf;

    if (mlcf->mcp_max_body) {
        return mlcf->mcp_max_body;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    return ngx_min(clcf->client_body_buffer_size, MT_MCP_MAX_BODY);
}


/* magic_token_mcp_scope name "tool regex" "resource regex" ... */
char *
ngx_http_magic_token_mcp_scope(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_magic_token_main_conf_t *mmcf = conf;

    char                               errbuf[NGX_MAX_CONF_ERRSTR];
    ngx_str_t                         *value;
    ngx_uint_t                         i;
    ngx_pool_cleanup_t                *cln;
    ngx_http_magic_token_mcp_scope_t  *scope;

    value = cf->args->elts;

    if (mmcf->mcp_scopes == NULL) {
        mmcf->mcp_scopes = ngx_array_create(cf->pool, 4,
                                    sizeof(ngx_http_magic_token_mcp_scope_t));
        if (mmcf->mcp_scopes == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    scope = mmcf->mcp_scopes->elts;

    for (i = 0; i < mmcf->mcp_scopes->nelts; i++) {
        if (scope[i].name.len == value[1].len
            && ngx_strncmp(scope[i].name.data, value[1].data, value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate magic_token_mcp_scope \"%V\"",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    scope = ngx_array_push(mmcf->mcp_scopes);
    if (scope == NULL) {
        return NGX_CONF_ERROR;
    }

    scope->name = value[1];
    scope->file = cf->conf_file->file.name.data;
    scope->line = cf->conf_file->line;

    scope->rules = mt_rules_new(MT_MATCH_FULL);
    if (scope->rules == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_magic_token_mcp_free;
    cln->data = scope->rules;

    for (i = 2; i < cf->args->nelts; i++) {
        errbuf[0] = '\0';

        if (mt_mcp_rules_add(scope->rules, (char *) value[i].data,
                             value[i].len, errbuf, sizeof(errbuf))
            != MT_OK)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "magic_token_mcp_scope \"%V\": %s",
                               &value[1], errbuf);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* each magic_token_mcp_scope adds to a magic_token_scope of its name */
ngx_int_t
ngx_http_magic_token_mcp_init(ngx_conf_t *cf)
{
    ngx_uint_t                         i, j;
    mt_named_scope_t                  *named;
    ngx_http_magic_token_mcp_scope_t  *scope;
    ngx_http_magic_token_main_conf_t  *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_magic_token_module);

    if (mmcf->mcp_scopes == NULL) {
        return NGX_OK;
    }

    scope = mmcf->mcp_scopes->elts;

    for (i = 0; i < mmcf->mcp_scopes->nelts; i++) {
        named = mmcf->scopes ? mmcf->scopes->elts : NULL;

        for (j = 0; mmcf->scopes && j < mmcf->scopes->nelts; j++) {
            if (named[j].name_len == scope[i].name.len
                && ngx_strncmp(named[j].name, scope[i].name.data,
                               scope[i].name.len) == 0)
            {
                break;
            }
        }

        if (mmcf->scopes == NULL || j == mmcf->scopes->nelts) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "magic_token_mcp_scope \"%V\" in %s:%ui has no "
                          "magic_token_scope of that name (it holds the "
                          "HTTP entries, such as \"POST /mcp\")",
                          &scope[i].name, scope[i].file, scope[i].line);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * After the ordinary scopes passed: NGX_OK lets the request go on;
 * NGX_DONE when the body is being read or a refusal was sent; an HTTP
 * status on an internal error.
 */
ngx_int_t
ngx_http_magic_token_mcp(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx)
{
    ngx_int_t                        rc;
    ngx_http_magic_token_mcp_ctx_t  *mctx;

    if (!mlcf->mcp) {
        return NGX_OK;
    }

    if (r != r->main) {
        /* a subrequest has no body of its own to check */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "magic_token: magic_token_mcp in a subrequest");
        return NGX_HTTP_FORBIDDEN;
    }

    mctx = ctx->mcp;

    if (mctx != NULL && mctx->mlcf == mlcf && mctx->done) {
        return ngx_http_magic_token_mcp_verdict(r, ctx, mctx);
    }

    if (mctx == NULL) {
        mctx = ngx_pcalloc(r->pool, sizeof(ngx_http_magic_token_mcp_ctx_t));
        if (mctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->mcp = mctx;
    }

    /* another location (an internal redirect) may check another token */
    mctx->mlcf = mlcf;
    mctx->done = 0;
    mctx->rules = NULL;
    mctx->nslots = 0;
    mctx->nrules = 0;

    rc = ngx_http_magic_token_mcp_start(r, mlcf, ctx, mctx);

    if (rc != NGX_AGAIN) {
        mctx->done = 1;
        mctx->status = rc;
        return ngx_http_magic_token_mcp_verdict(r, ctx, mctx);
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_magic_token_mcp_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    ngx_http_finalize_request(r, NGX_DONE);

    return NGX_DONE;
}


/* what is decided before the body: NGX_AGAIN reads it */
static ngx_int_t
ngx_http_magic_token_mcp_start(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx,
    ngx_http_magic_token_mcp_ctx_t *mctx)
{
    ngx_int_t         rc;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (ctx->chain != NULL) {
        /* a link cannot narrow MCP entries yet: not its root's rights */
        return ngx_http_magic_token_mcp_refuse(mctx, NGX_HTTP_FORBIDDEN,
                   "magic_token: attenuated tokens are not accepted here");
    }

    rc = ngx_http_magic_token_mcp_rules(r, ctx, mctx);
    if (rc != NGX_OK) {
        return rc;
    }

    if (mctx->nrules == 0) {
        return ngx_http_magic_token_mcp_refuse(mctx, NGX_HTTP_FORBIDDEN,
                   "magic_token: the token has no MCP entries");
    }

    /* GET: the server's SSE stream; DELETE: the end of the session */
    if (r->method & (NGX_HTTP_GET|NGX_HTTP_DELETE)) {
        if (r->headers_in.content_length_n > 0 || r->headers_in.chunked) {
            return ngx_http_magic_token_mcp_refuse(mctx, NGX_HTTP_BAD_REQUEST,
                       "magic_token: unexpected request body");
        }

        return NGX_OK;
    }

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_magic_token_mcp_refuse(mctx, NGX_HTTP_NOT_ALLOWED,
                   "magic_token: method not allowed at an MCP endpoint");
    }

    /* the server could decode what we cannot read */
    part = &r->headers_in.headers.part;
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

        if (h[i].key.len == sizeof("Content-Encoding") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Content-Encoding",
                               sizeof("Content-Encoding") - 1) == 0)
        {
            return ngx_http_magic_token_mcp_refuse(mctx,
                       NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                       "magic_token: encoded request bodies are refused");
        }
    }

    if (r->headers_in.content_length_n
        > (off_t) ngx_http_magic_token_mcp_max_body(r, mlcf))
    {
        return ngx_http_magic_token_mcp_refuse(mctx,
                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                   "magic_token: request too large");
    }

    return NGX_AGAIN;
}


/* the claim's entries, then those of the named scopes with some */
static ngx_int_t
ngx_http_magic_token_mcp_rules(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_http_magic_token_mcp_ctx_t *mctx)
{
    size_t                             i, n;
    json_t                            *v, *claims;
    mt_err_t                           rc;
    ngx_uint_t                         j;
    mt_rules_t                        *claim;
    ngx_pool_cleanup_t                *cln;
    ngx_http_magic_token_mcp_scope_t  *scope;
    ngx_http_magic_token_main_conf_t  *mmcf;

    if (mctx->rules != NULL) {
        return NGX_OK;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_magic_token_module);

    n = 1 + (ctx->token.scopes ? json_array_size(ctx->token.scopes) : 0);

    mctx->rules = ngx_pcalloc(r->pool, n * sizeof(mt_rules_t *));
    if (mctx->rules == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    mctx->nslots = n;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    claims = ngx_http_magic_token_claims(ctx);
    if (claims == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = mt_mcp_claim(claims, &claim);

    if (rc != MT_OK) {
        ctx->error = rc;
        return rc == MT_ERR_NOMEM
               ? NGX_HTTP_INTERNAL_SERVER_ERROR
               : ngx_http_magic_token_mcp_refuse(mctx, NGX_HTTP_FORBIDDEN,
                     "magic_token: the token's MCP entries are invalid");
    }

    mctx->rules[0] = claim;
    mctx->nrules = claim ? 1 : 0;

    cln->handler = ngx_http_magic_token_mcp_free;
    cln->data = claim;

    if (ctx->token.scopes == NULL || mmcf->mcp_scopes == NULL) {
        return NGX_OK;
    }

    scope = mmcf->mcp_scopes->elts;

    json_array_foreach(ctx->token.scopes, i, v) {
        for (j = 0; j < mmcf->mcp_scopes->nelts; j++) {
            if (scope[j].name.len == json_string_length(v)
                && ngx_strncmp(scope[j].name.data, json_string_value(v),
                               scope[j].name.len) == 0)
            {
                mctx->rules[1 + i] = scope[j].rules;
                mctx->nrules++;
            }
        }
    }

    return NGX_OK;
}


static void
ngx_http_magic_token_mcp_body(ngx_http_request_t *r)
{
    ngx_http_magic_token_ctx_t      *ctx;
    ngx_http_magic_token_mcp_ctx_t  *mctx;

    ctx = ngx_http_magic_token_get_ctx(r);

    if (ctx != NULL && ctx->mcp != NULL) {
        mctx = ctx->mcp;
        mctx->status = ngx_http_magic_token_mcp_check(r, mctx);
        mctx->done = 1;
    }

    /* the phases run again: the handler finds the verdict */
    r->preserve_body = 1;
    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


/* the body, in memory and whole, against the rules */
static ngx_int_t
ngx_http_magic_token_mcp_check(ngx_http_request_t *r,
    ngx_http_magic_token_mcp_ctx_t *mctx)
{
    u_char       *p, *q;
    size_t        len, max;
    mt_err_t      rc;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    max = ngx_http_magic_token_mcp_max_body(r, mctx->mlcf);
    len = 0;

    if (r->request_body == NULL || r->request_body->temp_file) {
        goto too_large;
    }

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            goto too_large;
        }

        if (!ngx_buf_in_memory(b)) {
            if (ngx_buf_special(b)) {
                continue;       /* the chunked body's last_buf */
            }

            goto too_large;
        }

        len += b->last - b->pos;

        if (len > max) {
            goto too_large;
        }
    }

    cl = r->request_body->bufs;

    if (cl != NULL && ngx_buf_in_memory(cl->buf)
        && (size_t) (cl->buf->last - cl->buf->pos) == len)
    {
        p = cl->buf->pos;       /* all of it in the first buffer */

    } else {
        p = ngx_pnalloc(r->pool, len ? len : 1);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        q = p;

        for ( /* void */ ; cl; cl = cl->next) {
            if (ngx_buf_in_memory(cl->buf)) {
                q = ngx_cpymem(q, cl->buf->pos,
                               cl->buf->last - cl->buf->pos);
            }
        }
    }

    rc = mt_mcp_check((const mt_rules_t *const *) mctx->rules,
                      mctx->nslots, (char *) p, len, &mctx->verdict);

    switch (rc) {

    case MT_OK:
        return NGX_OK;

    case MT_ERR_SCOPE_DENIED:
        return NGX_HTTP_FORBIDDEN;

    case MT_ERR_TOO_LARGE:
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;

    case MT_ERR_MALFORMED:
        return NGX_HTTP_BAD_REQUEST;

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

too_large:

    return ngx_http_magic_token_mcp_refuse(mctx,
               NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
               "magic_token: request too large");
}


static ngx_int_t
ngx_http_magic_token_mcp_refuse(ngx_http_magic_token_mcp_ctx_t *mctx,
    ngx_int_t status, const char *message)
{
    ngx_memzero(&mctx->verdict, sizeof(mt_mcp_verdict_t));

    mctx->verdict.code = MT_MCP_FORBIDDEN;
    mctx->verdict.message = message;
    ngx_memcpy(mctx->verdict.id, "null", 4);
    mctx->verdict.id_len = 4;

    if (status == NGX_HTTP_BAD_REQUEST
        || status == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE
        || status == NGX_HTTP_UNSUPPORTED_MEDIA_TYPE)
    {
        mctx->verdict.code = MT_MCP_INVALID_REQUEST;
    }

    return status;
}


/* NGX_OK, or the refusal sent as a JSON-RPC error (NGX_DONE) */
static ngx_int_t
ngx_http_magic_token_mcp_verdict(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_http_magic_token_mcp_ctx_t *mctx)
{
    size_t        len;
    u_char        text[256 + MT_MCP_MAX_ID_LEN];
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    if (mctx->status == NGX_OK) {
        return NGX_OK;
    }

    if (mctx->status == NGX_HTTP_INTERNAL_SERVER_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_error(mctx->mlcf->log_level, r->connection->log, 0,
                  "magic_token: MCP request refused: %s (token %s)",
                  mctx->verdict.message, ngx_http_magic_token_id(ctx));

    if (ctx->error != MT_ERR_INVALID_CLAIMS) {
        ctx->error = MT_ERR_SCOPE_DENIED;
    }

    len = mt_mcp_error_body(&mctx->verdict, (char *) text, sizeof(text));

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL || len == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, text, len);
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    r->headers_out.status = mctx->status;
    r->headers_out.content_length_n = len;
    r->headers_out.content_type = ngx_http_magic_token_mcp_type;
    r->headers_out.content_type_len = ngx_http_magic_token_mcp_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc != NGX_ERROR && rc <= NGX_OK && !r->header_only) {
        rc = ngx_http_output_filter(r, &out);
    }

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


static void
ngx_http_magic_token_mcp_free(void *data)
{
    mt_rules_free(data);
}
