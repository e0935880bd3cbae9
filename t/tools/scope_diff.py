#!/usr/bin/python3
"""Differential test: the module's prefix-mode scope matcher against
Python's re.match(pattern, path, re.I), on a generated corpus.

Run by t/012-scope-differential.t; prints TAP.  Usage:

    scope_diff.py SCOPE_MATCH_BINARY [SEED [N_PATTERNS]]

Every (pattern, path) pair falls in one class:

  agree           both accept the pattern and give the same answer;
  refused         the module refuses the pattern (fine: agree or refuse);
  py-rejects      Python cannot compile it, and the module refuses it;
  not-utf8        the path is not valid UTF-8: the module denies (Python
                  behind werkzeug would see U+FFFD; deny is the safe side);
  control         the path holds a control character: the module denies
                  by policy before any regex runs;
  DISAGREE        the module allows where Python denies or the reverse;
  ACCEPTS-BAD     Python rejects the pattern and the module accepts it.

The test fails on any DISAGREE or ACCEPTS-BAD, or when the not-utf8 or
control classes ever allow.  A second pass checks full mode against
re.fullmatch(pattern, path) on ASCII-only patterns and paths.
"""

import random
import re
import subprocess
import sys
import warnings

warnings.simplefilter("ignore")

# ---- building blocks ------------------------------------------------------

ASCII_LIT = list("abcdefghjklmnopqrstuvwxyzABCDEFGHJKLMNOPQRSTUVWXYZ0123456789"
                 "/-_~,:@=&!'%; ") + ["i", "I", "k", "K", "s", "S"] * 3

UNI_LIT = [
    "\u017f",       # ſ long s, folds to s
    "\u212a",       # K Kelvin sign, folds to k
    "\u212b",       # Å Angstrom sign
    "\u00c5", "\u00e5",
    "\u00b5", "\u03bc", "\u039c",   # micro sign, mu
    "\u00df", "\u1e9e",             # ß, capital sharp s
    "\u0130", "\u0131",             # İ, ı
    "\u03c3", "\u03c2", "\u03a3",   # sigma forms
    "\u0345", "\u03b9", "\u1fbe",   # iota forms
    "\u0390", "\u1fd3",
    "\u03b8", "\u03d1", "\u03f4",
    "\u00e9", "\u00c9", "\u0065\u0301",
    "\u01c4", "\u01c5", "\u01c6",   # DŽ Dž dž
    "\u0301",                       # combining acute
    "\U0001F600", "\U0001F44D\U0001F3FD",   # emoji, with a modifier
    "\U00010400", "\U00010428",     # Deseret
    "\uff4b", "\uff2b",             # fullwidth k K
    "\u0661", "\u0663", "\u07c0", "\u0966", "\u00b2", "\u2163",
    "\u00a0", "\u2003", "\u3000", "\u180e", "\u0085", "\u2028",
    "\u4e00", "\u00ff", "\u0178", "\u1e9b", "\u1e61", "\ufb05", "\ufb06",
    "\u10d0", "\u1c90", "\u13a0", "\uab70",  # Georgian, Cherokee
]

SPECIAL_PATH = UNI_LIT + ["s", "S", "k", "K", "i", "I", "x", "_", "1", "9",
                          "/", ".", "-", " "]

ESCAPES = [r"\d", r"\D", r"\w", r"\W", r"\s", r"\S", r"\.", r"\/", r"\-",
           r"\x41", r"\x6b", r"\xe9", r"\xb5", r"\u017f", r"\u212a",
           r"\u0130", r"\u0131", r"\U0001F600", r"\t", r"\ ", r"\%",
           r"\+", r"\*", r"\?", r"\(", r"\)", r"\[", r"\]", r"\{", r"\}",
           r"\|", r"\^", r"\$", r"\\", "\\\u00e9"]

ASSERTS = [r"\b", r"\B", r"\A", r"\Z", "^", "$"]

