/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 */

#ifndef _NGX_HTTP_MAGIC_TOKEN_MODULE_H_INCLUDED_
#define _NGX_HTTP_MAGIC_TOKEN_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "mt_core.h"


#define NGX_HTTP_MAGIC_TOKEN_OFF       0
#define NGX_HTTP_MAGIC_TOKEN_HEADER    1
#define NGX_HTTP_MAGIC_TOKEN_VARIABLE  2


typedef struct {
    ngx_array_t                *scopes;     /* of mt_named_scope_t */
    ngx_array_t                *zones;      /* of ..._zone_t * */
    ngx_array_t                *grants;     /* ..._grant.c */
    ngx_array_t                *checks;     /* ..._extcheck.c */
    ngx_array_t                *mcp_scopes; /* ..._mcp.c */
    ngx_array_t                *proxied;    /* ..._audience.c */
    mt_rules_intern_t          *intern;     /* ..._intern.c, per worker */
} ngx_http_magic_token_main_conf_t;


/*
 * magic_token_zone (ngx_http_magic_token_zone.c): one slab zone shared by
 * the workers, for the shared cache, revocations, grants and counters.
 *
 * The shared part (ngx_http_magic_token_shctx_t) lives in the slab pool;
 * each feature keeps its own structure there, allocated by its init
 * function in ngx_http_magic_token_zone_features[] and reached through
 * its pointer below.  All of it is reused across "nginx -s reload" when
 * the zone keeps its size.  Take shpool->mutex around every access.
 */
/*
 * Zone-wide counters and gauges, kept by the feature named and shown by
 * magic_token_status (..._status.c, which names each in its table):
 * ngx_atomic_fetch_add(), no lock.
 */
typedef enum {
    NGX_HTTP_MAGIC_TOKEN_STAT_CACHE_HITS = 0,
    NGX_HTTP_MAGIC_TOKEN_STAT_CACHE_MISSES,
    NGX_HTTP_MAGIC_TOKEN_STAT_CACHE_STORES,
    NGX_HTTP_MAGIC_TOKEN_STAT_CACHE_EVICTIONS,
    NGX_HTTP_MAGIC_TOKEN_STAT_CACHE_ENTRIES,        /* gauge */
    NGX_HTTP_MAGIC_TOKEN_STAT_REVOKED_REFUSED,      /* requests refused */
    NGX_HTTP_MAGIC_TOKEN_STAT_REVOCATIONS,          /* gauge: list size */
    NGX_HTTP_MAGIC_TOKEN_STAT_GRANTS_MADE,
    NGX_HTTP_MAGIC_TOKEN_STAT_GRANTS_USED,
    NGX_HTTP_MAGIC_TOKEN_STAT_GRANTS,               /* gauge */
    NGX_HTTP_MAGIC_TOKEN_STAT_CHECKS,               /* external checks */
    NGX_HTTP_MAGIC_TOKEN_STAT_ZONE_FULL,            /* refused allocations */
    NGX_HTTP_MAGIC_TOKEN_STAT_CACHE_VERIFIED,       /* in full: the cold path */
    NGX_HTTP_MAGIC_TOKEN_STAT_N
} ngx_http_magic_token_stat_e;


typedef struct {
    ngx_atomic_t                stats[NGX_HTTP_MAGIC_TOKEN_STAT_N];
    void                       *cache;      /* ..._shcache.c */
    void                       *revoked;    /* ..._revoke.c */
    void                       *grants;     /* ..._grant.c */
    void                       *status;     /* ..._status.c */
    void                       *dpop;       /* ..._dpop.c: seen proofs */
    ngx_uint_t                  nomem_logged;   /* "zone full" said once */
} ngx_http_magic_token_shctx_t;


typedef struct ngx_http_magic_token_zone_s  ngx_http_magic_token_zone_t;

struct ngx_http_magic_token_zone_s {
    ngx_str_t                   name;
    ngx_shm_zone_t             *shm_zone;
    ngx_slab_pool_t            *shpool;     /* set when the zone is ready */
    ngx_http_magic_token_shctx_t  *sh;
    unsigned                    defined:1;  /* magic_token_zone seen */

    /* where the directive was, for messages about it */
    u_char                     *file;
    ngx_uint_t                  line;

    /*
     * Seals what the zone keeps that must not be kept in clear (the
     * shared cache's credentials).  Made at configuration time in the
     * master's memory, never written to the shared memory; a reload that
     * keeps the zone keeps the key, a restart makes a new one.
     */
    u_char                      key[32];
    uint64_t                    cache_seed;    /* ..._shcache.c, from key */

