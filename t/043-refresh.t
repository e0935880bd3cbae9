# Refresh tokens at the issuer: {"refresh": true} returns an access token
# and a refresh token; the refresh token is refused everywhere but at the
# issuer, where it buys new access tokens with the same or a narrower
# grant.  A real nginx with a real upstream; plain Test::More, as the
# flow needs the answer of one request to build the next.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(decode_base64 encode_base64url);
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use MagicToken::Standalone;

my $root   = abs_path(dirname(__FILE__) . '/..');
my $nginx  = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $module = $ENV{MAGIC_TOKEN_MODULE}
             || "$root/build/ngx_http_magic_token_module.so";
my $python = $ENV{PYTHON} || '/usr/bin/python3';
my $port   = ($ENV{TEST_NGINX_SERVER_PORT} || 1984) + 30;
my $up     = $port + 1;

plan skip_all => "no module at $module" unless -f $module;

my $prefix = tempdir(CLEANUP => 1);
make_path("$prefix/conf/keys", "$prefix/logs");

system($python, "$root/t/tools/mtmint.py", 'keygen', "$prefix/conf/keys") == 0
    or BAIL_OUT('keygen failed');

# a Lockbox-style secret shared with other services, trusted by the
# same locations (for tokens without credentials)
my $shared = 'shared-with-other-services-' . ('s' x 16);
open my $sf, '>', "$prefix/conf/keys/shared.secret" or die $!;
print $sf $shared;
close $sf;

open my $fh, '>', "$prefix/conf/nginx.conf" or die $!;
print $fh <<"EOF";
@{[ standalone_head($prefix) ]}
    magic_token_key keys/private.pem;
    magic_token_secret keys/shared.secret;
    map \$uri \$api_path { "~(?s)^/api(?<p>/.*)\\z" \$p; default ""; }
    server {
        listen 127.0.0.1:$port;
        location = /mint {
            magic_token_issuer;
            magic_token_issuer_max_ttl 60s;
            magic_token_issuer_refresh_ttl 1h;
        }
        location = /mint-norefresh { magic_token_issuer; }
        location /api/ {
            magic_token on;
            magic_token_scope_required off;
            magic_token_scope_uri \$api_path;
            proxy_set_header Authorization "Bearer \$magic_token_credential";
            proxy_pass http://127.0.0.1:$up/;
        }
    }
    server {
        listen 127.0.0.1:$up;
        location / { return 200 "auth=[\$http_authorization] uri=\$uri\\n"; }
    }
}
EOF
close $fh;

sub http {
    my ($method, $path, $body, $token) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5) or die "connect: $!";
    my $req = "$method $path HTTP/1.0\r\nHost: localhost\r\n";
    $req .= "Authorization: Bearer $token\r\n" if defined $token;
    if (defined $body) {
        $req .= "Content-Type: application/json\r\n"
                . "Content-Length: " . length($body) . "\r\n";
    }
    print $s $req, "\r\n", $body // '';
    local $/;
    my $resp = <$s> // '';
    my ($status) = $resp =~ m{^HTTP/1\.\d (\d+)};
    my ($head, $content) = split /\r\n\r\n/, $resp, 2;
    return { status => $status // 0, head => $head // '',
             body => $content // '' };
}

sub claims {
    my (undef, $p) = split /\./, $_[0];
    $p =~ tr{-_}{+/};
    $p .= '=' x (-length($p) % 4);
    return decode_json(decode_base64($p));
}

is(system($nginx, '-p', "$prefix/", '-c', 'conf/nginx.conf',
          '-e', 'logs/error.log'), 0, 'nginx starts');

END {
    if (open my $p, '<', "$prefix/logs/nginx.pid") {
        my $pid = <$p>;
        kill 'QUIT', $pid if $pid;
        select undef, undef, undef, 0.3;
    }
}

for (1 .. 50) {
    last if IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port");
    select undef, undef, undef, 0.1;
}

my $json = JSON::PP->new->canonical;

# without "refresh": magic-api-proxy's plain answer
my $r = http('POST', '/mint',
             '{"token":"cred-1","allowed":["GET /user","GET /repos/.*"]}');
is($r->{status}, 200, 'mint without refresh');
like($r->{head}, qr{Content-Type: application/jwt}i, 'plain JWT answer');

# with "refresh": a JSON answer with both tokens
$r = http('POST', '/mint', $json->encode({
    token => 'cred-1', allowed => ['GET /user', 'GET /repos/.*'],
    refresh => JSON::PP::true, sub => 'bot-7' }));
is($r->{status}, 200, 'mint with refresh');
like($r->{head}, qr{Content-Type: application/json}i, 'JSON answer');
like($r->{head}, qr{Cache-Control: no-store}i, 'not cacheable');

my $a = decode_json($r->{body});
is($a->{token_type}, 'Bearer', 'token_type Bearer');
ok($a->{expires_in} > 0 && $a->{expires_in} <= 60, 'expires_in capped');
ok($a->{access_token} && $a->{refresh_token}, 'both tokens');

my $rc = claims($a->{refresh_token});
ok($rc->{mt_refresh}, 'refresh grant under mt_refresh');
ok(!exists $rc->{allowed} && !exists $rc->{scopes},
   'no top-level grant in the refresh token');
