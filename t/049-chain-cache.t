# magic_token_cache and chains (docs/attenuation.md): the same chain
# again is a hit ($magic_token_cache_status HIT) on which every link's
# check still runs (scopes, methods, aud, times); a new chain on a cached
# root or prefix verifies its new links only, and is refused when they
# are forged or spliced; a root or an open prefix is still refused
# alone; revoking the root refuses its cached chains; without the cache
# nothing changes.  Plain Test::More: the flow is a sequence of requests
# to one worker, whose cache carries state from one to the next.

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
my $cli    = $ENV{MAGIC_TOKEN_CLI} || "$root/build/magic-token";
my $python = $ENV{PYTHON} || '/usr/bin/python3';
my $mint   = "$root/t/tools/mtmint.py";
my $port   = ($ENV{TEST_NGINX_PORT} || $ENV{TEST_NGINX_SERVER_PORT} || 1984)
             + 24;

plan skip_all => "no module at $module" unless -f $module;
plan skip_all => "no CLI at $cli" unless -x $cli;

my $prefix = tempdir(CLEANUP => 1);
chmod 0755, $prefix;
make_path("$prefix/conf", "$prefix/logs");

sub run {
    my $pid = open(my $fh, '-|') // die "fork: $!";
    exec(@_) or die "exec: $!" if $pid == 0;
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    die "$_[0] $_[1]: exit " . ($? >> 8) . "\n" if $?;
    chomp $out;
    return $out;
}

run($python, $mint, 'keygen', "$prefix/conf/k");
run($cli, 'keygen', '--type', 'ec', '--out', "$prefix/h1");
run($cli, 'keygen', '--type', 'ed25519', '--out', "$prefix/h2");
run($cli, 'keygen', '--type', 'ec', '--out', "$prefix/h3");
run($cli, 'revoke', "$prefix/revoked", 'init');
chmod 0666, "$prefix/revoked";

open(my $cf, '>', "$prefix/cred") or die "$prefix/cred: $!";
print $cf 'cred-chain';
close $cf;

sub root {
    return run($cli, 'mint', '--key', "$prefix/conf/k/private.pem",
               '--credential-file', "$prefix/cred",
               '--allowed', 'GET /(a|aud|aud2|nc|tiny|z)/.*', '--allowed', 'POST /a/.*',
               '--holder-key', "$prefix/h1/public.pem", @_);
}

sub att {
    my ($chain, $h, @o) = @_;
    return run($cli, 'attenuate', '--key', "$prefix/$h/private.pem", @o,
               $chain);
}

my $admin = run($python, $mint, 'mint', '--key',
                "$prefix/conf/k/private.pem", '--no-credential',
                '--allowed', 'GET /x', '--claim', 'admin=true');

my %c;
$c{root} = root('--jti', 'root-1');
$c{l1} = att($c{root}, 'h1', '--method', 'GET',
             '--next-key', "$prefix/h2/public.pem");
$c{l2} = att($c{l1}, 'h2', '--next-key', "$prefix/h3/public.pem");
$c{c3} = att($c{l2}, 'h3', '--allowed', 'GET /a/issues/\d+');
$c{new} = att($c{l2}, 'h3', '--allowed', 'GET /a/x');
$c{any} = att($c{l2}, 'h3');
$c{any2} = att($c{l2}, 'h3', '--jti', 'another');
$c{new_past} = att($c{l2}, 'h3', '--exp', time - 100);
$c{on_root} = att($c{root}, 'h1', '--allowed', 'GET /a/r');
$c{aud} = att(root('--jti', 'root-3', '--aud', 'ci', '--aud', 'deploy'), 'h1',
              '--aud', 'deploy');
$c{nc} = att($c{root}, 'h1', '--allowed', 'GET /nc/.*');
# bound to h2's key by its last link (cnf.jkt): a proof on every request
$c{bound} = att($c{root}, 'h1', '--dpop-key', "$prefix/h2/public.pem");
{
    # the last link's signature, a character in its middle
    my $t = $c{new};
    my $i = length($t) - 20;
    substr($t, $i, 1) = substr($t, $i, 1) eq 'A' ? 'B' : 'A';
    $c{forged} = $t;

    # a link of another chain over the same keys, onto l1
    my $other = att(att(root('--jti', 'root-2'), 'h1',
                        '--next-key', "$prefix/h2/public.pem"), 'h2');
    $c{spliced} = $c{l1} . '~' . (split /~/, $other)[2];
    # c3's last link after l1: its prev names l2
    $c{skipped} = $c{l1} . '~' . (split /~/, $c{c3})[3];
}

