/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * magic_token_metrics and magic_token_status: requests counted by label
 * and outcome in a magic_token_zone, shown with the zone's own counters
 * in the Prometheus text exposition format, version 0.0.4.
 *
 * A label names the requests of the locations magic_token_metrics gives
 * it to.  Every label of a zone is known when the configuration is read:
 * the zone's init (ngx_http_magic_token_status_init_zone) finds or makes
 * a node in the zone for each, a fixed array of counters: one for allowed
 * requests and one per refusal reason (mt_err_t).  The log phase adds one
 * to a counter with ngx_atomic_fetch_add(): no lock, no allocation.
 *
 * Nodes are found by name: a reload that keeps the zone gives a label
 * that is still configured the node it had, so its counts go on, and the
 * old workers still finishing their requests add to the same node.  A
 * node is never freed, since old workers may still add to it; when the
 * zone is full, the node of a label no longer configured is reused, from
 * zero, for a new label.
 */


#include "ngx_http_magic_token_module.h"


/* a counter per mt_err_t: [MT_OK] counts the allowed requests */
#define NGX_HTTP_MAGIC_TOKEN_STATUS_REASONS  (MT_ERR_INTERNAL + 1)
#define NGX_HTTP_MAGIC_TOKEN_LABEL_LEN       64
#define NGX_HTTP_MAGIC_TOKEN_LABELS_MAX      256     /* per zone */

/* the longest exposition line, less the zone name and the value */
#define NGX_HTTP_MAGIC_TOKEN_STATUS_LINE                                     \
    (64 + sizeof("{zone=\"\",label=\"\",reason=\"\"} \n")                      \
     + NGX_HTTP_MAGIC_TOKEN_LABEL_LEN + 32)


typedef struct {
    ngx_queue_t                 queue;
    ngx_uint_t                  generation;    /* the init that claimed it */
    ngx_atomic_t                requests[NGX_HTTP_MAGIC_TOKEN_STATUS_REASONS];
    size_t                      len;
    u_char                      name[NGX_HTTP_MAGIC_TOKEN_LABEL_LEN];
} ngx_http_magic_token_status_node_t;


/* in the zone: zone->sh->status */
typedef struct {
    ngx_queue_t                 nodes;
    ngx_uint_t                  generation;
} ngx_http_magic_token_status_sh_t;


typedef struct {
    ngx_str_t                            name;   /* empty: no label= */
    ngx_http_magic_token_status_node_t  *node;   /* set by the zone's init */
} ngx_http_magic_token_status_label_t;


/* configuration time: zone->status_conf */
typedef struct {
    ngx_array_t                 labels;  /* of ..._status_label_t * */
} ngx_http_magic_token_status_zone_t;


typedef struct {
    ngx_uint_t                  labels;  /* magic_token_metrics in use */
    u_char                     *file;    /* the first magic_token_status */
    ngx_uint_t                  line;
} ngx_http_magic_token_status_main_conf_t;


typedef struct {
    ngx_http_magic_token_status_label_t  *label;  /* NULL: off */
} ngx_http_magic_token_status_loc_conf_t;


typedef struct {
    char                       *name;
    char                       *type;
    char                       *help;
} ngx_http_magic_token_status_metric_t;


static ngx_int_t ngx_http_magic_token_status_handler(ngx_http_request_t *r);
static ngx_buf_t *ngx_http_magic_token_status_page(ngx_http_request_t *r);
static u_char *ngx_http_magic_token_status_head(u_char *p,
    ngx_http_magic_token_status_metric_t *m);
static u_char *ngx_http_magic_token_status_requests(u_char *p,
    ngx_http_magic_token_zone_t **zones, ngx_str_t *names, ngx_uint_t n);
static u_char *ngx_http_magic_token_status_stats(u_char *p,
    ngx_http_magic_token_zone_t **zones, ngx_str_t *names, ngx_uint_t n);
static u_char *ngx_http_magic_token_status_usage(u_char *p,
    ngx_http_magic_token_zone_t **zones, ngx_str_t *names, ngx_uint_t n);
static ngx_int_t ngx_http_magic_token_status_escape(ngx_pool_t *pool,
    ngx_str_t *src, ngx_str_t *dst);
