/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * magic_token_cache zone=name: the shared level of the cache, in a
 * magic_token_zone, behind each worker's own (ngx_http_magic_token_cache.c).
 *
 * A token verified and decrypted in full by one worker is kept in the
 * zone: its bytes, the identity of the verification settings it passed
 * with, its end (exp, or ttl=) and its credential SEALED with the zone's
 * key (AES-256-GCM, a random 96-bit nonce per entry, the settings, the
 * end and the token's bytes as additional data).  The key lives in the
 * processes' memory only, never in the zone.  A worker that finds the
 * token there skips the signature check and the credential's decryption
 * (the public-key operations), parses the claims again (all but the
 * credential's ciphertext), takes the "allowed" rules from the worker's
 * table of compiled lists (mt_token_restore_interned, ..._intern.c:
 * rules cannot live in shared memory; a set not seen yet is compiled),
 * and its own cache keeps the result.  Every per-request check still
 * runs: exp/nbf, audience, magic_token_require, scopes, path.
 *
 * Settings identity: SHA-256 over the key set's material
 * (mt_keyset_digest), the scope match mode and the leeway, computed at
 * configuration time per location.  Pointers do not survive a reload,
 * the digest does: entries stay usable after "nginx -s reload" when the
 * keys are the same, and are never used with other keys.
 *
 * Lookup: the worker cache's hash (ngx_http_magic_token_cache_hash)
 * with a seed derived from the zone's key (the same in every worker and
 * across a reload that keeps the zone; not in the zone), then the hash,
 * the length, the settings and every byte are compared.  Chains are
 * bounded (NGX_HTTP_MAGIC_TOKEN_SHCACHE_CHAIN); the least recently used
 * entries are evicted when the zone is full; a token that cannot be
 * stored is simply not cached.  Evicted and expired entries are wiped.
 */


#include "ngx_http_magic_token_module.h"

#include <openssl/rand.h>
#include <openssl/sha.h>


#define NGX_HTTP_MAGIC_TOKEN_SHCACHE_CHAIN  8
/* expired entries looked at from the LRU tail on every store */
#define NGX_HTTP_MAGIC_TOKEN_SHCACHE_SWEEP  4
/* entries evicted at most to make room for one */
#define NGX_HTTP_MAGIC_TOKEN_SHCACHE_EVICT  16
/* one bucket per this many bytes of zone */
#define NGX_HTTP_MAGIC_TOKEN_SHCACHE_RATIO  2048

/* AES-256-GCM */
#define NGX_HTTP_MT_NONCE                   12
#define NGX_HTTP_MT_TAG                     16


typedef struct ngx_http_magic_token_shcache_node_s
    ngx_http_magic_token_shcache_node_t;

struct ngx_http_magic_token_shcache_node_s {
    ngx_http_magic_token_shcache_node_t  *next;    /* hash chain */
    ngx_queue_t                           queue;   /* LRU, newest first */

    uint64_t                hash;
    time_t                  expires;
    uint32_t                len;            /* the token's bytes */
    uint32_t                sealed_len;     /* the credential's bytes */
    unsigned                credential:1;   /* 0: the token carries none */

    u_char                  settings[MT_DIGEST_LEN];
    u_char                  nonce[NGX_HTTP_MT_NONCE];
    u_char                  tag[NGX_HTTP_MT_TAG];

    u_char                  data[1];        /* token, then sealed bytes */
};


typedef struct {
    ngx_queue_t                           lru;
    ngx_http_magic_token_shcache_node_t **buckets;
    ngx_uint_t                            mask;
} ngx_http_magic_token_shcache_sh_t;


static ngx_http_magic_token_shcache_node_t **
    ngx_http_magic_token_shcache_find(ngx_http_magic_token_shcache_sh_t *sc,
    uint64_t hash, u_char *id, ngx_str_t *raw, ngx_uint_t *chain);
static void ngx_http_magic_token_shcache_free(
    ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_shcache_node_t *node, ngx_uint_t evicted);
static u_char *ngx_http_magic_token_shcache_aad(ngx_http_request_t *r,
    u_char *id, time_t expires, ngx_str_t *raw, size_t *len);


/* ngx_http_magic_token_zone_features[]: the cache's part of a zone */
ngx_int_t
ngx_http_magic_token_shcache_init(ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_zone_t *old, ngx_log_t *log)
{
    size_t                              n;
    u_char                              md[SHA256_DIGEST_LENGTH];
    u_char                              in[sizeof(zone->key) + 8];
    ngx_http_magic_token_shcache_sh_t  *sc;

    /* in process memory: the same in every worker, gone with the key */
    ngx_memcpy(in, "mt:seed:", 8);
    ngx_memcpy(in + 8, zone->key, sizeof(zone->key));
    SHA256(in, sizeof(in), md);
    ngx_memcpy(&zone->cache_seed, md, sizeof(zone->cache_seed));
    ngx_explicit_memzero(in, sizeof(in));
    ngx_explicit_memzero(md, sizeof(md));

    if (old != NULL && old->sh == zone->sh && zone->sh->cache != NULL) {
        /* a reload that kept the memory (and the key): keep the entries */
        return NGX_OK;
    }

    sc = ngx_slab_calloc(zone->shpool,
                         sizeof(ngx_http_magic_token_shcache_sh_t));
    if (sc == NULL) {
        return NGX_ERROR;
    }

    for (n = 64;
         n * 2 * NGX_HTTP_MAGIC_TOKEN_SHCACHE_RATIO
             <= zone->shm_zone->shm.size;
         n <<= 1)
    { /* void */ }

    sc->buckets = ngx_slab_calloc(zone->shpool,
                      n * sizeof(ngx_http_magic_token_shcache_node_t *));
    if (sc->buckets == NULL) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "magic_token_zone \"%V\" is too small for the "
                      "cache's %uz buckets", &zone->name, n);
        return NGX_ERROR;
    }

    sc->mask = n - 1;
    ngx_queue_init(&sc->lru);

    zone->sh->cache = sc;

    return NGX_OK;
}


