/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Revocation records, lists and files (see mt_core.h for the format).
 * Shared by the nginx module (loading a zone's file, appending to it)
 * and by "magic-token revoke", so that both read and write the same
 * lines.  A file loads completely or not at all.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mt_core.h"


/* the largest time accepted: 9999-12-31 */
#define MT_REVOKE_MAX_TIME  INT64_C(253402300799)

/* tries to lock the file a path names while it is being replaced */
#define MT_REVOKE_LOCK_TRIES  16


typedef struct {
    char       *value;
    size_t      len;
    size_t      next;           /* index + 1 in the bucket, 0: none */
    int64_t     until;
    int64_t     before;
    uint64_t    hash;
    int         kind;
    int         live;
} mt_revoke_slot_t;

struct mt_revoke_list_s {
    mt_revoke_slot_t  *slots;
    size_t             n;
    size_t             cap;
    size_t             live;
    size_t            *buckets;     /* index + 1, 0: empty */
    size_t             nbuckets;    /* a power of two */
};


static const char  *mt_revoke_kinds[MT_REVOKE_KINDS] = {
    "jti", "id", "sub", "aud"
};


static void
mt_revoke_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list  ap;

    if (errlen == 0) {
        return;
    }

    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}


const char *
mt_revoke_kind_name(mt_revoke_kind_t kind)
{
    return (unsigned) kind < MT_REVOKE_KINDS ? mt_revoke_kinds[kind] : "?";
}


/* a member name for a message: printable ASCII, at most 32 bytes */
static void
mt_revoke_safe_name(char *out, const char *name)
{
    size_t  i;

    for (i = 0; name[i] != '\0' && i < 32; i++) {
        out[i] = (name[i] > 0x20 && name[i] < 0x7f && name[i] != '"')
                 ? name[i] : '?';
    }

    out[i] = '\0';
}


static int
mt_revoke_time(const json_t *v, int64_t min, int64_t *out)
{
    json_int_t  t;

    if (!json_is_integer(v)) {
        return -1;
    }

    t = json_integer_value(v);

    if (t < min || t > MT_REVOKE_MAX_TIME) {
        return -1;
    }

    *out = (int64_t) t;

    return 0;
}


/*
 * A $magic_token_id value: a token id (16 hex digits) or a jti of at
 * most MT_REVOKE_MAX_ID printable ASCII characters without spaces,
 * quotes or backslashes.
 */
static int
mt_revoke_is_id(const char *p, size_t len)
{
    size_t  i;

    if (len > MT_REVOKE_MAX_ID) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == '"' || p[i] == '\\') {
            return 0;
        }
    }

    return 1;
}