CLASS_ITEMS = ["a-z", "A-Z", "0-9", "h-j", "H-J", "j-l", "r-t", "R-T", "_",
               "-", ".", "/", r"\d", r"\w", r"\s", r"\D", r"\W", "i", "I",
               "k", "s", "\u017f", "\u212a", "\u0131", "\u0130", "\u00b5",
               "\u03c3", "\u00e9", "\u00df", r"\x2f", r"\u00e5", "!-/",
               ":-@", "[-`".replace("[", r"\["), r"\]", r"\\", " "]

QUANTS = ["*", "+", "?", "{2}", "{1,}", "{0,2}", "{1,3}", "*?", "+?", "??",
          "{1,2}?", "{2,}?"]

# syntax the module refuses (Python may accept or reject it)
REFUSED = [
    "a{,3}", "[[:alpha:]]+", "[[:digit:]]", "(?a)\\w+", "(?i)x", "(?L)a",
    "(?u)a", "(?s:.)", "(?x) a", "(?m)^a", "(?-i:a)", "(?ai:b)",
    "a*+", "a++", "a?+", "a{2}+", "(?>ab|a)c", r"\p{L}", r"\P{L}",
    r"\x{41}", r"\N{LATIN SMALL LETTER A}", r"\K", r"\Qa.b\E", r"(a)\1",
    r"(?P<n>a)(?P=n)", "(?(1)a|b)", "(a)(?(1)b|c)", "(?R)", "(*FAIL)",
    "(*UTF)a", r"\0", r"\01", r"\e", r"\G", r"\h", r"\H", r"\V", r"\R",
    r"\X", r"\C", r"\z", r"\o{101}", r"\cA", r"\g1", r"\k<n>",
    "(?<=a)b", "(?<!a)b", "(?#comment)a", "(?P>n)", "(?|a|b)",
    "[a-\u00e9]", "[\u00e0-\u00ff]", "a{1001}", "a{2,1}", "{", "a{",
    "a{1", "a{1,", "x{a}", "*a", "+a", "?a", "a**", "a*?*", "(", ")",
    "(a", "a)", "[a", "[]", "[^]", "[z-a]", r"[\d-z]", r"[a-\d]", "\\",
    r"[\S]", "[a--]", "[a&&b]", "[a~~b]", "[a||b]", r"\ud800",
    r"\U00110000", r"\x4", r"\u12", r"(?P<1a>x)", r"(?P<a>x)(?P<a>y)",
    "(?P<" + "n" * 40 + ">x)", "^*", "$+", r"\b*", r"(?=a)*",
    "(?", "(?P", "(?P<a", r"\8", r"\Z?", "a|*", "(*)", "a{3}{2}",
]

API_PATTERNS = [
    r"/repos/[^/]+/[^/]+/issues/\d+/labels",
    r"/repos/[^/]+/[^/]+/issues(/\d+)?$",
    r"/user$", r"/user", r"/users/\w+", r"/k$", r"/gists/\d+",
    r"/orgs/(?P<org>[a-z0-9-]+)/members", r"/search/(?:code|issues)\?",
    r"/v1/models/[A-Za-z0-9._-]+:predict", r"/api/v[12]/items/\d{1,6}$",
    r"/files/.*\.json\Z", r"/(?!admin)\w+/settings",
    r"/teams/[^/]+/(repos|members)/?$", r"/s/\S+$", r"/a\sb",
    "(?:)", "[\u00e9]", "\u00e9", "[^\u0131]", "\u0390", "\ufb05",
    "[\u1fe3]",
    # edges of the accepted syntax
    "[]a]+", "[^]a]", "[a-]", "[-a]x", "[^-/]+", "/a{0}b", "/a{0,0}",
    "/x{3,}?", r"[\b]", "(?:)*a", "()+/", "(a*)*/", "(a|)+b", "a$b", "/^a",
    r"/\Aa", r"\b/", r"/\b", r"/a\B", r"\B", "(?=/u)(?!/us)/", "a|",
    "|/", "/(?P<x>[^/]+)/(?P<y_1>\d+)", r"/\s*$", r"[\d\s]+", r"[\W]+",
    "[\u017f-\u017f]", "[\x41-\x5a]+", "[\\/]", r"\\", r"\/\.\-",
    "[A-z]+", "[H-J]", "[\\-a]",
]

