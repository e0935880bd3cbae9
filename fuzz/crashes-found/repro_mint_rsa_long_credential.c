/*
 * Reproducer (not a fuzz input): mt_mint_claims() accepts a credential of
 * up to MT_MAX_CREDENTIAL_LEN (4096) bytes, but mt_token_mint() with the
 * default magic-api-proxy encryption (RSA-OAEP-256 to an RSA key, no
 * "jwe=") can only encrypt k - 66 bytes (190 for RSA 2048, 446 for RSA
 * 4096): a valid request with a longer credential fails with
 * MT_ERR_INTERNAL, which the issuer answers with 500, not 400.
 *
 *   cc -std=c99 -D_POSIX_C_SOURCE=200809L -Ingx_http_magic_token_module \
 *      -Ifuzz -o /tmp/repro fuzz/crashes-found/repro_mint_rsa_long_credential.c \
 *      ngx_http_magic_token_module/mt_*.c -ljansson -lpcre2-8 -lcrypto
 *   /tmp/repro
 */

#include "common.h"


int
main(void)
{
    int               n;
    char              req[512], err[256], *tok;
    size_t            cred_len, tok_len;
    json_t           *r, *claims;
    mt_err_t          rc;
    const char       *cred;
    mt_keyset_t      *ks;
    mt_mint_opts_t    opts;
    mt_mint_policy_t  policy = { 3600, 3600, fx_scope_known, NULL };

    ks = fx_keyset();

    for (n = 190; n <= 191; n++) {
        snprintf(req, sizeof(req), "{\"token\":\"%0*d\",\"allowed\":"
                 "[\"GET /\"]}", n, 0);

        r = json_loads(req, 0, NULL);
        rc = mt_mint_claims(r, &policy, FX_NOW, &claims, &cred, &cred_len,
                            err, sizeof(err));
        printf("credential of %d bytes: mt_mint_claims: %s\n", n,
               rc == MT_OK ? "ok" : err);

        memset(&opts, 0, sizeof(opts));
        opts.sign_key = mt_keyset_get(ks, FX_KEY_RSA);
        opts.alg = MT_ALG_RS256;
        opts.enc_key = mt_keyset_get(ks, FX_KEY_RSA);

        rc = mt_token_mint(&opts, claims, (const unsigned char *) cred,
                           cred_len, &tok, &tok_len);
        printf("credential of %d bytes: mt_token_mint: %s\n", n,
               rc == MT_OK ? "ok" : mt_strerror(rc));

        if (rc == MT_OK) {
            free(tok);
        }

        json_decref(claims);
        json_decref(r);
    }

    mt_keyset_free(ks);

    return 0;
}
