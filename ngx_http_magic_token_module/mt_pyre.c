/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Python re patterns for PCRE2: agree or refuse.
 *
 * Scope regexes are written for Python's re (magic-api-proxy runs
 * re.match(pattern, path, re.I)).  This parser accepts a whitelist of
 * syntax whose meaning is the same in both engines and writes it out
 * again in a canonical PCRE2 form; everything else is refused, so that
 * a pattern never means one thing to Python and another to us.
 *
 * Accepted: literals (any code point, escaped punctuation, \a \f \n \r
 * \t \v \xhh \uhhhh \Uhhhhhhhh), ".", "^", "$", \A, \Z (as \z), \b,
 * \B, \d \D \w \W \s \S, classes with ASCII ranges and negation,
 * ( ), (?: ), (?P<name> ), (?= ), (?! ), "|", * + ? {n} {n,} {n,m}
 * (n, m <= MT_PYRE_MAX_REPEAT) and their lazy forms.
 *
 * utf (prefix mode, compiled with UTF, UCP and CASELESS): literals are
 * code points; \s becomes Python's exact whitespace set (PCRE2's \s
 * differs at U+001C-U+001F and U+180E); the few characters that
 * Python's re.I folds together and PCRE2 does not (i, I, U+0130 and
 * U+0131; three Greek and ligature pairs) become classes of their
 * family.  Every other case-insensitive literal and class member was
 * checked code point by code point against Python 3.11.
 *
 * bytes (full mode, no UTF, case-sensitive): a non-ASCII literal
 * becomes its UTF-8 bytes as one group; non-ASCII characters in a class
 * are refused (a class matches single bytes); \d \w \s are ASCII.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt_core.h"


#define MT_PYRE_MAX_DEPTH    32
#define MT_PYRE_MAX_NAMES    32
#define MT_PYRE_MAX_NAME     32
#define MT_PYRE_MAX_OUT      (64 * 1024)
#define MT_PYRE_MAX_REPEAT   1000

/* Python's str \s: Py_UNICODE_ISSPACE (Unicode 14) */
#define MT_PYRE_SPACE_UTF                                                    \
    "\\x{9}-\\x{d}\\x{1c}-\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}" \
    "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"
#define MT_PYRE_SPACE_BYTES  "\\x{9}-\\x{d}\\x{1c}-\\x{20}"

/*
 * Characters that Python's re.I folds together and PCRE2 10.42's
 * CASELESS does not (i and I fold to each other in both): each member
 * becomes the whole family.  Found by comparing the two engines on
 * every pair of code points related by case (t/tools/scope_diff.py
 * repeats the check).
 */
static const struct {
    uint32_t     cp[4];
    const char  *members;
} mt_pyre_families[] = {
    { { 'i', 'I', 0x130, 0x131 }, "i\\x{130}\\x{131}" },
    { { 0x390, 0x1fd3, 0, 0 },    "\\x{390}\\x{1fd3}" },
    { { 0x3b0, 0x1fe3, 0, 0 },    "\\x{3b0}\\x{1fe3}" },
    { { 0xfb05, 0xfb06, 0, 0 },   "\\x{fb05}\\x{fb06}" },
};


typedef enum {
    MT_PYRE_GROUP = 0,
    MT_PYRE_LOOKAHEAD
} mt_pyre_group_t;


typedef enum {
    MT_PYRE_CHAR = 0,           /* a code point in cp */
    MT_PYRE_SET,                /* \d \D \w \W \s \S */
    MT_PYRE_ASSERT              /* \A \Z \b \B */
} mt_pyre_kind_t;


typedef struct {
    const unsigned char  *start;
    const unsigned char  *p;
    const unsigned char  *end;
    int                   utf;

    char                 *out;
    size_t                len;
    size_t                cap;
    int                   oom;

    int                   depth;
    unsigned char         stack[MT_PYRE_MAX_DEPTH];
    int                   n_names;
    char                  names[MT_PYRE_MAX_NAMES][MT_PYRE_MAX_NAME + 1];

    char                 *errbuf;
    size_t                errlen;
} mt_pyre_t;


