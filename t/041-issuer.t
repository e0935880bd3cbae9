# The issuer endpoint (magic_token_issuer, magic_token_issuer_key,
# magic_token_issuer_max_ttl), compatible with magic-api-proxy's
# /__magictoken:
#
#   * configuration errors, checked with "nginx -t" (nginx_config_check);
#   * mint-then-use flows against a real nginx started by this file on
#     TEST_NGINX_SERVER_PORT + 22 (its echo upstream on + 23): tokens from
#     every kind of issuer key are accepted by a protected location, whose
#     upstream receives "Bearer <credential>"; requests outside the
#     token's scopes are refused; expiry, other keys, tampering;
#   * conf-examples/issuer.conf run as documented (ports + 24/+25): minting
#     needs the password, the minted token works at /api/;
#   * the blocks below (Test::Nginx::Socket): GET/HEAD description, every
#     400 case, 405, 413, response headers, and the claims of issued tokens
#     (decoded here, in Perl) -- ttl capping, exp, aud/sub/jti, random jti,
#     header alg/kid and the credential's JWE header per issuer key.
#
# Keys: $TEST_NGINX_KEYS (RSA, from MagicToken::Test) and an EC P-256 and an
# Ed25519 key made by t/tools/jose_mint.py into $TEST_NGINX_ISSUER_KEYS.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;
use MagicToken::Standalone;

use File::Path qw(make_path rmtree);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP ();
use MIME::Base64 qw(decode_base64url);

my $PY = $ENV{PYTHON} || '/usr/bin/python3';
my $OWNER = $$;
my $IK = tempdir('mt-issuer-XXXXXX', TMPDIR => 1, CLEANUP => 0);
END { rmtree($IK) if defined $IK && $$ == $OWNER && !$ENV{MAGIC_TOKEN_KEEP_KEYS} }
$ENV{TEST_NGINX_ISSUER_KEYS} = $IK;

for my $k ([qw(ec p256)], [qw(ed ed25519)]) {
    system($PY, "$FindBin::Bin/tools/jose_mint.py", 'keygen', $IK, @$k,
           '--kid', '') == 0
        or die "jose_mint.py keygen @$k failed\n";
}

my $K = keys_dir();
my $OTHER = other_keys_dir();
my $JSON = JSON::PP->new->canonical;

# (header, claims) of a compact JWS or JWE; undef if it is not one
sub jose_parts {
    my ($tok) = @_;
    return unless defined $tok && $tok =~ /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*){2,4}\z/;
    my @p = split /\./, $tok, -1;
    my $h = eval { JSON::PP::decode_json(decode_base64url($p[0])) };
    my $c = @p == 3 ? eval { JSON::PP::decode_json(decode_base64url($p[1])) } : undef;
    return ($h, $c);
}

# ---------------------------------------------------------------------------
# configuration errors

