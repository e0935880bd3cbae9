# Variables: $magic_token_credential, $magic_token_claim_<name>,
# $magic_token_string_<name>,
# $magic_token_scope, $magic_token_id, $magic_token_error -- on success and
# on each kind of refusal -- plus an escape=json audit access log
# (checked after run_tests by reading the log file), and the rule that the
# token and the credential never reach the error log or the client.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;
use File::Temp qw(tempdir);
use JSON::PP qw(decode_json);

our %tok;
our %id;
my $c = 'ghp_VarsCred42';
my $exp = 4102444800;

$tok{full} = mint(credential => $c, allowed => ['GET /user'], exp => $exp, jti => 'req-42',
                  claims => { sub => '"alice"', meta => '{"n":[1,true,null]}' });
$tok{nojti} = mint(credential => $c, allowed => ['GET /user']);
$tok{order} = mint(credential => $c, allowed => ['GET /repos/.*', 'GET /user', '* /user']);
$tok{named} = mint(credential => $c, scopes => ['read']);
$tok{denied} = mint(credential => $c, allowed => ['GET /user'], jti => 'req-denied',
                    claims => { sub => '"alice"' });
$tok{forged} = tamper($tok{full}, 'payload', claim => ['jti="forged"', 'sub="mallory"']);
$tok{expired} = mint(credential => $c, allowed => ['GET /user'], exp => time - 3600);
$tok{other_enc} = mint(credential => $c, allowed => ['GET /user'],
                       encrypt_to => other_keys_dir() . '/public.pem');
$tok{unknown_scope} = mint(credential => $c, scopes => ['nope']);
$tok{garbage} = 'abc.def';
# $magic_token_string_<name>: only JSON strings; 123 is not "123"
$tok{typed} = mint(credential => $c, allowed => ['GET /user'],
                   claims => { svc => '"123"', num => '123', list => '["a"]',
                               nul => 'null', empty => '""', crlf => '"a\r\nX-I: 1"' });
# audit log records: one JSON object per line, checked after run_tests()
$tok{audit_ok} = mint(credential => $c, allowed => ['GET /n/\d+'], jti => 'audit-ok');
$tok{audit_quote} = mint(credential => $c, allowed => ['GET /q/"x"'], jti => 'audit-quote');
# a jti that is not printable ASCII without quotes/backslashes is not used as
# the id (the module falls back to the hash, so ids are safe in any log format)
$tok{audit_jti_unsafe} = mint(credential => $c, allowed => ['GET /n/\d+'], jti => 'aud"it\\1');
$tok{audit_denied} = mint(credential => $c, allowed => ['GET /n/\d+'], jti => 'audit-denied');
$tok{audit_garbage} = 'audit.garbage"token\\';
$id{$_} = token_id($tok{$_}) for keys %tok;
my $audit_dir = tempdir('mt-audit-XXXXXX', TMPDIR => 1, CLEANUP => 1);
$ENV{TEST_NGINX_AUDIT_LOG} = "$audit_dir/audit.log";

default_http_config(<<'_EOC_');
    map $uri $gh_path {
        "~(?s)^/gh(?<p>/.*)\z"  $p;
        default                 "";
    }
    magic_token_scope read "GET /user";
    log_format audit escape=json '{"id":"$magic_token_id","scope":"$magic_token_scope","err":"$magic_token_error","status":$status}';
_EOC_

