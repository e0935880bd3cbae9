# Chains of attenuated tokens through nginx (docs/attenuation.md): a
# root minted attenuable ("magic-token mint --holder-key"), links made
# offline by "magic-token attenuate" and by PyJWT (t/tools/interop/
# chain_py.py, Debian's python3-jwt).  Every link must allow the request;
# the attacks of the threat model are refused; single tokens work as
# before; magic_token_cache does not let a chain skip its links.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;

use File::Temp qw(tempdir);

my $cli = repo_root() . '/build/magic-token';
my $python = $ENV{PYTHON} || '/usr/bin/python3';
my $dir = tempdir('mt-044-XXXXXX', TMPDIR => 1, CLEANUP => 1);

die "no CLI at $cli (make cli)\n" unless -x $cli;

# sh_out(COMMAND...) -> stdout without the newline; dies on failure
sub sh_out {
    my @cmd = @_;
    open(my $fh, '-|', @cmd) or die "$cmd[0]: $!";
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    die "@cmd[0..1]: exit " . ($? >> 8) . "\n" if $?;
    chomp $out;
    return $out;
}

sh_out($cli, 'keygen', '--type', 'ec', '--out', "$dir/h1");
sh_out($cli, 'keygen', '--type', 'ed25519', '--out', "$dir/h2");

open(my $cf, '>', "$dir/cred") or die "$dir/cred: $!";
print $cf 'cred-chain';
close $cf;

sub root {
    return sh_out($cli, 'mint', '--key', keys_dir() . '/private.pem',
               '--credential-file', "$dir/cred",
               '--allowed', 'GET /(a|aud|small|c|hop|sr)/.*',
               '--allowed', 'POST /a/.*', @_,
               '--holder-key', "$dir/h1/public.pem");
}

sub att { my $chain = shift; sh_out($cli, 'attenuate', @_, $chain) }

sub h1 { ('--key', "$dir/h1/private.pem") }
sub h2 { ('--key', "$dir/h2/private.pem") }

our %c;

$c{root} = root();
$c{open} = att($c{root}, h1(), '--method', 'GET',
               '--next-key', "$dir/h2/public.pem");
$c{two} = att($c{open}, h2(), '--allowed', 'GET /a/issues/\d+');
$c{plain} = mint(credential => 'cred-plain', allowed => ['GET /a/.*']);

{
    my @e = split /~/, $c{two};
    $c{dropped} = join '~', @e[0, 2];

    # a character in the middle of the last link's signature
    my $t = $c{two};
    my $i = length($t) - 20;
    substr($t, $i, 1) = substr($t, $i, 1) eq 'A' ? 'B' : 'A';
    $c{tampered} = $t;
}

$c{expired_mid} = att(att($c{root}, h1(), '--exp', '1000000000',
                          '--next-key', "$dir/h2/public.pem"), h2());
$c{aud} = att($c{root}, h1(), '--aud', 'ci');
$c{aud_ok} = att(root('--aud', 'ci', '--aud', 'deploy'), h1(), '--aud', 'ci');
$c{named} = att($c{root}, h1(), '--scope', 'issues');
$c{hop} = att($c{root}, h1(), '--allowed', 'GET /hop/c/.*');
$c{chk} = att($c{root}, h1(), '--scope', 'chk');
$c{sr} = att($c{root}, h1(), '--allowed', 'GET /sr/x');
$c{sr_ok} = att($c{root}, h1(), '--allowed', 'GET /(sr/x|a/pulls)');
$c{big} = att($c{root}, h1(), map { ('--allowed', "GET /a/x$_") } 1 .. 40);

# a chain made by PyJWT: root and link
$c{pyjwt} = sh_out($python, repo_root() . '/t/tools/interop/chain_py.py',
                'attenuate', '--lib', 'pyjwt', '--key',
                "$dir/h1/private.pem", '--alg', 'ES256', '--allowed',
                'GET /a/py',
                sh_out($python, repo_root() . '/t/tools/interop/chain_py.py',
                    'root', '--lib', 'pyjwt', '--key',
                    keys_dir() . '/private.pem', '--holder-key',
                    "$dir/h1/public.pem", '--allowed', 'GET /a/.*'));