/* the members of a record object into rec; what is not known fails */
static mt_err_t
mt_revoke_members(mt_revoke_rec_t *rec, json_t *obj, int what,
    int *have_until, int *have_before, char *errbuf, size_t errlen)
{
    int          k;
    char         name[33];
    size_t       len;
    json_t      *v;
    const char  *key;

    json_object_foreach(obj, key, v) {

        for (k = 0; k < MT_REVOKE_KINDS; k++) {
            if (strcmp(key, mt_revoke_kinds[k]) == 0) {
                break;
            }
        }

        if (k < MT_REVOKE_KINDS) {
            if (rec->kind != MT_REVOKE_KINDS) {
                mt_revoke_err(errbuf, errlen, "only one of jti, id, sub and "
                              "aud may be given");
                return MT_ERR_INVALID_CLAIMS;
            }

            len = json_is_string(v) ? json_string_length(v) : 0;

            if (len == 0) {
                mt_revoke_err(errbuf, errlen, "\"%s\" must be a non-empty "
                              "string", mt_revoke_kinds[k]);
                return MT_ERR_INVALID_CLAIMS;
            }

            if (len > MT_REVOKE_MAX_VALUE) {
                mt_revoke_err(errbuf, errlen, "\"%s\" is longer than %d "
                              "bytes", mt_revoke_kinds[k],
                              MT_REVOKE_MAX_VALUE);
                return MT_ERR_TOO_LARGE;
            }

            memcpy(rec->value, json_string_value(v), len);
            rec->len = len;
            rec->kind = (mt_revoke_kind_t) k;
            continue;
        }

        if (what != MT_REVOKE_REMOVE && strcmp(key, "until") == 0) {
            if (mt_revoke_time(v, 1, &rec->until) != 0) {
                mt_revoke_err(errbuf, errlen, "\"until\" must be a time "
                              "(an integer, seconds since the epoch)");
                return MT_ERR_INVALID_CLAIMS;
            }

            *have_until = 1;
            continue;
        }

        if (what != MT_REVOKE_REMOVE && strcmp(key, "before") == 0) {
            if (mt_revoke_time(v, 0, &rec->before) != 0) {
                mt_revoke_err(errbuf, errlen, "\"before\" must be a time "
                              "(an integer, seconds since the epoch)");
                return MT_ERR_INVALID_CLAIMS;
            }

            *have_before = 1;
            continue;
        }

        if (what == MT_REVOKE_LINE && strcmp(key, "removed") == 0) {
            if (!json_is_true(v)) {
                mt_revoke_err(errbuf, errlen, "\"removed\" must be true");
                return MT_ERR_INVALID_CLAIMS;
            }

            rec->removed = 1;
            continue;
        }

        mt_revoke_safe_name(name, key);
        mt_revoke_err(errbuf, errlen, "unknown field \"%s\"", name);

        return MT_ERR_INVALID_CLAIMS;
    }

    return MT_OK;
}


mt_err_t
mt_revoke_parse(mt_revoke_rec_t *rec, const char *buf, size_t len,
    int what, int64_t now, char *errbuf, size_t errlen)
{
    int        cutoff, have_until, have_before;
    json_t    *obj;
    mt_err_t   rc;

    memset(rec, 0, sizeof(*rec));
    rec->kind = MT_REVOKE_KINDS;
    have_until = 0;
    have_before = 0;

    if (len > MT_REVOKE_MAX_LINE) {
        mt_revoke_err(errbuf, errlen, "a record is longer than %d bytes",
                      MT_REVOKE_MAX_LINE);
        return MT_ERR_TOO_LARGE;
    }

    rc = mt_json_parse_object(&obj, buf, len, 8);

    if (rc != MT_OK) {
        mt_revoke_err(errbuf, errlen, rc == MT_ERR_TOO_LARGE
                      ? "too many fields" : "not a JSON object");
        return rc;
    }

    rc = mt_revoke_members(rec, obj, what, &have_until, &have_before,
                           errbuf, errlen);
    json_decref(obj);

    if (rc != MT_OK) {
        return rc;
    }

    if (rec->kind == MT_REVOKE_KINDS) {
        mt_revoke_err(errbuf, errlen, "one of jti, id, sub or aud is "
                      "required");
        return MT_ERR_INVALID_CLAIMS;
    }

    if (rec->kind == MT_REVOKE_ID && !mt_revoke_is_id(rec->value, rec->len)) {
        mt_revoke_err(errbuf, errlen, "\"id\" must be a $magic_token_id "
                      "value: at most %d printable characters, no spaces "
                      "or quotes", MT_REVOKE_MAX_ID);
        return MT_ERR_INVALID_CLAIMS;
    }

    cutoff = (rec->kind == MT_REVOKE_SUB || rec->kind == MT_REVOKE_AUD);

    if (what == MT_REVOKE_REMOVE) {
        rec->removed = 1;
        return MT_OK;
    }

    if (rec->removed) {
        if (have_until || have_before) {
            mt_revoke_err(errbuf, errlen, "a removal has no \"until\" nor "
                          "\"before\"");
            return MT_ERR_INVALID_CLAIMS;
        }

        return MT_OK;
    }

    if (!have_until) {
        mt_revoke_err(errbuf, errlen, "\"until\" is required (the time "
                      "the last token it refuses expires)");
        return MT_ERR_INVALID_CLAIMS;
    }

    if (have_before && !cutoff) {
        mt_revoke_err(errbuf, errlen, "\"before\" goes with sub or aud "
                      "only");
        return MT_ERR_INVALID_CLAIMS;
    }

    if (cutoff && !have_before) {
        if (what == MT_REVOKE_LINE) {
            mt_revoke_err(errbuf, errlen, "\"%s\" needs \"before\"",
                          mt_revoke_kinds[rec->kind]);
            return MT_ERR_INVALID_CLAIMS;
        }

        /* every token issued until now, this second's included */
        rec->before = now + 1;
    }

    if (what == MT_REVOKE_ADD && rec->until <= now) {
        mt_revoke_err(errbuf, errlen, "\"until\" is not in the future: "
                      "the tokens it names have expired");
        return MT_ERR_INVALID_CLAIMS;
    }

    return MT_OK;
}