static mt_err_t
mt_pyre_refuse(mt_pyre_t *st, const char *fmt, ...)
{
    int      n;
    va_list  args;

    if (st->errbuf == NULL || st->errlen == 0) {
        return MT_ERR_BAD_SCOPE;
    }

    va_start(args, fmt);
    n = vsnprintf(st->errbuf, st->errlen, fmt, args);
    va_end(args);

    if (n >= 0 && (size_t) n < st->errlen) {
        snprintf(st->errbuf + n, st->errlen - n, " at offset %zu",
                 (size_t) (st->p - st->start));
    }

    return MT_ERR_BAD_SCOPE;
}


static mt_err_t
mt_pyre_emit(mt_pyre_t *st, const char *s, size_t n)
{
    char    *grown;
    size_t   cap;

    if (st->len + n + 1 > MT_PYRE_MAX_OUT) {
        return mt_pyre_refuse(st, "scope regex is too complex");
    }

    if (st->len + n + 1 > st->cap) {
        cap = st->cap ? st->cap : 256;

        while (cap < st->len + n + 1) {
            cap *= 2;
        }

        grown = realloc(st->out, cap);
        if (grown == NULL) {
            st->oom = 1;
            return MT_ERR_NOMEM;
        }

        st->out = grown;
        st->cap = cap;
    }

    memcpy(st->out + st->len, s, n);
    st->len += n;
    st->out[st->len] = '\0';

    return MT_OK;
}


static mt_err_t
mt_pyre_emits(mt_pyre_t *st, const char *s)
{
    return mt_pyre_emit(st, s, strlen(s));
}


static mt_err_t
mt_pyre_emit_hex(mt_pyre_t *st, uint32_t cp)
{
    char  buf[16];

    snprintf(buf, sizeof(buf), "\\x{%x}", (unsigned) cp);

    return mt_pyre_emits(st, buf);
}


/* strict UTF-8: no overlong forms, no surrogates, at most U+10FFFF */
static mt_err_t
mt_pyre_decode(mt_pyre_t *st, uint32_t *cp)
{
    size_t                n, i;
    uint32_t              c, min;
    const unsigned char  *p;

    p = st->p;
    c = p[0];

    if (c < 0x80) {
        st->p++;
        *cp = c;
        return MT_OK;
    }

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2; min = 0x80; c &= 0x1f;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3; min = 0x800; c &= 0x0f;

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4; min = 0x10000; c &= 0x07;

    } else {
        return mt_pyre_refuse(st, "scope regex is not valid UTF-8");
    }

    if ((size_t) (st->end - p) < n) {
        return mt_pyre_refuse(st, "scope regex is not valid UTF-8");
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return mt_pyre_refuse(st, "scope regex is not valid UTF-8");
        }

        c = (c << 6) | (p[i] & 0x3f);
    }

    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return mt_pyre_refuse(st, "scope regex is not valid UTF-8");
    }

    st->p += n;
    *cp = c;

    return MT_OK;
}


static const char *
mt_pyre_family(uint32_t cp)
{
    size_t  i, j;

    for (i = 0; i < sizeof(mt_pyre_families) / sizeof(mt_pyre_families[0]);
         i++)
    {
        for (j = 0; j < 4; j++) {
            if (mt_pyre_families[i].cp[j] == cp && cp != 0) {
                return mt_pyre_families[i].members;
            }
        }
    }

    return NULL;
}


static mt_err_t
mt_pyre_emit_family(mt_pyre_t *st, const char *members, int in_class)
{
    mt_err_t  rc;

    if (in_class) {
        return mt_pyre_emits(st, members);
    }

    rc = mt_pyre_emits(st, "[");

    if (rc == MT_OK) {
        rc = mt_pyre_emits(st, members);
    }

    return rc == MT_OK ? mt_pyre_emits(st, "]") : rc;
}


