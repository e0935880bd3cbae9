/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * magic-token revoke: a magic_token_zone's revocations file, offline.
 * The records, the file's format and its lock are the module's own
 * (mt_revoke.c): a record added here is the line the admin API would
 * have appended.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mt_cli.h"


static const char  mt_revoke_usage[] =
"usage: magic-token revoke FILE init\n"
"       magic-token revoke FILE add (--jti V | --id V | --sub V | --aud V)\n"
"                                   --until TIME [--before TIME]\n"
"       magic-token revoke FILE remove (--jti V | --id V | --sub V | --aud V)\n"
"       magic-token revoke FILE list\n"
"       magic-token revoke FILE check\n"
"       magic-token revoke FILE compact\n"
"\n"
"Edit the revocations file of a magic_token_zone (revocations=FILE),\n"
"in the module's own format, under the lock nginx takes.\n"
"\n"
"  init     create the file, with no revocation (nginx refuses to start\n"
"           without it)\n"
"  add      revoke: the token with that jti or id ($magic_token_id), or\n"
"           the tokens of a sub or for an aud issued before --before\n"
"           (default: every one issued until now)\n"
"  remove   un-revoke\n"
"  list     the revocations in force, one JSON record a line\n"
"  check    load the file as nginx does; exit 1 if it would refuse it\n"
"  compact  drop expired and removed records (nginx does it at start\n"
"           and reload)\n"
"\n"
"TIME: seconds since the epoch, or +DURATION from now (+3600, +12h,\n"
"+30d).  --until is when the last token it refuses expires: the\n"
"revocation is dropped then.\n"
"\n"
"A running nginx reads the file at start and reload: \"add\" takes\n"
"effect at the next reload, \"remove\" at the next restart (a reload\n"
"keeps what the zone holds).  While nginx runs, use the admin API\n"
"(magic_token_admin), which is in effect at once.\n"
"\n"
"exit status: 0 on success, 1 when the file is refused or the record\n"
"is not there (remove), 2 on usage errors.\n"
"\n"
"examples:\n"
"  magic-token revoke /var/lib/nginx/revoked init\n"
"  magic-token revoke /var/lib/nginx/revoked add --jti 4f1c... --until +1h\n"
"  magic-token revoke /var/lib/nginx/revoked add --sub billing --until +30d\n";


static int
mt_revoke_time_arg(const char *s, int64_t now, int64_t *out)
{
    int64_t  d;

    if (s[0] == '+') {
        d = mt_cli_parse_duration(s + 1);

        if (d < 0) {
            return -1;
        }

        *out = now + d;
        return 0;
    }

    return mt_cli_parse_int64(s, out);
}


/* the options into a record, checked as the admin API checks one */
static int
mt_revoke_record(int argc, char **argv, int what, int64_t now,
    mt_revoke_rec_t *rec)
{
    int          c, kind;
    char        *s, err[256];
    json_t      *obj;
    int64_t      t;
    mt_err_t     rc;
    const char  *value;

    static const struct option  opts[] = {
        { "jti",    required_argument, NULL, 'j' },
        { "id",     required_argument, NULL, 'i' },
        { "sub",    required_argument, NULL, 's' },
        { "aud",    required_argument, NULL, 'a' },
        { "until",  required_argument, NULL, 'u' },
        { "before", required_argument, NULL, 'b' },
        { NULL, 0, NULL, 0 }
    };

    obj = json_object();
    if (obj == NULL) {
        return MT_CLI_USAGE;
    }

    kind = -1;
    value = NULL;
    optind = 1;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {

        case 'j': case 'i': case 's': case 'a':
            kind = (c == 'j') ? MT_REVOKE_JTI : (c == 'i') ? MT_REVOKE_ID
                   : (c == 's') ? MT_REVOKE_SUB : MT_REVOKE_AUD;
            value = optarg;
            json_object_set_new(obj, mt_revoke_kind_name(kind),
                                json_string(value));
            break;

        case 'u': case 'b':
            if (mt_revoke_time_arg(optarg, now, &t) != 0) {
                mt_cli_error("revoke: --%s: a time in seconds since the "
                             "epoch, or +DURATION", c == 'u' ? "until"
                                                            : "before");
                json_decref(obj);
                return MT_CLI_USAGE;
            }

            json_object_set_new(obj, c == 'u' ? "until" : "before",
                                json_integer(t));
            break;

        default:
            mt_cli_bad_option(argv, "revoke");
            json_decref(obj);
            return MT_CLI_USAGE;
        }
    }

    if (optind != argc || kind == -1) {
        mt_cli_error("revoke: %s needs one of --jti, --id, --sub, --aud",
                     argv[0]);
        json_decref(obj);
        return MT_CLI_USAGE;
    }

    s = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);

    if (s == NULL) {
        mt_cli_error("revoke: out of memory");
        return MT_CLI_USAGE;
    }

    rc = mt_revoke_parse(rec, s, strlen(s), what, now, err, sizeof(err));
    free(s);

    if (rc != MT_OK) {
        mt_cli_error("revoke: %s", err);
        return MT_CLI_USAGE;
    }

    return MT_CLI_OK;
}


