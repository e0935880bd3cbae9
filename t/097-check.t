# magic_token_check: a named scope decided by a subrequest to the
# operator's location.  Here the deciding locations are nginx's own
# (return, proxy_pass to a closed port); the python plugin service with
# a response hook: t/097-check-plugin.t.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;

our %tok = (
    alice  => mint(credential => 'cred-alice', scopes => ['ext'],
                   claims => { sub => '"alice"', n => '[1,"a\nb"]' }),
    bob    => mint(credential => 'cred-bob', scopes => ['ext'],
                   claims => { sub => '"bob"' }),
    two    => mint(credential => 'cred-two', scopes => ['no', 'ext'],
                   claims => { sub => '"alice"' }),
    plain  => mint(credential => 'cred-plain', scopes => ['plain', 'ext'],
                   claims => { sub => '"nobody"' }),
    broken => mint(credential => 'cred-broken', scopes => ['broken']),
    down   => mint(credential => 'cred-down', scopes => ['down']),
    none   => mint(credential => 'cred-none', scopes => ['missing']),
    other  => mint(credential => 'cred-other', allowed => ['GET /api/ok']),
);

{
    my ($rc, $err) = nginx_config_check(
        "magic_token_check ext /_check claims=sub,aud response=/_seen "
        . "zone=z;\nmagic_token_zone z:1m;\n");
    Test::More::is($rc, 0, 'nginx -t accepts a check') or Test::More::diag($err);

    for my $case (
        ['not a URI',      'magic_token_check ext _check;',
         qr/magic_token_check "ext": "_check" is not a URI/],
        ['no URI',         'magic_token_check ext;',
         qr/invalid number of arguments in "magic_token_check" directive/],
        ['a scope first',  "magic_token_scope ext \"GET /x\";\nmagic_token_check ext /_c;",
         qr/duplicate magic_token_scope "ext"/],
        ['a scope after',  "magic_token_check ext /_c;\nmagic_token_scope ext \"GET /x\";",
         qr/duplicate magic_token_scope "ext"/],
        ['two checks',     "magic_token_check ext /_c;\nmagic_token_check ext /_d;",
         qr/duplicate magic_token_scope "ext"/],
        ['empty claim',    'magic_token_check ext /_c claims=sub,,aud;',
         qr/invalid parameter "claims=sub,,aud": claim names are \[A-Za-z0-9_-\]\+, separated by commas/],
        ['trailing comma', 'magic_token_check ext /_c claims=sub,;',
         qr/invalid parameter "claims=sub,": claim names/],
        ['odd claim',      'magic_token_check ext /_c claims=a.b;',
         qr/invalid parameter "claims=a\.b": claim names/],
        ['bad response',   'magic_token_check ext /_c response=seen;',
         qr/invalid parameter "response=seen"/],
        ['unknown param',  'magic_token_check ext /_c timeout=1s;',
         qr/invalid parameter "timeout=1s"/],
        ['unknown zone',   'magic_token_check ext /_c zone=nope;',
         qr/unknown magic_token_zone "nope" in \S+:\d+/],
        ['in a location',  'server { location / { magic_token_check ext /_c; } }',
         qr/"magic_token_check" directive is not allowed here/],
    ) {
        my ($what, $conf, $re) = @$case;
        my ($rc, $err) = nginx_config_check("$conf\n");
        Test::More::isnt($rc, 0, "nginx -t refuses a check: $what");
        Test::More::like($err, $re, "check, $what: the message") or Test::More::diag($err);
    }
}

default_http_config(<<'_EOC_');
    magic_token_check ext /_check claims=sub,n;
    magic_token_check no /_no;
    magic_token_check broken /_broken;
    magic_token_check down /_down;
    magic_token_check missing /_missing;
    magic_token_scope plain "GET /api/plain";
_EOC_