/* a literal code point, outside or inside a class */
static mt_err_t
mt_pyre_emit_cp(mt_pyre_t *st, uint32_t cp, int in_class)
{
    char           buf[40];
    size_t         n;
    const char    *family;
    unsigned char  u[4];

    family = st->utf ? mt_pyre_family(cp) : NULL;

    if (family != NULL) {
        return mt_pyre_emit_family(st, family, in_class);
    }

    if ((cp >= '0' && cp <= '9') || (cp >= 'A' && cp <= 'Z')
        || (cp >= 'a' && cp <= 'z'))
    {
        buf[0] = (char) cp;
        return mt_pyre_emit(st, buf, 1);
    }

    if (st->utf) {
        return mt_pyre_emit_hex(st, cp);
    }

    if (cp < 0x80) {
        return mt_pyre_emit_hex(st, cp);
    }

    if (in_class) {
        return mt_pyre_refuse(st, "non-ASCII character in a character "
                              "class (full mode matches bytes)");
    }

    /* full mode: the UTF-8 bytes, one group so that quantifiers apply */
    if (cp < 0x800) {
        n = 2;
        u[0] = 0xc0 | (cp >> 6); u[1] = 0x80 | (cp & 0x3f);

    } else if (cp < 0x10000) {
        n = 3;
        u[0] = 0xe0 | (cp >> 12); u[1] = 0x80 | ((cp >> 6) & 0x3f);
        u[2] = 0x80 | (cp & 0x3f);

    } else {
        n = 4;
        u[0] = 0xf0 | (cp >> 18); u[1] = 0x80 | ((cp >> 12) & 0x3f);
        u[2] = 0x80 | ((cp >> 6) & 0x3f); u[3] = 0x80 | (cp & 0x3f);
    }

    if (n == 2) {
        snprintf(buf, sizeof(buf), "(?:\\x{%x}\\x{%x})", u[0], u[1]);

    } else if (n == 3) {
        snprintf(buf, sizeof(buf), "(?:\\x{%x}\\x{%x}\\x{%x})", u[0], u[1],
                 u[2]);

    } else {
        snprintf(buf, sizeof(buf), "(?:\\x{%x}\\x{%x}\\x{%x}\\x{%x})", u[0],
                 u[1], u[2], u[3]);
    }

    return mt_pyre_emits(st, buf);
}


static mt_err_t
mt_pyre_hex(mt_pyre_t *st, size_t digits, uint32_t *cp)
{
    size_t    i;
    uint32_t  c, v;

    if ((size_t) (st->end - st->p) < digits) {
        return mt_pyre_refuse(st, "incomplete escape");
    }

    v = 0;

    for (i = 0; i < digits; i++) {
        c = st->p[i];

        if (c >= '0' && c <= '9') {
            c -= '0';

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            c = (c | 0x20) - 'a' + 10;

        } else {
            return mt_pyre_refuse(st, "incomplete escape");
        }

        if (v > 0x10ffff) {
            return mt_pyre_refuse(st, "escape beyond U+10FFFF");
        }

        v = (v << 4) | c;
    }

    if (v > 0x10ffff) {
        return mt_pyre_refuse(st, "escape beyond U+10FFFF");
    }

    if (v >= 0xd800 && v <= 0xdfff) {
        return mt_pyre_refuse(st, "surrogate escapes never match a path "
                              "and are refused");
    }

    st->p += digits;
    *cp = v;

    return MT_OK;
}


/*
 * After a backslash: a code point (kind CHAR), a set letter (SET) or
 * an assertion letter (ASSERT) in *cp.
 */
