/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * magic-token keygen: a key pair in the files nginx and magic-api-proxy
 * read (private.pem, public.x509.cer), a public JWK set whose kid is
 * the RFC 7638 thumbprint, or a random HMAC secret.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "mt_cli.h"


#define MT_CLI_KID_LEN      mt_base64url_encoded_len(32)


typedef enum {
    MT_KG_RSA = 0,
    MT_KG_EC,
    MT_KG_ED25519,
    MT_KG_SECRET
} mt_kg_type_t;


typedef struct {
    mt_kg_type_t    type;
    int             bits;
    const char     *curve;          /* "P-256" ... */
    const char     *out;
    const char     *cn;
    int64_t         days;
    int             force;
} mt_kg_conf_t;


static const char  mt_kg_usage[] =
"usage: magic-token keygen [--type rsa|ec|ed25519|secret] [--bits N]\n"
"                          [--curve P-256|P-384|P-521] --out DIR\n"
"                          [--cn NAME] [--days N] [--force]\n"
"\n"
"Generate a key and write it into DIR (created if missing):\n"
"\n"
"  private.pem       the private key, PKCS#8 PEM, mode 0600: the file for\n"
"                    magic_token_key and for \"magic-token mint --key\"\n"
"  public.pem        the public key (SPKI PEM)\n"
"  public.x509.cer   RSA only: a self-signed X.509 certificate, the file\n"
"                    magic-api-proxy publishes and verifies with\n"
"  jwks.json         the public key as a JWK set; its kid is the key's\n"
"                    RFC 7638 thumbprint, printed on stdout as well\n"
"\n"
"With --type secret, DIR/secret receives 32 random bytes written as 43\n"
"base64url characters, no newline (mode 0600): the file for\n"
"magic_token_secret and for \"magic-token mint --secret\".\n"
"\n"
"options:\n"
"  --type T      rsa (default), ec, ed25519 or secret\n"
"  --bits N      RSA modulus size: 2048, 3072 (default) or 4096\n"
"  --curve C     EC curve: P-256 (default), P-384 or P-521\n"
"  --out DIR     output directory (required)\n"
"  --cn NAME     certificate subject CN (default \"magic-token\")\n"
"  --days N      certificate validity in days (default 3650)\n"
"  --force       overwrite existing files\n"
"\n"
"examples:\n"
"  magic-token keygen --out /etc/nginx/magic-token\n"
"  magic-token keygen --type ec --out keys/ec\n"
"  magic-token keygen --type ed25519 --out keys/ed\n"
"  magic-token keygen --type secret --out keys/hs\n";


/* ---- files ------------------------------------------------------- */

static int
mt_kg_open(const mt_kg_conf_t *conf, const char *name, mode_t mode,
    char *path, size_t size)
{
    int  fd, flags;

    if ((size_t) snprintf(path, size, "%s/%s", conf->out, name) >= size) {
        mt_cli_error("output path too long");
        return -1;
    }

    flags = O_WRONLY | O_CREAT | (conf->force ? O_TRUNC : O_EXCL);

    fd = open(path, flags, mode);
    if (fd == -1) {
        if (errno == EEXIST) {
            mt_cli_error("\"%s\" exists; use --force to overwrite it", path);

        } else {
            mt_cli_error("cannot create \"%s\": %s", path, strerror(errno));
        }

        return -1;
    }

    /* an existing file overwritten with --force keeps no wider mode */
    if (fchmod(fd, mode) == -1) {
        mt_cli_error("cannot chmod \"%s\": %s", path, strerror(errno));
        close(fd);
        return -1;
    }

    return fd;
}


static int
mt_kg_write_fd(int fd, const char *path, const void *data, size_t len)
{
    ssize_t       n;
    const char   *p;

    p = data;

    while (len > 0) {
        n = write(fd, p, len);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            mt_cli_error("cannot write \"%s\": %s", path, strerror(errno));
            return -1;
        }

        p += n;
        len -= (size_t) n;
    }

    return 0;
}