/* add or remove: one line appended, as nginx appends it */
static int
mt_revoke_append(const char *path, int argc, char **argv, int what,
    int64_t now)
{
    int                fd;
    char               err[512], line[MT_REVOKE_MAX_LINE];
    size_t             len, n;
    mt_err_t           rc;
    mt_revoke_rec_t    rec;
    mt_revoke_list_t  *list;

    if (mt_revoke_record(argc, argv, what, now, &rec) != MT_CLI_OK) {
        return MT_CLI_USAGE;
    }

    /* the file must load before anything is added to it */
    list = mt_revoke_list_new();
    if (list == NULL) {
        return MT_CLI_USAGE;
    }

    rc = mt_revoke_file_read(list, path, now, &n, err, sizeof(err));

    if (rc == MT_OK && what == MT_REVOKE_REMOVE
        && !mt_revoke_list_find(list, rec.kind, rec.value, rec.len, NULL))
    {
        mt_revoke_list_free(list);
        mt_cli_error("revoke: %s: no such revocation", path);
        return MT_CLI_INVALID;
    }

    mt_revoke_list_free(list);

    if (rc != MT_OK) {
        mt_cli_error("revoke: %s%s%.0zu: %s", path, n ? ", line " : "", n,
                     err);
        return MT_CLI_INVALID;
    }

    if (mt_revoke_format(&rec, line, sizeof(line), &len) != MT_OK
        || mt_revoke_file_open(path, &fd, err, sizeof(err)) != MT_OK)
    {
        mt_cli_error("revoke: %s: %s", path, err);
        return MT_CLI_INVALID;
    }

    rc = mt_revoke_file_append(fd, line, len, err, sizeof(err));

    if (rc == MT_OK) {
        rc = mt_revoke_file_close(fd, 1, err, sizeof(err));

    } else {
        (void) mt_revoke_file_close(fd, 0, NULL, 0);
    }

    if (rc != MT_OK) {
        mt_cli_error("revoke: %s: %s", path, err);
        return MT_CLI_INVALID;
    }

    fwrite(line, 1, len, stdout);

    return MT_CLI_OK;
}


static int
mt_revoke_list(const char *path, int64_t now, int print)
{
    char               err[512], line[MT_REVOKE_MAX_LINE];
    size_t             n, len, cursor;
    mt_err_t           rc;
    mt_revoke_rec_t    rec;
    mt_revoke_list_t  *list;

    list = mt_revoke_list_new();
    if (list == NULL) {
        return MT_CLI_USAGE;
    }

    rc = mt_revoke_file_read(list, path, now, &n, err, sizeof(err));

    if (rc != MT_OK) {
        mt_revoke_list_free(list);
        mt_cli_error("revoke: %s%s%.0zu: %s", path, n ? ", line " : "", n,
                     err);
        return MT_CLI_INVALID;
    }

    cursor = 0;

    while (print && mt_revoke_list_next(list, &cursor, &rec)) {
        if (mt_revoke_format(&rec, line, sizeof(line), &len) == MT_OK) {
            fwrite(line, 1, len, stdout);
        }
    }

    if (!print) {
        printf("%s: %zu revocations in force\n", path,
               mt_revoke_list_count(list));
    }

    mt_revoke_list_free(list);

    return MT_CLI_OK;
}


int
mt_cli_revoke(int argc, char **argv)
{
    char         err[512];
    size_t       kept, line;
    int64_t      now;
    const char  *path, *cmd;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0
                      || strcmp(argv[1], "-h") == 0))
    {
        fputs(mt_revoke_usage, stdout);
        return MT_CLI_OK;
    }

    if (argc < 3) {
        fputs(mt_revoke_usage, stderr);
        return MT_CLI_USAGE;
    }

    path = argv[1];
    cmd = argv[2];
    now = (int64_t) time(NULL);

    if (strcmp(cmd, "add") == 0 || strcmp(cmd, "remove") == 0) {
        return mt_revoke_append(path, argc - 2, argv + 2,
                                cmd[0] == 'a' ? MT_REVOKE_ADD
                                              : MT_REVOKE_REMOVE, now);
    }

    if (argc != 3) {
        mt_cli_error("revoke: %s takes no options", cmd);
        return MT_CLI_USAGE;
    }

    if (strcmp(cmd, "init") == 0) {
        if (mt_revoke_file_create(path, err, sizeof(err)) != MT_OK) {
            mt_cli_error("revoke: %s", err);
            return MT_CLI_INVALID;
        }

        return MT_CLI_OK;
    }

    if (strcmp(cmd, "list") == 0 || strcmp(cmd, "check") == 0) {
        return mt_revoke_list(path, now, cmd[0] == 'l');
    }

    if (strcmp(cmd, "compact") == 0) {
        if (mt_revoke_file_compact(path, now, &kept, &line, err, sizeof(err))
            != MT_OK)
        {
            mt_cli_error("revoke: %s%s%.0zu: %s", path,
                         line ? ", line " : "", line, err);
            return MT_CLI_INVALID;
        }

        printf("%s: %zu revocations kept\n", path, kept);
        return MT_CLI_OK;
    }

    mt_cli_error("revoke: unknown command \"%.32s\"; see magic-token revoke "
                 "--help", cmd);

    return MT_CLI_USAGE;
}
