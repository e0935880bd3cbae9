/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Strict base64 (RFC 4648 section 4, padded) and base64url (section 5,
 * unpadded as JOSE uses it): one accepted encoding per value.
 */

#include "mt_core.h"
#include "tap.h"


/* RFC 4648 section 10 */
static const struct {
    const char  *plain;
    const char  *std;
    const char  *url;
} rfc4648[] = {
    { "",       "",         ""         },
    { "f",      "Zg==",     "Zg"       },
    { "fo",     "Zm8=",     "Zm8"      },
    { "foo",    "Zm9v",     "Zm9v"     },
    { "foob",   "Zm9vYg==", "Zm9vYg"   },
    { "fooba",  "Zm9vYmE=", "Zm9vYmE"  },
    { "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

#define N_RFC  (sizeof(rfc4648) / sizeof(rfc4648[0]))


/* a test name without control characters */
static const char *
printable(const char *s)
{
    static char  out[64];
    size_t       i;

    for (i = 0; s[i] != '\0' && i < sizeof(out) - 1; i++) {
        out[i] = ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] > 0x7e)
                 ? '?' : s[i];
    }

    out[i] = '\0';

    return out;
}


static mt_err_t
url_decode(const char *s, unsigned char *out, size_t *len)
{
    return mt_base64url_decode(out, len, s, strlen(s));
}


static mt_err_t
std_decode(const char *s, unsigned char *out, size_t *len)
{
    return mt_base64_decode(out, len, s, strlen(s));
}


