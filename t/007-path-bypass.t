# Path-confusion / scope-bypass attempts against the recommended "safe
# pattern":
#
#     map $uri $gh_path { "~(?s)^/gh(?<p>/.*)\z" $p; default ""; }
#     location /gh/ {
#         magic_token on;
#         magic_token_scope_uri $gh_path;
#         proxy_pass http://upstream/;          # URI part: nginx forwards the
#     }                                         # normalized $uri, re-escaped
#
# For every request the scope decision must agree with the path the upstream
# actually receives (the echo upstream prints it as uri=...). The token
# allows only "GET /user" and "GET /repos/octo/public/.*".
#
# Requests that nginx itself normalizes out of /gh/ end in the default
# location (404 from the html dir), and requests nginx rejects are 400: both
# are asserted as such, and never reach the upstream.
#
# NOTE on the map: with the plain "~^/gh(?<p>/.*)$" a path ending in "\n"
# (%0a) is captured WITHOUT the newline ("$" matches before a final
# newline), so the scope sees "/user" while the upstream receives
# "/user%0A". TEST 60 documents that; use "(?s)" (as docs/ do, TEST 63)
# and preferably "\z" as above.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;

our %tok;
our $C = 'ghp_BypassCred';
$tok{t} = mint(credential => $C, allowed => ['GET /user', 'GET /repos/octo/public/.*']);

our $MAP = <<'_EOC_';
    map $uri $gh_path {
        "~(?s)^/gh(?<p>/.*)\z"  $p;
        default                 "";
    }
_EOC_
our $PREFIX = $MAP . "    magic_token_scope_match prefix;\n";
our $DOCS_MAP = <<'_EOC_';
    map $uri $gh_path {
        ~(?s)^/gh(?<p>/.*)$  $p;
        default              "";
    }
_EOC_
our $NAIVE_MAP = <<'_EOC_';
    map $uri $gh_path {
        ~^/gh(?<p>/.*)$  $p;
        default          "";
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

# every block sends the token unless it says otherwise
add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('more_headers', "Authorization: Bearer $tok{t}")
        unless defined $block->more_headers;
});

sub ok_body { "auth=[Bearer $C] method=GET uri=$_[0]\n" }

run_tests();

__DATA__

=== TEST 1: baseline: allowed path
--- request
GET /gh/user
--- response_body eval
::ok_body("/user")
--- error_code: 200



=== TEST 2: baseline: denied path
--- request
GET /gh/admin
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 3: double slash is merged: //user -> /user (allowed, upstream /user)
--- request
GET /gh//user
--- response_body eval
::ok_body("/user")
--- error_code: 200



=== TEST 4: dot-dot resolved before the check: /repos/../user (allowed, upstream /user)
--- request
GET /gh/repos/../user
--- response_body eval
::ok_body("/user")
--- error_code: 200



=== TEST 5: dot-dot out of an allowed path: /user/../admin -> /admin (denied)
--- request
GET /gh/user/../admin
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 6: encoded dot-dot out of /gh/: /gh/%2e%2e/admin -> /admin (not proxied)
--- request
GET /gh/%2e%2e/admin
--- error_code: 404
--- response_body_unlike: auth=



=== TEST 7: encoded dot-dot inside: /x/%2e%2e/user -> /user (allowed, upstream /user)
--- request
GET /gh/x/%2e%2e/user
--- response_body eval
::ok_body("/user")
--- error_code: 200



=== TEST 8: mixed dot-dot: /user/%2e%2e/admin -> /admin (denied)
--- request
GET /gh/user/%2e%2e/admin
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 9: half-encoded dot-dot out of /gh/: /gh/.%2e/user (not proxied)
--- request
GET /gh/.%2e/user
--- error_code: 404
--- response_body_unlike: auth=



=== TEST 10: encoded slash + dot-dot: /user%2F..%2Fadmin -> /admin (denied)
--- request
GET /gh/user%2F..%2Fadmin
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 11: encoded slash + dot-dot: /x%2F..%2Fuser -> /user (allowed, upstream /user)
--- request
GET /gh/x%2F..%2Fuser
--- response_body eval
::ok_body("/user")
--- error_code: 200



=== TEST 12: lowercase %2f + dot-dot: /x/..%2fuser -> /user (allowed, upstream /user)
--- request
GET /gh/x/..%2fuser
--- response_body eval
::ok_body("/user")
--- error_code: 200



=== TEST 13: encoded slash at the start: /gh/%2Fuser -> /user (allowed, upstream /user)
--- request
GET /gh/%2Fuser
--- response_body eval
::ok_body("/user")
--- error_code: 200



