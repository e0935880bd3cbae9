/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * magic_token_cache: a per-worker LRU of fully verified tokens.
 *
 * A token whose signature and claims verified, whose "allowed" rules
 * compiled and whose credential decrypted, in a request that passed, is
 * kept (claims, compiled rules, credential, and the token's bytes) under
 * its bytes and the verification settings it passed with: the key set,
 * the scope match mode and the leeway.  The next request bearing the same
 * bytes with the same settings borrows it instead of verifying again;
 * exp/nbf, audience, magic_token_require and the scopes are still
 * checked on every request by the callers.
 *
 * Ownership: an entry is reference counted; a request borrowing one
 * (ctx->cache_entry) holds a reference until it re-verifies or its pool
 * is destroyed.  An evicted entry still in use is unlinked and freed by
 * its last user.  Freeing an entry wipes its credential (mt_token_clear).
 *
 * Lifetime: the configuration object (ngx_http_magic_token_cache_t)
 * lives in the cycle pool; its runtime state is created lazily by the
 * worker on first use and is private to that worker (the master never
 * serves requests, so a new cycle's workers start with an empty cache).
 * The cycle pool's cleanup frees it at worker exit.
 *
 * Lookup: a 64-bit hash of the token's length and last bytes picks the
 * bucket, then the hash, the length, the settings and all the bytes are
 * compared: the hash only finds, equality decides.  The hash is not
 * cryptographic (a hit costs no SHA-256 of 1 kB),
 * seeded per worker from RAND_bytes() so that the buckets of given bytes
 * cannot be predicted; and a chain never holds more than
 * NGX_HTTP_MAGIC_TOKEN_CACHE_CHAIN entries (a token that would make one
 * longer is not cached), so that even bytes chosen to collide cannot
 * make a lookup walk more than that.  Only tokens that passed are ever
 * stored, so an attacker without a signing key cannot add entries at
 * all.
 */


#include "ngx_http_magic_token_module.h"

#include <openssl/rand.h>


#define NGX_HTTP_MAGIC_TOKEN_CACHE_MAX    1000000
/* entries per worker in front of a zone= cache without size= */
#define NGX_HTTP_MAGIC_TOKEN_CACHE_FRONT  1000
/* the longest hash chain; a store that would exceed it is skipped */
#define NGX_HTTP_MAGIC_TOKEN_CACHE_CHAIN  8
/* expired entries looked at from the LRU tail on every store */
#define NGX_HTTP_MAGIC_TOKEN_CACHE_SWEEP  4
/* the bytes hashed: the end of the signature */
#define NGX_HTTP_MAGIC_TOKEN_CACHE_TAIL   32
/* an entry's rules get PCRE2's JIT at this hit (mt_rules_jit) ... */
#define NGX_HTTP_MAGIC_TOKEN_CACHE_JIT_HITS  8
/* ... while the worker's entries hold fewer JIT-compiled rules */
#define NGX_HTTP_MAGIC_TOKEN_CACHE_JIT_MAX   2048


typedef struct ngx_http_magic_token_cache_entry_s
    ngx_http_magic_token_cache_entry_t;

struct ngx_http_magic_token_cache_entry_s {
    ngx_http_magic_token_cache_entry_t  *next;     /* hash chain */
    ngx_queue_t                          queue;    /* LRU, newest first */

    uint64_t                hash;
    size_t                  len;
    u_char                 *data;      /* the token: len bytes after this */
    size_t                  own;       /* a chain's element: its bytes */
    const mt_keyset_t      *keys;
    ngx_uint_t              scope_match;
    time_t                  leeway;

    time_t                  expires;
    time_t                  valid_from; /* nbf, iat, less the leeway */
    ngx_uint_t              refs;
    unsigned                linked:1;
    unsigned                hits:4;     /* up to ..._JIT_HITS */
    unsigned                bare:1;     /* kept without its claims */
    unsigned                jti_len:8;  /* bare: its jti after its bytes */

    mt_token_t              token;

    /*
     * An element of a chain (the chains' part, below): the
     * entry of the prefix before it (one reference), its link (NULL for
     * the root, which is token), the key it names when open.
     */
    ngx_http_magic_token_cache_entry_t  *parent;
    mt_link_t              *link;
    mt_keyset_t            *next_key;
    ngx_uint_t              depth;     /* 0: the root */
};


typedef struct {
    ngx_queue_t                           lru;
    ngx_http_magic_token_cache_entry_t  **buckets;
    ngx_uint_t                            mask;
    ngx_uint_t                            count;
    uint64_t                              seed;
} ngx_http_magic_token_cache_state_t;


struct ngx_http_magic_token_cache_s {
    ngx_uint_t                            size;    /* entries per worker */
    time_t                                ttl;     /* 0: until exp */
    ngx_http_magic_token_zone_t          *zone;    /* zone=, or NULL */
    ngx_http_magic_token_cache_state_t   *state;   /* per worker */
};


static void ngx_http_magic_token_cache_keep(ngx_http_request_t *r,
    ngx_http_magic_token_cache_t *cache, ngx_http_magic_token_ctx_t *ctx,
    time_t now, time_t expires, time_t valid_from);
static ngx_http_magic_token_cache_state_t *ngx_http_magic_token_cache_state(
    ngx_http_magic_token_cache_t *cache, ngx_log_t *log);
static ngx_http_magic_token_cache_entry_t **ngx_http_magic_token_cache_find(
    ngx_http_magic_token_cache_state_t *st, uint64_t hash,
    ngx_http_magic_token_ctx_t *ctx, ngx_str_t *raw, ngx_uint_t *chain);
static void ngx_http_magic_token_cache_room(ngx_log_t *log,
    ngx_http_magic_token_cache_t *cache,
    ngx_http_magic_token_cache_state_t *st, time_t now);
static void ngx_http_magic_token_cache_link(
    ngx_http_magic_token_cache_state_t *st,
    ngx_http_magic_token_cache_entry_t *e);
static void ngx_http_magic_token_cache_unlink(
    ngx_http_magic_token_cache_state_t *st,
    ngx_http_magic_token_cache_entry_t *e);
static void ngx_http_magic_token_cache_free_entry(
    ngx_http_magic_token_cache_entry_t *e);
static void ngx_http_magic_token_cache_jit(ngx_log_t *log,
    ngx_http_magic_token_cache_entry_t *e);
static void ngx_http_magic_token_cache_jit_rules_of(ngx_log_t *log,
    mt_rules_t *rules);
static void ngx_http_magic_token_cache_claims_cleanup(void *data);
static void ngx_http_magic_token_cache_trim(mt_token_t *t);
static size_t ngx_http_magic_token_cache_bare_jti(
    ngx_http_magic_token_ctx_t *ctx);
static void ngx_http_magic_token_cache_bare(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_http_magic_token_cache_entry_t *e,
    size_t jti);
static void ngx_http_magic_token_cache_json_cleanup(void *data);


/* the JIT-compiled rules of the lists of this worker's entries */
static size_t  ngx_http_magic_token_cache_jit_rules;
static void ngx_http_magic_token_cache_cleanup(void *data);
static ngx_uint_t ngx_http_magic_token_cache_split(ngx_str_t *raw,
    size_t *ends);
static ngx_http_magic_token_cache_entry_t *
    ngx_http_magic_token_cache_chain_find(ngx_http_request_t *r,
    ngx_http_magic_token_cache_t *cache, ngx_http_magic_token_ctx_t *ctx,
    size_t *ends, ngx_uint_t n, ngx_uint_t *found);
static ngx_http_magic_token_cache_entry_t *
    ngx_http_magic_token_cache_element(ngx_http_request_t *r,
    ngx_http_magic_token_cache_t *cache, ngx_http_magic_token_ctx_t *ctx,
    size_t len, ngx_http_magic_token_cache_entry_t *parent, mt_link_t *link);
static ngx_http_magic_token_cache_entry_t *ngx_http_magic_token_cache_insert(
    ngx_http_request_t *r, ngx_http_magic_token_cache_t *cache,
    ngx_http_magic_token_ctx_t *ctx, size_t len,
    ngx_http_magic_token_cache_entry_t *parent, time_t now);
static ngx_uint_t ngx_http_magic_token_cache_equal(
    ngx_http_magic_token_cache_entry_t *e, ngx_str_t *raw);


/* magic_token_cache off | [zone=name] [size=N] [ttl=time] */
char *
ngx_http_magic_token_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_magic_token_loc_conf_t *mlcf = conf;

    time_t                         ttl;
    ngx_int_t                      size;
    ngx_str_t                     *value, s;
    ngx_uint_t                     i;
    ngx_pool_cleanup_t            *cln;
    ngx_http_magic_token_zone_t   *zone;
    ngx_http_magic_token_cache_t  *cache;

    if (mlcf->cache != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts > 2) {
            return "takes no parameters after \"off\"";
        }

        mlcf->cache = NULL;
        return NGX_CONF_OK;
    }

    size = NGX_ERROR;
    ttl = 0;
    zone = NULL;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "size=", 5) == 0 && size == NGX_ERROR) {
            size = ngx_atoi(value[i].data + 5, value[i].len - 5);

            if (size < 1 || size > NGX_HTTP_MAGIC_TOKEN_CACHE_MAX) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": the number of entries "
                                   "per worker must be between 1 and %d",
                                   &value[i], NGX_HTTP_MAGIC_TOKEN_CACHE_MAX);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "ttl=", 4) == 0 && ttl == 0) {
            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

            ttl = ngx_parse_time(&s, 1);
            if (ttl == (time_t) NGX_ERROR || ttl == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": expected a positive time",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0 && zone == NULL) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            if (ngx_strlchr(s.data, s.data + s.len, ':') != NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": name a zone that "
                                   "\"magic_token_zone name:size\" "
                                   "defines", &value[i]);
                return NGX_CONF_ERROR;
            }

            /* defined by magic_token_zone, maybe further down */
            zone = ngx_http_magic_token_zone_ref(cf, &s);
            if (zone == NULL) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (size == NGX_ERROR) {
        if (zone == NULL) {
            return "needs \"off\", \"size=\" or \"zone=\"";
        }

        size = NGX_HTTP_MAGIC_TOKEN_CACHE_FRONT;
    }

    cache = ngx_pcalloc(cf->pool, sizeof(ngx_http_magic_token_cache_t));
    if (cache == NULL) {
        return NGX_CONF_ERROR;
    }

    cache->size = (ngx_uint_t) size;
    cache->ttl = ttl;
    cache->zone = zone;

    /* frees the worker's entries when the worker's cycle goes away */
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_magic_token_cache_cleanup;
    cln->data = cache;

    mlcf->cache = cache;

    return NGX_CONF_OK;
}


