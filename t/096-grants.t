# magic_token_grant: what "nginx -t" says about the directive, and grants
# made and used within one nginx (several requests per block, each block
# with tokens of its own).  The DNS-01 example end to end, reloads and
# expiry: t/096-grants-dns01.t.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;

our %tok;
$tok{$_} = mint(credential => "cred-$_", scopes => ['dns01'])
    for qw(b1 b2 b3 b4 b5 b6 b7 b8 b9);
$tok{$_} = mint(credential => "cred-$_", scopes => ['jobs'])
    for qw(jobs jobs2);
$tok{allowed} = mint(credential => 'cred-allowed',
                     allowed => ['POST /v2/domains/example\.com/records']);

my $scope = 'magic_token_scope dns01 "POST /v2/domains/example\\.com/records";';
my $grant = 'magic_token_grant dns01 "POST /v2/domains/([^/]+)/records" '
          . '"DELETE /v2/domains/$1/records/$json" json=domain_record.id '
          . 'zone=state';

{
    my ($rc, $err) = nginx_config_check(
        "magic_token_zone state:1m;\n$scope\n$grant ttl=1h max=5 status=201;\n");
    Test::More::is($rc, 0, 'nginx -t accepts a grant') or Test::More::diag($err);

    ($rc, $err) = nginx_config_check(
        "$grant;\n$scope\nmagic_token_zone state:1m;\n");
    Test::More::is($rc, 0, 'nginx -t accepts a grant before its scope and zone')
        or Test::More::diag($err);

    for my $case (
        ['no zone',        "$scope\n"
         . 'magic_token_grant dns01 "POST /x" "DELETE /y" ttl=1m;',
         qr/magic_token_grant "dns01" needs "zone="/],
        ['too few',        "$scope\n"
         . 'magic_token_grant dns01 "POST /x" "DELETE /y";',
         qr/magic_token_grant needs a scope, a trigger "METHOD regex", a grant "METHOD \/path" and "zone="/],
        ['unknown zone',   "$scope\n$grant;",
         qr/unknown magic_token_zone "state" in \S+:\d+/],
        ['unknown scope',  "magic_token_zone state:1m;\n$grant;",
         qr/magic_token_grant in \S+:\d+ names "dns01", which no magic_token_scope defines/],
        ['bad regex',      "magic_token_zone state:1m;\n$scope\n"
         . 'magic_token_grant dns01 "POST /(" "DELETE /y" zone=state;',
         qr/magic_token_grant "dns01": trigger "POST \/\(": missing closing parenthesis/],
        ['not a trigger',  "magic_token_zone state:1m;\n$scope\n"
         . 'magic_token_grant dns01 "/x" "DELETE /y" zone=state;',
         qr/magic_token_grant "dns01": trigger "\/x" is not "METHOD regex"/],
        ['not a grant',    "magic_token_zone state:1m;\n$scope\n"
         . 'magic_token_grant dns01 "POST /x" "DELETE y" zone=state;',
         qr/magic_token_grant "dns01": grant "DELETE y" is not "METHOD \/path"/],
        ['$json, no json=', "magic_token_zone state:1m;\n$scope\n"
         . 'magic_token_grant dns01 "POST /x" "DELETE /y/$json" zone=state;',
         qr/grant "DELETE \/y\/\$json" uses \$json without a JSON path/],
        ['json=, no $json', "magic_token_zone state:1m;\n$scope\n"
         . 'magic_token_grant dns01 "POST /x" "DELETE /y" json=id zone=state;',
         qr/grant "DELETE \/y" does not use \$json/],
        ['$2, one capture', "magic_token_zone state:1m;\n$scope\n"
         . 'magic_token_grant dns01 "POST /(x)" "DELETE /$2" zone=state;',
         qr/"\$" is \$1 \.\. \$1 \(the trigger's captures\) or \$json/],
        ['bad JSON path',  "magic_token_zone state:1m;\n$scope\n"
         . 'magic_token_grant dns01 "POST /x" "DELETE /$json" json=a[0] zone=state;',
         qr/JSON path "a\[0\]" is not names and indexes separated by dots/],
        ['bad status',     "magic_token_zone state:1m;\n$scope\n$grant status=2x;",
         qr/invalid parameter "status=2x"/],
        ['bad ttl',        "magic_token_zone state:1m;\n$scope\n$grant ttl=0;",
         qr/invalid parameter "ttl=0"/],
        ['max=0',          "magic_token_zone state:1m;\n$scope\n$grant max=0;",
         qr/invalid parameter "max=0": max= is 1 \.\. 1024/],
        ['unknown param',  "magic_token_zone state:1m;\n$scope\n$grant once;",
         qr/invalid parameter "once"/],
        ['in a server',    "magic_token_zone state:1m;\n$scope\nserver { $grant; }",
         qr/"magic_token_grant" directive is not allowed here/],
    ) {
        my ($what, $conf, $re) = @$case;
        my ($rc, $err) = nginx_config_check("$conf\n");
        Test::More::isnt($rc, 0, "nginx -t refuses a grant: $what");
        Test::More::like($err, $re, "grant, $what: the message") or Test::More::diag($err);
    }
}

# conf-examples/digitalocean-dns01.conf passes "nginx -t" (with the
# test's key, without TLS on the listening side, and an upstream address
# that needs no DNS)
{
    open my $in, '<', repo_root() . '/conf-examples/digitalocean-dns01.conf'
        or die "digitalocean-dns01.conf: $!";
    my $conf = do { local $/; <$in> };
    close $in;
    $conf =~ s{/etc/nginx/magic-token/private\.pem}{$ENV{TEST_NGINX_KEYS}/private.pem}g
        or die "no key path";
    $conf =~ s{listen\s+443 ssl;}{listen 127.0.0.1:1;} or die "no listen";
    $conf =~ s{^\s*ssl_certificate(?:_key)?\s.*\n}{}mg;
    $conf =~ s{proxy_pass(\s+)https://api\.digitalocean\.com;}{proxy_pass$1https://127.0.0.1:1;}
        or die "no proxy_pass";
    my ($rc, $err) = nginx_config_check($conf);
    Test::More::is($rc, 0, 'conf-examples/digitalocean-dns01.conf passes nginx -t')
        or Test::More::diag($err);
}

our $http_config = <<"_EOC_";
    magic_token_zone state:1m;
    $scope
    $grant ttl=1h max=4;

    magic_token_scope jobs "POST /jobs";
    magic_token_grant jobs "POST /jobs" "GET /jobs/status" status=202
                      zone=state;

    # the API: a fixed record id, and a few ways to fail
    server {
        listen 127.0.0.1:\$TEST_NGINX_UPSTREAM_PORT;
        magic_token off;
        access_log off;

        location = /v2/domains/example.com/records {
            if (\$arg_fail) {
                return 422 '{"domain_record":{"id":42}}';
            }
            if (\$arg_gzip) {
                add_header Content-Encoding gzip;
            }
            if (\$arg_chunked) {
                rewrite ^ /chunked last;
            }
            return 201 '{"domain_record":{"id":42,"type":"TXT"}}';
        }

        # sub_filter drops the Content-Length: the body comes chunked
        location = /chunked {
            internal;
            sub_filter '"id":42' '"id":43';
            sub_filter_types *;
            return 201 '{"domain_record":{"id":42}}';
        }

        location = /jobs {
            return 202 "upstream: \$request_method \$uri [\$http_x_scope]\\n";
        }

        location / {
            return 200 "upstream: \$request_method \$uri [\$http_x_scope] [\$http_authorization]\\n";
        }
    }
_EOC_

our $config = <<'_EOC_';
    location / {
        proxy_http_version 1.1;
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_set_header X-Scope $magic_token_scope;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
_EOC_

default_http_config($http_config);
default_config($config);
no_root_location();

run_tests();

__DATA__

=== TEST 1: create, delete the created record; another record and another token are refused
--- request eval
["DELETE /v2/domains/example.com/records/42",
 "POST /v2/domains/example.com/records\n{}",
 "DELETE /v2/domains/example.com/records/42",
 "DELETE /v2/domains/example.com/records/41",
 "DELETE /v2/domains/example.com/records/42",
 "GET /v2/domains/example.com/records/42"]
--- more_headers eval
["Authorization: Bearer $::tok{b1}",
 "Authorization: Bearer $::tok{b1}",
 "Authorization: Bearer $::tok{b1}",
 "Authorization: Bearer $::tok{b1}",
 "Authorization: Bearer $::tok{b2}",
 "Authorization: Bearer $::tok{b1}"]
--- error_code eval
[403, 201, 200, 403, 403, 403]
--- response_body_like eval
[qr/403 Forbidden/,
 qr/^\{"domain_record":\{"id":42,"type":"TXT"\}\}\z/,
 qr/^upstream: DELETE \/v2\/domains\/example.com\/records\/42 \[DELETE \/v2\/domains\/example.com\/records\/42\] \[Bearer cred-b1\]$/,
 qr/403 Forbidden/, qr/403 Forbidden/, qr/403 Forbidden/]
--- no_error_log
[error]
[alert]



=== TEST 2: a failed create (4xx) grants nothing
--- request eval
["POST /v2/domains/example.com/records?fail=1\n{}",
 "DELETE /v2/domains/example.com/records/42"]
--- more_headers eval
["Authorization: Bearer $::tok{b3}", "Authorization: Bearer $::tok{b3}"]
--- error_code eval
[422, 403]
--- response_body_like eval
[qr/^\{"domain_record":\{"id":42\}\}\z/, qr/403 Forbidden/]
--- no_error_log
[error]
[alert]



=== TEST 3: a compressed response grants nothing
--- request eval
["POST /v2/domains/example.com/records?gzip=1\n{}",
 "DELETE /v2/domains/example.com/records/42"]
--- more_headers eval
["Authorization: Bearer $::tok{b4}", "Authorization: Bearer $::tok{b4}"]
--- error_code eval
[201, 403]
--- no_error_log
[alert]



=== TEST 4: a compressed response: logged, and passed on as it is
--- request
POST /v2/domains/example.com/records?gzip=1
{}
--- more_headers eval
"Authorization: Bearer $::tok{b8}"
--- error_code: 201
--- response_headers
Content-Encoding: gzip
--- response_body: {"domain_record":{"id":42,"type":"TXT"}}
--- error_log eval
qr/\[warn\] .*magic_token_grant: a response with Content-Encoding "gzip" grants nothing \(token [0-9a-f]{16}\)/
--- no_error_log
[alert]



=== TEST 5: a chunked response (no Content-Length) grants
--- request eval
["POST /v2/domains/example.com/records?chunked=1\n{}",
 "DELETE /v2/domains/example.com/records/43"]
--- more_headers eval
["Authorization: Bearer $::tok{b5}", "Authorization: Bearer $::tok{b5}"]
--- error_code eval
[201, 200]
--- response_body_like eval
[qr/^\{"domain_record":\{"id":43\}\}\z/,
 qr/^upstream: DELETE \/v2\/domains\/example.com\/records\/43 /]
--- no_error_log
[error]
[alert]



=== TEST 6: a token without the grant's scope makes no grant
--- request eval
["POST /v2/domains/example.com/records\n{}",
 "DELETE /v2/domains/example.com/records/42"]
--- more_headers eval
["Authorization: Bearer $::tok{allowed}",
 "Authorization: Bearer $::tok{allowed}"]
--- error_code eval
[201, 403]
--- no_error_log
[error]
[alert]



=== TEST 7: a grant without a body value, on an exact status
--- request eval
["GET /jobs/status",
 "POST /jobs\n{}",
 "GET /jobs/status",
 "GET /jobs/status?x=1"]
--- more_headers eval
[("Authorization: Bearer $::tok{jobs}") x 4]
--- error_code eval
[403, 202, 200, 200]
--- response_body_like eval
[qr/403 Forbidden/, qr/^upstream: POST \/jobs \[POST \/jobs\]/,
 qr/^upstream: GET \/jobs\/status \[GET \/jobs\/status\]/,
 qr/^upstream: GET \/jobs\/status /]
--- no_error_log
[error]
[alert]



=== TEST 8: status=202: a 200 grants nothing
--- http_config eval
$::http_config =~ s/status=202/status=201/r
--- request eval
["POST /jobs\n{}", "GET /jobs/status"]
--- more_headers eval
[("Authorization: Bearer $::tok{jobs2}") x 2]
--- error_code eval
[202, 403]
--- no_error_log
[alert]



=== TEST 9: the request check runs before the grants: an unsafe path is refused
--- request eval
["POST /v2/domains/example.com/records\n{}",
 "DELETE /v2/domains/example.com/records/x/../42",
 "DELETE /v2/domains/example.com/records/42%2F",
 "DELETE /v2/domains/example.com/records/42"]
--- more_headers eval
[("Authorization: Bearer $::tok{b7}") x 4]
--- error_code eval
[201, 200, 403, 200]
--- no_error_log
[alert]



=== TEST 10: with magic_token_cache: the cached token makes and uses grants
--- config
    location / {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_cache size=10;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_set_header X-Scope $magic_token_scope;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request eval
["GET /v2/domains/example.com/records",
 "POST /v2/domains/example.com/records\n{}",
 "DELETE /v2/domains/example.com/records/42",
 "DELETE /v2/domains/example.com/records/42"]
--- more_headers eval
["Authorization: Bearer $::tok{b9}", "Authorization: Bearer $::tok{b9}",
 "Authorization: Bearer $::tok{b9}", "Authorization: Bearer $::tok{b1}"]
--- error_code eval
[403, 201, 200, 403]
--- no_error_log
[error]
[alert]
