# Interoperability with third-party JOSE libraries, through a real nginx
# started by this file on TEST_NGINX_SERVER_PORT + 20 (echo upstream on
# + 21):
#
#   * tokens minted by Python jwcrypto and PyJWT and by the npm "jose"
#     package (RS256, PS256, ES256, EdDSA; the credential in
#     magic-api-proxy's base64 RSA-OAEP-256 form or as a compact JWE) are
#     accepted by a protected location, whose upstream receives the
#     credential; requests outside their scopes are refused;
#   * tokens minted by the nginx issuer endpoint verify in PyJWT, jwcrypto
#     and jose with the public key alone (and fail with another key or
#     another alg); their "token" claim decrypts to the credential with
#     python cryptography (OAEP-SHA256, magic-api-proxy's format), node
#     crypto, jwcrypto and jose (JWE).
#
# Plain Test::More.  Parts whose tools are missing are skipped:
#   Python: $ENV{PYTHON} or /usr/bin/python3 (Debian's, with python3-jwcrypto,
#           python3-jwt, python3-cryptography -- not a pyenv python3);
#   jose:   node, and t/tools/interop/node_modules (this file runs
#           "npm install --no-audit --no-fund" there when it is missing;
#           MAGIC_TOKEN_NO_NPM=1 prevents that).
# Keys are made with the openssl command line.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP ();
use MIME::Base64 qw(decode_base64url encode_base64url);
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use MagicToken::Standalone;

my $root    = abs_path(dirname(__FILE__) . '/..');
my $nginx   = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $module  = $ENV{MAGIC_TOKEN_MODULE}
              || "$root/build/ngx_http_magic_token_module.so";
my $python  = $ENV{PYTHON} || '/usr/bin/python3';
my $tools   = "$root/t/tools/interop";
my $port    = ($ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984) + 20;
my $up      = $port + 1;

plan skip_all => "no module at $module" unless -f $module;
plan skip_all => "no nginx at $nginx" unless -x $nginx;
plan skip_all => 'no openssl command' if system('openssl version >/dev/null 2>&1') != 0;

my $JSON = JSON::PP->new->canonical;
my $dir = tempdir('mt-interop-XXXXXX', TMPDIR => 1, CLEANUP => 1);
make_path("$dir/conf", "$dir/logs", "$dir/keys");
my $KD = "$dir/keys";

# run(@argv) -> (exit status, stdout, stderr); never through a shell
sub run {
    my @argv = @_;
    my $err = "$dir/stderr.$$";
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>', $err or die "$err: $!";
        exec(@argv) or die "exec $argv[0]: $!";
    }
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    my $rc = $? >> 8;
    my $stderr = -f $err ? do { local (@ARGV, $/) = $err; <> } // '' : '';
    unlink $err;
    return ($rc, $out, $stderr);
}

sub openssl { my ($rc, undef, $e) = run('openssl', @_); die "openssl @_[0..1]: $e" if $rc }

# keys: RSA 2048 (signs and decrypts), EC P-256, Ed25519, and another RSA
openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', "$KD/rsa.pem");
openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', "$KD/other.pem");
openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', "$KD/ec.pem");
openssl('genpkey', '-algorithm', 'ED25519', '-out', "$KD/ed.pem");
openssl('pkey', '-in', "$KD/$_.pem", '-pubout', '-out', "$KD/$_.pub.pem") for qw(rsa other ec ed);
chmod 0600, glob("$KD/*.pem");

# --- what is available ------------------------------------------------------

my %have;
for my $m (['crypto', 'cryptography'], ['jwcrypto', 'jwcrypto'], ['pyjwt', 'jwt']) {
    my ($rc) = run($python, '-c', "import $m->[1]");
    $have{ $m->[0] } = $rc == 0;
}
my $why_jose = '';
{
    my ($rc) = run('node', '--version');
    if ($rc != 0) {
        $why_jose = 'node is not installed';
    } elsif (!-d "$tools/node_modules/jose") {
        if ($ENV{MAGIC_TOKEN_NO_NPM}) {
            $why_jose = "no $tools/node_modules/jose and MAGIC_TOKEN_NO_NPM is set";
        } else {
            my ($nrc, $out, $err) = run('sh', '-c',
                "cd '$tools' && timeout 180 npm install --no-audit --no-fund --loglevel=error");
            $why_jose = "npm install of jose in $tools failed (no network?): "
                        . (split /\n/, $err || $out || "exit $nrc")[0]
                if $nrc != 0 || !-d "$tools/node_modules/jose";
        }
    }
    $have{jose} = !$why_jose;
}
diag("interop: $python: cryptography=" . ($have{crypto} ? 'yes' : 'NO')
     . " jwcrypto=" . ($have{jwcrypto} ? 'yes' : 'NO')
     . " PyJWT=" . ($have{pyjwt} ? 'yes' : 'NO')
     . "; jose: " . ($have{jose} ? 'yes' : "NO ($why_jose)"));

