# magic_token_key: PKCS#8 / PKCS#1 private keys, SPKI public key and X.509
# certificate, several keys (rotation, verify-with-cert + decrypt-with-key),
# wrong key, inheritance (a location's own list replaces the inherited one),
# relative paths, startup failures on missing/bad key files, JWK key_ops and
# duplicate kids, and the magic_token_secret parameters.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;
use File::Spec;

our %tok;
my $K = keys_dir();
my $O = other_keys_dir();
my @allowed = ('GET /k/.*');

$tok{main} = mint(credential => 'cred-main', allowed => \@allowed);
$tok{main_nocred} = mint(allowed => \@allowed);
$tok{other} = mint(key => "$O/private.pem", credential => 'cred-other',
                   allowed => \@allowed);
# signed by main, credential encrypted to other
$tok{main_to_other} = mint(credential => 'cred-split', allowed => \@allowed,
                           encrypt_to => "$O/public.x509.cer");
# signed by other, credential encrypted to main
$tok{other_to_main} = mint(key => "$O/private.pem", credential => 'cred-x',
                           allowed => \@allowed, encrypt_to => "$K/public.pem");

# bad key files for the startup-failure tests
sub write_file { my ($p, $d) = @_; open my $f, '>', $p or die "$p: $!"; print $f $d; close $f }
write_file("$K/garbage.pem", "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n");
write_file("$K/empty.pem", "");
write_file("$K/notpem.pem", "just some text, no PEM here\n");
my $py = $ENV{PYTHON} || '/usr/bin/python3';
system($py, '-c', <<'_PY_', $K) == 0 or die "extra keygen failed";
import sys
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric import ec, rsa
d = sys.argv[1]
def write(name, key, enc=s.NoEncryption()):
    open(d + "/" + name, "wb").write(key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, enc))
write("ec.pem", ec.generate_private_key(ec.SECP256R1()))
write("rsa1024.pem", rsa.generate_private_key(public_exponent=65537, key_size=1024))
write("encrypted.pem", rsa.generate_private_key(public_exponent=65537, key_size=2048),
      s.BestAvailableEncryption(b"test-passphrase"))
_PY_

# relative paths resolve against the conf dir (<servroot>/conf)
my $servroot = $ENV{TEST_NGINX_SERVER_ROOT} || File::Spec->rel2abs('t/servroot');
$ENV{TEST_NGINX_KEYS_REL} = File::Spec->abs2rel($K, "$servroot/conf");

# Configuration error messages. Debian's nginx prints config-time errors on
# stderr (--error-log-path=stderr), not into the test server's error.log, so
# these are checked with "nginx -t" directly, independent of the runner.
{
    my $loc = sub { my $key = shift; <<"_EOC_" };
    server {
        listen 127.0.0.1:$ENV{TEST_NGINX_UPSTREAM_PORT};
        location / { magic_token on; magic_token_key $key; }
    }
_EOC_
    my ($rc, $err) = nginx_config_check($loc->("$K/private.pem"));
    Test::More::is($rc, 0, "nginx -t accepts a valid key") or Test::More::diag($err);

    for my $case (['missing', "$K/does-not-exist.pem"],
                  ['garbage', "$K/garbage.pem"],
                  ['empty', "$K/empty.pem"],
                  ['not PEM', "$K/notpem.pem"],
                  ['1024-bit RSA', "$K/rsa1024.pem"],
                  ['passphrase-encrypted', "$K/encrypted.pem"]) {
        my ($what, $file) = @$case;
        my ($rc, $err) = nginx_config_check($loc->($file));
        Test::More::isnt($rc, 0, "nginx -t fails on a $what key file");
        Test::More::like($err, qr/magic_token_key/, "$what key: error names the directive");
        my $base = (File::Spec->splitpath($file))[2];
        Test::More::like($err, qr/\Q$base\E/, "$what key: error names the file")
            or Test::More::diag($err);
    }
}

# JWK hygiene: key_ops honoured and checked, one kid per key type, all or
# nothing; magic_token_secret alg= and allow_short.
system($py, '-c', <<'_PY_', $K, $O) == 0 or die "JWK export failed";
import json, sys
from jwcrypto import jwk
k, o = sys.argv[1], sys.argv[2]
def pub(path, **extra):
    d = json.loads(jwk.JWK.from_pem(open(path, "rb").read()).export_public())
    d.update(extra)
    return d