default_config(<<'_EOC_');
    location /gh/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_uri $gh_path;
        access_log $TEST_NGINX_AUDIT_LOG audit;
        add_header X-MT-Id "[$magic_token_id]" always;
        add_header X-MT-Scope "[$magic_token_scope]" always;
        add_header X-MT-Error "[$magic_token_error]" always;
        add_header X-MT-Cred "[$magic_token_credential]" always;
        add_header X-MT-Sub "[$magic_token_claim_sub]" always;
        add_header X-MT-Allowed "[$magic_token_claim_allowed]" always;
        add_header X-MT-Exp "[$magic_token_claim_exp]" always;
        add_header X-MT-Meta "[$magic_token_claim_meta]" always;
        add_header X-MT-Missing "[$magic_token_claim_missing]" always;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
    location /open/ {
        add_header X-MT-Error "[$magic_token_error]" always;
        add_header X-MT-Cred "[$magic_token_credential]" always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
_EOC_

run_tests();

# ---------------------------------------------------------------------------
# the audit log (escape=json): every line is JSON; the expected records exist
{
    my @lines;
    if (open my $in, '<', $ENV{TEST_NGINX_AUDIT_LOG}) {
        @lines = <$in>;
        close $in;
    }
    Test::More::ok(scalar(@lines) >= 4, "audit log has records (" . scalar(@lines) . ")");
    my @recs;
    for my $line (@lines) {
        my $rec = eval { decode_json($line) };
        Test::More::ok($rec, "audit line is valid JSON") or Test::More::diag($line);
        push @recs, $rec if $rec;
    }
    my $has = sub {
        my ($what, %want) = @_;
        my @hit = grep { my $r = $_; !grep { !defined $r->{$_} || $r->{$_} ne $want{$_} } keys %want } @recs;
        Test::More::ok(scalar @hit, "audit: $what")
            or Test::More::diag("want ", join(', ', map { "$_=$want{$_}" } sort keys %want),
                                "\n", join('', @lines));
    };
    $has->('allowed request: jti and scope text with a backslash',
           id => 'audit-ok', scope => 'GET /n/\d+', err => '', status => 200);
    $has->('allowed request: scope text with quotes',
           id => 'audit-quote', scope => 'GET /q/"x"', err => '', status => 200);
    $has->('unsafe jti: hash id instead', id => token_id($tok{audit_jti_unsafe}),
           scope => 'GET /n/\d+', err => '', status => 200);
    $has->('scope denied: jti, no scope', id => 'audit-denied', scope => '', err => 'scope_denied', status => 403);
    $has->('malformed: hash id', id => token_id($tok{audit_garbage}), scope => '', err => 'malformed', status => 401);
    $has->('missing: empty id', id => '', scope => '', err => 'missing', status => 401);

    my $all = join '', @lines;
    for my $name (qw(audit_ok audit_quote audit_jti_unsafe audit_denied full)) {
        Test::More::unlike($all, qr/\Q$tok{$name}\E/, "audit log does not contain token $name");
    }
    Test::More::unlike($all, qr/\Q$c\E/, "audit log does not contain the credential");
}

__DATA__

=== TEST 1: success: credential, jti id, matched scope, claims (raw string / compact JSON)
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{full}"
--- response_body
auth=[Bearer ghp_VarsCred42] method=GET uri=/user
--- response_headers
X-MT-Id: [req-42]
X-MT-Scope: [GET /user]
X-MT-Error: []
X-MT-Cred: [ghp_VarsCred42]
X-MT-Sub: [alice]
X-MT-Allowed: [["GET /user"]]
X-MT-Exp: [4102444800]
X-MT-Meta: [{"n":[1,true,null]}]
X-MT-Missing: []
--- error_code: 200



=== TEST 2: success without jti: id is the first 16 hex chars of SHA-256(token)
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{nojti}"
--- response_headers eval
"X-MT-Id: [$::id{nojti}]\nX-MT-Error: []\nX-MT-Cred: [ghp_VarsCred42]\nX-MT-Sub: []\n"
--- error_code: 200



=== TEST 3: $magic_token_scope is the first allowed entry that matched
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{order}"
--- response_headers
X-MT-Scope: [GET /user]
X-MT-Error: []
--- error_code: 200



=== TEST 4: $magic_token_scope is the entry text of a named scope
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{named}"
--- response_headers
X-MT-Scope: [GET /user]
X-MT-Error: []
--- error_code: 200



=== TEST 5: no token: error "missing", everything else empty
--- request
GET /gh/user
--- response_headers
X-MT-Id: []
X-MT-Scope: []
X-MT-Error: [missing]
X-MT-Cred: []
X-MT-Sub: []
--- error_code: 401



=== TEST 6: garbage token: error "malformed", id is the hash of what was sent
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{garbage}"
--- response_headers eval
"X-MT-Id: [$::id{garbage}]\nX-MT-Error: [malformed]\nX-MT-Cred: []\nX-MT-Sub: []\nX-MT-Scope: []\n"
--- error_code: 401



=== TEST 7: forged claims are not exposed: no jti id, empty claim variables
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{forged}"
--- response_headers eval
"X-MT-Id: [$::id{forged}]\nX-MT-Error: [bad_signature]\nX-MT-Sub: []\nX-MT-Allowed: []\nX-MT-Cred: []\n"
--- error_code: 401



=== TEST 8: scope denied: verified claims and jti available, credential empty
--- request
GET /gh/admin
--- more_headers eval
"Authorization: Bearer $::tok{denied}"
--- response_headers
X-MT-Id: [req-denied]
X-MT-Scope: []
X-MT-Error: [scope_denied]
X-MT-Cred: []
X-MT-Sub: [alice]
--- error_code: 403



=== TEST 9: expired: error "expired", credential empty
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{expired}"
--- response_headers
X-MT-Error: [expired]
X-MT-Cred: []
X-MT-Scope: []
--- error_code: 401



=== TEST 10: credential encrypted to another key: decrypt_failed, credential empty
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{other_enc}"
--- response_headers
X-MT-Error: [decrypt_failed]
X-MT-Cred: []
--- error_code: 401



=== TEST 11: unknown named scope: error "unknown_scope"
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{unknown_scope}"
--- response_headers
X-MT-Error: [unknown_scope]
X-MT-Cred: []
--- error_code: 403



=== TEST 12: location without magic_token: variables are empty
--- request
GET /open/user
--- more_headers eval
"Authorization: Bearer $::tok{full}"
--- response_headers
X-MT-Error: []
X-MT-Cred: []
--- error_code: 200



=== TEST 13: no token or credential in the error log (info) on success
--- log_level: info
--- request
GET /gh/user
--- more_headers eval
"Authorization: Bearer $::tok{full}"
--- error_code: 200
--- no_error_log eval
[substr($::tok{full}, 0, 36), substr($::tok{full}, -36), "ghp_VarsCred42", "[error]", "[crit]", "[alert]"]



=== TEST 14: no token or credential in the error log (info) on scope denial
--- log_level: info
--- request
GET /gh/admin
--- more_headers eval
"Authorization: Bearer $::tok{denied}"
--- error_code: 403
--- error_log eval
qr/magic_token: denied: scope_denied \(token [0-9a-f]{16}\)/
--- no_error_log eval
[substr($::tok{denied}, 0, 36), substr($::tok{denied}, -36), "ghp_VarsCred42", "[error]", "[crit]", "[alert]"]



=== TEST 15: refusal response carries neither the token nor the credential
--- request
GET /gh/admin
--- more_headers eval
"Authorization: Bearer $::tok{denied}"
--- error_code: 403
--- response_body_unlike eval
qr/ghp_VarsCred42|eyJ/



=== TEST 16: audit: allowed request
--- request
GET /gh/n/123
--- more_headers eval
"Authorization: Bearer $::tok{audit_ok}"
--- response_body
auth=[Bearer ghp_VarsCred42] method=GET uri=/n/123
--- error_code: 200



=== TEST 16b: audit: allowed request, scope text with quotes
--- request
GET /gh/q/%22x%22
--- more_headers eval
"Authorization: Bearer $::tok{audit_quote}"
--- response_body
auth=[Bearer ghp_VarsCred42] method=GET uri=/q/%22x%22
--- error_code: 200



=== TEST 16c: audit: jti with a quote and a backslash is not used as the id
--- request
GET /gh/n/7
--- more_headers eval
"Authorization: Bearer $::tok{audit_jti_unsafe}"
--- response_headers eval
"X-MT-Id: [$::id{audit_jti_unsafe}]\n"
--- error_code: 200



=== TEST 17: audit: scope denied
--- request
GET /gh/n/abc
--- more_headers eval
"Authorization: Bearer $::tok{audit_denied}"
--- error_code: 403



=== TEST 18: audit: malformed token containing a quote and a backslash
--- request
GET /gh/n/1
--- more_headers eval
"Authorization: Bearer $::tok{audit_garbage}"
--- error_code: 401



=== TEST 19: audit: missing token
--- request
GET /gh/n/1
--- error_code: 401



=== TEST 20: the log line's hash is the same as $magic_token_id for a token without jti
--- request
GET /gh/admin
--- more_headers eval
"Authorization: Bearer $::tok{nojti}"
--- error_code: 403
--- response_headers eval
"X-MT-Id: [$::id{nojti}]\n"
--- error_log eval
"magic_token: denied: scope_denied (token $::id{nojti})"



=== TEST 21: the log line carries the token hash (not the jti) for a token with jti
--- request
GET /gh/admin
--- more_headers eval
"Authorization: Bearer $::tok{denied}"
--- error_code: 403
--- error_log eval
"magic_token: denied: scope_denied (token $::id{denied})"



=== TEST 22: $magic_token_string_<name> holds JSON strings only; $magic_token_claim_<name> any value as text
--- config
    location /t/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_required off;
        add_header X-S "[$magic_token_string_svc][$magic_token_string_num][$magic_token_string_list][$magic_token_string_nul][$magic_token_string_empty][$magic_token_string_missing][$magic_token_string_crlf]" always;
        add_header X-C "[$magic_token_claim_svc][$magic_token_claim_num][$magic_token_claim_list][$magic_token_claim_nul]" always;
        return 200 "ok\n";
    }
--- request
GET /t/x
--- more_headers eval
"Authorization: Bearer $::tok{typed}"
--- error_code: 200
--- response_headers
X-S: [123][][][][][][a%0D%0AX-I: 1]
X-C: [123][123][["a"]][null]



=== TEST 23: $magic_token_string_<name> is empty when the signature did not verify
--- config
    location /t/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        add_header X-S "[$magic_token_string_sub]" always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/;
    }
--- request
GET /t/x
--- more_headers eval
"Authorization: Bearer $::tok{forged}"
--- error_code: 401
--- response_headers
X-S: []
