/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * mt_revoke.c: records (file lines and admin requests), lists, files
 * (all or nothing, appends, compaction).
 */

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mt_core.h"
#include "tap.h"


#define NOW  INT64_C(1800000000)
#define HDR  MT_REVOKE_HEADER


static mt_err_t
parse(const char *s, int what, mt_revoke_rec_t *rec, char *err)
{
    return mt_revoke_parse(rec, s, strlen(s), what, NOW, err, 256);
}


static const struct {
    const char  *line;
    int          what;
    const char  *error;         /* a part of the message */
} bad[] = {
    { "", MT_REVOKE_LINE, "not a JSON object" },
    { "[1]", MT_REVOKE_LINE, "not a JSON object" },
    { "{\"jti\":\"a\",\"until\":1", MT_REVOKE_LINE, "not a JSON object" },
    { "{\"jti\":\"a\",\"jti\":\"b\",\"until\":1}", MT_REVOKE_LINE,
      "not a JSON object" },
    { "{\"until\":1}", MT_REVOKE_LINE, "one of jti, id, sub or aud" },
    { "{\"jti\":\"a\",\"sub\":\"b\",\"until\":1}", MT_REVOKE_LINE,
      "only one of" },
    { "{\"jti\":\"\",\"until\":1}", MT_REVOKE_LINE, "non-empty string" },
    { "{\"jti\":5,\"until\":1}", MT_REVOKE_LINE, "non-empty string" },
    { "{\"jti\":\"a\"}", MT_REVOKE_LINE, "\"until\" is required" },
    { "{\"jti\":\"a\",\"until\":\"1\"}", MT_REVOKE_LINE, "\"until\" must" },
    { "{\"jti\":\"a\",\"until\":0}", MT_REVOKE_LINE, "\"until\" must" },
    { "{\"jti\":\"a\",\"until\":1.5}", MT_REVOKE_LINE, "\"until\" must" },
    { "{\"jti\":\"a\",\"until\":99999999999999}", MT_REVOKE_LINE,
      "\"until\" must" },
    { "{\"jti\":\"a\",\"until\":1,\"before\":1}", MT_REVOKE_LINE,
      "goes with sub or aud" },
    { "{\"sub\":\"a\",\"until\":1}", MT_REVOKE_LINE, "needs \"before\"" },
    { "{\"aud\":\"a\",\"until\":1,\"before\":-1}", MT_REVOKE_LINE,
      "\"before\" must" },
    { "{\"jti\":\"a\",\"until\":1,\"x\":1}", MT_REVOKE_LINE,
      "unknown field \"x\"" },
    { "{\"jti\":\"a\",\"removed\":false}", MT_REVOKE_LINE,
      "\"removed\" must be true" },
    { "{\"jti\":\"a\",\"removed\":true,\"until\":5}", MT_REVOKE_LINE,
      "a removal has no" },
    { "{\"id\":\"a b\",\"until\":1}", MT_REVOKE_LINE, "$magic_token_id" },
    { "{\"id\":\"a\\\"b\",\"until\":1}", MT_REVOKE_LINE,
      "$magic_token_id" },
    { "{\"id\":\"\\u00e9\",\"until\":1}", MT_REVOKE_LINE,
      "$magic_token_id" },
    { "{\"jti\":\"a\",\"removed\":true}", MT_REVOKE_ADD,
      "unknown field \"removed\"" },
    { "{\"jti\":\"a\",\"until\":1800000000}", MT_REVOKE_ADD,
      "not in the future" },
    { "{\"jti\":\"a\",\"until\":1900000000}", MT_REVOKE_REMOVE,
      "unknown field \"until\"" },
    { "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,"
      "\"i\":9}", MT_REVOKE_ADD, "too many fields" },
};


