/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * mt_claims_check(): exp required and an integer, nbf and iat integers
 * when present and not in the future, leeway edges, extreme values.
 */

#include <stdint.h>

#include "mt_core.h"
#include "tap.h"


#define NOW  INT64_C(1700000000)


/* check claims given as JSON text (parsed like a token payload) */
static mt_err_t
check_text(const char *text, int64_t now, int64_t leeway)
{
    json_t    *claims;
    mt_err_t   rc;

    rc = mt_json_parse_object(&claims, text, strlen(text), MT_MAX_CLAIMS);
    if (rc != MT_OK) {
        return rc;
    }

    rc = mt_claims_check(claims, now, leeway);
    json_decref(claims);

    return rc;
}


/* {"exp": exp} and optionally nbf */
static mt_err_t
check_exp(json_int_t exp, int64_t leeway)
{
    json_t    *claims;
    mt_err_t   rc;

    claims = json_pack("{sI}", "exp", exp);
    rc = mt_claims_check(claims, NOW, leeway);
    json_decref(claims);

    return rc;
}


static mt_err_t
check_nbf(json_int_t nbf, int64_t leeway)
{
    json_t    *claims;
    mt_err_t   rc;

    claims = json_pack("{sIsI}", "exp", (json_int_t) NOW + 3600, "nbf", nbf);
    rc = mt_claims_check(claims, NOW, leeway);
    json_decref(claims);

    return rc;
}


