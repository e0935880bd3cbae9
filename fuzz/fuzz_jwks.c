/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_jwks: key loading from untrusted-looking text, mt_keyset_add_jwks()
 * (JWK and JWK Set) and mt_keyset_add_pem().  Key files are written by
 * the administrator, so this guards against crashes and leaks rather
 * than attacks; slow inputs (big RSA moduli) are expected and bounded by
 * -max_len.
 *
 * Properties: all or nothing (a failed call adds no key); an error
 * comes with a message; every added key fits only algorithms of its
 * family, and a key marked for encryption verifies nothing.
 */

#include "common.h"


static void
fx_check_keys(const mt_keyset_t *ks)
{
    int              a;
    size_t           i;
    const mt_key_t  *key;

    for (i = 0; i < mt_keyset_count(ks); i++) {
        key = mt_keyset_get(ks, i);

        for (a = MT_ALG_RS256; a <= MT_ALG_HS512; a++) {
            if (!mt_key_fits_alg(key, (mt_alg_t) a)) {
                continue;
            }

            switch (mt_key_type(key)) {
            case MT_KTY_RSA:
                FX_CHECK(a <= MT_ALG_PS512, "RSA key fits %s",
                         mt_alg_name((mt_alg_t) a));
                break;
            case MT_KTY_EC:
                FX_CHECK(a >= MT_ALG_ES256 && a <= MT_ALG_ES512,
                         "EC key fits %s", mt_alg_name((mt_alg_t) a));
                break;
            case MT_KTY_OKP:
                FX_CHECK(a == MT_ALG_EDDSA, "OKP key fits %s",
                         mt_alg_name((mt_alg_t) a));
                break;
            case MT_KTY_OCT:
                FX_CHECK(a >= MT_ALG_HS256, "oct key fits %s",
                         mt_alg_name((mt_alg_t) a));
                break;
            }
        }

        if (mt_key_type(key) == MT_KTY_OCT) {
            FX_CHECK(mt_key_has_private(key), "oct without secret");
        } else {
            FX_CHECK(mt_key_pkey(key) != NULL, "asymmetric key without pkey");
        }
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char          err[512];
    mt_err_t      rc;
    mt_keyset_t  *ks;

    ks = mt_keyset_new();
    FX_CHECK(ks != NULL, "mt_keyset_new");

    err[0] = '\0';
    rc = mt_keyset_add_jwks(ks, (const char *) data, size, "fuzz", err,
                            sizeof(err));

    if (rc != MT_OK) {
        FX_CHECK(mt_keyset_count(ks) == 0, "failed JWKS load added %zu keys",
                 mt_keyset_count(ks));
        FX_CHECK(err[0] != '\0' || rc == MT_ERR_NOMEM, "no message (%s)",
                 mt_strerror(rc));
    } else {
        FX_CHECK(mt_keyset_count(ks) > 0, "JWKS OK without keys");
    }

    fx_check_keys(ks);
    mt_keyset_free(ks);

    ks = mt_keyset_new();
    FX_CHECK(ks != NULL, "mt_keyset_new");

    err[0] = '\0';
    rc = mt_keyset_add_pem(ks, (const char *) data, size, "fuzz", err,
                           sizeof(err));

    if (rc != MT_OK) {
        FX_CHECK(err[0] != '\0' || rc == MT_ERR_NOMEM, "no message (%s)",
                 mt_strerror(rc));
    }

    fx_check_keys(ks);
    mt_keyset_free(ks);

    return 0;
}
