# magic_token_zone: the shared memory zone's own directive.  What the
# features keep in it is tested in their suites (t/091-...); here only
# what "nginx -t" says about the directive, and a zone that serves.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;
use File::Temp ();

our $tok = mint(credential => 'cred-zone', allowed => ['GET /z/.*']);

{
    my ($rc, $err) = nginx_config_check("magic_token_zone tokens:1m;\n");
    Test::More::is($rc, 0, 'nginx -t accepts a zone') or Test::More::diag($err);

    # an existing revocations file (t/091-revoke.t for the rest)
    my (undef, $rfile) = File::Temp::tempfile('mt-090-r-XXXXXX', TMPDIR => 1,
                                              UNLINK => 1);
    open my $rfh, '>', $rfile or die "$rfile: $!";
    print $rfh "magic-token-revocations 1\n";
    close $rfh;

    ($rc, $err) = nginx_config_check(
        "magic_token_zone tokens:1m revocations=$rfile;\n");
    Test::More::is($rc, 0, 'nginx -t accepts a zone with a revocation file')
        or Test::More::diag($err);

    for my $case (
        ['no size',        "magic_token_zone tokens;",
         qr/invalid zone "tokens", expected name:size/],
        ['no name',        "magic_token_zone :1m;",
         qr/invalid zone ":1m", expected name:size/],
        ['bad size',       "magic_token_zone tokens:lots;",
         qr/invalid zone size "tokens:lots"/],
        ['too small',      "magic_token_zone tokens:1k;",
         qr/zone "tokens:1k" is too small, at least \d+k/],
        ['duplicate',      "magic_token_zone t:1m;\nmagic_token_zone t:2m;",
         qr/duplicate magic_token_zone "t", first defined in \S+:\d+/],
        ['bad parameter',  "magic_token_zone t:1m ttl=5;",
         qr/invalid parameter "ttl=5"/],
        ['empty file',     "magic_token_zone t:1m revocations=;",
         qr/"revocations=" needs a file/],
        ['in a server',    "server { magic_token_zone t:1m; }",
         qr/"magic_token_zone" directive is not allowed here/],
    ) {
        my ($what, $conf, $re) = @$case;
        my ($rc, $err) = nginx_config_check("$conf\n");
        Test::More::isnt($rc, 0, "nginx -t refuses a zone: $what");
        Test::More::like($err, $re, "zone, $what: the message") or Test::More::diag($err);
    }
}

run_tests();

__DATA__

=== TEST 1: a configuration with a zone serves tokens as before
--- http_config
    magic_token_zone tokens:1m;
--- config
    location /z/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /z/a
--- more_headers eval
"Authorization: Bearer $::tok"
--- error_code: 200
--- response_body_like: ^auth=\[Bearer cred-zone\]
--- no_error_log
[error]
[alert]