def write(name, obj):
    open(k + "/" + name, "w").write(json.dumps(obj))
main, other = k + "/public.pem", o + "/public.pem"
ec = jwk.JWK.generate(kty="EC", crv="P-256")
ecd = json.loads(ec.export_public()); ecd["kid"] = "k1"
write("dup.jwks", {"keys": [pub(main, kid="k1"), pub(other, kid="k1")]})
write("dup_types.jwks", {"keys": [pub(main, kid="k1"), ecd]})
write("nokid.jwks", {"keys": [pub(main), pub(other)]})
write("keyops_dup.jwk", pub(main, key_ops=["verify", "verify"]))
write("keyops_unknown.jwks", {"keys": [pub(other), pub(main, key_ops=["check"])]})
write("keyops_use.jwk", pub(main, use="sig", key_ops=["decrypt"]))
write("keyops_verify.jwk", pub(main, key_ops=["verify"]))
write("keyops_encrypt.jwk", pub(main, key_ops=["encrypt"]))
_PY_
write_file("$K/secret8", "8 bytes.");
write_file("$K/secret24", "lockbox-readme-24-bytes\n");
write_file("$K/secret32", "a 32-byte HMAC secret for tests\n");
{
    my $loc = sub { my $keys = shift; <<"_EOC_" };
    server {
        listen 127.0.0.1:$ENV{TEST_NGINX_UPSTREAM_PORT};
        location / { magic_token on; $keys }
    }
_EOC_
    my @cases = (
        ['two RSA keys with one kid', "magic_token_key $K/dup.jwks;",
         qr/magic_token_key .*dup\.jwks.*key 1: another RSA key has the same "kid"/],
        ['one kid in two files', "magic_token_key $K/public.pem; magic_token_key $K/keyops_verify.jwk; "
         . "magic_token_key $K/dup_types.jwks; magic_token_key $K/dup_types.jwks;",
         qr/another (RSA|EC) key has the same "kid"/],
        ['two secrets with one kid', "magic_token_secret $K/secret32 kid=s; magic_token_secret $K/secret32 kid=s;",
         qr/magic_token_secret .*secret32.*another oct key has the same kid/],
        ['key_ops twice "verify"', "magic_token_key $K/keyops_dup.jwk;",
         qr/"key_ops" lists "verify" twice/],
        ['an unknown key_ops value (second key of a set)', "magic_token_key $K/keyops_unknown.jwks;",
         qr/key 1: unknown "key_ops" value "check"/],
        ['key_ops decrypt with use sig', "magic_token_key $K/keyops_use.jwk;",
         qr/"key_ops" with encryption operations for a signature key/],
        ['a 24-byte secret', "magic_token_secret $K/secret24;",
         qr/secret24": 24 bytes, shorter than the 32 bytes RFC 7518 requires; .*"allow_short"/],
        ['an 8-byte secret with allow_short', "magic_token_secret $K/secret8 allow_short;",
         qr/secret8": 8 bytes, shorter than the 32 bytes/],
        ['a 32-byte secret pinned to HS512', "magic_token_secret $K/secret32 alg=HS512;",
         qr/secret32": 32 bytes, shorter than the 64 bytes/],
        ['alg=RS256 on a secret', "magic_token_secret $K/secret32 alg=RS256;",
         qr/invalid parameter "alg=RS256"/],
        ['an unknown secret parameter', "magic_token_secret $K/secret32 short;",
         qr/invalid parameter "short"/],
        ['an empty kid=', "magic_token_secret $K/secret32 kid=;",
         qr/invalid parameter "kid="/],
    );
    for my $case (@cases) {
        my ($what, $keys, $re) = @$case;
        my ($rc, $err) = nginx_config_check($loc->($keys));
        Test::More::isnt($rc, 0, "nginx -t fails on $what");
        Test::More::like($err, $re, "$what: the error says why") or Test::More::diag($err);
    }

    for my $case (['RSA and EC keys with one kid', "magic_token_key $K/dup_types.jwks;"],
                  ['keys without kid', "magic_token_key $K/nokid.jwks;"],
                  ['a secret pinned to HS256 with a kid',
                   "magic_token_secret $K/secret32 alg=HS256 kid=x;"],
                  ['parameters in any order', "magic_token_secret $K/secret32 kid=x alg=HS256;"]) {
        my ($what, $keys) = @$case;
        my ($rc, $err) = nginx_config_check($loc->($keys));
        Test::More::is($rc, 0, "nginx -t accepts $what") or Test::More::diag($err);
        Test::More::unlike($err, qr/warn/, "$what: no warning");
    }

    my ($rc, $err) = nginx_config_check($loc->("magic_token_secret $K/secret24 allow_short;"));
    Test::More::is($rc, 0, 'nginx -t accepts a 24-byte secret with allow_short') or Test::More::diag($err);
    Test::More::like($err, qr/\[warn\] .*secret24": 24 bytes, shorter than the 32 bytes RFC 7518 requires, accepted because of "allow_short"/,
                     '... with a warning at every load') or Test::More::diag($err);
}

run_tests();

__DATA__

=== TEST 1: PKCS#8 private key verifies and decrypts
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /k/a
--- more_headers eval
"Authorization: Bearer $::tok{main}"
--- response_body
auth=[Bearer cred-main] method=GET uri=/k/a
--- error_code: 200



=== TEST 2: PKCS#1 ("BEGIN RSA PRIVATE KEY") private key verifies and decrypts
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pkcs1.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /k/a
--- more_headers eval
"Authorization: Bearer $::tok{main}"
--- response_body
auth=[Bearer cred-main] method=GET uri=/k/a
--- error_code: 200



=== TEST 3: SPKI public key verifies a token without credential
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/public.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /k/a
--- more_headers eval
"Authorization: Bearer $::tok{main_nocred}"
--- response_body
auth=[Bearer] method=GET uri=/k/a
--- error_code: 200



=== TEST 4: X.509 certificate verifies a token without credential
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/public.x509.cer;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /k/a
--- more_headers eval
"Authorization: Bearer $::tok{main_nocred}"
--- response_body
auth=[Bearer] method=GET uri=/k/a
--- error_code: 200



=== TEST 5: public key only cannot decrypt a credential -> 401 decrypt_failed
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/public.x509.cer credentials;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /k/a
--- more_headers eval
"Authorization: Bearer $::tok{main}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="invalid_token"
--- error_log eval
qr/magic_token: denied: decrypt_failed \(token [0-9a-f]{16}\)/



=== TEST 6: verify with main's cert, decrypt with other's private key
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/public.x509.cer credentials;
        magic_token_key $TEST_NGINX_OTHER_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /k/a
--- more_headers eval
"Authorization: Bearer $::tok{main_to_other}"
--- response_body
auth=[Bearer cred-split] method=GET uri=/k/a
--- error_code: 200



=== TEST 6b: the same without "credentials": another party's key may not sign credential tokens -> 401 untrusted_key
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/public.x509.cer;
        magic_token_key $TEST_NGINX_OTHER_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /k/a
--- more_headers eval
"Authorization: Bearer $::tok{main_to_other}"
--- error_code: 401
--- response_body_unlike: auth=
--- error_log eval
qr/magic_token: denied: untrusted_key \(token [0-9a-f]{16}\)/



=== TEST 6c: a certificate whose private key is loaded too is the proxy's own: no mark needed
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/public.x509.cer;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /k/a
--- more_headers eval
"Authorization: Bearer $::tok{main}"
--- error_code: 200
--- response_body_like: ^auth=\[Bearer 



=== TEST 6d: magic_token_key with an unknown parameter
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem trusted;
    }
--- must_die



=== TEST 7: key rotation: two private keys, token of the second key
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_OTHER_KEYS/private.pem;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /k/a
--- more_headers eval
"Authorization: Bearer $::tok{main}"
--- response_body
auth=[Bearer cred-main] method=GET uri=/k/a
--- error_code: 200



=== TEST 8: key rotation: two private keys, token of the first key
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_OTHER_KEYS/private.pem;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /k/a
--- more_headers eval
"Authorization: Bearer $::tok{other}"
--- response_body
auth=[Bearer cred-other] method=GET uri=/k/a
--- error_code: 200



=== TEST 9: token signed by an unknown key -> 401 bad_signature
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /k/a
--- more_headers eval
"Authorization: Bearer $::tok{other_to_main}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="invalid_token"
--- error_log eval
qr/magic_token: denied: bad_signature \(token [0-9a-f]{16}\)/



=== TEST 10: signed by our key but credential encrypted to another -> 401 decrypt_failed
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /k/a
--- more_headers eval
"Authorization: Bearer $::tok{main_to_other}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="invalid_token"
--- error_log eval
qr/magic_token: denied: decrypt_failed \(token [0-9a-f]{16}\)/
--- response_body_unlike: cred-split



=== TEST 11: location keys replace (not extend) the inherited list
--- config
    magic_token_key $TEST_NGINX_OTHER_KEYS/private.pem;
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /k/a
--- more_headers eval
"Authorization: Bearer $::tok{other}"
--- error_code: 401
--- error_log eval
qr/magic_token: denied: bad_signature/



=== TEST 12: location with its own key accepts its own key's token
--- config
    magic_token_key $TEST_NGINX_OTHER_KEYS/private.pem;
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /k/a
--- more_headers eval
"Authorization: Bearer $::tok{main}"
--- response_body
auth=[Bearer cred-main] method=GET uri=/k/a
--- error_code: 200



=== TEST 13: location without keys inherits the server's keys
--- config
    magic_token_key $TEST_NGINX_OTHER_KEYS/private.pem;
    location /k/ {
        magic_token on;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /k/a
--- more_headers eval
"Authorization: Bearer $::tok{other}"
--- response_body
auth=[Bearer cred-other] method=GET uri=/k/a
--- error_code: 200



=== TEST 14: http-level keys are inherited by servers and locations
--- http_config
    magic_token_key $TEST_NGINX_KEYS/private.pkcs1.pem;
--- config
    location /k/ {
        magic_token on;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /k/a
--- more_headers eval
"Authorization: Bearer $::tok{main}"
--- response_body
auth=[Bearer cred-main] method=GET uri=/k/a
--- error_code: 200



=== TEST 15: relative key path is relative to the conf dir
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS_REL/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /k/a
--- more_headers eval
"Authorization: Bearer $::tok{main}"
--- response_body
auth=[Bearer cred-main] method=GET uri=/k/a
--- error_code: 200



=== TEST 16: missing key file -> nginx does not start
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/does-not-exist.pem;
    }
--- must_die



=== TEST 17: garbage PEM -> nginx does not start
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/garbage.pem;
    }
--- must_die



=== TEST 18: empty key file -> nginx does not start
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/empty.pem;
    }
--- must_die



=== TEST 19: RSA key shorter than 2048 bits -> nginx does not start
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/rsa1024.pem;
    }
--- must_die



=== TEST 19b: passphrase-encrypted PEM -> nginx does not start
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/encrypted.pem;
    }
