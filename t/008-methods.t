# Methods as the scope sees them: the request line's method, exactly.
# Unknown methods, X-HTTP-Method-Override (which nginx ignores and an
# upstream might honour), pipelined requests on one connection, and the
# configuration-time warning for scopes checked on $request_uri.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;

our %tok;
our $C = 'ghp_MethodCred';
$tok{get}  = mint(credential => $C, allowed => ['GET /user']);
$tok{foo}  = mint(credential => $C, allowed => ['FOO /user']);
$tok{any}  = mint(credential => $C, allowed => ['* /user']);

our $MAP = <<'_EOC_';
    map $uri $gh_path {
        "~(?s)^/gh(?<p>/.*)\z"  $p;
        default                 "";
    }
_EOC_

default_http_config($MAP);
default_config(<<'_EOC_');
    location /gh/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri $gh_path;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
_EOC_

# nginx -t warns when scopes are checked on the raw $request_uri
my ($rc, $err) = nginx_config_check(<<'_EOC_');
    server {
        listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location / {
            magic_token on;
            magic_token_key $TEST_NGINX_KEYS/private.pem;
            magic_token_scope_uri $request_uri;
            proxy_pass http://127.0.0.1:1/;
        }
    }
_EOC_
Test::More::is($rc, 0, '$request_uri in magic_token_scope_uri is allowed');
Test::More::like($err,
    qr/\[warn\].*"magic_token_scope_uri" uses \$request_uri/,
    'with a warning at configuration time');

($rc, $err) = nginx_config_check(<<'_EOC_');
    server {
        listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location / {
            magic_token on;
            magic_token_key $TEST_NGINX_KEYS/private.pem;
            magic_token_scope_uri $uri;
            proxy_pass http://127.0.0.1:1/;
        }
    }
_EOC_
Test::More::unlike($err, qr/\[warn\]/, 'no warning for $uri');

run_tests();

__DATA__

=== TEST 1: an unknown method is refused by a GET scope
--- raw_request eval
"FOO /gh/user HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer $::tok{get}\r\nConnection: close\r\n\r\n"
--- error_code: 403
--- error_log
magic_token: denied: scope_denied



=== TEST 2: an unknown method is allowed by its own scope entry
--- raw_request eval
"FOO /gh/user HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer $::tok{foo}\r\nConnection: close\r\n\r\n"
--- error_code: 200
--- response_body eval
"auth=[Bearer $::C] method=FOO uri=/user\n"



=== TEST 3: "*" allows any method, an unknown one included
--- raw_request eval
"FOO /gh/user HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer $::tok{any}\r\nConnection: close\r\n\r\n"
--- error_code: 200
--- response_body eval
"auth=[Bearer $::C] method=FOO uri=/user\n"



=== TEST 4: X-HTTP-Method-Override does not change the method the scope sees
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{get}\nX-HTTP-Method-Override: DELETE"
--- error_code: 200
--- response_body eval
"auth=[Bearer $::C] method=GET uri=/user\n"



=== TEST 5: ... and a GET token cannot DELETE with the real method
--- request
DELETE /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{get}"
--- error_code: 403



=== TEST 6: the override header reaches an upstream unless cleared
--- config
    location /override/ {
        return 200 "override=[$http_x_http_method_override]\n";
    }
    location /gh/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri /user;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/override/;
    }
    location /strip/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri /user;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_set_header X-HTTP-Method-Override "";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/override/;
    }
--- request eval
["GET /gh/x", "GET /strip/x"]
--- more_headers eval
["Authorization: Bearer $::tok{get}\nX-HTTP-Method-Override: DELETE",
 "Authorization: Bearer $::tok{get}\nX-HTTP-Method-Override: DELETE"]
--- error_code eval
[200, 200]
--- response_body eval
["override=[DELETE]\n", "override=[]\n"]



=== TEST 7: pipelined requests on one connection are checked one by one
--- raw_request eval
"GET /gh/user HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer $::tok{get}\r\n\r\n"
. "DELETE /gh/user HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer $::tok{get}\r\n\r\n"
. "GET /gh/admin HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer $::tok{get}\r\nConnection: close\r\n\r\n"
--- ignore_response
--- error_log
magic_token: denied: scope_denied
--- grep_error_log eval: qr/magic_token: denied: \w+/
--- grep_error_log_out
magic_token: denied: scope_denied
magic_token: denied: scope_denied
