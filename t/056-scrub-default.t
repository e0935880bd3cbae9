# magic_token_scrub is off unless turned on: without the directive an
# upstream's echo of the credential reaches the client as it is (the
# shared harness sets "magic_token_scrub off" unless the block's
# http_config names the directive, as the comments below do).
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;

our $tok = mint(credential => 'cred-default-off', allowed => ['GET /s/.*']);

run_tests();

__DATA__

=== TEST 1: no magic_token_scrub anywhere: off, the echo is not touched
--- http_config
    # magic_token_scrub: not set at any level (its default)
--- config
    location /s/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /s/a
--- more_headers eval
"Authorization: Bearer $::tok"
--- error_code: 200
--- response_body_like: ^auth=\[Bearer cred-default-off\]
--- no_error_log
the upstream sent the credential back



=== TEST 2: magic_token_scrub on in the location: the echo is replaced
--- http_config
    # magic_token_scrub: set in the location only
--- config
    location /s/ {
        magic_token on;
        magic_token_scrub on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /s/a
--- more_headers eval
"Authorization: Bearer $::tok"
--- error_code: 200
--- response_body_like: ^auth=\[Bearer \*{16}\]
--- error_log
the upstream sent the credential back