/*
 * After ngx_http_magic_token_cache_local() missed, for a token that is
 * not a chain.  NGX_OK: a hit, the token counts as verified and
 * decrypted: rebuilt from the zone's cache (SHARED); NGX_DECLINED:
 * verify as usual (MISS); NGX_ERROR: out of memory.  ctx->raw, keys,
 * scope_match and leeway are set.
 */
ngx_int_t
ngx_http_magic_token_cache_lookup(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx)
{
    ngx_int_t                     rc;
    ngx_http_magic_token_zone_t  *zone;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "magic_token cache miss (token %s)",
                   ngx_http_magic_token_id(ctx));

    ctx->cache_status = NGX_HTTP_MAGIC_TOKEN_CACHE_MISS;

    zone = mlcf->cache->zone;

    if (zone == NULL || mlcf->cache_id == NULL) {
        return NGX_DECLINED;
    }

    rc = ngx_http_magic_token_shcache_lookup(r, zone, mlcf->cache_id, ctx);

    if (rc == NGX_OK) {
        ctx->cache_status = NGX_HTTP_MAGIC_TOKEN_CACHE_SHARED;
        ctx->verified = 1;
        ctx->decrypted = 1;
        ctx->error = MT_OK;
        return NGX_OK;
    }

    if (rc == NGX_DECLINED) {
        /* the public-key operations follow: what the zone is to spare */
        (void) ngx_atomic_fetch_add(
               &zone->sh->stats[NGX_HTTP_MAGIC_TOKEN_STAT_CACHE_VERIFIED], 1);
    }

    return rc;
}


/*
 * This worker's cache, looked up first, before the token is known to be
 * a chain or not: NGX_OK, a hit (HIT), ctx->token borrowed;
 * NGX_DECLINED: ngx_http_magic_token_cache_lookup() or the chain's.
 */
