# Key rotation and key-file errors.
#
#   * old and new keys side by side (two magic_token_key files, one JWK Set
#     with two kids, two JWK Sets, RSA next to EC): tokens by either key
#     verify; kid routing picks the key; once the old key is removed, old
#     tokens are refused (and credentials encrypted to it no longer decrypt);
#   * a real reload (HUP) sequence: add the new key, a broken key file makes
#     the reload fail while the running configuration keeps serving, then
#     the old key is removed;
#   * broken key files (PEM and JWKS: unknown kty, bad base64url, RSA < 2048,
#     EC point not on the curve, duplicate members, ...) stop nginx from
#     starting, with a magic_token_key message naming the file and reason.
#
# Keys and tokens are made at load time by t/tools/jose_mint.py (jwcrypto,
# run with $ENV{PYTHON} or /usr/bin/python3) into $TEST_NGINX_JOSE_DIR.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;
use File::Path qw(rmtree);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(decode_base64url encode_base64url);

my $PY = $ENV{PYTHON} || '/usr/bin/python3';
my $DIR = tempdir('mt-jose-XXXXXX', TMPDIR => 1, CLEANUP => 0);
my $OWNER = $$;
END { rmtree($DIR) if $$ == $OWNER && !$ENV{MAGIC_TOKEN_KEEP_KEYS} }
$ENV{TEST_NGINX_JOSE_DIR} = $DIR;

sub jose {
    my $pid = open(my $fh, '-|') // die "fork: $!";
    exec($PY, "$FindBin::Bin/tools/jose_mint.py", @_) or die "exec $PY: $!"
        if $pid == 0;
    my $out = do { local $/; <$fh> };
    close $fh or die "jose_mint.py @_[0..1]: exit " . ($? >> 8) . "\n";
    $out =~ s/\s+\z//;
    return $out;
}
sub jmint { jose('mint', '--allowed', 'GET /.*', @_) }

sub slurp { local (@ARGV, $/) = @_; scalar <> }
sub spew {
    my ($file, $data) = @_;
    open my $out, '>', $file or die "$file: $!";
    print $out $data;
    close $out;
}
my $json = JSON::PP->new->canonical;

# ---------------------------------------------------------------- keys

jose('keygen', $DIR, @$_) for
    ['old', 'rsa', '--kid', '2025-01'], ['new', 'rsa', '--kid', '2026-01'],
    ['ecnew', 'p256', '--kid', 'ec-2026'], ['small', 'rsa1024'],
    ['ec', 'p256'];
jose('jwks', "$DIR/both.jwks", "$DIR/old.jwk", "$DIR/new.jwk");
jose('jwks', "$DIR/rsa-ec.jwks", "$DIR/old.jwk", "$DIR/ecnew.pub.jwk");

# broken key files
my $rsa = $json->decode(slurp("$DIR/new.pub.jwk"));
my $ec = $json->decode(slurp("$DIR/ec.pub.jwk"));
my $y = decode_base64url($ec->{y});
substr($y, -1, 1) ^= "\x01";
my %bad = (
    'kty.jwks'     => { keys => [{ %$rsa, kty => 'XYZ' }] },
    'b64.jwks'     => { keys => [{ %$rsa, n => substr($rsa->{n}, 0, -4) . '+/==' }] },
    'curve.jwks'   => { keys => [{ %$ec, y => encode_base64url($y) }] },
    'crv.jwks'     => { keys => [$rsa, { %$ec, crv => 'P-999' }] },
);
spew("$DIR/$_", $json->encode($bad{$_})) for keys %bad;
my $rsa_text = $json->encode($rsa);
(my $dup = $rsa_text) =~ s/\}\z/,"kty":"RSA"}/;
spew("$DIR/dup-member.jwks", qq({"keys":[$dup]}));
spew("$DIR/dup-keys.jwks", qq({"keys":[$rsa_text],"keys":[]}));
spew("$DIR/truncated.jwks", substr(qq({"keys":[$rsa_text]}), 0, 100));
spew("$DIR/truncated.pem", substr(slurp("$DIR/new.pem"), 0, 300));

# -------------------------------------------------------------- tokens