--- must_die



=== TEST 19c: an EC key loads, but never verifies an RS256 token -> 401 unknown_key
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/ec.pem;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /k/a
--- more_headers eval
"Authorization: Bearer $::tok{main}"
--- error_code: 401
--- response_body_unlike: auth=
--- error_log eval
qr/magic_token: denied: unknown_key \(token [0-9a-f]{16}\)/



=== TEST 20: bad key at http level -> nginx does not start
--- http_config
    magic_token_key $TEST_NGINX_KEYS/notpem.pem;
--- config
    location /k/ {
        return 200;
    }
--- must_die



=== TEST 21: a JWK with key_ops ["verify"] verifies
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/keyops_verify.jwk;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /k/a
--- more_headers eval
"Authorization: Bearer $::tok{main_nocred}"
--- response_body
auth=[Bearer] method=GET uri=/k/a
--- error_code: 200



=== TEST 22: the same key with key_ops ["encrypt"] never verifies -> 401 unknown_key
--- config
    location /k/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/keyops_encrypt.jwk;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /k/a
--- more_headers eval
"Authorization: Bearer $::tok{main_nocred}"
--- error_code: 401
--- response_body_unlike: auth=
--- error_log eval
qr/magic_token: denied: unknown_key \(token [0-9a-f]{16}\)/
