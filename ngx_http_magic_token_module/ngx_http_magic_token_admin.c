/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * magic_token_admin zone=name: a JSON API on a zone's revocation list.
 *
 *   GET     the list: {"revocations": [record, ...]}
 *   POST    revoke: a record, {"jti": ..., "until": T}, {"id": ...},
 *           {"sub": ..., "before": B, "until": T}, {"aud": ...}
 *   DELETE  un-revoke: {"jti": ...} (or id, sub, aud)
 *
 * Records are those of the revocations file (mt_core.h).  Every request
 * needs an admin token: one the location's keys verify, with the claim
 * "admin": true, and without a credential ("token" claim): a token that
 * carries a credential never administers.  Errors are JSON:
 * {"error": "...", "detail": "..."}.
 */


#include "ngx_http_magic_token_module.h"


/* a record is at most MT_REVOKE_MAX_LINE; a little room for spaces */
#define NGX_HTTP_MAGIC_TOKEN_ADMIN_MAX_BODY  4096


static ngx_int_t ngx_http_magic_token_admin_handler(ngx_http_request_t *r);
static void ngx_http_magic_token_admin_body(ngx_http_request_t *r);
static mt_err_t ngx_http_magic_token_admin_auth(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, const char **why);
static ngx_int_t ngx_http_magic_token_admin_refuse(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, mt_err_t rc, const char *why);
static ngx_int_t ngx_http_magic_token_admin_list(ngx_http_request_t *r,
    ngx_http_magic_token_zone_t *zone);
static ngx_int_t ngx_http_magic_token_admin_change(ngx_http_request_t *r,
    ngx_http_magic_token_zone_t *zone, ngx_str_t *body);
static ngx_int_t ngx_http_magic_token_admin_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *error, const char *detail);
static ngx_int_t ngx_http_magic_token_admin_send(ngx_http_request_t *r,
    ngx_uint_t status, u_char *data, size_t len);


/* magic_token_admin zone=name */
char *
ngx_http_magic_token_admin(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_magic_token_loc_conf_t *mlcf = conf;

    ngx_str_t                 *value, name;
    ngx_http_core_loc_conf_t  *clcf;

    if (mlcf->admin != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strncmp(value[1].data, "zone=", 5) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\", expected zone=name",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data + 5;
    name.len = value[1].len - 5;

    mlcf->admin = ngx_http_magic_token_revoke_use(cf, &name);
    if (mlcf->admin == NULL) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_magic_token_admin_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_magic_token_admin_handler(ngx_http_request_t *r)
{
    mt_err_t                          err;
    ngx_int_t                         rc;
    const char                       *why;
    ngx_table_elt_t                  *h;
    ngx_http_magic_token_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_magic_token_module);

    /* SSI, mirror, auth_request: never with the client's token */
    if (r != r->main) {
        return ngx_http_magic_token_admin_error(r, NGX_HTTP_FORBIDDEN,
                   "forbidden", "not in a subrequest");
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST
                       |NGX_HTTP_DELETE)))
    {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Allow");
        ngx_str_set(&h->value, "GET, HEAD, POST, DELETE");
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif

        return ngx_http_magic_token_admin_error(r, NGX_HTTP_NOT_ALLOWED,
                   "method_not_allowed", "GET lists, POST revokes, DELETE "
                   "un-revokes");
    }

    /* who asks comes first: nothing is read for a client without a token */
    err = ngx_http_magic_token_admin_auth(r, mlcf, &why);

    if (err == MT_ERR_NOMEM) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (err != MT_OK) {
        return ngx_http_magic_token_admin_refuse(r, mlcf, err, why);
    }

    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
        return ngx_http_magic_token_admin_list(r, mlcf->admin);
    }

    if (r->headers_in.content_length_n > NGX_HTTP_MAGIC_TOKEN_ADMIN_MAX_BODY)
    {
        return ngx_http_magic_token_admin_error(r,
                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "too_large",
                   "a request body is at most 4096 bytes");
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_magic_token_admin_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * MT_OK for an admin token; else why not: MT_ERR_SCOPE_DENIED and *why
 * for a verified token that may not administer, MT_ERR_NOMEM, or the
 * reason the token was refused.
 */
static mt_err_t
ngx_http_magic_token_admin_auth(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, const char **why)
{
    json_t                      *claims;
    mt_err_t                     rc;
    ngx_str_t                    token;
    mt_token_t                  *t;
    ngx_http_magic_token_ctx_t  *ctx;

    *why = NULL;

    if (ngx_http_magic_token_find(r, mlcf, &token) != NGX_OK) {
        return MT_ERR_NOMEM;
    }

    /* a context of its own, not the request's: only for the id */
    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_magic_token_ctx_t));
    if (ctx == NULL) {
        return MT_ERR_NOMEM;
    }

    ctx->raw = token;
    t = &ctx->token;

    if (token.len == 0) {
        return MT_ERR_MISSING;
    }

    if (token.len > mlcf->max_size) {
        return MT_ERR_TOO_LARGE;
    }

    rc = mt_token_verify(t, mlcf->keys, (char *) token.data, token.len,
                         (int64_t) ngx_time(), (int64_t) mlcf->leeway,
                         MT_MATCH_FULL);

    if (rc == MT_OK && mlcf->audiences) {
        rc = mt_claims_check_audience(t->jws.claims, mlcf->aud_names,
                                      mlcf->aud_lens,
                                      mlcf->audiences->nelts);
    }

    if (rc == MT_OK && ngx_http_magic_token_revoked(mlcf->admin, ctx)) {
        rc = MT_ERR_REVOKED;
    }

    if (rc != MT_OK) {
        mt_token_clear(t);
        return rc;
    }

    claims = t->jws.claims;

    if (json_object_get(claims, "token") != NULL) {
        *why = "a token that carries a credential cannot administer";

    } else if (json_object_get(claims, "cnf") != NULL) {
        /* an attenuable or holder-bound token is not checked as such here */
        *why = "a token with a \"cnf\" claim cannot administer";

    } else if (!json_is_true(json_object_get(claims, "admin"))) {
        *why = "the token has no \"admin\": true claim";

    } else {
        *why = NULL;
    }

    mt_token_clear(t);

    if (*why != NULL) {
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "magic_token_admin: refused: %s (token %s)", *why,
                      ngx_http_magic_token_id(ctx));
        return MT_ERR_SCOPE_DENIED;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "magic_token_admin: %V by admin token %s",
                  &r->method_name, ngx_http_magic_token_id(ctx));

    return MT_OK;
}