ngx_int_t
ngx_http_magic_token_cache_local(ngx_http_request_t *r,
    ngx_http_magic_token_cache_t *cache, ngx_http_magic_token_ctx_t *ctx)
{
    time_t                                now;
    uint64_t                              hash;
    ngx_http_magic_token_cache_entry_t  **pe, *e;
    ngx_http_magic_token_cache_state_t   *st;

    st = ngx_http_magic_token_cache_state(cache, r->connection->log);
    if (st == NULL) {
        return NGX_DECLINED;
    }

    hash = ngx_http_magic_token_cache_hash(st->seed, &ctx->raw);

    pe = ngx_http_magic_token_cache_find(st, hash, ctx, &ctx->raw, NULL);

    /*
     * Not a token's entry: an attenuable root, kept for its chains
     * (refused alone: verified), or a chain's element (the chain's
     * lookup takes it).
     */
    if (pe == NULL || (*pe)->next_key != NULL || (*pe)->depth > 0) {
        return NGX_DECLINED;
    }

    e = *pe;
    now = ngx_time();

    /*
     * Past the entry's end (exp, or ttl=), or claims no longer valid:
     * dropped, and the full verification gives the answer.
     */
    if (now >= e->expires || now < e->valid_from) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "magic_token cache expired (token %s)",
                       ngx_http_magic_token_id(ctx));
        ngx_http_magic_token_cache_unlink(st, e);
        return NGX_DECLINED;
    }

    ngx_queue_remove(&e->queue);
    ngx_queue_insert_head(&st->lru, &e->queue);

    if (e->hits < NGX_HTTP_MAGIC_TOKEN_CACHE_JIT_HITS) {
        if (++e->hits == NGX_HTTP_MAGIC_TOKEN_CACHE_JIT_HITS) {
            ngx_http_magic_token_cache_jit(r->connection->log, e);
        }
    }

    e->refs++;
    ctx->cache_entry = e;
    ctx->cache_status = NGX_HTTP_MAGIC_TOKEN_CACHE_HIT;
    ctx->token = e->token;
    ctx->verified = 1;
    ctx->decrypted = 1;
    ctx->error = MT_OK;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "magic_token cache hit (token %s, refs %ui)",
                   ngx_http_magic_token_id(ctx), e->refs);

    return NGX_OK;
}


/*
 * A token that passed (verified, rules and scopes allowed, credential
 * decrypted) and is owned by ctx: moved into this worker's cache, ctx
 * borrows it; verified here in full, into the zone's too.  Failures only
 * mean it is not cached.
 */
void
ngx_http_magic_token_cache_store(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx)
{
    time_t                         now, expires, valid_from;
    ngx_http_magic_token_cache_t  *cache;

    if (ctx->cache_entry != NULL || ctx->borrowed || !ctx->verified
        || !ctx->decrypted || ctx->error != MT_OK)
    {
        return;
    }

    cache = mlcf->cache;
    now = ngx_time();

    if (ngx_http_magic_token_cache_times(ctx, now, &expires, &valid_from)
        != NGX_OK)
    {
        return;
    }

    if (cache->ttl && expires - now > cache->ttl) {
        expires = now + cache->ttl;
    }

    if (cache->zone != NULL && mlcf->cache_id != NULL
        && ctx->cache_status == NGX_HTTP_MAGIC_TOKEN_CACHE_MISS)
    {
        ngx_http_magic_token_shcache_store(r, cache->zone, mlcf->cache_id,
                                           ctx, expires);
    }

    ngx_http_magic_token_cache_keep(r, cache, ctx, now, expires, valid_from);
}


/* into this worker's cache */
static void
ngx_http_magic_token_cache_keep(ngx_http_request_t *r,
    ngx_http_magic_token_cache_t *cache, ngx_http_magic_token_ctx_t *ctx,
    time_t now, time_t expires, time_t valid_from)
{
    size_t                                jti;
    uint64_t                              hash;
    ngx_uint_t                            chain;
    ngx_http_magic_token_cache_entry_t   *e;
    ngx_http_magic_token_cache_state_t   *st;

    st = ngx_http_magic_token_cache_state(cache, r->connection->log);
    if (st == NULL) {
        return;
    }

    hash = ngx_http_magic_token_cache_hash(st->seed, &ctx->raw);

    if (ngx_http_magic_token_cache_find(st, hash, ctx, &ctx->raw, &chain)
        != NULL)
    {
        /* stored meanwhile by another request (limit_req delays) */
        return;
    }

    if (chain >= NGX_HTTP_MAGIC_TOKEN_CACHE_CHAIN) {
        /* lookups stay short, whatever the bytes */
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "magic_token cache chain full (token %s)",
                       ngx_http_magic_token_id(ctx));
        return;
    }

    ngx_http_magic_token_cache_room(r->connection->log, cache, st, now);

    jti = ngx_http_magic_token_cache_bare_jti(ctx);

    e = ngx_alloc(sizeof(ngx_http_magic_token_cache_entry_t) + ctx->raw.len
                  + (jti == (size_t) -1 ? 0 : jti),
                  r->connection->log);
    if (e == NULL) {
        return;
    }

    ngx_memzero(e, sizeof(ngx_http_magic_token_cache_entry_t));

    e->hash = hash;
    e->len = ctx->raw.len;
    e->own = ctx->raw.len;
    e->data = (u_char *) (e + 1);
    ngx_memcpy(e->data, ctx->raw.data, ctx->raw.len);
    e->keys = ctx->keys;
    e->scope_match = ctx->scope_match;
    e->leeway = ctx->leeway;
    e->expires = expires;
    e->valid_from = valid_from;

    ngx_http_magic_token_cache_trim(&ctx->token);

    e->token = ctx->token;          /* ctx now borrows it */

    if (jti != (size_t) -1) {
        ngx_http_magic_token_cache_bare(r, ctx, e, jti);
    }

    ngx_http_magic_token_cache_link(st, e);

    ctx->cache_entry = e;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "magic_token cache store (token %s, for %T s, "
                   "%ui entries%s)",
                   ngx_http_magic_token_id(ctx), expires - now, st->count,
                   e->bare ? ", claims not kept" : "");
}