API_PATHS = [
    "/repos/octo/hello/issues/12/labels", "/REPOS/Octo/Hello/Issues/7/LABELS",
    "/repos/octo/hello/issues/\u0661\u0662/labels",
    "/repos/o/h/i\u017f\u017fues/1/labels", "/repos/octo//issues/1/labels",
    "/user", "/USER", "/u\u017fer", "/u\u017fers", "/user/../admin",
    "/k/\u212a", "/\u212a", "/k", "/K", "/users/\u00e9\u00e8",
    "/users/\u0130stanbul", "/users/\u0131", "/gists/\u0967\u0968",
    "/orgs/ACME/members", "/orgs/acme-\u212aorp/members",
    "/search/code?", "/search/CODE?q", "/v1/models/m.v2:predict",
    "/api/v1/items/123456", "/api/v2/items/1234567", "/files/a/b.json",
    "/files/x.JSON", "/files/x.json/", "/admin/settings", "/Admin/settings",
    "/adm\u0131n/settings", "/bob/settings", "/teams/t/repos/",
    "/s/\u00a0x", "/s/x\u180e", "/a b", "/a\u00a0b", "/a\u3000b",
    "/a\u180eb", "/a\u0085b", "/", "\u1fd3", "\u03b0", "\ufb06",
    "\u00c9", "\u0131",
]

CONTROL_PATHS = ["/user\n", "/a\x1cb", "/user\x00x", "/a\tb", "/u\x7fser"]

BAD_UTF8 = [b"\xff", b"\xc5", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
            b"\xe2\x84", b"\x80", b"\xfe\xfe"]


# ---- generator --------------------------------------------------------------

class Gen:
    def __init__(self, rnd):
        self.rnd = rnd
        self.names = 0

    def literal(self):
        r = self.rnd.random()
        if r < 0.55:
            c = self.rnd.choice(ASCII_LIT)
            return re.escape(c) if c in ".^$*+?{}[]\\|()" else c
        if r < 0.80:
            return self.rnd.choice(UNI_LIT)
        return self.rnd.choice(ESCAPES)

    def cls(self):
        n = self.rnd.randint(1, 3)
        items = "".join(self.rnd.choice(CLASS_ITEMS) for _ in range(n))
        neg = "^" if self.rnd.random() < 0.3 else ""
        if self.rnd.random() < 0.3:
            return "[^/]"
        return "[" + neg + items + "]"

    def atom(self, depth):
        r = self.rnd.random()
        if r < 0.45:
            return self.literal(), True
        if r < 0.60:
            return self.cls(), True
        if r < 0.68:
            return ".", True
        if r < 0.73:
            return self.rnd.choice(ASSERTS[:4]), False
        if r < 0.90 and depth < 3:
            inner = self.alt(depth + 1)
            k = self.rnd.random()
            if k < 0.35:
                return "(" + inner + ")", True
            if k < 0.65:
                return "(?:" + inner + ")", True
            if k < 0.80:
                self.names += 1
                return "(?P<g%d>" % self.names + inner + ")", True
            return ("(?=" if k < 0.9 else "(?!") + inner + ")", False
        return self.literal(), True

    def seq(self, depth):
        out = []
        for _ in range(self.rnd.randint(1, 5)):
            a, can = self.atom(depth)
            if can and self.rnd.random() < 0.3:
                a += self.rnd.choice(QUANTS)
            out.append(a)
        return "".join(out)

    def alt(self, depth):
        parts = [self.seq(depth)]
        while self.rnd.random() < 0.2 and len(parts) < 3:
            parts.append(self.seq(depth))
        return "|".join(parts)

    def pattern(self):
        self.names = 0
        p = self.alt(0)
        r = self.rnd.random()
        if r < 0.15:
            p = "/" + p
        if self.rnd.random() < 0.2:
            p += self.rnd.choice(["$", r"\Z"])
        if self.rnd.random() < 0.05:
            p = "^" + p
        return p


