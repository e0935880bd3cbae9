# Sender-constrained tokens (RFC 9449, DPoP; docs/security.md): a token
# whose cnf names a key thumbprint (jkt) is used only with a proof by
# that key for this method and URL, fresh, not replayed, with the ath of
# the token presented.  Proofs made by PyJWT (t/tools/dpop_proof.py);
# keys made by the CLI; bound tokens minted by t/tools/mtmint.py and by
# "magic-token mint --jkt"; a chain bound in its last link made by
# t/tools/interop/chain_py.py.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;

use File::Temp qw(tempdir);

my $cli = repo_root() . '/build/magic-token';
my $python = $ENV{PYTHON} || '/usr/bin/python3';
my $dpop = repo_root() . '/t/tools/dpop_proof.py';
my $chain = repo_root() . '/t/tools/interop/chain_py.py';
my $dir = tempdir('mt-046-XXXXXX', TMPDIR => 1, CLEANUP => 1);

die "no CLI at $cli (make cli)\n" unless -x $cli;

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
sh_out($cli, 'keygen', '--type', 'ec', '--out', "$dir/h3");

our %jkt = map { $_ => sh_out($python, $dpop, 'jkt', "$dir/$_/private.pem") }
           qw(h1 h2 h3);

our %t;
$t{bound} = mint(credential => 'cred-bound', allowed => ['GET /.*'],
                 claims => { cnf => qq({"jkt":"$jkt{h1}"}) });
$t{plain} = mint(credential => 'cred-plain', allowed => ['GET /.*']);
$t{badcnf} = mint(credential => 'cred-x', allowed => ['GET /.*'],
                  claims => { cnf => '{"jkt":"short"}' });

# a chain: root open to h1, h1's link bound to h2's key
$t{chain} = sh_out($python, $chain, 'attenuate', '--lib', 'pyjwt', '--key',
                   "$dir/h1/private.pem", '--alg', 'ES256', '--allowed',
                   'GET /a/.*', '--claim', qq(cnf={"jkt":"$jkt{h2}"}),
                   sh_out($python, $chain, 'root', '--lib', 'pyjwt', '--key',
                          keys_dir() . '/private.pem', '--holder-key',
                          "$dir/h1/public.pem", '--allowed', 'GET /.*'));

# the CLI: mint --dpop-key, attenuate --dpop-key
{
    open(my $cf, '>', "$dir/cred") or die "$dir/cred: $!";
    print $cf 'cred-cli';
    close $cf;
    $t{cli} = sh_out($cli, 'mint', '--key', keys_dir() . '/private.pem',
                     '--credential-file', "$dir/cred", '--allowed',
                     'GET /a/.*', '--dpop-key', "$dir/h2/public.pem");
    $t{cli_chain} = sh_out($cli, 'attenuate', '--key', "$dir/h1/private.pem",
                           '--allowed', 'GET /a/x', '--dpop-key',
                           "$dir/h3/public.pem",
                           sh_out($cli, 'mint', '--key',
                                  keys_dir() . '/private.pem',
                                  '--credential-file', "$dir/cred",
                                  '--allowed', 'GET /.*', '--holder-key',
                                  "$dir/h1/public.pem"));
}

# proof(KEY, URL, TOKEN, options of dpop_proof.py): a fresh one each time
sub proof {
    my ($key, $url, $token, @o) = @_;
    return sh_out($python, $dpop, 'proof', "$dir/$key/private.pem",
                  '--htu', "http://localhost$url",
                  (defined $token ? ('--token', $token) : ()), @o);
}

sub hdrs {
    my ($scheme, $token, $proof) = @_;
    return "Authorization: $scheme $token\n"
           . (defined $proof ? "DPoP: $proof\n" : '');
}

our %p;
$p{ok} = proof('h1', '/a/x', $t{bound});
$p{ok_z} = proof('h1', '/z/x', $t{bound});
$p{replay} = proof('h1', '/a/r', $t{bound});
$p{replay_z} = proof('h1', '/z/r', $t{bound});
$p{wrong_key} = proof('h3', '/a/x', $t{bound});
$p{wrong_htm} = proof('h1', '/a/x', $t{bound}, '--htm', 'POST');
$p{wrong_htu} = proof('h1', '/a/y', $t{bound});
$p{wrong_host} = sh_out($python, $dpop, 'proof', "$dir/h1/private.pem",
                        '--htu', 'http://evil.example/a/x', '--token',
                        $t{bound});