mt_err_t
mt_revoke_format(const mt_revoke_rec_t *rec, char *buf, size_t size,
    size_t *len)
{
    int      cutoff;
    char    *s;
    size_t   n;
    json_t  *obj;

    if ((unsigned) rec->kind >= MT_REVOKE_KINDS || rec->len == 0
        || rec->len > MT_REVOKE_MAX_VALUE)
    {
        return MT_ERR_INVALID_CLAIMS;
    }

    obj = json_object();
    if (obj == NULL) {
        return MT_ERR_NOMEM;
    }

    cutoff = (rec->kind == MT_REVOKE_SUB || rec->kind == MT_REVOKE_AUD);

    if (json_object_set_new(obj, mt_revoke_kinds[rec->kind],
                            json_stringn(rec->value, rec->len)) != 0
        || (rec->removed
            && json_object_set_new(obj, "removed", json_true()) != 0)
        || (!rec->removed && cutoff
            && json_object_set_new(obj, "before",
                                   json_integer(rec->before)) != 0)
        || (!rec->removed
            && json_object_set_new(obj, "until",
                                   json_integer(rec->until)) != 0))
    {
        /* json_stringn() refuses a value that is not UTF-8 */
        json_decref(obj);
        return MT_ERR_INVALID_CLAIMS;
    }

    s = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);

    if (s == NULL) {
        return MT_ERR_NOMEM;
    }

    n = strlen(s);

    if (n + 1 > size || n + 1 > MT_REVOKE_MAX_LINE) {
        free(s);
        return MT_ERR_TOO_LARGE;
    }

    memcpy(buf, s, n);
    buf[n] = '\n';
    *len = n + 1;

    free(s);

    return MT_OK;
}


int
mt_revoke_issued_before(const json_t *claims, int64_t before)
{
    json_t  *iat;

    iat = json_object_get(claims, "iat");

    if (!json_is_integer(iat)) {
        return 1;
    }

    return (int64_t) json_integer_value(iat) < before;
}


/* ---- lists ------------------------------------------------------- */

static uint64_t
mt_revoke_hash(int kind, const char *p, size_t len)
{
    size_t    i;
    uint64_t  h;

    h = UINT64_C(14695981039346656037);
    h = (h ^ (unsigned char) kind) * UINT64_C(1099511628211);

    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char) p[i]) * UINT64_C(1099511628211);
    }

    return h;
}


mt_revoke_list_t *
mt_revoke_list_new(void)
{
    return calloc(1, sizeof(mt_revoke_list_t));
}


void
mt_revoke_list_free(mt_revoke_list_t *list)
{
    size_t  i;

    if (list == NULL) {
        return;
    }

    for (i = 0; i < list->n; i++) {
        free(list->slots[i].value);
    }

    free(list->slots);
    free(list->buckets);
    free(list);
}


