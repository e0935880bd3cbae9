# magic_token_cache zone=: the shared level of the cache, with a real
# master and two workers.  A token verified in one worker is a SHARED hit
# in the other ($magic_token_cache_status and $pid in the response);
# other verification settings never hit; the entries survive a reload
# that keeps the keys and are not used once the keys change; a small zone
# evicts (and says "full" once); expired tokens are refused on a hit.
# Plain Test::More: Test::Nginx restarts nginx per block.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use MagicToken::Standalone;

my $root   = abs_path(dirname(__FILE__) . '/..');
my $nginx  = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $module = $ENV{MAGIC_TOKEN_MODULE}
             || "$root/build/ngx_http_magic_token_module.so";
my $python = $ENV{PYTHON} || '/usr/bin/python3';
my $mint   = "$root/t/tools/mtmint.py";
my $port   = ($ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984)
             + 20;

plan skip_all => "no module at $module" unless -f $module;

my $prefix = tempdir(CLEANUP => 1);
# the workers (another user when run as root) write the revocations file
chmod 0755, $prefix;
make_path("$prefix/conf/keys", "$prefix/logs", "$prefix/tmp");

for my $k (qw(a b c)) {
    system($python, $mint, 'keygen', "$prefix/conf/keys/$k") == 0
        or BAIL_OUT("keygen failed");
}

system("$root/build/magic-token", 'revoke', "$prefix/revoked", 'init') == 0
    or BAIL_OUT("magic-token revoke init failed");

my $n = 0;

sub mint_with {
    my ($key, @args) = @_;
    $n++;
    my $tok = `printf 'cred-$key-$n' | $python $mint mint --key $prefix/conf/keys/$key/private.pem --allowed 'GET /(up|other|small)/.*' --claim sub='"user-$n"' @args`;
    chomp $tok;
    return $tok;
}

# the keys of /up/; /other/ has keys a and b, /small/ key a
sub write_conf {
    my ($up_keys, $extra) = @_;
    $extra //= '';
    my $up = $port + 1;
    open my $fh, '>', "$prefix/conf/nginx.conf" or die $!;
    my $head = standalone_head($prefix);
    $head =~ s/worker_processes 1;/worker_processes 2;/;
    print $fh <<"EOF";
$head
    magic_token_zone tokens:1m revocations=$prefix/revoked;
    magic_token_zone small:32k;
    $extra
    server {
        listen 127.0.0.1:$port reuseport;
        add_header X-Pid \$pid always;
        add_header X-Cache \$magic_token_cache_status always;
        add_header X-Error \$magic_token_error always;
        proxy_set_header X-Cred \$magic_token_credential;
        proxy_set_header X-Sub \$magic_token_claim_sub;
        proxy_set_header X-Scope \$magic_token_scope;
        proxy_set_header X-Id \$magic_token_id;
        # the credential's ciphertext: not parsed on a SHARED hit, read
        # again from the token's bytes when asked for
        proxy_set_header X-Blob \$magic_token_claim_token;

        location = /admin {
            magic_token_key keys/b/private.pem;
            magic_token_admin zone=tokens;
        }
        location /up/ {
            magic_token on;
            $up_keys
            magic_token_revocation zone=tokens;
            magic_token_cache zone=tokens;
            proxy_pass http://127.0.0.1:$up/;
        }
        location /other/ {
            magic_token on;
            magic_token_key keys/a/private.pem;
            magic_token_key keys/b/private.pem;
            magic_token_cache zone=tokens;
            proxy_pass http://127.0.0.1:$up/;
        }
        location /small/ {
            magic_token on;
            magic_token_key keys/a/private.pem;
            magic_token_cache zone=small size=1;
            proxy_pass http://127.0.0.1:$up/;
        }
    }
    server {
        listen 127.0.0.1:$up;
        location / {
            return 200 "cred=\$http_x_cred sub=\$http_x_sub scope=\$http_x_scope id=\$http_x_id blob=\$http_x_blob\\n";
        }
    }
}
EOF
    close $fh;
}

