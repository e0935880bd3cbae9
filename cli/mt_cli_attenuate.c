/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * magic-token attenuate: append a link that narrows a chain
 * (docs/attenuation.md), offline, with the key the chain's last element
 * names in its "cnf" claim.  The proxy's key is neither needed nor used.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "mt_cli.h"


typedef struct {
    const char     *key_file;
    const char     *alg_name;
    const char     *next_key;
    const char     *new_key;
    const char     *jkt;            /* --jkt, or NULL */
    const char     *dpop_key;       /* --dpop-key FILE, or NULL */
    json_t         *claims;
} mt_att_conf_t;


static const char  mt_att_usage[] =
"usage: magic-token attenuate --key FILE [--alg ALG]\n"
"                             [--allowed 'METHOD REGEX']... [--scope NAME]...\n"
"                             [--method METHOD]... [--aud AUD]...\n"
"                             [--ttl TIME | --exp UNIXTIME]\n"
"                             [--max-further-links N] [--sub SUB] [--jti JTI]\n"
"                             [--next-key FILE | --new-key FILE] CHAIN|-\n"
"\n"
"Append a link to CHAIN (a token minted attenuable, or a chain made by\n"
"this command or a JOSE library) and print the longer, narrower chain.\n"
"The link is signed with the private key whose public half the chain's\n"
"last element names in its cnf claim; no proxy key is involved.  Every\n"
"restriction adds to those of the chain: the proxy allows a request\n"
"only if every element allows it.  See docs/attenuation.md.\n"
"\n"
"  --key FILE          the holder's private key (PEM or JWK)\n"
"  --alg ALG           ES256/ES384/ES512 (by curve, default), EdDSA,\n"
"                      PS256 (default for RSA), PS384, PS512, RS256..\n"
"  --allowed ENTRY     an allowed request, \"METHOD REGEX\" (repeatable)\n"
"  --scope NAME        a scope configured on the proxy (repeatable)\n"
"  --method METHOD     an allowed method (repeatable)\n"
"  --aud AUD           audience the proxy must accept (repeatable)\n"
"  --ttl TIME          the link expires after TIME (90s, 15m, 12h, 30d)\n"
"  --exp UNIXTIME      or at this time\n"
"  --max-further-links N   at most N links may follow this one\n"
"  --sub SUB, --jti JTI    informational claims\n"
"  --next-key FILE     an open link: FILE's public key may extend it\n"
"  --new-key FILE      an open link for a new EC P-256 key, whose private\n"
"                      key is written to FILE (mode 0600, not replaced)\n"
"  --dpop-key FILE     a terminal link bound to FILE's key: the chain is\n"
"                      used only with DPoP proofs by it (cnf.jkt)\n"
"  --jkt THUMBPRINT    the same, by the key's RFC 7638 thumbprint\n"
"\n"
"Without --next-key or --new-key the link is terminal: the chain is a\n"
"token the proxy accepts, and nobody can narrow it further.  A chain\n"
"whose last link is open is refused by the proxy until its holder\n"
"appends a terminal link.\n"
"\n"
"examples:\n"
"  magic-token attenuate --key agent.pem \\\n"
"      --allowed 'GET /repos/acme/web/issues/42' --ttl 10m \\\n"
"      - < chain.txt > issue42.txt\n"
"  magic-token attenuate --key agent.pem --method GET --new-key sub.pem \\\n"
"      - < chain.txt > for-sub-agent.txt\n";


/* {"jwk": the public key of the first key in path} */
int
mt_cli_cnf_from_file(const char *path, json_t **cnf)
{
    json_t       *jwk;
    mt_keyset_t  *ks;

    *cnf = NULL;

    ks = mt_keyset_new();
    if (ks == NULL) {
        mt_cli_error("out of memory");
        return -1;
    }

    if (mt_cli_add_key_file(ks, path) != 0) {
        mt_keyset_free(ks);
        return -1;
    }

    if (mt_key_public_jwk(mt_keyset_get(ks, 0), &jwk) != MT_OK) {
        mt_cli_error("\"%s\": not an RSA, EC or Ed25519 key", path);
        mt_keyset_free(ks);
        return -1;
    }

    mt_keyset_free(ks);

    *cnf = json_pack("{s:o}", "jwk", jwk);

    return *cnf != NULL ? 0 : -1;
}


