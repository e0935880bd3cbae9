/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * TEST FIXTURES FOR THE FUZZ HARNESSES ONLY.  These keys were generated
 * with "openssl genpkey" for this directory, are published in the
 * repository and protect nothing: never configure them anywhere.
 *
 * Fixed keys (rather than keys made at start-up) let the seed corpus
 * hold tokens and JWEs that really verify and decrypt, so that the
 * fuzzer starts from inputs that reach the end of every code path, and
 * let a crash found on one machine reproduce on another.
 */

#ifndef MT_FUZZ_FIXTURES_H
#define MT_FUZZ_FIXTURES_H

/* RSA 2048 (RS256.. and PS256.. signatures, RSA-OAEP JWE, credentials) */
static const char  fx_rsa_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCptQ69BIt9L9Gh\n"
    "SZMaoW0b2b6xc9I0lY/9OSrE4k98LrwX26joO8vQI6d49p5kSHA2WzMMxjwYXpkZ\n"
    "h/yzJ/S3/TlzR+INifCNTLbrRkVPWIpQrK/L0G74ATjaSZRHl+lv90Hjg3EzDmcg\n"
    "EWxHlFlaz1twjxNudGpbjV33+HmJR92J0IFwRG7IaL4dekXr+siOYLDXt6SaTwLm\n"
    "z+GvsTKMYPHjaL/nmh8dSSAm947LsMDE773wj2nTde7Z/slsecm2GKOhe8jfM07k\n"
    "GtDZ0XmSqDP6xfPTANyWuK2gA2DHcoQNoVstUe1WC0UvjBVbJVL/LvTLslQpctLd\n"
    "D8heMsj/AgMBAAECggEABlC5ZdmmR+LV1hQzArcwzxaud35mu1PjggS0wuiPFQEi\n"
    "ORsQsTpkbnBH5QL8cvaVIm4Iu3ghuAsb1Gzl6lQu0a1SjCfdJtbUGlYD/+5jWZK4\n"
    "bEx41Z4B5dMZ0Vm9SGAZV57SbLaGqbk7/OADxl15aR01UGjVTB4jRRlA1B+thNPA\n"
    "dHPQmqj8vJovScr6wc7N8pa6FEQE4emiMuisTNvvUgrrZAieE9viH/49EnLQgXLq\n"
    "wSBXijxdccsrNsn2xZLGeV7/C+CmCSXuuahMiUaT+ZvsW5Oaj4OocGkVkQjcDdHC\n"
    "DRomdAaP7YtSU/BuTkpDSWUIjN8F5rVqoPj1B0h7HQKBgQDYXUrbKK/FSf6zhyGz\n"
    "z9uloDKjVsET7Fx22jJgupy+lixFXwEER81oW1fc1QihW2G0W8kBGYWC9OyGsLVu\n"
    "jkwp55bB+momoJyVjNKiC9n5WXTqeUPU1fEFnssVnZn+0X3zjk3bKz8KIkR6JbCV\n"
    "6aVc7GhBr5m2zXqQYH2WSZWi9QKBgQDIy7aKkhTAa4K85Un5lA8RJkRgODE+jIxi\n"
    "P/4+uBGVHddPyF8LOkO27ZIwnbb793anE634xMjACCmI/FvkmYqje5Fs5/0fICJB\n"
    "7h5nE8I4fjXK2CDsbxY/Z5gm7b2cQHeu73IyimQRXA7ifTC5Suq0slRKQarFlxp/\n"
    "FRkvRg2LowKBgQC/Oj1F1AD+KvcNLzrvVJ/6E8uNp8iAVmAmv5TU/zo4DDxWl7Ar\n"
    "W1bFjC3sxPCaxExnftP5v9fLtbMzHA1PCD9yrfgFu9CEEWIzn0Iu7LCbfKAj+Eem\n"
    "XexnHkC5+xA3MmrSj4xqUB+oUj8ZgiQ/a0C3D07Z91yxP4y6/D0jTigN3QKBgQCf\n"
    "Ve/bVAI9ktKi3HvwHYo7PJeDlvOUw+jeShORZ3UkVBK4T7MD8M8tCKY6B9zdYsh3\n"
    "2kjyIA2BPLjg6AhvhVubUQHcXtbgbRpiIPdlKiuzsoszFIBDvf70f1sggQU2SX3v\n"
    "hjijXGf90oRJO7h/QLCwhNYYOrWtp7Mx5uceOUOkawKBgBTXHGuqHKzXoN+M7Opl\n"
    "QHvv7Fd3qSjLBzyYqnZWdGmknN47Tp+ROo9mkeff15WX3sOxgexEmF0diQDMu2It\n"
    "XIgTG7nnaqbky3AlXxotQL56vRdufnrMKM5QZ/HjrAK72qBUJkAKOJq+lPzcjVQv\n"
    "3+EL+wkSqlPoPuBHCK6/8HPX\n"
    "-----END PRIVATE KEY-----\n";

/* EC P-256 (ES256, ECDH-ES) */
static const char  fx_ec_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgZSkgf7oOw8TsRnqW\n"
    "jTIXui6OX0FpfYvSVY1HVA0htXShRANCAARV3A94rVUE3lm9BZjAkRHnNeeE7eJW\n"
    "C3X30RnWlvViu48X0WJQLtPTXymGzAHetGYgmQYhA2Xiwhitj9UEfG4m\n"
    "-----END PRIVATE KEY-----\n";

/* Ed25519 (EdDSA) */
static const char  fx_ed_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEICs88NHTVyj8+3NOzDIKmiNzE50a9x+9bITwe3FzlcP9\n"
    "-----END PRIVATE KEY-----\n";

/* HMAC secret (HS256/384/512), 64 bytes, added raw, kid "hs" */
#define FX_HMAC_SECRET \
    "fuzz-test-hmac-secret-NOT-A-REAL-KEY-0123456789abcdefghijklmnopq"
#define FX_HMAC_KID    "hs"

/* X25519 for ECDH-ES, as a JWK marked for encryption */
static const char  fx_x25519_jwk[] =
    "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"use\":\"enc\",\"kid\":\"x25519\","
    "\"d\":\"YEHjW-Pp1tarF_2ho55Yqevxp0CRDUZnWurljwi8Bm8\","
    "\"x\":\"iLfBYdDQwLFiG1Od7FiW6ZLXqAyPhgSB0a_kgC1yyQA\"}";

/*
 * Symmetric JWE keys: 16 bytes 00..0f (A128KW, dir A128GCM), 32 bytes
 * 20..3f (A256KW, dir A256GCM and A128CBC-HS256), 64 bytes 40..7f (dir
 * A256CBC-HS512).  No kid: they are tried for every JWE.
 */
static const char  fx_oct_jwks[] =
    "{\"keys\":["
    "{\"kty\":\"oct\",\"use\":\"enc\","
    "\"k\":\"AAECAwQFBgcICQoLDA0ODw\"},"
    "{\"kty\":\"oct\",\"use\":\"enc\","
    "\"k\":\"ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8\"},"
    "{\"kty\":\"oct\",\"use\":\"enc\","
    "\"k\":\"QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1-fw\"}"
    "]}";

#endif /* MT_FUZZ_FIXTURES_H */