# one request on a new connection: { status, pid, cache, error, body }
sub get {
    my ($path, $token) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5)
        or return { status => "connect: $!" };
    print $s "GET $path HTTP/1.0\r\nAuthorization: Bearer $token\r\n\r\n";
    local $/;
    my $resp = <$s> // '';
    my ($head, $body) = split /\r\n\r\n/, $resp, 2;
    $head //= '';
    my %r = (status => ($head =~ m{^HTTP/1\.\d (\d+)})[0] // 'none',
             body => $body // '');
    for my $h (qw(pid cache error)) {
        $r{$h} = ($head =~ /^X-\Q$h\E: ([^\r]*)/mi)[0] // '';
    }
    return \%r;
}

sub nginx { system($nginx, '-p', "$prefix/", '-c', 'conf/nginx.conf',
                   '-e', 'logs/error.log', @_) }

sub check_conf {
    my ($conf) = @_;
    open my $fh, '>', "$prefix/conf/test.conf" or die $!;
    print $fh "@{[ standalone_head($prefix) ]}\n$conf\n}\n";
    close $fh;
    my $out = `$nginx -p $prefix/ -c conf/test.conf -e logs/test.log -t 2>&1`;
    return ($? >> 8, $out);
}

sub master_pid {
    open my $fh, '<', "$prefix/logs/nginx.pid" or return;
    my $pid = <$fh>;
    close $fh;
    chomp $pid;
    return $pid;
}

sub stop_nginx {
    my $pid = master_pid() or return;
    kill 'QUIT', $pid;
    for (1 .. 50) {
        last unless kill 0, $pid;
        select undef, undef, undef, 0.1;
    }
    kill 'KILL', $pid if kill 0, $pid;
}

# requests on new connections until one lands in a worker other than
# those in %$not: that answer
sub in_other_worker {
    my ($path, $token, $not) = @_;
    for (1 .. 300) {
        my $r = get($path, $token);
        return $r if $r->{pid} && !$not->{$r->{pid}};
        # after a reload: until the new workers accept
        select undef, undef, undef, 0.02;
    }
    return { status => 'no other worker', pid => '', cache => '' };
}