/*
 * What an entry need not keep: the JOSE header, read by the verification
 * only (alg, kid, crit); the credential's ciphertext, read by the
 * decryption only; the "allowed" entries, read by their compilation (the
 * rules keep their text).  A few hundred bytes less per entry each.
 * "allowed" stays present, as null, for the check that asks whether the
 * token has it; the variables read both from the token's bytes
 * (ngx_http_magic_token_cache_claim).
 */
static void
ngx_http_magic_token_cache_trim(mt_token_t *t)
{
    json_decref(t->jws.header);
    t->jws.header = NULL;
    (void) json_object_del(t->jws.claims, "token");

    if (json_object_get(t->jws.claims, "allowed") != NULL) {
        (void) json_object_set_new(t->jws.claims, "allowed", json_null());
    }
}


/*
 * Can the entry be kept bare, its claims not parsed: about 850 bytes
 * less for five small claims, a third of a typical entry?  Yes when
 * nothing read them in this request (ngx_http_magic_token_claims) and a
 * hit needs none of them: a token with "allowed" rules, without "scopes"
 * (borrowed from the claims) or "cnf" (DPoP reads it on every request).
 * The jti is kept beside the bytes for $magic_token_id.  The bytes of
 * that jti, 0 without one; (size_t) -1: keep the claims parsed.
 */
static size_t
ngx_http_magic_token_cache_bare_jti(ngx_http_magic_token_ctx_t *ctx)
{
    json_t  *claims, *jti;

    claims = ctx->token.jws.claims;

    if (ctx->claims_read
        || ctx->token.scopes != NULL
        || mt_rules_count(ctx->token.rules) == 0
        || json_object_get(claims, "cnf") != NULL)
    {
        return (size_t) -1;
    }

    jti = json_object_get(claims, "jti");

    if (!json_is_string(jti)) {
        return 0;
    }

    /* too long for $magic_token_id, which shows the hash instead */
    if (json_string_length(jti) > NGX_HTTP_MAGIC_TOKEN_MAX_JTI) {
        return 0;
    }

    return json_string_length(jti);
}


/*
 * The new entry e keeps no claims: this request's stay with the request
 * (its pool frees them), a later hit that reads some parses them again
 * (ngx_http_magic_token_claims).  Out of memory, e keeps them.
 */
static void
ngx_http_magic_token_cache_bare(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, ngx_http_magic_token_cache_entry_t *e,
    size_t jti)
{
    json_t              *v;
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return;
    }

    cln->handler = ngx_http_magic_token_cache_json_cleanup;
    cln->data = ctx->token.jws.claims;

    if (jti) {
        v = json_object_get(ctx->token.jws.claims, "jti");
        ngx_memcpy(e->data + e->own, json_string_value(v), jti);
        e->jti_len = jti;
    }

    e->token.jws.claims = NULL;
    e->bare = 1;
}


static void
ngx_http_magic_token_cache_json_cleanup(void *data)
{
    json_decref(data);
}


/*
 * The verified claims of ctx's token, for whatever reads them: NULL when
 * out of memory (or for a token that did not verify).  A hit on a bare
 * entry parses them again from its bytes, which verified, once: the
 * entry keeps them from then on, as whatever reads them is likely to on
 * its next hits too.
 */
json_t *
ngx_http_magic_token_claims(ngx_http_magic_token_ctx_t *ctx)
{
    mt_jws_t                             jws;
    ngx_http_magic_token_cache_entry_t  *e;

    ctx->claims_read = 1;

    if (ctx->token.jws.claims != NULL) {
        return ctx->token.jws.claims;
    }

    e = ctx->cache_entry;

    if (e == NULL || !e->bare) {
        return NULL;
    }

    if (e->token.jws.claims == NULL) {
        if (mt_jws_claims_attested_cut(&jws, (char *) e->data, e->own,
                                       "token")
            != MT_OK)
        {
            return NULL;
        }

        e->token.jws.claims = jws.claims;
        e->token.jws.header = jws.header;
        ngx_http_magic_token_cache_trim(&e->token);

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "magic_token cache claims parsed again");
    }

    ctx->token.jws.claims = e->token.jws.claims;

    return ctx->token.jws.claims;
}


/*
 * The token's "jti" when it is a string: NGX_OK, *jti borrowed for the
 * request; NGX_DECLINED: none; NGX_ERROR.  A bare entry's without
 * parsing its claims, and nothing marks the claims as read.
 */
ngx_int_t
ngx_http_magic_token_jti(ngx_http_magic_token_ctx_t *ctx, ngx_str_t *jti)
{
    json_t                              *claims, *v;
    ngx_http_magic_token_cache_entry_t  *e;

    claims = ctx->token.jws.claims;
    e = ctx->cache_entry;

    if (claims == NULL && e != NULL && e->bare) {
        if (e->jti_len == 0) {
            return NGX_DECLINED;
        }

        jti->data = e->data + e->own;
        jti->len = e->jti_len;
        return NGX_OK;
    }

    if (claims == NULL) {
        claims = ngx_http_magic_token_claims(ctx);
        if (claims == NULL) {
            return NGX_ERROR;
        }
    }

    v = json_object_get(claims, "jti");

    if (!json_is_string(v)) {
        return NGX_DECLINED;
    }

    jti->data = (u_char *) json_string_value(v);
    jti->len = json_string_length(v);

    return NGX_OK;
}


/*
 * The times a hit checks, read once from the verified claims: the end
 * (exp) and the start (nbf and iat, less the leeway).  NGX_DECLINED for
 * a token valid only thanks to the leeway: not worth keeping.
 */
ngx_int_t
ngx_http_magic_token_cache_times(ngx_http_magic_token_ctx_t *ctx, time_t now,
    time_t *expires, time_t *valid_from)
{
    json_t      *v;
    json_int_t   t, from;
    ngx_uint_t   i;

    static const char  *starts[] = { "nbf", "iat" };

    v = json_object_get(ctx->token.jws.claims, "exp");
    if (!json_is_integer(v) || json_integer_value(v) <= (json_int_t) now) {
        return NGX_DECLINED;
    }

    t = json_integer_value(v);
    *expires = (t > (json_int_t) NGX_MAX_TIME_T_VALUE)
               ? NGX_MAX_TIME_T_VALUE : (time_t) t;

    from = 0;

    for (i = 0; i < 2; i++) {
        v = json_object_get(ctx->token.jws.claims, starts[i]);

        if (v == NULL) {
            continue;
        }

        if (!json_is_integer(v)) {
            return NGX_DECLINED;
        }

        t = json_integer_value(v);

        if (t > (json_int_t) NGX_MAX_TIME_T_VALUE) {
            return NGX_DECLINED;
        }

        if (t - (json_int_t) ctx->leeway > from) {
            from = t - (json_int_t) ctx->leeway;
        }
    }

    *valid_from = (time_t) from;

    return NGX_OK;
}


