# magic_token_cache: the per-worker cache of verified tokens.
#
# A hit is made visible in one client request: /hop/... is a location
# with magic_token on that proxies (with the client's Authorization
# header) to this same server, so the token is verified and stored by the
# first request and found in the cache by the second, in the same worker
# (the runner runs one process).  The debug log ("magic_token cache
# hit|miss|store|expired|evict") tells which path was taken.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;

our %tok;
our @allowed = ('GET /hop/.*', 'GET /(api|aud|req|other|nocache|prefix|lru)/user');

for my $n (qw(a b c)) {
    $tok{$n} = mint(credential => "cred-\U$n", allowed => \@allowed,
                    jti => "jti-$n", claims => { sub => qq{"user-$n"} });
}
# no jti: $magic_token_id is the hash of the signed part
$tok{nojti} = mint(credential => 'cred-nojti', allowed => \@allowed);
$tok{admin} = mint(credential => 'cred-admin', allowed => \@allowed,
                   claims => { admin => 'true' });
# rules JIT-compiled at the 8th hit (NGX_HTTP_MAGIC_TOKEN_CACHE_JIT_HITS)
$tok{jit} = mint(credential => 'cred-jit',
                 allowed => ['GET /jit/items/[0-9]+', 'DELETE /jit/items/7']);

our $scope = 'GET /(api|aud|req|other|nocache|prefix|lru)/user';

# bare entries (kept without their claims) and revocation: a jti and a
# sub revoked in the zone's file
$tok{rv} = mint(credential => 'cred-rv', allowed => ['GET /.*'],
                jti => 'jti-rv', claims => { sub => q{"user-rv"} });
$tok{rs} = mint(credential => 'cred-rs', allowed => ['GET /.*'],
                jti => 'jti-rs', claims => { sub => q{"user-rs"} });
$tok{ok} = mint(credential => 'cred-ok', allowed => ['GET /.*'],
                jti => 'jti-ok', claims => { sub => q{"user-ok"} });
{
    use File::Temp qw(tempdir);
    my $dir = tempdir(CLEANUP => 1);
    my $until = time() + 86400;
    my $before = time() + 3600;
    $ENV{TEST_NGINX_REVOKED} = "$dir/revoked";
    open my $fh, '>', $ENV{TEST_NGINX_REVOKED} or die $!;
    print $fh "magic-token-revocations 1\n",
              qq{{"jti":"jti-rv","until":$until}\n},
              qq{{"sub":"user-rs","before":$before,"until":$until}\n};
    close $fh;
}
our $rv_config = <<'_EOC_';
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    magic_token_cache size=100;

    location ~ ^/plain(/.*)$ {
        magic_token on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT$1;
    }

    location ~ ^/rv(/.*)$ {
        magic_token on;
        magic_token_revocation zone=rv;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT$1;
    }

    location /up/ {
        return 200 "up $uri\n";
    }
_EOC_

# the credential's ciphertext and the "allowed" claims: not kept in a
# cache entry, read again from the token's bytes on a hit
use MIME::Base64 qw(decode_base64);
use JSON::PP qw(decode_json);
our $allowed_json = '["' . join('","', @allowed) . '"]';
our $blob = do {
    my $p = (split /\./, $tok{a})[1];
    $p =~ tr{-_}{+/};
    $p .= '=' x ((4 - length($p) % 4) % 4);
    decode_json(decode_base64($p))->{token};
};

