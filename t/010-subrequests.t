# Subrequests skip nginx's access phase.  A subrequest (SSI include
# virtual, mirror, auth_request) gets $magic_token_credential and
# $magic_token_scope only from a check of its own method and URI under
# its own location's settings; a location with magic_token on refuses
# it otherwise, one with magic_token off leaves them empty.  The main
# request's own check is unchanged by a subrequest's.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;

our %tok;
our $C = 'ghp_SubrequestCred';
# the page, and one API path; not /api/admin
$tok{t} = mint(credential => $C,
               allowed => ['GET /ssi/.*', 'GET /pub/.*', 'POST /m/.*',
                           'GET /api/ok', 'GET /sc/ok', 'GET /lee/ok',
                           'POST /mirror/ok', 'GET /auth(-on)?/.*',
                           'GET /sl/.*', 'GET /adm/ok']);
$tok{admin} = mint(credential => 'ghp_AdminCred', claims => { admin => 'true' },
                   allowed => ['GET /ssi/.*', 'GET /adm/ok']);
$tok{other} = mint(credential => $C, key => other_keys_dir() . '/private.pem',
                   allowed => ['GET /.*']);

# pages with SSI commands, and a recorder of what mirrors received
$ENV{TEST_NGINX_PAGE_PORT} = $ENV{TEST_NGINX_UPSTREAM_PORT} + 1;

default_http_config(<<'_EOC_');
    log_format seen 'seen uri=$request_uri method=$request_method auth=[$http_authorization]';

    server {
        listen 127.0.0.1:$TEST_NGINX_PAGE_PORT;
        magic_token off;
        access_log off;
        default_type text/html;

        location = /include-admin {
            return 200 '[<!--# include virtual="/api/admin" -->]';
        }
        location = /include-ok {
            return 200 '[<!--# include virtual="/api/ok" -->]';
        }
        location = /include-plain {
            return 200 '[<!--# include virtual="/plain/admin" -->]';
        }
        location = /include-other {
            return 200 '[<!--# include virtual="/other/ok" -->]';
        }
        location = /include-redirect {
            return 200 '[<!--# include virtual="/redir/x" -->]';
        }
        location = /include-scope {
            return 200 '[<!--# include virtual="/sc/ok" -->][<!--# echo var="magic_token_scope" -->][<!--# include virtual="/sc/admin" -->][<!--# echo var="magic_token_scope" -->]';
        }
        location = /include-three {
            return 200 '[<!--# include virtual="/api/ok" -->][<!--# include virtual="/api/ok" -->][<!--# include virtual="/api/admin" -->]';
        }
        location = /include-adm {
            return 200 '[<!--# include virtual="/adm/ok" -->]';
        }
        location = /include-leeway {
            return 200 '[<!--# include virtual="/lee/ok" -->]';
        }
        location /record/ {
            access_log logs/access.log seen;
            return 200 "recorded\n";
        }
    }
_EOC_

