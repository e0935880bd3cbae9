# Signature algorithms through nginx: every JWS alg the module supports is
# accepted with the right key, as PEM and as JWK Set; a key of another
# family never verifies; alg confusion (HS256 with the RSA public key as
# secret), DER-encoded ECDSA signatures, alg none, crit and embedded
# jwk/jku/x5u/x5c headers are refused; a JWK "alg" pins its key; a
# "use": "enc" key never verifies.
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
sub jmint { jose('mint', '--allowed', 'GET /.*', @_) }

jose('keygen', $DIR, @$_) for
    [qw(rsa rsa)], [qw(p256 p256)], [qw(p384 p384)], [qw(p521 p521)],
    [qw(ed25519 ed25519)], [qw(hmac oct64)], [qw(evil rsa)],
    [qw(pinned rsa --alg RS256)], [qw(rsaenc rsa --use enc)],
    [qw(ecenc p256 --use enc)];

our %tok;
my %pem = (rsa => 'rsa', p256 => 'p256', p384 => 'p384', p521 => 'p521',
           ed => 'ed25519');
my %fam = (RS256 => 'rsa', RS384 => 'rsa', RS512 => 'rsa', PS256 => 'rsa',
           PS384 => 'rsa', PS512 => 'rsa', ES256 => 'p256', ES384 => 'p384',
           ES512 => 'p521', EdDSA => 'ed');
for my $alg (sort keys %fam) {
    my $k = $pem{ $fam{$alg} };
    # from PEM: no kid; from the JWK: kid = key name
    $tok{$alg} = jmint('--key', "$DIR/$k.pem", '--alg', $alg,
                       '--claim', qq{sub="$alg"});
    $tok{"${alg}_kid"} = jmint('--key', "$DIR/$k.jwk", '--alg', $alg,
                               '--claim', qq{sub="$alg"});
}
for my $alg (qw(HS256 HS384 HS512)) {
    $tok{$alg} = jmint('--key', "$DIR/hmac.secret", '--secret', '--alg', $alg,
                       '--claim', qq{sub="$alg"});
    $tok{"${alg}_kid"} = jmint('--key', "$DIR/hmac.jwk", '--alg', $alg,
                               '--claim', qq{sub="$alg"});
}

# alg confusion: HMAC keyed with the RSA public key as the verifier sees it
$tok{confusion_pem} = jmint('--key', "$DIR/rsa.pub.pem", '--secret', '--alg', 'HS256');
$tok{confusion_der} = jmint('--key', "$DIR/rsa.pub.der", '--secret', '--alg', 'HS256');
$tok{confusion_jwk} = jmint('--key', "$DIR/rsa.pub.jwk", '--secret', '--alg', 'HS256');
# ECDSA signature as DER (what OpenSSL produces) instead of JOSE's raw r||s
$tok{es256_der} = jmint('--key', "$DIR/p256.pem", '--der-sig');
$tok{none} = jmint('--key', "$DIR/rsa.pem", '--alg', 'none');
$tok{none_sig} = jmint('--key', "$DIR/rsa.pem", '--header', 'alg="none"');
# forbidden headers, on tokens otherwise validly signed by the right key
my $evil_jwk = do { local (@ARGV, $/) = "$DIR/evil.pub.jwk"; <> };
$evil_jwk =~ s/\s+//g;
$tok{crit} = jmint('--key', "$DIR/rsa.pem", '--header', 'crit=["x-policy"]',
                   '--header', 'x-policy=1');
$tok{jwk} = jmint('--key', "$DIR/rsa.pem", '--header', "jwk=$evil_jwk");
$tok{jwk_evil} = jmint('--key', "$DIR/evil.pem", '--header', "jwk=$evil_jwk");
$tok{jku} = jmint('--key', "$DIR/rsa.pem",
                  '--header', 'jku="https://attacker.example/jwks.json"');
$tok{x5u} = jmint('--key', "$DIR/rsa.pem",
                  '--header', 'x5u="https://attacker.example/cert.pem"');
$tok{x5c} = jmint('--key', "$DIR/rsa.pem", '--header', 'x5c=["MIIBIjANBgkqhkiG"]');
# alg pinning and "use"
$tok{pinned_rs256} = jmint('--key', "$DIR/pinned.jwk", '--alg', 'RS256',
                           '--claim', 'sub="pinned"');
$tok{pinned_ps256} = jmint('--key', "$DIR/pinned.jwk", '--alg', 'PS256');
$tok{pinned_ps256_nokid} = jmint('--key', "$DIR/pinned.pem", '--alg', 'PS256');
$tok{rsaenc} = jmint('--key', "$DIR/rsaenc.jwk");
$tok{rsaenc_nokid} = jmint('--key', "$DIR/rsaenc.pem");
$tok{ecenc} = jmint('--key', "$DIR/ecenc.jwk");