$p{query} = proof('h1', '/a/x?page=1', $t{bound});
$p{stale} = proof('h1', '/a/x', $t{bound}, '--iat-offset', '-200');
$p{future} = proof('h1', '/a/x', $t{bound}, '--iat-offset', '200');
$p{wrong_ath} = proof('h1', '/a/x', $t{plain});
$p{no_ath} = proof('h1', '/a/x', undef);
$p{none} = proof('h1', '/a/x', $t{bound}, '--alg', 'none');
$p{hs256} = proof('h1', '/a/x', $t{bound}, '--alg', 'HS256');
$p{private} = proof('h1', '/a/x', $t{bound}, '--private-jwk');
$p{other_jwk} = proof('h3', '/a/x', $t{bound}, '--jwk-key',
                      "$dir/h1/private.pem");
$p{typ} = proof('h1', '/a/x', $t{bound}, '--typ', 'JWT');
$p{chain} = proof('h2', '/a/x', $t{chain});
$p{chain_h1} = proof('h1', '/a/x', $t{chain});
$p{cache1} = proof('h1', '/c/x', $t{bound});
$p{cache2} = proof('h1', '/c/x', $t{bound});
$p{plain} = proof('h1', '/a/x', $t{plain});
$p{off} = proof('h1', '/off/x', $t{bound});
$p{sr} = proof('h1', '/sr/x', $t{bound});
$p{shc1} = proof('h1', '/s/x', $t{bound});
$p{shc2} = proof('h1', '/s/x', $t{bound});
$p{cli} = proof('h2', '/a/x', $t{cli});
$p{cli_chain} = proof('h3', '/a/x', $t{cli_chain});
$p{cli_chain_h1} = proof('h1', '/a/x', $t{cli_chain});

# the issuer: a proof on the minting request (POST, no token: no ath)
$p{iss} = proof('h1', '/__magictoken', undef, '--htm', 'POST');
$p{iss_refresh} = proof('h1', '/__magictoken', undef, '--htm', 'POST');
$p{iss_jkt} = proof('h1', '/__magictoken', undef, '--htm', 'POST');
$p{iss_get} = proof('h1', '/__magictoken', undef);

# the directive's configuration errors
{
    my ($rc, $err) = nginx_config_check(
        "magic_token_zone dz:1m;\n"
        . "server { location / { magic_token_dpop on zone=dz window=10s; } }\n");
    Test::More::is($rc, 0, 'nginx -t accepts magic_token_dpop')
        or Test::More::diag($err);

    for my $case (
        ['a bad flag', 'magic_token_dpop maybe;',
         qr/invalid value "maybe" in "magic_token_dpop"/],
        ['a bad window', 'magic_token_dpop on window=2h;',
         qr/invalid "window=2h" in "magic_token_dpop", the window must be/],
        ['a zero window', 'magic_token_dpop on window=0s;',
         qr/the window must be between 1s and 1h/],
        ['an unknown parameter', 'magic_token_dpop on size=1;',
         qr/invalid parameter "size=1" in "magic_token_dpop"/],
        ['off with parameters', 'magic_token_dpop off window=1s;',
         qr/"magic_token_dpop off" takes no parameters/],
        ['an undefined zone', 'magic_token_dpop on zone=nope;',
         qr/unknown magic_token_zone "nope"/],
        ['twice', "magic_token_dpop on;\nmagic_token_dpop off;",
         qr/"magic_token_dpop" directive is duplicate/],
    ) {
        my ($what, $conf, $re) = @$case;
        my ($rc, $err) = nginx_config_check("$conf\n");
        Test::More::isnt($rc, 0, "nginx -t refuses magic_token_dpop: $what");
        Test::More::like($err, $re, "$what: the message")
            or Test::More::diag($err);
    }
}

default_http_config(<<'_EOC_');
    magic_token_zone dz:1m;
_EOC_

default_config(<<'_EOC_');
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    magic_token_leeway 5s;

    location /a/ {
        magic_token on;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        add_header X-Error $magic_token_error always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }

    location /z/ {
        magic_token on;
        magic_token_dpop on zone=dz window=30s;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        add_header X-Error $magic_token_error always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }

    location /c/ {
        magic_token on;
        magic_token_cache size=10;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        add_header X-Error $magic_token_error always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }

    # a subrequest checked on its own: the proof of the client's request
    # verifies there too, and counts once
    location /sr/ {
        magic_token on;
        auth_request /a/x;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        add_header X-Error $magic_token_error always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }

    location = /__magictoken {
        magic_token_issuer;
        magic_token_issuer_refresh_ttl 1h;
    }

    location /s/ {
        magic_token on;
        magic_token_cache zone=dz size=10;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        add_header X-Error $magic_token_error always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }

    location /off/ {
        magic_token on;
        magic_token_dpop off;
        add_header X-Error $magic_token_error always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
_EOC_

run_tests();

__DATA__

=== TEST 1: a bound token with a proof by its key: allowed
--- request
GET /a/x
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{ok})
--- error_code: 200
--- response_body
auth=[Bearer cred-bound] method=GET uri=/a/x
--- no_error_log
[error]