/* 403 for a token that may not administer, 401 for the others */
static ngx_int_t
ngx_http_magic_token_admin_refuse(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, mt_err_t rc, const char *why)
{
    ngx_table_elt_t  *h;

    if (rc == MT_ERR_SCOPE_DENIED) {
        return ngx_http_magic_token_admin_error(r, NGX_HTTP_FORBIDDEN,
                                                "forbidden", why);
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "magic_token_admin: refused: %s", mt_strerror(rc));

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "WWW-Authenticate");
    h->value = (rc == MT_ERR_MISSING) ? mlcf->challenge
                                      : mlcf->challenge_invalid;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    r->headers_out.www_authenticate = h;

    return ngx_http_magic_token_admin_error(r, NGX_HTTP_UNAUTHORIZED,
               rc == MT_ERR_MISSING ? "unauthorized" : "invalid_token",
               rc == MT_ERR_MISSING ? "an admin token is required"
                                    : mt_strerror(rc));
}


static void
ngx_http_magic_token_admin_body(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_str_t                         body;
    ngx_http_magic_token_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_magic_token_module);

    switch (ngx_http_magic_token_read_body(r,
                       NGX_HTTP_MAGIC_TOKEN_ADMIN_MAX_BODY, &body)) {

    case NGX_OK:
        rc = ngx_http_magic_token_admin_change(r, mlcf->admin, &body);
        break;

    case NGX_DECLINED:
        rc = ngx_http_magic_token_admin_error(r,
                 NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "too_large",
                 "a request body is at most 4096 bytes");
        break;

    default:
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_finalize_request(r, rc);
}