{
    my %bad = (
        'issuer without a private RSA key' => [<<'_EOC_', qr/magic_token_issuer.*needs/],
    server { listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location = /t { magic_token_issuer; magic_token_key $TEST_NGINX_KEYS/public.pem; } }
_EOC_
        'issuer without any key' => [<<'_EOC_', qr/magic_token_issuer.*needs/],
    server { listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location = /t { magic_token_issuer; } }
_EOC_
        'issuer key that is public' => [<<'_EOC_', qr/magic_token_issuer_key.*not a private key/],
    server { listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location = /t { magic_token_issuer; magic_token_issuer_key $TEST_NGINX_KEYS/public.pem; } }
_EOC_
        'jwe= without enc=' => [<<'_EOC_', qr/needs both "jwe=" and "enc="/],
    server { listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location = /t { magic_token_issuer; magic_token_issuer_key $TEST_NGINX_KEYS/private.pem jwe=RSA-OAEP-256; } }
_EOC_
        'unknown jwe= algorithm' => [<<'_EOC_', qr/cannot mint with these keys and algorithms/],
    server { listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location = /t { magic_token_issuer; magic_token_issuer_key $TEST_NGINX_KEYS/private.pem jwe=BOGUS enc=A256GCM; } }
_EOC_
        'unknown enc=' => [<<'_EOC_', qr/cannot mint with these keys and algorithms/],
    server { listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location = /t { magic_token_issuer; magic_token_issuer_key $TEST_NGINX_KEYS/private.pem jwe=RSA-OAEP-256 enc=A999GCM; } }
_EOC_
        'ECDH-ES to an RSA key' => [<<'_EOC_', qr/cannot mint with these keys and algorithms/],
    server { listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location = /t { magic_token_issuer; magic_token_issuer_key $TEST_NGINX_KEYS/private.pem jwe=ECDH-ES enc=A256GCM; } }
_EOC_
        'A256KW to an RSA key' => [<<'_EOC_', qr/cannot mint with these keys and algorithms/],
    server { listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location = /t { magic_token_issuer; magic_token_issuer_key $TEST_NGINX_KEYS/private.pem jwe=A256KW enc=A256GCM; } }
_EOC_
        'EC key to encrypt to without jwe=' => [<<'_EOC_', qr/needs an RSA key to encrypt to/],
    server { listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location = /t { magic_token_issuer; magic_token_issuer_key $TEST_NGINX_ISSUER_KEYS/ec.pem; } }
_EOC_
        'alg that does not fit the key' => [<<'_EOC_', qr/not a private key that signs ES256/],
    server { listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location = /t { magic_token_issuer; magic_token_issuer_key $TEST_NGINX_KEYS/private.pem alg=ES256; } }
_EOC_
        'unknown alg' => [<<'_EOC_', qr/invalid parameter "alg=XX999"/],
    server { listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location = /t { magic_token_issuer; magic_token_issuer_key $TEST_NGINX_KEYS/private.pem alg=XX999; } }
_EOC_
        'unknown parameter' => [<<'_EOC_', qr/invalid parameter "colour=red"/],
    server { listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location = /t { magic_token_issuer; magic_token_issuer_key $TEST_NGINX_KEYS/private.pem colour=red; } }
_EOC_
        'missing key file' => [<<'_EOC_', qr/magic_token_issuer_key.*no-such-key\.pem/],
    server { listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location = /t { magic_token_issuer; magic_token_issuer_key $TEST_NGINX_KEYS/no-such-key.pem; } }
_EOC_
        'max_ttl 0' => [<<'_EOC_', qr/magic_token_issuer_max_ttl.*positive/],
    server { listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location = /t { magic_token_issuer; magic_token_issuer_max_ttl 0; magic_token_key $TEST_NGINX_KEYS/private.pem; } }
_EOC_
        'magic_token_issuer outside a location' => [<<'_EOC_', qr/"magic_token_issuer" directive is not allowed here/],
    server { listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT; magic_token_issuer;
        magic_token_key $TEST_NGINX_KEYS/private.pem; }
_EOC_
        'duplicate magic_token_issuer_key' => [<<'_EOC_', qr/magic_token_issuer_key.*is duplicate/],
    server { listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location = /t { magic_token_issuer;
            magic_token_issuer_key $TEST_NGINX_KEYS/private.pem;
            magic_token_issuer_key $TEST_NGINX_KEYS/private.pem; } }
_EOC_
    );
    for my $what (sort keys %bad) {
        my ($conf, $re) = @{ $bad{$what} };
        my ($rc, $err) = nginx_config_check($conf);
        Test::More::isnt($rc, 0, "nginx -t refuses: $what");
        Test::More::like($err, $re, "$what: the message says why")
            or Test::More::diag($err);
    }

    my %good = (
        'default key from an http-level magic_token_key' => <<'_EOC_',
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    server { listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location = /t { magic_token_issuer; } }
_EOC_
        'first RSA private key of a mixed list' => <<'_EOC_',
    server { listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        location = /t { magic_token_issuer;
            magic_token_key $TEST_NGINX_KEYS/public.pem;
            magic_token_key $TEST_NGINX_ISSUER_KEYS/ec.pem;
            magic_token_key $TEST_NGINX_KEYS/private.pkcs1.pem; } }
_EOC_
        'every issuer_key parameter' => <<'_EOC_',
    magic_token_issuer_max_ttl 2h;
    server { listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        magic_token_issuer_key $TEST_NGINX_ISSUER_KEYS/ec.pem alg=ES256 kid=s1
            encrypt=$TEST_NGINX_KEYS/public.x509.cer jwe=RSA-OAEP-256 enc=A256GCM enc_kid=e1;
        location = /t { magic_token_issuer; } }
_EOC_
    );
    for my $what (sort keys %good) {
        my ($rc, $err) = nginx_config_check($good{$what});
        Test::More::is($rc, 0, "nginx -t accepts: $what") or Test::More::diag($err);
    }
}

# ---------------------------------------------------------------------------
# mint, then use: a real nginx on server port + 22, echo upstream on + 23

our $FLOW_PORT = ($ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984) + 22;

sub http {
    my ($method, $path, $body, @hdr) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$FLOW_PORT",
                                  Timeout => 10)
        or return { status => 0, body => "connect: $!" };
    my $req = "$method $path HTTP/1.0\r\nHost: localhost\r\n";
    $req .= "$_\r\n" for @hdr;
    $req .= "Content-Length: " . length($body) . "\r\n" if defined $body;
    $req .= "\r\n" . ($body // '');
    print $s $req;
    local $/;
    my $raw = <$s> // '';
    my ($head, $rbody) = split /\r\n\r\n/, $raw, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.\d (\d+)};
    my %h = map { /^([^:]+):\s*(.*)$/ ? (lc $1 => $2) : () } split /\r\n/, $head // '';
    return { status => $status // 0, headers => \%h, body => $rbody // '' };
}

sub issue {
    my ($path, $req) = @_;
    return http('POST', $path, $JSON->encode($req),
                'Content-Type: application/json');
}

sub api {
    my ($method, $path, $tok) = @_;
    return http($method, $path, undef, "Authorization: Bearer $tok");
}