def sample(rx, rnd, tries=40):
    """A string that rx (compiled, re.I) matches, or None."""
    alphabet = SPECIAL_PATH
    for _ in range(tries):
        s = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 6)))
        if rx.match(s):
            return s
    return None


def mutate(s, rnd):
    ops = [
        lambda s: s.swapcase(),
        lambda s: s.upper(),
        lambda s: s.lower(),
        lambda s: s.replace("s", "\u017f").replace("k", "\u212a"),
        lambda s: s.replace("i", "\u0131").replace("I", "\u0130"),
        lambda s: s.replace("\u017f", "s").replace("\u212a", "K"),
        lambda s: s + rnd.choice(SPECIAL_PATH),
        lambda s: s[:-1],
        lambda s: rnd.choice(SPECIAL_PATH) + s,
        lambda s: "".join(rnd.choice([c, c.upper(), c.lower()]) for c in s),
    ]
    return rnd.choice(ops)(s)


def paths_for(pattern, rnd):
    out = []
    try:
        rx = re.compile(pattern, re.I)
    except (re.error, OverflowError, RecursionError, ValueError):
        rx = None
    base = sample(rx, rnd) if rx is not None else None
    seeds = [base] if base is not None else []
    seeds += ["".join(rnd.choice(SPECIAL_PATH)
                      for _ in range(rnd.randint(0, 6))) for _ in range(2)]
    for s in seeds:
        out.append(s.encode())
        out.append(mutate(s, rnd).encode())
    out.append(rnd.choice(API_PATHS).encode())
    if rnd.random() < 0.15:
        s = seeds[0].encode()
        k = rnd.randint(0, len(s))
        out.append(s[:k] + rnd.choice(BAD_UTF8) + s[k:])
    if rnd.random() < 0.05:
        out.append(rnd.choice(CONTROL_PATHS).encode())
    return out


# ---- the reference ----------------------------------------------------------

def python_prefix(pattern, path_bytes):
    """None when Python cannot compile, else re.match(p, path, re.I)."""
    try:
        rx = re.compile(pattern, re.I)
    except (re.error, OverflowError, RecursionError, ValueError):
        return None
    text = path_bytes.decode("utf-8", "replace")
    return rx.match(text) is not None


def python_full(pattern, path_bytes):
    try:
        rx = re.compile(pattern)
    except (re.error, OverflowError, RecursionError, ValueError):
        return None
    return rx.fullmatch(path_bytes.decode("ascii")) is not None


def is_utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def has_control(b):
    return any(c < 0x20 or c == 0x7f for c in b)


# ---- main -------------------------------------------------------------------

def corpus(seed, n_patterns):
    rnd = random.Random(seed)
    gen = Gen(rnd)
    pairs = []
    patterns = list(REFUSED) + list(API_PATTERNS)
    patterns += [gen.pattern() for _ in range(n_patterns)]
    for p in patterns:
        paths = paths_for(p, rnd)
        if p in API_PATTERNS:
            paths += [s.encode() for s in API_PATHS]
        for path in paths:
            pairs.append((p, path))
    return pairs


def run_module(binary, mode, pairs):
    lines = "".join("%s %s %s\n" % (mode, p.encode().hex(), path.hex())
                    for p, path in pairs)
    res = subprocess.run([binary], input=lines.encode(), capture_output=True,
                         check=True)
    out = res.stdout.decode().split()
    if len(out) != len(pairs):
        raise SystemExit("Bail out! scope-match gave %d answers for %d pairs"
                         % (len(out), len(pairs)))
    return out


