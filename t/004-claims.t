# Token validation: exp / nbf / iat / claim types, padded segments, alg none and algorithm
# confusion, tampered / truncated / garbage tokens, undecryptable and
# invalid credentials. Every refusal is a 401 invalid_token and never
# reaches the upstream.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;
use MIME::Base64 qw(encode_base64url);

our %tok;
my $now = time;
my $c = 'ghp_ClaimsCred';
my @a = (allowed => ['GET /api/.*']);

$tok{valid}         = mint(credential => $c, @a);
$tok{expired}       = mint(credential => $c, @a, iat => $now - 7200, exp => $now - 3600);
$tok{nbf_future}    = mint(credential => $c, @a, nbf => $now + 3600);
$tok{nbf_past}      = mint(credential => $c, @a, nbf => $now - 60);
$tok{far_future}    = mint(credential => $c, @a, exp => 4102444800);
$tok{no_exp}        = mint(credential => $c, @a, no_exp => 1);
$tok{exp_string}    = mint(credential => $c, @a, claims => { exp => '"4102444800"' });
$tok{exp_float}     = mint(credential => $c, @a, claims => { exp => '4102444800.5' });
$tok{exp_bool}      = mint(credential => $c, @a, claims => { exp => 'true' });
$tok{exp_null}      = mint(credential => $c, @a, claims => { exp => 'null' });
$tok{alg_none}      = mint(credential => $c, @a, alg => 'none');
$tok{alg_none_hdr}  = mint(credential => $c, @a, headers => { alg => '"none"' });
$tok{alg_hs256}     = mint(credential => $c, @a, alg => 'HS256');
$tok{alg_missing}   = mint(credential => $c, @a, headers => { alg => 'null' });
$tok{tamper_payload}   = tamper($tok{valid}, 'payload');
$tok{tamper_signature} = tamper($tok{valid}, 'signature');
$tok{tamper_header}    = tamper($tok{valid}, 'header');
$tok{truncated}        = tamper($tok{valid}, 'truncate');
my ($h, $p, $s) = split /\./, $tok{valid};
$tok{two_part}      = "$h.$p";
$tok{four_part}     = "$h.$p.$s.$s";
$tok{no_sig}        = "$h.$p.";
$tok{bad_b64_hdr}   = "$h!!.$p.$s";
$tok{bad_b64_pay}   = "$h.$p!!.$s";
$tok{header_notjson} = encode_base64url('not json') . ".$p.$s";
$tok{dots}          = "..";
$tok{no_cred}       = mint(@a);
$tok{cred_crlf}     = mint(credential => "ghp_x\r\nX-Injected: yes", @a);
$tok{cred_lf}       = mint(credential => "ghp_x\nX-Injected: yes", @a);
$tok{cred_nul}      = mint(credential => "ghp_x\0tail", @a);
$tok{cred_max}      = mint(credential => 'C' x 190, @a);   # OAEP-SHA256 limit for RSA-2048
$tok{token_notb64}  = mint(@a, claims => { token => '"%%%not-base64%%%"' });
$tok{token_number}  = mint(@a, claims => { token => '42' });
$tok{token_short}   = mint(@a, claims => { token => '"QUJD"' });
$tok{iat_future}    = mint(credential => $c, @a, iat => $now + 3600, exp => $now + 7200);
$tok{iat_soon}      = mint(credential => $c, @a, iat => $now + 60, exp => $now + 7200);
# google-auth before 1.6.3 padded every segment with "="
$tok{padded}        = mint(credential => $c, @a, pad => 1);

# every block: the /api/ location, upstream never reached on refusal
default_config(<<'_EOC_');
    location /api/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
_EOC_

sub denied_re { my $e = shift; qr/\[info\] .*magic_token: denied: (?:$e) \(token [0-9a-f]{16}\)/ }

run_tests();

__DATA__

=== TEST 1: sanity: valid token
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{valid}"
--- response_body
auth=[Bearer ghp_ClaimsCred] method=GET uri=/api/x
--- error_code: 200



