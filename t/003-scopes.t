# Scope matching: "METHOD regex" entries of the allowed claim, named scopes
# (magic_token_scope + scopes claim), magic_token_scope_match full|prefix,
# magic_token_scope_uri, and the related configuration errors.
#
# Most blocks use the recommended "safe pattern": /gh/ is stripped by
# proxy_pass and the scope is checked against the same path the upstream gets.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;

our %tok;
my $c = 'ghp_ScopeCred';
my %allowed = (
    user      => ['GET /user'],
    issues    => ['GET /repos/[^/]+/[^/]+/issues'],
    alt       => ['GET /one|/two'],
    star      => ['* /gists/.*'],
    lowerget  => ['get /user'],
    multi     => ['GET /user', 'POST /repos/.*'],
    dotstar   => ['GET .*'],
    badregex  => ['GET /(unclosed'],
    raw       => ['GET /raw/user'],
);
$tok{$_} = mint(credential => $c, allowed => $allowed{$_}) for keys %allowed;
$tok{named_read}    = mint(credential => $c, scopes => ['read']);
$tok{named_rw}      = mint(credential => $c, scopes => ['read', 'write']);
$tok{named_unknown} = mint(credential => $c, scopes => ['nope'], allowed => ['GET /user']);
$tok{named_mixed}   = mint(credential => $c, scopes => ['write'], allowed => ['GET /user']);
$tok{scopes_null}   = mint(credential => $c, scopes_null => 1, allowed => ['GET /user']);
$tok{nothing}       = mint(credential => $c);
$tok{empty_allowed} = mint(credential => $c, claims => { allowed => '[]' });

# The hardened map: (?s) and \z so that a path containing a newline is
# captured whole (a bare "$" also matches before a trailing "\n").
our $MAP_ONLY = <<'_EOC_';
    map $uri $gh_path {
        "~(?s)^/gh(?<p>/.*)\z"  $p;
        default                 "";
    }
_EOC_
our $MAP = $MAP_ONLY . <<'_EOC_';
    magic_token_scope read  "GET /user" "GET /repos/.*";
    magic_token_scope write "POST /repos/.*" "PATCH /repos/.*";
    magic_token_scope any   "* /gists/.*";
_EOC_
our $PREFIX = $MAP . "    magic_token_scope_match prefix;\n";

default_http_config($MAP);
default_config(<<'_EOC_');
    location /gh/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri $gh_path;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location /raw/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
_EOC_

sub denied_re { my $e = shift; qr/magic_token: denied: $e \(token [0-9a-f]{16}\)/ }

# nginx -t checks for directive validation messages (see 002-keys.t for why)
{
    my @bad = (
        ['magic_token_scope in a server block',
         "server { listen 127.0.0.1:1; magic_token_scope s \"GET /x\"; }"],
        ['magic_token_scope in a location block',
         "server { listen 127.0.0.1:1; location / { magic_token_scope s \"GET /x\"; } }"],
        ['magic_token_scope with an invalid regex',
         "magic_token_scope s \"GET /(unclosed\";"],
        ['magic_token_scope without a method/regex separator',
         "magic_token_scope s \"GET\";"],
        ['magic_token_scope_match with a bad value',
         "magic_token_scope_match sometimes;"],
        ['magic_token with a bad value',
         "server { listen 127.0.0.1:1; location / { magic_token maybe; } }"],
        ['magic_token_max_size with a bad value',
         "magic_token_max_size lots;"],
    );
    for my $case (@bad) {
        my ($what, $conf) = @$case;
        my ($rc, $err) = nginx_config_check($conf);
        Test::More::isnt($rc, 0, "nginx -t rejects $what") or Test::More::diag($err);
    }
    my ($rc, $err) = nginx_config_check($MAP);
    Test::More::is($rc, 0, "nginx -t accepts named scopes at http level")
        or Test::More::diag($err);
}

run_tests();

__DATA__

=== TEST 1: full match: exact path allowed
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- response_body
auth=[Bearer ghp_ScopeCred] method=GET uri=/user
--- error_code: 200



=== TEST 2: full match: longer path denied
--- request
GET /gh/user/repos
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- error_code: 403
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="insufficient_scope"
--- error_log eval
::denied_re('scope_denied')



=== TEST 3: full match: path with a suffix denied
--- request
GET /gh/users
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- error_code: 403



=== TEST 4: full match: trailing slash denied
--- request
GET /gh/user/
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- error_code: 403



=== TEST 5: full match is case-sensitive
--- request
GET /gh/USER
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- error_code: 403



=== TEST 6: full match is anchored at the start
--- request
GET /gh/x/user
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- error_code: 403



=== TEST 7: HEAD is not GET
--- request
HEAD /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- error_code: 403