size_t
mt_revoke_list_count(const mt_revoke_list_t *list)
{
    return list->live;
}


static void
mt_revoke_slot_rec(const mt_revoke_slot_t *s, mt_revoke_rec_t *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->kind = (mt_revoke_kind_t) s->kind;
    rec->until = s->until;
    rec->before = s->before;
    rec->len = s->len;
    memcpy(rec->value, s->value, s->len);
}


int
mt_revoke_list_next(const mt_revoke_list_t *list, size_t *cursor,
    mt_revoke_rec_t *rec)
{
    while (*cursor < list->n) {
        if (list->slots[(*cursor)++].live) {
            mt_revoke_slot_rec(&list->slots[*cursor - 1], rec);
            return 1;
        }
    }

    return 0;
}


/* the slot of (kind, value), live or not, or NULL */
static mt_revoke_slot_t *
mt_revoke_lookup(const mt_revoke_list_t *list, int kind, const char *value,
    size_t len, uint64_t hash)
{
    size_t             i;
    mt_revoke_slot_t  *s;

    if (list->nbuckets == 0) {
        return NULL;
    }

    for (i = list->buckets[hash & (list->nbuckets - 1)]; i; i = s->next) {
        s = &list->slots[i - 1];

        if (s->hash == hash && s->kind == kind && s->len == len
            && memcmp(s->value, value, len) == 0)
        {
            return s;
        }
    }

    return NULL;
}


int
mt_revoke_list_find(const mt_revoke_list_t *list, mt_revoke_kind_t kind,
    const char *value, size_t len, mt_revoke_rec_t *rec)
{
    mt_revoke_slot_t  *s;

    s = mt_revoke_lookup(list, kind, value, len,
                         mt_revoke_hash(kind, value, len));

    if (s == NULL || !s->live) {
        return 0;
    }

    if (rec != NULL) {
        mt_revoke_slot_rec(s, rec);
    }

    return 1;
}


static mt_err_t
mt_revoke_grow(mt_revoke_list_t *list)
{
    size_t             i, n, *b, *buckets;
    mt_revoke_slot_t  *slots;

    if (list->n == list->cap) {
        n = list->cap ? list->cap * 2 : 64;

        slots = realloc(list->slots, n * sizeof(mt_revoke_slot_t));
        if (slots == NULL) {
            return MT_ERR_NOMEM;
        }

        list->slots = slots;
        list->cap = n;
    }

    if (list->n < list->nbuckets) {
        return MT_OK;
    }

    n = list->nbuckets ? list->nbuckets * 2 : 64;

    buckets = calloc(n, sizeof(size_t));
    if (buckets == NULL) {
        return MT_ERR_NOMEM;
    }

    for (i = 0; i < list->n; i++) {
        b = &buckets[list->slots[i].hash & (n - 1)];
        list->slots[i].next = *b;
        *b = i + 1;
    }

    free(list->buckets);
    list->buckets = buckets;
    list->nbuckets = n;

    return MT_OK;
}


