/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * magic_token_zone name:size [revocations=file]: the module's shared
 * memory, one slab pool per zone, shared by all workers.
 *
 * Directives in locations refer to a zone by name, before or after it is
 * defined (ngx_http_magic_token_zone_ref); the postconfiguration refuses
 * a name no magic_token_zone defines.  Each feature that keeps state in a
 * zone (ngx_http_magic_token_zone_features[]) sets up its own part when
 * the zone is initialized, and is given the previous cycle's zone on a
 * reload so that it can keep what it had.
 */


#include "ngx_http_magic_token_module.h"

#include <openssl/rand.h>


/* the smallest zone: a few slab pages beyond the pool's own header */
#define NGX_HTTP_MAGIC_TOKEN_ZONE_MIN  (8 * ngx_pagesize)


static ngx_int_t ngx_http_magic_token_zone_init(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_magic_token_zone_t *ngx_http_magic_token_zone_get(
    ngx_conf_t *cf, ngx_str_t *name);


/*
 * Features with state in the zone, initialized in this order.  Each gets
 * the zone (shpool and sh set, the mutex not held) and the previous
 * cycle's zone, or NULL.  When the shared memory was kept (old != NULL
 * and old->sh == zone->sh) its part is already there.
 */
static ngx_http_magic_token_zone_init_pt
    ngx_http_magic_token_zone_features[] = {
    ngx_http_magic_token_status_init_zone,
    ngx_http_magic_token_revoke_init_zone,
    ngx_http_magic_token_grant_zone_init,
    ngx_http_magic_token_shcache_init,
    ngx_http_magic_token_dpop_init_zone,
    NULL
};


/* magic_token_zone name:size [revocations=file] */
char *
ngx_http_magic_token_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    u_char                       *p;
    ssize_t                       size;
    ngx_str_t                    *value, name, s;
    ngx_uint_t                    i;
    ngx_http_magic_token_zone_t  *zone;

    value = cf->args->elts;

    p = (u_char *) ngx_strchr(value[1].data, ':');

    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\", expected name:size",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data;
    name.len = p - value[1].data;

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) NGX_HTTP_MAGIC_TOKEN_ZONE_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small, at least %uzk",
                           &value[1],
                           (size_t) NGX_HTTP_MAGIC_TOKEN_ZONE_MIN / 1024);
        return NGX_CONF_ERROR;
    }

    zone = ngx_http_magic_token_zone_get(cf, &name);
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (zone->defined) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate magic_token_zone \"%V\", "
                           "first defined in %s:%ui",
                           &name, zone->file, zone->line);
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "revocations=", 12) == 0) {
            s.data = value[i].data + 12;
            s.len = value[i].len - 12;

            if (s.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"revocations=\" needs a file");
                return NGX_CONF_ERROR;
            }

            if (ngx_conf_full_name(cf->cycle, &s, 0) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            zone->revocations = s;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    zone->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                           &ngx_http_magic_token_module);
    if (zone->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (zone->shm_zone->data != NULL
        && zone->shm_zone->data != zone)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "shared memory zone \"%V\" is already used",
                           &name);
        return NGX_CONF_ERROR;
    }

    if (RAND_bytes(zone->key, sizeof(zone->key)) != 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "RAND_bytes() failed for zone \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    zone->shm_zone->init = ngx_http_magic_token_zone_init;
    zone->shm_zone->data = zone;
    zone->defined = 1;
    zone->file = cf->conf_file->file.name.data;
    zone->line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/*
 * A zone named in a location ("zone=name"), maybe defined further down;
 * ngx_http_magic_token_zone_check() refuses one never defined.
 */
ngx_http_magic_token_zone_t *
ngx_http_magic_token_zone_ref(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_http_magic_token_zone_t  *zone;

    if (name->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "empty zone name");
        return NULL;
    }

    zone = ngx_http_magic_token_zone_get(cf, name);
    if (zone == NULL) {
        return NULL;
    }

    if (!zone->defined && zone->file == NULL) {
        /* the first mention, for the message if it is never defined */
        zone->file = cf->conf_file->file.name.data;
        zone->line = cf->conf_file->line;
    }

    return zone;
}