def main():
    binary = sys.argv[1]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 20260611
    n_patterns = int(sys.argv[3]) if len(sys.argv) > 3 else 1500

    pairs = corpus(seed, n_patterns)
    got = run_module(binary, "prefix", pairs)

    counts = {k: 0 for k in ("agree", "refused", "py-rejects", "not-utf8",
                             "control", "DISAGREE", "ACCEPTS-BAD")}
    allow_on_bad_path = 0
    py_would_allow_bad = 0
    refused_patterns = set()
    bad = []

    for (p, path), g in zip(pairs, got):
        py = python_prefix(p, path)
        if g == "R":
            refused_patterns.add(p)
            counts["py-rejects" if py is None else "refused"] += 1
            continue
        if py is None:
            counts["ACCEPTS-BAD"] += 1
            bad.append(("ACCEPTS-BAD", p, path, g))
            continue
        if has_control(path):
            counts["control"] += 1
            allow_on_bad_path += g == "1"
            continue
        if not is_utf8(path):
            counts["not-utf8"] += 1
            allow_on_bad_path += g == "1"
            py_would_allow_bad += py
            continue
        if (g == "1") == py:
            counts["agree"] += 1
        else:
            counts["DISAGREE"] += 1
            bad.append(("DISAGREE", p, path, g))

    print("1..8")
    print("# seed %d: %d pairs, %d patterns (%d refused)"
          % (seed, len(pairs), len({p for p, _ in pairs}),
             len(refused_patterns)))
    for k, v in counts.items():
        print("# %-12s %d" % (k, v))
    print("# not-utf8 pairs Python (seeing U+FFFD) would allow: %d"
          % py_would_allow_bad)

    for kind, p, path, g in bad[:20]:
        print("# %s: pattern %r path %r module %s python %s"
              % (kind, p, path, g, python_prefix(p, path)))

    ok = len(pairs) >= 5000
    print("%s 1 - at least 5,000 (pattern, path) pairs (%d)"
          % ("ok" if ok else "not ok", len(pairs)))
    ok = counts["DISAGREE"] == 0
    print("%s 2 - prefix mode: no silent disagreement with re.match(p, path, "
          "re.I) (%d agree)" % ("ok" if ok else "not ok", counts["agree"]))
    ok = counts["ACCEPTS-BAD"] == 0
    print("%s 3 - every pattern Python rejects is refused (%d pairs)"
          % ("ok" if ok else "not ok", counts["py-rejects"]))
    ok = allow_on_bad_path == 0
    print("%s 4 - paths with control characters or invalid UTF-8 never "
          "match (%d pairs)" % ("ok" if ok else "not ok",
                                counts["control"] + counts["not-utf8"]))
    missed = [p for p in REFUSED if p not in refused_patterns]
    print("%s 5 - every listed construct is refused%s"
          % ("ok" if not missed else "not ok",
             "" if not missed else ": " + ", ".join(map(repr, missed))))

    # full mode, on ASCII-only patterns and paths: re.fullmatch(p, path)
    full = [(p, path) for p, path in pairs
            if p.isascii() and path.isascii() and not has_control(path)
            and "\\u" not in p and "\\U" not in p and "\\x" not in p]
    got = run_module(binary, "full", full)
    n_agree = n_refused = 0
    full_bad = []
    for (p, path), g in zip(full, got):
        py = python_full(p, path)
        if g == "R":
            n_refused += 1
        elif py is None or (g == "1") != py:
            full_bad.append((p, path, g, py))
        else:
            n_agree += 1
    for p, path, g, py in full_bad[:10]:
        print("# full DISAGREE: pattern %r path %r module %s python %s"
              % (p, path, g, py))
    print("%s 6 - full mode on ASCII equals re.fullmatch(p, path): %d agree, "
          "%d refused, %d disagree" % ("ok" if not full_bad else "not ok",
                                       n_agree, n_refused, len(full_bad)))

    exhaustive(binary)


# ---- exhaustive checks -------------------------------------------------------