=== TEST 8: POST is not GET
--- request
POST /gh/user
x=1
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- error_code: 403



=== TEST 9: method comparison is case-sensitive ("get" in the token)
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{lowerget}"
--- error_code: 403



=== TEST 10: regex scope: matching path
--- request
GET /gh/repos/octo/hello/issues
--- more_headers eval
"Authorization: Bearer $::tok{issues}"
--- response_body
auth=[Bearer ghp_ScopeCred] method=GET uri=/repos/octo/hello/issues
--- error_code: 200



=== TEST 11: regex scope: deeper path denied (full match)
--- request
GET /gh/repos/octo/hello/issues/1
--- more_headers eval
"Authorization: Bearer $::tok{issues}"
--- error_code: 403



=== TEST 12: regex scope: [^/]+ does not span segments
--- request
GET /gh/repos/octo/hello/world/issues
--- more_headers eval
"Authorization: Bearer $::tok{issues}"
--- error_code: 403



=== TEST 13: alternation: first branch
--- request
GET /gh/one
--- more_headers eval
"Authorization: Bearer $::tok{alt}"
--- response_body
auth=[Bearer ghp_ScopeCred] method=GET uri=/one
--- error_code: 200



=== TEST 14: alternation: second branch
--- request
GET /gh/two
--- more_headers eval
"Authorization: Bearer $::tok{alt}"
--- response_body
auth=[Bearer ghp_ScopeCred] method=GET uri=/two
--- error_code: 200



=== TEST 15: alternation: the whole regex is anchored, not just the first branch
--- request
GET /gh/onex
--- more_headers eval
"Authorization: Bearer $::tok{alt}"
--- error_code: 403



=== TEST 16: alternation: the whole regex is anchored, not just the last branch
--- request
GET /gh/x/two
--- more_headers eval
"Authorization: Bearer $::tok{alt}"
--- error_code: 403



=== TEST 17: method "*" matches DELETE
--- request
DELETE /gh/gists/42
--- more_headers eval
"Authorization: Bearer $::tok{star}"
--- response_body
auth=[Bearer ghp_ScopeCred] method=DELETE uri=/gists/42
--- error_code: 200



=== TEST 18: method "*" matches PATCH
--- request
PATCH /gh/gists/42
{}
--- more_headers eval
"Authorization: Bearer $::tok{star}"
--- response_body
auth=[Bearer ghp_ScopeCred] method=PATCH uri=/gists/42
--- error_code: 200



=== TEST 19: method "*" still checks the path
--- request
DELETE /gh/repos/x
--- more_headers eval
"Authorization: Bearer $::tok{star}"
--- error_code: 403



=== TEST 20: second allowed entry matches
--- request
POST /gh/repos/octo/hello/issues
{}
--- more_headers eval
"Authorization: Bearer $::tok{multi}"
--- response_body
auth=[Bearer ghp_ScopeCred] method=POST uri=/repos/octo/hello/issues
--- error_code: 200



=== TEST 21: "GET .*" allows any GET path
--- request
GET /gh/anything/at/all
--- more_headers eval
"Authorization: Bearer $::tok{dotstar}"
--- response_body
auth=[Bearer ghp_ScopeCred] method=GET uri=/anything/at/all
--- error_code: 200



=== TEST 22: "GET .*" does not allow POST
--- request
POST /gh/anything
{}
--- more_headers eval
"Authorization: Bearer $::tok{dotstar}"
--- error_code: 403