mt_err_t
mt_revoke_list_apply(mt_revoke_list_t *list, const mt_revoke_rec_t *rec,
    int *changed)
{
    size_t             *b;
    uint64_t            hash;
    mt_err_t            rc;
    mt_revoke_slot_t   *s;

    *changed = 0;

    if ((unsigned) rec->kind >= MT_REVOKE_KINDS || rec->len == 0
        || rec->len > MT_REVOKE_MAX_VALUE)
    {
        return MT_ERR_INVALID_CLAIMS;
    }

    hash = mt_revoke_hash(rec->kind, rec->value, rec->len);
    s = mt_revoke_lookup(list, rec->kind, rec->value, rec->len, hash);

    if (rec->removed) {
        if (s != NULL && s->live) {
            s->live = 0;
            list->live--;
            *changed = 1;
        }

        return MT_OK;
    }

    if (s != NULL && s->live) {
        /* revocations only widen: the later cut-off and expiry win */
        if (rec->until > s->until) {
            s->until = rec->until;
            *changed = 1;
        }

        if (rec->before > s->before) {
            s->before = rec->before;
            *changed = 1;
        }

        return MT_OK;
    }

    if (s == NULL) {
        if (list->n >= MT_REVOKE_MAX_RECORDS) {
            return MT_ERR_TOO_LARGE;
        }

        rc = mt_revoke_grow(list);
        if (rc != MT_OK) {
            return rc;
        }

        s = &list->slots[list->n];

        s->value = malloc(rec->len);
        if (s->value == NULL) {
            return MT_ERR_NOMEM;
        }

        memcpy(s->value, rec->value, rec->len);
        s->len = rec->len;
        s->kind = rec->kind;
        s->hash = hash;

        b = &list->buckets[hash & (list->nbuckets - 1)];
        s->next = *b;
        *b = ++list->n;
    }

    s->until = rec->until;
    s->before = rec->before;
    s->live = 1;
    list->live++;
    *changed = 1;

    return MT_OK;
}


mt_err_t
mt_revoke_list_load(mt_revoke_list_t *list, const char *buf, size_t len,
    int64_t now, size_t *line, char *errbuf, size_t errlen)
{
    int               changed;
    char              msg[256];
    size_t            i, hlen;
    mt_err_t          rc;
    const char       *p, *q, *end;
    mt_revoke_rec_t   rec;

    hlen = sizeof(MT_REVOKE_HEADER) - 1;
    *line = 1;

    if (len < hlen || memcmp(buf, MT_REVOKE_HEADER, hlen) != 0) {
        mt_revoke_err(errbuf, errlen, "not a revocation file: the first "
                      "line must be \"%.*s\"", (int) hlen - 1,
                      MT_REVOKE_HEADER);
        return MT_ERR_MALFORMED;
    }

    p = buf + hlen;
    end = buf + len;

    while (p < end) {
        (*line)++;

        q = memchr(p, '\n', end - p);

        if (q == NULL) {
            mt_revoke_err(errbuf, errlen, "the last line does not end "
                          "with a newline (a half-written record?)");
            return MT_ERR_MALFORMED;
        }

        if (q == p) {
            mt_revoke_err(errbuf, errlen, "an empty line");
            return MT_ERR_MALFORMED;
        }

        rc = mt_revoke_parse(&rec, p, q - p, MT_REVOKE_LINE, now, msg,
                             sizeof(msg));

        if (rc == MT_OK) {
            rc = mt_revoke_list_apply(list, &rec, &changed);
            snprintf(msg, sizeof(msg), "%s", rc == MT_ERR_TOO_LARGE
                     ? "too many revocations" : "out of memory");
        }

        if (rc != MT_OK) {
            mt_revoke_err(errbuf, errlen, "%s", msg);
            return rc;
        }

        p = q + 1;
    }

    for (i = 0; i < list->n; i++) {
        if (list->slots[i].live && list->slots[i].until <= now) {
            list->slots[i].live = 0;
            list->live--;
        }
    }

    *line = 0;

    return MT_OK;
}


/* ---- files ------------------------------------------------------- */

static mt_err_t
mt_revoke_errno(char *errbuf, size_t errlen, const char *what,
    const char *path)
{
    mt_revoke_err(errbuf, errlen, "%s \"%s\" failed: %s", what, path,
                  strerror(errno));

    return errno == ENOENT ? MT_ERR_MISSING : MT_ERR_INTERNAL;
}


/*
 * Opens path and locks it (type F_RDLCK or F_WRLCK, waiting): the file
 * the path still names once locked, not one a rewriter renamed away.
 */