/*
 * The settings' identity (into id): the key set, the match mode and the
 * leeway, at configuration time.
 */
ngx_int_t
ngx_http_magic_token_shcache_id(ngx_conf_t *cf,
    ngx_http_magic_token_loc_conf_t *mlcf, u_char *id)
{
    u_char   in[MT_DIGEST_LEN + 2 * sizeof(int64_t)];
    int64_t  v[2];

    if (mt_keyset_digest(mlcf->keys, in) != MT_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "magic_token_cache: cannot digest the keys");
        return NGX_ERROR;
    }

    v[0] = (int64_t) mlcf->scope_match;
    v[1] = (int64_t) mlcf->leeway;
    ngx_memcpy(in + MT_DIGEST_LEN, v, sizeof(v));

    SHA256(in, sizeof(in), id);

    return NGX_OK;
}


/*
 * NGX_OK: found in the zone; ctx->token holds the claims, the compiled
 * rules and the credential (owned by ctx), as after a full verification.
 * NGX_DECLINED: verify as usual.  NGX_ERROR: out of memory.
 */
ngx_int_t
ngx_http_magic_token_shcache_lookup(ngx_http_request_t *r,
    ngx_http_magic_token_zone_t *zone, u_char *id,
    ngx_http_magic_token_ctx_t *ctx)
{
    u_char                                *aad, *plain;
    u_char                                 nonce[NGX_HTTP_MT_NONCE];
    u_char                                 tag[NGX_HTTP_MT_TAG];
    u_char                                 sealed[MT_MAX_CREDENTIAL_LEN];
    size_t                                 aad_len, len;
    time_t                                 now, expires;
    uint64_t                               hash;
    mt_err_t                               rc;
    ngx_uint_t                             credential;
    ngx_http_magic_token_shcache_sh_t     *sc;
    ngx_http_magic_token_shcache_node_t  **pn, *node;

    sc = zone->sh->cache;
    now = ngx_time();
    hash = ngx_http_magic_token_cache_hash(zone->cache_seed, &ctx->raw);

    ngx_shmtx_lock(&zone->shpool->mutex);

    pn = ngx_http_magic_token_shcache_find(sc, hash, id, &ctx->raw, NULL);

    if (pn == NULL || now >= (*pn)->expires
        || (*pn)->sealed_len > MT_MAX_CREDENTIAL_LEN)
    {
        if (pn != NULL) {
            ngx_http_magic_token_shcache_free(zone, *pn, 0);
        }

        ngx_shmtx_unlock(&zone->shpool->mutex);

        (void) ngx_atomic_fetch_add(
                 &zone->sh->stats[NGX_HTTP_MAGIC_TOKEN_STAT_CACHE_MISSES], 1);

        return NGX_DECLINED;
    }

    node = *pn;

    ngx_queue_remove(&node->queue);
    ngx_queue_insert_head(&sc->lru, &node->queue);

    /* copied out: the decryption runs without the lock */
    expires = node->expires;
    credential = node->credential;
    len = node->sealed_len;
    ngx_memcpy(nonce, node->nonce, sizeof(nonce));
    ngx_memcpy(tag, node->tag, sizeof(tag));
    ngx_memcpy(sealed, node->data + node->len, len);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    (void) ngx_atomic_fetch_add(
                   &zone->sh->stats[NGX_HTTP_MAGIC_TOKEN_STAT_CACHE_HITS], 1);

    plain = NULL;

    if (credential) {
        aad = ngx_http_magic_token_shcache_aad(r, id, expires, &ctx->raw,
                                               &aad_len);
        plain = OPENSSL_malloc(len ? len : 1);

        if (aad == NULL || plain == NULL) {
            OPENSSL_free(plain);
            return NGX_ERROR;
        }

        rc = mt_gcm(1, zone->key, sizeof(zone->key), nonce, aad, aad_len,
                    sealed, len, tag, plain);

        ngx_explicit_memzero(sealed, len);

        if (rc != MT_OK) {
            /* never seen unless the zone was written to by someone else */
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "magic_token_cache: a sealed credential in zone "
                          "\"%V\" does not open, ignored", &zone->name);
            OPENSSL_clear_free(plain, len);
            return NGX_DECLINED;
        }
    }

    /* the rules of tokens like this one are compiled already, mostly */
    rc = mt_token_restore_interned(&ctx->token, (char *) ctx->raw.data,
                                   ctx->raw.len, (int64_t) now,
                                   (int64_t) ctx->leeway,
                                   (mt_match_mode_t) ctx->scope_match,
                                   ngx_http_magic_token_intern(r));

    if (rc != MT_OK) {
        OPENSSL_clear_free(plain, len);

        if (rc == MT_ERR_NOMEM) {
            return NGX_ERROR;
        }

        /* not valid now (nbf, a clock set back): the full check says why */
        return NGX_DECLINED;
    }

    ctx->token.credential = plain;
    ctx->token.credential_len = credential ? len : 0;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "magic_token cache shared hit (token %s)",
                   ngx_http_magic_token_id(ctx));

    return NGX_OK;
}