# revocation by id: a root without jti, revoked by its id; its chains
# have its id ($magic_token_id of a chain is its root's)
{
    my $py = repo_root() . '/t/tools/interop/chain_py.py';
    my $r = sh_out($python, $py, 'root', '--lib', 'pyjwt', '--key',
                   keys_dir() . '/private.pem', '--holder-key',
                   "$dir/h1/public.pem", '--allowed', 'GET /(a|rv)/.*');
    $c{rv} = sh_out($python, $py, 'attenuate', '--lib', 'pyjwt', '--key',
                    "$dir/h1/private.pem", '--alg', 'ES256', $r);
    our $pyjwt_root_id = token_id((split /~/, $c{pyjwt})[0]);
    chmod 0755, $dir;
    sh_out($cli, 'revoke', "$dir/revoked", 'init');
    sh_out($cli, 'revoke', "$dir/revoked", 'add', '--id', token_id($r),
           '--until', '+1h');
    chmod 0666, "$dir/revoked";
    $ENV{TEST_NGINX_MT044_REVOKED} = "$dir/revoked";
}

# the issuer's requests: h1's public JWK as cnf
{
    require JSON::PP;
    open(my $fh, '<', "$dir/h1/jwks.json") or die "$dir/h1/jwks.json: $!";
    my $jwk = JSON::PP->new->decode(do { local $/; <$fh> })->{keys}[0];
    close $fh;
    my $J = JSON::PP->new->canonical;
    our $issue_ok = $J->encode({ token => 'ghp_x', allowed => ['GET /a/.*'],
                                 cnf => { jwk => $jwk },
                                 max_further_links => 2 });
    $jwk->{d} = 'AAAA';
    our $issue_private = $J->encode({ token => 'ghp_x',
                                      allowed => ['GET /a/.*'],
                                      cnf => { jwk => $jwk } });
}

default_http_config(<<'_EOC_');
    magic_token_scope issues "GET /a/issues/.*";
    magic_token_zone rz:1m revocations=$TEST_NGINX_MT044_REVOKED;
    magic_token_check chk /_chk;
_EOC_

default_config(<<'_EOC_');
    magic_token_key $TEST_NGINX_KEYS/private.pem;

    location /a/ {
        magic_token on;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        add_header X-Error $magic_token_error always;
        add_header X-Scope $magic_token_scope always;
        add_header X-Id $magic_token_id always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }

    location /rv/ {
        magic_token on;
        magic_token_revocation zone=rz;
        add_header X-Error $magic_token_error always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }

    location /aud/ {
        magic_token on;
        magic_token_audience ci;
        add_header X-Error $magic_token_error always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }

    location /small/ {
        magic_token on;
        magic_token_max_size 2k;
        add_header X-Error $magic_token_error always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }

    location /c/ {
        magic_token on;
        magic_token_cache size=10;
        add_header X-Error $magic_token_error always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }

    # a subrequest checked on its own: the links apply to it too
    location /sr/ {
        magic_token on;
        auth_request /a/pulls;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }

    # the operator's check: allows everything
    location = /_chk {
        return 204;
    }

    location = /__magictoken {
        magic_token_issuer;
    }

    # a second check in one client request, in the same worker's cache
    location ~ ^/hop(/c/.*)$ {
        magic_token on;
        magic_token_cache size=10;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT$1;
    }
_EOC_

run_tests();

__DATA__

=== TEST 1: a chain of two links: allowed by every element
--- request
GET /a/issues/42
--- more_headers eval
"Authorization: Bearer $::c{two}"
--- error_code: 200
--- response_body
auth=[Bearer cred-chain] method=GET uri=/a/issues/42
--- response_headers
X-Scope: GET /(a|aud|small|c|hop|sr)/.*
--- no_error_log
[error]



=== TEST 2: outside the last link
--- request
GET /a/pulls
--- more_headers eval
"Authorization: Bearer $::c{two}"
--- error_code: 403
--- response_headers
X-Error: scope_denied



=== TEST 3: a method the first link removed, the root allows
--- request
POST /a/issues/42
--- more_headers eval
"Authorization: Bearer $::c{two}"
--- error_code: 403
--- response_headers
X-Error: scope_denied



=== TEST 4: an attenuable root alone is refused
--- request
GET /a/issues/42
--- more_headers eval
"Authorization: Bearer $::c{root}"
--- error_code: 401
--- response_headers
X-Error: invalid_claims



=== TEST 5: stripping the last link leaves an open chain: refused
--- request
GET /a/issues/42
--- more_headers eval
"Authorization: Bearer $::c{open}"
--- error_code: 401
--- response_headers
X-Error: invalid_claims