static mt_err_t
mt_revoke_lock(const char *path, int flags, short type, int *out,
    char *errbuf, size_t errlen)
{
    int           fd, i;
    struct stat   a, b;
    struct flock  fl;

    for (i = 0; i < MT_REVOKE_LOCK_TRIES; i++) {
        fd = open(path, flags | O_CLOEXEC);
        if (fd == -1) {
            return mt_revoke_errno(errbuf, errlen, "open()", path);
        }

        memset(&fl, 0, sizeof(fl));
        fl.l_type = type;
        fl.l_whence = SEEK_SET;

        while (fcntl(fd, F_SETLKW, &fl) == -1) {
            if (errno != EINTR) {
                mt_revoke_errno(errbuf, errlen, "locking", path);
                close(fd);
                return MT_ERR_INTERNAL;
            }
        }

        if (fstat(fd, &a) == -1) {
            mt_revoke_errno(errbuf, errlen, "fstat()", path);
            close(fd);
            return MT_ERR_INTERNAL;
        }

        if (stat(path, &b) == 0 && a.st_dev == b.st_dev
            && a.st_ino == b.st_ino)
        {
            *out = fd;
            return MT_OK;
        }

        close(fd);
    }

    mt_revoke_err(errbuf, errlen, "\"%s\" keeps being replaced", path);

    return MT_ERR_INTERNAL;
}


static mt_err_t
mt_revoke_read_fd(int fd, const char *path, char **buf, size_t *len,
    char *errbuf, size_t errlen)
{
    char         *p;
    size_t        n;
    ssize_t       r;
    struct stat   st;

    if (fstat(fd, &st) == -1) {
        return mt_revoke_errno(errbuf, errlen, "fstat()", path);
    }

    if (!S_ISREG(st.st_mode)) {
        mt_revoke_err(errbuf, errlen, "\"%s\" is not a regular file", path);
        return MT_ERR_MALFORMED;
    }

    if (st.st_size > MT_REVOKE_MAX_FILE) {
        mt_revoke_err(errbuf, errlen, "\"%s\" is larger than %d bytes",
                      path, MT_REVOKE_MAX_FILE);
        return MT_ERR_TOO_LARGE;
    }

    p = malloc((size_t) st.st_size + 1);
    if (p == NULL) {
        return MT_ERR_NOMEM;
    }

    for (n = 0; n < (size_t) st.st_size; n += r) {
        r = pread(fd, p + n, (size_t) st.st_size - n, (off_t) n);

        if (r == -1 && errno == EINTR) {
            r = 0;
            continue;
        }

        if (r <= 0) {
            if (r == 0) {
                errno = EIO;
            }

            free(p);
            return mt_revoke_errno(errbuf, errlen, "read()", path);
        }
    }

    *buf = p;
    *len = n;

    return MT_OK;
}


mt_err_t
mt_revoke_file_read(mt_revoke_list_t *list, const char *path, int64_t now,
    size_t *line, char *errbuf, size_t errlen)
{
    int        fd;
    char      *buf;
    size_t     len;
    mt_err_t   rc;

    *line = 0;

    rc = mt_revoke_lock(path, O_RDONLY, F_RDLCK, &fd, errbuf, errlen);
    if (rc != MT_OK) {
        return rc;
    }

    rc = mt_revoke_read_fd(fd, path, &buf, &len, errbuf, errlen);
    close(fd);

    if (rc != MT_OK) {
        return rc;
    }

    rc = mt_revoke_list_load(list, buf, len, now, line, errbuf, errlen);
    free(buf);

    return rc;
}


mt_err_t
mt_revoke_file_open(const char *path, int *fd, char *errbuf, size_t errlen)
{
    return mt_revoke_lock(path, O_RDWR | O_APPEND, F_WRLCK, fd, errbuf,
                          errlen);
}