{
    my $prefix = tempdir('mt-issuer-flow-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    make_path("$prefix/conf", "$prefix/logs");
    my $module = module_path();
    my $up = $FLOW_PORT + 1;
    open my $fh, '>', "$prefix/conf/nginx.conf" or die "$prefix: $!";
    print $fh <<"_EOC_";
@{[ standalone_head($prefix) ]}
    magic_token_scope read-user "GET /api/user" "GET /api/user/repos";

    server {
        listen 127.0.0.1:$FLOW_PORT;

        location = /__magictoken {
            magic_token_issuer;
            magic_token_key $K/private.pem;
        }
        location = /iss/ps {
            magic_token_issuer;
            magic_token_issuer_key $K/private.pem alg=PS256 kid=ps-1;
        }
        location = /iss/ec {
            magic_token_issuer;
            magic_token_issuer_key $IK/ec.pem kid=ec-1 jwe=ECDH-ES enc=A256GCM;
        }
        location = /iss/ed {
            magic_token_issuer;
            magic_token_issuer_key $IK/ed.pem encrypt=$K/public.pem;
        }
        location = /iss/jwe {
            magic_token_issuer;
            magic_token_issuer_key $K/private.pem jwe=RSA-OAEP-256 enc=A256GCM enc_kid=e1;
        }
        location = /iss/other {
            magic_token_issuer;
            magic_token_key $OTHER/private.pem;
        }

        location /api/ {
            magic_token on;
            magic_token_key $K/private.pem;
            magic_token_key $IK/ec.pem;
            magic_token_key $IK/ed.pem;
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
    close $fh;

    my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
    my $started = system($nginx, '-p', "$prefix/", '-c', 'conf/nginx.conf',
                         '-e', 'logs/error.log') == 0;
    Test::More::ok($started, "flow: nginx starts on port $FLOW_PORT");

    my $stop = sub {
        open my $pf, '<', "$prefix/logs/nginx.pid" or return;
        chomp(my $pid = <$pf> // '');
        close $pf;
        return unless $pid =~ /^\d+$/;
        kill 'QUIT', $pid;
        for (1 .. 50) { last unless kill 0, $pid; select undef, undef, undef, 0.1 }
        kill 'KILL', $pid if kill 0, $pid;
    };

    if ($started) {
        # wait until it answers
        for (1 .. 50) {
            last if http('GET', '/__magictoken')->{status} == 200;
            select undef, undef, undef, 0.1;
        }

        my @allowed = ('GET /api/user', 'POST /api/repos/[^/]+/[^/]+/issues');
        my @creds;

        for my $iss (qw(/__magictoken /iss/ps /iss/ec /iss/ed /iss/jwe)) {
            (my $name = $iss) =~ s{.*/}{};
            my $cred = "ghp_FlowSecret_$name";
            push @creds, $cred;
            my $r = issue($iss, { token => $cred, allowed => \@allowed });
            Test::More::is($r->{status}, 200, "flow $iss: minted");
            Test::More::is($r->{headers}{'content-type'}, 'application/jwt',
                           "flow $iss: application/jwt");
            my $tok = $r->{body};

            my $ok = api('GET', '/api/user', $tok);
            Test::More::is($ok->{status}, 200, "flow $iss: GET /api/user allowed");
            Test::More::is($ok->{body}, upstream_body("Bearer $cred", 'GET', '/api/user'),
                           "flow $iss: upstream receives the credential");

            $ok = api('POST', '/api/repos/acme/web/issues', $tok);
            Test::More::is($ok->{status}, 200, "flow $iss: POST .../issues allowed");

            for my $out (['DELETE', '/api/user'], ['GET', '/api/user/emails'],
                         ['GET', '/api/admin'], ['POST', '/api/repos/acme/web/pulls']) {
                my $d = api(@$out, $tok);
                Test::More::is($d->{status}, 403, "flow $iss: @$out refused (out of scope)");
                Test::More::unlike($d->{body}, qr/\Q$cred\E/, "flow $iss: @$out: no credential");
            }
        }

        # named scopes
        my $r = issue('/__magictoken', { token => 'ghp_FlowScoped', scopes => ['read-user'] });
        Test::More::is($r->{status}, 200, 'flow scopes: minted');
        my $st = api('GET', '/api/user/repos', $r->{body});
        Test::More::is($st->{body}, upstream_body('Bearer ghp_FlowScoped', 'GET', '/api/user/repos'),
                       'flow scopes: a request in the named scope reaches the upstream');
        Test::More::is(api('POST', '/api/repos/a/b/issues', $r->{body})->{status}, 403,
                       'flow scopes: a request outside the named scope is refused');
        push @creds, 'ghp_FlowScoped';

        # a credential with spaces and base64-ish characters round-trips
        my $odd = 'sk-live 1+2/3= "q" \\ end';
        $r = issue('/__magictoken', { token => $odd, allowed => ['GET /api/user'] });
        Test::More::is(api('GET', '/api/user', $r->{body})->{body},
                       upstream_body("Bearer $odd", 'GET', '/api/user'),
                       'flow: a credential with spaces, quotes and backslashes round-trips');

        # a token signed by another proxy's key is refused
        $r = issue('/iss/other', { token => 'ghp_FlowOther', allowed => ['GET /api/user'] });
        Test::More::is($r->{status}, 200, 'flow other key: minted');
        Test::More::is(api('GET', '/api/user', $r->{body})->{status}, 401,
                       'flow other key: refused by a location without that key');
        push @creds, 'ghp_FlowOther';

        # a tampered token is refused
        $r = issue('/__magictoken', { token => 'ghp_FlowTamper', allowed => ['GET /api/user'] });
        my ($h, $c, $s) = split /\./, $r->{body};
        my $claims = JSON::PP::decode_json(decode_base64url($c));
        $claims->{allowed} = ['GET /.*'];
        (my $c2 = MIME::Base64::encode_base64url($JSON->encode($claims))) =~ s/=+$//;
        my $st2 = api('DELETE', '/api/anything', "$h.$c2.$s");
        Test::More::is($st2->{status}, 401, 'flow: a token with widened scopes is refused');
        push @creds, 'ghp_FlowTamper';

        # expiry: ttl 1
        $r = issue('/__magictoken', { token => 'ghp_FlowShort', allowed => ['GET /api/user'], ttl => 1 });
        Test::More::is(api('GET', '/api/user', $r->{body})->{status}, 200, 'flow ttl 1: accepted at once');
        sleep 2;
        Test::More::is(api('GET', '/api/user', $r->{body})->{status}, 401, 'flow ttl 1: refused 2 s later');
        push @creds, 'ghp_FlowShort';

        $stop->();

        my $log = do { local (@ARGV, $/) = "$prefix/logs/error.log"; <> } // '';
        Test::More::unlike($log, qr/\Q$_\E/, "flow: error.log does not contain $_") for @creds;
        Test::More::unlike($log, qr/\[(?:alert|crit|emerg)\]/, 'flow: no alert in error.log');
        Test::More::like($log, qr/magic_token: denied: scope_denied/, 'flow: refusals are logged');
    }

    END { $stop->() if $stop && $$ == $OWNER }
}

# ---------------------------------------------------------------------------
# conf-examples/issuer.conf, run as documented (ports moved to +24/+25)

SKIP: {
    my $example = repo_root() . '/conf-examples/issuer.conf';
    Test::More::skip('no openssl command for the htpasswd', 1)
        if system('openssl version >/dev/null 2>&1') != 0;

    my $prefix = tempdir('mt-issuer-example-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    make_path("$prefix/conf/keys", "$prefix/logs", "$prefix/tmp");
    my ($p1, $p2) = ($FLOW_PORT + 2, $FLOW_PORT + 3);
    my $conf = do { local (@ARGV, $/) = $example; <> };
    my $module = module_path();
    $conf =~ s{^load_module \S+;}{load_module $module;}m or die "example: no load_module";
    $conf =~ s/127\.0\.0\.1:8080\b/127.0.0.1:$p1/g;
    $conf =~ s/127\.0\.0\.1:8081\b/127.0.0.1:$p2/g;
    open my $out, '>', "$prefix/conf/nginx.conf" or die $!;
    print $out $conf;
    close $out;
    system('cp', "$K/private.pem", "$prefix/conf/keys/private.pem") == 0 or die "cp";
    chomp(my $hash = `openssl passwd -6 'change me'`);
    open $out, '>', "$prefix/conf/issuer.htpasswd" or die $!;
    print $out "ops:$hash\n";
    close $out;
    # auth_basic reads the file in the worker (nobody when run as root)
    chmod 0755, $prefix, "$prefix/conf";
    chmod 0644, "$prefix/conf/issuer.htpasswd";

    my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
    my @ngx = ($nginx, '-p', "$prefix/", '-c', 'conf/nginx.conf', '-e', "$prefix/logs/error.log");
    my $ok = system(@ngx) == 0;
    Test::More::ok($ok, 'example issuer.conf: nginx starts');
    Test::More::skip('example did not start', 1) unless $ok;

    my $stop = sub {
        open my $pf, '<', "$prefix/logs/nginx.pid" or return;
        chomp(my $pid = <$pf> // '');
        return unless $pid =~ /^\d+$/;
        kill 'QUIT', $pid;
        for (1 .. 50) { last unless kill 0, $pid; select undef, undef, undef, 0.1 }
        kill 'KILL', $pid if kill 0, $pid;
    };

    local $FLOW_PORT = $p1;
    for (1 .. 50) {
        last if http('GET', '/api/user')->{status} == 401;
        select undef, undef, undef, 0.1;
    }
    my $basic = 'Authorization: Basic ' . MIME::Base64::encode_base64('ops:change me', '');
    my $wrong = 'Authorization: Basic ' . MIME::Base64::encode_base64('ops:guess', '');
    my $body = $JSON->encode({ token => 'ghp_ExampleSecret', scopes => ['read-user'],
                               ttl => 604800, sub => 'inventory-bot',
                               aud => 'api' });

    Test::More::is(http('POST', '/__magictoken', $body)->{status}, 401,
                   'example: minting without a password is refused');
    Test::More::is(http('POST', '/__magictoken', $body, $wrong)->{status}, 401,
                   'example: minting with a wrong password is refused');
    my $r = http('POST', '/__magictoken', $body, $basic, 'Content-Type: application/json');
    Test::More::is($r->{status}, 200, 'example: minting with the password works');
    my $tok = $r->{body};
    my (undef, $c) = jose_parts($tok);
    Test::More::is(($c->{exp} // 0) - ($c->{iat} // 0), 604800, 'example: ttl of a week kept (max 30d)');
    Test::More::is(http('POST', '/__magictoken',
                        $JSON->encode({ token => 'x', scopes => ['admin'] }), $basic)->{status},
                   400, 'example: unknown scope refused');

    $r = api('GET', '/api/user/repos', $tok);
    # the example's upstream echoes what it got, and magic_token_scrub
    # (on) replaces the credential on the way back
    Test::More::is($r->{body},
                   "upstream got: GET /user/repos, Authorization: Bearer "
                   . ('*' x length 'ghp_ExampleSecret') . "\n",
                   'example: the token works at /api/, the echoed credential is scrubbed');
    Test::More::is(api('GET', '/api/user/emails', $tok)->{status}, 403,
                   'example: outside the read-user scope -> 403');
    Test::More::is(api('GET', '/api/user', 'garbage')->{status}, 401,
                   'example: a bad token -> 401');

    $stop->();
    my $ilog = do { local (@ARGV, $/) = "$prefix/logs/issuer.log"; <> } // '';
    Test::More::like($ilog, qr/"user":"ops","status":200/, 'example: issuer.log records who minted');
    my $all = join '', map { do { local (@ARGV, $/) = $_; <> } // '' } glob("$prefix/logs/*.log");
    Test::More::unlike($all, qr/ghp_ExampleSecret/, 'example: no credential in any log');
}

# ---------------------------------------------------------------------------
# blocks: claims of issued tokens are checked here, for blocks whose title
# ends with "[check NAME]"

our $exp_soon = time() + 900;
our $exp_far = time() + 10 * 365 * 86400;
my %jti_seen;

sub claims_ok {
    my ($c, $want_life, $what) = @_;
    Test::More::is($c->{exp} - $c->{iat}, $want_life, "$what: exp - iat = $want_life");
    Test::More::cmp_ok(abs($c->{iat} - time()), '<', 120, "$what: iat is now");
}

my %check = (
    default => sub {
        my ($h, $c, $what) = @_;
        Test::More::is_deeply($h, { alg => 'RS256', typ => 'JWT' },
                              "$what: header is magic-api-proxy's");
        claims_ok($c, 86400, $what);
        Test::More::is_deeply($c->{allowed}, ['GET /api/user', 'POST /api/repos/[^/]+/[^/]+/issues'],
                              "$what: allowed copied");
        Test::More::ok(!exists $c->{scopes}, "$what: no scopes claim");
        Test::More::like($c->{jti}, qr/^[A-Za-z0-9_-]{22}\z/, "$what: random jti (16 bytes)");
        # 2048-bit RSA-OAEP ciphertext, standard base64 with padding
        Test::More::like($c->{token}, qr{^[A-Za-z0-9+/]{342}==\z}, "$what: token is base64 RSA-OAEP");
        Test::More::is_deeply([sort keys %$c], [qw(allowed exp iat jti token)], "$what: no other claims");
    },
    scopes => sub {
        my ($h, $c, $what) = @_;
        Test::More::is_deeply($c->{scopes}, ['read-user', 'write-issues'], "$what: scopes copied");
        Test::More::ok(!exists $c->{allowed}, "$what: no allowed claim");
        claims_ok($c, 86400, $what);
    },
    ttl60 => sub { claims_ok($_[1], 60, $_[2]) },
    cap1h => sub { claims_ok($_[1], 3600, $_[2]) },
    exp_soon => sub {
        my ($h, $c, $what) = @_;
        Test::More::is($c->{exp}, $::exp_soon, "$what: exp as requested");
    },
    passthrough => sub {
        my ($h, $c, $what) = @_;
        Test::More::is_deeply($c->{aud}, ['ci', 'deploy'], "$what: aud list");
        Test::More::is($c->{sub}, 'bot-1', "$what: sub");
        Test::More::is($c->{jti}, 'my-token-7', "$what: jti as requested");
    },
    aud_string => sub { Test::More::is($_[1]{aud}, 'ci', "$_[2]: aud string") },
    jti_unique => sub {
        my ($h, $c, $what) = @_;
        Test::More::ok(!$jti_seen{ $c->{jti} }++, "$what: jti $c->{jti} not seen before");
    },
    ps256 => sub {
        my ($h, $c, $what) = @_;
        Test::More::is_deeply($h, { alg => 'PS256', typ => 'JWT', kid => 'k1' }, "$what: header");
        Test::More::like($c->{token}, qr{^[A-Za-z0-9+/]{342}==\z}, "$what: base64 RSA-OAEP credential");
    },
    rs384 => sub { Test::More::is($_[0]{alg}, 'RS384', "$_[2]: alg RS384") },
    es256_jwe => sub {
        my ($h, $c, $what) = @_;
        Test::More::is_deeply($h, { alg => 'ES256', typ => 'JWT', kid => 'ec-1' }, "$what: header");
        my ($jh) = jose_parts($c->{token});
        Test::More::is(scalar(split /\./, $c->{token}, -1), 5, "$what: credential is a compact JWE");
        Test::More::is($jh->{alg}, 'ECDH-ES', "$what: JWE alg");
        Test::More::is($jh->{enc}, 'A256GCM', "$what: JWE enc");
        Test::More::is($jh->{epk}{crv}, 'P-256', "$what: JWE epk on P-256");
    },
    eddsa => sub {
        my ($h, $c, $what) = @_;
        Test::More::is_deeply($h, { alg => 'EdDSA', typ => 'JWT' }, "$what: header");
        Test::More::like($c->{token}, qr{^[A-Za-z0-9+/]{342}==\z}, "$what: base64 RSA-OAEP credential");
    },
    rsa_jwe => sub {
        my ($h, $c, $what) = @_;
        Test::More::is_deeply($h, { alg => 'RS256', typ => 'JWT' }, "$what: header");
        my ($jh) = jose_parts($c->{token});
        Test::More::is_deeply([@$jh{qw(alg enc kid)}], ['RSA-OAEP-256', 'A256GCM', 'e1'],
                              "$what: JWE alg, enc, kid");
    },
    es256 => sub { Test::More::is($_[0]{alg}, 'ES256', "$_[2]: alg ES256") },
);

add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my ($name) = $block->name =~ /\[check (\w+)\]/ or return;
    my $what = $block->name . " (req $req_idx)";
    $what =~ s/\s*\[check \w+\]//;
    my $code = $check{$name} or die "no check named $name\n";
    return if $dry_run;
    Test::More::unlike($body // '', qr/\n/, "$what: no newline in the token");
    my ($h, $c) = jose_parts($body);
    Test::More::ok($h && $c, "$what: the body is a compact JWS") or return;
    $code->($h, $c, $what);
});

our $big = '{"token":"ghp_Big","allowed":["GET /x"],"pad":"'
           . ('a' x 17000) . '"}';
our $exact = '{"token":"ghp_Exact","allowed":["GET /x"],"pad":"';
$exact .= 'b' x (16384 - length($exact) - 2) . '"}';
die "exact body: " . length($exact) unless length($exact) == 16384;
(our $just_over = $exact) =~ s/"}\z/b"}/;

sub chunked {
    my ($body) = @_;
    return "POST /__magictoken HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
         . "Transfer-Encoding: chunked\r\n\r\n"
         . sprintf("%x\r\n%s\r\n0\r\n\r\n", length($body), $body);
}

default_http_config(<<'_EOC_');
    magic_token_scope read-user "GET /api/user" "GET /api/user/repos";
    magic_token_scope write-issues "POST /api/repos/[^/]+/[^/]+/issues";
_EOC_

default_config(<<'_EOC_');
    location = /__magictoken {
        magic_token_issuer;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
    }
_EOC_

run_tests();

__DATA__

=== TEST 1: GET describes the endpoint
--- request
GET /__magictoken
--- error_code: 200
--- response_headers
Content-Type: text/plain
Cache-Control: no-store
--- response_body_like chomp
^This endpoint mints magic tokens\.\n.*"allowed".*"scopes"



=== TEST 2: HEAD: headers of the description, no body
--- request
HEAD /__magictoken
--- error_code: 200
--- response_headers
Content-Type: text/plain
Cache-Control: no-store
--- response_body



=== TEST 3: POST allowed: application/jwt, no-store, magic-api-proxy claims, default ttl 1d [check default]
--- request
POST /__magictoken
{"token": "ghp_IssuerSecret0001", "allowed": ["GET /api/user", "POST /api/repos/[^/]+/[^/]+/issues"]}
--- error_code: 200
--- response_headers
Content-Type: application/jwt
Cache-Control: no-store
--- response_body_like chomp
^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$
--- no_error_log
ghp_IssuerSecret0001
[error]



=== TEST 4: POST named scopes [check scopes]
--- request
POST /__magictoken
{"token": "ghp_IssuerSecret0002", "scopes": ["read-user", "write-issues"]}
--- error_code: 200
--- response_headers
Content-Type: application/jwt
--- no_error_log
ghp_IssuerSecret0002



=== TEST 5: ttl below the cap is kept [check ttl60]
--- request
POST /__magictoken
{"token": "ghp_x", "allowed": ["GET /x"], "ttl": 60}
--- error_code: 200



=== TEST 6: ttl above magic_token_issuer_max_ttl is capped [check cap1h]
--- config
    location = /__magictoken {
        magic_token_issuer;
        magic_token_issuer_max_ttl 1h;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
    }
--- request
POST /__magictoken
{"token": "ghp_x", "allowed": ["GET /x"], "ttl": 99999}
--- error_code: 200



=== TEST 7: no ttl/exp: the token gets the max (inherited from server level) [check cap1h]
--- config
    magic_token_issuer_max_ttl 60m;
    location = /__magictoken {
        magic_token_issuer;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
    }
--- request
POST /__magictoken
{"token": "ghp_x", "allowed": ["GET /x"]}
--- error_code: 200



=== TEST 8: exp beyond the max is capped [check cap1h]
--- config
    location = /__magictoken {
        magic_token_issuer;
        magic_token_issuer_max_ttl 3600;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
    }
--- request eval
"POST /__magictoken\n{\"token\": \"ghp_x\", \"allowed\": [\"GET /x\"], \"exp\": $::exp_far}"
--- error_code: 200



=== TEST 9: exp within the max is kept [check exp_soon]
--- request eval
"POST /__magictoken\n{\"token\": \"ghp_x\", \"allowed\": [\"GET /x\"], \"exp\": $::exp_soon}"
--- error_code: 200



=== TEST 10: aud list, sub and jti are copied [check passthrough]
--- request
POST /__magictoken
{"token": "ghp_x", "allowed": ["GET /x"], "aud": ["ci", "deploy"], "sub": "bot-1", "jti": "my-token-7"}
--- error_code: 200



=== TEST 11: aud string [check aud_string]
--- request
POST /__magictoken
{"token": "ghp_x", "allowed": ["GET /x"], "aud": "ci"}
--- error_code: 200



=== TEST 12: jti is random: three tokens, three jti [check jti_unique]
--- request eval
[ map { "POST /__magictoken\n{\"token\": \"ghp_x\", \"allowed\": [\"GET /x\"]}" } 1 .. 3 ]
--- error_code eval
[200, 200, 200]



=== TEST 13: 400: no token
--- request
POST /__magictoken
{"allowed": ["GET /x"]}
--- error_code: 400
--- response_headers
Content-Type: text/plain
Cache-Control: no-store
--- response_body
we need a token for the API behind, in the "token" field



=== TEST 14: 400: empty token
--- request
POST /__magictoken
{"token": "", "allowed": ["GET /x"]}
--- error_code: 400
--- response_body_like chomp
^we need a token



=== TEST 15: 400: token not a string
--- request
POST /__magictoken
{"token": 12345, "allowed": ["GET /x"]}
--- error_code: 400
--- response_body_like chomp
^we need a token



=== TEST 16: 400: both allowed and scopes
--- request
POST /__magictoken
{"token": "ghp_IssuerSecret0016", "allowed": ["GET /x"], "scopes": ["read-user"]}
--- error_code: 400
--- response_headers
Content-Type: text/plain
--- response_body_like chomp
^allowed .* or scopes .*, not both\n\z
--- no_error_log
ghp_IssuerSecret0016



=== TEST 17: 400: neither allowed nor scopes
--- request
POST /__magictoken
{"token": "ghp_x"}
--- error_code: 400
--- response_body
allowed or scopes is required



=== TEST 18: 400: unknown scope
--- request
POST /__magictoken
{"token": "ghp_x", "scopes": ["read-user", "admin"]}
--- error_code: 400
--- response_body
unknown scope "admin"



=== TEST 19: 400: scope names exist only at http level (none configured)
--- http_config
--- request
POST /__magictoken
{"token": "ghp_x", "scopes": ["read-user"]}
--- error_code: 400
--- response_body
unknown scope "read-user"



=== TEST 20: 400: allowed entry without a space
--- request
POST /__magictoken
{"token": "ghp_x", "allowed": ["GET /x", "GET/y"]}
--- error_code: 400
--- response_body_like chomp
"GET/y" is not "METHOD regex"



=== TEST 21: 400: regex that does not compile
--- request
POST /__magictoken
{"token": "ghp_x", "allowed": ["GET /repos/(x"]}
--- error_code: 400
--- response_body_like chomp
^scope regex "GET /repos/\(x": .*parenthesis



=== TEST 22: 400: allowed not a list / empty / not strings
--- request eval
[ "POST /__magictoken\n{\"token\": \"x\", \"allowed\": \"GET /x\"}",
  "POST /__magictoken\n{\"token\": \"x\", \"allowed\": []}",
  "POST /__magictoken\n{\"token\": \"x\", \"allowed\": [1]}",
  "POST /__magictoken\n{\"token\": \"x\", \"scopes\": [\"read-user\", null]}" ]
--- error_code eval
[400, 400, 400, 400]
--- response_body_like eval
[ qr/^allowed must be a list$/, qr/^allowed must have 1 to \d+ entries$/,
  qr/^allowed must be a list of strings$/, qr/^scopes must be a list of strings$/ ]



=== TEST 23: 400: not JSON
--- request
POST /__magictoken
token=ghp_IssuerSecret0023&allowed=GET+/x
--- error_code: 400
--- response_headers
Content-Type: text/plain
--- response_body
request must be json
--- no_error_log
ghp_IssuerSecret0023



=== TEST 24: 400: JSON that is not an object
--- request eval
[ "POST /__magictoken\n[\"ghp_x\"]", "POST /__magictoken\n\"ghp_x\"" ]
--- error_code eval
[400, 400]
--- response_body_like eval
[ qr/^request must be a JSON object$/, qr/^request must be/ ]



=== TEST 25: 400: empty body
--- request
POST /__magictoken
--- more_headers
Content-Length: 0
--- error_code: 400
--- response_body
request must be json



=== TEST 26: 400: duplicate keys in the request
--- request
POST /__magictoken
{"token": "ghp_x", "allowed": ["GET /x"], "allowed": [".* .*"]}
--- error_code: 400
--- response_body
request must be json



=== TEST 27: 400: ttl not a positive integer
--- request eval
[ "POST /__magictoken\n{\"token\": \"x\", \"allowed\": [\"GET /x\"], \"ttl\": 0}",
  "POST /__magictoken\n{\"token\": \"x\", \"allowed\": [\"GET /x\"], \"ttl\": -60}",
  "POST /__magictoken\n{\"token\": \"x\", \"allowed\": [\"GET /x\"], \"ttl\": \"60\"}",
  "POST /__magictoken\n{\"token\": \"x\", \"allowed\": [\"GET /x\"], \"ttl\": 1.5}" ]
--- error_code eval
[400, 400, 400, 400]
--- response_body_like eval
[ qr/^ttl must be a positive integer$/, qr/^ttl must be a positive integer$/,
  qr/^ttl must be a positive integer$/, qr/^ttl must be a positive integer$/ ]



=== TEST 28: 400: exp in the past, exp not an integer
--- request eval
[ "POST /__magictoken\n{\"token\": \"x\", \"allowed\": [\"GET /x\"], \"exp\": 1000000000}",
  "POST /__magictoken\n{\"token\": \"x\", \"allowed\": [\"GET /x\"], \"exp\": \"$::exp_soon\"}" ]
--- error_code eval
[400, 400]
--- response_body_like eval
[ qr/^exp must be an integer time in the future, at most 100 years away$/,
  qr/^exp must be an integer time in the future, at most 100 years away$/ ]



=== TEST 29: 400: exp and ttl together
--- request eval
"POST /__magictoken\n{\"token\": \"x\", \"allowed\": [\"GET /x\"], \"ttl\": 60, \"exp\": $::exp_soon}"
--- error_code: 400
--- response_body
exp or ttl, not both



=== TEST 30: 400: control characters in the credential (newline, DEL, CR; NUL is not valid JSON for jansson)
--- request eval
[ "POST /__magictoken\n{\"token\": \"ghp_Ctl0029\\nX-Injected: 1\", \"allowed\": [\"GET /x\"]}",
  "POST /__magictoken\n{\"token\": \"ghp_Ctl0029\\u0000\", \"allowed\": [\"GET /x\"]}",
  "POST /__magictoken\n{\"token\": \"ghp_Ctl0029\\u007f\", \"allowed\": [\"GET /x\"]}",
  "POST /__magictoken\n{\"token\": \"ghp_Ctl0029\\r\", \"allowed\": [\"GET /x\"]}" ]
--- error_code eval
[400, 400, 400, 400]
--- response_body_like eval
[ qr/^token must not contain control characters$/,
  qr/^request must be json$/,
  qr/^token must not contain control characters$/,
  qr/^token must not contain control characters$/ ]
--- no_error_log
ghp_Ctl0029



=== TEST 31: 400: sub, jti, aud of the wrong type
--- request eval
[ "POST /__magictoken\n{\"token\": \"x\", \"allowed\": [\"GET /x\"], \"sub\": 5}",
  "POST /__magictoken\n{\"token\": \"x\", \"allowed\": [\"GET /x\"], \"jti\": \"\"}",
  "POST /__magictoken\n{\"token\": \"x\", \"allowed\": [\"GET /x\"], \"aud\": [5]}" ]
--- error_code eval
[400, 400, 400]
--- response_body_like eval
[ qr/^sub must be a non-empty string/, qr/^jti must be a non-empty string/,
  qr/^aud must be a list of strings$/ ]



=== TEST 32: 405 for other methods
--- request eval
[ "PUT /__magictoken\n{\"token\": \"x\", \"allowed\": [\"GET /x\"]}",
  "DELETE /__magictoken", "PATCH /__magictoken\n{}", "OPTIONS /__magictoken" ]
--- error_code eval
[405, 405, 405, 405]



=== TEST 33: 413: body over 16 KiB (Content-Length)
--- request eval
"POST /__magictoken\n$::big"
--- error_code: 413
--- no_error_log
ghp_Big



=== TEST 34: 413 at 16 KiB + 1; exactly 16 KiB is read (with a 16k body buffer: not written to disk)
--- config
    location = /__magictoken {
        magic_token_issuer;
        client_body_buffer_size 16k;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
    }
--- request eval
[ "POST /__magictoken\n$::just_over", "POST /__magictoken\n$::exact" ]
--- error_code eval
[413, 200]
--- no_error_log
buffered to a temporary file
ghp_Exact



=== TEST 35: chunked request body
--- raw_request eval
::chunked('{"token": "ghp_Chunked", "allowed": ["GET /x"]}')
--- error_code: 200
--- response_headers
Content-Type: application/jwt
--- response_body_like chomp
^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$



=== TEST 36: chunked request body over 16 KiB -> 413
--- config
    location = /__magictoken {
        magic_token_issuer;
        client_body_buffer_size 32k;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
    }
--- raw_request eval
::chunked($::big)
--- error_code: 413
--- no_error_log
ghp_Big



=== TEST 37: magic_token_issuer_key RSA, alg=PS256 kid=k1 [check ps256]
--- config
    location = /__magictoken {
        magic_token_issuer;
        magic_token_issuer_key $TEST_NGINX_KEYS/private.pem alg=PS256 kid=k1;
    }
--- request
POST /__magictoken
{"token": "ghp_x", "allowed": ["GET /x"]}
--- error_code: 200



=== TEST 38: magic_token_issuer_key PKCS#1 RSA, alg=RS384 [check rs384]
--- config
    location = /__magictoken {
        magic_token_issuer;
        magic_token_issuer_key $TEST_NGINX_KEYS/private.pkcs1.pem alg=RS384;
    }
--- request
POST /__magictoken
{"token": "ghp_x", "allowed": ["GET /x"]}
--- error_code: 200



=== TEST 39: EC key, default alg ES256, credential as JWE ECDH-ES/A256GCM to the same key [check es256_jwe]
--- config
    location = /__magictoken {
        magic_token_issuer;
        magic_token_issuer_key $TEST_NGINX_ISSUER_KEYS/ec.pem kid=ec-1 jwe=ECDH-ES enc=A256GCM;
    }
--- request
POST /__magictoken
{"token": "ghp_x", "allowed": ["GET /x"]}
--- error_code: 200



=== TEST 40: Ed25519 key signs EdDSA, credential encrypted to an RSA public key [check eddsa]
--- config
    location = /__magictoken {
        magic_token_issuer;
        magic_token_issuer_key $TEST_NGINX_ISSUER_KEYS/ed.pem encrypt=$TEST_NGINX_KEYS/public.pem;
    }
--- request
POST /__magictoken
{"token": "ghp_x", "allowed": ["GET /x"]}
--- error_code: 200



=== TEST 41: RSA key, credential as JWE RSA-OAEP-256/A256GCM with enc_kid [check rsa_jwe]
--- config
    location = /__magictoken {
        magic_token_issuer;
        magic_token_issuer_key $TEST_NGINX_KEYS/private.pem jwe=RSA-OAEP-256 enc=A256GCM enc_kid=e1;
    }
--- request
POST /__magictoken
{"token": "ghp_x", "allowed": ["GET /x"]}
--- error_code: 200



=== TEST 42: magic_token_issuer_key inherited from server level, over magic_token_key [check es256]
--- config
    magic_token_issuer_key $TEST_NGINX_ISSUER_KEYS/ec.pem jwe=ECDH-ES enc=A128GCM;
    location = /__magictoken {
        magic_token_issuer;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
    }
--- request
POST /__magictoken
{"token": "ghp_x", "allowed": ["GET /x"]}
--- error_code: 200



=== TEST 43: default key: the first RSA private key of the magic_token_key list [check default]
--- config
    location = /__magictoken {
        magic_token_issuer;
        magic_token_key $TEST_NGINX_KEYS/public.pem;
        magic_token_key $TEST_NGINX_ISSUER_KEYS/ec.pem;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
    }
--- request
POST /__magictoken
{"token": "ghp_x", "allowed": ["GET /api/user", "POST /api/repos/[^/]+/[^/]+/issues"]}
--- error_code: 200



=== TEST 44: access control is the operator's: allow/deny in front of the issuer
--- config
    location = /__magictoken {
        deny all;
        magic_token_issuer;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
    }
--- request
POST /__magictoken
{"token": "ghp_IssuerSecret0043", "allowed": ["GET /x"]}
--- error_code: 403
--- no_error_log
ghp_IssuerSecret0043



=== TEST 45: the issuer inside "magic_token on" needs "magic_token off" to be reachable without a token
--- config
    magic_token on;
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    location = /locked {
        magic_token_issuer;
    }
    location = /__magictoken {
        magic_token off;
        magic_token_issuer;
    }
--- request eval
[ "POST /locked\n{\"token\": \"ghp_x\", \"allowed\": [\"GET /x\"]}",
  "POST /__magictoken\n{\"token\": \"ghp_x\", \"allowed\": [\"GET /x\"]}" ]
--- error_code eval
[401, 200]



=== TEST 46: 400: syntax that Python re and PCRE2 read differently is refused
--- request eval
[ "POST /__magictoken\n{\"token\": \"ghp_x\", \"allowed\": [\"GET /a{,3}\"]}",
  "POST /__magictoken\n{\"token\": \"ghp_x\", \"allowed\": [\"GET /[[:alpha:]]\"]}",
  "POST /__magictoken\n{\"token\": \"ghp_x\", \"allowed\": [\"GET /\\\\p{L}\"]}",
  "POST /__magictoken\n{\"token\": \"ghp_x\", \"allowed\": [\"GET /[\\u00e9]\"]}",
  "POST /__magictoken\n{\"token\": \"ghp_x\", \"allowed\": [\"GET /u\\u017fer\\\\Z\"]}" ]
--- error_code eval
[400, 400, 400, 400, 200]
--- response_body_like eval
[ qr/^scope regex "GET \/a\{,3\}": \{,n\} is refused .*\(full mode\)$/,
  qr/POSIX classes/, qr/escape \\p is refused/,
  qr/non-ASCII character in a character class .*\(full mode\)$/, qr/^ey/ ]