=== TEST 23: invalid regex in a token never grants access -> 401 invalid_claims
--- request
GET /gh/(unclosed
--- more_headers eval
"Authorization: Bearer $::tok{badregex}"
--- error_code: 401
--- response_body_unlike: auth=
--- error_log eval
::denied_re('invalid_claims')



=== TEST 24: named scope "read": GET /user
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{named_read}"
--- response_body
auth=[Bearer ghp_ScopeCred] method=GET uri=/user
--- error_code: 200



=== TEST 25: named scope "read": second entry
--- request
GET /gh/repos/octo/hello
--- more_headers eval
"Authorization: Bearer $::tok{named_read}"
--- response_body
auth=[Bearer ghp_ScopeCred] method=GET uri=/repos/octo/hello
--- error_code: 200



=== TEST 26: named scope "read" does not grant POST
--- request
POST /gh/repos/octo/hello
{}
--- more_headers eval
"Authorization: Bearer $::tok{named_read}"
--- error_code: 403
--- error_log eval
::denied_re('scope_denied')



=== TEST 27: named scopes "read" + "write" grant POST
--- request
POST /gh/repos/octo/hello
{}
--- more_headers eval
"Authorization: Bearer $::tok{named_rw}"
--- response_body
auth=[Bearer ghp_ScopeCred] method=POST uri=/repos/octo/hello
--- error_code: 200



=== TEST 28: named scope + allowed list: the allowed entry matches
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{named_mixed}"
--- response_body
auth=[Bearer ghp_ScopeCred] method=GET uri=/user
--- error_code: 200



=== TEST 29: named scope + allowed list: the named scope matches
--- request
PATCH /gh/repos/octo/hello
{}
--- more_headers eval
"Authorization: Bearer $::tok{named_mixed}"
--- response_body
auth=[Bearer ghp_ScopeCred] method=PATCH uri=/repos/octo/hello
--- error_code: 200



=== TEST 30: unknown named scope -> 403 unknown_scope, even if "allowed" matches
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{named_unknown}"
--- error_code: 403
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="insufficient_scope"
--- error_log eval
::denied_re('unknown_scope')



=== TEST 31: "scopes": null with an allowed list
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{scopes_null}"
--- response_body
auth=[Bearer ghp_ScopeCred] method=GET uri=/user
--- error_code: 200



=== TEST 32: neither allowed nor scopes -> 403 scope_denied
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{nothing}"
--- error_code: 403
--- error_log eval
::denied_re('scope_denied')



=== TEST 33: empty allowed list -> 403
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{empty_allowed}"
--- error_code: 403



=== TEST 34: named scopes without the magic_token_scope config -> unknown_scope
--- http_config eval
$::MAP_ONLY
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{named_read}"
--- error_code: 403
--- error_log eval
::denied_re('unknown_scope')



=== TEST 35: default scope uri is $uri (full path incl. location prefix)
--- request
GET /raw/user
--- more_headers eval
"Authorization: Bearer $::tok{raw}"
--- response_body
auth=[Bearer ghp_ScopeCred] method=GET uri=/raw/user
--- error_code: 200



=== TEST 36: full match with a trailing newline (%0a) is denied ($ must not match before \n)
--- request
GET /raw/user%0a
--- more_headers eval
"Authorization: Bearer $::tok{raw}"
--- error_code: 403



=== TEST 37: full match with a trailing CRLF (%0d%0a) is denied
--- request
GET /raw/user%0d%0a
--- more_headers eval
"Authorization: Bearer $::tok{raw}"
--- error_code: 403



=== TEST 38: scope_uri empty (map default) never matches -> 403
--- request
GET /gh/
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- error_code: 403



=== TEST 39: prefix: longer path allowed
--- http_config eval
$::PREFIX
--- request
GET /gh/user/repos
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- response_body
auth=[Bearer ghp_ScopeCred] method=GET uri=/user/repos
--- error_code: 200



=== TEST 40: prefix: case-insensitive regex (re.I)
--- http_config eval
$::PREFIX
--- request
GET /gh/USER
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- response_body
auth=[Bearer ghp_ScopeCred] method=GET uri=/USER
--- error_code: 200



=== TEST 41: prefix: still anchored at the start
--- http_config eval
$::PREFIX
--- request
GET /gh/x/user
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- error_code: 403



=== TEST 42: prefix: method stays exact and case-sensitive (HEAD is not GET)
--- http_config eval
$::PREFIX
--- request
HEAD /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- error_code: 403



=== TEST 43: prefix: method in the token stays case-sensitive
--- http_config eval
$::PREFIX
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{lowerget}"
--- error_code: 403



=== TEST 44: prefix: alternation is tried at the start only (re.match)
--- http_config eval
$::PREFIX
--- request
GET /gh/x/two
--- more_headers eval
"Authorization: Bearer $::tok{alt}"
--- error_code: 403



=== TEST 45: prefix: alternation, second branch as a prefix
--- http_config eval
$::PREFIX
--- request
GET /gh/twox
--- more_headers eval
"Authorization: Bearer $::tok{alt}"
--- response_body
auth=[Bearer ghp_ScopeCred] method=GET uri=/twox
--- error_code: 200



=== TEST 46: prefix mode applies to named scopes too
--- http_config eval
$::PREFIX
--- request
GET /gh/user/emails
--- more_headers eval
"Authorization: Bearer $::tok{named_read}"
--- response_body
auth=[Bearer ghp_ScopeCred] method=GET uri=/user/emails
--- error_code: 200



=== TEST 47: explicit "magic_token_scope_match full" behaves like the default
--- http_config eval
$::MAP . "    magic_token_scope_match full;\n"
--- request
GET /gh/user/repos
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- error_code: 403



=== TEST 48: magic_token_scope in a location -> nginx does not start
--- config
    location /gh/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope s "GET /x";
    }
--- must_die



=== TEST 49: invalid regex in a named scope -> nginx does not start
--- http_config
    magic_token_scope s "GET /(unclosed";
--- config
    location /gh/ {
        return 200;
    }
--- must_die