our %tok;
my @old_cred = ('--credential', 'cred-old', '--oaep-to', "$DIR/old.pub.pem");
my @new_cred = ('--credential', 'cred-new', '--oaep-to', "$DIR/new.pub.pem");
$tok{old_nokid} = jmint('--key', "$DIR/old.pem", '--claim', 'sub="old"', @old_cred);
$tok{new_nokid} = jmint('--key', "$DIR/new.pem", '--claim', 'sub="new"', @new_cred);
$tok{old_kid} = jmint('--key', "$DIR/old.jwk", '--claim', 'sub="old"', @old_cred);
$tok{new_kid} = jmint('--key', "$DIR/new.jwk", '--claim', 'sub="new"', @new_cred);
# minted by the new key during the overlap, credential still for the old key
$tok{new_sig_old_cred} = jmint('--key', "$DIR/new.jwk", '--claim', 'sub="new"',
                               @old_cred);
# signed by the new key, but claiming the old key's kid
$tok{new_sig_old_kid} = jmint('--key', "$DIR/new.pem", '--kid', '2025-01');
$tok{unknown_kid} = jmint('--key', "$DIR/new.pem", '--kid', '2024-99');
$tok{ec_kid} = jmint('--key', "$DIR/ecnew.jwk", '--claim', 'sub="ec"');

# --------------------------------------------- reload (HUP) sequence
#
# Run before run_tests(), on the test server port, with the distribution's
# nginx started by hand in master mode: Test::Nginx has no documented
# reload-with-a-new-config step.

sub http_status {
    my ($port, $token) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 3)
        or return "connect: $!";
    print $s "GET /r/ok.txt HTTP/1.0\r\nHost: localhost\r\n"
           . "Authorization: Bearer $token\r\n\r\n";
    my $resp = do { local $/; <$s> } // '';
    return $resp =~ m{^HTTP/1\.[01] (\d+)} ? $1 : "no response";
}

# wait until $token gets $want (a reload takes effect asynchronously)
sub wait_status {
    my ($port, $token, $want) = @_;
    my $got;
    for (1 .. 50) {
        $got = http_status($port, $token);
        return $got if $got eq $want;
        select undef, undef, undef, 0.1;
    }
    return $got;
}

sub reload_sequence {
    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $port = main->can('server_port') ? main::server_port()
             : ($ENV{TEST_NGINX_SERVER_PORT} || 1984);
    my $r = tempdir('mt-reload-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    mkdir "$r/$_" for qw(conf logs tmp html);
    spew("$r/html/ok.txt", "ok\n");
    my $mod = module_path();
    my $user = $> == 0 ? 'user root;' : '';
    my $write_conf = sub {
        my $keys = join '', map { "            magic_token_key $_;\n" } @_;
        spew("$r/conf/nginx.conf", <<_EOC_);
load_module $mod;
$user
worker_processes 1;
pid $r/logs/nginx.pid;
error_log $r/logs/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $r/tmp/body;
    proxy_temp_path $r/tmp/proxy;
    fastcgi_temp_path $r/tmp/fastcgi;
    uwsgi_temp_path $r/tmp/uwsgi;
    scgi_temp_path $r/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        location /r/ {
            magic_token on;
$keys            alias $r/html/;   # static content: "return" would run before access
        }
    }
}
_EOC_
    };
    my $hup = sub {
        my $pid = slurp("$r/logs/nginx.pid");
        chomp $pid;
        kill 'HUP', $pid or die "kill HUP $pid: $!";
    };
    my ($old, $new) = ("$r/old.pem", "$r/new.pem");
    spew($old, slurp("$DIR/old.pem"));
    spew($new, slurp("$DIR/new.pem"));

    # 1. only the old key
    $write_conf->($old);
    system($nginx, '-p', "$r/", '-c', "$r/conf/nginx.conf", '-e', "$r/logs/error.log") == 0
        or do { Test::More::fail("reload: nginx starts"); Test::More::diag(slurp("$r/logs/error.log")); return };
    my $ok = eval {
        Test::More::is(wait_status($port, $tok{old_nokid}, 200), 200, 'reload 1: old key: old token 200');
        Test::More::is(http_status($port, $tok{new_nokid}), 401, 'reload 1: old key: new token 401');

        # 2. add the new key, reload
        $write_conf->($old, $new);
        $hup->();
        Test::More::is(wait_status($port, $tok{new_nokid}, 200), 200, 'reload 2: both keys: new token 200');
        Test::More::is(http_status($port, $tok{old_nokid}), 200, 'reload 2: both keys: old token 200');

        # 3. a broken key file: the reload fails, the running config stays
        spew($new, "-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n");
        $hup->();
        my $log = '';
        for (1 .. 50) {
            $log = slurp("$r/logs/error.log");
            last if $log =~ /\[emerg\].*magic_token_key/;
            select undef, undef, undef, 0.1;
        }
        Test::More::like($log, qr/\[emerg\] .*magic_token_key "\Q$new\E": /,
                         'reload 3: broken key file: reload refused with a magic_token_key error');
        Test::More::is(http_status($port, $tok{new_nokid}), 200, 'reload 3: running config still has the new key');
        Test::More::is(http_status($port, $tok{old_nokid}), 200, 'reload 3: running config still has the old key');

        # 4. fixed file, old key removed
        spew($new, slurp("$DIR/new.pem"));
        $write_conf->($new);
        $hup->();
        Test::More::is(wait_status($port, $tok{old_nokid}, 401), 401, 'reload 4: old key removed: old token 401');
        Test::More::is(http_status($port, $tok{new_nokid}), 200, 'reload 4: new token 200');
        1;
    };
    my $err = $@;
    # stop the nginx started above (its pid from its own pid file)
    if (open my $fh, '<', "$r/logs/nginx.pid") {
        my $pid = <$fh>;
        chomp $pid;
        if ($pid =~ /^\d+$/) {
            kill 'QUIT', $pid;
            for (1 .. 50) { last unless kill 0, $pid; select undef, undef, undef, 0.1 }
        }
    }
    rmtree($r);
    die $err unless $ok;
}
reload_sequence();

