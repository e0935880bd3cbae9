# Scope semantics on Unicode paths (issue #7, item 7).  prefix mode is
# Python's re.match(pattern, path, re.I) on the decoded path: code points,
# Unicode case folding (ſ is s, the Kelvin sign is k), Unicode \w and \d.
# full mode matches bytes, case-sensitive.  Entries whose syntax means
# something else to PCRE2 than to Python are refused: a token carrying one
# gets 401 invalid_claims, a magic_token_scope holding one stops nginx.
# The differential test against Python itself is 012-scope-differential.t.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;

our %tok;
my $c = 'ghp_UniCred';
my %allowed = (
    user     => ['GET /user'],
    kelvin   => ['GET /k/k$'],
    word     => ['GET /w/\w+$'],
    digits   => ['GET /n/\d+$'],
    dotless  => ['GET /list'],
    cafe     => ["GET /caf\x{c3}\x{a9}\$"],
    cafe_esc => ['GET /caf\u00e9$'],
    brace    => ['GET /a{,3}'],
    posix    => ['GET /[[:alpha:]]+'],
    flags    => ['GET (?i)/user'],
);
$tok{$_} = mint(credential => $c, allowed => $allowed{$_}) for keys %allowed;

our $MAP = <<'_EOC_';
    map $uri $gh_path {
        "~(?s)^/gh(?<p>/.*)\z"  $p;
        default                 "";
    }
_EOC_
our $PREFIX = $MAP . "    magic_token_scope_match prefix;\n";

default_http_config($MAP);
default_config(<<'_EOC_');
    location /gh/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri $gh_path;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
_EOC_

sub denied_re { my $e = shift; qr/magic_token: denied: $e \(token [0-9a-f]{16}\)/ }

# nginx -t: a named scope with refused syntax stops nginx, with the reason
{
    my @bad = (
        ['{,n}', 'magic_token_scope s "GET /a{,3}";', qr/\{,n\} is refused/],
        ['a POSIX class', 'magic_token_scope s "GET /[[:alpha:]]";',
         qr/POSIX classes/],
        ['an inline flag', 'magic_token_scope s "GET (?a)/x";',
         qr/inline flags/],
        ['a possessive quantifier', 'magic_token_scope s "GET /x++";',
         qr/possessive/],
        ['\\p{..}', 'magic_token_scope s "GET /\\p{L}";', qr/escape \\p/],
    );
    for my $case (@bad) {
        my ($what, $conf, $why) = @$case;
        my ($rc, $err) = nginx_config_check($MAP . "    $conf\n");
        Test::More::isnt($rc, 0, "nginx -t rejects a named scope with $what");
        Test::More::like($err, $why, '... and says why');
    }
    my ($rc, $err) = nginx_config_check(
        $MAP . "    magic_token_scope s \"GET /\\u017f\\Z\" \"GET /[^/]+\\Z\";\n");
    Test::More::is($rc, 0, 'nginx -t accepts \\u017f and \\Z') or Test::More::diag($err);
}

run_tests();

__DATA__

=== TEST 1: prefix: "GET /user" allows /u%C5%BFer (ſ folds to s)
--- http_config eval
$::PREFIX
--- request
GET /gh/u%C5%BFer
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- response_body
auth=[Bearer ghp_UniCred] method=GET uri=/u%C5%BFer
--- error_code: 200



=== TEST 2: prefix: "GET /k/k$" allows /k/%E2%84%AA (the Kelvin sign)
--- http_config eval
$::PREFIX
--- request
GET /gh/k/%E2%84%AA
--- more_headers eval
"Authorization: Bearer $::tok{kelvin}"
--- response_body
auth=[Bearer ghp_UniCred] method=GET uri=/k/%E2%84%AA
--- error_code: 200



=== TEST 3: prefix: \w is Unicode (é, ß, ı)
--- http_config eval
$::PREFIX
--- request
GET /gh/w/%C3%A9t%C3%A9%C3%9F%C4%B1
--- more_headers eval
"Authorization: Bearer $::tok{word}"
--- error_code: 200



=== TEST 4: prefix: \d is Unicode (Arabic-Indic digits)
--- http_config eval
$::PREFIX
--- request
GET /gh/n/%D9%A1%D9%A2
--- more_headers eval
"Authorization: Bearer $::tok{digits}"
--- error_code: 200



=== TEST 5: prefix: \w still stops at "/"
--- http_config eval
$::PREFIX
--- request
GET /gh/w/a/b
--- more_headers eval
"Authorization: Bearer $::tok{word}"
--- error_code: 403



=== TEST 6: prefix: i also matches dotless ı, as in Python's re.I
--- http_config eval
$::PREFIX
--- request
GET /gh/L%C4%B1ST
--- more_headers eval
"Authorization: Bearer $::tok{dotless}"
--- error_code: 200



=== TEST 7: prefix: a path that is not UTF-8 matches no entry
--- http_config eval
$::PREFIX
--- request
GET /gh/user%FF
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- error_code: 403
--- error_log eval
::denied_re('scope_denied')



=== TEST 8: prefix: a non-ASCII literal matches its character
--- http_config eval
$::PREFIX
--- request
GET /gh/CAF%C3%89
--- more_headers eval
"Authorization: Bearer $::tok{cafe}"
--- error_code: 200



=== TEST 9: full: "GET /user" denies /u%C5%BFer (bytes, case-sensitive)
--- request
GET /gh/u%C5%BFer
--- more_headers eval
"Authorization: Bearer $::tok{user}"
--- error_code: 403



=== TEST 10: full: "GET /k/k$" denies the Kelvin sign
--- request
GET /gh/k/%E2%84%AA
--- more_headers eval
"Authorization: Bearer $::tok{kelvin}"
--- error_code: 403



=== TEST 11: full: a non-ASCII literal matches its UTF-8 bytes
--- request
GET /gh/caf%C3%A9
--- more_headers eval
"Authorization: Bearer $::tok{cafe}"
--- error_code: 200



=== TEST 12: full: \u00e9 is the same character
--- request
GET /gh/caf%C3%A9
--- more_headers eval
"Authorization: Bearer $::tok{cafe_esc}"
--- error_code: 200



=== TEST 13: full: \w is ASCII
--- request
GET /gh/w/%C3%A9t%C3%A9
--- more_headers eval
"Authorization: Bearer $::tok{word}"
--- error_code: 403



=== TEST 14: prefix: a token with {,n} is refused -> 401 invalid_claims
--- http_config eval
$::PREFIX
--- request
GET /gh/a
--- more_headers eval
"Authorization: Bearer $::tok{brace}"
--- error_code: 401
--- response_body_unlike: auth=
--- error_log eval
::denied_re('invalid_claims')



=== TEST 15: full: a token with {,n} is refused -> 401 invalid_claims
--- request
GET /gh/a
--- more_headers eval
"Authorization: Bearer $::tok{brace}"
--- error_code: 401
--- error_log eval
::denied_re('invalid_claims')



=== TEST 16: prefix: a token with a POSIX class is refused
--- http_config eval
$::PREFIX
--- request
GET /gh/abc
--- more_headers eval
"Authorization: Bearer $::tok{posix}"
--- error_code: 401
--- error_log eval
::denied_re('invalid_claims')



=== TEST 17: prefix: a token with an inline flag is refused
--- http_config eval
$::PREFIX
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{flags}"
--- error_code: 401
--- error_log eval
::denied_re('invalid_claims')
