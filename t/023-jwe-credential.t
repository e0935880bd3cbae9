# Encrypted credentials as compact JWE (minted by jwcrypto): every key
# management alg (RSA-OAEP, RSA-OAEP-256, ECDH-ES on P-256/384/521 and
# X25519, ECDH-ES+A128KW/+A256KW, A128KW, A256KW, dir) with every content
# encryption (A128GCM, A256GCM, A128CBC-HS256, A256CBC-HS512): the
# upstream receives "Authorization: Bearer <credential>".  Tampered
# ciphertext, tag, IV or header, a JWE to the wrong key, zip, an ECDH epk
# not on the curve, algorithms the module does not support, and an HMAC
# secret used as a decryption key all give 401 decrypt_failed; control
# characters give invalid_credential.  magic-api-proxy's base64 RSA-OAEP
# form keeps working next to JWE.
#
# Keys and tokens are made at load time by t/tools/jose_mint.py (jwcrypto,
# run with $ENV{PYTHON} or /usr/bin/python3) into $TEST_NGINX_JOSE_DIR.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;
use File::Path qw(rmtree);
use File::Temp qw(tempdir);

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
# a token signed by the RSA key whose credential is a JWE to $to
sub jwe_token {
    my ($cred, $to, $alg, $enc, @more) = @_;
    return jose('mint', '--key', "$DIR/rsa.pem", '--allowed', 'GET /.*',
                '--credential', $cred, '--jwe-to', "$DIR/$to",
                '--jwe-alg', $alg, '--jwe-enc', $enc, @more);
}

jose('keygen', $DIR, @$_) for
    [qw(rsa rsa)], [qw(p256 p256)], [qw(p384 p384)], [qw(p521 p521)],
    [qw(x25519 x25519)], [qw(kw16 oct16 --use enc)], [qw(kw32 oct --use enc)],
    [qw(dir16 oct16 --alg dir)], [qw(dir32 oct --alg dir)],
    [qw(dir64 oct64 --alg dir)], [qw(stranger rsa)], [qw(strangerec p256)],
    [qw(hmac oct)];
# the decryption keys, private, in one JWK Set next to the RSA PEM
jose('jwks', "$DIR/enc.jwks", map { "$DIR/$_.jwk" }
     qw(p256 p384 p521 x25519 kw16 kw32 dir16 dir32 dir64));

our %tok;
my %to = ('RSA-OAEP' => 'rsa.pem', 'RSA-OAEP-256' => 'rsa.pub.pem',
          'ECDH-ES' => 'p256.pub.jwk', 'ECDH-ES+A128KW' => 'p384.pub.jwk',
          'ECDH-ES+A256KW' => 'x25519.pub.jwk', 'A128KW' => 'kw16.jwk',
          'A256KW' => 'kw32.jwk');
my %dir = (A128GCM => 'dir16.jwk', A256GCM => 'dir32.jwk',
           'A128CBC-HS256' => 'dir32.jwk', 'A256CBC-HS512' => 'dir64.jwk');
for my $enc (qw(A128GCM A256GCM A128CBC-HS256 A256CBC-HS512)) {
    for my $alg (sort keys %to) {
        $tok{"$alg $enc"} = jwe_token("cred-$alg-$enc", $to{$alg}, $alg, $enc);
    }
    $tok{"dir $enc"} = jwe_token("cred-dir-$enc", $dir{$enc}, 'dir', $enc);
}
# other curves for ECDH-ES, and a JWE without kid
$tok{x25519} = jwe_token('cred-x25519', 'x25519.pub.jwk', 'ECDH-ES', 'A128GCM');
$tok{p521} = jwe_token('cred-p521', 'p521.pub.jwk', 'ECDH-ES', 'A256GCM');
$tok{p256kw} = jwe_token('cred-p256kw', 'p256.pub.jwk', 'ECDH-ES+A256KW', 'A256GCM');
$tok{nokid} = jwe_token('cred-nokid', 'p384.pub.jwk', 'ECDH-ES', 'A256GCM',
                        '--jwe-kid', '');

# failures
for my $what (qw(ciphertext tag iv header)) {
    $tok{"gcm_$what"} = jwe_token('cred-x', 'rsa.pub.pem', 'RSA-OAEP-256',
                                  'A256GCM', '--jwe-tamper', $what);
    $tok{"cbc_$what"} = jwe_token('cred-x', 'dir32.jwk', 'dir', 'A128CBC-HS256',
                                  '--jwe-tamper', $what);
}
$tok{wrong_rsa} = jwe_token('cred-x', 'stranger.pub.pem', 'RSA-OAEP-256', 'A256GCM');
$tok{wrong_rsa_kid} = jwe_token('cred-x', 'stranger.pub.jwk', 'RSA-OAEP-256', 'A256GCM');
$tok{wrong_rsa_our_kid} = jwe_token('cred-x', 'stranger.pub.pem', 'RSA-OAEP-256',
                                    'A256GCM', '--jwe-kid', 'p256');
