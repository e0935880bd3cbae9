/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * mt_keyset_shares_key(), behind "nginx -t"'s audience warning: the same
 * key loaded twice (private, or its public half) is shared, another key
 * is not; HMAC secrets compare by their bytes.
 */

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "mt_core.h"
#include "tap.h"


#define S1  ((const unsigned char *) "0123456789abcdef0123456789abcdef")
#define S2  ((const unsigned char *) "0123456789abcdef0123456789abcdeX")


/* a fresh P-256 key as PEM: private (priv) or public */
static char *
ec_pem(EVP_PKEY *k, int priv, size_t *len)
{
    BIO   *b;
    char  *data, *out;
    long   n;

    b = BIO_new(BIO_s_mem());
    if (priv) {
        PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    } else {
        PEM_write_bio_PUBKEY(b, k);
    }

    n = BIO_get_mem_data(b, &data);
    out = malloc((size_t) n);
    memcpy(out, data, (size_t) n);
    *len = (size_t) n;
    BIO_free(b);

    return out;
}


static mt_keyset_t *
set_of(const char *pem, size_t len)
{
    char          err[256];
    mt_keyset_t  *ks;

    ks = mt_keyset_new();
    if (ks == NULL || mt_keyset_add_pem(ks, pem, len, "test", err,
                                        sizeof(err)) != MT_OK)
    {
        diag("add_pem: %s", err);
    }

    return ks;
}


int
main(void)
{
    char          err[256], *p1, *p2, *pub1;
    size_t        l1, l2, lp;
    EVP_PKEY     *k1, *k2;
    mt_keyset_t  *a, *b, *c, *d, *h1, *h2, *h3;

    k1 = EVP_EC_gen("P-256");
    k2 = EVP_EC_gen("P-256");
    p1 = ec_pem(k1, 1, &l1);
    p2 = ec_pem(k2, 1, &l2);
    pub1 = ec_pem(k1, 0, &lp);

    a = set_of(p1, l1);
    b = set_of(p1, l1);
    c = set_of(pub1, lp);
    d = set_of(p2, l2);

    ok(mt_keyset_shares_key(a, b), "one key file loaded twice is shared");
    ok(mt_keyset_shares_key(a, c), "a key and its public half are shared");
    ok(!mt_keyset_shares_key(a, d), "another key is not");
    ok(mt_keyset_shares_key(d, d), "a set shares its own keys");

    h1 = mt_keyset_new();
    h2 = mt_keyset_new();
    h3 = mt_keyset_new();
    mt_keyset_add_secret(h1, S1, 32, NULL, 0, err, sizeof(err));
    mt_keyset_add_secret(h2, S1, 32, NULL, 0, err, sizeof(err));
    mt_keyset_add_secret(h3, S2, 32, NULL, 0, err, sizeof(err));

    ok(mt_keyset_shares_key(h1, h2), "the same secret is shared");
    ok(!mt_keyset_shares_key(h1, h3), "a secret one byte apart is not");
    ok(!mt_keyset_shares_key(h1, a), "a secret and an EC key are not");

    mt_keyset_free(a);
    mt_keyset_free(b);
    mt_keyset_free(c);
    mt_keyset_free(d);
    mt_keyset_free(h1);
    mt_keyset_free(h2);
    mt_keyset_free(h3);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
    free(p1);
    free(p2);
    free(pub1);

    done_testing();

    return tap_exit();
}
