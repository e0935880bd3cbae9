# magic_token_metrics and magic_token_status: requests counted by label
# and outcome, the Prometheus text format, what "nginx -t" says.  Each
# block starts a fresh nginx, so its zone starts from zero; the last
# request of a block scrapes /metrics and the filter keeps the lines that
# the block's traffic made non-zero.  Counts kept across a reload, with
# two workers and traffic: t/094-reload-load.t.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;
use MagicToken::Standalone;

use File::Copy qw(copy);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Socket::INET;

my $now = time;
our %tok;
$tok{ok} = mint(credential => 'cred-status',
                allowed => ['GET /a/.*', 'GET /nolabel/.*', 'GET /off/.*',
                            'GET /b/ok', 'GET /t/.*', 'GET /m/.*',
                            'GET /mirror/.*']);
$tok{expired} = mint(credential => 'cred-status', allowed => ['GET /a/.*'],
                     iat => $now - 7200, exp => $now - 3600);
$tok{tampered} = tamper($tok{ok}, 'signature');

# the request counters that are not zero
sub counted {
    my ($body) = @_;
    return join '', grep { /^magic_token_requests_/ && !/ 0$/ }
                    split /^/, $body;
}

# every line but the request counters, the slab figures made "N"
sub zone_lines {
    my ($body) = @_;
    $body =~ s/^(magic_token_zone_(?:pages|used_pages|used_bytes)\{[^}]*\})
               \ [1-9]\d*$/$1 N/mgx;
    return join '', grep { !/^(# (HELP|TYPE) )?magic_token_requests_/ }
                    split /^/, $body;
}

sub auth { $_[0] ? "Authorization: Bearer $_[0]" : "X-No-Token: 1" }

{
    my $loc = "location /a/ { magic_token on; "
            . "magic_token_key $ENV{TEST_NGINX_KEYS}/private.pem; }";

    my ($rc, $err) = nginx_config_check(
        "magic_token_zone m:1m;\nmagic_token_metrics zone=m label=api;\n"
        . "server { $loc location = /metrics { magic_token_status; } }\n");
    Test::More::is($rc, 0, 'nginx -t accepts metrics and a status page')
        or Test::More::diag($err);

    ($rc, $err) = nginx_config_check(
        "server { location /a/ { magic_token_metrics zone=m label=a; } }\n"
        . "magic_token_zone m:1m;\n");
    Test::More::is($rc, 0, 'nginx -t accepts a zone defined further down')
        or Test::More::diag($err);

    for my $case (
        ['status without a zone',
         "server { location = /metrics { magic_token_status; } }",
         qr/"magic_token_status" in \S+:\d+ has nothing to show: no "magic_token_zone" is defined/],
        ['unknown zone',
         "magic_token_metrics zone=nope label=a;",
         qr/unknown magic_token_zone "nope" in \S+:\d+/],
        ['no zone=',
         "magic_token_zone m:1m;\nmagic_token_metrics label=a;",
         qr/"magic_token_metrics" needs "zone="/],
        ['empty zone=',
         "magic_token_zone m:1m;\nmagic_token_metrics zone=;",
         qr/empty zone name/],
        ['empty label=',
         "magic_token_zone m:1m;\nmagic_token_metrics zone=m label=;",
         qr/"label=" needs a name/],
        ['label with a quote',
         "magic_token_zone m:1m;\nmagic_token_metrics zone=m 'label=a\"b';",
         qr/invalid label "a"b": letters, digits and "_-.:\/" only/],
        ['label too long',
         "magic_token_zone m:1m;\nmagic_token_metrics zone=m label=" . ('x' x 65) . ";",
         qr/label "x{65}" is too long, at most 64 characters/],
        ['bad parameter',
         "magic_token_zone m:1m;\nmagic_token_metrics zone=m size=5;",
         qr/invalid parameter "size=5"/],
        ['off with parameters',
         "magic_token_metrics off zone=m;",
         qr/"magic_token_metrics" directive takes no parameters after "off"/],
        ['duplicate',
         "magic_token_zone m:1m;\nmagic_token_metrics zone=m;\nmagic_token_metrics off;",
         qr/"magic_token_metrics" directive is duplicate/],
        ['status at http level',
         "magic_token_zone m:1m;\nmagic_token_status;",
         qr/"magic_token_status" directive is not allowed here/],
        ['status with a parameter',
         "magic_token_zone m:1m;\nserver { location = /s { magic_token_status on; } }",
         qr/invalid number of arguments in "magic_token_status" directive/],
    ) {
        my ($what, $conf, $re) = @$case;
        my ($rc, $err) = nginx_config_check("$conf\n");
        Test::More::isnt($rc, 0, "nginx -t refuses: $what");
        Test::More::like($err, $re, "$what: the message") or Test::More::diag($err);
    }
}

# conf-examples/metrics.conf, run as documented (ports moved to +30/+31)
{
    my $port = ($ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984)
               + 30;
    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $prefix = tempdir('mt-metrics-example-XXXXXX', TMPDIR => 1,
                         CLEANUP => 1);
    make_path("$prefix/conf/keys", "$prefix/logs", "$prefix/tmp");
    copy(keys_dir() . '/private.pem', "$prefix/conf/keys/private.pem")
        or die "copy: $!";

    my $conf = do {
        local (@ARGV, $/) = repo_root() . '/conf-examples/metrics.conf'; <>
    };
    my $module = module_path();
    $conf =~ s{^load_module \S+;}{load_module $module;}m
        or die "example: no load_module";
    $conf =~ s/127\.0\.0\.1:8080\b/127.0.0.1:$port/g;
    $conf =~ s/127\.0\.0\.1:8081\b/127.0.0.1:@{[$port + 1]}/g;
    open my $out, '>', "$prefix/conf/nginx.conf" or die $!;
    print $out $conf;
    close $out;

    my $get = sub {
        my ($path, $token) = @_;
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                      Timeout => 5) or return '';
        my $auth = $token ? "Authorization: Bearer $token\r\n" : '';
        print $s "GET $path HTTP/1.0\r\n$auth\r\n";
        local $/;
        return <$s> // '';
    };

    my $rc = system($nginx, '-p', "$prefix/", '-c', 'conf/nginx.conf',
                    '-e', 'logs/error.log');
    Test::More::is($rc, 0, 'conf-examples/metrics.conf starts');

    my $t = mint(credential => 'cred-example', allowed => ['GET /user'],
                 claims => { aud => '"github"' });
    my $up;
    for (1 .. 50) {
        $up = $get->('/github/user', $t);
        last if $up =~ m{^HTTP/1\.\d 200};
        select undef, undef, undef, 0.1;
    }
    Test::More::like($up, qr{^HTTP/1\.\d 200}, 'example: an allowed request');
    $get->('/billing/x');
    $get->('/api/user', tamper($t, 'signature'));

    my $page = $get->('/metrics');
    Test::More::like($page, qr{^Content-Type: text/plain; version=0\.0\.4\r$}m,
                     'example: the metrics content type');
    Test::More::is(counted($page =~ /\r\n\r\n(.*)\z/s ? $1 : ''),
        "magic_token_requests_allowed_total{zone=\"tokens\",label=\"github\"} 1\n"
        . "magic_token_requests_refused_total{zone=\"tokens\",label=\"api\",reason=\"bad_signature\"} 1\n"
        . "magic_token_requests_refused_total{zone=\"tokens\",label=\"billing\",reason=\"missing\"} 1\n",
        'example: the requests by label');
    Test::More::unlike($page, qr/cred-example|\Q$t\E|\Q@{[substr($t, 0, 20)]}\E/,
                       'example: no credential and no token on the page');

    if (open my $pid, '<', "$prefix/logs/nginx.pid") {
        my $p = <$pid>;
        chomp $p;
        kill 'QUIT', $p;
        for (1 .. 50) {
            last unless kill 0, $p;
            select undef, undef, undef, 0.1;
        }
    }
}

# a small zone across reloads: the counters of labels gone are reused
# (from zero) for new ones; a reload with no room for its labels is
# refused and the running configuration goes on (ports +32)
{
    my $port = ($ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984)
               + 32;
    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $prefix = tempdir('mt-metrics-zone-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    make_path("$prefix/logs");
    my $key = keys_dir() . '/private.pem';

    my $write = sub {
        my ($prefix_label, $n) = @_;
        my $locs = join "\n", map {
            "        location /$prefix_label$_/ { magic_token on; "
            . "magic_token_metrics zone=z label=$prefix_label$_; "
            . "proxy_pass http://127.0.0.1:1; }"
        } 1 .. $n;
        open my $out, '>', "$prefix/conf.conf" or die $!;
        print $out standalone_head($prefix), <<"_EOC_";
    magic_token_zone z:32k;
    server {
        listen 127.0.0.1:$port;
        magic_token_key $key;
$locs
        location = /metrics { magic_token_status; }
    }
}
_EOC_
        close $out;
    };
    my $get = sub {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                      Timeout => 5) or return '';
        print $s "GET $_[0] HTTP/1.0\r\n\r\n";
        local $/;
        my $r = <$s> // '';
        return $r =~ /\r\n\r\n(.*)\z/s ? $1 : '';
    };
    my $wait_for = sub {
        my ($re) = @_;
        for (1 .. 100) {
            my $page = $get->('/metrics');
            return $page if $page =~ $re;
            select undef, undef, undef, 0.1;
        }
        return $get->('/metrics');
    };
    my @nginx = ($nginx, '-p', "$prefix/", '-c', "$prefix/conf.conf",
                 '-e', 'logs/error.log');

    $write->('a', 30);
    Test::More::is(system(@nginx), 0, 'small zone: 30 labels fit in 32k');
    my $page = $wait_for->(qr/label="a30"/);
    $get->('/a1/') for 1 .. 3;
    $page = $wait_for->(qr/label="a1",reason="missing"\} 3/);
    Test::More::like($page, qr/^magic_token_requests_refused_total\{zone="z",label="a1",reason="missing"\} 3$/m,
                     'small zone: a1 counted');

    # 30 more labels do not fit beside the 30 gone: their nodes are reused
    $write->('b', 30);
    Test::More::is(system(@nginx, '-s', 'reload'), 0, 'small zone: reload with 30 other labels');
    $page = $wait_for->(qr/label="b30"/);
    Test::More::like($page, qr/label="b30"/, 'small zone: the new labels are shown');
    Test::More::unlike($page, qr/label="a\d+"/, 'small zone: the labels gone are not');
    Test::More::unlike($page, qr/^magic_token_requests_\w+\{zone="z",label="b\d+"[^}]*\} [1-9]/m,
                       'small zone: the new labels start at zero (reused nodes too)');
    Test::More::like($page, qr/^magic_token_zone_full_total\{zone="z"\} [1-9]/m,
                     'small zone: the allocations refused are counted');

    # 60 labels: no room even with every node reused; the reload is refused
    $write->('c', 60);
    system(@nginx, '-s', 'reload');
    my $log = '';
    for (1 .. 100) {
        $log = do { local (@ARGV, $/) = "$prefix/logs/error.log"; <> } // '';
        last if $log =~ /has no room/;
        select undef, undef, undef, 0.1;
    }
    Test::More::like($log, qr/\[emerg\] .*magic_token_zone "z" has no room for the counters of magic_token_metrics/,
                     'small zone: no room for 60 labels, said at emerg')
        or Test::More::diag(join '', grep { /emerg|alert|warn|crit/ } split /^/, $log);
    Test::More::like($get->('/metrics'), qr/label="b30"/,
                     'small zone: the running configuration goes on');

    if (open my $pid, '<', "$prefix/logs/nginx.pid") {
        my $p = <$pid>;
        chomp $p;
        kill 'QUIT', $p;
        for (1 .. 50) {
            last unless kill 0, $p;
            select undef, undef, undef, 0.1;
        }
    }
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: allowed and refused requests by label and reason; inheritance, no label, off
--- http_config
    magic_token_zone m:1m;