/* write what a PEM writer puts into a BIO on fd */
static int
mt_kg_write_pem(const mt_kg_conf_t *conf, const char *name, mode_t mode,
    EVP_PKEY *pkey, X509 *x509, int private)
{
    int    fd, rv, ok;
    BIO   *bio;
    char   path[4096];

    fd = mt_kg_open(conf, name, mode, path, sizeof(path));
    if (fd == -1) {
        return -1;
    }

    /* a file BIO writes straight through: no copy of the key to wipe */
    bio = BIO_new_fd(fd, BIO_CLOSE);
    if (bio == NULL) {
        close(fd);
        mt_cli_error("out of memory");
        return -1;
    }

    if (x509 != NULL) {
        ok = PEM_write_bio_X509(bio, x509);

    } else if (private) {
        /* PKCS#8, unencrypted: nginx reads it when loading configuration */
        ok = PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);

    } else {
        ok = PEM_write_bio_PUBKEY(bio, pkey);
    }

    rv = 0;

    if (ok != 1 || BIO_flush(bio) != 1) {
        mt_cli_error("cannot write \"%s\"", path);
        rv = -1;
    }

    BIO_free(bio);
    ERR_clear_error();

    if (rv == 0) {
        printf("wrote %s\n", path);
    }

    return rv;
}


static int
mt_kg_write_text(const mt_kg_conf_t *conf, const char *name, mode_t mode,
    const char *text, size_t len)
{
    int   fd, rv;
    char  path[4096];

    fd = mt_kg_open(conf, name, mode, path, sizeof(path));
    if (fd == -1) {
        return -1;
    }

    rv = mt_kg_write_fd(fd, path, text, len);

    if (close(fd) == -1 && rv == 0) {
        mt_cli_error("cannot write \"%s\": %s", path, strerror(errno));
        rv = -1;
    }

    if (rv == 0) {
        printf("wrote %s\n", path);
    }

    return rv;
}


/* ---- JWK --------------------------------------------------------- */

/* base64url of a BIGNUM: minimal big-endian bytes, or padded to pad */
static json_t *
mt_kg_bn_b64(EVP_PKEY *pkey, const char *param, int pad)
{
    int             n;
    char           *s;
    BIGNUM         *bn;
    json_t         *v;
    unsigned char   bytes[1024];

    bn = NULL;

    if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1) {
        return NULL;
    }

    if (pad > 0) {
        n = BN_num_bytes(bn) <= pad ? BN_bn2binpad(bn, bytes, pad) : -1;

    } else {
        n = BN_num_bytes(bn) <= (int) sizeof(bytes) ? BN_bn2bin(bn, bytes)
                                                     : -1;
    }

    BN_free(bn);

    if (n <= 0) {
        return NULL;
    }

    s = malloc(mt_base64url_encoded_len((size_t) n) + 1);
    if (s == NULL) {
        return NULL;
    }

    s[mt_base64url_encode(s, bytes, (size_t) n)] = '\0';
    v = json_string(s);
    free(s);

    return v;
}


/*
 * The public JWK members of pkey; RFC 7638 thumbprint members are the
 * required ones, which is all this writes.
 */