my $loc = '';
for my $l (['rsa-pem', 'rsa.pem'], ['rsa-jwks', 'rsa.pub.jwks'],
           ['rsa-pub', 'rsa.pub.pem'],
           ['p256-pem', 'p256.pem'], ['p256-jwks', 'p256.pub.jwks'],
           ['p384-pem', 'p384.pem'], ['p384-jwks', 'p384.pub.jwks'],
           ['p521-pem', 'p521.pem'], ['p521-jwks', 'p521.pub.jwks'],
           ['ed-pem', 'ed25519.pem'], ['ed-jwks', 'ed25519.pub.jwks'],
           ['hs-jwks', 'hmac.jwks'], ['pinned', 'pinned.pub.jwks'],
           # "use": "enc" keys, next to a key that verifies ES384 only
           ['enc', 'rsaenc.pub.jwks', 'ecenc.pub.jwks', 'p384.pem']) {
    my ($path, @files) = @$l;
    $loc .= "        location /$path/ {\n            magic_token on;\n";
    $loc .= "            magic_token_key \$TEST_NGINX_JOSE_DIR/$_;\n" for @files;
    $loc .= "            proxy_pass http://127.0.0.1:\$TEST_NGINX_UPSTREAM_PORT;\n"
          . "        }\n";
}

default_config(<<'_EOC_' . $loc);
        proxy_set_header Authorization "sub=$magic_token_claim_sub";
        add_header X-MT-Error $magic_token_error always;

        location /hs-secret/ {
            magic_token on;
            magic_token_secret $TEST_NGINX_JOSE_DIR/hmac.secret;
            proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        }
_EOC_

run_tests();

__DATA__

=== TEST 1: RS256 accepted with a PEM key
--- request
GET /rsa-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{RS256}"
--- error_code: 200
--- response_body
auth=[sub=RS256] method=GET uri=/rsa-pem/x
--- response_headers
!X-MT-Error



=== TEST 2: RS256 accepted with a JWK Set (kid matches)
--- request
GET /rsa-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{RS256_kid}"
--- error_code: 200
--- response_body
auth=[sub=RS256] method=GET uri=/rsa-jwks/x
--- response_headers
!X-MT-Error



=== TEST 3: RS384 accepted with a PEM key
--- request
GET /rsa-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{RS384}"
--- error_code: 200
--- response_body
auth=[sub=RS384] method=GET uri=/rsa-pem/x
--- response_headers
!X-MT-Error



=== TEST 4: RS384 accepted with a JWK Set (kid matches)
--- request
GET /rsa-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{RS384_kid}"
--- error_code: 200
--- response_body
auth=[sub=RS384] method=GET uri=/rsa-jwks/x
--- response_headers
!X-MT-Error



=== TEST 5: RS512 accepted with a PEM key
--- request
GET /rsa-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{RS512}"
--- error_code: 200
--- response_body
auth=[sub=RS512] method=GET uri=/rsa-pem/x
--- response_headers
!X-MT-Error



=== TEST 6: RS512 accepted with a JWK Set (kid matches)
--- request
GET /rsa-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{RS512_kid}"
--- error_code: 200
--- response_body
auth=[sub=RS512] method=GET uri=/rsa-jwks/x
--- response_headers
!X-MT-Error



=== TEST 7: PS256 accepted with a PEM key
--- request
GET /rsa-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{PS256}"
--- error_code: 200
--- response_body
auth=[sub=PS256] method=GET uri=/rsa-pem/x
--- response_headers
!X-MT-Error



=== TEST 8: PS256 accepted with a JWK Set (kid matches)
--- request
GET /rsa-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{PS256_kid}"
--- error_code: 200
--- response_body
auth=[sub=PS256] method=GET uri=/rsa-jwks/x
--- response_headers
!X-MT-Error



=== TEST 9: PS384 accepted with a PEM key
--- request
GET /rsa-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{PS384}"
--- error_code: 200
--- response_body
auth=[sub=PS384] method=GET uri=/rsa-pem/x
--- response_headers
!X-MT-Error



=== TEST 10: PS384 accepted with a JWK Set (kid matches)
--- request
GET /rsa-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{PS384_kid}"
--- error_code: 200
--- response_body
auth=[sub=PS384] method=GET uri=/rsa-jwks/x
--- response_headers
!X-MT-Error