=== TEST 2: expired -> 401 expired
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{expired}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="invalid_token"
--- response_body_unlike: auth=
--- error_log eval
::denied_re('expired')



=== TEST 3: nbf in the future -> 401 not_yet_valid
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{nbf_future}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="invalid_token"
--- error_log eval
::denied_re('not_yet_valid')



=== TEST 4: nbf in the past is fine
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{nbf_past}"
--- response_body
auth=[Bearer ghp_ClaimsCred] method=GET uri=/api/x
--- error_code: 200



=== TEST 5: exp far in the future (year 2100) is fine
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{far_future}"
--- response_body
auth=[Bearer ghp_ClaimsCred] method=GET uri=/api/x
--- error_code: 200



=== TEST 6: missing exp -> 401 invalid_claims
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{no_exp}"
--- error_code: 401
--- error_log eval
::denied_re('invalid_claims')



=== TEST 7: exp as a string -> 401 invalid_claims
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{exp_string}"
--- error_code: 401
--- error_log eval
::denied_re('invalid_claims')



=== TEST 8: exp as a non-integer number -> 401 invalid_claims
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{exp_float}"
--- error_code: 401
--- error_log eval
::denied_re('invalid_claims')



=== TEST 9: exp as a boolean -> 401 invalid_claims
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{exp_bool}"
--- error_code: 401
--- error_log eval
::denied_re('invalid_claims')



=== TEST 10: exp null -> 401 invalid_claims
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{exp_null}"
--- error_code: 401
--- error_log eval
::denied_re('invalid_claims')



=== TEST 11: alg none (empty signature) -> 401
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{alg_none}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="invalid_token"
--- response_body_unlike: auth=
--- error_log eval
::denied_re('unsupported_alg|bad_signature')



=== TEST 12: header says alg none but carries an RS256 signature -> 401
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{alg_none_hdr}"
--- error_code: 401
--- error_log eval
::denied_re('unsupported_alg|bad_signature')



=== TEST 13: HS256 keyed with the public key PEM (alg confusion) -> 401 (unknown_key: RSA keys never verify HMAC)
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{alg_hs256}"
--- error_code: 401
--- response_body_unlike: auth=
--- error_log eval
::denied_re('unsupported_alg|bad_signature|unknown_key')



=== TEST 14: alg null in the header -> 401
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{alg_missing}"
--- error_code: 401
--- error_log eval
::denied_re('unsupported_alg|bad_signature|malformed')



=== TEST 15: tampered payload (scopes widened, old signature) -> 401 bad_signature
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{tamper_payload}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="invalid_token"
--- response_body_unlike: auth=
--- error_log eval
::denied_re('bad_signature')



=== TEST 16: tampered signature (one bit) -> 401 bad_signature
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{tamper_signature}"
--- error_code: 401
--- error_log eval
::denied_re('bad_signature')



=== TEST 17: tampered header (kid added, old signature) -> 401 bad_signature
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{tamper_header}"
--- error_code: 401
--- error_log eval
::denied_re('bad_signature')



=== TEST 18: truncated token -> 401 malformed
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{truncated}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="invalid_token"
--- error_log eval
::denied_re('malformed')



=== TEST 19: two-part token -> 401 malformed
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{two_part}"
--- error_code: 401
--- error_log eval
::denied_re('malformed')



=== TEST 20: four-part token -> 401 malformed
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{four_part}"
--- error_code: 401
--- error_log eval
::denied_re('malformed')



=== TEST 21: empty signature segment -> 401 (malformed or bad_signature)
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{no_sig}"
--- error_code: 401
--- response_body_unlike: auth=
--- error_log eval
::denied_re('malformed|bad_signature')



=== TEST 22: invalid base64url characters in the header -> 401 malformed
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{bad_b64_hdr}"
--- error_code: 401
--- error_log eval
::denied_re('malformed')



