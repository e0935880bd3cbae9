/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Response scrubbing (mt_scrub.c): every form a credential may come
 * back in is replaced, whole, at every split point across two buffers,
 * one byte at a time too; lengths never change; other bytes are left
 * alone.
 */

#include "mt_core.h"
#include "tap.h"


/* the test's own encoders, not the module's */
static size_t
pct(char *out, const char *in, size_t len, int style)
{
    size_t          i, n;
    unsigned char   c;
    const char     *hex;

    hex = (style == 1) ? "0123456789abcdef" : "0123456789ABCDEF";
    n = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) in[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || strchr("-._~", c) != NULL
            || (style == 3 && strchr("!'()*", c) != NULL))
        {
            out[n++] = (char) c;

        } else if (style == 2 && c == ' ') {
            out[n++] = '+';

        } else {
            n += (size_t) sprintf(out + n, "%%%c%c", hex[c >> 4],
                                  hex[c & 15]);
        }
    }

    out[n] = '\0';

    return n;
}


/* base64 of prefix + cred, std or url, padded or not */
static size_t
b64(char *out, const char *prefix, const char *cred, int url, int pad)
{
    size_t  n, plen, clen;
    char    buf[512];

    plen = strlen(prefix);
    clen = strlen(cred);
    memcpy(buf, prefix, plen);
    memcpy(buf + plen, cred, clen);

    if (url) {
        n = mt_base64url_encode(out, (unsigned char *) buf, plen + clen);
        while (pad && n % 4) {
            out[n++] = '=';
        }

    } else {
        n = mt_base64_encode(out, (unsigned char *) buf, plen + clen);
        while (!pad && n > 0 && out[n - 1] == '=') {
            n--;
        }
    }

    out[n] = '\0';

    return n;
}