# ------------------------------------------- nginx -t error messages
#
# The broken files of the must_die blocks below, checked with "nginx -t":
# its stderr carries the message whatever the nginx build's default error
# log is (Debian's nginx logs configuration errors to stderr, where a
# must_die block's error_log check would not see them).

for my $case (['does-not-exist.jwks', qr/cannot open file/],
              ['truncated.pem', qr/no PEM key found|PEM/],
              ['small.pem', qr/2048/],
              ['kty.jwks', qr/key 0: .*"kty".*"XYZ"/],
              ['b64.jwks', qr/key 0: .*"n".*base64/],
              ['small.pub.jwks', qr/2048/],
              ['curve.jwks', qr/key 0: .*not on curve/],
              ['dup-member.jwks', qr/duplicate.*"kty"/],
              ['dup-keys.jwks', qr/duplicate.*"keys"/],
              ['crv.jwks', qr/key 1: .*P-999/],
              ['truncated.jwks', qr/invalid JSON/]) {
    my ($file, $reason) = @$case;
    my ($rc, $err) = nginx_config_check(<<"_EOC_");
    server {
        listen 127.0.0.1:1;
        location / {
            magic_token on;
            magic_token_key $DIR/new.pem;
            magic_token_key $DIR/$file;
        }
    }
_EOC_
    Test::More::isnt($rc, 0, "nginx -t fails on $file");
    Test::More::like($err, qr/\[emerg\] .*magic_token_key "\Q$DIR\E\/\Q$file\E": .*$reason/,
                     "nginx -t: $file: magic_token_key, file name and reason")
        or Test::More::diag($err);
}

# ------------------------------------------------------------ config

my $loc = '';
for my $l (['two-pem', 'old.pem', 'new.pem'], ['one-jwks', 'both.jwks'],
           ['two-jwks', 'old.jwks', 'new.jwks'], ['rsa-ec', 'rsa-ec.jwks'],
           ['kid-and-nokid', 'old.jwks', 'new.pem'],
           ['new-pem', 'new.pem'], ['new-jwks', 'new.jwks']) {
    my ($path, @files) = @$l;
    $loc .= "        location /$path/ {\n            magic_token on;\n";
    $loc .= "            magic_token_key \$TEST_NGINX_JOSE_DIR/$_;\n" for @files;
    $loc .= "            proxy_pass http://127.0.0.1:\$TEST_NGINX_UPSTREAM_PORT;\n"
          . "        }\n";
}