    ngx_str_t                   revocations;   /* file, or empty */
    void                       *revoke_conf;   /* ..._revoke.c, conf time */
    void                       *status_conf;   /* ..._status.c, conf time */
};


/* one per feature; NULL-terminated list in ngx_http_magic_token_zone.c */
typedef ngx_int_t (*ngx_http_magic_token_zone_init_pt)(
    ngx_http_magic_token_zone_t *zone, ngx_http_magic_token_zone_t *old,
    ngx_log_t *log);


/* magic_token_require: every value non-empty and not "0" */
typedef struct {
    ngx_array_t                *values;     /* of ngx_http_complex_value_t */
    ngx_int_t                   status;     /* 401 or 403 */
} ngx_http_magic_token_require_t;


/* magic_token_dpop (ngx_http_magic_token_dpop.c) */
typedef struct ngx_http_magic_token_dpop_conf_s
    ngx_http_magic_token_dpop_conf_t;


/* magic_token_cache (ngx_http_magic_token_cache.c, ..._shcache.c) */
typedef struct ngx_http_magic_token_cache_s  ngx_http_magic_token_cache_t;

/* $magic_token_cache_status */
#define NGX_HTTP_MAGIC_TOKEN_CACHE_NONE    0    /* no cache, not looked */
#define NGX_HTTP_MAGIC_TOKEN_CACHE_MISS    1    /* verified in full */
#define NGX_HTTP_MAGIC_TOKEN_CACHE_HIT     2    /* the worker's cache */
#define NGX_HTTP_MAGIC_TOKEN_CACHE_SHARED  3    /* the zone's */

/* the longest jti that $magic_token_id shows (else the hash) */
#define NGX_HTTP_MAGIC_TOKEN_MAX_JTI  128


typedef struct {
    mt_keyset_t                *sign;
    mt_keyset_t                *encrypt;
    const mt_keyset_t          *verify;     /* for refresh tokens */
    mt_mint_opts_t              opts;
} ngx_http_magic_token_issuer_t;


typedef struct {
    ngx_uint_t                  source;
    ngx_http_complex_value_t   *token;      /* with source VARIABLE */
    mt_keyset_t                *keys;
    ngx_uint_t                  scope_match;
    ngx_http_complex_value_t   *scope_uri;
    ngx_str_t                   realm;
    size_t                      max_size;
    time_t                      leeway;
    ngx_flag_t                  scope_required;
    ngx_flag_t                  path_check;
    ngx_uint_t                  log_level;

    /* NULL: any audience; else accepted ones (none when nelts is 0) */
    ngx_array_t                *audiences;  /* of ngx_str_t */
    const char                **aud_names;
    size_t                     *aud_lens;

    ngx_array_t                *require;    /* of ..._require_t */

    ngx_http_magic_token_cache_t  *cache;   /* NULL: off */
    u_char                     *cache_id;   /* zone=: the settings' digest */

    ngx_http_magic_token_zone_t   *revocation;  /* NULL: off */
    ngx_http_magic_token_zone_t   *admin;       /* magic_token_admin */

    ngx_http_magic_token_dpop_conf_t  *dpop;    /* merged: never NULL */

    ngx_flag_t                  issuer_enabled;
    ngx_http_magic_token_issuer_t  *issuer;
    time_t                      issuer_max_ttl;
    time_t                      issuer_refresh_ttl;

    /* WWW-Authenticate values, built at merge time */
    ngx_str_t                   challenge;
    ngx_str_t                   challenge_invalid;
    ngx_str_t                   challenge_scope;

    ngx_flag_t                  mcp;        /* magic_token_mcp */
    size_t                      mcp_max_body;
} ngx_http_magic_token_loc_conf_t;


/*
 * Per request, kept across internal redirects (found again through its
 * pool cleanup), taken from the worker's list of free ones.  A
 * subrequest checked in its own location has one of its own
 * (ngx_http_magic_token_subrequest.c).
 */