/*
 * cnf {"jkt": ...} binding a token to a DPoP key (RFC 9449): the
 * thumbprint given, checked for its form, or that of a key file's key
 */
int
mt_cli_jkt_cnf(const char *jkt, const char *path, json_t **cnf)
{
    char          tp[MT_DPOP_JKT_LEN + 1];
    size_t        n;
    json_t       *jwk;
    mt_err_t      rc;
    unsigned char buf[64];

    *cnf = NULL;

    if (jkt != NULL) {
        if (strlen(jkt) != MT_DPOP_JKT_LEN
            || mt_base64url_decode(buf, &n, jkt, MT_DPOP_JKT_LEN) != MT_OK
            || n != 32)
        {
            mt_cli_error("--jkt: not an RFC 7638 SHA-256 thumbprint (43 "
                         "base64url characters)");
            return -1;
        }

        *cnf = json_pack("{s:s}", "jkt", jkt);
        return *cnf != NULL ? 0 : -1;
    }

    if (mt_cli_cnf_from_file(path, &jwk) != 0) {
        return -1;
    }

    rc = mt_jwk_thumbprint(json_object_get(jwk, "jwk"), tp);
    json_decref(jwk);

    if (rc != MT_OK) {
        mt_cli_error("\"%s\": no thumbprint: %s", path, mt_strerror(rc));
        return -1;
    }

    *cnf = json_pack("{s:s}", "jkt", tp);

    return *cnf != NULL ? 0 : -1;
}


/* a new P-256 key: the private key to path (0600, O_EXCL), cnf back */
static int
mt_att_new_key(const char *path, json_t **cnf)
{
    int            fd, rv;
    char          *pem, err[256];
    long           len;
    BIO           *bio;
    EVP_PKEY      *pkey;
    mt_keyset_t   *ks;
    json_t        *jwk;

    rv = -1;
    bio = NULL;
    ks = NULL;

    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (pkey == NULL) {
        mt_cli_error("cannot generate a key");
        return -1;
    }

    bio = BIO_new(BIO_s_mem());

    if (bio == NULL
        || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL)
           != 1)
    {
        mt_cli_error("cannot encode the key");
        goto done;
    }

    len = BIO_get_mem_data(bio, &pem);

    ks = mt_keyset_new();
    err[0] = '\0';

    if (ks == NULL
        || mt_keyset_add_pem(ks, pem, (size_t) len, path, err, sizeof(err))
           != MT_OK
        || mt_key_public_jwk(mt_keyset_get(ks, 0), &jwk) != MT_OK)
    {
        mt_cli_error("cannot load the new key %s", err);
        goto done;
    }

    *cnf = json_pack("{s:o}", "jwk", jwk);

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd == -1) {
        mt_cli_error("\"%s\": %s", path, strerror(errno));
        goto done;
    }

    if (write(fd, pem, (size_t) len) != (ssize_t) len || close(fd) != 0) {
        mt_cli_error("\"%s\": cannot write", path);
        goto done;
    }

    rv = 0;

done:

    if (rv != 0) {
        json_decref(*cnf);
        *cnf = NULL;
    }

    mt_keyset_free(ks);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    ERR_clear_error();

    return rv;
}


/*
 * The cnf.jwk of the chain's last element, read without verifying
 * (the holder has no proxy key): is it key?  A check for the user's
 * sake; the proxy checks the signature itself.
 */