default_config(<<'_EOC_' . $loc);
        proxy_set_header Authorization "sub=$magic_token_claim_sub cred=$magic_token_credential";
        add_header X-MT-Error $magic_token_error always;
_EOC_

run_tests();

__DATA__

=== TEST 1: two key files: token by the old key (no kid)
--- request
GET /two-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{old_nokid}"
--- error_code: 200
--- response_body
auth=[sub=old cred=cred-old] method=GET uri=/two-pem/x



=== TEST 2: two key files: token by the new key (no kid)
--- request
GET /two-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{new_nokid}"
--- error_code: 200
--- response_body
auth=[sub=new cred=cred-new] method=GET uri=/two-pem/x



=== TEST 3: two key files: a kid no key carries falls back to the keys without kid
--- request
GET /two-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{old_kid}"
--- error_code: 200
--- response_body
auth=[sub=old cred=cred-old] method=GET uri=/two-pem/x



=== TEST 4: two key files: new signature, credential encrypted to the old key
--- request
GET /two-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{new_sig_old_cred}"
--- error_code: 200
--- response_body
auth=[sub=new cred=cred-old] method=GET uri=/two-pem/x



=== TEST 5: one JWK Set, two kids: old kid
--- request
GET /one-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{old_kid}"
--- error_code: 200
--- response_body
auth=[sub=old cred=cred-old] method=GET uri=/one-jwks/x



=== TEST 6: one JWK Set, two kids: new kid
--- request
GET /one-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{new_kid}"
--- error_code: 200
--- response_body
auth=[sub=new cred=cred-new] method=GET uri=/one-jwks/x



=== TEST 7: one JWK Set: a token without kid is verified by any fitting key (old)
--- request
GET /one-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{old_nokid}"
--- error_code: 200
--- response_body
auth=[sub=old cred=cred-old] method=GET uri=/one-jwks/x



=== TEST 8: one JWK Set: a token without kid is verified by any fitting key (new)
--- request
GET /one-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{new_nokid}"
--- error_code: 200
--- response_body
auth=[sub=new cred=cred-new] method=GET uri=/one-jwks/x



=== TEST 9: kid routing: the old kid on a new-key signature is checked with the old key only
--- request
GET /one-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{new_sig_old_kid}"
--- error_code: 401
--- response_headers
X-MT-Error: bad_signature
--- response_body_unlike: auth=



=== TEST 10: kid routing: an unknown kid and no key without kid -> unknown_key
--- request
GET /one-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{unknown_kid}"
--- error_code: 401
--- response_headers
X-MT-Error: unknown_key
--- response_body_unlike: auth=



=== TEST 11: two JWK Sets: old kid
--- request
GET /two-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{old_kid}"
--- error_code: 200
--- response_body
auth=[sub=old cred=cred-old] method=GET uri=/two-jwks/x



=== TEST 12: two JWK Sets: new kid
--- request
GET /two-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{new_kid}"
--- error_code: 200
--- response_body
auth=[sub=new cred=cred-new] method=GET uri=/two-jwks/x



=== TEST 13: rotation RSA -> EC in one JWK Set: old RSA kid
--- request
GET /rsa-ec/x
--- more_headers eval
"Authorization: Bearer $::tok{old_kid}"
--- error_code: 200
--- response_body
auth=[sub=old cred=cred-old] method=GET uri=/rsa-ec/x



=== TEST 14: rotation RSA -> EC in one JWK Set: new ES256 kid
--- request
GET /rsa-ec/x
--- more_headers eval
"Authorization: Bearer $::tok{ec_kid}"
--- error_code: 200
--- response_body
auth=[sub=ec cred=] method=GET uri=/rsa-ec/x



=== TEST 15: JWKS key with kid + PEM key without: the new kid is unknown, the PEM key verifies
--- request
GET /kid-and-nokid/x
--- more_headers eval
"Authorization: Bearer $::tok{new_kid}"
--- error_code: 200
--- response_body
auth=[sub=new cred=cred-new] method=GET uri=/kid-and-nokid/x