static void
test_parse(void)
{
    char             err[256], line[MT_REVOKE_MAX_LINE], big[600];
    size_t           i, len;
    mt_revoke_rec_t  rec, back;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ok(parse(bad[i].line, bad[i].what, &rec, err) != MT_OK
           && strstr(err, bad[i].error) != NULL,
           "refused: %s (%s)", bad[i].line, err);
    }

    is_int(parse("{\"jti\":\"abc\",\"until\":1900000000}", MT_REVOKE_LINE,
                 &rec, err), MT_OK, "a jti line");
    ok(rec.kind == MT_REVOKE_JTI && rec.len == 3
       && memcmp(rec.value, "abc", 3) == 0 && rec.until == 1900000000
       && !rec.removed, "its fields");

    is_int(parse("{\"sub\":\"svc\",\"until\":1900000000}", MT_REVOKE_ADD,
                 &rec, err), MT_OK, "a sub request without before");
    ok(rec.kind == MT_REVOKE_SUB && rec.before == NOW + 1,
       "before defaults to the next second (this one's tokens included)");

    is_int(parse("{\"aud\":\"x\"}", MT_REVOKE_REMOVE, &rec, err), MT_OK,
           "a removal request");
    ok(rec.removed && rec.kind == MT_REVOKE_AUD, "is a removal");

    is_int(parse("{\"id\":\"0123456789abcdef\",\"until\":5}", MT_REVOKE_LINE,
                 &rec, err), MT_OK, "an id line");
    is_int(parse("{\"id\":\"jti-1.x_Y\",\"until\":5}", MT_REVOKE_LINE,
                 &rec, err), MT_OK, "an id that is a jti");

    /* the longest value, all control characters: still one line */
    memset(rec.value, 1, MT_REVOKE_MAX_VALUE);
    rec.kind = MT_REVOKE_SUB;
    rec.len = MT_REVOKE_MAX_VALUE;
    rec.before = 7;
    rec.until = 9;
    rec.removed = 0;
    is_int(mt_revoke_format(&rec, line, sizeof(line), &len), MT_OK,
           "format the longest value");
    ok(len > 0 && line[len - 1] == '\n' && memchr(line, '\n', len - 1) == NULL,
       "one line");
    is_int(mt_revoke_parse(&back, line, len - 1, MT_REVOKE_LINE, NOW, err,
                           sizeof(err)), MT_OK, "parses back");
    ok(back.kind == rec.kind && back.len == rec.len
       && memcmp(back.value, rec.value, rec.len) == 0 && back.before == 7
       && back.until == 9, "the same record");

    /* a value one byte too long */
    memset(big, 'a', sizeof(big));
    len = (size_t) snprintf(line, sizeof(line),
                            "{\"jti\":\"%.*s\",\"until\":5}",
                            MT_REVOKE_MAX_VALUE + 1, big);
    is_int(mt_revoke_parse(&rec, line, len, MT_REVOKE_LINE, NOW, err,
                           sizeof(err)), MT_ERR_TOO_LARGE,
           "a value over the bound");

    rec.kind = MT_REVOKE_JTI;
    rec.len = 2;
    memcpy(rec.value, "\xff\xfe", 2);
    ok(mt_revoke_format(&rec, line, sizeof(line), &len) != MT_OK,
       "a value that is not UTF-8 is not written");
}


static void
test_cutoff(void)
{
    json_t  *c;

    c = json_pack("{s:I}", "iat", (json_int_t) 100);
    ok(mt_revoke_issued_before(c, 101), "iat 100 is before 101");
    ok(!mt_revoke_issued_before(c, 100), "iat 100 is not before 100");
    json_decref(c);

    c = json_pack("{s:s}", "iat", "100");
    ok(mt_revoke_issued_before(c, 0), "a string iat is caught");
    json_decref(c);

    c = json_object();
    ok(mt_revoke_issued_before(c, 0), "no iat is caught");
    json_decref(c);
}


static mt_err_t
load(mt_revoke_list_t **l, const char *s, size_t *line, char *err)
{
    *l = mt_revoke_list_new();

    return mt_revoke_list_load(*l, s, strlen(s), NOW, line, err, 256);
}


