# Chains of attenuated tokens (docs/attenuation.md) made by the CLI
# (magic-token mint --holder-key, magic-token attenuate) and by
# third-party JOSE libraries -- PyJWT and jwcrypto (Debian's python3-jwt,
# python3-jwcrypto, run with $PYTHON or /usr/bin/python3) and the npm
# "jose" package (t/tools/interop/node_modules) -- checked by the core
# through "magic-token verify": good chains verify and allow what every
# link allows; the attacks of the threat model are refused.  Parts whose
# tools are missing are skipped.  Keys are made with the openssl command.
# Plain Test::More, no nginx (t/044-attenuation.t sends chains through
# nginx).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use POSIX ();
use Test::More;

my $root   = abs_path(dirname(__FILE__) . '/..');
my $cli    = $ENV{MAGIC_TOKEN_CLI} || "$root/build/magic-token";
my $python = $ENV{PYTHON} || '/usr/bin/python3';
my $tools  = "$root/t/tools/interop";

plan skip_all => "no CLI at $cli (make cli)" unless -x $cli;
plan skip_all => 'no openssl command'
    if system('openssl version >/dev/null 2>&1') != 0;

my $dir = tempdir(CLEANUP => 1);
my $seq = 0;

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    my $data = <$fh>;
    close $fh;
    return $data // '';
}

# run(STDIN, COMMAND...) -> (exit code, stdout, stderr); no shell
sub run {
    my ($stdin, @cmd) = @_;
    my $n = ++$seq;
    open my $in, '>', "$dir/in.$n" or die "$dir/in.$n: $!";
    print $in $stdin // '';
    close $in;

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDIN,  '<', "$dir/in.$n"  or POSIX::_exit(126);
        open STDOUT, '>', "$dir/out.$n" or POSIX::_exit(126);
        open STDERR, '>', "$dir/err.$n" or POSIX::_exit(126);
        exec @cmd or POSIX::_exit(127);
    }

    waitpid $pid, 0;
    my $rc = $? >> 8;
    my ($out, $err) = (slurp("$dir/out.$n"), slurp("$dir/err.$n"));
    unlink "$dir/in.$n", "$dir/out.$n", "$dir/err.$n";
    return ($rc, $out, $err);
}

# a command that must succeed; its stdout without the newline
sub ok_out {
    my ($what, @cmd) = @_;
    my ($rc, $out, $err) = run(undef, @cmd);
    die "$what: exit $rc: $err" if $rc != 0;
    chomp $out;
    return $out;
}

sub openssl { ok_out("openssl $_[0]", 'openssl', @_) }

# keys: the proxy's RSA; holders' EC P-256, Ed25519, RSA, EC P-384
my $K = $dir;
openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048',
        '-out', "$K/proxy.pem");
openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256',
        '-out', "$K/ec.pem");
openssl('genpkey', '-algorithm', 'ED25519', '-out', "$K/ed.pem");
openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048',
        '-out', "$K/rsa.pem");
openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384',
        '-out', "$K/ec384.pem");
for my $k (qw(proxy ec ed rsa ec384)) {
    openssl('pkey', '-in', "$K/$k.pem", '-pubout', '-out', "$K/$k.pub");
}

