# Lockbox-style service tokens: the structure of conf-examples/lockbox.conf.
# /s/{service}/{path} routing to per-service upstreams with per-service
# credentials from the configuration, HS256 tokens signed with the whole
# signing-key file (magic_token_secret), audiences (magic_token_audience),
# iss and service_name bound with magic_token_require, a public service,
# the client's token never forwarded, leeway, and the attacks that must
# fail (no newline, RS256, alg none, HS256 with the RSA public key).
#
# Tokens are minted with t/tools/lockbox_mint.py, which does exactly what
# Lockbox does (PyJWT, Debian's python3-jwt): run with PYTHON=/usr/bin/python3.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;

use File::Path qw(rmtree);
use File::Temp qw(tempdir);
use MIME::Base64 qw(encode_base64url);

our %tok;

my $PYTHON = $ENV{PYTHON} || '/usr/bin/python3';
my $MINT = repo_root() . '/t/tools/lockbox_mint.py';

# ---------------------------------------------------------------------------
# signing-key files, in a temp dir removed at exit (only by this process)

my $owner = $$;
my $dir = tempdir('lockbox-test-XXXXXX', TMPDIR => 1, CLEANUP => 0);
END { rmtree($dir) if defined $dir && $$ == $owner }
$ENV{TEST_NGINX_LOCKBOX_DIR} = $dir;

my $secret = 'lockbox-test-signing-key-' . join('', map { sprintf '%02x', int rand 256 } 1 .. 16);

sub write_file {
    my ($name, $content) = @_;
    open my $fh, '>', "$dir/$name" or die "$dir/$name: $!";
    binmode $fh;
    print $fh $content;
    close $fh or die "$dir/$name: $!";
}

write_file('signing_key.txt', "$secret\n");     # as "echo ... > file" makes it
write_file('signing_key.nonl.txt', $secret);    # the same secret, re-typed

# lockbox_mint(SERVICE, AUDIENCE, TTL, options...) -> token
sub lockbox_mint {
    my @args = ($MINT, "$dir/signing_key.txt", @_);
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        exec($PYTHON, @args) or die "exec $PYTHON: $!";
    }
    my $out = do { local $/; <$fh> };
    close $fh;
    die "lockbox_mint.py @_ failed (exit " . ($? >> 8) . ")\n" if $?;
    $out =~ s/\s+\z//;
    die "lockbox_mint.py @_: no token\n" unless $out =~ /^[\w=-]+\.[\w=-]+\.[\w=-]*$/;
    return $out;
}

my $keys = keys_dir();

$tok{a_ci}      = lockbox_mint('svc-a', 'ci', 3600);
$tok{a_deploy}  = lockbox_mint('svc-a', 'deploy', 3600);
$tok{a_prod}    = lockbox_mint('svc-a', 'prod', 3600);          # aud not valid for svc-a
$tok{b_ci}      = lockbox_mint('svc-b', 'ci', 3600);            # aud valid for svc-a
$tok{b_any}     = lockbox_mint('svc-b', 'whatever', 3600);
$tok{c_ci}      = lockbox_mint('svc-c', 'ci', 3600);
$tok{expired}   = lockbox_mint('svc-a', 'ci', -120);            # beyond the 10s leeway
$tok{nonl}      = lockbox_mint('svc-a', 'ci', 3600, '--strip-newline');
$tok{bad_iss}   = lockbox_mint('svc-a', 'ci', 3600, '--iss', 'not-lockbox');
$tok{no_iss}    = lockbox_mint('svc-a', 'ci', 3600, '--omit', 'iss');
$tok{no_svc}    = lockbox_mint('svc-b', 'ci', 3600, '--omit', 'service_name');
# Lockbox's admin token ({"iss","exp","admin":true}) is no service token
$tok{admin}     = lockbox_mint('x', 'x', 3600, '--omit', 'service_name',
                               '--omit', 'aud', '--claim', 'admin=true');
$tok{rs256}     = lockbox_mint('svc-a', 'ci', 3600, '--alg', 'RS256',
                               '--rsa-key', "$keys/private.pem");
