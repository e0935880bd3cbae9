/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * mt_path_check: paths (as nginx decoded and normalized them) that an
 * upstream may still read with other separators or dot segments.
 */

#include "mt_core.h"
#include "tap.h"


static const char  *unsafe[] = {
    /* backslashes: IIS and Windows stacks read them as "/" */
    "/repos/acme/..\\victim\\private/issues/1/labels",
    "\\",
    "/a\\b",
    "/a%5Cb",
    "/a%5cb",
    /* dot segments with path parameters: Tomcat, Spring */
    "/repos/..;/..;/issues",
    "/..;",
    "/.;/admin",
    "/a/..;jsessionid=x/b",
    "/a/.;x",
    "/a/%2e%2e;/b",
    "/a/%2E%2E%3B/b",
    "/a/..%3bx/b",
    "/a/.%2e;/b",
    /* dots decoded once more (double decoding), Windows trimming */
    "/a/%2e%2e/b",
    "/a/%2e/b",
    "/a/.../b",
    "/a/.. /b",
    "/a/. ./b",
    "/a/%2e%2e",
    "..",
    ".",
    /* "?", "#" or a control character after the dots (a second
     * decoding makes them a query, a fragment, or trims them) */
    "/users/me/..%3f",
    "/users/me/..%3F",
    "/users/me/..?x",
    "/users/me/..%23",
    "/users/me/..#",
    "/users/me/..%00",
    "/a/..%09/b",
    "/a/.%0d",
    /* overlong UTF-8: "%c0%ae" is "." to some old stacks */
    "/a/%c0%ae%c0%ae/b",
    "/a/\xc0\xae",
    "/a/x%C1%9C",
    /* a double-encoded "/", IIS %u escapes */
    "/a%2fb",
    "/a%2Fb",
    "/a/%u002e%u002e/b",
    "/a/%U2215",
};

static const char  *safe[] = {
    "",
    "/",
    "/user",
    "/repos/acme/api/issues/1/labels",
    "/a/b;c",
    "/a/b;/c",
    "/a/.b",
    "/a/b.",
    "/a/..b",
    "/a/b../c",
    "/a/.well-known/x",
    "/a/%2e%2eb",
    "/a/%25",
    "/a/%",
    "/a/%2",
    "/a/%zz",
    "/a/%3b",
    "/a/x?y",
    "/a/.x?",
    "/a/%3f..",
    "/a/#..",
    "/caf%C3%A9/%E2%82%AC",
    "/a/ /b",
    "/a/u%20",
    "/files/%C3%A9t%C3%A9",
    "/a//b",
};


int
main(void)
{
    char    c, p[8];
    size_t  i, n;

    plan((int) (sizeof(unsafe) / sizeof(unsafe[0]))
         + (int) (sizeof(safe) / sizeof(safe[0])) + 3);

    for (i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++) {
        is_int(mt_path_check(unsafe[i], strlen(unsafe[i])),
               MT_ERR_UNSAFE_PATH, "unsafe: %s", unsafe[i]);
    }

    for (i = 0; i < sizeof(safe) / sizeof(safe[0]); i++) {
        is_int(mt_path_check(safe[i], strlen(safe[i])), MT_OK, "safe: %s",
               safe[i]);
    }

    /*
     * every byte but the five that a refusal needs ("%", "\\", ".", 0xC0,
     * 0xC1), anywhere in a segment or as all of it: safe, at once
     */
    for (i = 1, n = 0; i < 256; i++) {
        c = (char) i;

        if (c == '%' || c == '\\' || c == '.' || i == 0xc0 || i == 0xc1) {
            continue;
        }

        memcpy(p, "/aX/X/XX", 8);
        p[2] = p[4] = p[6] = p[7] = c;

        if (mt_path_check(p, 8) != MT_OK) {
            n++;
            diag("refused: byte 0x%02x", (unsigned) i);
        }
    }

    is_int((int) n, 0, "no byte but %%, \\, ., 0xC0 and 0xC1 is refused");

    /* explicit lengths: nothing is read past them */
    is_int(mt_path_check("/a/..;", 3), MT_OK, "length respected (/a/)");
    is_int(mt_path_check("/a/%5", 4), MT_OK, "a cut %%XX is not decoded");

    return tap_exit();
}