# the protected locations share the server's cache and keys
default_config(<<'_EOC_');
    magic_token_cache size=100;
    magic_token_key $TEST_NGINX_KEYS/private.pem;

    # a second request to this server, with the same Authorization
    location ~ ^/hop(/[a-z]+/.*)$ {
        magic_token on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT$1;
    }

    location /api/ {
        magic_token on;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        add_header X-Id $magic_token_id always;
        add_header X-Sub $magic_token_claim_sub always;
        add_header X-Blob $magic_token_claim_token always;
        add_header X-Allowed $magic_token_claim_allowed always;
        add_header X-Scope $magic_token_scope always;
        add_header X-Error $magic_token_error always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }

    location /aud/ {
        magic_token on;
        magic_token_audience some-other-service;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }

    location /req/ {
        magic_token on;
        magic_token_require $magic_token_claim_admin error=403;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }

    location /other/ {
        magic_token on;
        magic_token_key $TEST_NGINX_OTHER_KEYS/private.pem;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }

    location /prefix/ {
        magic_token on;
        magic_token_scope_match prefix;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }

    location /nocache/ {
        magic_token on;
        magic_token_cache off;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
_EOC_

# configuration errors: Debian's nginx logs them on stderr (see 002-keys.t)
{
    my $conf = sub { my $d = shift; <<"_EOC_" };
    server {
        listen 127.0.0.1:$ENV{TEST_NGINX_UPSTREAM_PORT};
        location / {
            magic_token on;
            magic_token_key $ENV{TEST_NGINX_KEYS}/private.pem;
            $d
        }
    }
_EOC_
    for my $ok ('magic_token_cache off;', 'magic_token_cache size=1;',
                'magic_token_cache size=1000000 ttl=30s;',
                'magic_token_cache ttl=5m size=10;') {
        my ($rc, $err) = nginx_config_check($conf->($ok));
        Test::More::is($rc, 0, "nginx -t accepts \"$ok\"")
            or Test::More::diag($err);
    }
    for my $case (['magic_token_cache size=10 zone=tokens:10m;',
                   qr/name a zone that "magic_token_zone name:size" defines/],
                  ['magic_token_cache size=0;', qr/between 1 and 1000000/],
                  ['magic_token_cache size=1000001;', qr/between 1 and 1000000/],
                  ['magic_token_cache size=abc;', qr/between 1 and 1000000/],
                  ['magic_token_cache ttl=10s;', qr/needs "off", "size=" or "zone="/],
                  ['magic_token_cache size=10 ttl=0;', qr/positive time/],
                  ['magic_token_cache size=10 ttl=forever;', qr/positive time/],
                  ['magic_token_cache size=10 foo=bar;', qr/invalid parameter "foo=bar"/],
                  ['magic_token_cache off size=10;', qr/no parameters after "off"/],
                  ["magic_token_cache size=10;\n magic_token_cache size=20;", qr/is duplicate/]) {
        my ($d, $re) = @$case;
        my ($rc, $err) = nginx_config_check($conf->($d));
        Test::More::isnt($rc, 0, "nginx -t refuses \"$d\"");
        Test::More::like($err, $re, "\"$d\": the message says why")
            or Test::More::diag($err);
    }
}

# The "magic_token cache hit|miss|store|expired|evict" lines are logged at
# debug level: an nginx built without --with-debug never writes them.  As
# Test::Nginx suites do, those checks (only those) are skipped there; the
# requests and every other check still run.
unless (nginx_with_debug()) {
    my $debug_line = qr/^\s*(?:magic_token cache |, \d+ entries\)\s*$)/;
    add_block_preprocessor(sub {
        my $block = shift;
        my $n = 0;
        for my $section (qw(error_log no_error_log)) {
            my $v = $block->$section;
            next unless defined $v && !ref $v;
            my @all = split /\n+/, $v;
            my @keep = grep { $_ !~ $debug_line } @all;
            next if @keep == @all;
            $n += @all - @keep;
            $block->set_value($section, @keep ? join("\n", @keep) . "\n" : ());
        }
        my $grep = $block->grep_error_log;
        if (defined $grep && "$grep" =~ /magic_token cache/) {
            $block->set_value('grep_error_log');
            $block->set_value('grep_error_log_out');
            $n++;
        }
        Test::More->builder->skip($block->name . ": $n debug-log check(s),"
                                  . " nginx was built without --with-debug")
            if $n;
    });
}

run_tests();

__DATA__

=== TEST 1: a miss: verified, stored; the upstream view and the variables
--- request
GET /api/user
--- more_headers eval
"Authorization: Bearer $::tok{a}"
--- response_body
auth=[Bearer cred-A] method=GET uri=/api/user
--- response_headers eval
"X-Id: jti-a\nX-Sub: user-a\nX-Blob: $::blob\nX-Allowed: $::allowed_json\nX-Scope: $::scope\n!X-Error"
--- error_code: 200
--- error_log
magic_token cache miss
magic_token cache store
--- no_error_log
magic_token cache hit
[error]