$tok{none}      = lockbox_mint('svc-a', 'ci', 3600, '--alg', 'none');   # empty signature
# alg none in the header of a genuine token, its HS256 signature kept
($tok{none_sig} = $tok{a_ci}) =~ s/^[^.]+/encode_base64url('{"alg":"none","typ":"JWT"}')/e;
$tok{confusion} = lockbox_mint('svc-a', 'ci', 3600, '--hmac-key-file', "$keys/public.pem");
$tok{hs512}     = lockbox_mint('svc-a', 'ci', 3600, '--alg', 'HS512');
$tok{expired5}  = lockbox_mint('svc-a', 'ci', -5);

# ---------------------------------------------------------------------------
# Lockbox, exactly: for each token of this table, Lockbox's own verdict
# (t/tools/lockbox_verdict.py: PyJWT called as Lockbox 0.1.3 calls it) must
# be nginx's: accepted (200) or refused (401/403).  Rows marked "stricter"
# are the documented exceptions: tokens Lockbox never issues, in claim
# types it never issues, which Lockbox takes and nginx refuses.
# [name, URL service, nginx status, mint arguments..., ('stricter')]

my $now = time;
my @table = (
    ['a_ci',          'svc-a', 200, 'svc-a', 'ci', 3600],
    ['a_aud_list',    'svc-a', 200, 'svc-a', 'x', 3600, '--aud-json', '["x","deploy"]'],
    ['a_aud_list_num','svc-a', 401, 'svc-a', 'x', 3600, '--aud-json', '["ci",1]'],
    ['a_aud_empty',   'svc-a', 401, 'svc-a', '', 3600],
    ['a_aud_missing', 'svc-a', 401, 'svc-a', 'ci', 3600, '--omit', 'aud'],
    ['a_hs384',       'svc-a', 401, 'svc-a', 'ci', 3600, '--alg', 'HS384'],
    ['a_hs512',       'svc-a', 401, 'svc-a', 'ci', 3600, '--alg', 'HS512'],
    ['a_padded',      'svc-a', 200, 'svc-a', 'ci', 3600, '--pad'],
    ['b_aud_str',     'svc-b', 200, 'svc-b', 'anyone', 3600],
    ['b_aud_missing', 'svc-b', 401, 'svc-b', 'ci', 3600, '--omit', 'aud'],
    ['b_aud_empty',   'svc-b', 401, 'svc-b', '', 3600],
    ['b_aud_list',    'svc-b', 401, 'svc-b', 'x', 3600, '--aud-json', '["ci"]'],
    ['b_aud_number',  'svc-b', 401, 'svc-b', 'x', 3600, '--aud-json', '42'],
    ['b_aud_null',    'svc-b', 401, 'svc-b', 'x', 3600, '--aud-json', 'null'],
    ['b_aud_object',  'svc-b', 401, 'svc-b', 'x', 3600, '--aud-json', '{"a":1}'],
    ['b_hs384',       'svc-b', 401, 'svc-b', 'ci', 3600, '--alg', 'HS384'],
    ['b_hs512',       'svc-b', 401, 'svc-b', 'ci', 3600, '--alg', 'HS512'],
    ['b_iat_future',  'svc-b', 401, 'svc-b', 'ci', 3600, '--claim', 'iat=' . ($now + 3600)],
    ['b_iat_past',    'svc-b', 200, 'svc-b', 'ci', 3600, '--claim', 'iat=' . ($now - 60)],
    ['b_nbf_future',  'svc-b', 401, 'svc-b', 'ci', 3600, '--claim', 'nbf=' . ($now + 3600)],
    ['b_nbf_past',    'svc-b', 200, 'svc-b', 'ci', 3600, '--claim', 'nbf=' . ($now - 60)],
    ['b_expired_5s',  'svc-b', 401, 'svc-b', 'ci', -5],
    ['b_exp_missing', 'svc-b', 401, 'svc-b', 'ci', 3600, '--omit', 'exp'],
    ['b_exp_string',  'svc-b', 401, 'svc-b', 'ci', 3600, '--claim', 'exp="' . ($now + 3600) . '"'],
    ['b_iss_case',    'svc-b', 401, 'svc-b', 'ci', 3600, '--iss', 'Lockbox'],
    ['b_iss_space',   'svc-b', 401, 'svc-b', 'ci', 3600, '--iss', 'lockbox '],
    ['b_iss_list',    'svc-b', 401, 'svc-b', 'ci', 3600, '--claim', 'iss=["lockbox"]'],
    ['b_iss_missing', 'svc-b', 401, 'svc-b', 'ci', 3600, '--omit', 'iss'],
    ['b_svc_list',    'svc-b', 403, 'svc-b', 'ci', 3600, '--claim', 'service_name=["svc-b"]'],
    ['b_svc_other',   'svc-b', 403, 'svc-a', 'ci', 3600],
    ['b_nonl',        'svc-b', 401, 'svc-b', 'ci', 3600, '--strip-newline'],
    ['c_ci',          'svc-c', 401, 'svc-c', 'ci', 3600],
    ['n_svc_string',  '123',   200, '123', 'ci', 3600],
    ['n_svc_number',  '123',   403, '123', 'ci', 3600, '--claim', 'service_name=123'],
    ['n_svc_float',   '123',   403, '123', 'ci', 3600, '--claim', 'service_name=123.0'],
    # stricter by design: NumericDates are integers here
    ['x_exp_float',   'svc-b', 401, 'svc-b', 'ci', 3600, '--claim', 'exp=' . ($now + 3600) . '.5', 'stricter'],
    ['x_iat_float',   'svc-b', 401, 'svc-b', 'ci', 3600, '--claim', 'iat=' . ($now - 60) . '.5', 'stricter'],
);