mt_err_t
mt_revoke_file_append(int fd, const char *line, size_t len, char *errbuf,
    size_t errlen)
{
    char         c;
    ssize_t      n;
    struct stat  st;

    if (len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len - 1)) {
        mt_revoke_err(errbuf, errlen, "not one line");
        return MT_ERR_INTERNAL;
    }

    if (fstat(fd, &st) == -1) {
        mt_revoke_err(errbuf, errlen, "fstat() failed: %s", strerror(errno));
        return MT_ERR_INTERNAL;
    }

    /* never glue a record to a half-written one */
    if (st.st_size == 0 || pread(fd, &c, 1, st.st_size - 1) != 1
        || c != '\n')
    {
        mt_revoke_err(errbuf, errlen, "the file does not end with a "
                      "newline (a half-written record?)");
        return MT_ERR_MALFORMED;
    }

    n = write(fd, line, len);

    if (n == (ssize_t) len) {
        return MT_OK;
    }

    mt_revoke_err(errbuf, errlen, "write() failed: %s",
                  n == -1 ? strerror(errno) : "short write");

    if (n > 0 && ftruncate(fd, st.st_size) == -1) {
        mt_revoke_err(errbuf, errlen, "write() failed, then ftruncate() "
                      "failed: %s: the file ends with a half-written "
                      "record", strerror(errno));
    }

    return MT_ERR_INTERNAL;
}


mt_err_t
mt_revoke_file_close(int fd, int sync, char *errbuf, size_t errlen)
{
    mt_err_t  rc;

    rc = MT_OK;

    if (sync && fdatasync(fd) == -1) {
        mt_revoke_err(errbuf, errlen, "fdatasync() failed: %s",
                      strerror(errno));
        rc = MT_ERR_INTERNAL;
    }

    close(fd);

    return rc;
}


/* fsync() the directory that holds path, so that a rename is durable */
static mt_err_t
mt_revoke_sync_dir(const char *path, char *errbuf, size_t errlen)
{
    int          fd;
    char         dir[4096];
    const char  *slash;

    slash = strrchr(path, '/');

    if (slash == NULL) {
        snprintf(dir, sizeof(dir), ".");

    } else if (slash == path) {
        snprintf(dir, sizeof(dir), "/");

    } else if ((size_t) (slash - path) < sizeof(dir)) {
        snprintf(dir, sizeof(dir), "%.*s", (int) (slash - path), path);

    } else {
        mt_revoke_err(errbuf, errlen, "path too long");
        return MT_ERR_INTERNAL;
    }

    fd = open(dir, O_RDONLY | O_CLOEXEC);

    if (fd == -1 || fsync(fd) == -1) {
        mt_revoke_errno(errbuf, errlen, "fsync() of the directory", dir);

        if (fd != -1) {
            close(fd);
        }

        return MT_ERR_INTERNAL;
    }

    close(fd);

    return MT_OK;
}


mt_err_t
mt_revoke_file_create(const char *path, char *errbuf, size_t errlen)
{
    int      fd;
    size_t   len;
    ssize_t  n;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

    if (fd == -1) {
        if (errno == EEXIST) {
            mt_revoke_err(errbuf, errlen, "\"%s\" exists already", path);
            return MT_ERR_INVALID_CLAIMS;
        }

        return mt_revoke_errno(errbuf, errlen, "creating", path);
    }

    len = sizeof(MT_REVOKE_HEADER) - 1;
    n = write(fd, MT_REVOKE_HEADER, len);

    if (n != (ssize_t) len || fsync(fd) == -1) {
        mt_revoke_errno(errbuf, errlen, "writing", path);
        close(fd);
        unlink(path);
        return MT_ERR_INTERNAL;
    }

    close(fd);

    return mt_revoke_sync_dir(path, errbuf, errlen);
}