/*
 * A token verified and decrypted in full by this worker, valid until
 * expires: into the zone.  Failures only mean it is not shared.
 */
void
ngx_http_magic_token_shcache_store(ngx_http_request_t *r,
    ngx_http_magic_token_zone_t *zone, u_char *id,
    ngx_http_magic_token_ctx_t *ctx, time_t expires)
{
    u_char                                *aad, *sealed;
    u_char                                 nonce[NGX_HTTP_MT_NONCE];
    u_char                                 tag[NGX_HTTP_MT_TAG];
    size_t                                 aad_len, len, size;
    time_t                                 now;
    uint64_t                               hash;
    ngx_uint_t                             i, chain;
    ngx_queue_t                           *q;
    ngx_http_magic_token_shcache_sh_t     *sc;
    ngx_http_magic_token_shcache_node_t   *node;

    len = ctx->token.credential_len;

    if (ctx->raw.len > NGX_MAX_UINT32_VALUE || len > MT_MAX_CREDENTIAL_LEN) {
        return;
    }

    /* sealed before the lock is taken */

    sealed = NULL;

    if (ctx->token.credential != NULL) {
        aad = ngx_http_magic_token_shcache_aad(r, id, expires, &ctx->raw,
                                               &aad_len);
        sealed = ngx_pnalloc(r->pool, len ? len : 1);

        if (aad == NULL || sealed == NULL
            || RAND_bytes(nonce, sizeof(nonce)) != 1
            || mt_gcm(0, zone->key, sizeof(zone->key), nonce, aad, aad_len,
                      ctx->token.credential, len, tag, sealed)
               != MT_OK)
        {
            return;
        }

    } else {
        ngx_memzero(nonce, sizeof(nonce));
        ngx_memzero(tag, sizeof(tag));
        len = 0;
    }

    sc = zone->sh->cache;
    now = ngx_time();
    hash = ngx_http_magic_token_cache_hash(zone->cache_seed, &ctx->raw);
    size = offsetof(ngx_http_magic_token_shcache_node_t, data)
           + ctx->raw.len + len;

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (ngx_http_magic_token_shcache_find(sc, hash, id, &ctx->raw, &chain)
        != NULL
        || chain >= NGX_HTTP_MAGIC_TOKEN_SHCACHE_CHAIN)
    {
        /* stored meanwhile by another worker, or a chain kept short */
        goto done;
    }

    for (i = 0; i < NGX_HTTP_MAGIC_TOKEN_SHCACHE_SWEEP; i++) {
        if (ngx_queue_empty(&sc->lru)) {
            break;
        }

        q = ngx_queue_last(&sc->lru);
        node = ngx_queue_data(q, ngx_http_magic_token_shcache_node_t, queue);

        if (now < node->expires) {
            break;
        }

        ngx_http_magic_token_shcache_free(zone, node, 0);
    }

    node = ngx_http_magic_token_zone_alloc(zone, size);

    /* full: the least recently used make room */
    for (i = 0;
         node == NULL && i < NGX_HTTP_MAGIC_TOKEN_SHCACHE_EVICT
         && !ngx_queue_empty(&sc->lru);
         i++)
    {
        q = ngx_queue_last(&sc->lru);
        ngx_http_magic_token_shcache_free(zone,
            ngx_queue_data(q, ngx_http_magic_token_shcache_node_t, queue), 1);

        node = ngx_slab_alloc_locked(zone->shpool, size);
    }

    if (node == NULL) {
        goto done;
    }

    node->hash = hash;
    node->expires = expires;
    node->len = (uint32_t) ctx->raw.len;
    node->sealed_len = (uint32_t) len;
    node->credential = (ctx->token.credential != NULL);
    ngx_memcpy(node->settings, id, MT_DIGEST_LEN);
    ngx_memcpy(node->nonce, nonce, sizeof(nonce));
    ngx_memcpy(node->tag, tag, sizeof(tag));
    ngx_memcpy(node->data, ctx->raw.data, ctx->raw.len);
    ngx_memcpy(node->data + ctx->raw.len, sealed, len);

    i = hash & sc->mask;
    node->next = sc->buckets[i];
    sc->buckets[i] = node;
    ngx_queue_insert_head(&sc->lru, &node->queue);

    (void) ngx_atomic_fetch_add(
                 &zone->sh->stats[NGX_HTTP_MAGIC_TOKEN_STAT_CACHE_STORES], 1);
    (void) ngx_atomic_fetch_add(
                &zone->sh->stats[NGX_HTTP_MAGIC_TOKEN_STAT_CACHE_ENTRIES], 1);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "magic_token cache shared store (token %s, for %T s)",
                   ngx_http_magic_token_id(ctx), expires - now);

