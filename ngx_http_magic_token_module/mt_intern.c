/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Interned rule lists: tokens from one issuer carry few distinct sets of
 * "allowed" entries, so the tokens of a cache share one compiled list
 * per set (mode and entries) instead of a copy each, and a token whose
 * set is already compiled (a shared-zone hit, a miss of a token like one
 * cached) compiles nothing.
 *
 * The table finds a list by a seeded 64-bit hash of the mode and the
 * entries, then compares the mode, the count and every entry's bytes
 * with those the list keeps: equality decides.  It holds at most max
 * lists, and only lists in use: a list leaves it when its last user
 * frees it (mt_rules_free calls mt_rules_intern_forget).  When it is
 * full a token simply gets a list of its own.
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "mt_core.h"


typedef struct mt_intern_node_s  mt_intern_node_t;

struct mt_intern_node_s {
    mt_intern_node_t   *next;
    uint64_t            hash;
    mt_rules_t         *rules;
};


struct mt_rules_intern_s {
    mt_intern_node_t  **buckets;
    size_t              mask;
    size_t              count;
    size_t              max;
    uint64_t            seed;
};


mt_rules_intern_t *
mt_rules_intern_new(size_t max)
{
    size_t              n;
    mt_rules_intern_t  *in;

    if (max == 0) {
        return NULL;
    }

    in = calloc(1, sizeof(mt_rules_intern_t));
    if (in == NULL) {
        return NULL;
    }

    for (n = 16; n < max && n < ((size_t) 1 << 20); n <<= 1) { /* void */ }

    in->buckets = calloc(n, sizeof(mt_intern_node_t *));

    /* positions that cannot be predicted from the entries */
    if (in->buckets == NULL
        || RAND_bytes((unsigned char *) &in->seed, sizeof(in->seed)) != 1)
    {
        free(in->buckets);
        free(in);
        return NULL;
    }

    in->mask = n - 1;
    in->max = max;

    return in;
}


void
mt_rules_intern_free(mt_rules_intern_t *in)
{
    size_t             i;
    mt_intern_node_t  *node, *next;

    if (in == NULL) {
        return;
    }

    for (i = 0; i <= in->mask; i++) {
        for (node = in->buckets[i]; node; node = next) {
            next = node->next;
            /* still used: its last user frees it, without the table */
            mt_rules_set_intern(node->rules, NULL);
            free(node);
        }
    }

    free(in->buckets);
    free(in);
}


size_t
mt_rules_intern_count(const mt_rules_intern_t *in)
{
    return in->count;
}


/* FNV-1a, seeded, over the mode, the count and each entry with its length */
static uint64_t
mt_intern_mix(uint64_t h, const void *data, size_t len)
{
    size_t                i;
    const unsigned char  *p = data;

    for (i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }

    return h;
}


static uint64_t
mt_intern_start(uint64_t seed, mt_match_mode_t mode, size_t n)
{
    uint64_t  h;

    h = 0xcbf29ce484222325ULL ^ seed;
    h = mt_intern_mix(h, &mode, sizeof(mode));

    return mt_intern_mix(h, &n, sizeof(n));
}


static uint64_t
mt_intern_entry(uint64_t h, const char *entry, size_t len)
{
    h = mt_intern_mix(h, &len, sizeof(len));

    return mt_intern_mix(h, entry, len);
}


/* a final avalanche: the low bits pick the bucket */
static uint64_t
mt_intern_end(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;

    return h;
}


static uint64_t
mt_intern_hash(uint64_t seed, mt_match_mode_t mode, const json_t *entries)
{
    size_t    i;
    json_t   *v;
    uint64_t  h;

    h = mt_intern_start(seed, mode, entries ? json_array_size(entries) : 0);

    json_array_foreach(entries, i, v) {
        h = mt_intern_entry(h, json_string_value(v), json_string_length(v));
    }

    return mt_intern_end(h);
}