=== TEST 22b: invalid base64url characters in the payload -> 401 (signature is checked over the raw text first)
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{bad_b64_pay}"
--- error_code: 401
--- response_body_unlike: auth=
--- error_log eval
::denied_re('malformed|bad_signature')



=== TEST 23: header segment is not JSON -> 401 malformed
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{header_notjson}"
--- error_code: 401
--- error_log eval
::denied_re('malformed')



=== TEST 24: ".." -> 401 malformed
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{dots}"
--- error_code: 401
--- error_log eval
::denied_re('malformed')



=== TEST 25: garbage -> 401 malformed
--- request
GET /api/x
--- more_headers
Authorization: Bearer %%%%%%%%
--- error_code: 401
--- error_log eval
::denied_re('malformed')



=== TEST 26: token without a "token" claim is valid; credential is empty
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{no_cred}"
--- response_body
auth=[Bearer] method=GET uri=/api/x
--- error_code: 200



=== TEST 27: credential with CRLF is refused (no header injection) -> 401 invalid_credential
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{cred_crlf}"
--- error_code: 401
--- response_body_unlike: auth=|Injected
--- error_log eval
::denied_re('invalid_credential')



=== TEST 28: credential with LF is refused -> 401 invalid_credential
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{cred_lf}"
--- error_code: 401
--- response_body_unlike: auth=|Injected
--- error_log eval
::denied_re('invalid_credential')



=== TEST 29: credential with NUL is refused -> 401 invalid_credential
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{cred_nul}"
--- error_code: 401
--- response_body_unlike: auth=
--- error_log eval
::denied_re('invalid_credential')



=== TEST 30: 190-byte credential (OAEP-SHA256 maximum for RSA-2048)
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{cred_max}"
--- response_body eval
"auth=[Bearer " . ('C' x 190) . "] method=GET uri=/api/x\n"
--- error_code: 200



=== TEST 31: "token" claim not base64 -> 401, upstream not reached
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{token_notb64}"
--- error_code: 401
--- response_body_unlike: auth=
--- error_log eval
::denied_re('decrypt_failed|invalid_claims')



=== TEST 32: "token" claim is a number -> 401, upstream not reached
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{token_number}"
--- error_code: 401
--- response_body_unlike: auth=
--- error_log eval
::denied_re('decrypt_failed|invalid_claims')



=== TEST 33: "token" claim too short for RSA -> 401 decrypt_failed
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{token_short}"
--- error_code: 401
--- response_body_unlike: auth=
--- error_log eval
::denied_re('decrypt_failed')



=== TEST 34: refusals are logged once, at info level, without the token
--- log_level: info
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{expired}"
--- error_code: 401
--- error_log eval
qr/\[info\] .*magic_token: denied: expired \(token [0-9a-f]{16}\)/
--- grep_error_log eval
qr/magic_token: denied: \w+/
--- grep_error_log_out
magic_token: denied: expired
--- no_error_log eval
[substr($::tok{expired}, 0, 40), substr($::tok{expired}, -40), "ghp_ClaimsCred", "[error]"]



=== TEST 35: iat in the future -> 401 not_yet_valid (as google-auth and PyJWT)
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{iat_future}"
--- error_code: 401
--- response_body_unlike: auth=
--- error_log eval
::denied_re('not_yet_valid')



=== TEST 36: iat in the future within magic_token_leeway is fine
--- config
    location /api/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_leeway 5m;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::tok{iat_soon}"
--- response_body
auth=[Bearer ghp_ClaimsCred] method=GET uri=/api/x
--- error_code: 200



=== TEST 37: every segment padded with "=" (google-auth before 1.6.3) is accepted
--- request
GET /api/x
--- more_headers eval
die "not padded: $::tok{padded}" unless $::tok{padded} =~ /=/;
"Authorization: Bearer $::tok{padded}"
--- response_body
auth=[Bearer ghp_ClaimsCred] method=GET uri=/api/x
--- error_code: 200