# --- nginx -------------------------------------------------------------------

open my $cf, '>', "$dir/conf/nginx.conf" or die "$dir: $!";
print $cf <<"_EOC_";
@{[ standalone_head($dir) ]}
    magic_token_scope read-user "GET /api/user" "GET /api/user/repos";

    server {
        listen 127.0.0.1:$port;

        # magic-api-proxy's format: RS256, base64 RSA-OAEP-256 credential
        location = /__magictoken {
            magic_token_issuer;
            magic_token_key $KD/rsa.pem;
        }
        location = /iss/ps {
            magic_token_issuer;
            magic_token_issuer_key $KD/rsa.pem alg=PS256 kid=ps-1;
        }
        location = /iss/ec {
            magic_token_issuer;
            magic_token_issuer_key $KD/ec.pem kid=ec-1 jwe=ECDH-ES enc=A256GCM;
        }
        location = /iss/ed {
            magic_token_issuer;
            magic_token_issuer_key $KD/ed.pem encrypt=$KD/rsa.pem;
        }
        location = /iss/jwe {
            magic_token_issuer;
            magic_token_issuer_key $KD/rsa.pem jwe=RSA-OAEP-256 enc=A256GCM;
        }

        location /api/ {
            magic_token on;
            magic_token_key $KD/rsa.pem;
            magic_token_key $KD/ec.pem;
            magic_token_key $KD/ed.pem;
            proxy_set_header Authorization "Bearer \$magic_token_credential";
            proxy_pass http://127.0.0.1:$up;
        }
    }

    server {
        listen 127.0.0.1:$up;
        location / {
            return 200 "auth=[\$http_authorization] method=\$request_method uri=\$request_uri\\n";
        }
    }
}
_EOC_
close $cf;

{
    my ($rc, $out, $err) = run($nginx, '-p', "$dir/", '-c', 'conf/nginx.conf',
                               '-e', 'logs/error.log');
    BAIL_OUT("nginx does not start: $err") if $rc;
}