ok($rc->{exp} - $rc->{iat} > 3000, 'refresh token lives longer');
is($rc->{sub}, 'bot-7', 'sub carried');

# the access token works, the refresh token does not
$r = http('GET', '/api/user', undef, $a->{access_token});
is($r->{status}, 200, 'access token accepted');
like($r->{body}, qr/auth=\[Bearer cred-1\]/, 'upstream gets the credential');

$r = http('GET', '/api/user', undef, $a->{refresh_token});
is($r->{status}, 401, 'refresh token refused as an access token');

# refreshing: the same grant, then a narrower one
$r = http('POST', '/mint',
          $json->encode({ refresh_token => $a->{refresh_token} }));
is($r->{status}, 200, 'refresh with the same grant');
my $n = decode_json($r->{body});
ok(!exists $n->{refresh_token}, 'no new refresh token unless asked');
is_deeply(claims($n->{access_token})->{allowed},
          ['GET /user', 'GET /repos/.*'], 'same grant');
isnt(claims($n->{access_token})->{jti}, claims($a->{access_token})->{jti},
     'new jti');
is(http('GET', '/api/repos/x', undef, $n->{access_token})->{status}, 200,
   'refreshed token works');

$r = http('POST', '/mint', $json->encode({
    refresh_token => $a->{refresh_token}, allowed => ['GET /user'] }));
is($r->{status}, 200, 'refresh with a narrower grant');
$n = decode_json($r->{body});
is(http('GET', '/api/user', undef, $n->{access_token})->{status}, 200,
   'narrowed token: allowed entry works');
like(http('GET', '/api/user', undef, $n->{access_token})->{body},
     qr/auth=\[Bearer cred-1\]/, 'narrowed token carries the credential');
is(http('GET', '/api/repos/x', undef, $n->{access_token})->{status}, 403,
   'narrowed token: dropped entry refused');

# widening, bad and foreign tokens
$r = http('POST', '/mint', $json->encode({
    refresh_token => $a->{refresh_token}, allowed => ['DELETE /user'] }));
is($r->{status}, 400, 'widening refused');
like($r->{body}, qr/only narrow/, 'with a reason');

$r = http('POST', '/mint', $json->encode({
    refresh_token => $a->{access_token} }));
is($r->{status}, 400, 'an access token is no refresh token');

my $t = $a->{refresh_token};
substr($t, -5, 1) = substr($t, -5, 1) eq 'A' ? 'B' : 'A';
$r = http('POST', '/mint', $json->encode({ refresh_token => $t }));
is($r->{status}, 400, 'tampered refresh token refused');
like($r->{body}, qr/invalid refresh token/, 'with a reason');

$r = http('POST', '/mint', $json->encode({
    refresh_token => $a->{refresh_token}, token => 'other' }));
is($r->{status}, 400, 'refresh_token with token refused');

$r = http('POST', '/mint', $json->encode({
    refresh_token => $a->{refresh_token}, refresh => JSON::PP::true }));
is($r->{status}, 400, 'a refresh token is not renewed by itself');
like($r->{body}, qr/not renewed/, 'with a reason');

$r = http('POST', '/mint-norefresh', $json->encode({
    token => 'x', allowed => ['GET /'], refresh => JSON::PP::true }));
is($r->{status}, 400, 'refresh not enabled');
like($r->{body}, qr/magic_token_issuer_refresh_ttl/, 'says how to enable');

# whoever holds the shared secret wraps the credential ciphertext of
# somebody else's token into tokens of their own making
sub hs256 {
    my ($claims) = @_;
    my $si = encode_base64url('{"alg":"HS256","typ":"JWT"}') . '.'
             . encode_base64url($json->encode($claims));
    return $si . '.' . encode_base64url(hmac_sha256($si, $shared));
}

my $forged = claims($a->{refresh_token});
$forged->{mt_refresh}{allowed} = ['* /.*'];
$forged->{exp} = time + 3600;
$r = http('POST', '/mint', $json->encode({ refresh_token => hs256($forged) }));
is($r->{status}, 400,
   'a refresh grant signed with another key of the location is refused');
like($r->{body}, qr/invalid refresh token \(untrusted_key\)/, 'with a reason');

my $wide = claims($a->{access_token});
$wide->{allowed} = ['* /.*'];
$r = http('GET', '/api/admin', undef, hs256($wide));
is($r->{status}, 401,
   'an access token around a copied credential, signed with the shared '
   . 'secret, is refused');
unlike($r->{body}, qr/cred-1/, 'and the credential is not forwarded');

my $nocred = claims($a->{access_token});
delete $nocred->{token};
$r = http('GET', '/api/user', undef, hs256($nocred));
is($r->{status}, 200, 'the shared secret still signs tokens without a '
   . 'credential');

my $log = do { local (@ARGV, $/) = "$prefix/logs/error.log"; <> };
like($log, qr/denied: untrusted_key/, 'logged as untrusted_key');
unlike($log, qr/cred-1/, 'no credential in the error log');
unlike($log, qr/\Q$a->{refresh_token}\E/, 'no refresh token in the log');

done_testing();