our @rows;
for my $row (@table) {
    my ($name, $svc, $status, @args) = @$row;
    my $stricter = @args && $args[-1] eq 'stricter' ? pop @args : '';
    push @rows, { name => $name, svc => $svc, status => $status,
                  stricter => $stricter, token => lockbox_mint(@args) };
}

{
    my $in = "$dir/verdict.in";
    open my $fh, '>', $in or die "$in: $!";
    print $fh "$_->{svc}\t$_->{token}\n" for @rows;
    close $fh;
    my $verdicts = `$PYTHON @{[repo_root()]}/t/tools/lockbox_verdict.py $dir/signing_key.txt '{"svc-a":["ci","deploy"],"svc-b":null,"svc-c":[],"123":null}' < $in`;
    die "lockbox_verdict.py failed\n" if $?;
    my @v = split /\n/, $verdicts;
    die "lockbox_verdict.py: " . scalar(@v) . " verdicts for " . scalar(@rows) . " tokens\n"
        unless @v == @rows;
    for my $i (0 .. $#rows) {
        my $r = $rows[$i];
        my $nginx_accepts = $r->{status} == 200 ? 1 : 0;
        my $want = $r->{stricter} ? 1 - $nginx_accepts : $nginx_accepts;
        Test::More::is($v[$i], $want, "Lockbox " . ($v[$i] ? 'accepts' : 'refuses')
                       . " $r->{name}" . ($r->{stricter} ? ' (nginx is stricter)' : ''));
    }
}