done:

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/*
 * The link pointing at the node, or NULL; *chain: the bucket's length.
 * The bytes are compared in full (memcmp: see the worker cache's
 * ngx_http_magic_token_cache_find for why not in constant time).
 */
static ngx_http_magic_token_shcache_node_t **
ngx_http_magic_token_shcache_find(ngx_http_magic_token_shcache_sh_t *sc,
    uint64_t hash, u_char *id, ngx_str_t *raw, ngx_uint_t *chain)
{
    ngx_uint_t                             n;
    ngx_http_magic_token_shcache_node_t  **pn, *node;

    n = 0;

    for (pn = &sc->buckets[hash & sc->mask]; *pn; pn = &(*pn)->next) {
        node = *pn;
        n++;

        if (node->hash == hash
            && node->len == raw->len
            && ngx_memcmp(node->settings, id, MT_DIGEST_LEN) == 0
            && ngx_memcmp(node->data, raw->data, raw->len) == 0)
        {
            return pn;
        }
    }

    if (chain) {
        *chain = n;
    }

    return NULL;
}


/* out of the index, wiped and freed; the mutex is held */
static void
ngx_http_magic_token_shcache_free(ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_shcache_node_t *node, ngx_uint_t evicted)
{
    ngx_http_magic_token_shcache_sh_t     *sc;
    ngx_http_magic_token_shcache_node_t  **pn;

    sc = zone->sh->cache;

    for (pn = &sc->buckets[node->hash & sc->mask]; *pn; pn = &(*pn)->next) {
        if (*pn == node) {
            *pn = node->next;
            break;
        }
    }

    ngx_queue_remove(&node->queue);

    ngx_explicit_memzero(node, offsetof(ngx_http_magic_token_shcache_node_t,
                                        data)
                               + node->len + node->sealed_len);
    ngx_slab_free_locked(zone->shpool, node);

    (void) ngx_atomic_fetch_add(
        &zone->sh->stats[NGX_HTTP_MAGIC_TOKEN_STAT_CACHE_ENTRIES], -1);

    if (evicted) {
        (void) ngx_atomic_fetch_add(
             &zone->sh->stats[NGX_HTTP_MAGIC_TOKEN_STAT_CACHE_EVICTIONS], 1);
    }
}


/* what a sealed credential is bound to: settings, end, the token */
static u_char *
ngx_http_magic_token_shcache_aad(ngx_http_request_t *r, u_char *id,
    time_t expires, ngx_str_t *raw, size_t *len)
{
    u_char   *aad, *p;
    int64_t   t;

    *len = MT_DIGEST_LEN + sizeof(int64_t) + raw->len;

    aad = ngx_pnalloc(r->pool, *len);
    if (aad == NULL) {
        return NULL;
    }

    t = (int64_t) expires;

    p = ngx_cpymem(aad, id, MT_DIGEST_LEN);
    p = ngx_cpymem(p, &t, sizeof(int64_t));
    ngx_memcpy(p, raw->data, raw->len);

    return aad;
}