=== TEST 16: JWKS key with kid + PEM key without: the old kid routes to the old key only
--- request
GET /kid-and-nokid/x
--- more_headers eval
"Authorization: Bearer $::tok{new_sig_old_kid}"
--- error_code: 401
--- response_headers
X-MT-Error: bad_signature



=== TEST 17: JWKS key with kid + PEM key without: old kid, old signature
--- request
GET /kid-and-nokid/x
--- more_headers eval
"Authorization: Bearer $::tok{old_kid}"
--- error_code: 200
--- response_body
auth=[sub=old cred=cred-old] method=GET uri=/kid-and-nokid/x



=== TEST 18: old key removed (PEM): old token without kid refused
--- request
GET /new-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{old_nokid}"
--- error_code: 401
--- response_headers
X-MT-Error: bad_signature
--- response_body_unlike: auth=



=== TEST 19: old key removed (PEM): old token with kid refused
--- request
GET /new-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{old_kid}"
--- error_code: 401
--- response_headers
X-MT-Error: bad_signature



=== TEST 20: old key removed (PEM): new token accepted
--- request
GET /new-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{new_nokid}"
--- error_code: 200
--- response_body
auth=[sub=new cred=cred-new] method=GET uri=/new-pem/x



=== TEST 21: old key removed (PEM): new signature but credential for the old key -> decrypt_failed
--- request
GET /new-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{new_sig_old_cred}"
--- error_code: 401
--- response_headers
X-MT-Error: decrypt_failed
--- response_body_unlike: auth=



=== TEST 22: old key removed (JWKS): old kid -> unknown_key
--- request
GET /new-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{old_kid}"
--- error_code: 401
--- response_headers
X-MT-Error: unknown_key



=== TEST 23: old key removed (JWKS): old token without kid -> bad_signature
--- request
GET /new-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{old_nokid}"
--- error_code: 401
--- response_headers
X-MT-Error: bad_signature



=== TEST 24: old key removed (JWKS): new kid accepted
--- request
GET /new-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{new_kid}"
--- error_code: 200
--- response_body
auth=[sub=new cred=cred-new] method=GET uri=/new-jwks/x



=== TEST 25: missing key file -> nginx does not start
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_JOSE_DIR/new.pem;
        magic_token_key $TEST_NGINX_JOSE_DIR/does-not-exist.jwks;
    }
--- must_die



=== TEST 26: truncated PEM next to a good key -> nginx does not start
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_JOSE_DIR/new.pem;
        magic_token_key $TEST_NGINX_JOSE_DIR/truncated.pem;
    }
--- must_die



=== TEST 27: PEM RSA key shorter than 2048 bits -> nginx does not start
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_JOSE_DIR/small.pem;
    }
--- must_die



=== TEST 28: JWKS: unknown kty -> nginx does not start
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_JOSE_DIR/kty.jwks;
    }
--- must_die



=== TEST 29: JWKS: bad base64url in "n" -> nginx does not start
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_JOSE_DIR/b64.jwks;
    }
--- must_die



=== TEST 30: JWKS: RSA key shorter than 2048 bits -> nginx does not start
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_JOSE_DIR/small.pub.jwks;
    }
--- must_die



=== TEST 31: JWKS: EC point not on the curve -> nginx does not start
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_JOSE_DIR/curve.jwks;
    }
--- must_die



=== TEST 32: JWKS: duplicate member in a key -> nginx does not start
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_JOSE_DIR/dup-member.jwks;
    }
--- must_die



=== TEST 33: JWKS: duplicate "keys" member -> nginx does not start
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_JOSE_DIR/dup-keys.jwks;
    }
--- must_die



=== TEST 34: JWKS: one bad key among good ones -> the whole file is refused
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_JOSE_DIR/crv.jwks;
    }
--- must_die



=== TEST 35: JWKS: truncated JSON -> nginx does not start
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_JOSE_DIR/truncated.jwks;
    }
--- must_die



=== TEST 36: a broken key at http level, next to good location keys -> nginx does not start
--- http_config
    magic_token_key $TEST_NGINX_JOSE_DIR/kty.jwks;
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_JOSE_DIR/new.jwks;
    }
--- must_die
