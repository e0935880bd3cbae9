# Basic request flow: token sources (Authorization Bearer, bare JWT,
# $variable), 401/403 responses with RFC 6750 WWW-Authenticate, realm,
# magic_token on/off/default, magic_token_max_size, refusal log lines.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;

our %tok;
my $cred = 'ghp_BasicCredential0001';
my @allowed = ('GET /api/user', 'POST /api/repos/[^/]+/[^/]+/issues');

$tok{valid} = mint(credential => $cred, allowed => \@allowed);
# a token far over 16k: large_client_header_buffers is raised in http_config
$tok{huge} = mint(credential => $cred, allowed => \@allowed,
                  claims => { pad => '"' . ('x' x 13000) . '"' });
# just under the default 16k limit
$tok{big} = mint(credential => $cred, allowed => \@allowed,
                 claims => { pad => '"' . ('y' x 11000) . '"' });
die "token sizes: huge=" . length($tok{huge}) . " big=" . length($tok{big})
    unless length($tok{huge}) > 16384 && length($tok{big}) < 16384
        && length($tok{big}) > 8192;

our $denied_missing = qr/\[info\] .*magic_token: denied: missing(?! \(token)/;
sub denied_re { my $e = shift; qr/\[info\] .*magic_token: denied: $e \(token [0-9a-f]{16}\)/ }

# the common protected location
default_config(<<'_EOC_');
    location /api/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
_EOC_

# magic_token_max_size set to the exact length of a token, or one less
sub maxsize_config {
    my $size = shift;
    return <<"_EOC_";
    location /api/ {
        magic_token on;
        magic_token_max_size $size;
        magic_token_key \$TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer \$magic_token_credential";
        proxy_pass http://127.0.0.1:\$TEST_NGINX_UPSTREAM_PORT;
    }
_EOC_
}

run_tests();

__DATA__

=== TEST 1: valid token: upstream gets the decrypted credential, not the JWT
--- request
GET /api/user
--- more_headers eval
"Authorization: Bearer $::tok{valid}"
--- response_body
auth=[Bearer ghp_BasicCredential0001] method=GET uri=/api/user
--- error_code: 200
--- no_error_log
[error]
magic_token: denied



=== TEST 2: no token -> 401 with a bare Bearer challenge
--- request
GET /api/user
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token"
--- error_log eval
$::denied_missing
--- no_error_log
(token



=== TEST 3: scheme is case-insensitive (lowercase)
--- request
GET /api/user
--- more_headers eval
"Authorization: bearer $::tok{valid}"
--- response_body
auth=[Bearer ghp_BasicCredential0001] method=GET uri=/api/user
--- error_code: 200



=== TEST 4: scheme is case-insensitive (uppercase)
--- request
GET /api/user
--- more_headers eval
"Authorization: BEARER $::tok{valid}"
--- response_body
auth=[Bearer ghp_BasicCredential0001] method=GET uri=/api/user
--- error_code: 200



=== TEST 5: bare JWT in Authorization (no scheme) is accepted
--- request
GET /api/user
--- more_headers eval
"Authorization: $::tok{valid}"
--- response_body
auth=[Bearer ghp_BasicCredential0001] method=GET uri=/api/user
--- error_code: 200



=== TEST 6: garbage token -> 401 invalid_token, malformed
--- request
GET /api/user
--- more_headers
Authorization: Bearer this-is-not-a-jwt
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="invalid_token"
--- log_level: info
--- error_log eval
::denied_re('malformed')
--- no_error_log
this-is-not-a-jwt



=== TEST 7: Basic credentials are not a magic token -> 401, upstream not reached
--- request
GET /api/user
--- more_headers
Authorization: Basic dXNlcjpwYXNzd29yZA==
--- error_code: 401
--- response_body_unlike: auth=



=== TEST 8: valid token, path outside its scopes -> 403 insufficient_scope
--- request
GET /api/admin
--- more_headers eval
"Authorization: Bearer $::tok{valid}"
--- error_code: 403
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="insufficient_scope"
--- error_log eval
::denied_re('scope_denied')



=== TEST 9: valid token, method outside its scopes -> 403
--- request
DELETE /api/user
--- more_headers eval
"Authorization: Bearer $::tok{valid}"
--- error_code: 403
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="insufficient_scope"



=== TEST 10: POST allowed by a regex scope, body is forwarded
--- request
POST /api/repos/octo/hello/issues
{"title":"x"}
--- more_headers eval
"Authorization: Bearer $::tok{valid}"
--- response_body
auth=[Bearer ghp_BasicCredential0001] method=POST uri=/api/repos/octo/hello/issues
--- error_code: 200



=== TEST 11: 403 and 401 bodies never contain the token or the credential
--- request
GET /api/admin
--- more_headers eval
"Authorization: Bearer $::tok{valid}"
--- error_code: 403
--- response_body_unlike eval
qr/ghp_BasicCredential0001|\Q$::tok{valid}\E|eyJ/



=== TEST 12: default is off: no magic_token directive, request passes untouched
--- config
    location /api/ {
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /api/anything
--- more_headers
Authorization: Bearer client-own-token
--- response_body
auth=[Bearer client-own-token] method=GET uri=/api/anything
--- error_code: 200



=== TEST 13: magic_token off in a location overrides an inherited "on"
--- config
    magic_token on;
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    location /api/ {
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
    location /public/ {
        magic_token off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /public/x
--- response_body
auth=[] method=GET uri=/public/x
--- error_code: 200



=== TEST 14: server-level "on" is inherited by locations
--- config
    magic_token on;
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    location /api/ {
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /api/user
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token"



=== TEST 15: http-level "on" is inherited; valid token passes
--- http_config
    magic_token on;
    magic_token_key $TEST_NGINX_KEYS/private.pem;
--- config
    location /api/ {
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /api/user
--- more_headers eval
"Authorization: Bearer $::tok{valid}"
--- response_body
auth=[Bearer ghp_BasicCredential0001] method=GET uri=/api/user
--- error_code: 200



=== TEST 16: magic_token_realm on the bare challenge
--- config
    location /api/ {
        magic_token on;
        magic_token_realm "api.example.test";
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /api/user
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="api.example.test"



=== TEST 17: magic_token_realm on invalid_token
--- config
    location /api/ {
        magic_token on;
        magic_token_realm "api.example.test";
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /api/user
--- more_headers
Authorization: Bearer a.b.c
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="api.example.test", error="invalid_token"



=== TEST 18: magic_token_realm on insufficient_scope
--- config
    location /api/ {
        magic_token on;
        magic_token_realm "api.example.test";
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /api/nope
--- more_headers eval
"Authorization: Bearer $::tok{valid}"
--- error_code: 403
--- response_headers
WWW-Authenticate: Bearer realm="api.example.test", error="insufficient_scope"



=== TEST 19: token from $http_x_token
--- config
    location /api/ {
        magic_token $http_x_token;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_set_header X-Token "";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /api/user
--- more_headers eval
"X-Token: $::tok{valid}"
--- response_body
auth=[Bearer ghp_BasicCredential0001] method=GET uri=/api/user
--- error_code: 200



=== TEST 20: token from $http_x_token with a "Bearer " prefix
--- config
    location /api/ {
        magic_token $http_x_token;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /api/user
--- more_headers eval
"X-Token: Bearer $::tok{valid}"
--- response_body
auth=[Bearer ghp_BasicCredential0001] method=GET uri=/api/user
--- error_code: 200



=== TEST 21: variable source: the Authorization header is then ignored
--- config
    location /api/ {
        magic_token $http_x_token;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /api/user
--- more_headers eval
"Authorization: Bearer $::tok{valid}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token"
--- error_log eval
$::denied_missing



=== TEST 22: token from a cookie ($cookie_mt)
--- config
    location /api/ {
        magic_token $cookie_mt;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_set_header Cookie "";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /api/user
--- more_headers eval
"Cookie: other=1; mt=$::tok{valid}; last=2"
--- response_body
auth=[Bearer ghp_BasicCredential0001] method=GET uri=/api/user
--- error_code: 200



=== TEST 23: token from a query argument ($arg_token); scope checks the path only
--- config
    location /api/ {
        magic_token $arg_token;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/upstream$uri;
    }
--- request eval
"GET /api/user?token=$::tok{valid}"
--- response_body
auth=[Bearer ghp_BasicCredential0001] method=GET uri=/upstream/api/user
--- error_code: 200



=== TEST 24: magic_token_max_size: token longer than the limit -> 401 too_large
--- config
    location /api/ {
        magic_token on;
        magic_token_max_size 512;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /api/user
--- more_headers eval
"Authorization: Bearer $::tok{valid}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="invalid_token"
--- error_log eval
::denied_re('too_large')



=== TEST 25: default max size is 16k: a >16k token is refused
--- http_config
    large_client_header_buffers 4 64k;
--- request
GET /api/user
--- more_headers eval
"Authorization: Bearer $::tok{huge}"
--- error_code: 401
--- error_log eval
::denied_re('too_large')



=== TEST 26: default max size is 16k: a 15k token is accepted
--- http_config
    large_client_header_buffers 4 64k;
--- request
GET /api/user
--- more_headers eval
"Authorization: Bearer $::tok{big}"
--- response_body
auth=[Bearer ghp_BasicCredential0001] method=GET uri=/api/user
--- error_code: 200



=== TEST 27: raising magic_token_max_size lets the >16k token through
--- http_config
    large_client_header_buffers 4 64k;
--- config
    location /api/ {
        magic_token on;
        magic_token_max_size 64k;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /api/user
--- more_headers eval
"Authorization: Bearer $::tok{huge}"
--- response_body
auth=[Bearer ghp_BasicCredential0001] method=GET uri=/api/user
--- error_code: 200



=== TEST 28: empty Bearer value -> 401, upstream not reached
--- request
GET /api/user
--- more_headers
Authorization: Bearer
--- error_code: 401
--- response_body_unlike: auth=



=== TEST 29: magic_token_max_size equal to the token length: accepted
--- config eval
::maxsize_config(length($::tok{valid}))
--- request
GET /api/user
--- more_headers eval
"Authorization: Bearer $::tok{valid}"
--- response_body
auth=[Bearer ghp_BasicCredential0001] method=GET uri=/api/user
--- error_code: 200



=== TEST 30: magic_token_max_size one byte below the token length: too_large
--- config eval
::maxsize_config(length($::tok{valid}) - 1)
--- request
GET /api/user
--- more_headers eval
"Authorization: Bearer $::tok{valid}"
--- error_code: 401
--- error_log eval
::denied_re('too_large')