=== TEST 11: PS512 accepted with a PEM key
--- request
GET /rsa-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{PS512}"
--- error_code: 200
--- response_body
auth=[sub=PS512] method=GET uri=/rsa-pem/x
--- response_headers
!X-MT-Error



=== TEST 12: PS512 accepted with a JWK Set (kid matches)
--- request
GET /rsa-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{PS512_kid}"
--- error_code: 200
--- response_body
auth=[sub=PS512] method=GET uri=/rsa-jwks/x
--- response_headers
!X-MT-Error



=== TEST 13: ES256 accepted with a PEM key
--- request
GET /p256-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{ES256}"
--- error_code: 200
--- response_body
auth=[sub=ES256] method=GET uri=/p256-pem/x
--- response_headers
!X-MT-Error



=== TEST 14: ES256 accepted with a JWK Set (kid matches)
--- request
GET /p256-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{ES256_kid}"
--- error_code: 200
--- response_body
auth=[sub=ES256] method=GET uri=/p256-jwks/x
--- response_headers
!X-MT-Error



=== TEST 15: ES384 accepted with a PEM key
--- request
GET /p384-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{ES384}"
--- error_code: 200
--- response_body
auth=[sub=ES384] method=GET uri=/p384-pem/x
--- response_headers
!X-MT-Error



=== TEST 16: ES384 accepted with a JWK Set (kid matches)
--- request
GET /p384-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{ES384_kid}"
--- error_code: 200
--- response_body
auth=[sub=ES384] method=GET uri=/p384-jwks/x
--- response_headers
!X-MT-Error



=== TEST 17: ES512 accepted with a PEM key
--- request
GET /p521-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{ES512}"
--- error_code: 200
--- response_body
auth=[sub=ES512] method=GET uri=/p521-pem/x
--- response_headers
!X-MT-Error



=== TEST 18: ES512 accepted with a JWK Set (kid matches)
--- request
GET /p521-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{ES512_kid}"
--- error_code: 200
--- response_body
auth=[sub=ES512] method=GET uri=/p521-jwks/x
--- response_headers
!X-MT-Error



=== TEST 19: EdDSA accepted with a PEM key
--- request
GET /ed-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{EdDSA}"
--- error_code: 200
--- response_body
auth=[sub=EdDSA] method=GET uri=/ed-pem/x
--- response_headers
!X-MT-Error



=== TEST 20: EdDSA accepted with a JWK Set (kid matches)
--- request
GET /ed-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{EdDSA_kid}"
--- error_code: 200
--- response_body
auth=[sub=EdDSA] method=GET uri=/ed-jwks/x
--- response_headers
!X-MT-Error



=== TEST 21: HS256 accepted with magic_token_secret
--- request
GET /hs-secret/x
--- more_headers eval
"Authorization: Bearer $::tok{HS256}"
--- error_code: 200
--- response_body
auth=[sub=HS256] method=GET uri=/hs-secret/x
--- response_headers
!X-MT-Error



=== TEST 22: HS256 accepted with an oct JWK Set (kid matches)
--- request
GET /hs-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{HS256_kid}"
--- error_code: 200
--- response_body
auth=[sub=HS256] method=GET uri=/hs-jwks/x
--- response_headers
!X-MT-Error



=== TEST 23: HS384 accepted with magic_token_secret
--- request
GET /hs-secret/x
--- more_headers eval
"Authorization: Bearer $::tok{HS384}"
--- error_code: 200
--- response_body
auth=[sub=HS384] method=GET uri=/hs-secret/x
--- response_headers
!X-MT-Error



=== TEST 24: HS384 accepted with an oct JWK Set (kid matches)
--- request
GET /hs-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{HS384_kid}"
--- error_code: 200
--- response_body
auth=[sub=HS384] method=GET uri=/hs-jwks/x
--- response_headers
!X-MT-Error



=== TEST 25: HS512 accepted with magic_token_secret
--- request
GET /hs-secret/x
--- more_headers eval
"Authorization: Bearer $::tok{HS512}"
--- error_code: 200
--- response_body
auth=[sub=HS512] method=GET uri=/hs-secret/x
--- response_headers
!X-MT-Error



=== TEST 26: HS512 accepted with an oct JWK Set (kid matches)
--- request
GET /hs-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{HS512_kid}"
--- error_code: 200
--- response_body
auth=[sub=HS512] method=GET uri=/hs-jwks/x
--- response_headers
!X-MT-Error



