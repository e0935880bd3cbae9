# Credential hygiene (issue #5): allowed and refused requests at error_log
# levels debug and info, then the error log, an access log that records
# every $magic_token_* variable but the credential, the client's responses
# and the upstream's view are searched for the credential and the raw
# token (its payload and signature parts).
#
# At debug level nginx itself logs request headers ("http header: ...")
# and the proxy module logs the upstream request it builds: those lines
# carry the token and the credential, and are nginx's, not the module's
# (see docs/security.md).  At debug level only the module's own lines
# (those containing "magic_token") are checked; at info level, the whole
# error log.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;
use MIME::Base64 qw(decode_base64url);

our (%tok, @secrets, @names, $blob);
our $cred = 'ghp_HygieneCred7f3a9c0d';
my $now = time;

$tok{ok}        = mint(credential => $cred, allowed => ['GET /api/ok'],
                       claims => { sub => '"hyg-bot"' });
$tok{expired}   = mint(credential => $cred, allowed => ['GET /api/ok'],
                       iat => $now - 7200, exp => $now - 3600);
$tok{tampered}  = tamper($tok{ok}, 'signature');
$tok{other_key} = mint(credential => $cred, allowed => ['GET /api/ok'],
                       encrypt_to => other_keys_dir() . '/public.pem');
$tok{bad_cred}  = mint(credential => "$cred\r\nX-Injected: 1", allowed => ['GET /api/ok']);
$tok{wrong_sig} = mint(credential => $cred, allowed => ['GET /api/ok'],
                       key => other_keys_dir() . '/private.pem');

# what must never show up: the credential, and each token's payload and
# signature parts (the header part is the same in every token)
@secrets = ($cred);
for my $t (values %tok) {
    my (undef, $p, $s) = split /\./, $t;
    push @secrets, $p, $s;
}
{
    my (undef, $p) = split /\./, $tok{ok};
    ($blob) = decode_base64url($p) =~ /"token":"([^"]+)"/ or die "no token claim\n";
}

# [path, Authorization value or undef, status]
our @cases = (
    ['/api/ok', $tok{ok}, 200],
    ['/api/no', $tok{ok}, 403],
    ['/api/ok', $tok{expired}, 401],
    ['/api/ok', $tok{tampered}, 401],
    ['/api/ok', $tok{wrong_sig}, 401],
    ['/api/ok', $tok{other_key}, 401],
    ['/api/ok', $tok{bad_cred}, 401],
    ['/api/ok', $cred, 401],            # the raw credential sent as a token
    ['/api/ok', "Bearer $cred", 401],
    ['/api/ok', undef, 401],
);

sub reqs  { [ map { "GET $_->[0]" } @cases ] }
sub hdrs  {
    my $name = shift || 'Authorization';
    [ map { defined $_->[1] ? "$name: " . ($_->[1] =~ /^Bearer / ? $_->[1] : "Bearer $_->[1]")
                            : "X-None: 1" } @cases ]
}
sub codes { [ map { $_->[2] } @cases ] }
sub leak_re { my $x = join '|', map { quotemeta } @secrets; qr/$x/ }
# one pattern per secret, in lines that are the module's
sub module_line_res {
    [ map { my $q = quotemeta; qr/magic_token[^\n]*$q|$q[^\n]*magic_token/ } @secrets ]
}
# the upstream answers whether it saw the credential and whether it saw
# anything looking like a token; the client never sees the credential
sub bodies {
    [ map { $_->[2] == 200 ? qr/^cred=1 token_seen=0 x_token=\[\]\n\z/
                           : qr/\A(?!cred=)(?:(?!\Q$cred\E).)*\z/s } @cases ]
}
sub raw_hdr_unlike { [ map { leak_re() } @cases ] }

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('no_access_log', join "\n", @secrets)
        unless defined $block->no_access_log;
});