$tok{wrong_ec} = jwe_token('cred-x', 'strangerec.pub.jwk', 'ECDH-ES', 'A256GCM',
                           '--jwe-kid', '');
$tok{zip} = jwe_token('cred-x', 'kw32.jwk', 'A256KW', 'A256GCM',
                      '--jwe-header', 'zip="DEF"');
$tok{zip_rsa} = jwe_token('cred-x', 'rsa.pub.pem', 'RSA-OAEP-256', 'A256GCM',
                          '--jwe-header', 'zip="DEF"');
$tok{epk_p256} = jwe_token('cred-x', 'p256.pub.jwk', 'ECDH-ES', 'A256GCM',
                           '--jwe-tamper', 'epk');
$tok{epk_p384kw} = jwe_token('cred-x', 'p384.pub.jwk', 'ECDH-ES+A128KW', 'A128GCM',
                             '--jwe-tamper', 'epk');
$tok{epk_x25519} = jwe_token('cred-x', 'x25519.pub.jwk', 'ECDH-ES', 'A128GCM',
                             '--jwe-tamper', 'epk');
$tok{rsa1_5} = jwe_token('cred-x', 'rsa.pub.pem', 'RSA1_5', 'A128GCM');
$tok{a192gcm} = jwe_token('cred-x', 'rsa.pub.pem', 'RSA-OAEP-256', 'A192GCM');
$tok{a192kw} = jwe_token('cred-x', 'p256.pub.jwk', 'ECDH-ES+A192KW', 'A256GCM');
# an HMAC secret (magic_token_secret) never decrypts
$tok{hmac_kw} = jwe_token('cred-x', 'hmac.jwk', 'A256KW', 'A256GCM', '--jwe-kid', '');
$tok{hmac_dir} = jwe_token('cred-x', 'hmac.jwk', 'dir', 'A128CBC-HS256', '--jwe-kid', '');
# control characters in a correctly encrypted credential
$tok{ctl} = jwe_token("cred\r\nX-Injected: 1", 'kw32.jwk', 'A256KW', 'A256GCM');
# magic-api-proxy's form, next to JWE
$tok{oaep} = jose('mint', '--key', "$DIR/rsa.pem", '--allowed', 'GET /.*',
                  '--credential', 'cred-oaep', '--oaep-to', "$DIR/rsa.pub.pem");

default_config(<<'_EOC_');
        proxy_set_header Authorization "Bearer $magic_token_credential";
        add_header X-MT-Error $magic_token_error always;

        location /jwe/ {
            magic_token on;
            magic_token_key $TEST_NGINX_JOSE_DIR/rsa.pem;
            magic_token_key $TEST_NGINX_JOSE_DIR/enc.jwks;
            proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        }

        # the RSA key verifies; the only other key is an HMAC secret
        location /hmac/ {
            magic_token on;
            magic_token_key $TEST_NGINX_JOSE_DIR/rsa.pem;
            magic_token_secret $TEST_NGINX_JOSE_DIR/hmac.secret;
            proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        }

        # public key only: verifies, cannot decrypt
        location /public/ {
            magic_token on;
            magic_token_key $TEST_NGINX_JOSE_DIR/rsa.pub.pem credentials;
            proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        }
_EOC_

run_tests();

__DATA__

=== TEST 1: JWE RSA-OAEP + A128GCM (RSA private PEM)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'RSA-OAEP A128GCM'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-RSA-OAEP-A128GCM] method=GET uri=/jwe/x



=== TEST 2: JWE RSA-OAEP-256 + A128GCM (RSA private PEM)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'RSA-OAEP-256 A128GCM'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-RSA-OAEP-256-A128GCM] method=GET uri=/jwe/x



=== TEST 3: JWE ECDH-ES + A128GCM (P-256 JWK)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'ECDH-ES A128GCM'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-ECDH-ES-A128GCM] method=GET uri=/jwe/x



=== TEST 4: JWE ECDH-ES+A128KW + A128GCM (P-384 JWK)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'ECDH-ES+A128KW A128GCM'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-ECDH-ES+A128KW-A128GCM] method=GET uri=/jwe/x



=== TEST 5: JWE ECDH-ES+A256KW + A128GCM (X25519 JWK)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'ECDH-ES+A256KW A128GCM'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-ECDH-ES+A256KW-A128GCM] method=GET uri=/jwe/x



=== TEST 6: JWE A128KW + A128GCM (oct JWK use enc)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'A128KW A128GCM'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-A128KW-A128GCM] method=GET uri=/jwe/x