def case_pairs():
    """Every pair of code points related by case for Python's re.I (its
    simple lower/upper/title/casefold mappings and its extra cases)."""
    import _sre
    try:
        from re import _casefix
        extra = _casefix._EXTRA_CASES
    except ImportError:
        extra = {}
    parent = {}

    def find(x):
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    def union(a, b):
        a, b = find(a), find(b)
        if a != b:
            parent[a] = b

    for c in range(0x110000):
        if 0xd800 <= c < 0xe000:
            continue
        ch = chr(c)
        for m in (ch.lower(), ch.upper(), ch.title(), ch.casefold(),
                  chr(_sre.unicode_tolower(c))):
            if len(m) == 1 and ord(m) != c:
                union(c, ord(m))
    for k, v in extra.items():
        for x in v:
            union(k, x)
    groups = {}
    for c in set(parent) | set(parent.values()):
        groups.setdefault(find(c), set()).add(c)
    pairs = []
    for g in groups.values():
        for c in sorted(g):
            if c < 0x20 or c == 0x7f:
                continue
            for d in sorted(g):
                if d >= 0x20 and d != 0x7f:
                    pairs.append((chr(c), chr(d)))
    return pairs


def category_runs():
    """(pattern, path) pairs that put every code point (but controls
    and surrogates) through \\w \\W \\d \\D \\s \\S and '.': runs
    of code points on which Python agrees, matched by "X*\\Z"."""
    tests = [(r"\w", r"\W"), (r"\d", r"\D"), (r"\s", r"\S"),
             (r"[\w]", r"[\W]"), (r"[\d]", r"[\D]"), (r"[\s]", r"[^\s]"),
             # under re.I, Python tests a class holding a cased character
             # on the lowercased character, categories included
             (r"[\Wk]", r"[^\Wk]"), (r"[\d\u00b5]", r"[^\d\u00b5]"),
             (r"[\sI]", r"[^\sI]"), (".", None)]
    text = "".join(chr(c) for c in range(0x20, 0x110000)
                   if not 0xd800 <= c < 0xe000 and c != 0x7f)
    for pos, neg in tests:
        runs, at = [], 0
        for m in re.finditer("(?:" + pos + ")+", text, re.I):
            runs.append((False, text[at:m.start()]))
            runs.append((True, m.group()))
            at = m.end()
        runs.append((False, text[at:]))
        for m, chars in runs:
            p = pos if m else neg
            for i in range(0, len(chars) if p is not None else 0, 1000):
                yield p + "*\\Z", chars[i:i + 1000], m


def exhaustive(binary):
    pairs = case_pairs()
    cases = []
    for c, d in pairs:
        lit = re.escape(c)
        for p in (lit, "[" + lit + "]", "[^" + lit + "]"):
            cases.append((p, d.encode()))
    got = run_module(binary, "prefix", cases)
    bad = []
    for (p, path), g in zip(cases, got):
        py = re.match(p, path.decode(), re.I) is not None
        if g == "R" or (g == "1") != py:
            bad.append((p, path, g, py))
    for p, path, g, py in bad[:10]:
        print("# case DISAGREE: pattern %r path %r module %s python %s"
              % (p, path.decode(), g, py))
    print("%s 7 - case folding: every pair of case-related code points as a "
          "literal, a class and a negated class (%d pairs, %d disagree)"
          % ("ok" if not bad else "not ok", len(cases), len(bad)))

    runs = list(category_runs())
    got = run_module(binary, "prefix",
                     [(p, path.encode()) for p, path, _ in runs])
    bad = [(p, path) for (p, path, m), g in zip(runs, got)
           if g != "1" or re.match(p, path, re.I) is None]
    for p, path in bad[:10]:
        print("# category DISAGREE: %r on U+%04X..U+%04X"
              % (p, ord(path[0]), ord(path[-1])))
    print("%s 8 - \\w \\W \\d \\D \\s \\S . on every code point, alone "
          "and in classes (%d runs, %d disagree)"
          % ("ok" if not bad else "not ok", len(runs), len(bad)))


if __name__ == "__main__":
    main()
