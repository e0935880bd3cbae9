/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Paths that nginx and an upstream may read differently.  The path
 * checked here has been decoded once and its "." and ".." segments
 * resolved by nginx; what is left in it that another parser may still
 * turn into a separator or a dot segment is refused:
 *
 *   - a backslash, raw or as %5C: IIS and many Windows stacks read
 *     "\" as "/";
 *   - %2F, a "/" encoded twice (for stacks that decode twice), and
 *     IIS's %uXXXX escapes;
 *   - a segment made only of dots (and spaces or control characters,
 *     which Windows and Spring trim), once its path parameters
 *     (";..."), or what a second decoding makes a query or a fragment
 *     ("?", "#"), are cut and %XX is decoded once more: Tomcat and
 *     Spring read "..;x" as "..", a stack that decodes twice reads
 *     "%2e%2e" as ".." and "..%3F" as ".." followed by a query;
 *   - the bytes 0xC0 and 0xC1, which only start overlong UTF-8
 *     ("%c0%ae" is "." to some old stacks).
 *
 * A scope regex such as [^/]+ matches every one of these, while the
 * upstream would climb out of the segment the scope meant.
 */

#include "mt_core.h"


static int
mt_path_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/* the byte at p[*i], %XX decoded (and *i moved past it) */
static unsigned char
mt_path_byte(const char *p, size_t len, size_t *i)
{
    int  hi, lo;

    if (p[*i] == '%' && *i + 2 < len) {
        hi = mt_path_hex((unsigned char) p[*i + 1]);
        lo = mt_path_hex((unsigned char) p[*i + 2]);

        if (hi >= 0 && lo >= 0) {
            *i += 2;
            return (unsigned char) (hi << 4 | lo);
        }
    }

    return (unsigned char) p[*i];
}


/*
 * ".", "..", "...", ". .", "..;x", "%2e%2e%3bx", "..?x", "..#x",
 * "..%00": dots, with nothing but spaces and control characters (which
 * stacks trim) before the end of the segment, a ";" (path parameters),
 * or a "?" or "#" (which a stack that decodes once more takes for the
 * query or the fragment)
 */
static int
mt_path_dot_segment(const char *seg, size_t len)
{
    size_t         i, dots;
    unsigned char  c;

    dots = 0;

    for (i = 0; i < len; i++) {
        c = mt_path_byte(seg, len, &i);

        if (c == ';' || c == '?' || c == '#') {
            break;
        }

        if (c == '.') {
            dots++;

        } else if (c > 0x20 && c != 0x7f) {
            return 0;
        }
    }

    return dots > 0;
}


mt_err_t
mt_path_check(const char *path, size_t len)
{
    size_t         i, seg, start;
    unsigned char  c;

    /*
     * Every refusal below needs a "%" (an escape), a "\\", a "." (a dot
     * segment), or 0xC0 or 0xC1: most paths have none, one pass says so.
     */
    for (i = 0; i < len; i++) {
        c = (unsigned char) path[i];

        if (c == '%' || c == '\\' || c == '.' || c == 0xc0 || c == 0xc1) {
            break;
        }
    }

    if (i == len) {
        return MT_OK;
    }

    seg = 0;

    for (i = 0; i <= len; i++) {
        if (i == len || path[i] == '/') {
            if (mt_path_dot_segment(path + seg, i - seg)) {
                return MT_ERR_UNSAFE_PATH;
            }

            seg = i + 1;
            continue;
        }

        if (path[i] == '%' && i + 1 < len
            && (path[i + 1] == 'u' || path[i + 1] == 'U'))
        {
            return MT_ERR_UNSAFE_PATH;
        }

        start = i;
        c = mt_path_byte(path, len, &i);

        /*
         * a raw "/" ends a segment above; a decoded one is %2F.  0xC0
         * and 0xC1 only start overlong UTF-8 ("%c0%ae" is "." to some
         * old stacks), never a valid character.
         */
        if (c == '\\' || (c == '/' && i != start) || c == 0xc0 || c == 0xc1)
        {
            return MT_ERR_UNSAFE_PATH;
        }
    }

    return MT_OK;
}