=== TEST 7: JWE A256KW + A128GCM (oct JWK use enc)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'A256KW A128GCM'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-A256KW-A128GCM] method=GET uri=/jwe/x



=== TEST 8: JWE dir + A128GCM (oct JWK alg dir)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'dir A128GCM'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-dir-A128GCM] method=GET uri=/jwe/x



=== TEST 9: JWE RSA-OAEP + A256GCM (RSA private PEM)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'RSA-OAEP A256GCM'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-RSA-OAEP-A256GCM] method=GET uri=/jwe/x



=== TEST 10: JWE RSA-OAEP-256 + A256GCM (RSA private PEM)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'RSA-OAEP-256 A256GCM'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-RSA-OAEP-256-A256GCM] method=GET uri=/jwe/x



=== TEST 11: JWE ECDH-ES + A256GCM (P-256 JWK)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'ECDH-ES A256GCM'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-ECDH-ES-A256GCM] method=GET uri=/jwe/x



=== TEST 12: JWE ECDH-ES+A128KW + A256GCM (P-384 JWK)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'ECDH-ES+A128KW A256GCM'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-ECDH-ES+A128KW-A256GCM] method=GET uri=/jwe/x



=== TEST 13: JWE ECDH-ES+A256KW + A256GCM (X25519 JWK)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'ECDH-ES+A256KW A256GCM'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-ECDH-ES+A256KW-A256GCM] method=GET uri=/jwe/x



=== TEST 14: JWE A128KW + A256GCM (oct JWK use enc)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'A128KW A256GCM'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-A128KW-A256GCM] method=GET uri=/jwe/x



=== TEST 15: JWE A256KW + A256GCM (oct JWK use enc)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'A256KW A256GCM'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-A256KW-A256GCM] method=GET uri=/jwe/x



=== TEST 16: JWE dir + A256GCM (oct JWK alg dir)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'dir A256GCM'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-dir-A256GCM] method=GET uri=/jwe/x



=== TEST 17: JWE RSA-OAEP + A128CBC-HS256 (RSA private PEM)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'RSA-OAEP A128CBC-HS256'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-RSA-OAEP-A128CBC-HS256] method=GET uri=/jwe/x



=== TEST 18: JWE RSA-OAEP-256 + A128CBC-HS256 (RSA private PEM)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'RSA-OAEP-256 A128CBC-HS256'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-RSA-OAEP-256-A128CBC-HS256] method=GET uri=/jwe/x



=== TEST 19: JWE ECDH-ES + A128CBC-HS256 (P-256 JWK)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'ECDH-ES A128CBC-HS256'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-ECDH-ES-A128CBC-HS256] method=GET uri=/jwe/x



=== TEST 20: JWE ECDH-ES+A128KW + A128CBC-HS256 (P-384 JWK)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'ECDH-ES+A128KW A128CBC-HS256'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-ECDH-ES+A128KW-A128CBC-HS256] method=GET uri=/jwe/x



=== TEST 21: JWE ECDH-ES+A256KW + A128CBC-HS256 (X25519 JWK)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'ECDH-ES+A256KW A128CBC-HS256'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-ECDH-ES+A256KW-A128CBC-HS256] method=GET uri=/jwe/x



=== TEST 22: JWE A128KW + A128CBC-HS256 (oct JWK use enc)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'A128KW A128CBC-HS256'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-A128KW-A128CBC-HS256] method=GET uri=/jwe/x



=== TEST 23: JWE A256KW + A128CBC-HS256 (oct JWK use enc)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'A256KW A128CBC-HS256'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-A256KW-A128CBC-HS256] method=GET uri=/jwe/x



=== TEST 24: JWE dir + A128CBC-HS256 (oct JWK alg dir)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'dir A128CBC-HS256'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-dir-A128CBC-HS256] method=GET uri=/jwe/x



=== TEST 25: JWE RSA-OAEP + A256CBC-HS512 (RSA private PEM)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'RSA-OAEP A256CBC-HS512'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-RSA-OAEP-A256CBC-HS512] method=GET uri=/jwe/x



=== TEST 26: JWE RSA-OAEP-256 + A256CBC-HS512 (RSA private PEM)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'RSA-OAEP-256 A256CBC-HS512'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-RSA-OAEP-256-A256CBC-HS512] method=GET uri=/jwe/x



=== TEST 27: JWE ECDH-ES + A256CBC-HS512 (P-256 JWK)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'ECDH-ES A256CBC-HS512'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-ECDH-ES-A256CBC-HS512] method=GET uri=/jwe/x



=== TEST 28: JWE ECDH-ES+A128KW + A256CBC-HS512 (P-384 JWK)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'ECDH-ES+A128KW A256CBC-HS512'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-ECDH-ES+A128KW-A256CBC-HS512] method=GET uri=/jwe/x