static mt_err_t
mt_pyre_escape(mt_pyre_t *st, int in_class, mt_pyre_kind_t *kind,
    uint32_t *cp)
{
    unsigned char  c;

    if (st->p >= st->end) {
        return mt_pyre_refuse(st, "trailing backslash");
    }

    c = *st->p;

    if (c >= 0x80) {
        /* an escaped non-ASCII character is itself */
        *kind = MT_PYRE_CHAR;
        return mt_pyre_decode(st, cp);
    }

    st->p++;
    *kind = MT_PYRE_CHAR;
    *cp = c;

    switch (c) {

    case 'd': case 'D': case 'w': case 'W': case 's': case 'S':
        *kind = MT_PYRE_SET;
        return MT_OK;

    case 'A': case 'Z': case 'B':
        if (in_class) {
            return mt_pyre_refuse(st, "\\%c in a character class", c);
        }

        *kind = MT_PYRE_ASSERT;
        return MT_OK;

    case 'b':
        if (in_class) {
            *cp = 0x08;         /* Python and PCRE2: backspace */
            return MT_OK;
        }

        *kind = MT_PYRE_ASSERT;
        return MT_OK;

    case 'a': *cp = 0x07; return MT_OK;
    case 'f': *cp = 0x0c; return MT_OK;
    case 'n': *cp = 0x0a; return MT_OK;
    case 'r': *cp = 0x0d; return MT_OK;
    case 't': *cp = 0x09; return MT_OK;
    case 'v': *cp = 0x0b; return MT_OK;

    case 'x': return mt_pyre_hex(st, 2, cp);
    case 'u': return mt_pyre_hex(st, 4, cp);
    case 'U': return mt_pyre_hex(st, 8, cp);
    }

    if (c >= '0' && c <= '9') {
        st->p--;
        return mt_pyre_refuse(st, "backreferences and octal escapes "
                              "(\\%c) are refused", c);
    }

    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        st->p--;
        return mt_pyre_refuse(st, "escape \\%c is refused: its meaning "
                              "differs between Python re and PCRE2, or "
                              "Python rejects it", c);
    }

    /* an escaped punctuation character or space is itself */
    return MT_OK;
}


/* \d \D \w \W \s \S, outside (in_class 0) or inside a class */
static mt_err_t
mt_pyre_emit_set(mt_pyre_t *st, uint32_t letter, int in_class)
{
    const char  *space;
    char         buf[3];

    space = st->utf ? MT_PYRE_SPACE_UTF : MT_PYRE_SPACE_BYTES;

    if (letter == 's') {
        if (in_class) {
            return mt_pyre_emits(st, space);
        }

        return mt_pyre_emits(st, "[") || mt_pyre_emits(st, space)
               || mt_pyre_emits(st, "]") ? MT_ERR_BAD_SCOPE : MT_OK;
    }

    if (letter == 'S') {
        if (in_class) {
            return mt_pyre_refuse(st, "\\S in a character class is "
                                  "refused");
        }

        return mt_pyre_emits(st, "[^") || mt_pyre_emits(st, space)
               || mt_pyre_emits(st, "]") ? MT_ERR_BAD_SCOPE : MT_OK;
    }

    /* \d \D \w \W: PCRE2 with UCP equals Python on every code point */
    buf[0] = '\\';
    buf[1] = (char) letter;

    return mt_pyre_emit(st, buf, 2);
}


static mt_err_t
mt_pyre_class_item(mt_pyre_t *st, mt_pyre_kind_t *kind, uint32_t *cp)
{
    if (*st->p == '\\') {
        st->p++;
        return mt_pyre_escape(st, 1, kind, cp);
    }

    *kind = MT_PYRE_CHAR;

    return mt_pyre_decode(st, cp);
}


static mt_err_t
mt_pyre_range(mt_pyre_t *st, uint32_t lo, uint32_t hi)
{
    mt_err_t  rc;

    if (hi < lo) {
        return mt_pyre_refuse(st, "bad character range");
    }

    if (lo == hi) {
        return mt_pyre_emit_cp(st, lo, 1);
    }

    if (hi >= 0x80) {
        return mt_pyre_refuse(st, "character ranges beyond ASCII are "
                              "refused (case-insensitive ranges differ "
                              "between Python re and PCRE2)");
    }

    rc = mt_pyre_emit_hex(st, lo);
    if (rc != MT_OK) {
        return rc;
    }

    rc = mt_pyre_emits(st, "-");
    if (rc != MT_OK) {
        return rc;
    }

    rc = mt_pyre_emit_hex(st, hi);
    if (rc != MT_OK) {
        return rc;
    }

    if (st->utf && ((lo <= 'I' && hi >= 'I') || (lo <= 'i' && hi >= 'i'))) {
        return mt_pyre_emits(st, mt_pyre_family('i'));
    }

    return MT_OK;
}