/*
 * A claim that a cached token no longer holds (the credential's
 * ciphertext, "allowed"), read again from the token's bytes, which
 * verified: *value lives as long as the request, NULL when the token has
 * no such claim; left as it is for a claim the cache keeps.
 */
ngx_int_t
ngx_http_magic_token_cache_claim(ngx_http_request_t *r,
    ngx_http_magic_token_ctx_t *ctx, const char *name, json_t **value)
{
    mt_err_t             rc;
    mt_jws_t            *jws;
    ngx_pool_cleanup_t  *cln;

    if (ngx_strcmp(name, "token") != 0 && ngx_strcmp(name, "allowed") != 0) {
        return NGX_OK;
    }

    *value = NULL;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(mt_jws_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    jws = cln->data;

    rc = mt_jws_claims_attested(jws, (char *) ctx->raw.data, ctx->raw.len);
    if (rc != MT_OK) {
        ngx_memzero(jws, sizeof(mt_jws_t));
        return rc == MT_ERR_NOMEM ? NGX_ERROR : NGX_OK;
    }

    cln->handler = ngx_http_magic_token_cache_claims_cleanup;

    *value = json_object_get(jws->claims, name);

    return NGX_OK;
}


/*
 * A token used again and again: its "allowed" rules get PCRE2's JIT
 * (several times faster matches, about 1.5 kB of executable memory per
 * rule), within a bound per worker; past it, the interpreter.
 */
static void
ngx_http_magic_token_cache_jit(ngx_log_t *log,
    ngx_http_magic_token_cache_entry_t *e)
{
    ngx_http_magic_token_cache_jit_rules_of(log, e->token.rules);
}


static void
ngx_http_magic_token_cache_jit_rules_of(ngx_log_t *log, mt_rules_t *rules)
{
    size_t  n;

    if (rules == NULL
        || ngx_http_magic_token_cache_jit_rules + mt_rules_count(rules)
           > NGX_HTTP_MAGIC_TOKEN_CACHE_JIT_MAX)
    {
        return;
    }

    /* counted until the list's last user (entries share lists) frees it */
    n = mt_rules_jit_counted(rules, &ngx_http_magic_token_cache_jit_rules);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "magic_token cache jit: %uz rules", n);
}


static void
ngx_http_magic_token_cache_claims_cleanup(void *data)
{
    mt_jws_clear(data);
}


/* merge time: a location with a zone= cache gets its settings' identity */
char *
ngx_http_magic_token_cache_merge(ngx_conf_t *cf,
    ngx_http_magic_token_loc_conf_t *conf)
{
    if (conf->cache == NULL || conf->cache->zone == NULL
        || conf->keys == NULL)
    {
        conf->cache_id = NULL;
        return NGX_CONF_OK;
    }

    conf->cache_id = ngx_palloc(cf->pool, MT_DIGEST_LEN);
    if (conf->cache_id == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_magic_token_shcache_id(cf, conf, conf->cache_id) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* ctx gives back a borrowed token: ctx->token is left empty */
void
ngx_http_magic_token_cache_release(ngx_http_magic_token_ctx_t *ctx)
{
    ngx_http_magic_token_cache_entry_t  *e;

    e = ctx->cache_entry;

    if (e == NULL) {
        return;
    }

    ctx->cache_entry = NULL;
    ngx_memzero(&ctx->token, sizeof(mt_token_t));

    if (--e->refs == 0 && !e->linked) {
        ngx_http_magic_token_cache_free_entry(e);
    }
}


static ngx_http_magic_token_cache_state_t *
ngx_http_magic_token_cache_state(ngx_http_magic_token_cache_t *cache,
    ngx_log_t *log)
{
    ngx_uint_t                           n;
    ngx_http_magic_token_cache_state_t  *st;

    if (cache->state) {
        return cache->state;
    }

    /* first use in this worker */

    st = ngx_calloc(sizeof(ngx_http_magic_token_cache_state_t), log);
    if (st == NULL) {
        return NULL;
    }

    for (n = 16; n < cache->size; n <<= 1) { /* void */ }

    st->buckets = ngx_calloc(n * sizeof(ngx_http_magic_token_cache_entry_t *),
                             log);

    /* this worker's own seed: bucket positions are not predictable */
    if (st->buckets == NULL
        || RAND_bytes((u_char *) &st->seed, sizeof(st->seed)) != 1)
    {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "magic_token_cache: cannot create the cache");
        ngx_free(st->buckets);
        ngx_free(st);
        return NULL;
    }

    st->mask = n - 1;
    ngx_queue_init(&st->lru);

    cache->state = st;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                   "magic_token cache created: %ui entries, %ui buckets",
                   cache->size, n);

    return st;
}


/*
 * MurmurHash64A (Austin Appleby, public domain), seeded, of the token's
 * length and its last NGX_HTTP_MAGIC_TOKEN_CACHE_TAIL bytes: the end of
 * its signature, which differs for every token (a token is a signed
 * part and its signature; a deterministic signature of the same signed
 * part is the same token, a malleable one differs in its last bytes).
 * About 60 instructions whatever the token's size, where the whole 1 kB
 * took 1,500.  Not a keyed PRF: it spreads the entries; the chain bound
 * and the comparison of every byte do the rest (the shared zone uses it
 * too, ngx_http_magic_token_shcache.c).
 */