static ngx_int_t ngx_http_magic_token_status_log_handler(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_magic_token_status_nodes(
    ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_status_zone_t *szone);
static ngx_http_magic_token_status_node_t *
    ngx_http_magic_token_status_node(ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_status_sh_t *sh);

static ngx_http_magic_token_status_label_t *
    ngx_http_magic_token_status_label(ngx_conf_t *cf,
    ngx_http_magic_token_zone_t *zone, ngx_str_t *name);
static void *ngx_http_magic_token_status_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_magic_token_status_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_magic_token_status_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_magic_token_status_init(ngx_conf_t *cf);
static char *ngx_http_magic_token_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_magic_token_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_http_magic_token_status_commands[] = {

    { ngx_string("magic_token_metrics"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_magic_token_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("magic_token_status"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_magic_token_status,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_magic_token_status_module_ctx = {
    NULL,                                   /* preconfiguration */
    ngx_http_magic_token_status_init,       /* postconfiguration */

    ngx_http_magic_token_status_create_main_conf,
                                            /* create main configuration */
    NULL,                                   /* init main configuration */

    NULL,                                   /* create server configuration */
    NULL,                                   /* merge server configuration */

    ngx_http_magic_token_status_create_loc_conf,
                                            /* create location configuration */
    ngx_http_magic_token_status_merge_loc_conf
                                            /* merge location configuration */
};


ngx_module_t  ngx_http_magic_token_status_module = {
    NGX_MODULE_V1,
    &ngx_http_magic_token_status_module_ctx, /* module context */
    ngx_http_magic_token_status_commands,   /* module directives */
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


static ngx_http_magic_token_status_metric_t  ngx_http_magic_token_allowed = {
    "magic_token_requests_allowed_total", "counter",
    "Requests the module allowed, by zone and label."
};


static ngx_http_magic_token_status_metric_t  ngx_http_magic_token_refused = {
    "magic_token_requests_refused_total", "counter",
    "Requests the module refused, by zone, label and reason "
    "($magic_token_error)."
};


/* the zone-wide counters, in the order of ngx_http_magic_token_stat_e */
static ngx_http_magic_token_status_metric_t
    ngx_http_magic_token_status_stat[NGX_HTTP_MAGIC_TOKEN_STAT_N] = {
    { "magic_token_cache_hits_total", "counter",
      "Tokens found in the shared cache." },
    { "magic_token_cache_misses_total", "counter",
      "Tokens looked up in the shared cache and not found." },
    { "magic_token_cache_stores_total", "counter",
      "Tokens stored in the shared cache." },
    { "magic_token_cache_evictions_total", "counter",
      "Entries evicted from the shared cache to make room." },
    { "magic_token_cache_entries", "gauge",
      "Entries in the shared cache." },
    { "magic_token_revoked_requests_total", "counter",
      "Requests refused because their token is revoked." },
    { "magic_token_revocations", "gauge",
      "Tokens in the revocation list." },
    { "magic_token_grants_made_total", "counter",
      "Grants made." },
    { "magic_token_grants_used_total", "counter",
      "Requests allowed by a grant." },
    { "magic_token_grants", "gauge",
      "Grants live in the zone." },
    { "magic_token_checks_total", "counter",
      "External checks made." },
    { "magic_token_zone_full_total", "counter",
      "Allocations refused because the zone was full." },
    { "magic_token_cache_verified_total", "counter",
      "Tokens verified and decrypted in full by locations with a shared "
      "cache." }
};


static ngx_http_magic_token_status_metric_t  ngx_http_magic_token_usage[] = {
    { "magic_token_zone_size_bytes", "gauge",
      "Size of the shared memory zone." },
    { "magic_token_zone_pages", "gauge",
      "Slab pages of the zone." },
    { "magic_token_zone_used_pages", "gauge",
      "Slab pages of the zone in use." },
    { "magic_token_zone_used_bytes", "gauge",
      "Bytes of the zone in use (pages in use times the page size)." }
};


static ngx_str_t  ngx_http_magic_token_status_type =
    ngx_string("text/plain; version=0.0.4");


/* ---- the status page ---------------------------------------------- */


static ngx_int_t
ngx_http_magic_token_status_handler(ngx_http_request_t *r)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    r->headers_out.content_type = ngx_http_magic_token_status_type;
    r->headers_out.content_type_len = ngx_http_magic_token_status_type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (r->method == NGX_HTTP_HEAD) {
        r->headers_out.status = NGX_HTTP_OK;

        rc = ngx_http_send_header(r);

        if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
            return rc;
        }
    }

    b = ngx_http_magic_token_status_page(r);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, &out);
}


static ngx_buf_t *
ngx_http_magic_token_status_page(ngx_http_request_t *r)
{
    u_char                              *p;
    size_t                               len, line;
    ngx_buf_t                           *b;
    ngx_str_t                           *names;
    ngx_uint_t                           i, n, labels;
    ngx_http_magic_token_zone_t        **zones;
    ngx_http_magic_token_status_zone_t  *szone;
    ngx_http_magic_token_main_conf_t    *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_magic_token_module);

    zones = mmcf->zones ? mmcf->zones->elts : NULL;
    n = mmcf->zones ? mmcf->zones->nelts : 0;

    names = ngx_palloc(r->pool, (n + 1) * sizeof(ngx_str_t));
    if (names == NULL) {
        return NULL;
    }

    /* the family heads, at most 512 bytes each */
    len = (2 + NGX_HTTP_MAGIC_TOKEN_STAT_N + 4) * 512;

    for (i = 0; i < n; i++) {
        if (ngx_http_magic_token_status_escape(r->pool, &zones[i]->name,
                                               &names[i])
            != NGX_OK)
        {
            return NULL;
        }

        szone = zones[i]->status_conf;
        labels = szone ? szone->labels.nelts : 0;

        line = NGX_HTTP_MAGIC_TOKEN_STATUS_LINE + names[i].len
               + NGX_ATOMIC_T_LEN;

        len += (labels * NGX_HTTP_MAGIC_TOKEN_STATUS_REASONS
                + NGX_HTTP_MAGIC_TOKEN_STAT_N + 4) * line;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    p = b->last;

    p = ngx_http_magic_token_status_requests(p, zones, names, n);
    p = ngx_http_magic_token_status_stats(p, zones, names, n);
    p = ngx_http_magic_token_status_usage(p, zones, names, n);

    b->last = p;

    return b;
}


static u_char *
ngx_http_magic_token_status_head(u_char *p,
    ngx_http_magic_token_status_metric_t *m)
{
    return ngx_sprintf(p, "# HELP %s %s\n# TYPE %s %s\n",
                       m->name, m->help, m->name, m->type);
}


/* allowed and refused requests, per label */
static u_char *
ngx_http_magic_token_status_requests(u_char *p,
    ngx_http_magic_token_zone_t **zones, ngx_str_t *names, ngx_uint_t n)
{
    ngx_uint_t                             i, j, k;
    ngx_http_magic_token_status_node_t    *node;
    ngx_http_magic_token_status_zone_t    *szone;
    ngx_http_magic_token_status_label_t  **label;

    p = ngx_http_magic_token_status_head(p, &ngx_http_magic_token_allowed);

    for (i = 0; i < n; i++) {
        szone = zones[i]->status_conf;

        if (szone == NULL) {
            continue;
        }

        label = szone->labels.elts;

        for (j = 0; j < szone->labels.nelts; j++) {
            node = label[j]->node;

            p = ngx_sprintf(p, "%s{zone=\"%V\",label=\"%V\"} %uA\n",
                            ngx_http_magic_token_allowed.name, &names[i],
                            &label[j]->name,
                            node ? node->requests[MT_OK] : 0);
        }
    }

    p = ngx_http_magic_token_status_head(p, &ngx_http_magic_token_refused);

    for (i = 0; i < n; i++) {
        szone = zones[i]->status_conf;

        if (szone == NULL) {
            continue;
        }

        label = szone->labels.elts;

        for (j = 0; j < szone->labels.nelts; j++) {
            node = label[j]->node;

            for (k = MT_OK + 1; k < NGX_HTTP_MAGIC_TOKEN_STATUS_REASONS; k++) {
                p = ngx_sprintf(p, "%s{zone=\"%V\",label=\"%V\","
                                "reason=\"%s\"} %uA\n",
                                ngx_http_magic_token_refused.name,
                                &names[i], &label[j]->name,
                                mt_strerror((mt_err_t) k),
                                node ? node->requests[k] : 0);
            }
        }
    }

    return p;
}


/* the zone-wide counters the features keep */
static u_char *
ngx_http_magic_token_status_stats(u_char *p,
    ngx_http_magic_token_zone_t **zones, ngx_str_t *names, ngx_uint_t n)
{
    ngx_uint_t                             i, s;
    ngx_http_magic_token_status_metric_t  *m;

    for (s = 0; s < NGX_HTTP_MAGIC_TOKEN_STAT_N; s++) {
        m = &ngx_http_magic_token_status_stat[s];

        if (m->name == NULL) {
            continue;
        }

        p = ngx_http_magic_token_status_head(p, m);

        for (i = 0; i < n; i++) {
            if (zones[i]->sh == NULL) {
                continue;
            }

            p = ngx_sprintf(p, "%s{zone=\"%V\"} %uA\n", m->name, &names[i],
                            zones[i]->sh->stats[s]);
        }
    }

    return p;
}


/* the slab pool: size, pages in use */
static u_char *
ngx_http_magic_token_status_usage(u_char *p,
    ngx_http_magic_token_zone_t **zones, ngx_str_t *names, ngx_uint_t n)
{
    ngx_uint_t        i, k, value[4];
    ngx_slab_pool_t  *shpool;

    for (k = 0; k < 4; k++) {
        p = ngx_http_magic_token_status_head(p, &ngx_http_magic_token_usage[k]);

        for (i = 0; i < n; i++) {
            shpool = zones[i]->shpool;

            if (shpool == NULL) {
                continue;
            }

            ngx_shmtx_lock(&shpool->mutex);

            value[0] = zones[i]->shm_zone->shm.size;
            value[1] = shpool->last - shpool->pages;
            value[2] = value[1] - shpool->pfree;
            value[3] = value[2] << ngx_pagesize_shift;

            ngx_shmtx_unlock(&shpool->mutex);

            p = ngx_sprintf(p, "%s{zone=\"%V\"} %ui\n",
                            ngx_http_magic_token_usage[k].name, &names[i],
                            value[k]);
        }
    }

    return p;
}


/* a label value: backslash, double quote and newline escaped */
static ngx_int_t
ngx_http_magic_token_status_escape(ngx_pool_t *pool, ngx_str_t *src,
    ngx_str_t *dst)
{
    u_char      *p;
    ngx_uint_t   i;

    dst->data = ngx_pnalloc(pool, 2 * src->len + 1);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    p = dst->data;

    for (i = 0; i < src->len; i++) {
        switch (src->data[i]) {

        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = src->data[i];
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        default:
            *p++ = src->data[i];
        }
    }

    dst->len = p - dst->data;

    return NGX_OK;
}


/* ---- counting ----------------------------------------------------- */


/*
 * Once per client request, with its final outcome: the log phase of the
 * main request (subrequests and internal redirects share its context),
 * labelled as the location it ends in says.  Requests the module never
 * checked, and those ended before the check (limit_req, ...), are not
 * counted.
 */
static ngx_int_t
ngx_http_magic_token_status_log_handler(ngx_http_request_t *r)
{
    ngx_uint_t                               reason;
    ngx_http_magic_token_ctx_t              *ctx;
    ngx_http_magic_token_status_node_t      *node;
    ngx_http_magic_token_status_loc_conf_t  *slcf;

    if (r != r->main) {
        return NGX_OK;
    }

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_magic_token_status_module);

    if (slcf->label == NULL || slcf->label->node == NULL) {
        return NGX_OK;
    }

    ctx = ngx_http_magic_token_get_ctx(r);

    if (ctx == NULL || !ctx->attempted) {
        return NGX_OK;
    }

    if (ctx->passed) {
        reason = MT_OK;

    } else if (ctx->error == MT_OK) {
        return NGX_OK;

    } else {
        reason = ngx_min((ngx_uint_t) ctx->error,
                         NGX_HTTP_MAGIC_TOKEN_STATUS_REASONS - 1);
    }

    node = slcf->label->node;

    (void) ngx_atomic_fetch_add(&node->requests[reason], 1);

    return NGX_OK;
}


/* ---- the zone ----------------------------------------------------- */


/* in ngx_http_magic_token_zone_features[] */
ngx_int_t
ngx_http_magic_token_status_init_zone(ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_zone_t *old, ngx_log_t *log)
{
    ngx_int_t                            rc;
    ngx_http_magic_token_status_zone_t  *szone;

    szone = zone->status_conf;

    if (szone == NULL) {
        return NGX_OK;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    rc = ngx_http_magic_token_status_nodes(zone, szone);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "magic_token_zone \"%V\" has no room for the "
                      "counters of magic_token_metrics", &zone->name);
    }

    return rc;
}


/*
 * A node for every label of the zone, the mutex held: the node a label
 * had (a reload that kept the zone), else a new one.
 */
static ngx_int_t
ngx_http_magic_token_status_nodes(ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_status_zone_t *szone)
{
    ngx_uint_t                             i;
    ngx_queue_t                           *q;
    ngx_http_magic_token_status_sh_t      *sh;
    ngx_http_magic_token_status_node_t    *node;
    ngx_http_magic_token_status_label_t  **label;

    sh = zone->sh->status;

    if (sh == NULL) {
        sh = ngx_http_magic_token_zone_alloc(zone,
                                     sizeof(ngx_http_magic_token_status_sh_t));
        if (sh == NULL) {
            return NGX_ERROR;
        }

        ngx_queue_init(&sh->nodes);
        sh->generation = 0;

        zone->sh->status = sh;
    }

    sh->generation++;

    label = szone->labels.elts;

    for (i = 0; i < szone->labels.nelts; i++) {
        label[i]->node = NULL;

        for (q = ngx_queue_head(&sh->nodes);
             q != ngx_queue_sentinel(&sh->nodes);
             q = ngx_queue_next(q))
        {
            node = ngx_queue_data(q, ngx_http_magic_token_status_node_t,
                                  queue);

            if (node->len == label[i]->name.len
                && ngx_memcmp(node->name, label[i]->name.data, node->len)
                   == 0)
            {
                node->generation = sh->generation;
                label[i]->node = node;
                break;
            }
        }
    }

    for (i = 0; i < szone->labels.nelts; i++) {
        if (label[i]->node != NULL) {
            continue;
        }

        node = ngx_http_magic_token_status_node(zone, sh);
        if (node == NULL) {
            return NGX_ERROR;
        }

        node->len = label[i]->name.len;
        ngx_memcpy(node->name, label[i]->name.data, node->len);

        label[i]->node = node;
    }

    return NGX_OK;
}


/* a new node, or when the zone is full that of a label gone */
static ngx_http_magic_token_status_node_t *
ngx_http_magic_token_status_node(ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_status_sh_t *sh)
{
    ngx_uint_t                           k;
    ngx_queue_t                         *q;
    ngx_http_magic_token_status_node_t  *node;

    node = ngx_http_magic_token_zone_alloc(zone,
                                   sizeof(ngx_http_magic_token_status_node_t));

    if (node != NULL) {
        ngx_memzero(node, sizeof(ngx_http_magic_token_status_node_t));
        ngx_queue_insert_tail(&sh->nodes, &node->queue);
        node->generation = sh->generation;
        return node;
    }

    for (q = ngx_queue_head(&sh->nodes);
         q != ngx_queue_sentinel(&sh->nodes);
         q = ngx_queue_next(q))
    {
        node = ngx_queue_data(q, ngx_http_magic_token_status_node_t, queue);

        if (node->generation != sh->generation) {
            for (k = 0; k < NGX_HTTP_MAGIC_TOKEN_STATUS_REASONS; k++) {
                node->requests[k] = 0;
            }

            node->generation = sh->generation;
            return node;
        }
    }

    return NULL;
}


/* ---- configuration ------------------------------------------------ */


/* magic_token_metrics zone=name [label=name] | off */
static char *
ngx_http_magic_token_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_magic_token_status_loc_conf_t *slcf = conf;

    ngx_str_t                    *value, zname, lname;
    ngx_uint_t                    i;
    ngx_http_magic_token_zone_t  *zone;

    if (slcf->label != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts > 2) {
            return "takes no parameters after \"off\"";
        }

        slcf->label = NULL;
        return NGX_CONF_OK;
    }

    ngx_str_null(&zname);
    ngx_str_null(&lname);

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            zname.data = value[i].data + 5;
            zname.len = value[i].len - 5;
            continue;
        }

        if (ngx_strncmp(value[i].data, "label=", 6) == 0) {
            lname.data = value[i].data + 6;
            lname.len = value[i].len - 6;

            if (lname.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"label=\" needs a name");
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (zname.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"magic_token_metrics\" needs \"zone=\"");
        return NGX_CONF_ERROR;
    }

    zone = ngx_http_magic_token_zone_ref(cf, &zname);
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    slcf->label = ngx_http_magic_token_status_label(cf, zone, &lname);
    if (slcf->label == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* the zone's label of that name, added when new */
static ngx_http_magic_token_status_label_t *
ngx_http_magic_token_status_label(ngx_conf_t *cf,
    ngx_http_magic_token_zone_t *zone, ngx_str_t *name)
{
    u_char                                   *p;
    ngx_uint_t                                i;
    ngx_http_magic_token_status_zone_t       *szone;
    ngx_http_magic_token_status_label_t      *label, **labels;
    ngx_http_magic_token_status_main_conf_t  *smcf;

    for (p = name->data; p < name->data + name->len; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9')
              || *p == '_' || *p == '-' || *p == '.' || *p == ':'
              || *p == '/'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid label \"%V\": letters, digits and "
                               "\"_-.:/\" only", name);
            return NULL;
        }
    }

    if (name->len > NGX_HTTP_MAGIC_TOKEN_LABEL_LEN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "label \"%V\" is too long, at most %d characters",
                           name, NGX_HTTP_MAGIC_TOKEN_LABEL_LEN);
        return NULL;
    }

    szone = zone->status_conf;

    if (szone == NULL) {
        szone = ngx_pcalloc(cf->pool,
                            sizeof(ngx_http_magic_token_status_zone_t));
        if (szone == NULL) {
            return NULL;
        }

        if (ngx_array_init(&szone->labels, cf->pool, 4,
                           sizeof(ngx_http_magic_token_status_label_t *))
            != NGX_OK)
        {
            return NULL;
        }

        zone->status_conf = szone;
    }

    labels = szone->labels.elts;

    for (i = 0; i < szone->labels.nelts; i++) {
        if (labels[i]->name.len == name->len
            && ngx_strncmp(labels[i]->name.data, name->data, name->len) == 0)
        {
            return labels[i];
        }
    }

    if (szone->labels.nelts == NGX_HTTP_MAGIC_TOKEN_LABELS_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many labels for zone \"%V\", at most %d",
                           &zone->name, NGX_HTTP_MAGIC_TOKEN_LABELS_MAX);
        return NULL;
    }

    label = ngx_pcalloc(cf->pool, sizeof(ngx_http_magic_token_status_label_t));
    if (label == NULL) {
        return NULL;
    }

    label->name.data = ngx_pstrdup(cf->pool, name);
    if (label->name.data == NULL) {
        return NULL;
    }

    label->name.len = name->len;

    labels = ngx_array_push(&szone->labels);
    if (labels == NULL) {
        return NULL;
    }

    *labels = label;

    smcf = ngx_http_conf_get_module_main_conf(cf,
                                         ngx_http_magic_token_status_module);
    smcf->labels++;

    return label;
}