# the master's workers now
sub children {
    my $m = master_pid() or return ();
    return map { s/\s//gr } grep { /\d/ } `ps -o pid= --ppid $m`;
}

# reload; then requests until one is answered by a worker started by it
sub reload_then_get {
    my ($path, $token) = @_;
    my %old = map { $_ => 1 } children();
    return { status => 'reload failed' } if nginx('-s', 'reload') != 0;
    for (1 .. 300) {
        my $r = get($path, $token);
        return $r if $r->{pid} && !$old{$r->{pid}};
        select undef, undef, undef, 0.02;
    }
    return { status => 'no new worker', pid => '', cache => '' };
}

sub error_log {
    local (@ARGV, $/) = "$prefix/logs/error.log";
    return scalar <>;
}

# ---- nginx -t ---------------------------------------------------------------

my $loc = "server { listen 127.0.0.1:$port; location / { magic_token on; "
          . "magic_token_key keys/a/private.pem; %s } }";

for my $case (
    ['magic_token_cache zone=nowhere;', qr/unknown magic_token_zone "nowhere"/],
    ['magic_token_cache zone=;', qr/empty zone name/],
    ['magic_token_cache zone=tokens:10m;',
     qr/invalid "zone=tokens:10m": name a zone that "magic_token_zone name:size" defines/],
    ['magic_token_cache zone=tokens zone=tokens;',
     qr/invalid parameter "zone=tokens"/],
    ['magic_token_cache zone=tokens size=0;', qr/between 1 and 1000000/],
    ['magic_token_cache off zone=tokens;', qr/takes no parameters after "off"/],
    ['magic_token_cache ttl=1m;', qr/needs "off", "size=" or "zone="/])
{
    my ($rc, $out) = check_conf("magic_token_zone tokens:1m;\n"
                                . sprintf($loc, $case->[0]));
    isnt($rc, 0, "nginx -t refuses \"$case->[0]\"");
    like($out, $case->[1], "\"$case->[0]\": the message says why");
}

for my $ok ('magic_token_cache zone=tokens;',
            'magic_token_cache zone=tokens size=10 ttl=30s;')
{
    my ($rc, $out) = check_conf("magic_token_zone tokens:1m;\n"
                                . sprintf($loc, $ok));
    is($rc, 0, "nginx -t accepts \"$ok\"") or diag $out;
}

{
    # the zone defined after the location that names it
    my ($rc, $out) = check_conf(sprintf($loc, 'magic_token_cache zone=later;')
                                . "\nmagic_token_zone later:1m;");
    is($rc, 0, 'a zone defined further down') or diag $out;
}

{
    # conf-examples/shared-cache.conf passes nginx -t (this module, a test key)
    open my $in, '<', "$root/conf-examples/shared-cache.conf" or die $!;
    my $conf = do { local $/; <$in> };
    close $in;
    $conf =~ s{^load_module \S+;}{load_module $module;}m;
    $conf =~ s{keys/private\.pem}{keys/a/private.pem}g;
    $conf =~ s{127\.0\.0\.1:8080}{127.0.0.1:$port}g;
    $conf =~ s{127\.0\.0\.1:8081}{127.0.0.1:@{[$port + 1]}}g;
    open my $fh, '>', "$prefix/conf/example.conf" or die $!;
    print $fh $conf;
    close $fh;
    my $out = `$nginx -p $prefix/ -c conf/example.conf -e logs/test.log -t 2>&1`;
    is($? >> 8, 0, 'conf-examples/shared-cache.conf passes nginx -t')
        or diag $out;
}

# ---- two workers --------------------------------------------------------------

write_conf('magic_token_key keys/a/private.pem;');
is(nginx(), 0, 'nginx starts');
END { stop_nginx() }

for (1 .. 50) {
    last if children() == 2;
    select undef, undef, undef, 0.1;
}
is(scalar(children()), 2, 'two workers');

my $ta = mint_with('a');

my $first = get('/up/x', $ta);
for (1 .. 50) {
    last if $first->{status} eq '200';
    select undef, undef, undef, 0.1;
    $first = get('/up/x', $ta);
}
is($first->{status}, 200, 'a token of key a passes');
is($first->{cache}, 'MISS', 'first seen: MISS (verified in full)');
like($first->{body}, qr/^cred=cred-a-1 sub=user-1 scope=GET \/\(up\|other\|small\)\/\.\* id=[0-9a-f]{16} blob=[A-Za-z0-9+\/=]{40,}$/,
     'the upstream gets the credential and the claims');

my $shared = in_other_worker('/up/x', $ta, { $first->{pid} => 1 });
is($shared->{status}, 200, 'the other worker lets it through');
is($shared->{cache}, 'SHARED', 'the other worker: SHARED (from the zone)');
is($shared->{body}, $first->{body}, 'a shared hit: the same variables as a miss');

my $again = in_other_worker('/up/x', $ta, { $first->{pid} => 1 });
is($again->{cache}, 'HIT', 'then a hit in its own cache');
$again = in_other_worker('/up/x', $ta, { $shared->{pid} => 1 });
is($again->{cache}, 'HIT', 'and a hit in the first worker');
is($again->{body}, $first->{body}, 'the same variables on a hit');

# ---- other settings never hit --------------------------------------------------

my $other = get('/other/x', $ta);
is($other->{status}, 200, 'the token passes in /other/ (keys a and b)');
is($other->{cache}, 'MISS', 'other keys: not a hit in the zone');
$other = in_other_worker('/other/x', $ta, { $other->{pid} => 1 });
is($other->{cache}, 'SHARED', 'but a shared hit among the same settings');

my $tb = mint_with('b');
is(get('/up/x', $tb)->{status}, 401, 'a token of key b is refused in /up/');
is(get('/other/x', $tb)->{status}, 200, 'and passes in /other/');
my $r = get('/up/x', $tb);
is($r->{status}, 401, 'the zone never lets it into /up/');
is($r->{error}, 'bad_signature', 'refused by the signature check');

# ---- a changed token is not a hit -----------------------------------------------

(my $tampered = $ta) =~ s/(.)$/$1 eq 'A' ? 'B' : 'A'/e;
$r = get('/up/x', $tampered);
is($r->{status}, 401, 'a token one byte off is refused');
isnt($r->{cache}, 'SHARED', 'and is not a shared hit');

# ---- revocation applies to hits of both levels ---------------------------------

{
    my $tv = mint_with('a', '--jti', 'revoke-me');
    my $r1 = get('/up/x', $tv);
    is($r1->{cache}, 'MISS', 'a token to revoke: MISS');
    my $r2 = in_other_worker('/up/x', $tv, { $r1->{pid} => 1 });
    is($r2->{cache}, 'SHARED', 'SHARED in the other worker');

    my $admin = `$python $mint mint --key $prefix/conf/keys/b/private.pem --no-credential --claim admin=true`;
    chomp $admin;
    my $body = '{"jti": "revoke-me", "until": ' . (time() + 3600) . '}';
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 5)
        or die "connect: $!";
    print $s "POST /admin HTTP/1.0\r\nAuthorization: Bearer $admin\r\n"
             . "Content-Type: application/json\r\n"
             . "Content-Length: " . length($body) . "\r\n\r\n$body";
    my $resp = do { local $/; <$s> } // '';
    like($resp, qr{^HTTP/1\.\d 200}, 'revoked through the admin API')
        or diag $resp;

    my %refused;
    for (1 .. 200) {
        my $r = get('/up/x', $tv);
        $refused{$r->{pid}} = "$r->{status} $r->{error}";
        last if keys %refused >= 2;
    }
    is_deeply([sort values %refused], ['401 revoked', '401 revoked'],
              'refused as revoked in both workers, cached or not');
}