typedef struct {
    mt_err_t                    error;
    unsigned                    attempted:1;
    unsigned                    passed:1;   /* this location's check */
    unsigned                    has_token:1;
    unsigned                    verified:1;
    unsigned                    decrypted:1;
    unsigned                    hashed:1;   /* hash holds the id */
    unsigned                    claims_read:1; /* ..._claims() was asked */
    /* a subrequest's copy of its main request's token: never stored */
    unsigned                    borrowed:1;
    unsigned                    cache_status:2; /* ..._CACHE_MISS, ... */

    ngx_str_t                   raw;        /* the token bytes */
    char                        hash[MT_HASH_HEX_LEN + 1]; /* see _id() */
    const mt_keyset_t          *keys;
    ngx_uint_t                  scope_match;
    time_t                      leeway;
    ngx_int_t                   require_status;
    /* its claims: read them with ngx_http_magic_token_claims() */
    mt_token_t                  token;
    ngx_str_t                   scope;      /* the entry that matched */

    /* token borrowed from magic_token_cache: never mt_token_clear() it */
    void                       *cache_entry;

    void                       *grant;      /* ..._grant.c: triggers */
    void                       *check;      /* ..._extcheck.c */
    void                       *mcp;        /* ..._mcp.c */

    /* a chain's links, token holding its root; freed with the request */
    mt_chain_t                 *chain;

    /* in the worker's list of free contexts (..._ctx_alloc) */
    void                       *next_free;
} ngx_http_magic_token_ctx_t;


ngx_http_magic_token_ctx_t *ngx_http_magic_token_get_ctx(
    ngx_http_request_t *r);
ngx_http_magic_token_ctx_t *ngx_http_magic_token_verify(
    ngx_http_request_t *r);
ngx_int_t ngx_http_magic_token_find(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_str_t *token);
ngx_uint_t ngx_http_magic_token_same(ngx_http_magic_token_ctx_t *ctx,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_str_t *token);
ngx_int_t ngx_http_magic_token_verify_token(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx,
    ngx_str_t *token);
ngx_int_t ngx_http_magic_token_check(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx);
ngx_int_t ngx_http_magic_token_deny(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx);
const char *ngx_http_magic_token_id(ngx_http_magic_token_ctx_t *ctx);
ngx_int_t ngx_http_magic_token_read_body(ngx_http_request_t *r, size_t max,
    ngx_str_t *body);
ngx_int_t ngx_http_magic_token_add_variables(ngx_conf_t *cf);
void ngx_http_magic_token_free_keyset(void *data);

char *ngx_http_magic_token_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_magic_token_cache_local(ngx_http_request_t *r,
    ngx_http_magic_token_cache_t *cache, ngx_http_magic_token_ctx_t *ctx);
ngx_int_t ngx_http_magic_token_cache_lookup(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx);
void ngx_http_magic_token_cache_store(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx);
uint64_t ngx_http_magic_token_cache_hash(uint64_t seed, ngx_str_t *token);
ngx_int_t ngx_http_magic_token_cache_claim(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, const char *name, json_t **value);
json_t *ngx_http_magic_token_claims(ngx_http_magic_token_ctx_t *ctx);
ngx_int_t ngx_http_magic_token_jti(ngx_http_magic_token_ctx_t *ctx,
    ngx_str_t *jti);
char *ngx_http_magic_token_cache_merge(ngx_conf_t *cf,
    ngx_http_magic_token_loc_conf_t *conf);

ngx_int_t ngx_http_magic_token_shcache_init(ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_zone_t *old, ngx_log_t *log);
ngx_int_t ngx_http_magic_token_shcache_id(ngx_conf_t *cf,
    ngx_http_magic_token_loc_conf_t *mlcf, u_char *id);
ngx_int_t ngx_http_magic_token_shcache_lookup(ngx_http_request_t *r,
    ngx_http_magic_token_zone_t *zone, u_char *id,
    ngx_http_magic_token_ctx_t *ctx);
void ngx_http_magic_token_shcache_store(ngx_http_request_t *r,
    ngx_http_magic_token_zone_t *zone, u_char *id,
    ngx_http_magic_token_ctx_t *ctx, time_t expires);
void ngx_http_magic_token_cache_release(ngx_http_magic_token_ctx_t *ctx);
mt_rules_intern_t *ngx_http_magic_token_intern(ngx_http_request_t *r);
ngx_int_t ngx_http_magic_token_cache_chain_lookup(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx,
    mt_chain_t *c, const mt_keyset_t **key);
void ngx_http_magic_token_cache_chain_store(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx);
ngx_int_t ngx_http_magic_token_cache_times(ngx_http_magic_token_ctx_t *ctx,
    time_t now, time_t *expires, time_t *valid_from);

char *ngx_http_magic_token_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_http_magic_token_zone_t *ngx_http_magic_token_zone_ref(ngx_conf_t *cf,
    ngx_str_t *name);
ngx_int_t ngx_http_magic_token_zone_check(ngx_conf_t *cf);
void *ngx_http_magic_token_zone_alloc(ngx_http_magic_token_zone_t *zone,
    size_t size);
void *ngx_http_magic_token_zone_part(ngx_http_magic_token_zone_t *zone,
    size_t size, const char *what, ngx_log_t *log);