static json_t *
mt_kg_public_jwk(const mt_kg_conf_t *conf, EVP_PKEY *pkey)
{
    int             pad;
    char            x_b64[mt_base64url_encoded_len(64) + 1];
    size_t          len;
    json_t         *jwk, *a, *b;
    unsigned char   raw[64];

    jwk = json_object();
    if (jwk == NULL) {
        return NULL;
    }

    a = NULL;
    b = NULL;

    switch (conf->type) {

    case MT_KG_RSA:
        a = mt_kg_bn_b64(pkey, OSSL_PKEY_PARAM_RSA_E, 0);
        b = mt_kg_bn_b64(pkey, OSSL_PKEY_PARAM_RSA_N, 0);

        if (a == NULL || b == NULL) {
            goto failed;
        }

        json_object_set_new(jwk, "e", a);
        json_object_set_new(jwk, "kty", json_string("RSA"));
        json_object_set_new(jwk, "n", b);
        break;

    case MT_KG_EC:
        pad = strcmp(conf->curve, "P-256") == 0 ? 32
              : strcmp(conf->curve, "P-384") == 0 ? 48 : 66;

        a = mt_kg_bn_b64(pkey, OSSL_PKEY_PARAM_EC_PUB_X, pad);
        b = mt_kg_bn_b64(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, pad);

        if (a == NULL || b == NULL) {
            goto failed;
        }

        json_object_set_new(jwk, "crv", json_string(conf->curve));
        json_object_set_new(jwk, "kty", json_string("EC"));
        json_object_set_new(jwk, "x", a);
        json_object_set_new(jwk, "y", b);
        break;

    default:
        len = sizeof(raw);

        if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1) {
            goto failed;
        }

        x_b64[mt_base64url_encode(x_b64, raw, len)] = '\0';

        json_object_set_new(jwk, "crv", json_string("Ed25519"));
        json_object_set_new(jwk, "kty", json_string("OKP"));
        json_object_set_new(jwk, "x", json_string(x_b64));
        break;
    }

    return jwk;

failed:

    json_decref(a);
    json_decref(b);
    json_decref(jwk);
    ERR_clear_error();

    return NULL;
}


/* RFC 7638: SHA-256 of the required members, sorted, no white space */
static int
mt_kg_thumbprint(const json_t *jwk, char kid[MT_CLI_KID_LEN + 1])
{
    int             rv;
    char           *s;
    unsigned int    md_len;
    unsigned char   md[EVP_MAX_MD_SIZE];

    s = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
    if (s == NULL) {
        return -1;
    }

    rv = EVP_Digest(s, strlen(s), md, &md_len, EVP_sha256(), NULL) == 1
         ? 0 : -1;
    free(s);

    if (rv == 0) {
        kid[mt_base64url_encode(kid, md, md_len)] = '\0';
    }

    return rv;
}


static int
mt_kg_write_jwks(const mt_kg_conf_t *conf, EVP_PKEY *pkey)
{
    int      rv;
    char    *s, *text, kid[MT_CLI_KID_LEN + 1];
    size_t   len;
    json_t  *jwk, *jwks, *keys;

    jwk = mt_kg_public_jwk(conf, pkey);
    if (jwk == NULL) {
        mt_cli_error("cannot export the public key as a JWK");
        return -1;
    }

    if (mt_kg_thumbprint(jwk, kid) != 0) {
        json_decref(jwk);
        mt_cli_error("cannot compute the key's thumbprint");
        return -1;
    }

    json_object_set_new(jwk, "kid", json_string(kid));

    jwks = json_object();
    keys = json_array();

    if (jwks == NULL || keys == NULL) {
        json_decref(jwk);
        json_decref(jwks);
        json_decref(keys);
        mt_cli_error("out of memory");
        return -1;
    }

    json_array_append_new(keys, jwk);
    json_object_set_new(jwks, "keys", keys);

    s = json_dumps(jwks, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(jwks);

    text = s != NULL ? malloc(strlen(s) + 2) : NULL;

    if (text == NULL) {
        free(s);
        mt_cli_error("out of memory");
        return -1;
    }

    len = strlen(s);
    memcpy(text, s, len);
    text[len++] = '\n';
    free(s);

    rv = mt_kg_write_text(conf, "jwks.json", 0644, text, len);

    free(text);

    if (rv == 0) {
        printf("kid %s\n", kid);
    }

    return rv;
}


/* ---- X.509 ------------------------------------------------------- */

static X509 *
mt_kg_certificate(const mt_kg_conf_t *conf, EVP_PKEY *pkey)
{
    X509            *x509;
    BIGNUM          *bn;
    X509_NAME       *name;
    unsigned char    serial[16];

    x509 = X509_new();
    if (x509 == NULL) {
        return NULL;
    }

    bn = NULL;

    if (RAND_bytes(serial, sizeof(serial)) != 1) {
        goto failed;
    }

    /* a positive serial of at most 20 bytes (RFC 5280 4.1.2.2) */
    serial[0] &= 0x7f;
    serial[0] |= 0x40;

    bn = BN_bin2bn(serial, sizeof(serial), NULL);

    if (bn == NULL
        || X509_set_version(x509, X509_VERSION_3) != 1
        || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x509)) == NULL
        || X509_gmtime_adj(X509_getm_notBefore(x509), -3600) == NULL
        || X509_time_adj_ex(X509_getm_notAfter(x509), (int) conf->days, 0,
                            NULL) == NULL
        || X509_set_pubkey(x509, pkey) != 1)
    {
        goto failed;
    }

    name = X509_get_subject_name(x509);

    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   (const unsigned char *) conf->cn, -1, -1,
                                   0) != 1
        || X509_set_issuer_name(x509, name) != 1
        || X509_sign(x509, pkey, EVP_sha256()) <= 0)
    {
        goto failed;
    }

    BN_free(bn);

    return x509;

