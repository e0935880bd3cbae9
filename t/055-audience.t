# A token works only for its API: "nginx -t" warns when two locations
# that forward to different upstreams trust the same key and one token
# could pass both (no magic_token_audience, or a common one); requests
# show a token minted for one API refused at the other.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;

our %tok = (
    github => mint(credential => 'cred-gh', allowed => ['GET /.*'],
                   claims => { aud => '"github"' }),
    do     => mint(credential => 'cred-do', allowed => ['GET /.*'],
                   claims => { aud => '"digitalocean"' }),
    none   => mint(credential => 'cred-none', allowed => ['GET /.*']),
);

my $K = keys_dir();
my $O = other_keys_dir();
my $WARN = qr/\[warn\] .*magic_token: locations "\/gh\/" and "\/do\/" trust the same key and forward to different upstreams/;

sub two {
    my (%o) = @_;
    my $gh = $o{gh} // '';
    my $do = $o{do} // '';
    my $up_gh = $o{up_gh} // 'http://127.0.0.1:9001';
    my $up_do = $o{up_do} // 'http://127.0.0.1:9002';
    return ($o{http} // "magic_token_key $K/private.pem;\n") . <<"_EOC_";
server {
    listen 127.0.0.1:9000;
    location /gh/ { magic_token on; $gh proxy_pass $up_gh; }
    location /do/ { magic_token on; $do proxy_pass $up_do; }
    location /static/ { magic_token on; magic_token_key $K/private.pem;
                        return 204; }
}
_EOC_
}

for my $case (
    ['no audience anywhere', two(), $WARN, qr/accept tokens of any audience/],
    ['one location without', two(gh => 'magic_token_audience github;'),
     $WARN, qr/any audience/],
    ['a common audience',
     two(gh => 'magic_token_audience api;', do => 'magic_token_audience api ops;'),
     $WARN, qr/accept a common audience/],
    ['the same key file named twice',
     two(http => '', gh => "magic_token_key $K/private.pem;",
         do => "magic_token_key $K/private.pem;"), $WARN, qr//],
    ['proxy_pass with a variable (upstream unknown)',
     two(up_do => 'http://127.0.0.1:9002$request_uri'), $WARN, qr//],
) {
    my ($what, $conf, $re, $re2) = @$case;
    my ($rc, $err) = nginx_config_check($conf);
    Test::More::is($rc, 0, "$what: nginx -t passes") or Test::More::diag($err);
    Test::More::like($err, $re, "$what: warned") or Test::More::diag($err);
    Test::More::like($err, $re2, "$what: the reason");
}

for my $case (
    ['an audience each',
     two(gh => 'magic_token_audience github;', do => 'magic_token_audience digitalocean;')],
    ['"none" on one side', two(do => 'magic_token_audience none;')],
    ['the same upstream',  two(up_do => 'http://127.0.0.1:9001')],
    ['the same upstream{}',
     "upstream api { server 127.0.0.1:9001; }\n"
     . two(up_gh => 'http://api/', up_do => 'http://api')],
    ['different keys',
     two(http => '', gh => "magic_token_key $K/private.pem;",
         do => "magic_token_key $O/private.pem;")],
) {
    my ($what, $conf) = @$case;
    my ($rc, $err) = nginx_config_check($conf);
    Test::More::is($rc, 0, "$what: nginx -t passes") or Test::More::diag($err);
    Test::More::unlike($err, qr/\[warn\].*magic_token: locations/,
                       "$what: no warning") or Test::More::diag($err);
}

default_config(<<'_EOC_');
    location /gh/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_audience github;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
    location /do/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_audience digitalocean;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
_EOC_

run_tests();

__DATA__

=== TEST 1: a GitHub token at GitHub
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $main::tok{github}"
--- response_body
auth=[Bearer cred-gh] method=GET uri=/gh/user
--- error_code: 200

=== TEST 2: the GitHub token at DigitalOcean: refused, nothing forwarded
--- request
GET /do/v2/account
--- more_headers eval
"Authorization: Bearer $main::tok{github}"
--- error_code: 401
--- response_body_unlike: cred-gh
--- response_headers_like
WWW-Authenticate: Bearer realm="magic-token", error="invalid_token"

=== TEST 3: the DigitalOcean token at DigitalOcean
--- request
GET /do/v2/account
--- more_headers eval
"Authorization: Bearer $main::tok{do}"
--- response_body
auth=[Bearer cred-do] method=GET uri=/do/v2/account
--- error_code: 200

=== TEST 4: a token without an audience is refused by both
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $main::tok{none}"
--- error_code: 401