ngx_int_t ngx_http_magic_token_status_init_zone(
    ngx_http_magic_token_zone_t *zone, ngx_http_magic_token_zone_t *old,
    ngx_log_t *log);
/* revocations: ngx_http_magic_token_revoke.c, ..._admin.c */
char *ngx_http_magic_token_revocation(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_magic_token_admin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_magic_token_revoke_merge(ngx_conf_t *cf,
    ngx_http_magic_token_loc_conf_t *prev,
    ngx_http_magic_token_loc_conf_t *conf);
ngx_http_magic_token_zone_t *ngx_http_magic_token_revoke_use(ngx_conf_t *cf,
    ngx_str_t *name);
ngx_int_t ngx_http_magic_token_revoke_postconf(ngx_conf_t *cf);
ngx_int_t ngx_http_magic_token_revoke_init_zone(
    ngx_http_magic_token_zone_t *zone, ngx_http_magic_token_zone_t *old,
    ngx_log_t *log);
ngx_int_t ngx_http_magic_token_revoke_check(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx);
ngx_uint_t ngx_http_magic_token_revoked(ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_ctx_t *ctx);
ngx_int_t ngx_http_magic_token_revoke_add(ngx_http_magic_token_zone_t *zone,
    mt_revoke_rec_t *rec, char *errbuf, size_t errlen);
ngx_int_t ngx_http_magic_token_revoke_remove(
    ngx_http_magic_token_zone_t *zone, mt_revoke_rec_t *rec, char *errbuf,
    size_t errlen);
ngx_int_t ngx_http_magic_token_revoke_all(ngx_http_request_t *r,
    ngx_http_magic_token_zone_t *zone, ngx_array_t **recs);

char *ngx_http_magic_token_grant(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_magic_token_grant_init(ngx_conf_t *cf);
ngx_int_t ngx_http_magic_token_grant_zone_init(
    ngx_http_magic_token_zone_t *zone, ngx_http_magic_token_zone_t *old,
    ngx_log_t *log);
mt_err_t ngx_http_magic_token_grant_check(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_str_t *path, mt_err_t rc,
    const char **matched, size_t *matched_len);

char *ngx_http_magic_token_check_scope(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_magic_token_check_init(ngx_conf_t *cf);
ngx_int_t ngx_http_magic_token_check_scopes(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_str_t *path, mt_err_t *rc,
    const char **matched, size_t *matched_len);

ngx_int_t ngx_http_magic_token_chain_verify(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx,
    ngx_str_t *token);
ngx_int_t ngx_http_magic_token_chain_check(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx,
    ngx_str_t *path);

char *ngx_http_magic_token_mcp_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_magic_token_mcp_scope(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_magic_token_mcp_merge(ngx_conf_t *cf,
    ngx_http_magic_token_loc_conf_t *prev,
    ngx_http_magic_token_loc_conf_t *conf);
ngx_int_t ngx_http_magic_token_mcp_init(ngx_conf_t *cf);
ngx_int_t ngx_http_magic_token_mcp(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx);
ngx_int_t ngx_http_magic_token_audience_note(ngx_conf_t *cf,
    ngx_http_magic_token_loc_conf_t *conf);
void ngx_http_magic_token_audience_check(ngx_conf_t *cf);
char *ngx_http_magic_token_dpop(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_magic_token_dpop_merge(ngx_conf_t *cf,
    ngx_http_magic_token_loc_conf_t *prev,
    ngx_http_magic_token_loc_conf_t *conf);
ngx_int_t ngx_http_magic_token_dpop_init_zone(
    ngx_http_magic_token_zone_t *zone, ngx_http_magic_token_zone_t *old,
    ngx_log_t *log);
ngx_int_t ngx_http_magic_token_dpop_check(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx);
ngx_int_t ngx_http_magic_token_dpop_issuer(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, json_t *req, char **msg);
ngx_str_t *ngx_http_magic_token_dpop_challenge(
    ngx_http_magic_token_loc_conf_t *mlcf, mt_err_t err);

ngx_int_t ngx_http_magic_token_subrequest_init(ngx_conf_t *cf);
ngx_int_t ngx_http_magic_token_subrequest_ctx(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t **ctx);

ngx_int_t ngx_http_magic_token_issuer_handler(ngx_http_request_t *r);
char *ngx_http_magic_token_issuer(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_magic_token_issuer_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_magic_token_issuer_merge(ngx_conf_t *cf,
    ngx_http_magic_token_loc_conf_t *prev,
    ngx_http_magic_token_loc_conf_t *conf);


extern ngx_module_t  ngx_http_magic_token_module;


#endif /* _NGX_HTTP_MAGIC_TOKEN_MODULE_H_INCLUDED_ */