/* after '[' */
static mt_err_t
mt_pyre_class(mt_pyre_t *st)
{
    int             first;
    uint32_t        cp, hi;
    mt_err_t        rc;
    mt_pyre_kind_t  kind;

    if (st->p < st->end && *st->p == '^') {
        st->p++;
        rc = mt_pyre_emits(st, "[^");

    } else {
        rc = mt_pyre_emits(st, "[");
    }

    if (rc != MT_OK) {
        return rc;
    }

    for (first = 1; /* void */; first = 0) {

        if (st->p >= st->end) {
            return mt_pyre_refuse(st, "unterminated character class");
        }

        if (*st->p == ']' && !first) {
            st->p++;
            return mt_pyre_emits(st, "]");
        }

        if (*st->p == '[') {
            return mt_pyre_refuse(st, "'[' in a character class is "
                                  "refused (POSIX classes such as "
                                  "[:alpha:] do not exist in Python re); "
                                  "write \\[");
        }

        if (st->end - st->p >= 2 && st->p[0] == st->p[1]
            && strchr("-&~|", st->p[0]) != NULL)
        {
            return mt_pyre_refuse(st, "\"%c%c\" in a character class is "
                                  "refused (reserved by Python re)",
                                  st->p[0], st->p[1]);
        }

        rc = mt_pyre_class_item(st, &kind, &cp);
        if (rc != MT_OK) {
            return rc;
        }

        if (kind == MT_PYRE_SET) {
            if (st->end - st->p >= 2 && st->p[0] == '-' && st->p[1] != ']') {
                return mt_pyre_refuse(st, "bad character range");
            }

            rc = mt_pyre_emit_set(st, cp, 1);
            if (rc != MT_OK) {
                return rc;
            }

            continue;
        }

        if (st->end - st->p >= 2 && st->p[0] == '-' && st->p[1] != ']') {
            st->p++;

            rc = mt_pyre_class_item(st, &kind, &hi);
            if (rc != MT_OK) {
                return rc;
            }

            if (kind != MT_PYRE_CHAR) {
                return mt_pyre_refuse(st, "bad character range");
            }

            rc = mt_pyre_range(st, cp, hi);

        } else {
            rc = mt_pyre_emit_cp(st, cp, 1);
        }

        if (rc != MT_OK) {
            return rc;
        }
    }
}


/* 0: a number in *n; -1: no digits; -2: too large (refused) */
static int
mt_pyre_number(mt_pyre_t *st, unsigned *n)
{
    unsigned  v;

    if (st->p >= st->end || *st->p < '0' || *st->p > '9') {
        return -1;
    }

    for (v = 0; st->p < st->end && *st->p >= '0' && *st->p <= '9'; st->p++) {
        v = v * 10 + (*st->p - '0');

        if (v > MT_PYRE_MAX_REPEAT) {
            (void) mt_pyre_refuse(st, "repeat count above %d",
                                  MT_PYRE_MAX_REPEAT);
            return -2;
        }
    }

    *n = v;

    return 0;
}


/* after '{': exactly {n}, {n,} or {n,m}; anything else is refused */
static mt_err_t
mt_pyre_braces(mt_pyre_t *st, int can_repeat)
{
    int       rc, has_max, open_max;
    char      buf[32];
    unsigned  n, m;

    if (st->p < st->end && *st->p == ',') {
        return mt_pyre_refuse(st, "{,n} is refused (PCRE2 10.42 reads it "
                              "as a literal); write {0,n}");
    }

    rc = mt_pyre_number(st, &n);

    if (rc != 0) {
        return rc == -2 ? MT_ERR_BAD_SCOPE
                        : mt_pyre_refuse(st, "a literal '{' must be "
                                         "written \\{");
    }

    has_max = 0;
    open_max = 0;
    m = n;

    if (st->p < st->end && *st->p == ',') {
        st->p++;

        if (st->p < st->end && *st->p == '}') {
            open_max = 1;

        } else {
            rc = mt_pyre_number(st, &m);

            if (rc != 0) {
                return rc == -2 ? MT_ERR_BAD_SCOPE
                                : mt_pyre_refuse(st, "a literal '{' must "
                                                 "be written \\{");
            }

            has_max = 1;
        }
    }

    if (st->p >= st->end || *st->p != '}') {
        return mt_pyre_refuse(st, "a literal '{' must be written \\{");
    }

    st->p++;

    if (!can_repeat) {
        return mt_pyre_refuse(st, "nothing to repeat");
    }

    if (m < n) {
        return mt_pyre_refuse(st, "min repeat greater than max repeat");
    }

    if (open_max) {
        snprintf(buf, sizeof(buf), "{%u,}", n);

    } else if (has_max) {
        snprintf(buf, sizeof(buf), "{%u,%u}", n, m);

    } else {
        snprintf(buf, sizeof(buf), "{%u}", n);
    }

    return mt_pyre_emits(st, buf);
}