=== TEST 2: the same through the zone's replay store
--- request
GET /z/x
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{ok_z})
--- error_code: 200
--- response_body
auth=[Bearer cred-bound] method=GET uri=/z/x



=== TEST 3: no proof: dpop_required, a DPoP challenge
--- request
GET /a/x
--- more_headers eval
::hdrs('DPoP', $::t{bound})
--- error_code: 401
--- response_headers
X-Error: dpop_required
WWW-Authenticate: DPoP realm="magic-token", algs="ES256 ES384 ES512 EdDSA RS256 RS384 RS512 PS256 PS384 PS512"



=== TEST 4: a bound token with Bearer, even with a valid proof
--- request
GET /a/x
--- more_headers eval
::hdrs('Bearer', $::t{bound}, $::p{ok})
--- error_code: 401
--- response_headers
X-Error: dpop_required



=== TEST 5: a proof by another key
--- request
GET /a/x
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{wrong_key})
--- error_code: 401
--- response_headers
X-Error: invalid_dpop_proof
WWW-Authenticate: DPoP realm="magic-token", error="invalid_dpop_proof", algs="ES256 ES384 ES512 EdDSA RS256 RS384 RS512 PS256 PS384 PS512"



=== TEST 6: a proof for another method
--- request
GET /a/x
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{wrong_htm})
--- error_code: 401
--- response_headers
X-Error: invalid_dpop_proof



=== TEST 7: a proof for another path
--- request
GET /a/x
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{wrong_htu})
--- error_code: 401
--- response_headers
X-Error: invalid_dpop_proof



=== TEST 8: a proof for another host
--- request
GET /a/x
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{wrong_host})
--- error_code: 401
--- response_headers
X-Error: invalid_dpop_proof



=== TEST 9: the query is not part of htu (RFC 9449 section 4.3)
--- request
GET /a/x?other=2
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{query})
--- error_code: 200



=== TEST 10: a stale iat
--- request
GET /a/x
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{stale})
--- error_code: 401
--- response_headers
X-Error: invalid_dpop_proof



=== TEST 11: an iat in the future
--- request
GET /a/x
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{future})
--- error_code: 401
--- response_headers
X-Error: invalid_dpop_proof



=== TEST 12: a replayed proof (the worker's own store)
--- request eval
["GET /a/r", "GET /a/r"]
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{replay})
--- error_code eval
[200, 401]
--- response_headers eval
["X-Error:", "X-Error: dpop_replay"]



=== TEST 13: a replayed proof (the zone)
--- request eval
["GET /z/r", "GET /z/r"]
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{replay_z})
--- error_code eval
[200, 401]
--- response_headers eval
["X-Error:", "X-Error: dpop_replay"]



=== TEST 14: the ath of another token
--- request
GET /a/x
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{wrong_ath})
--- error_code: 401
--- response_headers
X-Error: invalid_dpop_proof



=== TEST 15: no ath
--- request
GET /a/x
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{no_ath})
--- error_code: 401
--- response_headers
X-Error: invalid_dpop_proof



=== TEST 16: alg none
--- request
GET /a/x
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{none})
--- error_code: 401
--- response_headers
X-Error: invalid_dpop_proof



=== TEST 17: alg HS256
--- request
GET /a/x
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{hs256})
--- error_code: 401
--- response_headers
X-Error: invalid_dpop_proof



=== TEST 18: a private key in the proof's jwk
--- request
GET /a/x
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{private})
--- error_code: 401
--- response_headers
X-Error: invalid_dpop_proof



=== TEST 19: the bound key in jwk, signed by another
--- request
GET /a/x
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{other_jwk})
--- error_code: 401
--- response_headers
X-Error: invalid_dpop_proof



=== TEST 20: typ JWT
--- request
GET /a/x
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{typ})
--- error_code: 401
--- response_headers
X-Error: invalid_dpop_proof



=== TEST 21: two DPoP headers
--- request
GET /a/x
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{ok}) . "DPoP: $::p{ok}\n"
--- error_code: 401
--- response_headers
X-Error: invalid_dpop_proof



=== TEST 22: a chain bound in its last link, with a proof by that key
--- request
GET /a/x
--- more_headers eval
::hdrs('DPoP', $::t{chain}, $::p{chain})
--- error_code: 200
--- response_body
auth=[Bearer] method=GET uri=/a/x



=== TEST 23: the bound chain with a proof by the root's holder
--- request
GET /a/x
--- more_headers eval
::hdrs('DPoP', $::t{chain}, $::p{chain_h1})
--- error_code: 401
--- response_headers
X-Error: invalid_dpop_proof



=== TEST 24: the bound chain without a proof
--- request
GET /a/x
--- more_headers eval
::hdrs('Bearer', $::t{chain})
--- error_code: 401
--- response_headers
X-Error: dpop_required