default_config(<<'_EOC_');
    location /api/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_set_header X-Scope $magic_token_scope;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }

    # the checks: what they are given decides
    location = /_check {
        internal;
        if ($http_authorization) {
            return 500;                 # the client's token leaked
        }
        if ($http_content_length) {
            return 500;                 # the client's body leaked
        }
        set $given "$http_x_magic_token_scope $http_x_magic_token_method $http_x_magic_token_path $http_x_magic_token_claim_sub $http_x_magic_token_claim_n";
        if ($given = 'ext GET /api/ok "alice" [1,"a\\nb"]') {
            return 204;
        }
        if ($given = 'ext POST /api/ok "alice" ') {
            return 200;
        }
        if ($http_x_magic_token_id !~ '^[0-9a-f]{16}$') {
            return 500;
        }
        return 403;
    }

    location = /_no {
        internal;
        return 401;
    }

    location = /_broken {
        internal;
        return 502;
    }

    location = /_down {
        internal;
        proxy_pass http://127.0.0.1:1/;
    }
_EOC_

run_tests();

__DATA__

=== TEST 1: the check allows; the scope is the check's name; the credential goes upstream
--- request
GET /api/ok
--- more_headers eval
"Authorization: Bearer $::tok{alice}"
--- error_code: 200
--- response_body
auth=[Bearer cred-alice] method=GET uri=/api/ok
--- no_error_log
[error]
[alert]



=== TEST 2: the check refuses another path: 403 insufficient_scope
--- request
GET /api/secret
--- more_headers eval
"Authorization: Bearer $::tok{alice}"
--- error_code: 403
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="insufficient_scope"
--- error_log
magic_token: denied: scope_denied
--- no_error_log
[error]
[alert]



=== TEST 3: the check sees the claims: another subject is refused
--- request
GET /api/ok
--- more_headers eval
"Authorization: Bearer $::tok{bob}"
--- error_code: 403
--- no_error_log
[error]



=== TEST 4: a body, and two checks: the first refuses (401), the next allows without the body
--- request
POST /api/ok
hello world
--- more_headers eval
"Authorization: Bearer $::tok{two}"
--- error_code: 200
--- response_body
auth=[Bearer cred-two] method=POST uri=/api/ok
--- no_error_log
[error]
[alert]



=== TEST 5: both checks refuse: 403
--- request
GET /api/ok
--- more_headers eval
"Authorization: Bearer $::tok{two}"
--- error_code: 403
--- no_error_log
[error]



=== TEST 6: entries first: a scope that allows needs no check
--- request
GET /api/plain
--- more_headers eval
"Authorization: Bearer $::tok{plain}"
--- error_code: 200
--- no_error_log
[error]



=== TEST 7: a check that answers 502 is an error: 500, logged
--- request
GET /api/ok
--- more_headers eval
"Authorization: Bearer $::tok{broken}"
--- error_code: 500
--- error_log eval
qr/\[error\] .*magic_token_check "broken": "\/_broken" answered 502, the request is refused \(token [0-9a-f]{16}\)/



=== TEST 8: a check whose service is down is an error: 500
--- request
GET /api/ok
--- more_headers eval
"Authorization: Bearer $::tok{down}"
--- error_code: 500
--- error_log eval
qr/magic_token_check "down": "\/_down" answered 502/



=== TEST 9: a check without a location: 404 is an error too
--- request
GET /api/ok
--- more_headers eval
"Authorization: Bearer $::tok{none}"
--- error_code: 500
--- error_log eval
qr/magic_token_check "missing": "\/_missing" answered 404/



=== TEST 10: a path with a control character is refused without a check
--- request
GET /api/ok%0A
--- more_headers eval
"Authorization: Bearer $::tok{alice}"
--- error_code: 403
--- no_error_log
[error]



=== TEST 11: a token that names no check scope never reaches a check
--- request
GET /api/secret
--- more_headers eval
"Authorization: Bearer $::tok{other}"
--- error_code: 403
--- no_error_log
[error]