=== TEST 14: trailing encoded slash: /user%2f -> /user/ (denied)
--- request
GET /gh/user%2f
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 15: semicolon path parameter: /user;x (denied)
--- request
GET /gh/user;x
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 16: semicolon + dot-dot: /user;/../admin -> /admin (denied)
--- request
GET /gh/user;/../admin
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 17: Tomcat-style /user/..;/admin (denied in full mode)
--- request
GET /gh/user/..;/admin
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 18: encoded semicolon: /user%3b/../admin -> /admin (denied)
--- request
GET /gh/user%3b/../admin
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 19: backslash is not a separator for nginx: /user\..\admin (denied)
--- request
GET /gh/user\..\admin
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 20: encoded backslash: /user%5c..%5cadmin (denied)
--- request
GET /gh/user%5c..%5cadmin
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 21: %00 is rejected by nginx (400)
--- request
GET /gh/user%00
--- error_code: 400
--- response_body_unlike: auth=



=== TEST 22: %00 in the middle is rejected by nginx (400)
--- request
GET /gh/user%00/../admin
--- error_code: 400
--- response_body_unlike: auth=



=== TEST 23: CRLF: /user%0d%0a (denied)
--- request
GET /gh/user%0d%0a
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 24: LF: /user%0a (denied)
--- request
GET /gh/user%0a
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 25: LF in the middle: /user%0a/admin (denied)
--- request
GET /gh/user%0a/admin
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 26: tab: /user%09 (denied)
--- request
GET /gh/user%09
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 27: space: /user%20 (denied)
--- request
GET /gh/user%20
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 28: case variant of the path: /USER (denied, full match is case-sensitive)
--- request
GET /gh/USER
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 29: case variant of the location prefix: /GH/user (not proxied)
--- request
GET /GH/user
--- error_code: 404
--- response_body_unlike: auth=



=== TEST 30: percent-encoded letters are decoded: /%75ser -> /user (allowed, upstream /user)
--- request
GET /gh/%75ser
--- response_body eval
::ok_body("/user")
--- error_code: 200



=== TEST 31: query string is not part of the path: /user?x=/admin (allowed, forwarded as is)
--- request
GET /gh/user?x=/admin
--- response_body eval
::ok_body("/user?x=/admin")
--- error_code: 200



=== TEST 32: encoded question mark stays in the path: /user%3Fx (denied)
--- request
GET /gh/user%3Fx
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 33: encoded hash stays in the path: /user%23x (denied)
--- request
GET /gh/user%23x
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 34: trailing slash: /user/ (denied)
--- request
GET /gh/user/
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 35: trailing dot segment: /user/. -> /user/ (denied)
--- request
GET /gh/user/.
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 36: leading dot segment: /./user -> /user (allowed, upstream /user)
--- request
GET /gh/./user
--- response_body eval
::ok_body("/user")
--- error_code: 200



=== TEST 37: double encoding is decoded once: /user%252e -> /user%2e (denied)
--- request
GET /gh/user%252e
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 38: dots glued to the name: /user.. (denied)
--- request
GET /gh/user..
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 39: invalid UTF-8 bytes: /user%c0%af (denied)
--- request
GET /gh/user%c0%af
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 40: truncated escape is rejected by nginx (400)
--- request
GET /gh/user%2
--- error_code: 400
--- response_body_unlike: auth=



=== TEST 41: leave and re-enter the prefix: /gh/../gh/user -> /gh/user (allowed, upstream /user)
--- request
GET /gh/../gh/user
--- response_body eval
::ok_body("/user")
--- error_code: 200



=== TEST 42: absolute-form request target (allowed, upstream /user)
--- request
GET http://evil.example/gh/user
--- response_body eval
::ok_body("/user")
--- error_code: 200



=== TEST 43: HEAD is not GET (denied)
--- request
HEAD /gh/user
--- error_code: 403



=== TEST 44: lowercase method is rejected by nginx (400)
--- request
get /gh/user
--- error_code: 400
--- response_body_unlike: auth=



=== TEST 45: regex scope: allowed subtree
--- request
GET /gh/repos/octo/public/readme
--- response_body eval
::ok_body("/repos/octo/public/readme")
--- error_code: 200



=== TEST 46: regex scope: dot-dot out of the subtree -> /repos/octo/private/x (denied)
--- request
GET /gh/repos/octo/public/../private/x
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 47: regex scope: encoded dot-dots out of the subtree (denied)
--- request
GET /gh/repos/octo/public/..%2f..%2fprivate/x
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 48: regex scope: encoded slashes and dot-dots (denied)
--- request
GET /gh/repos/octo/public/x%2F..%2F..%2Fprivate
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 49: regex scope: "." in the regex cannot swallow a newline (denied)
--- request
GET /gh/repos/octo/public/x%0a
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 50: prefix mode: /user;x is allowed and forwarded unchanged
--- http_config eval
$::PREFIX
--- request
GET /gh/user;x
--- response_body eval
::ok_body("/user;x")
--- error_code: 200