/* after a quantifier: an optional lazy '?', never a possessive '+' */
static mt_err_t
mt_pyre_lazy(mt_pyre_t *st)
{
    if (st->p < st->end && *st->p == '?') {
        st->p++;
        return mt_pyre_emits(st, "?");
    }

    if (st->p < st->end && *st->p == '+') {
        return mt_pyre_refuse(st, "possessive quantifiers are refused");
    }

    return MT_OK;
}


static mt_err_t
mt_pyre_group_name(mt_pyre_t *st)
{
    int                   i;
    size_t                n;
    const unsigned char  *name;

    name = st->p;

    while (st->p < st->end
           && ((*st->p >= 'a' && *st->p <= 'z')
               || (*st->p >= 'A' && *st->p <= 'Z') || *st->p == '_'
               || (st->p > name && *st->p >= '0' && *st->p <= '9')))
    {
        st->p++;
    }

    n = (size_t) (st->p - name);

    if (n == 0 || n > MT_PYRE_MAX_NAME || st->p >= st->end
        || *st->p != '>')
    {
        return mt_pyre_refuse(st, "group names must be ASCII identifiers "
                              "of at most %d characters", MT_PYRE_MAX_NAME);
    }

    st->p++;

    for (i = 0; i < st->n_names; i++) {
        if (strlen(st->names[i]) == n && memcmp(st->names[i], name, n) == 0)
        {
            return mt_pyre_refuse(st, "redefinition of group name");
        }
    }

    if (st->n_names == MT_PYRE_MAX_NAMES) {
        return mt_pyre_refuse(st, "more than %d named groups",
                              MT_PYRE_MAX_NAMES);
    }

    memcpy(st->names[st->n_names], name, n);
    st->names[st->n_names][n] = '\0';
    st->n_names++;

    if (mt_pyre_emits(st, "(?P<") != MT_OK
        || mt_pyre_emit(st, (const char *) name, n) != MT_OK)
    {
        return st->oom ? MT_ERR_NOMEM : MT_ERR_BAD_SCOPE;
    }

    return mt_pyre_emits(st, ">");
}


/* after '(' */
static mt_err_t
mt_pyre_open(mt_pyre_t *st)
{
    mt_err_t         rc;
    mt_pyre_group_t  type;

    if (st->depth == MT_PYRE_MAX_DEPTH) {
        return mt_pyre_refuse(st, "groups nested deeper than %d",
                              MT_PYRE_MAX_DEPTH);
    }

    type = MT_PYRE_GROUP;

    if (st->p < st->end && *st->p == '?') {
        st->p++;

        if (st->end - st->p >= 1 && *st->p == ':') {
            st->p++;
            rc = mt_pyre_emits(st, "(?:");

        } else if (st->end - st->p >= 1 && (*st->p == '=' || *st->p == '!')) {
            rc = mt_pyre_emits(st, *st->p == '=' ? "(?=" : "(?!");
            st->p++;
            type = MT_PYRE_LOOKAHEAD;

        } else if (st->end - st->p >= 2 && st->p[0] == 'P' && st->p[1] == '<')
        {
            st->p += 2;
            rc = mt_pyre_group_name(st);

        } else {
            return mt_pyre_refuse(st, "\"(?%.1s\" is refused (inline "
                                  "flags, lookbehind, backreferences...); "
                                  "only (?:, (?P<name>, (?= and (?! are "
                                  "accepted", st->p < st->end
                                              ? (const char *) st->p : "");
        }

    } else {
        rc = mt_pyre_emits(st, "(");
    }

    if (rc != MT_OK) {
        return rc;
    }

    st->stack[st->depth++] = (unsigned char) type;

    return MT_OK;
}


