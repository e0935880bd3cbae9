# The credential is released only by the access check of the location at
# hand: not by a cache hit in preaccess, not by an earlier location's
# check.  Checks repeated after internal redirects: size limits, a single
# WWW-Authenticate.  Authorization schemes other than Bearer and token.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;

our %tok;
our $C = 'ghp_RedirectCred';
$tok{t} = mint(credential => $C, allowed => ['* /.*']);

# A content handler in a named location forwards the URI as the client
# sent it: nginx -t says so.
{
    my $named = sub { my $extra = shift; <<"_EOC_" };
    server {
        listen 127.0.0.1:$ENV{TEST_NGINX_UPSTREAM_PORT};
        location /api/ { try_files /nonexistent \@api; }
        location \@api {
            magic_token on;
            magic_token_key $ENV{TEST_NGINX_KEYS}/private.pem;
            $extra
            proxy_pass http://127.0.0.1:1;
        }
    }
_EOC_
    my ($rc, $err) = nginx_config_check($named->(''));
    Test::More::is($rc, 0, 'nginx -t accepts magic_token in a named location');
    Test::More::like($err, qr/\[warn\].*"magic_token" in named location "\@api".*raw path is not exactly \$uri are refused/,
                     'nginx -t warns that the raw URI is forwarded');
    ($rc, $err) = nginx_config_check($named->('magic_token_path_check off;'));
    Test::More::like($err, qr/\[warn\].*named location "\@api".*not the \$uri that scopes are checked against/,
                     'and warns louder with magic_token_path_check off');
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a cache hit in preaccess does not release the credential where the check refused
--- http_config
    limit_req_zone $magic_token_id zone=per_token:1m rate=1r/m;
--- config
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    magic_token_cache size=10;
    location /store/ {
        magic_token on;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location /rl/ {
        magic_token on;
        magic_token_audience nobody;
        limit_req zone=per_token;
        limit_req_status 429;
        error_page 429 = @busy;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location @busy {
        return 200 "cred=[$magic_token_credential] scope=[$magic_token_scope]\n";
    }
--- request eval
["GET /store/x", "GET /rl/x", "GET /rl/x"]
--- more_headers eval
["Authorization: Bearer $::tok{t}", "Authorization: Bearer $::tok{t}",
 "Authorization: Bearer $::tok{t}"]
--- error_code eval
[200, 401, 200]
--- response_body_like eval
[qr/auth=\[Bearer \Q$::C\E\]/, qr/401/, qr/^cred=\[\] scope=\[\]$/]



=== TEST 2: after a redirect, the new location's size limit applies
--- config
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    location /big/ {
        magic_token on;
        error_page 404 = @small;
    }
    location @small {
        magic_token on;
        magic_token_max_size 100;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /big/x
--- more_headers eval
"Authorization: Bearer $::tok{t}"
--- error_code: 401
--- error_log
magic_token: denied: too_large



=== TEST 3: checked twice, answered with one challenge, the last one
--- config
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    location /d1/ {
        magic_token on;
        magic_token_realm d1;
        error_page 401 /d2/;
    }
    location /d2/ {
        magic_token on;
        magic_token_realm d2;
    }
--- request
GET /d1/x
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="d2"
--- raw_response_headers_unlike
realm="d1"



=== TEST 4: another scheme is no magic token: no hash, no invalid_token
--- config
    location /t/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        add_header X-Err "[$magic_token_error] [$magic_token_id]" always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /t/x
--- more_headers
Authorization: Basic dXNlcjpwYXNzd29yZA==
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token"
X-Err: [missing] []
--- no_error_log
(token



=== TEST 5: "Bearer " with nothing after it is a missing token
--- config
    location /t/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        add_header X-Err "[$magic_token_error]" always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- raw_request eval
"GET /t/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \r\nConnection: close\r\n\r\n"
--- error_code: 401
--- response_headers
X-Err: [missing]



=== TEST 6: GitHub's "token" scheme is accepted like Bearer
--- config
    location /t/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /t/x
--- more_headers eval
"Authorization: token $::tok{t}"
--- error_code: 200
--- response_body eval
"auth=[Bearer $::C] method=GET uri=/t/x\n"



=== TEST 7: a location passed before a redirect keeps its credential for a location without checks
--- config
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    location /a/ {
        magic_token on;
        try_files /nonexistent @named;
    }
    location @named {
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /a/x
--- more_headers eval
"Authorization: Bearer $::tok{t}"
--- error_code: 200
--- response_body eval
"auth=[Bearer $::C] method=GET uri=/a/x\n"



=== TEST 8: named location: a request whose raw path is $uri is checked and forwarded as is
--- config
    location /api/ { try_files /nonexistent @api; }
    location @api {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- more_headers eval
"Authorization: Bearer " . ::mint(credential => $::C, allowed => ['GET /api/repos/[^/]+/issues'])
--- request
GET /api/repos/octo/issues
--- error_code: 200
--- response_body eval
"auth=[Bearer $::C] method=GET uri=/api/repos/octo/issues\n"



=== TEST 9: named location: dot segments resolved for the check but forwarded raw are refused (unsafe_path)
--- config
    location /api/ { try_files /nonexistent @api; }
    location @api {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- more_headers eval
"Authorization: Bearer " . ::mint(credential => $::C, allowed => ['GET /api/repos/[^/]+/issues'])
--- request
GET /api/repos/octo/secrets/%2e%2e/issues
--- error_code: 403
--- response_body_unlike: auth=
--- error_log
magic_token: denied: unsafe_path



=== TEST 10: named location: merged slashes and %-escapes differ from $uri too
--- config
    location /api/ { try_files /nonexistent @api; }
    location @api {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- more_headers eval
my $h = "Authorization: Bearer " . ::mint(credential => $::C, allowed => ['GET /api/.*']);
[$h, $h]
--- request eval
["GET /api//repos/x", "GET /api/%72epos/x"]
--- error_code eval
[403, 403]
--- response_body_like eval
[qr/403 Forbidden/, qr/403 Forbidden/]



=== TEST 11: named location with magic_token_path_check off: the hazard, for contrast (upstream gets the raw path)
--- config
    location /api/ { try_files /nonexistent @api; }
    location @api {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_path_check off;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- more_headers eval
"Authorization: Bearer " . ::mint(credential => $::C, allowed => ['GET /api/repos/[^/]+/issues'])
--- request
GET /api/repos/octo/secrets/%2e%2e/issues
--- error_code: 200
--- response_body eval
"auth=[Bearer $::C] method=GET uri=/api/repos/octo/secrets/%2e%2e/issues\n"