static ngx_http_magic_token_zone_t *
ngx_http_magic_token_zone_get(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_uint_t                         i;
    ngx_http_magic_token_zone_t      **zones, *zone;
    ngx_http_magic_token_main_conf_t  *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_magic_token_module);

    if (mmcf->zones == NULL) {
        mmcf->zones = ngx_array_create(cf->pool, 2,
                                       sizeof(ngx_http_magic_token_zone_t *));
        if (mmcf->zones == NULL) {
            return NULL;
        }
    }

    zones = mmcf->zones->elts;

    for (i = 0; i < mmcf->zones->nelts; i++) {
        if (zones[i]->name.len == name->len
            && ngx_strncmp(zones[i]->name.data, name->data, name->len) == 0)
        {
            return zones[i];
        }
    }

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_magic_token_zone_t));
    if (zone == NULL) {
        return NULL;
    }

    zone->name.data = ngx_pstrdup(cf->pool, name);
    if (zone->name.data == NULL) {
        return NULL;
    }

    zone->name.len = name->len;

    zones = ngx_array_push(mmcf->zones);
    if (zones == NULL) {
        return NULL;
    }

    *zones = zone;

    return zone;
}


/* postconfiguration: every zone a location names is defined */
ngx_int_t
ngx_http_magic_token_zone_check(ngx_conf_t *cf)
{
    ngx_uint_t                         i;
    ngx_http_magic_token_zone_t      **zones;
    ngx_http_magic_token_main_conf_t  *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_magic_token_module);

    if (mmcf->zones == NULL) {
        return NGX_OK;
    }

    zones = mmcf->zones->elts;

    for (i = 0; i < mmcf->zones->nelts; i++) {
        if (!zones[i]->defined) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown magic_token_zone \"%V\" in %s:%ui",
                          &zones[i]->name, zones[i]->file, zones[i]->line);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_magic_token_zone_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_magic_token_zone_t  *ozone = data;

    size_t                              len;
    ngx_uint_t                          i;
    ngx_slab_pool_t                    *shpool;
    ngx_http_magic_token_zone_t        *zone;
    ngx_http_magic_token_shctx_t       *sh;
    ngx_http_magic_token_zone_init_pt  *init;

    zone = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    zone->shpool = shpool;

    if (ozone != NULL && ozone->sh != NULL
        && ozone->shpool == shpool)
    {
        /* a reload that kept the memory: keep its contents and its key */
        zone->sh = ozone->sh;
        ngx_memcpy(zone->key, ozone->key, sizeof(zone->key));

    } else if (shm_zone->shm.exists) {
        /* the memory of a previous master (Windows only) */
        zone->sh = shpool->data;

    } else {
        sh = ngx_slab_calloc(shpool, sizeof(ngx_http_magic_token_shctx_t));
        if (sh == NULL) {
            return NGX_ERROR;
        }

        shpool->data = sh;
        zone->sh = sh;

        len = sizeof(" in magic_token_zone \"\"") + shm_zone->shm.name.len;

        shpool->log_ctx = ngx_slab_alloc(shpool, len);
        if (shpool->log_ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(shpool->log_ctx, " in magic_token_zone \"%V\"%Z",
                    &shm_zone->shm.name);

        /* the features say "full" once, with what was refused */
        shpool->log_nomem = 0;
    }

    init = ngx_http_magic_token_zone_features;

    for (i = 0; init[i] != NULL; i++) {
        if (init[i](zone, ozone, shm_zone->shm.log) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * Allocates from the zone with its mutex held.  When the zone is full,
 * says so once (at "warn") until an allocation succeeds again, and
 * returns NULL: the caller evicts and retries, or refuses.
 */
void *
ngx_http_magic_token_zone_alloc(ngx_http_magic_token_zone_t *zone,
    size_t size)
{
    void  *p;

    p = ngx_slab_alloc_locked(zone->shpool, size);

    if (p != NULL) {
        zone->sh->nomem_logged = 0;
        return p;
    }

    (void) ngx_atomic_fetch_add(
                     &zone->sh->stats[NGX_HTTP_MAGIC_TOKEN_STAT_ZONE_FULL], 1);

    if (!zone->sh->nomem_logged) {
        zone->sh->nomem_logged = 1;
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "magic_token_zone \"%V\" is full (%uz bytes wanted)",
                      &zone->name, size);
    }

    return NULL;
}


/*
 * A feature's zeroed part of a new zone, when the zone is initialized
 * (in the master, before any worker runs); NULL, said at "emerg",
 * when the zone has no room for it.
 */
void *
ngx_http_magic_token_zone_part(ngx_http_magic_token_zone_t *zone,
    size_t size, const char *what, ngx_log_t *log)
{
    void  *p;

    p = ngx_slab_calloc(zone->shpool, size);

    if (p == NULL) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "magic_token_zone \"%V\": no memory for %s",
                      &zone->name, what);
    }

    return p;
}