# conf-examples/lockbox.conf itself passes "nginx -t" (with the module built
# here and a 32-byte signing key; a 24-byte one needs "allow_short")
{
    my $prefix = "$dir/prefix";
    mkdir $_ or die "$_: $!" for $prefix, map { "$prefix/$_" } qw(conf conf/lockbox logs tmp);
    open my $in, '<', repo_root() . '/conf-examples/lockbox.conf' or die "lockbox.conf: $!";
    my $conf = do { local $/; <$in> };
    close $in;
    my $module = module_path();
    $conf =~ s{^load_module \S+;}{load_module $module;}m or die "no load_module line";
    write_file('prefix/conf/nginx.conf', $conf);
    write_file('prefix/conf/lockbox/signing_key.txt', "$secret\n");
    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $out = `$nginx -t -q -p $prefix/ -c conf/nginx.conf -e $prefix/logs/error.log 2>&1`;
    Test::More::is($? >> 8, 0, 'conf-examples/lockbox.conf passes nginx -t') or Test::More::diag($out);

    write_file('prefix/conf/lockbox/signing_key.txt', "lockbox-readme-24-bytes\n");
    $out = `$nginx -t -q -p $prefix/ -c conf/nginx.conf -e $prefix/logs/error.log 2>&1`;
    Test::More::isnt($? >> 8, 0, '... and refuses a 24-byte signing key');
    Test::More::like($out, qr/signing_key\.txt": 24 bytes, .*"allow_short"/, '... naming the opt-in')
        or Test::More::diag($out);
}

no_shuffle();
# The config below has its own "location /"; the CPAN Test::Nginx::Socket
# would otherwise add one.
no_root_location();

sub denied_re { my $e = shift; qr/\[info\] .*magic_token: denied: $e \(token [0-9a-f]{16}\)/ }

# ---------------------------------------------------------------------------
# conf-examples/lockbox.conf, with the test's secret and ports. The two
# echo servers stand in for 127.0.0.1:8091 ("a") and :8092 ("b"); nginx
# sends the upstream name as Host, which selects the echo server.

default_http_config(<<'_EOC_');
    log_format  lockbox_audit escape=json
        '{"method":"$request_method",'
        '"uri":"$uri",'
        '"service":"$lockbox_service",'
        '"token_id":"$magic_token_id",'
        '"token_service":"$magic_token_claim_service_name",'
        '"token_aud":"$magic_token_claim_aud",'
        '"error":"$magic_token_error",'
        '"status":$status}';

    map $uri $lockbox_service {
        "~^/s/(?<lockbox_svc>[^/]+)/"  $lockbox_svc;
        default                        "";
    }

    map $lockbox_service $lockbox_authorization {
        svc-a    "Bearer EXAMPLE-svc-a-api-token";
        svc-c    "Basic c3ZjLWM6RVhBTVBMRS1wYXNzd29yZA==";
        default  "";
    }

    map $lockbox_service $lockbox_api_key {
        svc-b    "EXAMPLE-svc-b-api-key";
        default  "";
    }

    map $magic_token_string_iss $lockbox_issuer_ok {
        "~^lockbox$"  1;
        default       0;
    }

    map "$magic_token_string_service_name:$lockbox_service" $lockbox_service_ok {
        "~^(?<lockbox_name>[^:]+):\k<lockbox_name>$"  1;
        default                                      0;
    }

    map $magic_token_string_aud $lockbox_aud_ok {
        ""       0;
        default  1;
    }

    upstream lockbox-svc-a  { server 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT; }
    upstream lockbox-svc-b  { server 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT; }
    upstream lockbox-svc-c  { server 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT; }
    upstream lockbox-status { server 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT; }

    server {
        listen       127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        server_name  lockbox-svc-a lockbox-status;
        access_log   off;
        magic_token  off;
        location / {
            return 200 "upstream=a host=$host uri=$request_uri authorization=[$http_authorization] x-api-key=[$http_x_api_key]\n";
        }
    }

    server {
        listen       127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        server_name  lockbox-svc-b lockbox-svc-c;
        access_log   off;
        magic_token  off;
        location / {
            return 200 "upstream=b host=$host uri=$request_uri authorization=[$http_authorization] x-api-key=[$http_x_api_key]\n";
        }
    }
_EOC_

default_config(<<'_EOC_');
    access_log  logs/access.log  lockbox_audit;

    magic_token                 on;
    magic_token_secret          $TEST_NGINX_LOCKBOX_DIR/signing_key.txt  alg=HS256;
    magic_token_scope_required  off;
    magic_token_leeway          0s;
    magic_token_require         $lockbox_issuer_ok;
    magic_token_require         $lockbox_service_ok  error=403;

    proxy_set_header  Authorization  $lockbox_authorization;
    proxy_set_header  X-Api-Key      $lockbox_api_key;

    location /s/svc-a/ {
        magic_token_audience  ci deploy;
        proxy_pass            http://lockbox-svc-a/;
    }

    location /s/svc-b/ {
        magic_token_audience  any;
        magic_token_require   $lockbox_issuer_ok;
        magic_token_require   $lockbox_aud_ok;
        magic_token_require   $lockbox_service_ok  error=403;
        proxy_pass            http://lockbox-svc-b/;
    }

    # not in conf-examples/lockbox.conf: a service with a numeric name,
    # configured like svc-b
    location /s/123/ {
        magic_token_audience  any;
        magic_token_require   $lockbox_issuer_ok;
        magic_token_require   $lockbox_aud_ok;
        magic_token_require   $lockbox_service_ok  error=403;
        proxy_pass            http://lockbox-svc-b/;
    }

    location /s/svc-c/ {
        magic_token_audience  none;
        proxy_pass            http://lockbox-svc-c/;
    }

    location /s/status/ {
        magic_token  off;
        proxy_pass   http://lockbox-status/;
    }

    location / {
        magic_token  off;
        return       404;
    }
_EOC_

run_tests();

__DATA__

=== TEST 1: expired 5s ago -> 401 expired (magic_token_leeway 0s, as Lockbox)
--- request
GET /s/svc-a/user
--- more_headers eval
"Authorization: Bearer $::tok{expired5}"
--- error_code: 401
--- response_body_unlike: upstream=
--- error_log eval
::denied_re('expired')



=== TEST 2: valid token for svc-a: upstream a gets a's credential, not the token
--- request
GET /s/svc-a/repos/acme/web?per_page=10&q=a%20b
--- more_headers eval
"Authorization: Bearer $::tok{a_ci}"
--- response_body
upstream=a host=lockbox-svc-a uri=/repos/acme/web?per_page=10&q=a%20b authorization=[Bearer EXAMPLE-svc-a-api-token] x-api-key=[]
--- error_code: 200
--- access_log eval
qr/^\{"method":"GET","uri":"\/s\/svc-a\/repos\/acme\/web","service":"svc-a","token_id":"[0-9a-f]{16}","token_service":"svc-a","token_aud":"ci","error":"","status":200\}$/m
--- no_access_log eval
[$::tok{a_ci}, 'EXAMPLE-svc-a-api-token']
--- log_level: info
--- no_error_log eval
['[error]', 'magic_token: denied', $::tok{a_ci}]



=== TEST 3: second audience of svc-a (deploy) -> 200
--- request
POST /s/svc-a/deployments
hello
--- more_headers eval
"Authorization: Bearer $::tok{a_deploy}"
--- response_body
upstream=a host=lockbox-svc-a uri=/deployments authorization=[Bearer EXAMPLE-svc-a-api-token] x-api-key=[]
--- error_code: 200



=== TEST 4: client-supplied X-Api-Key is not passed to svc-a (no such credential)
--- request
GET /s/svc-a/user
--- more_headers eval
"Authorization: Bearer $::tok{a_ci}\nX-Api-Key: client-supplied"
--- response_body
upstream=a host=lockbox-svc-a uri=/user authorization=[Bearer EXAMPLE-svc-a-api-token] x-api-key=[]
--- error_code: 200



=== TEST 5: svc-b (headers credential, any audience): X-Api-Key set, no Authorization
--- request
GET /s/svc-b/items/7
--- more_headers eval
"Authorization: Bearer $::tok{b_any}\nX-Api-Key: client-supplied"
--- response_body
upstream=b host=lockbox-svc-b uri=/items/7 authorization=[] x-api-key=[EXAMPLE-svc-b-api-key]
--- error_code: 200
--- no_error_log
magic_token: denied



=== TEST 6: token for svc-b on /s/svc-a -> 403 requirement_failed
--- request
GET /s/svc-a/user
--- more_headers eval
"Authorization: Bearer $::tok{b_ci}"
--- error_code: 403
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="insufficient_scope"
--- error_log eval
::denied_re('requirement_failed')
--- access_log eval
qr/"service":"svc-a",.*"token_service":"svc-b","token_aud":"ci","error":"requirement_failed","status":403\}/