failed:

    BN_free(bn);
    X509_free(x509);

    return NULL;
}


/* ---- keygen ------------------------------------------------------ */

/* mkdir -p */
static int
mt_kg_mkdir(const char *dir)
{
    char    path[4096], *p;
    size_t  len;

    len = strlen(dir);

    if (len == 0 || len >= sizeof(path)) {
        mt_cli_error("bad output directory");
        return -1;
    }

    memcpy(path, dir, len + 1);

    for (p = path + 1; ; p++) {
        if (*p != '/' && *p != '\0') {
            continue;
        }

        if (p[-1] != '/') {
            *p = '\0';

            if (mkdir(path, 0755) == -1 && errno != EEXIST) {
                mt_cli_error("cannot create \"%s\": %s", path,
                             strerror(errno));
                return -1;
            }

            *p = dir[p - path];
        }

        if (*p == '\0') {
            break;
        }
    }

    return 0;
}


static int
mt_kg_secret(const mt_kg_conf_t *conf)
{
    int             rv;
    char            text[mt_base64url_encoded_len(32) + 1];
    size_t          len;
    unsigned char   raw[32];

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        mt_cli_error("no random bytes");
        return -1;
    }

    len = mt_base64url_encode(text, raw, sizeof(raw));
    text[len] = '\0';

    rv = mt_kg_write_text(conf, "secret", 0600, text, len);

    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(text, sizeof(text));

    return rv;
}


static EVP_PKEY *
mt_kg_generate(const mt_kg_conf_t *conf)
{
    EVP_PKEY  *pkey;

    switch (conf->type) {

    case MT_KG_RSA:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) conf->bits);
        break;

    case MT_KG_EC:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", conf->curve);
        break;

    default:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;
    }

    return pkey;
}


static int
mt_kg_run(const mt_kg_conf_t *conf)
{
    int        rv;
    X509      *x509;
    EVP_PKEY  *pkey;

    if (mt_kg_mkdir(conf->out) != 0) {
        return MT_CLI_USAGE;
    }

    if (conf->type == MT_KG_SECRET) {
        return mt_kg_secret(conf) == 0 ? MT_CLI_OK : MT_CLI_USAGE;
    }

    pkey = mt_kg_generate(conf);
    if (pkey == NULL) {
        ERR_clear_error();
        mt_cli_error("key generation failed");
        return MT_CLI_USAGE;
    }

    x509 = NULL;

    if (conf->type == MT_KG_RSA) {
        x509 = mt_kg_certificate(conf, pkey);
        if (x509 == NULL) {
            ERR_clear_error();
            EVP_PKEY_free(pkey);
            mt_cli_error("cannot create the certificate");
            return MT_CLI_USAGE;
        }
    }

    rv = mt_kg_write_pem(conf, "private.pem", 0600, pkey, NULL, 1);

    if (rv == 0) {
        rv = mt_kg_write_pem(conf, "public.pem", 0644, pkey, NULL, 0);
    }

    if (rv == 0 && x509 != NULL) {
        rv = mt_kg_write_pem(conf, "public.x509.cer", 0644, pkey, x509, 0);
    }

    if (rv == 0) {
        rv = mt_kg_write_jwks(conf, pkey);
    }

    X509_free(x509);
    EVP_PKEY_free(pkey);

    return rv == 0 ? MT_CLI_OK : MT_CLI_USAGE;
}


