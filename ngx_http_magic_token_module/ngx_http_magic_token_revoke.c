/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Revocations kept in a magic_token_zone and in its revocations= file.
 *
 * The file (mt_revoke.c for its format) is read at configuration time:
 * a missing, corrupt or half-written file fails "nginx -t", the start or
 * the reload, and a running nginx keeps its list.  The zone holds the
 * list as an rbtree keyed by a hash of the kind and value; a reload
 * that keeps the zone keeps it, and adds what the file has (the file
 * may have been edited with "magic-token revoke ... add").  Revocations
 * made through magic_token_admin (ngx_http_magic_token_admin.c) are
 * appended to the file, under its lock and the zone's mutex, and are in
 * effect in every worker at once.  The master compacts the file (drops
 * expired and removed records) when it starts or reloads.
 *
 *   magic_token_revocation zone=name | off;
 *
 * refuses (401, "revoked") the tokens the zone's list names, before
 * scopes, on every request, cache hits and subrequests included.
 */


#include "ngx_http_magic_token_module.h"


/* conf time, in zone->revoke_conf */
typedef struct {
    mt_revoke_list_t           *list;       /* the file, as loaded */
    ngx_cycle_t                *cycle;      /* for the workers' user */
    u_char                     *file;       /* the first use of the zone */
    ngx_uint_t                  line;
} ngx_http_magic_token_revoke_conf_t;


/* in the zone: zone->sh->revoked */
typedef struct {
    ngx_rbtree_t                rbtree;
    ngx_rbtree_node_t           sentinel;
    ngx_uint_t                  count[MT_REVOKE_KINDS];
} ngx_http_magic_token_revoke_sh_t;


typedef struct {
    ngx_str_node_t              sn;         /* the kind's byte, the value */
    time_t                      until;
    time_t                      before;
    u_char                      data[1];
} ngx_http_magic_token_revoke_node_t;


/* a lookup key: the kind as one byte, then the value */
typedef struct {
    ngx_str_t                   str;
    uint32_t                    hash;
    u_char                      buf[1 + MT_REVOKE_MAX_VALUE];
} ngx_http_magic_token_revoke_key_t;


static void ngx_http_magic_token_revoke_free_list(void *data);
static ngx_int_t ngx_http_magic_token_revoke_load(ngx_conf_t *cf,
    ngx_http_magic_token_zone_t *zone);
static ngx_int_t ngx_http_magic_token_revoke_insert(
    ngx_http_magic_token_zone_t *zone, mt_revoke_rec_t *rec);
static void ngx_http_magic_token_revoke_store(
    ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_revoke_node_t *rn, mt_revoke_rec_t *rec);
static void ngx_http_magic_token_revoke_widen(
    ngx_http_magic_token_revoke_node_t *rn, mt_revoke_rec_t *rec);
static ngx_http_magic_token_revoke_node_t *ngx_http_magic_token_revoke_alloc(
    ngx_http_magic_token_zone_t *zone, mt_revoke_rec_t *rec);
static ngx_uint_t ngx_http_magic_token_revoke_key(
    ngx_http_magic_token_revoke_key_t *key, ngx_uint_t kind, u_char *value,
    size_t len);
static ngx_http_magic_token_revoke_node_t *ngx_http_magic_token_revoke_find(
    ngx_http_magic_token_zone_t *zone, ngx_uint_t kind, u_char *value,
    size_t len);
static void ngx_http_magic_token_revoke_delete(
    ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_revoke_node_t *rn);
static ngx_uint_t ngx_http_magic_token_revoke_value(
    ngx_http_magic_token_zone_t *zone, ngx_uint_t kind, json_t *value);
static ngx_uint_t ngx_http_magic_token_revoke_cutoff(
    ngx_http_magic_token_zone_t *zone, ngx_uint_t kind, json_t *value,
    json_t *claims);
static ngx_uint_t ngx_http_magic_token_revoke_sweep(
    ngx_http_magic_token_zone_t *zone);
static void ngx_http_magic_token_revoke_compact(
    ngx_http_magic_token_zone_t *zone, ngx_cycle_t *cycle, ngx_log_t *log);