static int
contains(const unsigned char *h, size_t hl, const unsigned char *n,
    size_t nl)
{
    size_t  i;

    for (i = 0; nl <= hl && i + nl <= hl; i++) {
        if (memcmp(h + i, n, nl) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * "BEFORE " form " AFTER" through s split at every point (and a byte at
 * a time): same length, the form and every pattern gone, the text
 * around it unchanged.  Returns the number of failed runs.
 */
static int
run_form(mt_scrub_t *s, const char *form, size_t flen)
{
    int             fails;
    size_t          split, len, n, got, hits, i, plen, k;
    unsigned char   in[1024], out[2048];
    const unsigned char  *p;
    static const char  before[] = "<<before ", after[] = " after>>";

    len = 0;
    memcpy(in, before, sizeof(before) - 1);
    len += sizeof(before) - 1;
    memcpy(in + len, form, flen);
    len += flen;
    memcpy(in + len, after, sizeof(after) - 1);
    len += sizeof(after) - 1;

    fails = 0;

    for (split = 0; split <= len + 1; split++) {
        got = 0;
        hits = 0;

        if (split <= len) {
            if (mt_scrub_feed(s, in, split, 0, out, &n, &hits) != MT_OK) {
                return fails + 1;
            }

            got = n;

            if (mt_scrub_feed(s, in + split, len - split, 1, out + got, &n,
                              &hits)
                != MT_OK)
            {
                return fails + 1;
            }

            got += n;

        } else {
            for (i = 0; i < len; i++) {
                if (mt_scrub_feed(s, in + i, 1, i + 1 == len, out + got, &n,
                                  &hits)
                    != MT_OK)
                {
                    return fails + 1;
                }

                got += n;
            }
        }

        if (got != len || hits == 0 || mt_scrub_pending(s) != 0
            || contains(out, got, (unsigned char *) form, flen)
            || memcmp(out, before, sizeof(before) - 1) != 0
            || memcmp(out + len - (sizeof(after) - 1), after,
                      sizeof(after) - 1) != 0)
        {
            diag("split %zu: %zu bytes out of %zu, %zu hits: %.*s", split,
                 got, len, hits, (int) got, out);
            fails++;
            continue;
        }

        for (k = 0; k < mt_scrub_patterns(s); k++) {
            p = mt_scrub_pattern(s, k, &plen);
            if (contains(out, got, p, plen)) {
                diag("split %zu: pattern %zu left", split, k);
                fails++;
            }
        }
    }

    return fails;
}


static const char  *creds[] = {
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "s3cr:t/+ key~!'()*?&=#\xc3\xa9\x01",
    "ab",                               /* short: raw and % only */
    "Zm9v",
};

#define N_CREDS  (sizeof(creds) / sizeof(creds[0]))


static void
test_forms(const char *cred)
{
    int          style, url, pad;
    char         form[1024];
    size_t       n, i;
    mt_err_t     rc;
    mt_scrub_t  *s;
    static const char  *prefixes[] = { "", "u:", "user:", "x", "xy" };

    rc = mt_scrub_new(&s, (unsigned char *) cred, strlen(cred));
    if (!ok(rc == MT_OK, "new for a %zu-byte credential", strlen(cred))) {
        return;
    }

    ok(mt_scrub_max_pattern(s) >= strlen(cred), "longest pattern %zu",
       mt_scrub_max_pattern(s));

    is_int(run_form(s, cred, strlen(cred)), 0, "raw, every split");

    {
        char  bearer[512];

        n = (size_t) snprintf(bearer, sizeof(bearer), "Bearer %s", cred);
        is_int(run_form(s, bearer, n), 0, "Bearer form, every split");
    }

    for (style = 0; style < 4; style++) {
        n = pct(form, cred, strlen(cred), style);
        is_int(run_form(s, form, n), 0, "percent style %d, every split",
               style);
    }

    if (strlen(cred) < 6) {
        skip(2 * 2 * 5, "base64 cores need longer credentials");
        mt_scrub_free(s);
        return;
    }

    for (url = 0; url < 2; url++) {
        for (pad = 0; pad < 2; pad++) {
            for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
                n = b64(form, prefixes[i], cred, url, pad);
                is_int(run_form(s, form, n), 0,
                       "base64%s%s of \"%s\" + credential, every split",
                       url ? "url" : "", pad ? " padded" : "",
                       prefixes[i]);
            }
        }
    }

    mt_scrub_free(s);
}


static void
test_patterns(void)
{
    size_t                len, i;
    mt_scrub_t           *s;
    const unsigned char  *p;
    int                   found;

    /* "foobar": RFC 4648's example, whole groups at alignment 0 */
    if (mt_scrub_new(&s, (unsigned char *) "foobar", 6) != MT_OK) {
        ok(0, "new foobar");
        return;
    }

    found = 0;

    for (i = 0; i < mt_scrub_patterns(s); i++) {
        p = mt_scrub_pattern(s, i, &len);
        if (len == 8 && memcmp(p, "Zm9vYmFy", 8) == 0) {
            found = 1;
        }
    }

    ok(found, "base64 of foobar is a pattern");
    is_int(mt_scrub_patterns(s), 4,
           "foobar: raw and 3 base64 cores (std and url alike)");
    ok(mt_scrub_pattern(s, 99, &len) == NULL && len == 0,
       "no pattern past the end");

    mt_scrub_free(s);
}


static void
test_bounds(void)
{
    mt_err_t        rc;
    mt_scrub_t     *s;
    unsigned char  *big, out[256];
    size_t          n, hits;
    static const char  text[] =
        "nothing to see here, fooba and foo bar, Zm9vYmF and oob";

    ok(mt_scrub_new(&s, (unsigned char *) "", 0) == MT_ERR_TOO_LARGE
       && s == NULL, "an empty credential is refused");

    big = calloc(1, MT_SCRUB_MAX_CRED + 1);
    ok(big != NULL
       && mt_scrub_new(&s, big, MT_SCRUB_MAX_CRED + 1) == MT_ERR_TOO_LARGE,
       "a credential over MT_SCRUB_MAX_CRED is refused");
    free(big);

    if (mt_scrub_new(&s, (unsigned char *) "foobar", 6) != MT_OK) {
        ok(0, "new");
        return;
    }

    hits = 0;
    ok(mt_scrub_feed(s, (unsigned char *) text, sizeof(text) - 1, 1, out, &n,
                     &hits) == MT_OK
       && n == sizeof(text) - 1 && hits == 0
       && memcmp(out, text, n) == 0, "near misses are left alone");

    memcpy(out, "afoobarfoobarb", 14);
    is_int(mt_scrub_buffer(s, out, 14), 2, "two matches in a value");
    ok(memcmp(out, "a************b", 14) == 0, "replaced in place: %.14s",
       out);

    /* a partial match kept back (the longest pattern is 8 long), then
     * refuted */
    hits = 0;
    rc = mt_scrub_feed(s, (unsigned char *) "xxfooba", 7, 0, out, &n, &hits);
    ok(rc == MT_OK && n == 0 && mt_scrub_pending(s) == 7,
       "a possible start is kept back (%zu out)", n);
    rc = mt_scrub_feed(s, (unsigned char *) "z", 1, 1, out, &n, &hits);
    ok(rc == MT_OK && n == 8 && hits == 0 && memcmp(out, "xxfoobaz", 8) == 0,
       "and sent unchanged when it is not one");

    mt_scrub_free(s);
    mt_scrub_free(NULL);
}


int
main(void)
{
    size_t  i;

    for (i = 0; i < N_CREDS; i++) {
        test_forms(creds[i]);
    }

    test_patterns();
    test_bounds();

    done_testing();

    return tap_exit();
}
