# Scope semantics in prefix mode (issue #7, item 7): the module's matcher
# against Debian's python3 re.match(pattern, path, re.I), on a generated
# corpus of more than 5,000 (pattern, path) pairs with a fixed seed, plus
# exhaustive checks of case folding and of \w \d \s and '.' on every code
# point.  Agree or refuse: no silent disagreement.  The generator, the
# reference and the comparison are t/tools/scope_diff.py; the module's
# side is build/scope-match (t/tools/scope-match.c, linked with the core),
# which also matches every pair with the rule JIT-compiled (mt_rules_jit,
# as cached tokens are) and fails on any difference.
use strict;
use warnings;
use FindBin;

my $root   = "$FindBin::Bin/..";
my $helper = "$root/build/scope-match";
my $python = $ENV{PYTHON} || '/usr/bin/python3';

if (system("make -s -C '$root' scope-match >/dev/null") != 0 || !-x $helper) {
    print "1..0 # SKIP cannot build build/scope-match\n";
    exit 0;
}

exec $python, "$FindBin::Bin/tools/scope_diff.py", $helper
    or die "cannot run $python: $!";