uint64_t
ngx_http_magic_token_cache_hash(uint64_t seed, ngx_str_t *token)
{
    size_t          len;
    uint64_t        h, k;
    const u_char   *p;
    const uint64_t  m = 0xc6a4a7935bd1e995ULL;

    len = ngx_min(token->len, NGX_HTTP_MAGIC_TOKEN_CACHE_TAIL);
    p = token->data + token->len - len;

    h = seed ^ (token->len * m);

    for ( /* void */ ; len >= 8; p += 8, len -= 8) {
        ngx_memcpy(&k, p, 8);

        k *= m;
        k ^= k >> 47;
        k *= m;

        h ^= k;
        h *= m;
    }

    if (len) {
        k = 0;
        ngx_memcpy(&k, p, len);

        h ^= k;
        h *= m;
    }

    h ^= h >> 47;
    h *= m;
    h ^= h >> 47;

    return h;
}


/*
 * The link pointing at the entry, or NULL; *chain: the bucket's length.
 *
 * The bytes are compared with memcmp(), not in constant time: the
 * comparison is reached only for an entry whose 64-bit seeded hash, its
 * length and its settings equal the request's, which for other bytes
 * happens by chance alone (about 2^-64 per entry, and the seed is never
 * shown), so its timing cannot be used to learn a cached token byte by
 * byte; a hit reveals nothing the client did not send.
 */
static ngx_http_magic_token_cache_entry_t **
ngx_http_magic_token_cache_find(ngx_http_magic_token_cache_state_t *st,
    uint64_t hash, ngx_http_magic_token_ctx_t *ctx, ngx_str_t *raw,
    ngx_uint_t *chain)
{
    ngx_uint_t                            n;
    ngx_http_magic_token_cache_entry_t  **pe, *e;

    n = 0;

    for (pe = &st->buckets[hash & st->mask]; *pe; pe = &(*pe)->next) {
        e = *pe;
        n++;

        if (e->hash == hash
            && e->len == raw->len
            && e->keys == ctx->keys
            && e->scope_match == ctx->scope_match
            && e->leeway == ctx->leeway
            && ngx_http_magic_token_cache_equal(e, raw))
        {
            return pe;
        }
    }

    if (chain) {
        *chain = n;
    }

    return NULL;
}


/*
 * Every byte: an entry holds its own (a token's, or a chain element's
 * with the '~' before it), the entries before it the rest.
 */
static ngx_uint_t
ngx_http_magic_token_cache_equal(ngx_http_magic_token_cache_entry_t *e,
    ngx_str_t *raw)
{
    size_t  end;

    for (end = raw->len; e != NULL; e = e->parent) {
        if (e->own > end
            || ngx_memcmp(e->data, raw->data + end - e->own, e->own) != 0)
        {
            return 0;
        }

        end -= e->own;
    }

    return end == 0;
}


/* out of the index; freed now, or by its last user */
/* a few expired entries dropped, then the least recently used: room */
static void
ngx_http_magic_token_cache_room(ngx_log_t *log,
    ngx_http_magic_token_cache_t *cache,
    ngx_http_magic_token_cache_state_t *st, time_t now)
{
    ngx_uint_t                           i;
    ngx_queue_t                         *q;
    ngx_http_magic_token_cache_entry_t  *e;

    for (i = 0; i < NGX_HTTP_MAGIC_TOKEN_CACHE_SWEEP; i++) {
        if (ngx_queue_empty(&st->lru)) {
            break;
        }

        q = ngx_queue_last(&st->lru);
        e = ngx_queue_data(q, ngx_http_magic_token_cache_entry_t, queue);

        if (now < e->expires) {
            break;
        }

        ngx_http_magic_token_cache_unlink(st, e);
    }

    while (st->count >= cache->size) {
        q = ngx_queue_last(&st->lru);
        e = ngx_queue_data(q, ngx_http_magic_token_cache_entry_t, queue);

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                       "magic_token cache evict (refs %ui)", e->refs);

        ngx_http_magic_token_cache_unlink(st, e);
    }
}


/* a new entry (e->hash set), used by its maker: in its bucket, newest */
static void
ngx_http_magic_token_cache_link(ngx_http_magic_token_cache_state_t *st,
    ngx_http_magic_token_cache_entry_t *e)
{
    ngx_uint_t  i;

    e->refs = 1;
    e->linked = 1;

    i = e->hash & st->mask;
    e->next = st->buckets[i];
    st->buckets[i] = e;
    ngx_queue_insert_head(&st->lru, &e->queue);
    st->count++;
}


static void
ngx_http_magic_token_cache_unlink(ngx_http_magic_token_cache_state_t *st,
    ngx_http_magic_token_cache_entry_t *e)
{
    ngx_http_magic_token_cache_entry_t  **pe;

    for (pe = &st->buckets[e->hash & st->mask]; *pe; pe = &(*pe)->next) {
        if (*pe == e) {
            *pe = e->next;
            break;
        }
    }

    ngx_queue_remove(&e->queue);
    st->count--;
    e->linked = 0;
    e->next = NULL;

    if (e->refs == 0) {
        ngx_http_magic_token_cache_free_entry(e);
    }
}


static void
ngx_http_magic_token_cache_free_entry(ngx_http_magic_token_cache_entry_t *e)
{
    ngx_http_magic_token_cache_entry_t  *parent;

    parent = e->parent;

    if (e->link != NULL) {
        mt_chain_link_clear(e->link);
        ngx_free(e->link);
    }

    mt_keyset_free(e->next_key);

    /* frees claims and rules, wipes the credential */
    mt_token_clear(&e->token);
    /* the token's bytes too: a bearer token */
    ngx_explicit_memzero(e, sizeof(ngx_http_magic_token_cache_entry_t)
                            + e->own + e->jti_len);
    ngx_free(e);

    /* the prefix lives as long as its longest cached chain */
    if (parent != NULL && --parent->refs == 0 && !parent->linked) {
        ngx_http_magic_token_cache_free_entry(parent);
    }
}


/* the cycle pool goes away: at worker exit, or an old cycle's end */
static void
ngx_http_magic_token_cache_cleanup(void *data)
{
    ngx_http_magic_token_cache_t  *cache = data;

    ngx_queue_t                          *q;
    ngx_http_magic_token_cache_entry_t   *e;
    ngx_http_magic_token_cache_state_t   *st;

    st = cache->state;

    if (st == NULL) {
        /* the master, or a worker that never used it */
        return;
    }

    while (!ngx_queue_empty(&st->lru)) {
        q = ngx_queue_head(&st->lru);
        e = ngx_queue_data(q, ngx_http_magic_token_cache_entry_t, queue);
        ngx_http_magic_token_cache_unlink(st, e);
    }

    ngx_free(st->buckets);
    ngx_free(st);

    cache->state = NULL;
}