=== TEST 7: token for svc-a on /s/svc-b (any audience) -> 403 requirement_failed
--- request
GET /s/svc-b/items
--- more_headers eval
"Authorization: Bearer $::tok{a_ci}"
--- error_code: 403
--- error_log eval
::denied_re('requirement_failed')



=== TEST 8: token without service_name -> 403 requirement_failed
--- request
GET /s/svc-b/items
--- more_headers eval
"Authorization: Bearer $::tok{no_svc}"
--- error_code: 403
--- error_log eval
::denied_re('requirement_failed')



=== TEST 9: wrong audience -> 401 invalid_audience
--- request
GET /s/svc-a/user
--- more_headers eval
"Authorization: Bearer $::tok{a_prod}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="invalid_token"
--- error_log eval
::denied_re('invalid_audience')



=== TEST 10: Lockbox admin token (no aud, no service_name) on svc-a -> 401 invalid_audience
--- request
GET /s/svc-a/user
--- more_headers eval
"Authorization: Bearer $::tok{admin}"
--- error_code: 401
--- error_log eval
::denied_re('invalid_audience')



=== TEST 11: Lockbox admin token on svc-b (any audience, but aud must be a string) -> 401 requirement_failed
--- request
GET /s/svc-b/items
--- more_headers eval
"Authorization: Bearer $::tok{admin}"
--- error_code: 401
--- error_log eval
::denied_re('requirement_failed')