static int
mt_att_key_named(const char *chain, size_t len, const mt_key_t *key)
{
    int             same;
    char           *s;
    size_t          n;
    json_t         *claims, *jwk;
    const char     *last, *dot1, *dot2, *end;
    mt_keyset_t    *ks;
    unsigned char  *buf;

    end = chain + len;

    for (last = end; last > chain && last[-1] != MT_CHAIN_SEP; last--) {
        /* void */
    }

    dot1 = memchr(last, '.', (size_t) (end - last));
    dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', (size_t) (end - dot1 - 1))
                        : NULL;

    if (dot2 == NULL) {
        mt_cli_error("the chain's last element is not a JWS");
        return 0;
    }

    buf = malloc(mt_base64_decoded_max((size_t) (dot2 - dot1 - 1)));

    if (buf == NULL
        || mt_base64url_decode(buf, &n, dot1 + 1, (size_t) (dot2 - dot1 - 1))
           != MT_OK
        || mt_json_parse_object(&claims, (char *) buf, n, MT_MAX_CLAIMS)
           != MT_OK)
    {
        free(buf);
        mt_cli_error("the chain's last element has no readable claims");
        return 0;
    }

    free(buf);

    jwk = json_object_get(json_object_get(claims, "cnf"), "jwk");

    if (jwk == NULL) {
        json_decref(claims);
        mt_cli_error("the chain's last element names no key (cnf.jwk): it "
                     "was not made attenuable, or is terminal");
        return 0;
    }

    same = 0;
    s = json_dumps(jwk, JSON_COMPACT);
    ks = mt_keyset_new();

    if (s != NULL && ks != NULL
        && mt_keyset_add_jwks(ks, s, strlen(s), "cnf", NULL, 0) == MT_OK)
    {
        same = EVP_PKEY_eq(mt_key_pkey(mt_keyset_get(ks, 0)),
                           mt_key_pkey(key)) == 1;
    }

    free(s);
    mt_keyset_free(ks);
    json_decref(claims);

    if (!same) {
        mt_cli_error("--key is not the key the chain's last element names "
                     "in cnf.jwk");
    }

    return same;
}


static mt_alg_t
mt_att_default_alg(const mt_key_t *key)
{
    static const mt_alg_t  algs[] = {
        MT_ALG_ES256, MT_ALG_ES384, MT_ALG_ES512, MT_ALG_EDDSA, MT_ALG_PS256
    };

    size_t  i;

    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        if (mt_key_fits_alg(key, algs[i])) {
            return algs[i];
        }
    }

    return MT_ALG_NONE;
}


/* the signing key: the first private RSA, EC or Ed25519 key of ks */
static const mt_key_t *
mt_att_sign_key(const mt_keyset_t *ks)
{
    size_t           i;
    const mt_key_t  *key;

    for (i = 0; i < mt_keyset_count(ks); i++) {
        key = mt_keyset_get(ks, i);

        if (mt_key_has_private(key) && mt_key_type(key) != MT_KTY_OCT
            && mt_att_default_alg(key) != MT_ALG_NONE)
        {
            return key;
        }
    }

    return NULL;
}