# ---- expiry -------------------------------------------------------------------

my $short = mint_with('a', '--ttl', 2);
$r = get('/up/x', $short);
is($r->{status}, 200, 'a token valid 2 s passes');
my %seen = ($r->{pid} => 1);
$r = in_other_worker('/up/x', $short, \%seen);
is($r->{cache}, 'SHARED', 'and is shared');

my $expired;
for (1 .. 40) {
    $r = get('/up/x', $short);
    if ($r->{status} ne '200') { $expired = $r; last }
    select undef, undef, undef, 0.2;
}
ok($expired, 'refused once expired');
is($expired->{status}, 401, 'with 401');
is($expired->{error}, 'expired', 'as expired, not a stale hit');
$r = in_other_worker('/up/x', $short, { $expired->{pid} => 1 });
is($r->{status}, 401, 'in the other worker too');

# ---- eviction -----------------------------------------------------------------

my @many = map { mint_with('a') } 1 .. 60;
my $all = 1;
for my $t (@many) {
    $all &&= get('/small/x', $t)->{status} eq '200';
}
ok($all, '60 tokens through a 32k zone: all pass');
my $log = error_log();
my @full = $log =~ /magic_token_zone "small" is full/g;
is(scalar @full, 1, 'the zone says "full" once');
$r = get('/small/x', $many[0]);
is($r->{status}, 200, 'the first token still passes');
is($r->{cache}, 'MISS', 'evicted: verified in full again');
$r = get('/small/x', $many[-1]);
isnt($r->{cache}, 'MISS', 'the last one is still cached');

# ---- reload: kept with the same keys, not used with others ---------------------

my $tr = mint_with('a');
$r = get('/up/x', $tr);
is($r->{cache}, 'MISS', 'a new token: MISS');

write_conf('magic_token_key keys/a/private.pem;');
$r = reload_then_get('/up/x', $tr);
is($r->{status}, 200, 'reload with the same keys: a new worker lets it through')
    or diag explain $r;
is($r->{cache}, 'SHARED', 'from the zone: the entries survived the reload');

write_conf('magic_token_key keys/a/private.pem; magic_token_key keys/c/private.pem;');
$r = reload_then_get('/up/x', $tr);
is($r->{status}, 200, 'reload with other keys (a and c): the token passes')
    or diag explain $r;
is($r->{cache}, 'MISS', 'but is verified in full: other keys');

# ---- hygiene ------------------------------------------------------------------

$log = error_log();
unlike($log, qr/cred-a-/, 'no credential in the error log');
unlike($log, qr/\Q$ta\E/, 'no token in the error log');
unlike($log, qr/does not open/, 'every sealed credential opened');

done_testing();