=== TEST 12: magic_token_audience none (valid_audiences: []) -> 401 for the right service
--- request
GET /s/svc-c/x
--- more_headers eval
"Authorization: Bearer $::tok{c_ci}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="invalid_token"
--- error_log eval
::denied_re('invalid_audience')



=== TEST 13: magic_token_audience none -> 401 for any other token too
--- request
GET /s/svc-c/x
--- more_headers eval
"Authorization: Bearer $::tok{a_ci}"
--- error_code: 401
--- error_log eval
::denied_re('invalid_audience')



=== TEST 14: wrong issuer -> 401 requirement_failed
--- request
GET /s/svc-a/user
--- more_headers eval
"Authorization: Bearer $::tok{bad_iss}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="invalid_token"
--- error_log eval
::denied_re('requirement_failed')



=== TEST 15: no issuer -> 401 requirement_failed
--- request
GET /s/svc-a/user
--- more_headers eval
"Authorization: Bearer $::tok{no_iss}"
--- error_code: 401
--- error_log eval
::denied_re('requirement_failed')



=== TEST 16: expired beyond the leeway -> 401 expired
--- request
GET /s/svc-a/user
--- more_headers eval
"Authorization: Bearer $::tok{expired}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="invalid_token"
--- error_log eval
::denied_re('expired')



=== TEST 17: no token -> 401 missing
--- request
GET /s/svc-a/user
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token"
--- error_log eval
qr/\[info\] .*magic_token: denied: missing/



=== TEST 18: token signed without the key file's trailing newline -> 401 bad_signature
--- request
GET /s/svc-a/user
--- more_headers eval
"Authorization: Bearer $::tok{nonl}"
--- error_code: 401
--- error_log eval
::denied_re('bad_signature')



=== TEST 19: key file without the newline refuses genuine Lockbox tokens
--- config
    magic_token                 on;
    magic_token_secret          $TEST_NGINX_LOCKBOX_DIR/signing_key.nonl.txt;
    magic_token_scope_required  off;
    location /s/svc-a/ {
        proxy_set_header  Authorization  $lockbox_authorization;
        proxy_pass        http://lockbox-svc-a/;
    }
--- request
GET /s/svc-a/user
--- more_headers eval
"Authorization: Bearer $::tok{a_ci}"
--- error_code: 401
--- error_log eval
::denied_re('bad_signature')



=== TEST 20: ... and accepts tokens signed without it
--- config
    magic_token                 on;
    magic_token_secret          $TEST_NGINX_LOCKBOX_DIR/signing_key.nonl.txt;
    magic_token_scope_required  off;
    location /s/svc-a/ {
        proxy_set_header  Authorization  $lockbox_authorization;
        proxy_pass        http://lockbox-svc-a/;
    }
--- request
GET /s/svc-a/user
--- more_headers eval
"Authorization: Bearer $::tok{nonl}"
--- response_body
upstream=a host=lockbox-svc-a uri=/user authorization=[Bearer EXAMPLE-svc-a-api-token] x-api-key=[]
--- error_code: 200



=== TEST 21: RS256 token (no RSA key configured) -> 401 unknown_key
--- request
GET /s/svc-a/user
--- more_headers eval
"Authorization: Bearer $::tok{rs256}"
--- error_code: 401
--- error_log eval
::denied_re('unknown_key')