static int
mt_att_run(mt_att_conf_t *conf, const char *arg)
{
    int              rv;
    char            *chain, *out;
    size_t           len, out_len;
    json_t          *cnf;
    mt_err_t         rc;
    mt_alg_t         alg;
    mt_keyset_t     *ks;
    const mt_key_t  *key;

    rv = MT_CLI_USAGE;
    chain = NULL;
    cnf = NULL;

    ks = mt_keyset_new();
    if (ks == NULL) {
        mt_cli_error("out of memory");
        return MT_CLI_USAGE;
    }

    if (mt_cli_add_key_file(ks, conf->key_file) != 0) {
        goto done;
    }

    key = mt_att_sign_key(ks);

    if (key == NULL) {
        mt_cli_error("\"%s\": no private RSA, EC or Ed25519 key",
                     conf->key_file);
        goto done;
    }

    alg = conf->alg_name != NULL
          ? mt_alg_from_name(conf->alg_name, strlen(conf->alg_name))
          : mt_att_default_alg(key);

    if (alg == MT_ALG_NONE || !mt_key_fits_alg(key, alg)) {
        mt_cli_error("--alg \"%.32s\" does not fit the key",
                     conf->alg_name ? conf->alg_name : "");
        goto done;
    }

    if (mt_cli_read_token(arg, &chain, &len) != 0) {
        goto done;
    }

    if (!mt_att_key_named(chain, len, key)) {
        goto done;
    }

    if (conf->next_key != NULL) {
        if (mt_cli_cnf_from_file(conf->next_key, &cnf) != 0) {
            goto done;
        }

    } else if (conf->new_key != NULL) {
        if (mt_att_new_key(conf->new_key, &cnf) != 0) {
            goto done;
        }

    } else if (conf->jkt != NULL || conf->dpop_key != NULL) {
        if (mt_cli_jkt_cnf(conf->jkt, conf->dpop_key, &cnf) != 0) {
            goto done;
        }
    }

    if (cnf != NULL) {
        json_object_set_new(conf->claims, "cnf", cnf);
    }

    rc = mt_chain_attenuate(chain, len, key, alg, conf->claims, &out,
                            &out_len);
    if (rc != MT_OK) {
        mt_cli_error("cannot attenuate: %s%s", mt_strerror(rc),
                     rc == MT_ERR_TOO_LARGE ? " (at most 8 links, 8192 "
                     "bytes each)" : "");
        rv = MT_CLI_INVALID;
        goto done;
    }

    fwrite(out, 1, out_len, stdout);
    fputc('\n', stdout);
    free(out);

    rv = fflush(stdout) == 0 ? MT_CLI_OK : MT_CLI_INVALID;

done:

    if (chain != NULL) {
        OPENSSL_cleanse(chain, len);
        free(chain);
    }

    mt_keyset_free(ks);

    return rv;
}


static int
mt_att_list_add(json_t *claims, const char *name, const char *value)
{
    json_t  *a;

    a = json_object_get(claims, name);

    if (a == NULL) {
        a = json_array();
        json_object_set_new(claims, name, a);
    }

    return json_array_append_new(a, json_string(value));
}


/* --allowed entries must compile in both match modes, as the issuer's */
static int
mt_att_check_entry(const char *entry)
{
    int          m, ok;
    char         err[256];
    mt_rules_t  *rules;

    for (m = 0; m < 2; m++) {
        rules = mt_rules_new((mt_match_mode_t) m);
        err[0] = '\0';
        ok = rules != NULL
             && mt_rules_add(rules, entry, strlen(entry), err, sizeof(err))
                == MT_OK;
        mt_rules_free(rules);

        if (!ok) {
            mt_cli_error("--allowed \"%.64s\": %s", entry,
                         err[0] ? err : "invalid");
            return -1;
        }
    }

    return 0;
}