default_config(<<'_EOC_');
    magic_token_key $TEST_NGINX_KEYS/private.pem;

    location /ssi/ {
        magic_token on;
        ssi on;
        proxy_set_header Authorization "";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PAGE_PORT/;
    }
    location /api/ {
        magic_token on;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location /plain/ {
        magic_token off;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location /other/ {
        magic_token on;
        magic_token_key $TEST_NGINX_OTHER_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location /sc/ {
        magic_token on;
        proxy_set_header Authorization "scope=$magic_token_scope";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location /adm/ {
        magic_token on;
        magic_token_require $magic_token_claim_admin error=403;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location /lee/ {
        magic_token on;
        magic_token_leeway 7s;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location /redir/ {
        magic_token off;
        error_page 404 = /api/admin;
        return 404;
    }

    location /m/ {
        magic_token on;
        mirror /mirror/admin;
        mirror /mirror/plain;
        mirror /mirror/ok;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location /mirror/ {
        internal;
        magic_token on;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PAGE_PORT/record/;
    }
    location /mirror/plain {
        internal;
        magic_token off;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PAGE_PORT/record/plain;
    }

    location /auth/ {
        magic_token on;
        auth_request /check;
        auth_request_set $seen $upstream_http_x_seen;
        add_header X-Seen $seen always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location /auth-on/ {
        magic_token on;
        auth_request /check-on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location = /check {
        internal;
        magic_token off;
        proxy_pass_request_body off;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PAGE_PORT/seen;
    }
    location = /check-on {
        internal;
        magic_token on;
        proxy_pass_request_body off;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PAGE_PORT/seen;
    }
_EOC_

# Without --with-debug nginx writes no "magic_token cache ..." lines: the
# refusals are still checked, the cache's debug lines are not.
unless (nginx_with_debug()) {
    add_block_preprocessor(sub {
        my $block = shift;
        my $grep = $block->grep_error_log;
        return unless defined $grep && "$grep" =~ /magic_token cache/;
        my $out = join '', grep { !/^magic_token cache / }
                           split /^/, $block->grep_error_log_out;
        $block->set_value('grep_error_log', qr/magic_token: denied: \w+/);
        $block->set_value('grep_error_log_out', $out);
    });
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: SSI include of a path out of the token's scopes: refused, no credential upstream
--- request
GET /ssi/include-admin
--- more_headers eval
"Authorization: Bearer $::tok{t}"
--- error_code: 200
--- response_body_like: ^\[<html>.*403 Forbidden.*\]$
--- response_body_unlike eval
qr/\Q$::C\E|uri=\/admin/
--- log_level: info
--- error_log
magic_token: denied: scope_denied
subrequest: "/api/admin"



=== TEST 2: SSI include of a path in the token's scopes: the credential is sent
--- request
GET /ssi/include-ok
--- more_headers eval
"Authorization: Bearer $::tok{t}"
--- error_code: 200
--- response_body eval
"[auth=[Bearer $::C] method=GET uri=/ok\n]"
--- no_error_log
magic_token: denied



=== TEST 3: SSI include into a location with magic_token off: the credential is empty
--- request
GET /ssi/include-plain
--- more_headers eval
"Authorization: Bearer $::tok{t}"
--- error_code: 200
--- response_body eval
"[auth=[Bearer] method=GET uri=/admin\n]"



=== TEST 4: each request sees its own scope; the main request's is unchanged by the subrequests
--- request
GET /ssi/include-scope
--- more_headers eval
"Authorization: Bearer $::tok{t}"
--- error_code: 200
--- response_body_like: ^\[auth=\[scope=GET /sc/ok\] method=GET uri=/ok\n\]\[GET /ssi/\.\*\]\[<html>.*403 Forbidden.*\]\[GET /ssi/\.\*\]$



=== TEST 5: a subrequest location with other keys verifies the token itself
--- request
GET /ssi/include-other
--- more_headers eval
"Authorization: Bearer $::tok{t}"
--- error_code: 200
--- response_body_like: ^\[<html>.*401 Authorization Required.*\]$
--- response_body_unlike eval
qr/\Q$::C\E/
--- log_level: info
--- error_log
magic_token: denied: bad_signature



=== TEST 6: an internal redirect inside a subrequest is checked in its new location
--- request
GET /ssi/include-redirect
--- more_headers eval
"Authorization: Bearer $::tok{t}"
--- error_code: 200
--- response_body_like: ^\[<html>.*403 Forbidden.*\]$
--- response_body_unlike eval
qr/\Q$::C\E|uri=\/admin/
--- log_level: info
--- error_log
magic_token: denied: scope_denied



=== TEST 7: mirror: out of scope refused, magic_token off empty, in scope sent
--- request
POST /m/x
hello
--- more_headers eval
"Authorization: Bearer $::tok{t}"
--- error_code: 200
--- response_body eval
"auth=[Bearer $::C] method=POST uri=/x\n"
--- access_log
seen uri=/record/plain method=POST auth=[Bearer]
seen uri=/record/ok method=POST auth=[Bearer ghp_SubrequestCred]
--- no_access_log
uri=/record/admin
--- log_level: info
--- error_log
magic_token: denied: scope_denied
subrequest: "/mirror/admin"



=== TEST 8: auth_request to a location with magic_token off: no credential
--- request
GET /auth/x
--- more_headers eval
"Authorization: Bearer $::tok{t}"
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_PAGE_PORT;
        magic_token off;
        access_log off;
        location / {
            add_header X-Seen "[$http_authorization]";
            return 200;
        }
    }
--- error_code: 200
--- response_headers
X-Seen: [Bearer]



=== TEST 9: auth_request to a location with magic_token on out of scope: refused
--- request
GET /auth-on/x
--- more_headers eval
"Authorization: Bearer $::tok{t}"
--- http_config
    log_format seen 'seen uri=$request_uri auth=[$http_authorization]';
    server {
        listen 127.0.0.1:$TEST_NGINX_PAGE_PORT;
        magic_token off;
        access_log logs/access.log seen;
        location / {
            return 200;
        }
    }
--- error_code: 403
--- no_access_log
seen uri=/seen
--- log_level: info
--- error_log
magic_token: denied: scope_denied
subrequest: "/check-on"



=== TEST 10: a subrequest location with other settings verifies the token itself, and passes
--- request
GET /ssi/include-leeway
--- more_headers eval
"Authorization: Bearer $::tok{t}"
--- error_code: 200
--- response_body eval
"[auth=[Bearer $::C] method=GET uri=/ok\n]"



=== TEST 11: a subrequest from a public page is checked; with the cache, a miss then hits
--- config
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    magic_token_cache size=10;
    location /pub/ {
        magic_token off;
        ssi on;
        proxy_set_header Authorization "";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PAGE_PORT/;
    }
    location /api/ {
        magic_token on;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
--- request
GET /pub/include-three
--- more_headers eval
"Authorization: Bearer $::tok{t}"
--- error_code: 200
--- response_body_like eval
qr/^\[auth=\[Bearer \Q$::C\E\] method=GET uri=\/ok\n\]\[auth=\[Bearer \Q$::C\E\] method=GET uri=\/ok\n\]\[<html>.*403 Forbidden.*\]$/s
--- grep_error_log eval
qr/magic_token cache (?:hit|miss|store)|magic_token: denied: \w+/
--- grep_error_log_out
magic_token cache miss
magic_token cache store
magic_token cache hit
magic_token cache hit
magic_token: denied: scope_denied



=== TEST 12: slice subrequests (clones, no preaccess) still get the credential
--- user_files
>>> sliced.txt
0123456789abcdef
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_PAGE_PORT;
        magic_token off;
        access_log off;
        root html;
        location / {
            if ($http_authorization != "Bearer ghp_SubrequestCred") {
                return 401;
            }
        }
    }
--- config
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    location /sl/ {
        magic_token on;
        slice 4;
        proxy_set_header Range $slice_range;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PAGE_PORT/;
    }
--- request
GET /sl/sliced.txt
--- more_headers eval
"Authorization: Bearer $::tok{t}"
--- error_code: 200
--- response_body
0123456789abcdef



=== TEST 13: auth_request to a location whose keys do not verify the token: 401 and its challenge
--- config
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    location /auth/ {
        magic_token on;
        auth_request /check;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location = /check {
        internal;
        magic_token on;
        magic_token_key $TEST_NGINX_OTHER_KEYS/private.pem;
        magic_token_realm check;
        magic_token_scope_uri /auth/x;
        proxy_pass_request_body off;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PAGE_PORT/record/check;
    }
--- request
GET /auth/x
--- more_headers eval
"Authorization: Bearer $::tok{t}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="check", error="invalid_token"
--- no_access_log
seen uri=/record/check



=== TEST 14: magic_token_require with a claim variable, in a subrequest's location
--- request eval
["GET /ssi/include-adm", "GET /ssi/include-adm"]
--- more_headers eval
["Authorization: Bearer $::tok{admin}", "Authorization: Bearer $::tok{t}"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/^\[auth=\[Bearer ghp_AdminCred\] method=GET uri=\/ok\n\]$/,
 qr/^\[<html>.*403 Forbidden.*\]$/s]
--- response_body_unlike eval
[qr/ghp_SubrequestCred/, qr/ghp_SubrequestCred/]
--- no_error_log
[error]