static void
test_load(void)
{
    char               err[256];
    size_t             line, cursor, n;
    mt_revoke_rec_t    rec;
    mt_revoke_list_t  *l;

    static const struct {
        const char  *file;
        size_t       line;
    } broken[] = {
        { "", 1 },
        { "magic-token-revocations 2\n", 1 },
        { "magic-token-revocations 1", 1 },
        { HDR "{\"jti\":\"a\",\"until\":1900000000}", 2 },
        { HDR "{\"jti\":\"a\",\"until\":1900000000}\n{\"jti\":\"b\",\"unt", 3 },
        { HDR "{\"jti\":\"a\",\"until\":1900000000}\n\n", 3 },
        { HDR "{\"jti\":\"a\",\"until\":1900000000}\n{\"jti\":\"b\"}\n", 3 },
        { HDR "{\"jti\":\"a\",\"until\":1900000000} x\n", 2 },
        { HDR "garbage\n", 2 },
    };

    for (n = 0; n < sizeof(broken) / sizeof(broken[0]); n++) {
        err[0] = '\0';
        ok(load(&l, broken[n].file, &line, err) != MT_OK
           && line == broken[n].line,
           "broken file %zu refused at line %zu (%zu: %s)", n,
           broken[n].line, line, err);
        mt_revoke_list_free(l);
    }

    is_int(load(&l, HDR, &line, err), MT_OK, "the header alone");
    is_int(mt_revoke_list_count(l), 0, "is an empty list");
    mt_revoke_list_free(l);

    is_int(load(&l, HDR
                "{\"jti\":\"a\",\"until\":1900000000}\n"
                "{\"jti\":\"old\",\"until\":1700000000}\n"
                "{\"sub\":\"s\",\"before\":10,\"until\":1900000000}\n"
                "{\"sub\":\"s\",\"before\":5,\"until\":1950000000}\n"
                "{\"aud\":\"x\",\"before\":10,\"until\":1900000000}\n"
                "{\"aud\":\"x\",\"removed\":true}\n"
                "{\"jti\":\"b\",\"until\":1900000000}\n"
                "{\"jti\":\"b\",\"removed\":true}\n"
                "{\"jti\":\"b\",\"until\":1800000100}\n",
                &line, err), MT_OK, "a file with changes");
    is_int(mt_revoke_list_count(l), 3, "three live records (a, s, b)");
    ok(!mt_revoke_list_find(l, MT_REVOKE_JTI, "old", 3, NULL),
       "an expired record is dropped");
    ok(mt_revoke_list_find(l, MT_REVOKE_SUB, "s", 1, &rec)
       && rec.before == 10 && rec.until == 1950000000,
       "the later before and until win");
    ok(!mt_revoke_list_find(l, MT_REVOKE_AUD, "x", 1, NULL),
       "a removed record is gone");
    ok(mt_revoke_list_find(l, MT_REVOKE_JTI, "b", 1, &rec)
       && rec.until == 1800000100, "revoked again after a removal");
    ok(!mt_revoke_list_find(l, MT_REVOKE_SUB, "a", 1, NULL),
       "kinds are apart");

    cursor = 0;
    n = 0;

    while (mt_revoke_list_next(l, &cursor, &rec)) {
        n++;
    }

    is_int(n, 3, "iteration sees the live records");
    mt_revoke_list_free(l);
}


static void
test_many(void)
{
    int                changed;
    size_t             i, n;
    mt_revoke_rec_t    rec;
    mt_revoke_list_t  *l;

    l = mt_revoke_list_new();
    memset(&rec, 0, sizeof(rec));
    rec.kind = MT_REVOKE_JTI;
    rec.until = 5;
    n = 0;

    for (i = 0; i < 5000; i++) {
        rec.len = (size_t) snprintf(rec.value, sizeof(rec.value), "j%zu", i);
        n += (mt_revoke_list_apply(l, &rec, &changed) == MT_OK && changed);
    }

    is_int(n, 5000, "5000 records added");

    rec.removed = 1;
    rec.len = (size_t) snprintf(rec.value, sizeof(rec.value), "j%d", 4321);
    mt_revoke_list_apply(l, &rec, &changed);
    ok(changed && mt_revoke_list_count(l) == 4999, "one removed");
    ok(mt_revoke_list_find(l, MT_REVOKE_JTI, "j1234", 5, NULL)
       && !mt_revoke_list_find(l, MT_REVOKE_JTI, "j4321", 5, NULL),
       "found after growing");
    mt_revoke_list_apply(l, &rec, &changed);
    ok(!changed, "removing it again changes nothing");
    mt_revoke_list_free(l);
}