my $head = standalone_head($prefix);
$head =~ s/error_log logs\/error.log info;/error_log logs\/error.log debug;/;

open(my $fh, '>', "$prefix/conf/nginx.conf") or die $!;
print $fh <<"EOF";
$head
    magic_token_zone mt:1m revocations=$prefix/revoked;
    magic_token_key k/private.pem;
    magic_token_revocation zone=mt;
    server {
        listen 127.0.0.1:$port;
        add_header X-Err \$magic_token_error always;
        add_header X-Cache \$magic_token_cache_status always;
        # one cache for the locations of the server
        magic_token_cache size=100;
        location /a/ {
            magic_token on;
            proxy_set_header X-Cred \$magic_token_credential;
            proxy_pass http://127.0.0.1:@{[$port + 1]};
        }
        location /aud/ {
            magic_token on;
            magic_token_audience deploy;
            proxy_pass http://127.0.0.1:@{[$port + 1]};
        }
        location /aud2/ {
            magic_token on;
            magic_token_audience ci;
            proxy_pass http://127.0.0.1:@{[$port + 1]};
        }
        # two entries: every chain evicts the elements others refer to
        location /tiny/ {
            magic_token on;
            magic_token_cache size=2;
            proxy_pass http://127.0.0.1:@{[$port + 1]};
        }
        # the shared level: chains stay in the worker's part
        location /z/ {
            magic_token on;
            magic_token_cache zone=mt size=100;
            proxy_pass http://127.0.0.1:@{[$port + 1]};
        }
        location /nc/ {
            magic_token on;
            magic_token_cache off;
            proxy_set_header X-Cred \$magic_token_credential;
            proxy_pass http://127.0.0.1:@{[$port + 1]};
        }
        location = /admin {
            magic_token_admin zone=mt;
        }
    }
    server {
        listen 127.0.0.1:@{[$port + 1]};
        location / { return 200 "ok [\$http_x_cred]\\n"; }
    }
}
EOF
close $fh;

sub nginx { system($nginx, '-p', "$prefix/", '-c', 'conf/nginx.conf',
                   '-e', 'logs/error.log', @_) }

sub stop_nginx {
    open(my $p, '<', "$prefix/logs/nginx.pid") or return;
    my $pid = <$p>;
    close $p;
    chomp $pid;
    kill 'QUIT', $pid;
    for (1 .. 50) {
        last unless kill 0, $pid;
        select undef, undef, undef, 0.1;
    }
    kill 'KILL', $pid if kill 0, $pid;
}

sub proof {
    my ($path) = @_;
    return run($python, "$root/t/tools/dpop_proof.py", 'proof',
               "$prefix/h2/private.pem", '--htu', "http://localhost$path",
               '--token', $c{bound});
}