=== TEST 27: RS256 token refused by a p256-pem key (other family)
--- request
GET /p256-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{RS256}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 28: PS256 token refused by a ed-jwks key (other family)
--- request
GET /ed-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{PS256}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 29: RS256 token refused by a hs-secret key (other family)
--- request
GET /hs-secret/x
--- more_headers eval
"Authorization: Bearer $::tok{RS256}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 30: ES256 token refused by a rsa-pem key (other family)
--- request
GET /rsa-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{ES256}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 31: ES256 token refused by a p384-pem key (other family)
--- request
GET /p384-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{ES256}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 32: ES384 token refused by a p256-jwks key (other family)
--- request
GET /p256-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{ES384}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 33: ES512 token refused by a p384-jwks key (other family)
--- request
GET /p384-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{ES512}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 34: EdDSA token refused by a rsa-jwks key (other family)
--- request
GET /rsa-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{EdDSA}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 35: EdDSA token refused by a p256-pem key (other family)
--- request
GET /p256-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{EdDSA}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 36: HS256 token refused by a rsa-pem key (other family)
--- request
GET /rsa-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{HS256}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 37: HS256 token refused by a rsa-jwks key (other family)
--- request
GET /rsa-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{HS256}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 38: HS512 token refused by a ed-pem key (other family)
--- request
GET /ed-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{HS512}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 39: alg confusion: HS256 keyed with the RSA public key PEM, against that PEM
--- request
GET /rsa-pub/x
--- more_headers eval
"Authorization: Bearer $::tok{confusion_pem}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 40: alg confusion: HS256 keyed with the RSA public key PEM, against the private PEM
--- request
GET /rsa-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{confusion_pem}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 41: alg confusion: HS256 keyed with the RSA public key DER
--- request
GET /rsa-pub/x
--- more_headers eval
"Authorization: Bearer $::tok{confusion_der}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 42: alg confusion: HS256 keyed with the RSA public JWK text, against the JWK Set
--- request
GET /rsa-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{confusion_jwk}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 43: alg none (empty signature) refused
--- request
GET /rsa-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{none}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unsupported_alg



=== TEST 44: alg none with an RS256 signature refused
--- request
GET /rsa-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{none_sig}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unsupported_alg



=== TEST 45: crit header refused even with a valid signature
--- request
GET /rsa-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{crit}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unsupported_alg



=== TEST 46: embedded jwk header refused even with a valid signature
--- request
GET /rsa-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{jwk}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unsupported_alg



=== TEST 47: token signed by an attacker key embedded as jwk refused
--- request
GET /rsa-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{jwk_evil}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unsupported_alg



=== TEST 48: jku header refused
--- request
GET /rsa-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{jku}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unsupported_alg



=== TEST 49: x5u header refused
--- request
GET /rsa-jwks/x
--- more_headers eval
"Authorization: Bearer $::tok{x5u}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unsupported_alg



=== TEST 50: x5c header refused
--- request
GET /rsa-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{x5c}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unsupported_alg



=== TEST 51: JWK pinned to RS256 refuses PS256 (kid matches)
--- request
GET /pinned/x
--- more_headers eval
"Authorization: Bearer $::tok{pinned_ps256}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 52: JWK pinned to RS256 refuses PS256 (no kid)
--- request
GET /pinned/x
--- more_headers eval
"Authorization: Bearer $::tok{pinned_ps256_nokid}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 53: RSA key with use enc does not verify RS256 (kid matches)
--- request
GET /enc/x
--- more_headers eval
"Authorization: Bearer $::tok{rsaenc}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 54: RSA key with use enc does not verify RS256 (no kid)
--- request
GET /enc/x
--- more_headers eval
"Authorization: Bearer $::tok{rsaenc_nokid}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 55: EC key with use enc does not verify ES256 (kid matches)
--- request
GET /enc/x
--- more_headers eval
"Authorization: Bearer $::tok{ecenc}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers
X-MT-Error: unknown_key



=== TEST 56: ES256 with a DER signature instead of raw r||s refused
--- request
GET /p256-pem/x
--- more_headers eval
"Authorization: Bearer $::tok{es256_der}"
--- error_code: 401
--- response_body_unlike: auth=
--- response_headers_like
X-MT-Error: ^(bad_signature|malformed)$



=== TEST 57: JWK pinned to RS256 accepts RS256
--- request
GET /pinned/x
--- more_headers eval
"Authorization: Bearer $::tok{pinned_rs256}"
--- error_code: 200
--- response_body
auth=[sub=pinned] method=GET uri=/pinned/x
--- response_headers
!X-MT-Error



=== TEST 58: the enc location still verifies with its signing key (ES384)
--- request
GET /enc/x
--- more_headers eval
"Authorization: Bearer $::tok{ES384}"
--- error_code: 200
--- response_body
auth=[sub=ES384] method=GET uri=/enc/x
--- response_headers
!X-MT-Error