# verify(CHAIN, METHOD, PATH, [--audience AUD...]) -> (rc, error name)
sub verify {
    my ($chain, $method, $path, @extra) = @_;
    my ($rc, $out, $err) = run($chain, $cli, 'verify', '--key',
                               "$K/proxy.pem", '--quiet',
                               ($method ? ('--method', $method, '--path',
                                           $path) : ()), @extra, '-');
    my ($why) = $err =~ /invalid token: (\w+)/;
    return ($rc, $why // '');
}

sub accepted {
    my ($chain, $method, $path, $name) = @_;
    my ($rc, $why) = verify($chain, $method, $path);
    is($rc, 0, "$name: $method $path allowed") or diag($why);
}

sub refused {
    my ($chain, $method, $path, $want, $name) = @_;
    my ($rc, $why) = verify($chain, $method, $path);
    ok($rc == 1 && $why eq $want, "$name: refused ($want)")
        or diag("exit $rc, $why");
}

sub att {
    my ($chain, @opts) = @_;
    my ($rc, $out, $err) = run($chain, $cli, 'attenuate', @opts, '-');
    die "attenuate @opts: $err" if $rc != 0;
    chomp $out;
    return $out;
}

sub elements { split /~/, $_[0] }

# --- the CLI ------------------------------------------------------------------

my $root_tok = ok_out('mint', $cli, 'mint', '--key', "$K/proxy.pem",
                      '--credential-arg', 'ghp_fixture',
                      '--allowed', 'GET /repos/acme/.*',
                      '--allowed', 'POST /repos/acme/web/issues',
                      '--holder-key', "$K/ec.pub", '--max-further-links', '3');

refused($root_tok, 'GET', '/repos/acme/web', 'invalid_claims',
        'cli: an attenuable root alone');

my $c1 = att($root_tok, '--key', "$K/ec.pem", '--method', 'GET',
             '--next-key', "$K/ed.pub");
my $c2 = att($c1, '--key', "$K/ed.pem", '--allowed',
             'GET /repos/acme/web/issues/\d+', '--ttl', '10m');

accepted($c2, 'GET', '/repos/acme/web/issues/42', 'cli: two links');
refused($c2, 'GET', '/repos/acme/api', 'scope_denied',
        'cli: outside the last link');
refused($c2, 'POST', '/repos/acme/web/issues', 'scope_denied',
        'cli: a method the first link removed');
refused($c1, 'GET', '/repos/acme/web', 'invalid_claims',
        'cli: stripping the last link');

{
    my ($rc, $out, $err) = run($c2, $cli, 'verify', '--key', "$K/proxy.pem",
                               '--show-credential', '--method', 'GET',
                               '--path', '/repos/acme/web/issues/1', '-');
    is($out, "ghp_fixture\n", 'cli: the credential is the root\'s');
    unlike($c2, qr/ghp_fixture/, 'cli: and not in clear in the chain');
}

{
    my @e = elements($c2);
    refused(join('~', @e[0, 2]), 'GET', '/repos/acme/web/issues/1',
            'unknown_key', 'cli: dropping the middle link');
    refused(join('~', @e[0, 2, 1]), 'GET', '/repos/acme/web/issues/1',
            'unknown_key', 'cli: reordering links');

    # a last link by a key the chain does not name
    my ($rc, $out, $err) = run($c1, $cli, 'attenuate', '--key', "$K/rsa.pem",
                               '-');
    isnt($rc, 0, 'cli: attenuate refuses a key the chain does not name');
    like($err, qr/not the key the chain's last element names/,
         'cli: and says so');
}

{
    my ($rc, $out) = run($c2, $cli, 'inspect', '-');
    ok($rc == 0 && $out =~ /== root 0\n.*== link 1\n.*== link 2\n/s
       && $out =~ /mt-link\+jwt/ && $out !~ /ghp_fixture/,
       'cli: inspect shows every element of a chain');
    ($rc, $out) = run($c2, $cli, 'inspect', '--json', '-');
    my $n = () = $out =~ /"typ": "mt-link\+jwt"/g;
    ok($rc == 0 && $out =~ /^\{"chain": \[/ && $n == 2,
       'cli: inspect --json: {"chain": [...]}');
    ($rc) = run("$root_tok~~$root_tok", $cli, 'inspect', '-');
    is($rc, 1, 'cli: inspect: an empty element does not decode');
}

my $c3 = att($root_tok, '--key', "$K/ec.pem", '--exp', '1000000000');
refused($c3, 'GET', '/repos/acme/web', 'expired', 'cli: an expired link');

my $c4 = att($root_tok, '--key', "$K/ec.pem", '--aud', 'ci');
refused($c4, 'GET', '/repos/acme/web', 'invalid_audience',
        'cli: a link with aud where any audience goes');
{
    my ($rc, $why) = verify($c4, 'GET', '/repos/acme/web', '--audience',
                            'ci');
    is($why, 'invalid_audience',
       'cli: a link with aud: the root needs an accepted aud too');

    my $r = ok_out('mint', $cli, 'mint', '--key', "$K/proxy.pem",
                   '--no-credential', '--allowed', 'GET /.*', '--aud', 'ci',
                   '--aud', 'deploy', '--holder-key', "$K/ec.pub");
    my $ci = att($r, '--key', "$K/ec.pem", '--aud', 'ci');
    ($rc, $why) = verify($ci, 'GET', '/x', '--audience', 'ci');
    is($rc, 0, 'cli: root and link aud accepted') or diag($why);
    ($rc, $why) = verify($ci, 'GET', '/x', '--audience', 'deploy');
    is($why, 'invalid_audience', 'cli: the link removed an audience');
}

{
    # max_further_links 3 on the root: a fourth link is refused
    my $c = att($root_tok, '--key', "$K/ec.pem", '--next-key', "$K/ed.pub");
    $c = att($c, '--key', "$K/ed.pem", '--next-key', "$K/rsa.pub");
    my $ok = att($c, '--key', "$K/rsa.pem");
    accepted($ok, 'GET', '/repos/acme/x', 'cli: three links after a root '
             . 'allowing three');
    $c = att($c, '--key', "$K/rsa.pem", '--next-key', "$K/ec384.pub");
    $c = att($c, '--key', "$K/ec384.pem");
    refused($c, 'GET', '/repos/acme/x', 'invalid_claims',
            'cli: four links after a root allowing three');
}

{
    my $new = "$dir/sub.pem";
    my $open = att($root_tok, '--key', "$K/ec.pem", '--new-key', $new,
                   '--allowed', 'GET /repos/acme/web/.*');
    ok(-f $new && ((stat $new)[2] & 07777) == 0600,
       'cli: --new-key writes the private key 0600');
    refused($open, 'GET', '/repos/acme/web/x', 'invalid_claims',
            'cli: an open chain is no token');
    my $t = att($open, '--key', $new);
    accepted($t, 'GET', '/repos/acme/web/x', 'cli: sealed with the new key');
    refused($t, 'GET', '/repos/acme/api', 'scope_denied',
            'cli: sealed, the open link still restricts');
    my ($rc) = run($open, $cli, 'attenuate', '--key', "$K/ec.pem", '-');
    isnt($rc, 0, 'cli: the previous holder\'s key cannot extend it');
}

# --- Python: PyJWT and jwcrypto ---------------------------------------------

my %have;
for my $m (['pyjwt', 'jwt'], ['jwcrypto', 'jwcrypto']) {
    my ($rc) = run(undef, $python, '-c', "import $m->[1], cryptography");
    $have{ $m->[0] } = $rc == 0;
}

sub py { ok_out("chain_py @_[0..1]", $python, "$tools/chain_py.py", @_) }

for my $lib (qw(pyjwt jwcrypto)) {
  SKIP: {
    skip "$lib is not installed for $python", 15 unless $have{$lib};

    my $r = py('root', '--lib', $lib, '--key', "$K/proxy.pem",
               '--holder-key', "$K/ec.pub", '--allowed', 'GET /repos/acme/.*',
               '--allowed', 'DELETE /repos/acme/.*');
    refused($r, 'GET', '/repos/acme/web', 'invalid_claims',
            "$lib: an attenuable root alone");

    my $l1 = py('attenuate', '--lib', $lib, '--key', "$K/ec.pem",
                '--alg', 'ES256', '--methods', 'GET', '--next-key',
                "$K/ed.pub", $r);
    my $l2 = py('attenuate', '--lib', $lib, '--key', "$K/ed.pem",
                '--alg', 'EdDSA', '--allowed', 'GET /repos/acme/web/.*',
                '--ttl', '60', '--next-key', "$K/rsa.pub", $l1);
    my $l3 = py('attenuate', '--lib', $lib, '--key', "$K/rsa.pem",
                '--alg', 'PS256', $l2);

    accepted($l3, 'GET', '/repos/acme/web/pulls',
             "$lib: ES256, EdDSA and PS256 links");
    refused($l3, 'DELETE', '/repos/acme/web/pulls', 'scope_denied',
            "$lib: DELETE, removed by the first link");
    refused($l3, 'GET', '/repos/acme/api', 'scope_denied',
            "$lib: outside the second link");
    refused($l2, 'GET', '/repos/acme/web/x', 'invalid_claims',
            "$lib: stripping the last link");

    # the CLI extends a library's chain, and the library the CLI's
    my $mixed = att($l2, '--key', "$K/rsa.pem", '--allowed',
                    'GET /repos/acme/web/issues');
    accepted($mixed, 'GET', '/repos/acme/web/issues',
             "$lib: a library chain extended by the CLI");
    my $back = py('attenuate', '--lib', $lib, '--key', "$K/ed.pem",
                  '--alg', 'EdDSA', $c1);
    accepted($back, 'GET', '/repos/acme/web/issues',
             "$lib: a CLI chain extended by the library");

    # attacks made with the library
    refused(py('attenuate', '--lib', $lib, '--key', "$K/ec.pem", '--alg',
               'ES256', '--typ', 'JWT', $r),
            'GET', '/repos/acme/web', 'malformed', "$lib: typ JWT");
    refused(py('attenuate', '--lib', $lib, '--key', "$K/ec.pem", '--alg',
               'ES256', '--no-prev', $r),
            'GET', '/repos/acme/web', 'invalid_claims', "$lib: no prev");
    refused(py('attenuate', '--lib', $lib, '--key', "$K/ec.pem", '--alg',
               'ES256', '--claim', 'widen=true', $r),
            'GET', '/repos/acme/web', 'invalid_claims',
            "$lib: an unknown claim");
    refused(py('attenuate', '--lib', $lib, '--key', "$K/ec.pem", '--alg',
               'ES256', '--claim', 'token="c2VjcmV0"', $r),
            'GET', '/repos/acme/web', 'invalid_claims',
            "$lib: a credential in a link");
    refused(py('attenuate', '--lib', $lib, '--key', "$K/ec.pem", '--alg',
               'ES256', $l1),
            'GET', '/repos/acme/web', 'unknown_key',
            "$lib: a link by the previous holder's key");

    # splicing: the last link of another chain under the same key
    my $r2 = py('root', '--lib', $lib, '--key', "$K/proxy.pem",
                '--holder-key', "$K/ec.pub", '--allowed', 'GET /.*');
    my $o1 = py('attenuate', '--lib', $lib, '--key', "$K/ec.pem",
                '--alg', 'ES256', '--next-key', "$K/ed.pub", $r2);
    my $o2 = py('attenuate', '--lib', $lib, '--key', "$K/ed.pem",
                '--alg', 'EdDSA', $o1);
    refused($l1 . '~' . (elements($o2))[2], 'GET', '/repos/acme/web',
            'invalid_claims', "$lib: splicing links of two chains");
    refused($r2 . '~' . (elements($l1))[1] . '~' . (elements($o2))[2],
            'GET', '/repos/acme/web', 'invalid_claims',
            "$lib: a link replayed under another root");

    # expired middle link
    my $e1 = py('attenuate', '--lib', $lib, '--key', "$K/ec.pem",
                '--alg', 'ES256', '--ttl', '-100', '--next-key', "$K/ed.pub",
                $r);
    refused(py('attenuate', '--lib', $lib, '--key', "$K/ed.pem", '--alg',
               'EdDSA', $e1),
            'GET', '/repos/acme/web', 'expired', "$lib: an expired middle link");
  }
}

# --- npm jose ----------------------------------------------------------------

SKIP: {
    my ($nrc) = run(undef, 'node', '--version');
    skip 'node is not installed', 5 if $nrc != 0;
    skip "no $tools/node_modules/jose (make interop-deps)", 5
        unless -d "$tools/node_modules/jose";

    my $js = sub { ok_out("chain_jose @_[0..1]", 'node',
                          "$tools/chain_jose.mjs", @_) };

    my $r = $js->('root', '--key', "$K/proxy.pem", '--holder-key',
                  "$K/ed.pub", '--allowed', 'GET /repos/acme/.*');
    my $l1 = $js->('attenuate', '--key', "$K/ed.pem", '--alg', 'EdDSA',
                   '--methods', 'GET', '--new-key', "$dir/jose-sub.pem", $r);
    my $l2 = $js->('attenuate', '--key', "$dir/jose-sub.pem", '--alg',
                   'ES256', '--allowed', 'GET /repos/acme/web', '--ttl', '60',
                   $l1);

    accepted($l2, 'GET', '/repos/acme/web', 'jose: root and two links');
    refused($l2, 'GET', '/repos/acme/api', 'scope_denied',
            'jose: outside the last link');
    refused($l1, 'GET', '/repos/acme/web', 'invalid_claims',
            'jose: stripping the last link');

    my $cli_after = att($l1, '--key', "$dir/jose-sub.pem");
    accepted($cli_after, 'GET', '/repos/acme/web',
             'jose: a jose chain extended by the CLI');

    my $jose_after = $js->('attenuate', '--key', "$K/ed.pem", '--alg',
                           'EdDSA', '--allowed', 'GET /repos/acme/web/.*',
                           $c1);
    accepted($jose_after, 'GET', '/repos/acme/web/issues',
             'jose: a CLI chain extended by jose');
}

done_testing();