/* magic_token_status: this location answers with the metrics */
static char *
ngx_http_magic_token_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t                 *clcf;
    ngx_http_magic_token_status_main_conf_t  *smcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_magic_token_status_handler;

    smcf = ngx_http_conf_get_module_main_conf(cf,
                                         ngx_http_magic_token_status_module);

    if (smcf->file == NULL) {
        smcf->file = cf->conf_file->file.name.data;
        smcf->line = cf->conf_file->line;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_magic_token_status_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_magic_token_status_main_conf_t  *smcf;

    smcf = ngx_pcalloc(cf->pool,
                       sizeof(ngx_http_magic_token_status_main_conf_t));
    if (smcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     smcf->labels = 0;
     *     smcf->file = NULL;
     */

    return smcf;
}


static void *
ngx_http_magic_token_status_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_magic_token_status_loc_conf_t  *conf;

    conf = ngx_palloc(cf->pool,
                      sizeof(ngx_http_magic_token_status_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->label = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_magic_token_status_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_magic_token_status_loc_conf_t *prev = parent;
    ngx_http_magic_token_status_loc_conf_t *conf = child;

    ngx_conf_merge_ptr_value(conf->label, prev->label, NULL);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_magic_token_status_init(ngx_conf_t *cf)
{
    ngx_uint_t                                i;
    ngx_http_handler_pt                      *h;
    ngx_http_core_main_conf_t                *cmcf;
    ngx_http_magic_token_zone_t             **zones;
    ngx_http_magic_token_main_conf_t         *mmcf;
    ngx_http_magic_token_status_main_conf_t  *smcf;

    smcf = ngx_http_conf_get_module_main_conf(cf,
                                         ngx_http_magic_token_status_module);
    mmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_magic_token_module);

    if (smcf->file != NULL) {
        zones = mmcf->zones ? mmcf->zones->elts : NULL;

        for (i = 0; zones && i < mmcf->zones->nelts; i++) {
            if (zones[i]->defined) {
                break;
            }
        }

        if (zones == NULL || i == mmcf->zones->nelts) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"magic_token_status\" in %s:%ui has nothing to "
                          "show: no \"magic_token_zone\" is defined",
                          smcf->file, smcf->line);
            return NGX_ERROR;
        }
    }

    if (smcf->labels == 0) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_magic_token_status_log_handler;

    return NGX_OK;
}