=== TEST 29: JWE ECDH-ES+A256KW + A256CBC-HS512 (X25519 JWK)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'ECDH-ES+A256KW A256CBC-HS512'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-ECDH-ES+A256KW-A256CBC-HS512] method=GET uri=/jwe/x



=== TEST 30: JWE A128KW + A256CBC-HS512 (oct JWK use enc)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'A128KW A256CBC-HS512'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-A128KW-A256CBC-HS512] method=GET uri=/jwe/x



=== TEST 31: JWE A256KW + A256CBC-HS512 (oct JWK use enc)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'A256KW A256CBC-HS512'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-A256KW-A256CBC-HS512] method=GET uri=/jwe/x



=== TEST 32: JWE dir + A256CBC-HS512 (oct JWK alg dir)
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'dir A256CBC-HS512'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-dir-A256CBC-HS512] method=GET uri=/jwe/x



=== TEST 33: JWE ECDH-ES X25519 + A128GCM
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'x25519'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-x25519] method=GET uri=/jwe/x



=== TEST 34: JWE ECDH-ES P-521 + A256GCM
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'p521'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-p521] method=GET uri=/jwe/x



=== TEST 35: JWE ECDH-ES+A256KW P-256 + A256GCM
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'p256kw'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-p256kw] method=GET uri=/jwe/x



=== TEST 36: JWE without kid (ECDH-ES P-384): every key is tried
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'nokid'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-nokid] method=GET uri=/jwe/x



=== TEST 37: magic-api-proxy base64 RSA-OAEP credential next to JWE keys
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'oaep'}"
--- error_code: 200
--- response_body
auth=[Bearer cred-oaep] method=GET uri=/jwe/x



=== TEST 38: A256GCM: tampered ciphertext -> decrypt_failed
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'gcm_ciphertext'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 39: A128CBC-HS256: tampered ciphertext -> decrypt_failed
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'cbc_ciphertext'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 40: A256GCM: tampered tag -> decrypt_failed
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'gcm_tag'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 41: A128CBC-HS256: tampered tag -> decrypt_failed
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'cbc_tag'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 42: A256GCM: tampered iv -> decrypt_failed
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'gcm_iv'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 43: A128CBC-HS256: tampered iv -> decrypt_failed
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'cbc_iv'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 44: A256GCM: tampered header -> decrypt_failed
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'gcm_header'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers_like
X-MT-Error: ^(decrypt_failed|malformed)$
--- no_error_log
[error]



=== TEST 45: A128CBC-HS256: tampered header -> decrypt_failed
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'cbc_header'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers_like
X-MT-Error: ^(decrypt_failed|malformed)$
--- no_error_log
[error]



=== TEST 46: JWE to an unknown RSA key (no kid) -> decrypt_failed
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'wrong_rsa'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 47: JWE to an unknown RSA key (its kid) -> decrypt_failed
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'wrong_rsa_kid'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 48: JWE to an unknown RSA key, kid of a configured key -> decrypt_failed
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'wrong_rsa_our_kid'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 49: JWE to an unknown P-256 key -> decrypt_failed
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'wrong_ec'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 50: JWE with zip (A256KW) -> decrypt_failed
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'zip'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 51: JWE with zip (RSA-OAEP-256) -> decrypt_failed
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'zip_rsa'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 52: ECDH-ES epk not on the curve (P-256) -> decrypt_failed
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'epk_p256'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 53: ECDH-ES+A128KW epk not on the curve (P-384) -> decrypt_failed
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'epk_p384kw'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 54: ECDH-ES X25519 epk of low order (all zero) -> decrypt_failed
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'epk_x25519'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 55: JWE alg RSA1_5 not supported -> decrypt_failed
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'rsa1_5'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 56: JWE enc A192GCM not supported -> decrypt_failed
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'a192gcm'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 57: JWE alg ECDH-ES+A192KW not supported -> decrypt_failed
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'a192kw'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 58: an HMAC secret never unwraps a key (A256KW)
--- request
GET /hmac/x
--- more_headers eval
"Authorization: Bearer $::tok{'hmac_kw'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 59: an HMAC secret is never a dir key
--- request
GET /hmac/x
--- more_headers eval
"Authorization: Bearer $::tok{'hmac_dir'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 60: public key only: a JWE credential cannot be decrypted
--- request
GET /public/x
--- more_headers eval
"Authorization: Bearer $::tok{'RSA-OAEP-256 A256GCM'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 61: public key only: an OAEP credential cannot be decrypted
--- request
GET /public/x
--- more_headers eval
"Authorization: Bearer $::tok{'oaep'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: decrypt_failed
--- no_error_log
[error]



=== TEST 62: control characters in a JWE credential -> invalid_credential
--- request
GET /jwe/x
--- more_headers eval
"Authorization: Bearer $::tok{'ctl'}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: invalid_credential
--- no_error_log
[error]