--- config
    magic_token_metrics zone=m label=srv;
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    proxy_set_header Authorization "Bearer $magic_token_credential";

    location /a/ {
        magic_token on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
    location /b/ {
        magic_token on;
        magic_token_metrics zone=m label=b;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
    location /nolabel/ {
        magic_token on;
        magic_token_metrics zone=m;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
    location /off/ {
        magic_token on;
        magic_token_metrics off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
    location /plain/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
    location = /metrics {
        magic_token_status;
    }
--- request eval
["GET /a/x", "GET /a/x", "GET /a/x", "GET /a/x", "GET /a/x", "GET /a/..;/x",
 "GET /b/x", "GET /b/ok", "GET /nolabel/x", "GET /off/x", "GET /off/x",
 "GET /plain/x", "GET /a/y", "GET /metrics"]
--- more_headers eval
[map { main::auth($_) }
 $::tok{ok}, undef, 'abc', $::tok{tampered}, $::tok{expired}, $::tok{ok},
 $::tok{ok}, $::tok{ok}, $::tok{ok}, $::tok{ok}, undef,
 undef, $::tok{ok}, undef]
--- error_code eval
[200, 401, 401, 401, 401, 403, 403, 200, 200, 200, 401, 200, 200, 200]
--- response_body_filters eval
\&main::counted
--- response_body eval
[("") x 13, <<'EOF']
magic_token_requests_allowed_total{zone="m",label="srv"} 2
magic_token_requests_allowed_total{zone="m",label="b"} 1
magic_token_requests_allowed_total{zone="m",label=""} 1
magic_token_requests_refused_total{zone="m",label="srv",reason="missing"} 1
magic_token_requests_refused_total{zone="m",label="srv",reason="malformed"} 1
magic_token_requests_refused_total{zone="m",label="srv",reason="bad_signature"} 1
magic_token_requests_refused_total{zone="m",label="srv",reason="expired"} 1
magic_token_requests_refused_total{zone="m",label="srv",reason="unsafe_path"} 1
magic_token_requests_refused_total{zone="m",label="b",reason="scope_denied"} 1
EOF
--- no_error_log
[error]
[alert]



=== TEST 2: HEAD answers the headers only; other methods get 405
--- http_config
    magic_token_zone m:1m;
--- config
    location = /metrics {
        magic_token_status;
    }
--- request eval
["HEAD /metrics", "POST /metrics\nx=1", "PUT /metrics\nx", "DELETE /metrics"]
--- error_code eval
[200, 405, 405, 405]
--- response_headers_like eval
["Content-Type: text/plain; version=0\\.0\\.4", "", "", ""]
--- response_body_like eval
["^\$", "405 Not Allowed", "405 Not Allowed", "405 Not Allowed"]
--- no_error_log
[error]
[alert]



=== TEST 3: the page: every zone-wide counter, the slab figures, zone names escaped
--- http_config
    magic_token_zone m:1m;
    magic_token_zone "q\"z:64k";
    magic_token_metrics zone=q"z label=x;
--- config
    location = /metrics {
        magic_token_status;
    }
--- request
GET /metrics
--- response_body_filters eval
\&main::zone_lines
--- response_body
# HELP magic_token_cache_hits_total Tokens found in the shared cache.
# TYPE magic_token_cache_hits_total counter
magic_token_cache_hits_total{zone="m"} 0
magic_token_cache_hits_total{zone="q\"z"} 0
# HELP magic_token_cache_misses_total Tokens looked up in the shared cache and not found.
# TYPE magic_token_cache_misses_total counter
magic_token_cache_misses_total{zone="m"} 0
magic_token_cache_misses_total{zone="q\"z"} 0
# HELP magic_token_cache_stores_total Tokens stored in the shared cache.
# TYPE magic_token_cache_stores_total counter
magic_token_cache_stores_total{zone="m"} 0
magic_token_cache_stores_total{zone="q\"z"} 0
# HELP magic_token_cache_evictions_total Entries evicted from the shared cache to make room.
# TYPE magic_token_cache_evictions_total counter
magic_token_cache_evictions_total{zone="m"} 0
magic_token_cache_evictions_total{zone="q\"z"} 0
# HELP magic_token_cache_entries Entries in the shared cache.
# TYPE magic_token_cache_entries gauge
magic_token_cache_entries{zone="m"} 0
magic_token_cache_entries{zone="q\"z"} 0
# HELP magic_token_revoked_requests_total Requests refused because their token is revoked.
# TYPE magic_token_revoked_requests_total counter
magic_token_revoked_requests_total{zone="m"} 0
magic_token_revoked_requests_total{zone="q\"z"} 0
# HELP magic_token_revocations Tokens in the revocation list.
# TYPE magic_token_revocations gauge
magic_token_revocations{zone="m"} 0
magic_token_revocations{zone="q\"z"} 0
# HELP magic_token_grants_made_total Grants made.
# TYPE magic_token_grants_made_total counter
magic_token_grants_made_total{zone="m"} 0
magic_token_grants_made_total{zone="q\"z"} 0
# HELP magic_token_grants_used_total Requests allowed by a grant.
# TYPE magic_token_grants_used_total counter
magic_token_grants_used_total{zone="m"} 0
magic_token_grants_used_total{zone="q\"z"} 0
# HELP magic_token_grants Grants live in the zone.
# TYPE magic_token_grants gauge
magic_token_grants{zone="m"} 0
magic_token_grants{zone="q\"z"} 0
# HELP magic_token_checks_total External checks made.
# TYPE magic_token_checks_total counter
magic_token_checks_total{zone="m"} 0
magic_token_checks_total{zone="q\"z"} 0
# HELP magic_token_zone_full_total Allocations refused because the zone was full.
# TYPE magic_token_zone_full_total counter
magic_token_zone_full_total{zone="m"} 0
magic_token_zone_full_total{zone="q\"z"} 0
# HELP magic_token_cache_verified_total Tokens verified and decrypted in full by locations with a shared cache.
# TYPE magic_token_cache_verified_total counter
magic_token_cache_verified_total{zone="m"} 0
magic_token_cache_verified_total{zone="q\"z"} 0
# HELP magic_token_zone_size_bytes Size of the shared memory zone.
# TYPE magic_token_zone_size_bytes gauge
magic_token_zone_size_bytes{zone="m"} 1048576
magic_token_zone_size_bytes{zone="q\"z"} 65536
# HELP magic_token_zone_pages Slab pages of the zone.
# TYPE magic_token_zone_pages gauge
magic_token_zone_pages{zone="m"} N
magic_token_zone_pages{zone="q\"z"} N
# HELP magic_token_zone_used_pages Slab pages of the zone in use.
# TYPE magic_token_zone_used_pages gauge
magic_token_zone_used_pages{zone="m"} N
magic_token_zone_used_pages{zone="q\"z"} N
# HELP magic_token_zone_used_bytes Bytes of the zone in use (pages in use times the page size).
# TYPE magic_token_zone_used_bytes gauge
magic_token_zone_used_bytes{zone="m"} N
magic_token_zone_used_bytes{zone="q\"z"} N
--- no_error_log
[error]
[alert]



=== TEST 4: the request families: a line per label and reason, zero before any traffic
--- http_config
    magic_token_zone m:1m;
--- config
    magic_token_metrics zone=m label=one;
    location /two/ {
        magic_token_metrics zone=m label=two;
    }
    location = /metrics {
        magic_token_status;
    }
--- request
GET /metrics
--- response_body_like eval
my @r = qw(missing malformed too_large unsupported_alg unknown_key
           bad_signature expired not_yet_valid invalid_claims decrypt_failed
           invalid_credential unknown_scope scope_denied bad_scope bad_key
           invalid_audience requirement_failed unsafe_path untrusted_key
           revoked dpop_required invalid_dpop_proof dpop_replay
           out_of_memory internal);
my $re = "\\A# HELP magic_token_requests_allowed_total .*\n"
       . "# TYPE magic_token_requests_allowed_total counter\n"
       . "magic_token_requests_allowed_total\\{zone=\"m\",label=\"one\"\\} 0\n"
       . "magic_token_requests_allowed_total\\{zone=\"m\",label=\"two\"\\} 0\n"
       . "# HELP magic_token_requests_refused_total .*\n"
       . "# TYPE magic_token_requests_refused_total counter\n";
for my $l (qw(one two)) {
    $re .= "magic_token_requests_refused_total\\{zone=\"m\",label=\"$l\","
         . "reason=\"$_\"\\} 0\n" for @r;
}
qr/$re# HELP magic_token_cache_hits_total /;
--- no_error_log
[error]



=== TEST 5: counted once: internal redirects, a mirror subrequest, the status page itself
--- http_config
    magic_token_zone m:1m;
--- config
    magic_token_metrics zone=m label=srv;
    magic_token_key $TEST_NGINX_KEYS/private.pem;
    proxy_set_header Authorization "Bearer $magic_token_credential";

    location /t/ {
        magic_token on;
        try_files /nonexistent @up;
    }
    location @up {
        magic_token_metrics zone=m label=up;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
    location /m/ {
        magic_token on;
        mirror /mirror/x;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
    location /mirror/ {
        internal;
        magic_token on;
        magic_token_metrics zone=m label=mirror;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
    location = /metrics {
        magic_token_status;
    }
--- request eval
["GET /t/x", "GET /t/x", "GET /m/x", "GET /m/x", "GET /metrics", "GET /metrics"]
--- more_headers eval
[map { main::auth($_) } $::tok{ok}, undef, $::tok{ok}, $::tok{ok}, undef, undef]
--- error_code eval
[200, 401, 200, 200, 200, 200]
--- response_body_filters eval
\&main::counted
--- response_body eval
my $counted = <<'EOF';
magic_token_requests_allowed_total{zone="m",label="srv"} 2
magic_token_requests_allowed_total{zone="m",label="up"} 1
magic_token_requests_refused_total{zone="m",label="srv",reason="missing"} 1
EOF
[("") x 4, $counted, $counted]
--- no_error_log
[error]
[alert]



=== TEST 6: labelled as the location the request ends in (error_page), like access_log
--- http_config
    magic_token_zone m:1m;
--- config
    magic_token_key $TEST_NGINX_KEYS/private.pem;

    location /a/ {
        magic_token on;
        magic_token_metrics zone=m label=api;
        error_page 401 403 = @denied;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
    location @denied {
        magic_token_metrics zone=m label=denied;
        return 418 "denied\n";
    }
    location /quiet/ {
        magic_token on;
        magic_token_metrics zone=m label=quiet;
        error_page 401 = @uncounted;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
    location @uncounted {
        return 418 "denied\n";
    }
    location = /metrics {
        magic_token_status;
    }
--- request eval
["GET /a/x", "GET /a/x", "GET /quiet/x", "GET /metrics"]
--- more_headers eval
[map { main::auth($_) } $::tok{ok}, $::tok{expired}, undef, undef]
--- error_code eval
[200, 418, 418, 200]
--- response_body_filters eval
\&main::counted
--- response_body eval
["", "", "", <<'EOF']
magic_token_requests_allowed_total{zone="m",label="api"} 1
magic_token_requests_refused_total{zone="m",label="denied",reason="expired"} 1
EOF
--- no_error_log
[error]
[alert]