=== TEST 2: a hit gives the same upstream view and variables as a miss
--- request
GET /hop/api/user
--- more_headers eval
"Authorization: Bearer $::tok{a}"
--- response_body
auth=[Bearer cred-A] method=GET uri=/api/user
--- response_headers eval
"X-Id: jti-a\nX-Sub: user-a\nX-Blob: $::blob\nX-Allowed: $::allowed_json\nX-Scope: $::scope\n!X-Error"
--- error_code: 200
--- error_log
magic_token cache store
magic_token cache hit
--- no_error_log
[error]
magic_token: denied



=== TEST 3: a hit, token without jti: $magic_token_id is the hash
--- request
GET /hop/api/user
--- more_headers eval
"Authorization: Bearer $::tok{nojti}"
--- response_body
auth=[Bearer cred-nojti] method=GET uri=/api/user
--- response_headers eval
"X-Id: " . ::token_id($::tok{nojti}) . "\n!X-Sub"
--- error_code: 200
--- error_log
magic_token cache hit



=== TEST 4: audience still applies on a hit
--- request
GET /hop/aud/user
--- more_headers eval
"Authorization: Bearer $::tok{a}"
--- error_code: 401
--- error_log
magic_token cache hit
magic_token: denied: invalid_audience



=== TEST 5: magic_token_require still applies on a hit (refused)
--- request
GET /hop/req/user
--- more_headers eval
"Authorization: Bearer $::tok{a}"
--- error_code: 403
--- error_log
magic_token cache hit
magic_token: denied: requirement



=== TEST 6: magic_token_require still applies on a hit (allowed)
--- request
GET /hop/req/user
--- more_headers eval
"Authorization: Bearer $::tok{admin}"
--- response_body
auth=[Bearer cred-admin] method=GET uri=/req/user
--- error_code: 200
--- error_log
magic_token cache hit



=== TEST 7: scopes are still matched on a hit
--- request
GET /hop/api/admin
--- more_headers eval
"Authorization: Bearer $::tok{a}"
--- error_code: 403
--- response_headers
X-Error: scope_denied
--- error_log
magic_token cache hit
magic_token: denied: scope_denied



=== TEST 8: another key set does not use the entry
--- request
GET /hop/other/user
--- more_headers eval
"Authorization: Bearer $::tok{a}"
--- error_code: 401
--- error_log
magic_token cache store
magic_token cache miss
--- no_error_log
magic_token cache hit



=== TEST 9: another scope match mode does not use the entry
--- request
GET /hop/prefix/user
--- more_headers eval
"Authorization: Bearer $::tok{a}"
--- response_body
auth=[Bearer cred-A] method=GET uri=/prefix/user
--- error_code: 200
--- grep_error_log eval
qr/magic_token cache (?:hit|miss|store)/
--- grep_error_log_out
magic_token cache miss
magic_token cache store
magic_token cache miss
magic_token cache store



=== TEST 10: magic_token_cache off in a location
--- request
GET /hop/nocache/user
--- more_headers eval
"Authorization: Bearer $::tok{a}"
--- response_body
auth=[Bearer cred-A] method=GET uri=/nocache/user
--- error_code: 200
--- grep_error_log eval
qr/magic_token cache (?:hit|miss|store)/
--- grep_error_log_out
magic_token cache miss
magic_token cache store



=== TEST 11: refused tokens are not stored
--- request
GET /api/admin
--- more_headers eval
"Authorization: Bearer $::tok{a}"
--- error_code: 403
--- error_log
magic_token cache miss
--- no_error_log
magic_token cache store



=== TEST 12: the entry ends at exp: a hit, then 401 expired
--- request eval
["GET /hop/api/user", "GET /api/user"]
--- init
# minted once nginx runs (eval sections are evaluated earlier): exp 3 s away
my $t = main::mint(credential => 'cred-short', allowed => \@main::allowed,
                   ttl => 3);
$block->set_value('more_headers',
                  ["Authorization: Bearer $t", "Authorization: Bearer $t"]);
--- wait: 4
--- error_code eval
[200, 401]
--- response_body_like eval
[qr/^auth=\[Bearer cred-short\] method=GET uri=\/api\/user$/, qr/401/]
--- response_headers eval
["!X-Error", "X-Error: expired"]
--- no_error_log
[error]