/* magic_token_revocation zone=name | off */
char *
ngx_http_magic_token_revocation(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_magic_token_loc_conf_t *mlcf = conf;

    ngx_str_t  *value, name;

    if (mlcf->revocation != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        mlcf->revocation = NULL;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[1].data, "zone=", 5) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\", expected zone=name "
                           "or off", &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data + 5;
    name.len = value[1].len - 5;

    mlcf->revocation = ngx_http_magic_token_revoke_use(cf, &name);
    if (mlcf->revocation == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * A zone named by magic_token_revocation or magic_token_admin: it must
 * have a revocations= file (checked in ..._revoke_postconf()).
 */
ngx_http_magic_token_zone_t *
ngx_http_magic_token_revoke_use(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_http_magic_token_zone_t         *zone;
    ngx_http_magic_token_revoke_conf_t  *rcf;

    zone = ngx_http_magic_token_zone_ref(cf, name);
    if (zone == NULL) {
        return NULL;
    }

    if (zone->revoke_conf == NULL) {
        rcf = ngx_pcalloc(cf->pool,
                          sizeof(ngx_http_magic_token_revoke_conf_t));
        if (rcf == NULL) {
            return NULL;
        }

        rcf->file = cf->conf_file->file.name.data;
        rcf->line = cf->conf_file->line;
        zone->revoke_conf = rcf;
    }

    return zone;
}


char *
ngx_http_magic_token_revoke_merge(ngx_conf_t *cf,
    ngx_http_magic_token_loc_conf_t *prev,
    ngx_http_magic_token_loc_conf_t *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    ngx_conf_merge_ptr_value(conf->revocation, prev->revocation, NULL);

    if (conf->admin != NULL && conf->keys == NULL) {
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"magic_token_admin\" in location \"%V\" needs "
                           "\"magic_token_key\" or \"magic_token_secret\" "
                           "to verify admin tokens", &clcf->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* postconfiguration: every zone's revocations= file, loaded or refused */
ngx_int_t
ngx_http_magic_token_revoke_postconf(ngx_conf_t *cf)
{
    ngx_uint_t                           i;
    ngx_http_magic_token_zone_t        **zones;
    ngx_http_magic_token_main_conf_t    *mmcf;
    ngx_http_magic_token_revoke_conf_t  *rcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_magic_token_module);

    if (mmcf->zones == NULL) {
        return NGX_OK;
    }

    zones = mmcf->zones->elts;

    for (i = 0; i < mmcf->zones->nelts; i++) {
        rcf = zones[i]->revoke_conf;

        if (zones[i]->revocations.len == 0) {
            if (rcf != NULL) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "magic_token_zone \"%V\" has no "
                              "revocations= file, which the revocations "
                              "in %s:%ui need (they must survive a "
                              "restart)", &zones[i]->name, rcf->file,
                              rcf->line);
                return NGX_ERROR;
            }

            continue;
        }

        if (ngx_http_magic_token_revoke_load(cf, zones[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_magic_token_revoke_load(ngx_conf_t *cf,
    ngx_http_magic_token_zone_t *zone)
{
    char                                 errbuf[512];
    size_t                               line;
    mt_err_t                             rc;
    ngx_str_t                           *file;
    ngx_pool_cleanup_t                  *cln;
    ngx_http_magic_token_revoke_conf_t  *rcf;

    rcf = zone->revoke_conf;

    if (rcf == NULL) {
        rcf = ngx_pcalloc(cf->pool,
                          sizeof(ngx_http_magic_token_revoke_conf_t));
        if (rcf == NULL) {
            return NGX_ERROR;
        }

        zone->revoke_conf = rcf;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    rcf->list = mt_revoke_list_new();
    if (rcf->list == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_magic_token_revoke_free_list;
    cln->data = rcf;
    rcf->cycle = cf->cycle;

    /* ngx_conf_full_name() leaves the name NUL-terminated */
    file = &zone->revocations;

    rc = mt_revoke_file_read(rcf->list, (char *) file->data,
                             (int64_t) ngx_time(), &line, errbuf,
                             sizeof(errbuf));

    if (rc == MT_OK) {
        return NGX_OK;
    }

    if (rc == MT_ERR_MISSING) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "revocations file \"%V\" of magic_token_zone \"%V\" "
                      "does not exist: create it with \"magic-token revoke "
                      "%V init\"", file, &zone->name, file);

    } else if (line > 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "revocations file \"%V\" of magic_token_zone \"%V\", "
                      "line %uz: %s", file, &zone->name, line, errbuf);

    } else {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "revocations file \"%V\" of magic_token_zone \"%V\": "
                      "%s", file, &zone->name, errbuf);
    }

    return NGX_ERROR;
}


static void
ngx_http_magic_token_revoke_free_list(void *data)
{
    ngx_http_magic_token_revoke_conf_t  *rcf = data;

    mt_revoke_list_free(rcf->list);     /* NULL once in the zone */
    rcf->list = NULL;
}


/*
 * The zone feature: the list in the zone, kept across a reload that
 * keeps the memory, with the file's records added (a new zone, at a
 * start or when its size changed, has those only).  The file's list is
 * not needed after this: freed at once, not kept in every worker.
 */
ngx_int_t
ngx_http_magic_token_revoke_init_zone(ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_zone_t *old, ngx_log_t *log)
{
    size_t                               cursor;
    mt_revoke_rec_t                      rec;
    ngx_http_magic_token_revoke_sh_t    *sh;
    ngx_http_magic_token_revoke_conf_t  *rcf;

    rcf = zone->revoke_conf;

    if (zone->revocations.len == 0 || rcf == NULL || rcf->list == NULL) {
        return NGX_OK;
    }

    if (zone->sh->revoked == NULL) {
        ngx_shmtx_lock(&zone->shpool->mutex);
        sh = ngx_http_magic_token_zone_alloc(zone,
                                    sizeof(ngx_http_magic_token_revoke_sh_t));
        if (sh != NULL) {
            ngx_memzero(sh, sizeof(ngx_http_magic_token_revoke_sh_t));
            ngx_rbtree_init(&sh->rbtree, &sh->sentinel,
                            ngx_str_rbtree_insert_value);
            zone->sh->revoked = sh;
        }

        ngx_shmtx_unlock(&zone->shpool->mutex);

        if (sh == NULL) {
            return NGX_ERROR;
        }
    }

    cursor = 0;

    while (mt_revoke_list_next(rcf->list, &cursor, &rec)) {
        if (ngx_http_magic_token_revoke_insert(zone, &rec) != NGX_OK) {
            ngx_log_error(NGX_LOG_EMERG, log, 0,
                          "magic_token_zone \"%V\" is too small for the %uz "
                          "revocations of \"%V\"", &zone->name,
                          mt_revoke_list_count(rcf->list),
                          &zone->revocations);
            return NGX_ERROR;
        }
    }

    mt_revoke_list_free(rcf->list);
    rcf->list = NULL;

    ngx_http_magic_token_revoke_compact(zone, rcf->cycle, log);

    return NGX_OK;
}


/*
 * Rewrites the file without expired and removed records, and gives the
 * new file to the workers' user, who append to it: by the master that starts or
 * reloads, never by "nginx -t" or "nginx -s".  Appends from workers
 * wait for the file's lock and go to the new file.
 */
static void
ngx_http_magic_token_revoke_compact(ngx_http_magic_token_zone_t *zone,
    ngx_cycle_t *cycle, ngx_log_t *log)
{
    char              errbuf[512];
    size_t            kept, line;
    mt_err_t          rc;
    ngx_core_conf_t  *ccf;

    if (ngx_test_config || ngx_process == NGX_PROCESS_SIGNALLER) {
        return;
    }

    rc = mt_revoke_file_compact((char *) zone->revocations.data,
                                (int64_t) ngx_time(), &kept, &line, errbuf,
                                sizeof(errbuf));

    if (rc != MT_OK) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "revocations file \"%V\" not compacted: %s",
                      &zone->revocations, errbuf);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, log, 0,
                  "revocations file \"%V\" compacted: %uz revocations",
                  &zone->revocations, kept);

    /* the file just written, not what a link may point to */
    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (geteuid() == 0 && ccf->user != (ngx_uid_t) NGX_CONF_UNSET_UINT
        && chown((char *) zone->revocations.data, ccf->user, (gid_t) -1)
           == -1)
    {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "chown(\"%V\") failed: the workers cannot write "
                      "revocations", &zone->revocations);
    }
}


/* adds rec, or widens the one there; NGX_DECLINED: the zone is full */
static ngx_int_t
ngx_http_magic_token_revoke_insert(ngx_http_magic_token_zone_t *zone,
    mt_revoke_rec_t *rec)
{
    ngx_int_t                            rc;
    ngx_http_magic_token_revoke_node_t  *rn;

    rc = NGX_OK;

    ngx_shmtx_lock(&zone->shpool->mutex);

    rn = ngx_http_magic_token_revoke_find(zone, rec->kind,
                                          (u_char *) rec->value, rec->len);

    if (rn != NULL) {
        ngx_http_magic_token_revoke_widen(rn, rec);

    } else {
        rn = ngx_http_magic_token_revoke_alloc(zone, rec);

        if (rn != NULL) {
            ngx_http_magic_token_revoke_store(zone, rn, rec);

        } else {
            rc = NGX_DECLINED;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


/*
 * rec, appended to the file, then in the zone, as one step under the
 * file's lock and the zone's mutex.  NGX_OK: done, rec has the before
 * and until now in force; NGX_DECLINED: the zone is full, nothing done;
 * NGX_ERROR: errbuf says why; nothing done unless the file was written
 * but could not be synced (then it is in force, and should survive a
 * restart unless the machine fails).
 */
ngx_int_t
ngx_http_magic_token_revoke_add(ngx_http_magic_token_zone_t *zone,
    mt_revoke_rec_t *rec, char *errbuf, size_t errlen)
{
    int                                  fd;
    char                                 line[MT_REVOKE_MAX_LINE];
    size_t                               len;
    mt_err_t                             rc;
    ngx_http_magic_token_revoke_node_t  *rn, *node;

    if (mt_revoke_format(rec, line, sizeof(line), &len) != MT_OK) {
        ngx_cpystrn((u_char *) errbuf, (u_char *) "cannot be written",
                    errlen);
        return NGX_ERROR;
    }

    if (mt_revoke_file_open((char *) zone->revocations.data, &fd, errbuf,
                            errlen)
        != MT_OK)
    {
        return NGX_ERROR;
    }

    node = NULL;

    ngx_shmtx_lock(&zone->shpool->mutex);

    rn = ngx_http_magic_token_revoke_find(zone, rec->kind,
                                          (u_char *) rec->value, rec->len);

    if (rn == NULL) {
        node = ngx_http_magic_token_revoke_alloc(zone, rec);

        if (node == NULL) {
            ngx_shmtx_unlock(&zone->shpool->mutex);
            (void) mt_revoke_file_close(fd, 0, NULL, 0);
            return NGX_DECLINED;
        }
    }

    rc = mt_revoke_file_append(fd, line, len, errbuf, errlen);

    if (rc != MT_OK) {
        if (node != NULL) {
            ngx_slab_free_locked(zone->shpool, node);
        }

        ngx_shmtx_unlock(&zone->shpool->mutex);
        (void) mt_revoke_file_close(fd, 0, NULL, 0);
        return NGX_ERROR;
    }

    if (rn != NULL) {
        ngx_http_magic_token_revoke_widen(rn, rec);

    } else {
        ngx_http_magic_token_revoke_store(zone, node, rec);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return mt_revoke_file_close(fd, 1, errbuf, errlen) == MT_OK
           ? NGX_OK : NGX_ERROR;
}


/*
 * The removal, appended to the file, then the revocation out of the
 * zone.  NGX_OK; NGX_DECLINED: there is no such revocation; NGX_ERROR:
 * errbuf says why, and the revocation stays unless the file was
 * written but not synced (as ..._revoke_add()).
 */
ngx_int_t
ngx_http_magic_token_revoke_remove(ngx_http_magic_token_zone_t *zone,
    mt_revoke_rec_t *rec, char *errbuf, size_t errlen)
{
    int                                  fd;
    char                                 line[MT_REVOKE_MAX_LINE];
    size_t                               len;
    mt_err_t                             rc;
    ngx_http_magic_token_revoke_node_t  *rn;

    rec->removed = 1;

    if (mt_revoke_format(rec, line, sizeof(line), &len) != MT_OK) {
        ngx_cpystrn((u_char *) errbuf, (u_char *) "cannot be written",
                    errlen);
        return NGX_ERROR;
    }

    if (mt_revoke_file_open((char *) zone->revocations.data, &fd, errbuf,
                            errlen)
        != MT_OK)
    {
        return NGX_ERROR;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    rn = ngx_http_magic_token_revoke_find(zone, rec->kind,
                                          (u_char *) rec->value, rec->len);

    if (rn == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        (void) mt_revoke_file_close(fd, 0, NULL, 0);
        return NGX_DECLINED;
    }

    rc = mt_revoke_file_append(fd, line, len, errbuf, errlen);

    if (rc == MT_OK) {
        ngx_http_magic_token_revoke_delete(zone, rn);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (rc != MT_OK) {
        (void) mt_revoke_file_close(fd, 0, NULL, 0);
        return NGX_ERROR;
    }

    return mt_revoke_file_close(fd, 1, errbuf, errlen) == MT_OK
           ? NGX_OK : NGX_ERROR;
}


/* with the mutex held: rn, allocated for rec, goes into the tree */
static void
ngx_http_magic_token_revoke_store(ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_revoke_node_t *rn, mt_revoke_rec_t *rec)
{
    ngx_http_magic_token_revoke_sh_t   *sh;
    ngx_http_magic_token_revoke_key_t   key;

    sh = zone->sh->revoked;

    (void) ngx_http_magic_token_revoke_key(&key, rec->kind,
                                           (u_char *) rec->value, rec->len);

    ngx_memcpy(rn->data, key.str.data, key.str.len);
    rn->sn.str.data = rn->data;
    rn->sn.str.len = key.str.len;
    rn->sn.node.key = key.hash;
    rn->until = (time_t) rec->until;
    rn->before = (time_t) rec->before;

    ngx_rbtree_insert(&sh->rbtree, &rn->sn.node);
    sh->count[rec->kind]++;

    (void) ngx_atomic_fetch_add(
                  &zone->sh->stats[NGX_HTTP_MAGIC_TOKEN_STAT_REVOCATIONS], 1);
}


/* with the mutex held: revocations only widen; rec gets what is in force */
static void
ngx_http_magic_token_revoke_widen(ngx_http_magic_token_revoke_node_t *rn,
    mt_revoke_rec_t *rec)
{
    rn->until = ngx_max(rn->until, (time_t) rec->until);
    rn->before = ngx_max(rn->before, (time_t) rec->before);
    rec->until = rn->until;
    rec->before = rn->before;
}


/*
 * With the mutex held: room for a node for rec; when the zone is full,
 * expired revocations are swept and it is tried again.
 */
static ngx_http_magic_token_revoke_node_t *
ngx_http_magic_token_revoke_alloc(ngx_http_magic_token_zone_t *zone,
    mt_revoke_rec_t *rec)
{
    size_t   size;
    void    *rn;

    size = offsetof(ngx_http_magic_token_revoke_node_t, data) + 1 + rec->len;

    rn = ngx_slab_alloc_locked(zone->shpool, size);

    if (rn == NULL && ngx_http_magic_token_revoke_sweep(zone) > 0) {
        rn = ngx_slab_alloc_locked(zone->shpool, size);
    }

    if (rn == NULL) {
        /* counts the refusal and says "full" once */
        rn = ngx_http_magic_token_zone_alloc(zone, size);
    }

    return rn;
}


static ngx_uint_t
ngx_http_magic_token_revoke_key(ngx_http_magic_token_revoke_key_t *key,
    ngx_uint_t kind, u_char *value, size_t len)
{
    if (len == 0 || len > MT_REVOKE_MAX_VALUE) {
        return 0;
    }

    key->buf[0] = (u_char) kind;
    ngx_memcpy(key->buf + 1, value, len);

    key->str.data = key->buf;
    key->str.len = 1 + len;
    key->hash = ngx_crc32_short(key->buf, key->str.len);

    return 1;
}


/* with the mutex held; an expired revocation is deleted, not found */
static ngx_http_magic_token_revoke_node_t *
ngx_http_magic_token_revoke_find(ngx_http_magic_token_zone_t *zone,
    ngx_uint_t kind, u_char *value, size_t len)
{
    ngx_http_magic_token_revoke_sh_t    *sh;
    ngx_http_magic_token_revoke_key_t    key;
    ngx_http_magic_token_revoke_node_t  *rn;

    sh = zone->sh->revoked;

    if (sh->count[kind] == 0
        || !ngx_http_magic_token_revoke_key(&key, kind, value, len))
    {
        return NULL;
    }

    rn = (ngx_http_magic_token_revoke_node_t *)
             ngx_str_rbtree_lookup(&sh->rbtree, &key.str, key.hash);

    if (rn != NULL && rn->until <= ngx_time()) {
        ngx_http_magic_token_revoke_delete(zone, rn);
        return NULL;
    }

    return rn;
}


static void
ngx_http_magic_token_revoke_delete(ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_revoke_node_t *rn)
{
    ngx_http_magic_token_revoke_sh_t  *sh;

    sh = zone->sh->revoked;

    ngx_rbtree_delete(&sh->rbtree, &rn->sn.node);
    sh->count[rn->data[0]]--;

    (void) ngx_atomic_fetch_add(
                  &zone->sh->stats[NGX_HTTP_MAGIC_TOKEN_STAT_REVOCATIONS],
                  (ngx_atomic_int_t) -1);

    ngx_slab_free_locked(zone->shpool, rn);
}


/* with the mutex held: deletes the expired revocations, says how many */
static ngx_uint_t
ngx_http_magic_token_revoke_sweep(ngx_http_magic_token_zone_t *zone)
{
    time_t                               now;
    ngx_uint_t                           n;
    ngx_rbtree_node_t                   *node, *next, *sentinel;
    ngx_http_magic_token_revoke_sh_t    *sh;
    ngx_http_magic_token_revoke_node_t  *rn;

    sh = zone->sh->revoked;
    sentinel = sh->rbtree.sentinel;
    now = ngx_time();
    n = 0;

    if (sh->rbtree.root == sentinel) {
        return 0;
    }

    /* a deletion relinks nodes, it does not move them: next stays valid */
    for (node = ngx_rbtree_min(sh->rbtree.root, sentinel); node; node = next)
    {
        next = ngx_rbtree_next(&sh->rbtree, node);
        rn = (ngx_http_magic_token_revoke_node_t *) node;

        if (rn->until <= now) {
            ngx_http_magic_token_revoke_delete(zone, rn);
            n++;
        }
    }

    return n;
}


/*
 * Every live revocation, copied with the mutex held into *recs (from
 * r's pool); NGX_ERROR when out of memory.
 */
ngx_int_t
ngx_http_magic_token_revoke_all(ngx_http_request_t *r,
    ngx_http_magic_token_zone_t *zone, ngx_array_t **recs)
{
    time_t                               now;
    ngx_uint_t                           i, n;
    mt_revoke_rec_t                     *rec;
    ngx_rbtree_node_t                   *node, *sentinel;
    ngx_http_magic_token_revoke_sh_t    *sh;
    ngx_http_magic_token_revoke_node_t  *rn;

    sh = zone->sh->revoked;
    now = ngx_time();

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (n = 0, i = 0; i < MT_REVOKE_KINDS; i++) {
        n += sh->count[i];
    }

    *recs = ngx_array_create(r->pool, n ? n : 1, sizeof(mt_revoke_rec_t));

    if (*recs == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return NGX_ERROR;
    }

    sentinel = sh->rbtree.sentinel;
    node = (sh->rbtree.root == sentinel)
           ? NULL : ngx_rbtree_min(sh->rbtree.root, sentinel);

    for ( /* void */ ; node; node = ngx_rbtree_next(&sh->rbtree, node)) {
        rn = (ngx_http_magic_token_revoke_node_t *) node;

        if (rn->until <= now) {
            continue;
        }

        /* n elements were allocated: never grows under the lock */
        rec = ngx_array_push(*recs);

        ngx_memzero(rec, sizeof(mt_revoke_rec_t));
        rec->kind = rn->data[0];
        rec->len = rn->sn.str.len - 1;
        ngx_memcpy(rec->value, rn->data + 1, rec->len);
        rec->until = rn->until;
        rec->before = rn->before;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_OK;
}


/*
 * Is the token of ctx in the zone's list: its jti, its id (the hash, or
 * the jti, as $magic_token_id shows it), a cut-off of its sub or aud?
 */
ngx_uint_t
ngx_http_magic_token_revoked(ngx_http_magic_token_zone_t *zone,
    ngx_http_magic_token_ctx_t *ctx)
{
    size_t                             i;
    json_t                            *claims, *jti, *aud, *v;
    ngx_uint_t                         revoked, ids;
    const char                        *id;
    ngx_http_magic_token_revoke_sh_t  *sh;

    sh = zone->sh ? zone->sh->revoked : NULL;

    if (sh == NULL) {
        /* no list: never happens once configured, and denies if it did */
        return 1;
    }

    claims = ngx_http_magic_token_claims(ctx);

    if (claims == NULL) {
        /* out of memory: denies */
        return 1;
    }

    jti = json_object_get(claims, "jti");
    aud = json_object_get(claims, "aud");

    ngx_shmtx_lock(&zone->shpool->mutex);

    revoked = ngx_http_magic_token_revoke_value(zone, MT_REVOKE_JTI, jti)
              || ngx_http_magic_token_revoke_cutoff(zone, MT_REVOKE_SUB,
                                   json_object_get(claims, "sub"), claims)
              || ngx_http_magic_token_revoke_cutoff(zone, MT_REVOKE_AUD,
                                                    aud, claims);

    if (!revoked && json_is_array(aud)) {
        json_array_foreach(aud, i, v) {
            if (ngx_http_magic_token_revoke_cutoff(zone, MT_REVOKE_AUD, v,
                                                   claims))
            {
                revoked = 1;
                break;
            }
        }
    }

    ids = sh->count[MT_REVOKE_ID];

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (revoked || ids == 0) {
        return revoked;
    }

    /* the id costs a SHA-256: only when some id is revoked */
    id = ngx_http_magic_token_id(ctx);

    ngx_shmtx_lock(&zone->shpool->mutex);

    revoked = ngx_http_magic_token_revoke_find(zone, MT_REVOKE_ID,
                                               (u_char *) id,
                                               MT_HASH_HEX_LEN)
              != NULL
              || ngx_http_magic_token_revoke_value(zone, MT_REVOKE_ID, jti);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return revoked;
}


/* with the mutex held: is the string value revoked as this kind? */
static ngx_uint_t
ngx_http_magic_token_revoke_value(ngx_http_magic_token_zone_t *zone,
    ngx_uint_t kind, json_t *value)
{
    return json_is_string(value)
           && ngx_http_magic_token_revoke_find(zone, kind,
                                  (u_char *) json_string_value(value),
                                  json_string_length(value))
              != NULL;
}


/* with the mutex held: a sub or aud cut-off that catches the token */
static ngx_uint_t
ngx_http_magic_token_revoke_cutoff(ngx_http_magic_token_zone_t *zone,
    ngx_uint_t kind, json_t *value, json_t *claims)
{
    ngx_http_magic_token_revoke_node_t  *rn;

    if (!json_is_string(value)) {
        return 0;
    }

    rn = ngx_http_magic_token_revoke_find(zone, kind,
                                          (u_char *) json_string_value(value),
                                          json_string_length(value));

    return rn != NULL && mt_revoke_issued_before(claims, rn->before);
}


/* in ngx_http_magic_token_check(), once the token verified */
ngx_int_t
ngx_http_magic_token_revoke_check(ngx_http_request_t *r,
    ngx_http_magic_token_loc_conf_t *mlcf, ngx_http_magic_token_ctx_t *ctx)
{
    ngx_http_magic_token_zone_t  *zone;

    zone = mlcf->revocation;

    if (zone == NULL || !ngx_http_magic_token_revoked(zone, ctx)) {
        return NGX_OK;
    }

    (void) ngx_atomic_fetch_add(
               &zone->sh->stats[NGX_HTTP_MAGIC_TOKEN_STAT_REVOKED_REFUSED], 1);

    ctx->error = MT_ERR_REVOKED;

    return NGX_DECLINED;
}