/*
 * Chains (docs/attenuation.md).  Every element of a chain that passed
 * is an entry of its own under the bytes of the chain up to it: the
 * root (its token, decrypted), then one per link (the verified link:
 * claims, compiled rules), each holding a reference to the entry before
 * it.  An open element keeps the key its "cnf" names, imported, for the
 * next link.  The same chain again is a hit (its last, closed, entry);
 * a new chain on a cached prefix verifies its new links only.  The
 * entry's times are those of all its elements: the earliest exp, the
 * latest nbf/iat.  Memory: an entry and a link per element, whatever
 * the number of chains sharing a prefix; size= bounds them all.
 */


/*
 * NGX_OK: the whole chain is cached, ctx and c borrow it (HIT);
 * NGX_DECLINED: c holds the longest cached prefix (c->borrowed elements,
 * *key the key its last names) or nothing (c->borrowed == 0): verify
 * the rest.  ctx->raw and the settings are set.
 */
ngx_int_t
ngx_http_magic_token_cache_chain_lookup(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx,
    mt_chain_t *c, const mt_keyset_t **key)
{
    size_t                               ends[MT_CHAIN_MAX_LINKS + 1];
    ngx_uint_t                           n, found;
    ngx_http_magic_token_cache_entry_t  *e, *p;

    *key = NULL;
    ctx->cache_status = NGX_HTTP_MAGIC_TOKEN_CACHE_MISS;

    n = ngx_http_magic_token_cache_split(&ctx->raw, ends);
    if (n == 0) {
        return NGX_DECLINED;        /* the verification refuses it */
    }

    e = ngx_http_magic_token_cache_chain_find(r, mlcf->cache, ctx, ends, n,
                                              &found);
    if (e == NULL) {
        return NGX_DECLINED;
    }

    /* the elements, borrowed: links in order, the root's token */
    for (p = e; p->depth > 0; p = p->parent) {
        c->links[p->depth - 1] = *p->link;
        c->links[p->depth - 1].key = NULL;
    }

    c->root = p->token;
    c->n_links = e->depth;
    c->borrowed = e->depth + 1;
    c->exp = (int64_t) e->expires;

    e->refs++;
    ctx->cache_entry = e;
    ctx->token = p->token;
    ctx->decrypted = 1;         /* the root's credential, once */

    if (found < n) {
        *key = e->next_key;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "magic_token cache prefix of %ui elements of %ui",
                       found, n);
        return NGX_DECLINED;
    }

    ctx->cache_status = NGX_HTTP_MAGIC_TOKEN_CACHE_HIT;
    ctx->verified = 1;
    ctx->error = MT_OK;

    /* every element's rules are matched on every hit: JIT, as for tokens */
    if (e->hits < NGX_HTTP_MAGIC_TOKEN_CACHE_JIT_HITS) {
        if (++e->hits == NGX_HTTP_MAGIC_TOKEN_CACHE_JIT_HITS) {
            for (p = e; p->depth > 0; p = p->parent) {
                ngx_http_magic_token_cache_jit_rules_of(r->connection->log,
                                                        p->link->rules);
            }

            ngx_http_magic_token_cache_jit_rules_of(r->connection->log,
                                                    p->token.rules);
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "magic_token cache hit (chain of %ui links, token %s)",
                   e->depth, ngx_http_magic_token_id(ctx));

    return NGX_OK;
}


/* the end of every element in raw; 0: not a chain the cache can hold */
static ngx_uint_t
ngx_http_magic_token_cache_split(ngx_str_t *raw, size_t *ends)
{
    u_char      *p, *last;
    ngx_uint_t   n;

    n = 0;
    last = raw->data + raw->len;

    for (p = raw->data;
         (p = memchr(p, MT_CHAIN_SEP, (size_t) (last - p))) != NULL;
         p++)
    {
        if (n == MT_CHAIN_MAX_LINKS) {
            return 0;
        }

        ends[n++] = (size_t) (p - raw->data);
    }

    ends[n++] = raw->len;

    return n;
}


/*
 * The longest cached prefix that can be used: the whole chain (closed),
 * or a prefix whose last element is open; *found: its elements.
 */
static ngx_http_magic_token_cache_entry_t *
ngx_http_magic_token_cache_chain_find(ngx_http_request_t *r,
    ngx_http_magic_token_cache_t *cache, ngx_http_magic_token_ctx_t *ctx,
    size_t *ends, ngx_uint_t n, ngx_uint_t *found)
{
    time_t                                now;
    ngx_str_t                             s;
    ngx_uint_t                            k;
    ngx_http_magic_token_cache_entry_t  **pe, *e;
    ngx_http_magic_token_cache_state_t   *st;

    st = ngx_http_magic_token_cache_state(cache, r->connection->log);
    if (st == NULL) {
        return NULL;
    }

    now = ngx_time();
    s.data = ctx->raw.data;

    for (k = n; k > 0; k--) {
        s.len = ends[k - 1];

        pe = ngx_http_magic_token_cache_find(
                 st, ngx_http_magic_token_cache_hash(st->seed, &s), ctx, &s,
                 NULL);
        if (pe == NULL) {
            continue;
        }

        e = *pe;

        if (now >= e->expires || now < e->valid_from) {
            ngx_http_magic_token_cache_unlink(st, e);
            continue;
        }

        /* a cached element of another depth cannot be: no '~' in one */
        if (e->depth != k - 1 || (k == 1 && e->next_key == NULL)) {
            return NULL;
        }

        /* the whole chain closed, a prefix open: else verify and refuse */
        if ((k == n) != (e->next_key == NULL)) {
            return NULL;
        }

        ngx_queue_remove(&e->queue);
        ngx_queue_insert_head(&st->lru, &e->queue);

        *found = k;

        return e;
    }

    return NULL;
}


/*
 * A chain that passed: its elements not cached yet become entries, the
 * request borrows them.  ctx->cache_entry, when set, is the prefix the
 * chain was verified from; a hit stores nothing.  Failures only mean
 * that less is cached.
 */