=== TEST 6: dropping the middle link
--- request
GET /a/issues/42
--- more_headers eval
"Authorization: Bearer $::c{dropped}"
--- error_code: 401
--- response_headers
X-Error: unknown_key



=== TEST 7: a tampered link
--- request
GET /a/issues/42
--- more_headers eval
"Authorization: Bearer $::c{tampered}"
--- error_code: 401
--- response_headers
X-Error: bad_signature



=== TEST 8: an expired middle link
--- request
GET /a/issues/42
--- more_headers eval
"Authorization: Bearer $::c{expired_mid}"
--- error_code: 401
--- response_headers
X-Error: expired



=== TEST 9: a link's aud where any audience goes: refused
--- request
GET /a/x
--- more_headers eval
"Authorization: Bearer $::c{aud}"
--- error_code: 401
--- response_headers
X-Error: invalid_audience



=== TEST 10: a link's aud the location accepts
--- request
GET /aud/x
--- more_headers eval
"Authorization: Bearer $::c{aud_ok}"
--- error_code: 200



=== TEST 11: a link naming a configured scope: inside
--- request
GET /a/issues/7
--- more_headers eval
"Authorization: Bearer $::c{named}"
--- error_code: 200



=== TEST 12: a link naming a configured scope: outside
--- request
GET /a/pulls/7
--- more_headers eval
"Authorization: Bearer $::c{named}"
--- error_code: 403
--- response_headers
X-Error: scope_denied



=== TEST 13: a single token works as before, next to chains
--- request
GET /a/issues/42
--- more_headers eval
"Authorization: Bearer $::c{plain}"
--- error_code: 200
--- response_body
auth=[Bearer cred-plain] method=GET uri=/a/issues/42



=== TEST 14: a chain made by PyJWT
--- request
GET /a/py
--- more_headers eval
"Authorization: Bearer $::c{pyjwt}"
--- error_code: 200



=== TEST 15: a chain made by PyJWT: outside its link
--- request
GET /a/other
--- more_headers eval
"Authorization: Bearer $::c{pyjwt}"
--- error_code: 403



=== TEST 16: magic_token_max_size bounds the whole chain
--- request
GET /small/x
--- more_headers eval
"Authorization: Bearer $::c{big}"
--- error_code: 401
--- response_headers
X-Error: too_large



=== TEST 17: magic_token_cache: the second check of one chain still runs its links
The chain allows /hop/c/... (the first check, in the hop location) but
not /c/... (the second, proxied with the same Authorization header).
--- request
GET /hop/c/x
--- more_headers eval
"Authorization: Bearer $::c{hop}"
--- error_code: 403
--- response_headers
X-Error: scope_denied



=== TEST 18: the issuer mints attenuable roots (cnf, max_further_links)
--- request eval
"POST /__magictoken\n$::issue_ok"
--- error_code: 200
--- response_headers
Content-Type: application/jwt



=== TEST 19: the issuer refuses a private key in cnf
--- request eval
"POST /__magictoken\n$::issue_private"
--- error_code: 400
--- response_body_like
^cnf must be \{"jwk": a public RSA, EC or Ed25519 key\}



=== TEST 20: a subrequest (auth_request) is checked against the links too
--- request
GET /sr/x
--- more_headers eval
"Authorization: Bearer $::c{sr}"
--- error_code: 403



=== TEST 21: a subrequest the links allow
--- request
GET /sr/x
--- more_headers eval
"Authorization: Bearer $::c{sr_ok}"
--- error_code: 200



=== TEST 22: a chain's $magic_token_id is its root's
--- request
GET /a/py
--- more_headers eval
"Authorization: Bearer $::c{pyjwt}"
--- error_code: 200
--- response_headers eval
"X-Id: $::pyjwt_root_id"



=== TEST 23: revoking a root (by id) revokes its chains
--- request
GET /rv/x
--- more_headers eval
"Authorization: Bearer $::c{rv}"
--- error_code: 401
--- response_headers
X-Error: revoked



=== TEST 24: a magic_token_check scope allows nothing through a link
The check allows every request it is asked about, but a link's scopes
count by their entries only, and a check scope has none.
--- request
GET /a/x
--- more_headers eval
"Authorization: Bearer $::c{chk}"
--- error_code: 403
--- response_headers
X-Error: scope_denied