=== TEST 51: prefix mode: /USER is allowed (re.I) and forwarded unchanged
--- http_config eval
$::PREFIX
--- request
GET /gh/USER
--- response_body eval
::ok_body("/USER")
--- error_code: 200



=== TEST 52: prefix mode: dot-dot is still resolved first: /user/../admin (denied)
--- http_config eval
$::PREFIX
--- request
GET /gh/user/../admin
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 53: prefix mode: encoded dot-dot is resolved first: /user%2F..%2Fadmin (denied)
--- http_config eval
$::PREFIX
--- request
GET /gh/user%2F..%2Fadmin
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 54: prefix mode: anchored at the start: /x/user (denied)
--- http_config eval
$::PREFIX
--- request
GET /gh/x/user
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 55: prefix mode: /user\..\admin is refused (unsafe_path): IIS reads "\" as "/"
--- http_config eval
$::PREFIX
--- request
GET /gh/user\..\admin
--- error_code: 403
--- response_body_unlike: auth=
--- error_log
magic_token: denied: unsafe_path



=== TEST 56: prefix mode: /user%5c..%5cadmin is refused (unsafe_path)
--- http_config eval
$::PREFIX
--- request
GET /gh/user%5c..%5cadmin
--- error_code: 403
--- response_body_unlike: auth=
--- error_log
magic_token: denied: unsafe_path



=== TEST 57: prefix mode: Tomcat-style /user/..;/admin is refused (unsafe_path)
--- http_config eval
$::PREFIX
--- request
GET /gh/user/..;/admin
--- error_code: 403
--- response_body_unlike: auth=
--- error_log
magic_token: denied: unsafe_path



=== TEST 58: prefix mode: /user%0a is denied (paths with control characters never match, stricter than re.match)
--- http_config eval
$::PREFIX
--- request
GET /gh/user%0a
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 59: prefix mode: encoded dot-dot out of /gh/ (not proxied)
--- http_config eval
$::PREFIX
--- request
GET /gh/%2e%2e/admin
--- error_code: 404
--- response_body_unlike: auth=



=== TEST 60: PITFALL with the naive map "~^/gh(?<p>/.*)$": /user%0a is checked as "/user" but forwarded as /user%0A
--- http_config eval
$::NAIVE_MAP
--- request
GET /gh/user%0a
--- response_body eval
::ok_body('/user%0A')
--- error_code: 200



=== TEST 61: naive map: CRLF is still denied ("\r" is captured)
--- http_config eval
$::NAIVE_MAP
--- request
GET /gh/user%0d%0a
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 62: UNSAFE pattern for contrast: proxy_pass without a URI forwards the raw request URI
--- config
    location /api/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- more_headers eval
"Authorization: Bearer " . ::mint(credential => $::C, allowed => ['GET /api/user'])
--- request
GET /api/x/..%2fuser
--- response_body eval
::ok_body('/api/x/..%2fuser')
--- error_code: 200



=== TEST 63: the map form used in docs/ ("(?s)" with "$") captures the newline: /user%0a denied
--- http_config eval
$::DOCS_MAP
--- request
GET /gh/user%0a
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 64: the map form used in docs/: allowed path still works
--- http_config eval
$::DOCS_MAP
--- request
GET /gh/user
--- response_body eval
::ok_body("/user")
--- error_code: 200



=== TEST 65: full mode: none of these ever matches a scope (unsafe_path): raw backslashes; %5C; %5c; double-encoded %255c; ..; segments; .; segment; ..;jsessionid=x; %2e%2e;; %2E%2E%3B; ..%3bx; double-encoded %252e%252e; double-encoded %252e%252e%253b; double-encoded %252f; IIS %u escape; three dots; ..%3F (a query after a second decoding); double-encoded ..%253F; double-encoded ..%2523 (a fragment); double-encoded NUL after the dots; overlong UTF-8 dots (%c0%ae)
--- request eval
[
    'GET /gh/repos/octo/public/..\\victim\\private',
    'GET /gh/repos/octo/public/%5C..%5Cprivate',
    'GET /gh/repos/octo/public/%5c..%5cprivate',
    'GET /gh/repos/octo/public/%255c..%255cprivate',
    'GET /gh/repos/octo/public/..;/..;/private',
    'GET /gh/repos/octo/public/.;/x',
    'GET /gh/repos/octo/public/..;jsessionid=x/private',
    'GET /gh/repos/octo/public/%2e%2e;/private',
    'GET /gh/repos/octo/public/%2E%2E%3B/private',
    'GET /gh/repos/octo/public/..%3bx/private',
    'GET /gh/repos/octo/public/%252e%252e/private',
    'GET /gh/repos/octo/public/%252e%252e%253b/private',
    'GET /gh/repos/octo/public/x%252fprivate',
    'GET /gh/repos/octo/public/%25u002e%25u002e/private',
    'GET /gh/repos/octo/public/.../private',
    'GET /gh/repos/octo/public/..%3F/private',
    'GET /gh/repos/octo/public/..%253F',
    'GET /gh/repos/octo/public/..%2523',
    'GET /gh/repos/octo/public/..%2500',
    'GET /gh/repos/octo/public/%25c0%25ae%25c0%25ae/private',
]
--- more_headers eval
[("Authorization: Bearer $::tok{t}") x 20]
--- error_code eval
[(403) x 20]
--- response_body_unlike eval
[('auth=') x 20]
--- error_log
magic_token: denied: unsafe_path