=== TEST 13: ttl= caps the entry's lifetime below exp
--- config
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    magic_token_cache size=10 ttl=1s;

    location /lru/ {
        magic_token on;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request eval
["GET /lru/user", "GET /lru/user"]
--- more_headers eval
["Authorization: Bearer $::tok{a}", "Authorization: Bearer $::tok{a}"]
--- wait: 2.5
--- error_code eval
[200, 200]
--- response_body eval
["auth=[Bearer cred-A] method=GET uri=/lru/user\n",
 "auth=[Bearer cred-A] method=GET uri=/lru/user\n"]
--- grep_error_log eval
qr/magic_token cache (?:hit|store)/
--- grep_error_log_out
magic_token cache store



=== TEST 14: LRU with size=2: three tokens round robin are all served
--- config
    magic_token_key $TEST_NGINX_KEYS/private.pem;

    location /lru/ {
        magic_token on;
        magic_token_cache size=2;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request eval
[("GET /lru/user") x 6]
--- more_headers eval
[map { "Authorization: Bearer $::tok{$_}" } qw(a b c a b c)]
--- error_code eval
[(200) x 6]
--- response_body eval
[map { "auth=[Bearer cred-$_] method=GET uri=/lru/user\n" } qw(A B C A B C)]
--- error_log
magic_token cache store
--- no_error_log
magic_token cache hit
, 3 entries)
[error]



=== TEST 15: a token used again and again: its rules get JIT, and still decide
(the debug log's "magic_token cache jit: 2 rules" comes with the 9th request:
error_log sections are checked against every request of a block, so it is
not checked here; t/012 and the unit tests compare JIT and interpreter)
--- config
    magic_token_key $TEST_NGINX_KEYS/private.pem;

    location /jit/ {
        magic_token on;
        magic_token_cache size=10;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request eval
[("GET /jit/items/1") x 10, "GET /jit/items/x", "DELETE /jit/items/7",
 "DELETE /jit/items/8", "GET /jit/items/12", "GET /jit/items/12/x",
 "POST /jit/items/1"]
--- more_headers eval
[("Authorization: Bearer $::tok{jit}") x 16]
--- error_code eval
[(200) x 10, 403, 200, 403, 200, 403, 403]
--- response_body_like eval
[("auth=\\[Bearer cred-jit\\] method=GET uri=/jit/items/1\n") x 10,
 "", "auth=\\[Bearer cred-jit\\] method=DELETE uri=/jit/items/7\n", "",
 "auth=\\[Bearer cred-jit\\] method=GET uri=/jit/items/12\n", "", ""]
--- no_error_log
[error]



=== TEST 16: a bare entry: claims read on its hits are parsed again once
(the first /hop/x/ stores the token without its claims, the second and
/api/ are hits; /api/ reads them first: parsed again, then kept in the
entry for the second /hop/x/ and every later hit)
--- config
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    magic_token_cache size=100;

    location ~ ^/hop/x(/.*)$ {
        magic_token on;
        add_header X-Hop-Sub $magic_token_claim_sub always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT$1;
    }

    location /api/ {
        magic_token on;
        add_header X-Sub $magic_token_claim_sub always;
        add_header X-Id $magic_token_id always;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /hop/x/hop/x/api/user
--- more_headers eval
"Authorization: Bearer $::tok{c}"
--- response_body
auth=[Bearer cred-C] method=GET uri=/api/user
--- response_headers
X-Sub: user-c
X-Id: jti-c
--- error_code: 200
--- grep_error_log eval: qr/magic_token cache (?:store|hit|claims parsed again)\b.*/
--- grep_error_log_out eval
qr/^magic_token cache store .*claims not kept\)
magic_token cache hit .*
magic_token cache hit .*
magic_token cache claims parsed again
$/
--- no_error_log
[error]



=== TEST 17: revocation by jti still applies on a hit of a bare entry
(/plain/ reads no claim: it stores the token bare; /rv/ finds it)
--- http_config
    magic_token_zone rv:1m revocations=$TEST_NGINX_REVOKED;
--- config eval: $::rv_config
--- request
GET /plain/rv/up/x
--- more_headers eval
"Authorization: Bearer $::tok{rv}"
--- error_code: 401
--- grep_error_log eval: qr/magic_token cache (?:store|hit|claims parsed again)\b.*|magic_token: denied: \w+/
--- grep_error_log_out eval
qr/^magic_token cache store .*claims not kept\)
magic_token cache hit .*
magic_token cache claims parsed again
magic_token: denied: revoked
$/



=== TEST 18: revocation by sub still applies on a hit of a bare entry
--- http_config
    magic_token_zone rv:1m revocations=$TEST_NGINX_REVOKED;
--- config eval: $::rv_config
--- request
GET /plain/rv/up/x
--- more_headers eval
"Authorization: Bearer $::tok{rs}"
--- error_code: 401
--- grep_error_log eval: qr/magic_token cache (?:store|hit|claims parsed again)\b.*|magic_token: denied: \w+/
--- grep_error_log_out eval
qr/^magic_token cache store .*claims not kept\)
magic_token cache hit .*
magic_token cache claims parsed again
magic_token: denied: revoked
$/