/* the live records valid at now, after the header */
static mt_err_t
mt_revoke_write_fd(int fd, const mt_revoke_list_t *list, int64_t now,
    size_t *kept)
{
    FILE             *f;
    char              line[MT_REVOKE_MAX_LINE];
    size_t            cursor, len;
    mt_err_t          rc;
    mt_revoke_rec_t   rec;

    f = fdopen(dup(fd), "w");
    if (f == NULL) {
        return MT_ERR_INTERNAL;
    }

    rc = MT_OK;
    *kept = 0;
    cursor = 0;

    if (fputs(MT_REVOKE_HEADER, f) == EOF) {
        rc = MT_ERR_INTERNAL;
    }

    while (rc == MT_OK && mt_revoke_list_next(list, &cursor, &rec)) {
        if (rec.until <= now) {
            continue;
        }

        rc = mt_revoke_format(&rec, line, sizeof(line), &len);

        if (rc == MT_OK && fwrite(line, 1, len, f) != len) {
            rc = MT_ERR_INTERNAL;
        }

        (*kept)++;
    }

    if (fclose(f) == EOF && rc == MT_OK) {
        rc = MT_ERR_INTERNAL;
    }

    return rc;
}


/* path.tmp, with the owner and mode of the file st describes */
static mt_err_t
mt_revoke_rewrite(const mt_revoke_list_t *list, const char *path,
    const struct stat *st, int64_t now, size_t *kept, char *errbuf,
    size_t errlen)
{
    int        fd;
    char       tmp[4096];
    mt_err_t   rc;

    if ((size_t) snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        mt_revoke_err(errbuf, errlen, "path too long");
        return MT_ERR_INTERNAL;
    }

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd == -1) {
        return mt_revoke_errno(errbuf, errlen, "creating", tmp);
    }

    /* the workers append to it: keep the owner and the mode */
    if ((geteuid() == 0 && fchown(fd, st->st_uid, st->st_gid) == -1)
        || fchmod(fd, st->st_mode & 07777) == -1)
    {
        rc = mt_revoke_errno(errbuf, errlen, "setting the owner of", tmp);
        goto failed;
    }

    rc = mt_revoke_write_fd(fd, list, now, kept);

    if (rc == MT_OK && fsync(fd) == -1) {
        rc = MT_ERR_INTERNAL;
    }

    if (rc != MT_OK) {
        mt_revoke_err(errbuf, errlen, "writing \"%s\" failed: %s", tmp,
                      strerror(errno));
        goto failed;
    }

    close(fd);

    if (rename(tmp, path) == -1) {
        rc = mt_revoke_errno(errbuf, errlen, "rename() to", path);
        unlink(tmp);
        return rc;
    }

    return mt_revoke_sync_dir(path, errbuf, errlen);

failed:

    close(fd);
    unlink(tmp);

    return rc == MT_ERR_MISSING ? MT_ERR_INTERNAL : rc;
}


mt_err_t
mt_revoke_file_compact(const char *path, int64_t now, size_t *kept,
    size_t *line, char *errbuf, size_t errlen)
{
    int                fd;
    char              *buf;
    size_t             len;
    mt_err_t           rc;
    struct stat        st;
    mt_revoke_list_t  *list;

    *line = 0;
    *kept = 0;

    rc = mt_revoke_lock(path, O_RDWR, F_WRLCK, &fd, errbuf, errlen);
    if (rc != MT_OK) {
        return rc;
    }

    if (fstat(fd, &st) == -1) {
        close(fd);
        return mt_revoke_errno(errbuf, errlen, "fstat()", path);
    }

    rc = mt_revoke_read_fd(fd, path, &buf, &len, errbuf, errlen);
    if (rc != MT_OK) {
        close(fd);
        return rc;
    }

    list = mt_revoke_list_new();

    if (list == NULL) {
        rc = MT_ERR_NOMEM;

    } else {
        rc = mt_revoke_list_load(list, buf, len, now, line, errbuf, errlen);
    }

    free(buf);

    if (rc == MT_OK) {
        rc = mt_revoke_rewrite(list, path, &st, now, kept, errbuf, errlen);
    }

    mt_revoke_list_free(list);

    /* the lock goes with the old file, now replaced */
    close(fd);

    return rc;
}