static void
test_files(void)
{
    int                fd;
    char               dir[] = "/tmp/mt-test-revoke-XXXXXX", path[512];
    char               err[256], buf[4096];
    FILE              *f;
    size_t             line, kept, len;
    struct stat        st;
    mt_revoke_rec_t    rec;
    mt_revoke_list_t  *l;

    if (mkdtemp(dir) == NULL) {
        skip(16, "no temporary directory");
        return;
    }

    snprintf(path, sizeof(path), "%s/revoked", dir);

    l = mt_revoke_list_new();
    is_int(mt_revoke_file_read(l, path, NOW, &line, err, sizeof(err)),
           MT_ERR_MISSING, "a missing file is MT_ERR_MISSING");
    mt_revoke_list_free(l);

    is_int(mt_revoke_file_create(path, err, sizeof(err)), MT_OK, "create");
    is_int(mt_revoke_file_create(path, err, sizeof(err)),
           MT_ERR_INVALID_CLAIMS, "create does not overwrite");

    is_int(mt_revoke_file_open(path, &fd, err, sizeof(err)), MT_OK, "open");
    parse("{\"jti\":\"a\",\"until\":1900000000}", MT_REVOKE_LINE, &rec, err);
    mt_revoke_format(&rec, buf, sizeof(buf), &len);
    is_int(mt_revoke_file_append(fd, buf, len, err, sizeof(err)), MT_OK,
           "append a record");
    parse("{\"jti\":\"gone\",\"until\":1700000000}", MT_REVOKE_LINE, &rec,
          err);
    mt_revoke_format(&rec, buf, sizeof(buf), &len);
    is_int(mt_revoke_file_append(fd, buf, len, err, sizeof(err)), MT_OK,
           "append an expired one");
    is_int(mt_revoke_file_append(fd, "x", 1, err, sizeof(err)),
           MT_ERR_INTERNAL, "not a line: refused");
    is_int(mt_revoke_file_close(fd, 1, err, sizeof(err)), MT_OK, "close");

    l = mt_revoke_list_new();
    is_int(mt_revoke_file_read(l, path, NOW, &line, err, sizeof(err)), MT_OK,
           "read back");
    is_int(mt_revoke_list_count(l), 1, "one live record");
    mt_revoke_list_free(l);

    chmod(path, 0640);
    is_int(mt_revoke_file_compact(path, NOW, &kept, &line, err, sizeof(err)),
           MT_OK, "compact");
    is_int(kept, 1, "kept one record");
    ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640,
       "the mode is kept");

    f = fopen(path, "r");
    len = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    buf[len] = '\0';
    if (f) {
        fclose(f);
    }

    ok(strcmp(buf, HDR "{\"jti\":\"a\",\"until\":1900000000}\n") == 0,
       "the compacted file");

    /* a half-written last line: appends refuse, loading refuses */
    f = fopen(path, "a");
    fputs("{\"jti\":\"b\",\"unt", f);
    fclose(f);

    mt_revoke_file_open(path, &fd, err, sizeof(err));
    parse("{\"jti\":\"c\",\"until\":1900000000}", MT_REVOKE_LINE, &rec, err);
    mt_revoke_format(&rec, buf, sizeof(buf), &len);
    is_int(mt_revoke_file_append(fd, buf, len, err, sizeof(err)),
           MT_ERR_MALFORMED, "no append after a half-written line");
    mt_revoke_file_close(fd, 0, err, sizeof(err));

    l = mt_revoke_list_new();
    ok(mt_revoke_file_read(l, path, NOW, &line, err, sizeof(err)) != MT_OK
       && line == 3, "a half-written file does not load (line %zu)", line);
    mt_revoke_list_free(l);

    ok(mt_revoke_file_compact(path, NOW, &kept, &line, err, sizeof(err))
       != MT_OK, "nor is it compacted");

    snprintf(buf, sizeof(buf), "%s.tmp", path);
    unlink(buf);
    unlink(path);
    rmdir(dir);
}


int
main(void)
{
    test_parse();
    test_cutoff();
    test_load();
    test_many();
    test_files();

    done_testing();

    return tap_exit();
}