int
main(void)
{
    int             good;
    char            enc[512];
    size_t          i, j, n, len;
    unsigned char   buf[512], data[300];

    /* 1. RFC 4648 vectors, both alphabets, both directions */

    for (i = 0; i < N_RFC; i++) {
        n = mt_base64_encode(enc, (const unsigned char *) rfc4648[i].plain,
                             strlen(rfc4648[i].plain));
        ok(n == strlen(rfc4648[i].std)
           && memcmp(enc, rfc4648[i].std, n) == 0,
           "std encode \"%s\" = \"%s\"", rfc4648[i].plain, rfc4648[i].std);

        n = mt_base64url_encode(enc, (const unsigned char *) rfc4648[i].plain,
                                strlen(rfc4648[i].plain));
        ok(n == strlen(rfc4648[i].url)
           && memcmp(enc, rfc4648[i].url, n) == 0,
           "url encode \"%s\" = \"%s\"", rfc4648[i].plain, rfc4648[i].url);

        len = 99;
        ok(std_decode(rfc4648[i].std, buf, &len) == MT_OK
           && len == strlen(rfc4648[i].plain)
           && memcmp(buf, rfc4648[i].plain, len) == 0,
           "std decode \"%s\"", rfc4648[i].std);

        len = 99;
        ok(url_decode(rfc4648[i].url, buf, &len) == MT_OK
           && len == strlen(rfc4648[i].plain)
           && memcmp(buf, rfc4648[i].plain, len) == 0,
           "url decode \"%s\"", rfc4648[i].url);
    }

    /* 2. the two alphabets differ in 62 and 63 only */

    data[0] = 0xfb; data[1] = 0xff; data[2] = 0xbf;

    n = mt_base64_encode(enc, data, 3);
    ok(n == 4 && memcmp(enc, "+/+/", 4) == 0, "std alphabet uses + and /");

    n = mt_base64url_encode(enc, data, 3);
    ok(n == 4 && memcmp(enc, "-_-_", 4) == 0, "url alphabet uses - and _");

    is_int(url_decode("+/+/", buf, &len), MT_ERR_MALFORMED,
           "url decoder rejects + and /");
    is_int(std_decode("-_-_", buf, &len), MT_ERR_MALFORMED,
           "std decoder rejects - and _");

    /* 3. base64url: no padding, no white space, no 4n+1, zero bits */

    {
        static const char  *bad_url[] = {
            "Zg==", "Zg=", "Zm8=", "=", "====", "Zm9v=",
            "Zm9v\n", " Zm9v", "Zm9v ", "Zm\r\n9v", "Zm9v\t",
            "Z", "Zm9vY", "Zm9vYmFyZ",
            "Zh",           /* "f" with non-zero trailing bits */
            "Zm9",          /* "fo" with non-zero trailing bits */
            "Zm9vYh", "Zm9vYmF",
            "Zm9v.", "Zm9v*", "Zm9v\x80",
        };

        for (i = 0; i < sizeof(bad_url) / sizeof(bad_url[0]); i++) {
            is_int(url_decode(bad_url[i], buf, &len), MT_ERR_MALFORMED,
                   "url rejects \"%s\"", printable(bad_url[i]));
        }
    }

    /* a NUL inside the explicit length is a bad character, not an end */
    is_int(mt_base64url_decode(buf, &len, "Zm9v\0Zm9v", 9), MT_ERR_MALFORMED,
           "url rejects an embedded NUL");

    /* 4. standard base64: padding is mandatory and exact */

    {
        static const char  *bad_std[] = {
            "Zg", "Zm8", "Zg=", "Zm9vYg", "Zm9vYmE",   /* unpadded */
            "Zg===", "Z===", "====", "==", "=",
            "Zm9vYmFy====", "Zm9v====",                /* padding only */
            "Zg=a", "=Zm8", "Z=m8", "Zm=8",            /* '=' inside */
            "Zh==", "Zm9=",                            /* trailing bits */
            "Zm9v\n", "Zm 9v", "Zm9vYg==\n",
        };

        for (i = 0; i < sizeof(bad_std) / sizeof(bad_std[0]); i++) {
            is_int(std_decode(bad_std[i], buf, &len), MT_ERR_MALFORMED,
                   "std rejects \"%s\"", printable(bad_std[i]));
        }
    }

    /* 5. round trips of every length from 0 to 258, every byte value */

    for (i = 0; i < sizeof(data); i++) {
        data[i] = (unsigned char) (i * 167 + 13);
    }

    good = 1;

    for (n = 0; n <= 258 && good; n++) {
        size_t  e, d;

        /* a canary right after the decoded_max bound */
        memset(buf, 0xa5, sizeof(buf));

        e = mt_base64url_encode(enc, data, n);
        good = e == (size_t) mt_base64url_encoded_len(n)
               && mt_base64url_decode(buf, &d, enc, e) == MT_OK
               && d == n && memcmp(buf, data, n) == 0
               && buf[mt_base64_decoded_max(e)] == 0xa5;

        if (!good) {
            diag("base64url round trip of %zu bytes", n);
            break;
        }

        memset(buf, 0xa5, sizeof(buf));

        e = mt_base64_encode(enc, data, n);
        good = e == (size_t) mt_base64_encoded_len(n)
               && mt_base64_decode(buf, &d, enc, e) == MT_OK
               && d == n && memcmp(buf, data, n) == 0
               && buf[mt_base64_decoded_max(e)] == 0xa5;

        if (!good) {
            diag("base64 round trip of %zu bytes", n);
        }
    }

    ok(good, "round trips of 0..258 bytes, both alphabets, within bounds");

    for (i = 0; i < 256; i++) {
        data[i] = (unsigned char) i;
    }

    n = mt_base64url_encode(enc, data, 256);
    ok(mt_base64url_decode(buf, &len, enc, n) == MT_OK && len == 256
       && memcmp(buf, data, 256) == 0, "all 256 byte values round trip");

    /* 6. every encoding decodes to one value only: flipping any unused
     *    bit of the last character is refused */

    good = 1;

    for (i = 1; i <= 2; i++) {
        static const char  alpha[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        char  s[8];

        n = mt_base64url_encode(s, data + 65, i);   /* 2 or 3 characters */

        for (j = 0; j < 64; j++) {
            mt_err_t  rc;

            s[n - 1] = alpha[j];
            rc = mt_base64url_decode(buf, &len, s, n);

            /* i = 1: low 4 bits unused; i = 2: low 2 bits unused */
            if ((rc == MT_OK) != ((j & (i == 1 ? 0x0f : 0x03)) == 0)) {
                good = 0;
            }
        }
    }

    ok(good, "only zero trailing bits are accepted (canonical encoding)");

    return tap_exit();
}