/* the same hash, of the entries a list keeps */
static uint64_t
mt_intern_hash_rules(uint64_t seed, const mt_rules_t *rules)
{
    size_t       i, len, n;
    uint64_t     h;
    const char  *entry;

    n = mt_rules_count(rules);
    h = mt_intern_start(seed, mt_rules_mode(rules), n);

    for (i = 0; i < n; i++) {
        entry = mt_rules_entry(rules, i, &len);
        h = mt_intern_entry(h, entry, len);
    }

    return mt_intern_end(h);
}


/* does rules hold exactly these entries, in this order and mode? */
static int
mt_intern_equal(const mt_rules_t *rules, mt_match_mode_t mode,
    const json_t *entries)
{
    size_t       i, len, n;
    json_t      *v;
    const char  *entry;

    n = entries ? json_array_size(entries) : 0;

    if (mt_rules_mode(rules) != mode || mt_rules_count(rules) != n) {
        return 0;
    }

    json_array_foreach(entries, i, v) {
        entry = mt_rules_entry(rules, i, &len);

        if (len != json_string_length(v)
            || memcmp(entry, json_string_value(v), len) != 0)
        {
            return 0;
        }
    }

    return 1;
}


static mt_err_t
mt_intern_compile(mt_match_mode_t mode, const json_t *entries,
    mt_rules_t **out)
{
    size_t       i;
    json_t      *v;
    mt_err_t     rc;
    mt_rules_t  *rules;

    rules = mt_rules_new(mode);
    if (rules == NULL) {
        return MT_ERR_NOMEM;
    }

    json_array_foreach(entries, i, v) {
        if (!json_is_string(v)) {
            mt_rules_free(rules);
            return MT_ERR_BAD_SCOPE;
        }

        rc = mt_rules_add(rules, json_string_value(v), json_string_length(v),
                          NULL, 0);
        if (rc != MT_OK) {
            mt_rules_free(rules);
            return rc;
        }
    }

    *out = rules;

    return MT_OK;
}


mt_err_t
mt_rules_intern_get(mt_rules_intern_t *in, mt_match_mode_t mode,
    const json_t *entries, mt_rules_t **out)
{
    uint64_t           hash;
    mt_err_t           rc;
    mt_intern_node_t  *node;

    *out = NULL;

    if (entries != NULL && !json_is_array(entries)) {
        return MT_ERR_BAD_SCOPE;
    }

    if (entries != NULL && json_array_size(entries) > MT_MAX_RULES) {
        return MT_ERR_TOO_LARGE;
    }

    if (in == NULL) {
        return mt_intern_compile(mode, entries, out);
    }

    hash = mt_intern_hash(in->seed, mode, entries);

    for (node = in->buckets[hash & in->mask]; node; node = node->next) {
        if (node->hash == hash && mt_intern_equal(node->rules, mode, entries)) {
            *out = mt_rules_ref(node->rules);
            return MT_OK;
        }
    }

    rc = mt_intern_compile(mode, entries, out);
    if (rc != MT_OK || in->count >= in->max) {
        /* full: a list of the token's own */
        return rc;
    }

    node = malloc(sizeof(mt_intern_node_t));
    if (node == NULL) {
        /* not shared, still good */
        return MT_OK;
    }

    node->hash = hash;
    node->rules = *out;
    node->next = in->buckets[hash & in->mask];
    in->buckets[hash & in->mask] = node;
    in->count++;

    mt_rules_set_intern(*out, in);

    return MT_OK;
}


/* the last user of rules frees it: out of the table */
void
mt_rules_intern_forget(mt_rules_intern_t *in, mt_rules_t *rules)
{
    uint64_t            hash;
    mt_intern_node_t  **pn, *node;

    hash = mt_intern_hash_rules(in->seed, rules);

    for (pn = &in->buckets[hash & in->mask]; *pn; pn = &(*pn)->next) {
        node = *pn;

        if (node->rules == rules) {
            *pn = node->next;
            free(node);
            in->count--;
            return;
        }
    }
}