void
ngx_http_magic_token_cache_chain_store(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx)
{
    size_t                               ends[MT_CHAIN_MAX_LINKS + 1];
    ngx_uint_t                           n, i;
    mt_chain_t                          *c;
    ngx_http_magic_token_cache_entry_t  *e, *prev;

    c = ctx->chain;

    if (ctx->cache_status == NGX_HTTP_MAGIC_TOKEN_CACHE_HIT || ctx->borrowed
        || !ctx->verified || !ctx->decrypted || ctx->error != MT_OK)
    {
        return;
    }

    n = ngx_http_magic_token_cache_split(&ctx->raw, ends);
    if (n != c->n_links + 1) {
        return;
    }

    prev = ctx->cache_entry;
    i = (prev != NULL) ? prev->depth + 1 : 0;

    if (i != c->borrowed) {
        return;
    }

    for ( /* void */ ; i < n; i++) {
        e = ngx_http_magic_token_cache_element(r, mlcf->cache, ctx, ends[i],
                                               prev,
                                               i > 0 ? &c->links[i - 1]
                                                     : NULL);
        if (e == NULL) {
            break;
        }

        /* the element now borrowed; the key it names kept with it */
        if (i < c->n_links) {
            e->next_key = c->links[i].key;
            c->links[i].key = NULL;
        }

        c->borrowed = i + 1;
        prev = e;               /* our reference, the next one's parent */
    }

    /* the request's reference: the longest cached prefix, or the chain */
    ctx->cache_entry = prev;

    if (prev != NULL) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "magic_token cache store (chain, %ui of %ui elements)",
                       prev->depth + 1, n);
    }
}


/*
 * An entry for element (the root when link is NULL: ctx->token moves
 * into it) of the chain's first len bytes, after parent, whose
 * reference it takes; NULL: not cached (a bound, a time, memory).
 */
static ngx_http_magic_token_cache_entry_t *
ngx_http_magic_token_cache_element(ngx_http_request_t *r,
    ngx_http_magic_token_cache_t *cache, ngx_http_magic_token_ctx_t *ctx,
    size_t len, ngx_http_magic_token_cache_entry_t *parent, mt_link_t *link)
{
    time_t                               now, expires, valid_from;
    json_t                              *v;
    mt_link_t                           *l;
    json_int_t                           t;
    ngx_uint_t                           i;
    ngx_http_magic_token_cache_entry_t  *e;

    static const char  *starts[] = { "nbf", "iat" };

    now = ngx_time();

    if (link == NULL) {
        if (ngx_http_magic_token_cache_times(ctx, now, &expires,
                                             &valid_from)
            != NGX_OK)
        {
            return NULL;
        }

        if (cache->ttl && expires - now > cache->ttl) {
            expires = now + cache->ttl;
        }

    } else {
        /* the prefix's times, narrowed by the link's (integers, checked) */
        expires = parent->expires;
        valid_from = parent->valid_from;

        v = json_object_get(link->jws.claims, "exp");

        if (v != NULL) {
            t = json_integer_value(v);

            if (t <= (json_int_t) now) {
                return NULL;    /* valid by the leeway only */
            }

            if (t < (json_int_t) expires) {
                expires = (time_t) t;
            }
        }

        for (i = 0; i < 2; i++) {
            v = json_object_get(link->jws.claims, starts[i]);

            if (v != NULL) {
                t = json_integer_value(v) - (json_int_t) ctx->leeway;

                if (t > (json_int_t) valid_from) {
                    valid_from = t > (json_int_t) NGX_MAX_TIME_T_VALUE
                                 ? NGX_MAX_TIME_T_VALUE : (time_t) t;
                }
            }
        }
    }

    l = NULL;

    if (link != NULL) {
        l = ngx_alloc(sizeof(mt_link_t), r->connection->log);
        if (l == NULL) {
            return NULL;
        }
    }

    e = ngx_http_magic_token_cache_insert(r, cache, ctx, len, parent, now);
    if (e == NULL) {
        ngx_free(l);
        return NULL;
    }

    e->expires = expires;
    e->valid_from = valid_from;
    e->parent = parent;
    e->depth = (parent != NULL) ? parent->depth + 1 : 0;

    if (link == NULL) {
        e->token = ctx->token;          /* ctx now borrows it */

    } else {
        *l = *link;                     /* the request's copy borrows it */
        l->key = NULL;
        e->link = l;
    }

    return e;
}


/*
 * A new, empty entry for the first len bytes of ctx->raw, linked; it
 * holds the bytes after parent's only.
 */
static ngx_http_magic_token_cache_entry_t *
ngx_http_magic_token_cache_insert(ngx_http_request_t *r,
    ngx_http_magic_token_cache_t *cache, ngx_http_magic_token_ctx_t *ctx,
    size_t len, ngx_http_magic_token_cache_entry_t *parent, time_t now)
{
    size_t                                own;
    uint64_t                              hash;
    ngx_str_t                             s;
    ngx_uint_t                            chain;
    ngx_http_magic_token_cache_entry_t   *e;
    ngx_http_magic_token_cache_state_t   *st;

    st = ngx_http_magic_token_cache_state(cache, r->connection->log);
    if (st == NULL) {
        return NULL;
    }

    s.data = ctx->raw.data;
    s.len = len;
    hash = ngx_http_magic_token_cache_hash(st->seed, &s);

    /* stored meanwhile, or a hash chain kept short */
    if (ngx_http_magic_token_cache_find(st, hash, ctx, &s, &chain) != NULL
        || chain >= NGX_HTTP_MAGIC_TOKEN_CACHE_CHAIN)
    {
        return NULL;
    }

    ngx_http_magic_token_cache_room(r->connection->log, cache, st, now);

    own = len - (parent != NULL ? parent->len : 0);

    e = ngx_alloc(sizeof(ngx_http_magic_token_cache_entry_t) + own,
                  r->connection->log);
    if (e == NULL) {
        return NULL;
    }

    ngx_memzero(e, sizeof(ngx_http_magic_token_cache_entry_t));

    e->hash = hash;
    e->len = len;
    e->own = own;
    e->data = (u_char *) (e + 1);
    ngx_memcpy(e->data, s.data + len - own, own);
    e->keys = ctx->keys;
    e->scope_match = ctx->scope_match;
    e->leeway = ctx->leeway;

    ngx_http_magic_token_cache_link(st, e);

    return e;
}
