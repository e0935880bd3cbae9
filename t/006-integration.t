# Interaction with other nginx features: satisfy any/all with allow/deny,
# limit_except, auth_request (see also 010-subrequests.t), error_page and
# try_files internal redirects to named locations, keepalive reuse,
# request bodies.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;

our %tok;
my $c = 'ghp_IntegrationCred';
$tok{user} = mint(credential => $c, allowed => ['GET /user', 'POST /user', 'GET /tf/user']);
$tok{post} = mint(credential => $c, allowed => ['* /user']);
$tok{other} = mint(credential => 'cred-2', allowed => ['GET /user']);

default_http_config(<<'_EOC_');
    map $uri $gh_path {
        "~(?s)^/gh(?<p>/.*)\z"  $p;
        default                 "";
    }
_EOC_

run_tests();

__DATA__

=== TEST 1: satisfy any: allowed IP passes without a token
--- config
    location /gh/ {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri $gh_path;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
--- request
GET /gh/admin
--- response_body
auth=[] method=GET uri=/admin
--- error_code: 200



=== TEST 2: satisfy any: denied IP, valid token passes with the credential
--- config
    location /gh/ {
        satisfy any;
        deny all;
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri $gh_path;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- response_body
auth=[Bearer ghp_IntegrationCred] method=GET uri=/user
--- error_code: 200



=== TEST 3: satisfy any: denied IP, no token -> 401 with the challenge
--- config
    location /gh/ {
        satisfy any;
        deny all;
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri $gh_path;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
--- request
GET /gh/user
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token"
--- response_body_unlike: auth=



=== TEST 4: satisfy any: denied IP, token out of scope -> refused
--- config
    location /gh/ {
        satisfy any;
        deny all;
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri $gh_path;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
--- request
GET /gh/admin
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 5: satisfy all (default): valid token but denied IP -> 403
--- config
    location /gh/ {
        deny all;
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri $gh_path;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 6: satisfy all: allowed IP still needs a token
--- config
    location /gh/ {
        allow 127.0.0.1;
        deny all;
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri $gh_path;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
--- request
GET /gh/user
--- error_code: 401



=== TEST 7: limit_except GET: GET with a token passes
--- config
    location /gh/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri $gh_path;
        limit_except GET {
            deny all;
        }
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{post}"
--- response_body
auth=[Bearer ghp_IntegrationCred] method=GET uri=/user
--- error_code: 200



=== TEST 8: limit_except GET: POST is denied even though the token allows it
--- config
    location /gh/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri $gh_path;
        limit_except GET {
            deny all;
        }
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
--- request
POST /gh/user
x=1
--- more_headers eval
"Authorization: Bearer $::tok{post}"
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 9: auth_request under server-level magic_token on: its target location has magic_token off
--- config
    magic_token on;
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    location /gh/ {
        magic_token_scope_uri $gh_path;
        auth_request /_auth;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location = /_auth {
        internal;
        magic_token off;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/authcheck;
    }
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- response_body
auth=[Bearer ghp_IntegrationCred] method=GET uri=/user
--- error_code: 200



=== TEST 10: auth_request: main request without a token still gets 401
--- config
    magic_token on;
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    location /gh/ {
        magic_token_scope_uri $gh_path;
        auth_request /_auth;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location = /_auth {
        internal;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/authcheck;
    }
--- request
GET /gh/user
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token"



=== TEST 11: error_page 401 to a named location (location-level magic_token)
--- config
    location /gh/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri $gh_path;
        error_page 401 403 = @denied;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location @denied {
        return 200 "custom denied page\n";
    }
--- request
GET /gh/user
--- response_body
custom denied page
--- error_code: 200



=== TEST 12: error_page to a named location with server-level magic_token (no loop)
--- config
    magic_token on;
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    error_page 401 403 @denied;
    location /gh/ {
        magic_token_scope_uri $gh_path;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location @denied {
        add_header X-Denied "[$magic_token_error]" always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /gh/admin
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- error_code_like: ^40[13]$
--- response_body_unlike: auth=\[Bearer ghp
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 13: error_page 403 to a URI location (location-level), scope denied
--- config
    location /gh/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri $gh_path;
        error_page 403 /denied.txt;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location = /denied.txt {
        return 403 "scope says no\n";
    }
--- request
GET /gh/admin
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- response_body
scope says no
--- error_code: 403



=== TEST 14: try_files to a named location: the check runs again there with the credential
--- config
    magic_token on;
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    location /tf/ {
        try_files /nonexistent @up;
    }
    location @up {
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /tf/user
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- response_body
auth=[Bearer ghp_IntegrationCred] method=GET uri=/tf/user
--- error_code: 200



=== TEST 15: try_files to a named location: no token -> 401 before the redirect
--- config
    magic_token on;
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    location /tf/ {
        try_files /nonexistent @up;
    }
    location @up {
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /tf/user
--- error_code: 401
--- response_body_unlike: auth=



=== TEST 16: try_files to a named location: out of scope -> 403
--- config
    magic_token on;
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    location /tf/ {
        try_files /nonexistent @up;
    }
    location @up {
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /tf/admin
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 17: rewrite ... last: the check uses the rewritten URI
--- config
    location /old/ {
        rewrite ^/old/(.*)$ /gh/$1 last;
    }
    location /gh/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri $gh_path;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
--- request
GET /old/admin
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- error_code: 403



=== TEST 18: keepalive: two tokens on one connection do not leak into each other
--- config
    location /gh/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri $gh_path;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
--- pipelined_requests eval
["GET /gh/user", "GET /gh/user", "GET /gh/user"]
--- more_headers eval
["Authorization: Bearer $::tok{user}", "Authorization: Bearer $::tok{other}", "X-None: 1"]
--- response_body eval
["auth=[Bearer ghp_IntegrationCred] method=GET uri=/user\n", "auth=[Bearer cred-2] method=GET uri=/user\n", qr/401 Authorization Required/]
--- error_code eval
[200, 200, 401]



=== TEST 19: POST body is proxied after the check
--- config
    location /gh/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri $gh_path;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
--- request
POST /gh/user
{"name":"x"}
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- response_body
auth=[Bearer ghp_IntegrationCred] method=POST uri=/user
--- error_code: 200



=== TEST 20: two protected servers with different keys (virtual hosts)
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_SERVER_PORT;
        server_name other.test;
        magic_token on;
        magic_token_key $TEST_NGINX_OTHER_KEYS/private.pem;
        location / {
            proxy_set_header Authorization "Bearer $magic_token_credential";
            proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        }
    }
--- config
    location /user {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /user
--- more_headers eval
"Host: other.test\nAuthorization: Bearer $::tok{user}"
--- error_code: 401
--- error_log eval
qr/magic_token: denied: bad_signature/
