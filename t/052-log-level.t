# magic_token_log_level: refusals at a level of the operator's choosing, so
# that nginx can run at "notice" (where neither nginx nor the module writes
# a token or a credential) and still log every refusal.  At "info" nginx
# itself logs some malformed requests with their headers, the token among
# them (docs/security.md).
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;

our %tok;
our $C = 'ghp_LogLevelCred';
$tok{t} = mint(credential => $C, allowed => ['GET /api/ok']);
our ($payload) = (split /\./, $tok{t})[1];

default_config(<<'_EOC_');
    location /api/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_log_level notice;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
    location /default/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
    location /warn/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_log_level warn;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
_EOC_

run_tests();

__DATA__

=== TEST 1: nginx at notice, magic_token_log_level notice: the refusal is logged
--- log_level: notice
--- request
GET /api/no
--- more_headers eval
"Authorization: Bearer $::tok{t}"
--- error_code: 403
--- error_log eval
qr/\[notice\] .*magic_token: denied: scope_denied \(token [0-9a-f]{16}\)/
--- no_error_log eval
[$::payload, $::C]



=== TEST 2: nginx at notice, the default level (info): the refusal is not logged
--- log_level: notice
--- request
GET /default/no
--- more_headers eval
"Authorization: Bearer $::tok{t}"
--- error_code: 403
--- no_error_log
magic_token: denied



=== TEST 3: magic_token_log_level warn
--- log_level: notice
--- request
GET /warn/x
--- error_code: 401
--- error_log eval
qr/\[warn\] .*magic_token: denied: missing/



=== TEST 4: at info, nginx itself writes a duplicate Authorization header, token and all
--- log_level: info
--- request
GET /api/ok
--- more_headers eval
"Authorization: Bearer $::tok{t}\r\nAuthorization: Bearer $::tok{t}"
--- error_code: 400
--- error_log eval
[qr/client sent duplicate header line/, $::payload]



=== TEST 5: at notice, the same request leaves no token in the log
--- log_level: notice
--- request
GET /api/ok
--- more_headers eval
"Authorization: Bearer $::tok{t}\r\nAuthorization: Bearer $::tok{t}"
--- error_code: 400
--- no_error_log eval
[$::payload, "duplicate header"]



=== TEST 6: an unknown level is a configuration error
--- config
    location /x/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_log_level debug;
    }
--- must_die



=== TEST 7: at info, nginx itself writes the beginning of a too long Authorization header line
--- config
    large_client_header_buffers 4 1k;
    location /api/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- log_level: info
--- request
GET /api/ok
--- more_headers eval
"Authorization: Bearer $::tok{t}" . ("x" x 1200)
--- error_code: 400
--- error_log
client sent too long header line: "Authorization: Bearer ey



=== TEST 8: at notice, the same request leaves no token in the log
--- config
    large_client_header_buffers 4 1k;
    location /api/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- log_level: notice
--- request
GET /api/ok
--- more_headers eval
"Authorization: Bearer $::tok{t}" . ("x" x 1200)
--- error_code: 400
--- no_error_log
Authorization: Bearer