# (status, X-Err, X-Cache, body); a DPoP proof after the body
sub req {
    my ($method, $path, $token, $body, $proof) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5) or return (0, "$!", '', '');
    my $r = "$method $path HTTP/1.0\r\nHost: localhost\r\n";
    if (defined $proof) {
        $r .= "Authorization: DPoP $token\r\n";
        $r .= "DPoP: $proof\r\n" if length $proof;
    } elsif (defined $token) {
        $r .= "Authorization: Bearer $token\r\n";
    }
    $r .= "Content-Length: " . length($body) . "\r\n" if defined $body;
    print $s "$r\r\n" . ($body // '');
    local $/;
    my $resp = <$s> // '';
    my ($h, $b) = split /\r\n\r\n/, $resp, 2;
    my ($st) = ($h // '') =~ m{^HTTP/1\.\d (\d+)};
    my ($err) = ($h // '') =~ /^X-Err: (.*?)\r?$/mi;
    my ($cache) = ($h // '') =~ /^X-Cache: (.*?)\r?$/mi;
    return ($st // 0, $err // '', $cache // '', $b // '');
}

sub log_size { -s "$prefix/logs/error.log" // 0 }

# the error log written since offset
sub log_since {
    my ($off) = @_;
    open(my $l, '<', "$prefix/logs/error.log") or return '';
    seek($l, $off, 0);
    local $/;
    return <$l> // '';
}

is(nginx(), 0, 'nginx starts');
END { stop_nginx() }
for (1 .. 50) {
    last if IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port");
    select undef, undef, undef, 0.1;
}

my @r;

# ---- the same chain twice: a hit, every link still checked ----

@r = req('GET', '/a/issues/1', $c{c3});
is_deeply([@r[0, 2]], [200, 'MISS'], 'a chain of 3 links: a miss');
is($r[3], "ok [cred-chain]\n", 'the root\'s credential goes upstream');

@r = req('GET', '/a/issues/1', $c{c3});
is_deeply([@r[0, 2]], [200, 'HIT'], 'the same chain again: a hit');
is($r[3], "ok [cred-chain]\n", 'with the credential');

@r = req('GET', '/a/pulls', $c{c3});
is_deeply([@r[0, 1, 2]], [403, 'scope_denied', 'HIT'],
          'on a hit, the last link\'s allowed still applies');

@r = req('POST', '/a/issues/1', $c{c3}, 'x');
is_deeply([@r[0, 1, 2]], [403, 'scope_denied', 'HIT'],
          'on a hit, the first link\'s methods still apply');

# ---- the 8th hit JIT-compiles every element's rules: same decisions ----

my $joff = log_size();
req('GET', '/a/issues/1', $c{c3}) for 1 .. 8;
like(log_since($joff), qr/magic_token cache jit: \d+ rules/,
     'a chain used again and again: its rules get JIT');
@r = req('GET', '/a/issues/2', $c{c3});
is_deeply([@r[0, 2]], [200, 'HIT'], 'after JIT: allowed as before');
@r = req('GET', '/a/pulls', $c{c3});
is_deeply([@r[0, 1, 2]], [403, 'scope_denied', 'HIT'],
          'after JIT: the last link\'s allowed still applies');
@r = req('POST', '/a/issues/1', $c{c3}, 'x');
is_deeply([@r[0, 1, 2]], [403, 'scope_denied', 'HIT'],
          'after JIT: the first link\'s methods still apply');

# ---- a prefix of a cached chain is not the chain ----

for my $k (qw(l2 l1)) {
    @r = req('GET', '/a/issues/1', $c{$k});
    is_deeply([@r[0, 1]], [401, 'invalid_claims'],
              "$k, an open prefix of the cached chain, is refused");
}

@r = req('GET', '/a/issues/1', $c{root});
is_deeply([@r[0, 1]], [401, 'invalid_claims'],
          'the root alone, cached for its chains, is refused');
isnt($r[2], 'HIT', 'and is no hit');
@r = req('GET', '/nc/issues/1', $c{root});
is_deeply([@r[0, 1]], [401, 'invalid_claims'],
          'as it is without the cache');

# ---- new links on a cached prefix ----

my $off = log_size();
@r = req('GET', '/a/x', $c{new});
is_deeply([@r[0, 2]], [200, 'MISS'], 'a new last link on a cached prefix');
like(log_since($off), qr/magic_token cache prefix of 3 elements of 4/,
     'verified from the cached prefix (root, l1, l2)');

@r = req('GET', '/a/issues/1', $c{new});
is_deeply([@r[0, 1, 2]], [403, 'scope_denied', 'HIT'],
          'its own restriction applies, and it is cached now');

@r = req('POST', '/a/x', $c{new}, 'x');
is_deeply([@r[0, 1]], [403, 'scope_denied'],
          'and the cached links\' (methods)');

$off = log_size();
@r = req('GET', '/a/r', $c{on_root});
is_deeply([@r[0, 2]], [200, 'MISS'], 'a new link on the cached root');
like(log_since($off), qr/magic_token cache prefix of 1 elements of 2/,
     'verified from the cached root');

@r = req('GET', '/a/x', $c{forged});
is($r[0], 401, 'a forged new link on a cached prefix is refused');
isnt($r[2], 'HIT', 'no hit');

@r = req('GET', '/a/issues/1', $c{spliced});
is($r[0], 401, 'a link of another chain spliced onto a cached prefix');

@r = req('GET', '/a/issues/1', $c{skipped});
is($r[0], 401, 'a cached chain\'s link after a shorter prefix');

@r = req('GET', '/a/x', $c{new_past});
is_deeply([@r[0, 1]], [401, 'expired'],
          'an expired new link on a cached prefix');

# ---- aud of a link, on a hit ----

@r = req('GET', '/aud/x', $c{aud});
is($r[0], 200, 'a link with aud deploy where deploy is accepted');
@r = req('GET', '/aud/x', $c{aud});
is_deeply([@r[0, 2]], [200, 'HIT'], 'again: a hit');
@r = req('GET', '/aud2/x', $c{aud});
is_deeply([@r[0, 1, 2]], [401, 'invalid_audience', 'HIT'],
          'the cached chain where its root\'s aud but not its link\'s is '
          . 'accepted: refused');

# ---- a middle link that expires between requests ----

# minted now: its 2 s start here
$c{mid} = att(att($c{root}, 'h1', '--exp', time + 2,
                  '--next-key', "$prefix/h2/public.pem"), 'h2');
@r = req('GET', '/a/x', $c{mid});
is($r[0], 200, 'a chain whose middle link expires in 2 s');
@r = req('GET', '/a/x', $c{mid});
is_deeply([@r[0, 2]], [200, 'HIT'], 'a hit while it is valid');
for (1 .. 40) {
    @r = req('GET', '/a/x', $c{mid});
    last if $r[0] != 200;
    select undef, undef, undef, 0.1;
}
is_deeply([@r[0, 1]], [401, 'expired'],
          'refused once the middle link has expired');

# ---- a chain bound to a key: a hit still needs a fresh proof ----

{
    my @p = map { proof('/a/x') } 1 .. 2;
    @r = req('GET', '/a/x', $c{bound}, undef, $p[0]);
    is_deeply([@r[0, 2]], [200, 'MISS'], 'a bound chain with its proof');
    @r = req('GET', '/a/x', $c{bound}, undef, $p[1]);
    is_deeply([@r[0, 2]], [200, 'HIT'], 'again, a new proof: a hit');
    @r = req('GET', '/a/x', $c{bound}, undef, $p[1]);
    is_deeply([@r[0, 1, 2]], [401, 'dpop_replay', 'HIT'],
              'a hit with a proof seen before is refused');
    @r = req('GET', '/a/x', $c{bound}, undef, '');
    is_deeply([@r[0, 1, 2]], [401, 'dpop_required', 'HIT'],
              'a hit without a proof is refused');
}

# ---- a cache smaller than a chain; the shared level ----

for my $k (qw(any any2 any any2 on_root)) {
    @r = req('GET', '/tiny/x', $c{$k});
    is($r[0], $k eq 'on_root' ? 403 : 200,
       "size=2: $k (elements evicted while longer chains hold them)");
}
@r = req('GET', '/tiny/x', $c{any2});
is_deeply([@r[0, 2]], [200, 'HIT'], 'size=2: the last chain stored is a hit');

@r = req('GET', '/z/x', $c{any});
is_deeply([@r[0, 2]], [200, 'MISS'], 'zone=: a chain is a miss first');
@r = req('GET', '/z/x', $c{any});
is_deeply([@r[0, 2]], [200, 'HIT'], 'then a hit of the worker\'s part');
@r = req('GET', '/z/x', $c{root});
is_deeply([@r[0, 1]], [401, 'invalid_claims'],
          'zone=: the root alone still refused');

# ---- without the cache: as before ----

@r = req('GET', '/nc/x', $c{c3});
is_deeply([@r[0, 1, 2]], [403, 'scope_denied', ''],
          'cache off: the links apply, no cache status');
for (1 .. 2) {
    @r = req('GET', '/nc/x', $c{nc});
    is_deeply([@r[0, 2, 3]], [200, '', "ok [cred-chain]\n"],
              'cache off: allowed, verified each time');
}

# ---- revoking the root refuses its cached chains ----

@r = req('GET', '/a/issues/1', $c{c3});
is_deeply([@r[0, 2]], [200, 'HIT'], 'before the revocation: a hit');
{
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5) or die "$!";
    my $body = '{"id":"root-1","until":' . (time + 3600) . '}';
    print $s "POST /admin HTTP/1.0\r\nHost: localhost\r\n"
             . "Authorization: Bearer $admin\r\n"
             . "Content-Length: " . length($body) . "\r\n\r\n$body";
    local $/;
    like(<$s> // '', qr{^HTTP/1\.\d 200}, 'the root is revoked');
}
@r = req('GET', '/a/issues/1', $c{c3});
is_deeply([@r[0, 1, 2]], [401, 'revoked', 'HIT'],
          'a cached chain of a revoked root is refused');
@r = req('GET', '/a/x', $c{new});
is_deeply([@r[0, 1]], [401, 'revoked'], 'every one of its chains');

unlike(log_since(0), qr/\[(alert|emerg|crit)\]/, 'no alert in the log');

done_testing();