int
mt_cli_attenuate(int argc, char **argv)
{
    int            c, rv;
    int64_t        t, now;
    mt_att_conf_t  conf;

    static const struct option  opts[] = {
        { "key",               required_argument, NULL, 'k' },
        { "alg",               required_argument, NULL, 'a' },
        { "allowed",           required_argument, NULL, 'A' },
        { "scope",             required_argument, NULL, 's' },
        { "method",            required_argument, NULL, 'm' },
        { "aud",               required_argument, NULL, 'u' },
        { "ttl",               required_argument, NULL, 't' },
        { "exp",               required_argument, NULL, 'x' },
        { "max-further-links", required_argument, NULL, 'L' },
        { "sub",               required_argument, NULL, 'b' },
        { "jti",               required_argument, NULL, 'j' },
        { "next-key",          required_argument, NULL, 'n' },
        { "new-key",           required_argument, NULL, 'N' },
        { "jkt",               required_argument, NULL, 'T' },
        { "dpop-key",          required_argument, NULL, 'P' },
        { "help",              no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    memset(&conf, 0, sizeof(conf));
    rv = MT_CLI_USAGE;
    now = (int64_t) time(NULL);

    conf.claims = json_object();
    if (conf.claims == NULL) {
        mt_cli_error("out of memory");
        return MT_CLI_USAGE;
    }

    optind = 1;
    opterr = 0;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {

        case 'k':
            conf.key_file = optarg;
            break;

        case 'a':
            conf.alg_name = optarg;
            break;

        case 'A':
            if (mt_att_check_entry(optarg) != 0) {
                goto done;
            }

            mt_att_list_add(conf.claims, "allowed", optarg);
            break;

        case 's':
            mt_att_list_add(conf.claims, "scopes", optarg);
            break;

        case 'm':
            if (strlen(optarg) == 0
                || strlen(optarg) > MT_CHAIN_MAX_METHOD_LEN)
            {
                mt_cli_error("--method: \"%.40s\" is not a method", optarg);
                goto done;
            }

            mt_att_list_add(conf.claims, "methods", optarg);
            break;

        case 'u':
            mt_att_list_add(conf.claims, "aud", optarg);
            break;

        case 't':
        case 'x':
            if (json_object_get(conf.claims, "exp") != NULL) {
                mt_cli_error("--ttl and --exp: one of them, once");
                goto done;
            }

            t = c == 't' ? mt_cli_parse_duration(optarg) : -1;

            if (c == 'x' && mt_cli_parse_int64(optarg, &t) != 0) {
                t = -1;
            }

            if (t <= 0) {
                mt_cli_error("--%s: \"%.32s\" is not valid",
                             c == 't' ? "ttl" : "exp", optarg);
                goto done;
            }

            json_object_set_new(conf.claims, "exp",
                                json_integer(c == 't' ? now + t : t));
            break;

        case 'L':
            if (mt_cli_parse_int64(optarg, &t) != 0 || t < 0
                || t > MT_CHAIN_MAX_LINKS)
            {
                mt_cli_error("--max-further-links: 0 to %d",
                             MT_CHAIN_MAX_LINKS);
                goto done;
            }

            json_object_set_new(conf.claims, "max_further_links",
                                json_integer(t));
            break;

        case 'b':
        case 'j':
            json_object_set_new(conf.claims, c == 'b' ? "sub" : "jti",
                                json_string(optarg));
            break;

        case 'n':
            conf.next_key = optarg;
            break;

        case 'N':
            conf.new_key = optarg;
            break;

        case 'T':
            conf.jkt = optarg;
            break;

        case 'P':
            conf.dpop_key = optarg;
            break;

        case 'h':
            fputs(mt_att_usage, stdout);
            rv = MT_CLI_OK;
            goto done;

        default:
            mt_cli_bad_option(argv, "attenuate");
            goto done;
        }
    }

    if (optind + 1 != argc) {
        mt_cli_error("attenuate needs one CHAIN, or - to read it from "
                     "stdin");
        goto done;
    }

    if (conf.key_file == NULL) {
        mt_cli_error("attenuate needs --key FILE: the key the chain's last "
                     "element names");
        goto done;
    }

    if ((conf.next_key != NULL) + (conf.new_key != NULL) + (conf.jkt != NULL)
        + (conf.dpop_key != NULL) > 1)
    {
        mt_cli_error("--next-key, --new-key, --jkt and --dpop-key: one of "
                     "them");
        goto done;
    }

    if (json_object_get(conf.claims, "aud") != NULL
        && json_array_size(json_object_get(conf.claims, "aud")) == 1)
    {
        json_object_set(conf.claims, "aud",
                        json_array_get(json_object_get(conf.claims, "aud"),
                                       0));
    }

    rv = mt_att_run(&conf, argv[optind]);

done:

    json_decref(conf.claims);

    return rv;
}
