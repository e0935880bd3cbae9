# magic_token_revocation and magic_token_admin: what "nginx -t" says
# about them and about the revocations file, and the check where
# t/091-revoke.t does not look: per location (off), in subrequests.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;
use File::Temp ();

our %tok;
$tok{revoked} = mint(credential => 'cred-rev', jti => 'rev-1',
                     allowed => ['GET /.*']);
$tok{admin} = mint(claims => { admin => 'true' });
$tok{fine} = mint(credential => 'cred-fine', jti => 'fine-1',
                  allowed => ['GET /.*']);

my $dir = File::Temp::tempdir('mt-092-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;

sub write_file {
    my ($name, $content) = @_;
    open my $fh, '>', "$dir/$name" or die "$dir/$name: $!";
    print $fh $content;
    close $fh;
    chmod 0666, "$dir/$name";
    return "$dir/$name";
}

my $header = "magic-token-revocations 1\n";
$ENV{TEST_NGINX_REVOKED} = write_file('revoked', $header
    . '{"jti":"rev-1","until":' . (time + 3600) . "}\n");
my $empty = write_file('empty', $header);
my $bad = write_file('bad', $header . "{\"jti\":\"a\",\"until\":1}\n"
                     . "{\"jti\":\"b\",\"until\":\"soon\"}\n");
my $key = keys_dir() . '/private.pem';

{
    for my $case (
        ['an undefined zone',
         "magic_token_revocation zone=nope;",
         qr/unknown magic_token_zone "nope" in \S+:\d+/],
        ['a zone without a file',
         "magic_token_zone z:1m;\nmagic_token_revocation zone=z;",
         qr/magic_token_zone "z" has no revocations= file, which the revocations in \S+:\d+ need/],
        ['a bad parameter',
         "magic_token_zone z:1m revocations=$empty;\nmagic_token_revocation z;",
         qr/invalid parameter "z", expected zone=name or off/],
        ['an empty zone name',
         "magic_token_revocation zone=;",
         qr/empty zone name/],
        ['twice',
         "magic_token_zone z:1m revocations=$empty;\n"
         . "magic_token_revocation zone=z;\nmagic_token_revocation off;",
         qr/"magic_token_revocation" directive is duplicate/],
        ['admin in a server',
         "magic_token_zone z:1m revocations=$empty;\n"
         . "server { magic_token_admin zone=z; }",
         qr/"magic_token_admin" directive is not allowed here/],
        ['admin without keys',
         "magic_token_zone z:1m revocations=$empty;\n"
         . "server { location /a { magic_token_admin zone=z; } }",
         qr/"magic_token_admin" in location "\/a" needs "magic_token_key" or "magic_token_secret"/],
        ['admin, a bad parameter',
         "magic_token_zone z:1m revocations=$empty;\n"
         . "server { location /a { magic_token_key $key; magic_token_admin z; } }",
         qr/invalid parameter "z", expected zone=name/],
        ['admin, an undefined zone',
         "server { location /a { magic_token_key $key; magic_token_admin zone=q; } }",
         qr/unknown magic_token_zone "q"/],
        ['a missing file',
         "magic_token_zone z:1m revocations=$dir/missing;",
         qr/revocations file "\Q$dir\E\/missing" of magic_token_zone "z" does not exist: create it with "magic-token revoke \Q$dir\E\/missing init"/],
        ['a bad record',
         "magic_token_zone z:1m revocations=$bad;",
         qr/revocations file "\Q$bad\E" of magic_token_zone "z", line 3: "until" must be a time/],
    ) {
        my ($what, $conf, $re) = @$case;
        my ($rc, $err) = nginx_config_check("$conf\n");
        Test::More::isnt($rc, 0, "nginx -t refuses $what");
        Test::More::like($err, $re, "$what: the message")
            or Test::More::diag($err);
    }

    my ($rc, $err) = nginx_config_check(
        "magic_token_zone z:1m revocations=$empty;\n"
        . "magic_token_revocation zone=z;\n"
        . "server { location /a { magic_token_key $key; "
        . "magic_token_admin zone=z; } }\n");
    Test::More::is($rc, 0, 'nginx -t accepts checks and an admin location')
        or Test::More::diag($err);
}

# conf-examples/revocation.conf passes "nginx -t" (with the module built
# here, the test keys and an empty revocations file)
{
    my $prefix = "$dir/prefix";
    mkdir $_ or die "$_: $!"
        for $prefix, map { "$prefix/$_" }
            qw(conf conf/magic-token conf/magic-token-admin logs tmp);
    open my $in, '<', repo_root() . '/conf-examples/revocation.conf'
        or die "revocation.conf: $!";
    my $conf = do { local $/; <$in> };
    close $in;
    my $module = module_path();
    $conf =~ s{^load_module \S+;}{load_module $module;}m
        or die "no load_module line";
    open my $out, '>', "$prefix/conf/nginx.conf" or die $!;
    print $out $conf;
    close $out;
    for my $d (qw(magic-token magic-token-admin)) {
        system('cp', $key, "$prefix/conf/$d/private.pem") == 0 or die;
    }
    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $cmd = "$nginx -t -q -p $prefix/ -c conf/nginx.conf "
              . "-e $prefix/logs/error.log 2>&1";
    my $t = `$cmd`;
    Test::More::isnt($? >> 8, 0, 'revocation.conf: refused without its file');
    Test::More::like($t, qr/does not exist: create it with "magic-token revoke \S+ init"/,
                     '... which it says how to create');
    write_file('prefix/revoked', $header);
    $t = `$cmd`;
    Test::More::is($? >> 8, 0, 'conf-examples/revocation.conf passes nginx -t')
        or Test::More::diag($t);
}

default_http_config(<<'_EOC_');
    magic_token_zone rv:1m revocations=$TEST_NGINX_REVOKED;
_EOC_

run_tests();

__DATA__

=== TEST 1: a token in the file is refused
--- config
    location /r/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_revocation zone=rv;
        add_header X-Err $magic_token_error always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /r/x
--- more_headers eval
"Authorization: Bearer $::tok{revoked}"
--- error_code: 401
--- response_headers
X-Err: revoked
--- log_level: info
--- error_log
magic_token: denied: revoked (token
--- no_error_log
cred-rev



=== TEST 2: another token is not
--- config
    location /r/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_revocation zone=rv;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /r/x
--- more_headers eval
"Authorization: Bearer $::tok{fine}"
--- error_code: 200
--- response_body_like: ^auth=\[Bearer cred-fine\]



=== TEST 3: magic_token_revocation off in a location
--- config
    magic_token_revocation zone=rv;
    location /r/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_revocation off;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
    location /s/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request eval
["GET /r/x", "GET /s/x"]
--- more_headers eval
"Authorization: Bearer $::tok{revoked}"
--- error_code eval
[200, 401]



=== TEST 4: a subrequest into a location that checks revocations is refused
--- http_config
    magic_token_zone rv:1m revocations=$TEST_NGINX_REVOKED;
    server {
        listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location = /page {
            default_type text/html;
            return 200 '[<!--# include virtual="/api/x" -->]';
        }
        location / {
            return 200 "auth=[$http_authorization]\n";
        }
    }
--- config
    location /ssi/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        ssi on;
        proxy_set_header Authorization "";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location /api/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_revocation zone=rv;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
--- request
GET /ssi/page
--- more_headers eval
"Authorization: Bearer $::tok{revoked}"
--- error_code: 200
--- response_body_like: ^\[<html>.*401 Authorization Required.*\]$
--- response_body_unlike: cred-rev
--- log_level: info
--- error_log
magic_token: denied: revoked
subrequest: "/api/x"



=== TEST 5: the admin API answers no subrequest
--- http_config
    magic_token_zone rv:1m revocations=$TEST_NGINX_REVOKED;
    server {
        listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location = /page {
            default_type text/html;
            return 200 '[<!--# include virtual="/admin" -->]';
        }
    }
--- config
    location /ssi/ {
        ssi on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location = /admin {
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_admin zone=rv;
    }
--- request
GET /ssi/page
--- more_headers eval
"Authorization: Bearer $::tok{admin}"
--- error_code: 200
--- response_body_like: ^\[\{"error":"forbidden","detail":"not in a subrequest"\}\n\]$