int
mt_cli_keygen(int argc, char **argv)
{
    int            c;
    int64_t        v;
    const char    *type;
    mt_kg_conf_t   conf;

    static const struct option  opts[] = {
        { "type",  required_argument, NULL, 't' },
        { "bits",  required_argument, NULL, 'b' },
        { "curve", required_argument, NULL, 'c' },
        { "out",   required_argument, NULL, 'o' },
        { "cn",    required_argument, NULL, 'n' },
        { "days",  required_argument, NULL, 'd' },
        { "force", no_argument,       NULL, 'f' },
        { "help",  no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    memset(&conf, 0, sizeof(conf));
    conf.type = MT_KG_RSA;
    conf.bits = 3072;
    conf.curve = "P-256";
    conf.cn = "magic-token";
    conf.days = 3650;
    type = "rsa";

    optind = 1;
    opterr = 0;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {

        case 't':
            type = optarg;
            break;

        case 'b':
            if (mt_cli_parse_int64(optarg, &v) != 0
                || (v != 2048 && v != 3072 && v != 4096))
            {
                mt_cli_error("--bits must be 2048, 3072 or 4096");
                return MT_CLI_USAGE;
            }

            conf.bits = (int) v;
            break;

        case 'c':
            if (strcmp(optarg, "P-256") != 0 && strcmp(optarg, "P-384") != 0
                && strcmp(optarg, "P-521") != 0)
            {
                mt_cli_error("--curve must be P-256, P-384 or P-521");
                return MT_CLI_USAGE;
            }

            conf.curve = optarg;
            break;

        case 'o':
            conf.out = optarg;
            break;

        case 'n':
            if (*optarg == '\0' || strlen(optarg) > 64) {
                mt_cli_error("--cn must have 1 to 64 characters");
                return MT_CLI_USAGE;
            }

            conf.cn = optarg;
            break;

        case 'd':
            if (mt_cli_parse_int64(optarg, &v) != 0 || v < 1 || v > 36500) {
                mt_cli_error("--days must be 1 to 36500");
                return MT_CLI_USAGE;
            }

            conf.days = v;
            break;

        case 'f':
            conf.force = 1;
            break;

        case 'h':
            fputs(mt_kg_usage, stdout);
            return MT_CLI_OK;

        default:
            mt_cli_bad_option(argv, "keygen");
            return MT_CLI_USAGE;
        }
    }

    if (optind < argc && conf.out == NULL && optind + 1 == argc) {
        /* "keygen DIR", as t/tools/mtmint.py takes it */
        conf.out = argv[optind++];
    }

    if (optind < argc) {
        mt_cli_error("unexpected argument \"%.64s\"", argv[optind]);
        return MT_CLI_USAGE;
    }

    if (conf.out == NULL) {
        mt_cli_error("keygen needs --out DIR");
        return MT_CLI_USAGE;
    }

    if (strcmp(type, "rsa") == 0) {
        conf.type = MT_KG_RSA;

    } else if (strcmp(type, "ec") == 0) {
        conf.type = MT_KG_EC;

    } else if (strcmp(type, "ed25519") == 0) {
        conf.type = MT_KG_ED25519;

    } else if (strcmp(type, "secret") == 0 || strcmp(type, "hmac") == 0) {
        conf.type = MT_KG_SECRET;

    } else {
        mt_cli_error("--type must be rsa, ec, ed25519 or secret");
        return MT_CLI_USAGE;
    }

    return mt_kg_run(&conf);
}