static mt_err_t
mt_pyre_assert(mt_pyre_t *st, uint32_t letter)
{
    switch (letter) {

    case 'A':
        return mt_pyre_emits(st, "\\A");

    case 'Z':
        return mt_pyre_emits(st, "\\z");        /* Python: the very end */

    case 'b':
        return mt_pyre_emits(st, "\\b");

    default: /* 'B' */
        /* Python's \B never matches in an empty string; PCRE2's does */
        return mt_pyre_emits(st, "(?!\\A\\z)\\B");
    }
}


static mt_err_t
mt_pyre_step(mt_pyre_t *st, int *can_repeat)
{
    int             c;
    uint32_t        cp;
    mt_err_t        rc;
    mt_pyre_kind_t  kind;

    c = *st->p;

    switch (c) {

    case '(':
        st->p++;
        *can_repeat = 0;
        return mt_pyre_open(st);

    case ')':
        if (st->depth == 0) {
            return mt_pyre_refuse(st, "unbalanced parenthesis");
        }

        st->p++;
        st->depth--;
        *can_repeat = st->stack[st->depth] != MT_PYRE_LOOKAHEAD;
        return mt_pyre_emits(st, ")");

    case '|':
        st->p++;
        *can_repeat = 0;
        return mt_pyre_emits(st, "|");

    case '*':
    case '+':
    case '?':
        if (!*can_repeat) {
            return mt_pyre_refuse(st, "nothing to repeat, or a repeated "
                                  "repeat");
        }

        st->p++;
        *can_repeat = 0;
        rc = mt_pyre_emit(st, (const char *) st->p - 1, 1);
        return rc != MT_OK ? rc : mt_pyre_lazy(st);

    case '{':
        st->p++;
        rc = mt_pyre_braces(st, *can_repeat);
        *can_repeat = 0;
        return rc != MT_OK ? rc : mt_pyre_lazy(st);

    case '[':
        st->p++;
        *can_repeat = 1;
        return mt_pyre_class(st);

    case '.':
    case '^':
    case '$':
        st->p++;
        *can_repeat = c == '.';
        return mt_pyre_emit(st, (const char *) st->p - 1, 1);

    case '\\':
        st->p++;

        rc = mt_pyre_escape(st, 0, &kind, &cp);
        if (rc != MT_OK) {
            return rc;
        }

        *can_repeat = kind != MT_PYRE_ASSERT;

        if (kind == MT_PYRE_SET) {
            return mt_pyre_emit_set(st, cp, 0);
        }

        if (kind == MT_PYRE_ASSERT) {
            return mt_pyre_assert(st, cp);
        }

        return mt_pyre_emit_cp(st, cp, 0);
    }

    rc = mt_pyre_decode(st, &cp);
    if (rc != MT_OK) {
        return rc;
    }

    *can_repeat = 1;

    return mt_pyre_emit_cp(st, cp, 0);
}


mt_err_t
mt_pyre_translate(const char *pattern, size_t len, int utf, char **out,
    size_t *out_len, char *errbuf, size_t errlen)
{
    int         can_repeat;
    mt_err_t    rc;
    mt_pyre_t   st;

    *out = NULL;
    *out_len = 0;

    memset(&st, 0, sizeof(mt_pyre_t));
    st.start = (const unsigned char *) pattern;
    st.p = st.start;
    st.end = st.start + len;
    st.utf = utf;
    st.errbuf = errbuf;
    st.errlen = errlen;

    rc = mt_pyre_emit(&st, "", 0);
    can_repeat = 0;

    while (rc == MT_OK && st.p < st.end) {
        rc = mt_pyre_step(&st, &can_repeat);
    }

    if (rc == MT_OK && st.depth != 0) {
        rc = mt_pyre_refuse(&st, "missing closing parenthesis, "
                            "unterminated subpattern");
    }

    if (rc != MT_OK || st.oom) {
        free(st.out);
        return st.oom ? MT_ERR_NOMEM : MT_ERR_BAD_SCOPE;
    }

    *out = st.out;
    *out_len = st.len;

    return MT_OK;
}