int
main(void)
{
    char  text[256];

    plan(46);

    /* exp: required, an integer */

    is_int(check_text("{}", NOW, 0), MT_ERR_INVALID_CLAIMS, "exp missing");
    is_int(check_text("{\"iat\":1700000000}", NOW, 0), MT_ERR_INVALID_CLAIMS,
           "exp missing, iat present");
    is_int(check_text("{\"exp\":1700003600.0}", NOW, 0),
           MT_ERR_INVALID_CLAIMS, "exp real (with .0)");
    is_int(check_text("{\"exp\":1.7000036e9}", NOW, 0),
           MT_ERR_INVALID_CLAIMS, "exp real (exponent)");
    is_int(check_text("{\"exp\":\"1700003600\"}", NOW, 0),
           MT_ERR_INVALID_CLAIMS, "exp string");
    is_int(check_text("{\"exp\":null}", NOW, 0), MT_ERR_INVALID_CLAIMS,
           "exp null");
    is_int(check_text("{\"exp\":true}", NOW, 0), MT_ERR_INVALID_CLAIMS,
           "exp boolean");
    is_int(check_text("{\"exp\":[1700003600]}", NOW, 0),
           MT_ERR_INVALID_CLAIMS, "exp array");
    is_int(check_text("{\"exp\":1700003600}", NOW, 0), MT_OK,
           "exp integer in the future");
    is_int(check_text("{\"exp\":1700003600,\"exp\":1}", NOW, 0),
           MT_ERR_MALFORMED, "duplicate exp refused by the parser");
    is_int(check_text("{\"exp\":99999999999999999999}", NOW, 0),
           MT_ERR_MALFORMED, "exp beyond 64 bits refused by the parser");

    /* expiry edges: exp == now is expired (RFC 7519: "on or after") */

    is_int(check_exp(NOW, 0), MT_ERR_EXPIRED, "exp == now is expired");
    is_int(check_exp(NOW + 1, 0), MT_OK, "exp == now + 1 is valid");
    is_int(check_exp(NOW - 1, 0), MT_ERR_EXPIRED, "exp == now - 1 expired");
    is_int(check_exp(NOW - 59, 60), MT_OK,
           "exp == now - 59 with leeway 60 is valid");
    is_int(check_exp(NOW - 60, 60), MT_ERR_EXPIRED,
           "exp == now - 60 with leeway 60 is expired");
    is_int(check_exp(0, 0), MT_ERR_EXPIRED, "exp 0 expired");
    is_int(check_exp(-1, 0), MT_ERR_EXPIRED, "exp negative expired");

    /* extreme values: no overflow in either direction */

    is_int(check_exp(INT64_MAX, 0), MT_OK, "exp INT64_MAX is valid");
    is_int(check_exp(INT64_MAX, 86400), MT_OK,
           "exp INT64_MAX with leeway is valid");
    is_int(check_exp(INT64_MIN, 0), MT_ERR_EXPIRED, "exp INT64_MIN expired");
    is_int(check_exp(INT64_MIN, 86400), MT_ERR_EXPIRED,
           "exp INT64_MIN with leeway expired");

    snprintf(text, sizeof(text), "{\"exp\":%lld}", (long long) INT64_MIN);
    is_int(check_text(text, NOW, 300), MT_ERR_EXPIRED,
           "exp INT64_MIN as text expired");
    snprintf(text, sizeof(text), "{\"exp\":%lld}", (long long) INT64_MAX);
    is_int(check_text(text, NOW, 300), MT_OK, "exp INT64_MAX as text valid");

    /* nbf */

    is_int(check_nbf(NOW + 1, 0), MT_ERR_NOT_YET_VALID, "nbf in the future");
    is_int(check_nbf(NOW, 0), MT_OK, "nbf == now is valid");
    is_int(check_nbf(NOW + 60, 60), MT_OK, "nbf == now + leeway is valid");
    is_int(check_nbf(NOW + 61, 60), MT_ERR_NOT_YET_VALID,
           "nbf == now + leeway + 1 is not yet valid");
    is_int(check_nbf(INT64_MAX, 86400), MT_ERR_NOT_YET_VALID,
           "nbf INT64_MAX is not yet valid");
    is_int(check_nbf(INT64_MIN, 86400), MT_OK, "nbf INT64_MIN is valid");
    is_int(check_text("{\"exp\":1700003600,\"nbf\":\"0\"}", NOW, 0),
           MT_ERR_INVALID_CLAIMS, "nbf string");
    is_int(check_text("{\"exp\":1700003600,\"nbf\":0.5}", NOW, 0),
           MT_ERR_INVALID_CLAIMS, "nbf real");
    is_int(check_text("{\"exp\":1700003600,\"nbf\":null}", NOW, 0),
           MT_ERR_INVALID_CLAIMS, "nbf null");

    /* iat: an integer when present, not in the future beyond leeway */

    is_int(check_text("{\"exp\":1700003600,\"iat\":\"now\"}", NOW, 0),
           MT_ERR_INVALID_CLAIMS, "iat string");
    is_int(check_text("{\"exp\":1700003600,\"iat\":1699999999.5}", NOW, 0),
           MT_ERR_INVALID_CLAIMS, "iat real");
    is_int(check_text("{\"exp\":1700003600,\"iat\":{}}", NOW, 0),
           MT_ERR_INVALID_CLAIMS, "iat object");
    is_int(check_text("{\"exp\":1700003600,\"iat\":1800000000}", NOW, 0),
           MT_ERR_NOT_YET_VALID, "iat in the future is not yet valid");
    is_int(check_text("{\"exp\":1700003600,\"iat\":1700000000}", NOW, 0),
           MT_OK, "iat == now is valid");
    is_int(check_text("{\"exp\":1700003600,\"iat\":1700000001}", NOW, 0),
           MT_ERR_NOT_YET_VALID, "iat == now + 1 without leeway refused");
    is_int(check_text("{\"exp\":1700003600,\"iat\":1700000060}", NOW, 60),
           MT_OK, "iat == now + leeway is valid");
    is_int(check_text("{\"exp\":1700003600,\"iat\":1700000061}", NOW, 60),
           MT_ERR_NOT_YET_VALID, "iat == now + leeway + 1 is not yet valid");
    is_int(check_text("{\"exp\":1700003600,\"iat\":1800000000,"
                      "\"nbf\":1}", NOW, 0),
           MT_ERR_NOT_YET_VALID, "iat in the future with a past nbf");
    is_int(check_text("{\"exp\":1700003600,\"iat\":-5}", NOW, 0), MT_OK,
           "iat negative is accepted");

    /* extreme iat values: no overflow */

    is_int(check_text("{\"exp\":1700003600,\"iat\":9223372036854775807}",
                      NOW, 86400), MT_ERR_NOT_YET_VALID,
           "iat INT64_MAX is not yet valid");
    is_int(check_text("{\"exp\":1700003600,"
                      "\"iat\":-9223372036854775807}", NOW, 86400),
           MT_OK, "iat near INT64_MIN is valid");

    /* a large but sane leeway */

    is_int(check_exp(NOW - 86400 * 365, 86400 * 366), MT_OK,
           "a year-old exp with a year and a day of leeway");

    return tap_exit();
}