default_http_config(<<'_EOC_');
    log_format hygiene 'id=$magic_token_id err=$magic_token_error '
                       'scope="$magic_token_scope" sub=$magic_token_claim_sub '
                       'exp=$magic_token_claim_exp allowed=$magic_token_claim_allowed '
                       'blob=$magic_token_claim_token status=$status';
    map $http_authorization $up_cred {
        "Bearer ghp_HygieneCred7f3a9c0d"  1;
        default                           0;
    }
    map $http_authorization$http_cookie$args $up_token {
        "~eyJ"   1;
        default  0;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        magic_token off;
        access_log off;
        location / {
            return 200 "cred=$up_cred token_seen=$up_token x_token=[$http_x_token]\n";
        }
    }
_EOC_

default_config(<<'_EOC_');
    access_log logs/access.log hygiene;
    location /api/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
_EOC_

run_tests();

__DATA__

=== TEST 1: debug level: the module's own lines never carry the credential or the token; nor does the access log or any response
--- log_level: debug
--- request eval
main::reqs()
--- more_headers eval
main::hdrs()
--- error_code eval
main::codes()
--- response_body_like eval
main::bodies()
--- raw_response_headers_unlike eval
main::raw_hdr_unlike()
--- no_error_log eval
main::module_line_res()



=== TEST 2: info level: the whole error log is free of the credential and the token
--- log_level: info
--- request eval
main::reqs()
--- more_headers eval
main::hdrs()
--- error_code eval
main::codes()
--- response_body_like eval
main::bodies()
--- raw_response_headers_unlike eval
main::raw_hdr_unlike()
--- no_error_log eval
[@::secrets]



=== TEST 3: token from a custom header, removed before proxying: the upstream sees neither the token nor the header; info log clean
--- log_level: info
--- config
    access_log logs/access.log hygiene;
    location /api/ {
        magic_token $http_x_token;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_set_header X-Token "";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request eval
main::reqs()
--- more_headers eval
main::hdrs('X-Token')
--- error_code eval
main::codes()
--- response_body_like eval
main::bodies()
--- raw_response_headers_unlike eval
main::raw_hdr_unlike()
--- no_error_log eval
[@::secrets]



=== TEST 4: 401/403 pages and challenges echo nothing, also with error_page to a custom location; $magic_token_claim_token is the encrypted blob, never the credential
--- log_level: info
--- config
    access_log logs/access.log hygiene;
    location /api/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        add_header X-Claim-Token $magic_token_claim_token always;
        add_header X-Error $magic_token_error always;
        error_page 401 403 /denied;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
    location = /denied {
        internal;
        return 200 "denied: $magic_token_error [$magic_token_claim_sub]\n";
    }
--- request eval
["GET /api/ok", "GET /api/no", "GET /api/ok"]
--- more_headers eval
["Authorization: Bearer $::tok{ok}", "Authorization: Bearer $::tok{ok}",
 "Authorization: Bearer $::tok{bad_cred}"]
--- error_code eval
[200, 403, 401]
--- response_headers eval
["X-Claim-Token: $::blob\nX-Error: ", "", ""]
--- response_body_like eval
[qr/^cred=1 token_seen=0/, qr/^denied: scope_denied \[hyg-bot\]\n\z/,
 qr/^denied: invalid_credential \[\]\n\z/]
--- raw_response_headers_unlike eval
[qr/\Q$::cred\E/, main::leak_re(), main::leak_re()]
--- no_error_log eval
[@::secrets]



=== TEST 5: the audit line of an allowed request carries id, scope, claims and the encrypted blob only
--- log_level: info
--- request
GET /api/ok
--- more_headers eval
"Authorization: Bearer $::tok{ok}"
--- error_code: 200
--- access_log eval
qr/^id=[0-9a-f]{16} err=- scope="GET \/api\/ok" sub=hyg-bot exp=\d+ allowed=\[\\x22GET \/api\/ok\\x22\] blob=\Q$::blob\E status=200$/
--- no_error_log eval
[@::secrets]



=== TEST 6: refusals are logged at info with the token hash only
--- log_level: info
--- request
GET /api/ok
--- more_headers eval
"Authorization: Bearer $::tok{bad_cred}"
--- error_code: 401
--- error_log eval
qr/magic_token: denied: invalid_credential \(token [0-9a-f]{16}\)/
--- access_log eval
qr/^id=[0-9a-f]{16} err=invalid_credential scope="-" sub=- .* status=401$/
--- no_error_log eval
[@::secrets]