=== TEST 19: a token not revoked passes both, bare
--- http_config
    magic_token_zone rv:1m revocations=$TEST_NGINX_REVOKED;
--- config eval: $::rv_config
--- request
GET /plain/rv/up/x
--- more_headers eval
"Authorization: Bearer $::tok{ok}"
--- error_code: 200
--- response_body
up /up/x
--- grep_error_log eval: qr/magic_token cache (?:store|hit|claims parsed again)\b.*|magic_token: denied: \w+/
--- grep_error_log_out eval
qr/^magic_token cache store .*claims not kept\)
magic_token cache hit .*
magic_token cache claims parsed again
$/



=== TEST 20: a location that reads the claims keeps them parsed in its entries
(/rv/ stores the token: its revocation check read the claims; the hit in
/plain/ parses nothing)
--- http_config
    magic_token_zone rv:1m revocations=$TEST_NGINX_REVOKED;
--- config eval: $::rv_config
--- request
GET /rv/plain/up/x
--- more_headers eval
"Authorization: Bearer $::tok{ok}"
--- error_code: 200
--- response_body
up /up/x
--- grep_error_log eval: qr/magic_token cache (?:store|hit|claims parsed again)\b/
--- grep_error_log_out
magic_token cache store
magic_token cache hit
--- no_error_log
claims not kept
[error]



=== TEST 21: a subrequest of a hit on a bare entry sees the claims (revocation in the included location)
(/plain/ stores the token bare, /ssi/ is a hit that reads no claim, its
include goes to /rv/, whose revocation check reads them: not revoked)
--- http_config
    magic_token_zone rv:1m revocations=$TEST_NGINX_REVOKED;
--- config eval
$::rv_config . <<'_EOC_';
    location /ssi/ {
        magic_token on;
        ssi on;
    }
_EOC_
--- user_files
>>> ssi/page.html
[<!--# include virtual="/rv/up/x" -->][<!--# echo var="magic_token_id" -->]
--- request
GET /plain/ssi/page.html
--- more_headers eval
"Authorization: Bearer $::tok{ok}"
--- error_code: 200
--- response_body
[up /up/x
][jti-ok]
--- error_log
claims not kept
--- no_error_log
magic_token: denied
[error]



=== TEST 22: ... and a revoked token is refused there
--- http_config
    magic_token_zone rv:1m revocations=$TEST_NGINX_REVOKED;
--- config eval
$::rv_config . <<'_EOC_';
    location /ssi/ {
        magic_token on;
        ssi on;
    }
_EOC_
--- user_files
>>> ssi/page.html
[<!--# include virtual="/rv/up/x" -->]
--- request
GET /plain/ssi/page.html
--- more_headers eval
"Authorization: Bearer $::tok{rv}"
--- error_code: 200
--- response_body_like: ^\[<html>.*401 Authorization Required.*\]$
--- error_log
claims not kept
magic_token: denied: revoked



=== TEST 23: a subrequest's borrowed token is never stored in a cache of its own
(/nc/ has no cache; its include goes to /cached/, which has one: the
subrequest uses the main request's token, and stores nothing)
--- config
    magic_token_key $TEST_NGINX_KEYS/private.pem;

    location /nc/ {
        magic_token on;
        ssi on;
    }

    location ~ ^/cached(/.*)$ {
        magic_token on;
        magic_token_cache size=10;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT$1;
    }

    location /up/ {
        return 200 "up $uri\n";
    }
--- user_files
>>> nc/page.html
[<!--# include virtual="/cached/up/x" -->]
--- request
GET /nc/page.html
--- more_headers eval
"Authorization: Bearer $::tok{ok}"
--- error_code: 200
--- response_body
[up /up/x
]
--- no_error_log
magic_token cache store
magic_token: denied
[error]