=== TEST 25: the cached path: a hit still needs a fresh proof
--- request eval
["GET /c/x", "GET /c/x", "GET /c/x"]
--- more_headers eval
[::hdrs('DPoP', $::t{bound}, $::p{cache1}),
 ::hdrs('DPoP', $::t{bound}, $::p{cache2}),
 ::hdrs('DPoP', $::t{bound})]
--- error_code eval
[200, 200, 401]



=== TEST 26: an unbound token: as before, with Bearer or DPoP
--- request eval
["GET /a/x", "GET /a/x"]
--- more_headers eval
[::hdrs('Bearer', $::t{plain}), ::hdrs('DPoP', $::t{plain}, $::p{plain})]
--- error_code eval
[200, 200]



=== TEST 27: magic_token_dpop off refuses bound tokens
--- request
GET /off/x
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{off})
--- error_code: 401
--- response_headers
X-Error: dpop_required



=== TEST 28: a cnf whose jkt is no thumbprint
--- request
GET /a/x
--- more_headers eval
::hdrs('DPoP', $::t{badcnf}, $::p{ok})
--- error_code: 401
--- response_headers
X-Error: invalid_claims



=== TEST 29: the issuer binds a token to the key of the request's proof
--- request
POST /__magictoken
{"token": "ghp_x", "allowed": ["GET /a/.*"]}
--- more_headers eval
"DPoP: $::p{iss}"
--- error_code: 200
--- response_body_like chomp
^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$



=== TEST 30: ... so that it gives no refresh token (it would be unbound)
--- request
POST /__magictoken
{"token": "ghp_x", "allowed": ["GET /a/.*"], "refresh": true}
--- more_headers eval
"DPoP: $::p{iss_refresh}"
--- error_code: 400
--- response_body_like
refresh tokens are not issued for DPoP-bound tokens



=== TEST 31: a jkt field that is not the proof's key
--- request eval
"POST /__magictoken
{\"token\": \"ghp_x\", \"allowed\": [\"GET /a/.*\"], \"jkt\": \"$::jkt{h2}\"}"
--- more_headers eval
"DPoP: $::p{iss_jkt}"
--- error_code: 400
--- response_body_like
jkt is not the thumbprint of the DPoP proof's key



=== TEST 32: a proof for another method
--- request
POST /__magictoken
{"token": "ghp_x", "allowed": ["GET /a/.*"]}
--- more_headers eval
"DPoP: $::p{iss_get}"
--- error_code: 400
--- response_body_like chomp
^invalid_dpop_proof: 



=== TEST 33: a jkt field alone, and one that is no thumbprint
--- request eval
["POST /__magictoken
{\"token\": \"ghp_x\", \"allowed\": [\"GET /a/.*\"], \"jkt\": \"$::jkt{h2}\", \"refresh\": true}",
"POST /__magictoken
{\"token\": \"ghp_x\", \"allowed\": [\"GET /a/.*\"], \"jkt\": \"abc\"}"]
--- error_code eval
[400, 400]
--- response_body_like eval
["refresh tokens are not issued for DPoP-bound tokens",
 "jkt must be an RFC 7638 SHA-256 thumbprint"]



=== TEST 34: tokens bound by the CLI (mint and attenuate --dpop-key)
--- request eval
["GET /a/x", "GET /a/x", "GET /a/x", "GET /a/x"]
--- more_headers eval
[::hdrs('DPoP', $::t{cli}, $::p{cli}),
 ::hdrs('DPoP', $::t{cli_chain}, $::p{cli_chain}),
 ::hdrs('DPoP', $::t{cli_chain}, $::p{cli_chain_h1}),
 ::hdrs('Bearer', $::t{cli})]
--- error_code eval
[200, 200, 401, 401]
--- response_body_like eval
["auth=\\[Bearer cred-cli\\]", "auth=\\[Bearer cred-cli\\]", "401", "401"]



=== TEST 35: an auth_request subrequest with the client's proof
--- request
GET /sr/x
--- more_headers eval
::hdrs('DPoP', $::t{bound}, $::p{sr})
--- error_code: 200
--- response_body
auth=[Bearer cred-bound] method=GET uri=/sr/x



=== TEST 36: the shared cache: a hit still needs a fresh proof
--- request eval
["GET /s/x", "GET /s/x", "GET /s/x", "GET /s/x"]
--- more_headers eval
[::hdrs('DPoP', $::t{bound}, $::p{shc1}),
 ::hdrs('DPoP', $::t{bound}, $::p{shc2}),
 ::hdrs('DPoP', $::t{bound}, $::p{shc2}),
 ::hdrs('DPoP', $::t{bound})]
--- error_code eval
[200, 200, 401, 401]
--- response_headers eval
["X-Error:", "X-Error:", "X-Error: dpop_replay", "X-Error: dpop_required"]