my $owner = $$;
sub stop_nginx {
    open my $pf, '<', "$dir/logs/nginx.pid" or return;
    chomp(my $pid = <$pf> // '');
    close $pf;
    return unless $pid =~ /^\d+$/;
    kill 'QUIT', $pid;
    for (1 .. 50) { last unless kill 0, $pid; select undef, undef, undef, 0.1 }
    kill 'KILL', $pid if kill 0, $pid;
}
END { stop_nginx() if $$ == $owner }

sub http {
    my ($method, $path, $body, @hdr) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 10)
        or return { status => 0, body => "connect: $!" };
    my $req = "$method $path HTTP/1.0\r\nHost: localhost\r\n";
    $req .= "$_\r\n" for @hdr;
    $req .= "Content-Length: " . length($body) . "\r\n" if defined $body;
    print $s $req . "\r\n" . ($body // '');
    local $/;
    my $raw = <$s> // '';
    my ($head, $rbody) = split /\r\n\r\n/, $raw, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.\d (\d+)};
    return { status => $status // 0, body => $rbody // '' };
}

for (1 .. 50) {
    last if http('GET', '/__magictoken')->{status} == 200;
    select undef, undef, undef, 0.1;
}

sub api { http($_[0], $_[1], undef, "Authorization: Bearer $_[2]") }
sub echo_body { "auth=[Bearer $_[0]] method=$_[1] uri=$_[2]\n" }

my $seq = 0;
sub cred_file {
    my $f = "$dir/cred." . ++$seq;
    open my $fh, '>', $f or die "$f: $!";
    binmode $fh;
    print $fh $_[0];
    close $fh;
    return $f;
}

my @all_creds;

# A token made elsewhere is accepted: the upstream gets the credential for an
# allowed request, and a request outside the scopes is refused.
sub accepted {
    my ($what, $cred, $rc, $tok, $err) = @_;
    push @all_creds, $cred;
    chomp $tok;
    ok($rc == 0 && $tok =~ /^[\w-]+\.[\w-]+\.[\w-]+$/, "$what: minted")
        or return diag("exit $rc: $err");
    my $r = api('GET', '/api/user', $tok);
    is($r->{status}, 200, "$what: accepted by nginx");
    is($r->{body}, echo_body($cred, 'GET', '/api/user'),
       "$what: the upstream receives the credential");
    is(api('DELETE', '/api/user', $tok)->{status}, 403,
       "$what: a request outside its scope is refused");
}

# --- third-party tokens accepted by nginx --------------------------------------

my %sigkey = (RS256 => 'rsa', PS256 => 'rsa', ES256 => 'ec', EdDSA => 'ed');

SKIP: {
    skip 'python cryptography/jwcrypto/PyJWT missing for Python minting', 1
        unless $have{crypto};
    for my $lib (qw(jwcrypto pyjwt)) {
        SKIP: {
            skip "$lib is not installed for $python", 1 unless $have{$lib};
            for my $alg (qw(RS256 PS256 ES256 EdDSA)) {
                my $cred = "cred-$lib-$alg";
                accepted("$lib $alg (base64 RSA-OAEP-256 credential)", $cred,
                         run($python, "$tools/py_interop.py", 'mint', '--lib', $lib,
                             '--key', "$KD/$sigkey{$alg}.pem", '--alg', $alg,
                             '--credential-file', cred_file($cred),
                             '--enc-key', "$KD/rsa.pub.pem",
                             '--allowed', 'GET /api/user'));
            }
        }
    }

    SKIP: {
        skip "jwcrypto is not installed for $python", 1 unless $have{jwcrypto};
        for my $j (['RSA-OAEP-256', 'A256GCM', 'rsa'], ['RSA-OAEP', 'A128CBC-HS256', 'rsa'],
                   ['ECDH-ES', 'A256GCM', 'ec'], ['ECDH-ES+A256KW', 'A128GCM', 'ec']) {
            my ($jalg, $jenc, $to) = @$j;
            my $cred = "cred-jwcrypto-jwe-$jalg-$jenc";
            accepted("jwcrypto ES256 with a JWE credential $jalg/$jenc", $cred,
                     run($python, "$tools/py_interop.py", 'mint', '--lib', 'jwcrypto',
                         '--key', "$KD/ec.pem", '--alg', 'ES256',
                         '--credential-file', cred_file($cred),
                         '--enc-key', "$KD/$to.pub.pem",
                         '--jwe-alg', $jalg, '--jwe-enc', $jenc,
                         '--allowed', 'GET /api/user'));
        }
    }
}

SKIP: {
    skip "jose: $why_jose", 1 unless $have{jose};
    for my $alg (qw(RS256 PS256 ES256 EdDSA)) {
        my $cred = "cred-jose-$alg";
        accepted("jose $alg (base64 RSA-OAEP-256 credential)", $cred,
                 run('node', "$tools/jose_interop.mjs", 'mint',
                     '--key', "$KD/$sigkey{$alg}.pem", '--alg', $alg,
                     '--credential-file', cred_file($cred),
                     '--enc-key', "$KD/rsa.pub.pem",
                     '--allowed', 'GET /api/user'));
    }
    for my $j (['RSA-OAEP-256', 'A256GCM', 'rsa'], ['RSA-OAEP', 'A256CBC-HS512', 'rsa'],
               ['ECDH-ES', 'A256GCM', 'ec'], ['ECDH-ES+A128KW', 'A128GCM', 'ec']) {
        my ($jalg, $jenc, $to) = @$j;
        my $cred = "cred-jose-jwe-$jalg-$jenc";
        accepted("jose EdDSA with a JWE credential $jalg/$jenc", $cred,
                 run('node', "$tools/jose_interop.mjs", 'mint',
                     '--key', "$KD/ed.pem", '--alg', 'EdDSA',
                     '--credential-file', cred_file($cred),
                     '--enc-key', "$KD/$to.pub.pem",
                     '--jwe-alg', $jalg, '--jwe-enc', $jenc,
                     '--scopes', 'read-user'));
    }
}

# --- issuer tokens verified by the libraries -----------------------------------

my @issuers = (
    # path, alg, public key, key that decrypts the credential, JWE?
    ['/__magictoken', 'RS256', 'rsa', 'rsa', 0],
    ['/iss/ps',       'PS256', 'rsa', 'rsa', 0],
    ['/iss/ec',       'ES256', 'ec',  'ec',  1],
    ['/iss/ed',       'EdDSA', 'ed',  'rsa', 0],
    ['/iss/jwe',      'RS256', 'rsa', 'rsa', 1],
);

for my $i (@issuers) {
    my ($path, $alg, $pub, $dec, $jwe) = @$i;
    my $cred = "ghp_Interop_" . ($path =~ s{\W}{_}gr);
    push @all_creds, $cred;
    my $r = http('POST', $path, $JSON->encode({
        token => $cred, allowed => ['GET /api/user'], ttl => 600,
        sub => 'interop-bot', aud => 'ci' }), 'Content-Type: application/json');
    is($r->{status}, 200, "issuer $path: minted") or next;
    my $tok = $r->{body};
    my ($h, $c) = map { JSON::PP::decode_json(decode_base64url($_)) } (split /\./, $tok)[0, 1];
    is($h->{alg}, $alg, "issuer $path: alg $alg");
    is(api('GET', '/api/user', $tok)->{body}, echo_body($cred, 'GET', '/api/user'),
       "issuer $path: accepted by nginx itself");

    my @verifiers;
    push @verifiers, ['PyJWT', $python, "$tools/py_interop.py", 'verify', '--lib', 'pyjwt']
        if $have{pyjwt} && $have{crypto};
    push @verifiers, ['jwcrypto', $python, "$tools/py_interop.py", 'verify', '--lib', 'jwcrypto']
        if $have{jwcrypto} && $have{crypto};
    push @verifiers, ['jose', 'node', "$tools/jose_interop.mjs", 'verify']
        if $have{jose};

    for my $v (@verifiers) {
        my ($name, @cmd) = @$v;
        my ($rc, $out, $err) = run(@cmd, '--key', "$KD/$pub.pub.pem", '--alg', $alg, $tok);
        is($rc, 0, "issuer $path: $name verifies the signature with the public key")
            or diag($err);
        my $got = eval { JSON::PP::decode_json($out) } || {};
        is_deeply([@{ $got->{claims} || {} }{qw(sub aud allowed)}],
                  ['interop-bot', 'ci', ['GET /api/user']],
                  "issuer $path: $name reads sub, aud, allowed");
        is(($got->{claims}{exp} // 0) - ($got->{claims}{iat} // 0), 600,
           "issuer $path: $name reads exp - iat = ttl");

        # another key, or another algorithm, must not verify
        my $wrong = $pub eq 'rsa' ? 'other' : 'rsa';
        my $walg = $pub eq 'rsa' ? $alg : 'RS256';
        ($rc) = run(@cmd, '--key', "$KD/$wrong.pub.pem", '--alg', $walg, $tok);
        isnt($rc, 0, "issuer $path: $name refuses it with another key");
        if ($pub eq 'rsa') {
            ($rc) = run(@cmd, '--key', "$KD/rsa.pub.pem",
                        '--alg', $alg eq 'RS256' ? 'PS256' : 'RS256', $tok);
            isnt($rc, 0, "issuer $path: $name refuses it under another RSA alg");
        }
    }

    # the credential
    my @decrypters;
    if ($jwe) {
        is(scalar(split /\./, $c->{token}, -1), 5, "issuer $path: the credential is a compact JWE");
        push @decrypters, ['jwcrypto', $python, "$tools/py_interop.py", 'decrypt']
            if $have{jwcrypto};
    } else {
        # magic-api-proxy's form: RSA-OAEP (SHA-256, MGF1-SHA-256) in standard base64
        like($c->{token}, qr{^[A-Za-z0-9+/]+={0,2}\z}, "issuer $path: the credential is standard base64");
        push @decrypters, ['python cryptography OAEP-SHA256', $python, "$tools/py_interop.py", 'decrypt']
            if $have{crypto};
    }
    push @decrypters, [$jwe ? 'jose' : 'node crypto OAEP-SHA256', 'node', "$tools/jose_interop.mjs", 'decrypt']
        if $have{jose};
    for my $d (@decrypters) {
        my ($name, @cmd) = @$d;
        my ($rc, $out, $err) = run(@cmd, '--key', "$KD/$dec.pem", $c->{token});
        is($out, $cred, "issuer $path: $name decrypts the credential") or diag($err);
    }
}

# --- nothing secret in the log --------------------------------------------------

stop_nginx();
my $log = do { local (@ARGV, $/) = "$dir/logs/error.log"; <> } // '';
my @leaked = grep { index($log, $_) >= 0 } @all_creds;
is_deeply(\@leaked, [], 'error.log contains none of the ' . scalar(@all_creds) . ' credentials');
unlike($log, qr/\[(?:alert|crit|emerg)\]/, 'no alert in error.log');

done_testing();