/* POST: revoke; DELETE: un-revoke */
static ngx_int_t
ngx_http_magic_token_admin_change(ngx_http_request_t *r,
    ngx_http_magic_token_zone_t *zone, ngx_str_t *body)
{
    char              errbuf[512], line[MT_REVOKE_MAX_LINE];
    size_t            len;
    u_char           *p;
    mt_err_t          rc;
    ngx_int_t         done;
    ngx_uint_t        add;
    mt_revoke_rec_t   rec;

    add = (r->method == NGX_HTTP_POST);

    rc = mt_revoke_parse(&rec, (char *) body->data, body->len,
                         add ? MT_REVOKE_ADD : MT_REVOKE_REMOVE,
                         (int64_t) ngx_time(), errbuf, sizeof(errbuf));
    if (rc != MT_OK) {
        return ngx_http_magic_token_admin_error(r, NGX_HTTP_BAD_REQUEST,
                                                "bad_request", errbuf);
    }

    done = add ? ngx_http_magic_token_revoke_add(zone, &rec, errbuf,
                                                 sizeof(errbuf))
               : ngx_http_magic_token_revoke_remove(zone, &rec, errbuf,
                                                    sizeof(errbuf));

    if (done == NGX_DECLINED) {
        return add ? ngx_http_magic_token_admin_error(r, 507, "zone_full",
                         "the zone has no room for another revocation")
                   : ngx_http_magic_token_admin_error(r, NGX_HTTP_NOT_FOUND,
                         "not_found", "no such revocation");
    }

    if (done != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "magic_token_admin: revocations file \"%V\": %s",
                      &zone->revocations, errbuf);
        return ngx_http_magic_token_admin_error(r,
                   NGX_HTTP_INTERNAL_SERVER_ERROR, "not_saved",
                   "the revocations file could not be written");
    }

    if (mt_revoke_format(&rec, line, sizeof(line), &len) != MT_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len--;      /* the newline */

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "magic_token_admin: %s %*s", add ? "revoked" : "un-revoked",
                  len, line);

    /* {"revoked":<record>} or {"unrevoked":<record>} */
    p = ngx_pnalloc(r->pool, len + sizeof("{\"unrevoked\":}\n"));
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body->data = p;
    body->len = ngx_sprintf(p, "{\"%s\":%*s}\n",
                            add ? "revoked" : "unrevoked", len, line)
                - p;

    return ngx_http_magic_token_admin_send(r, NGX_HTTP_OK, body->data,
                                           body->len);
}


/* GET: {"revocations":[<record>,...]}, one record a line */
static ngx_int_t
ngx_http_magic_token_admin_list(ngx_http_request_t *r,
    ngx_http_magic_token_zone_t *zone)
{
    char              line[MT_REVOKE_MAX_LINE];
    size_t            len;
    u_char           *p, *start;
    ngx_uint_t        i;
    ngx_array_t      *recs;
    mt_revoke_rec_t  *rec;

    if (ngx_http_magic_token_revoke_all(r, zone, &recs) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    start = ngx_pnalloc(r->pool, sizeof("{\"revocations\":[\n]}\n")
                                 + recs->nelts * (MT_REVOKE_MAX_LINE + 1));
    if (start == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(start, "{\"revocations\":[\n",
                   sizeof("{\"revocations\":[\n") - 1);

    rec = recs->elts;

    for (i = 0; i < recs->nelts; i++) {
        if (mt_revoke_format(&rec[i], line, sizeof(line), &len) != MT_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (i > 0) {
            p[-1] = ',';
            *p++ = '\n';
        }

        p = ngx_cpymem(p, line, len);
    }

    p = ngx_cpymem(p, "]}\n", 3);

    return ngx_http_magic_token_admin_send(r, NGX_HTTP_OK, start, p - start);
}


static ngx_int_t
ngx_http_magic_token_admin_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *error, const char *detail)
{
    char       *s;
    size_t      len;
    u_char     *p;
    json_t     *obj;

    obj = json_pack("{s:s, s:s}", "error", error, "detail", detail);
    s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);

    if (s == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_strlen(s);

    p = ngx_pnalloc(r->pool, len + 1);
    if (p != NULL) {
        ngx_memcpy(p, s, len);
        p[len] = '\n';
    }

    free(s);

    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_magic_token_admin_send(r, status, p, len + 1);
}


static ngx_int_t
ngx_http_magic_token_admin_send(ngx_http_request_t *r, ngx_uint_t status,
    u_char *data, size_t len)
{
    ngx_int_t         rc;
    ngx_buf_t        *b;
    ngx_chain_t       out;
    ngx_table_elt_t  *h;

    /* an error before the body was read: it is discarded */
    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");
    ngx_str_set(&h->value, "no-store");
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only || len == 0) {
        return rc;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->pos, data, len);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