=== TEST 66: prefix mode: none of these ever matches a scope (unsafe_path): raw backslashes; %5C; %5c; double-encoded %255c; ..; segments; .; segment; ..;jsessionid=x; %2e%2e;; %2E%2E%3B; ..%3bx; double-encoded %252e%252e; double-encoded %252e%252e%253b; double-encoded %252f; IIS %u escape; three dots; ..%3F (a query after a second decoding); double-encoded ..%253F; double-encoded ..%2523 (a fragment); double-encoded NUL after the dots; overlong UTF-8 dots (%c0%ae)
--- http_config eval
$::PREFIX
--- request eval
[
    'GET /gh/repos/octo/public/..\\victim\\private',
    'GET /gh/repos/octo/public/%5C..%5Cprivate',
    'GET /gh/repos/octo/public/%5c..%5cprivate',
    'GET /gh/repos/octo/public/%255c..%255cprivate',
    'GET /gh/repos/octo/public/..;/..;/private',
    'GET /gh/repos/octo/public/.;/x',
    'GET /gh/repos/octo/public/..;jsessionid=x/private',
    'GET /gh/repos/octo/public/%2e%2e;/private',
    'GET /gh/repos/octo/public/%2E%2E%3B/private',
    'GET /gh/repos/octo/public/..%3bx/private',
    'GET /gh/repos/octo/public/%252e%252e/private',
    'GET /gh/repos/octo/public/%252e%252e%253b/private',
    'GET /gh/repos/octo/public/x%252fprivate',
    'GET /gh/repos/octo/public/%25u002e%25u002e/private',
    'GET /gh/repos/octo/public/.../private',
    'GET /gh/repos/octo/public/..%3F/private',
    'GET /gh/repos/octo/public/..%253F',
    'GET /gh/repos/octo/public/..%2523',
    'GET /gh/repos/octo/public/..%2500',
    'GET /gh/repos/octo/public/%25c0%25ae%25c0%25ae/private',
]
--- more_headers eval
[("Authorization: Bearer $::tok{t}") x 20]
--- error_code eval
[(403) x 20]
--- response_body_unlike eval
[('auth=') x 20]
--- error_log
magic_token: denied: unsafe_path



=== TEST 67: the issue's example: POST /repos/acme/..\\victim\\private/issues/1/labels passes no [^/]+ scope
--- more_headers eval
"Authorization: Bearer " . ::mint(credential => $::C, allowed => ['POST /repos/acme/[^/]+/issues/\\d+/labels'])
--- request
POST /gh/repos/acme/..\victim\private/issues/1/labels
--- error_code: 403
--- response_body_unlike: auth=



=== TEST 68: the issue's example: GET /repos/..;/..;/issues passes no [^/]+/[^/]+ scope
--- more_headers eval
"Authorization: Bearer " . ::mint(credential => $::C, allowed => ['GET /repos/[^/]+/[^/]+/issues'])
--- request
GET /gh/repos/..;/..;/issues
--- error_code: 403
--- response_body_unlike: auth=
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="insufficient_scope"



=== TEST 69: the same scope still allows a normal path with ";" parameters and dots inside names
--- more_headers eval
"Authorization: Bearer " . ::mint(credential => $::C, allowed => ['GET /repos/[^/]+/[^/]+/issues'])
--- request
GET /gh/repos/octo.js/..x;y/issues
--- response_body eval
::ok_body("/repos/octo.js/..x;y/issues")
--- error_code: 200



=== TEST 70: magic_token_path_check off (per location) lets an upstream that reads "\\" literally get it
--- config
    location /gh/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri $gh_path;
        magic_token_path_check off;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
--- request
GET /gh/repos/octo/public/a\b
--- response_body eval
::ok_body('/repos/octo/public/a\\b')
--- error_code: 200



=== TEST 71: a token without scope claims (scopes optional) is still refused an unsafe path: it would leave the location's base path
--- config
    location /gh/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri $gh_path;
        magic_token_scope_required off;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/base/;
    }
--- more_headers eval
"Authorization: Bearer " . ::mint(credential => $::C)
--- request
GET /gh/..;/admin
--- error_code: 403
--- response_body_unlike: auth=
--- error_log
magic_token: denied: unsafe_path