=== TEST 22: alg none (unsecured JWT, empty signature) -> 401
--- request
GET /s/svc-a/user
--- more_headers eval
"Authorization: Bearer $::tok{none}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="invalid_token"
--- error_log eval
::denied_re('(?:unsupported_alg|malformed)')



=== TEST 23: alg none with a signature (a genuine token's header swapped) -> 401 unsupported_alg
--- request
GET /s/svc-a/user
--- more_headers eval
"Authorization: Bearer $::tok{none_sig}"
--- error_code: 401
--- error_log eval
::denied_re('unsupported_alg')



=== TEST 24: HS256 signed with the RSA public key PEM, RSA key configured too -> 401
--- config
    magic_token                 on;
    magic_token_secret          $TEST_NGINX_LOCKBOX_DIR/signing_key.txt;
    magic_token_key             $TEST_NGINX_KEYS/public.pem;
    magic_token_scope_required  off;
    location /s/svc-a/ {
        proxy_set_header  Authorization  $lockbox_authorization;
        proxy_pass        http://lockbox-svc-a/;
    }
--- request
GET /s/svc-a/user
--- more_headers eval
"Authorization: Bearer $::tok{confusion}"
--- error_code: 401
--- error_log eval
::denied_re('bad_signature')



=== TEST 25: same location: a genuine Lockbox token still passes
--- config
    magic_token                 on;
    magic_token_secret          $TEST_NGINX_LOCKBOX_DIR/signing_key.txt;
    magic_token_key             $TEST_NGINX_KEYS/public.pem;
    magic_token_scope_required  off;
    location /s/svc-a/ {
        proxy_set_header  Authorization  $lockbox_authorization;
        proxy_pass        http://lockbox-svc-a/;
    }
--- request
GET /s/svc-a/user
--- more_headers eval
"Authorization: Bearer $::tok{a_ci}"
--- response_body
upstream=a host=lockbox-svc-a uri=/user authorization=[Bearer EXAMPLE-svc-a-api-token] x-api-key=[]
--- error_code: 200



=== TEST 26: HS512 with the same secret -> 401 unknown_key (the secret is pinned to HS256)
--- request
GET /s/svc-a/user
--- more_headers eval
"Authorization: Bearer $::tok{hs512}"
--- error_code: 401
--- response_body_unlike: upstream=
--- error_log eval
::denied_re('unknown_key')



=== TEST 27: public service without a token -> 200, no Authorization upstream
--- request
GET /s/status/health
--- response_body
upstream=a host=lockbox-status uri=/health authorization=[] x-api-key=[]
--- error_code: 200
--- no_error_log
magic_token: denied



=== TEST 28: public service: a client's Authorization header is not forwarded
--- request
GET /s/status/health
--- more_headers eval
"Authorization: Bearer $::tok{a_ci}"
--- response_body
upstream=a host=lockbox-status uri=/health authorization=[] x-api-key=[]
--- error_code: 200



=== TEST 29: unknown service -> 404 (before any token check)
--- request
GET /s/nope/user
--- error_code: 404
--- no_error_log
magic_token: denied



=== TEST 30: unknown service with a valid token -> 404
--- request
GET /s/svc-d/user
--- more_headers eval
"Authorization: Bearer $::tok{a_ci}"
--- error_code: 404



=== TEST 31: path normalization cannot switch services: /s/svc-b/../svc-a/ is svc-a
--- request
GET /s/svc-b/../svc-a/user
--- more_headers eval
"Authorization: Bearer $::tok{b_ci}"
--- error_code: 403
--- error_log eval
::denied_re('requirement_failed')



=== TEST 32: Lockbox, exactly: every token of the table gets Lockbox's verdict (200 accepted, 401/403 refused)
--- request eval
[ map { "GET /s/$_->{svc}/x?row=$_->{name}" } @::rows ]
--- more_headers eval
[ map { "Authorization: Bearer $_->{token}" } @::rows ]
--- error_code eval
[ map { $_->{status} } @::rows ]
--- response_body_like eval
[ map { $_->{status} == 200 ? qr/^upstream=/ : qr/^(?!upstream=)/ } @::rows ]
