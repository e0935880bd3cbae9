# DPoP replay stores with several workers (plain Test::More, its own
# nginx; docs/directives.md#magic_token_dpop): a proof accepted by one
# worker is refused by another when the location names a zone; a store
# per worker only sees its own requests (the documented weakness); the
# zone's seen proofs survive a reload.  Proofs by npm "dpop" (panva)
# when t/tools/interop/node_modules/dpop is there (make interop-deps),
# otherwise by PyJWT (t/tools/dpop_proof.py).
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
my $cli    = "$root/build/magic-token";
my $dpop   = "$root/t/tools/dpop_proof.py";
my $npm    = "$root/t/tools/interop";
my $port   = ($ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
              || 1984) + 12;

plan skip_all => "no module at $module" unless -f $module;
plan skip_all => "no CLI at $cli" unless -x $cli;

my $prefix = tempdir(CLEANUP => 1);
make_path("$prefix/conf", "$prefix/logs");

sub out {
    my @cmd = @_;
    open(my $fh, '-|', @cmd) or die "$cmd[0]: $!";
    my $o = do { local $/; <$fh> } // '';
    close $fh;
    die "@cmd[0..1]: exit " . ($? >> 8) . "\n" if $?;
    chomp $o;
    return $o;
}

out($cli, 'keygen', '--out', "$prefix/conf/proxy");
out($cli, 'keygen', '--type', 'ec', '--out', "$prefix/conf/holder");

my $have_npm = -d "$npm/node_modules/dpop"
               && system('node --version >/dev/null 2>&1') == 0;
diag($have_npm ? 'proofs by npm dpop'
               : 'no npm dpop (make interop-deps): proofs by PyJWT');

# a bound token for the holder key, and fresh proofs by it
my ($jkt, $keyfile);
if ($have_npm) {
    $keyfile = "$prefix/conf/npm-es256.json";
    $jkt = out('node', "$npm/dpop_npm.mjs", 'keygen', 'ES256', $keyfile);
} else {
    $keyfile = "$prefix/conf/holder/private.pem";
    $jkt = out($python, $dpop, 'jkt', $keyfile);
}

open(my $cf, '>', "$prefix/conf/cred") or die $!;
print $cf 'cred-w';
close $cf;
my $token = out($cli, 'mint', '--key', "$prefix/conf/proxy/private.pem",
                '--credential-file', "$prefix/conf/cred", '--allowed',
                'GET /.*', '--jkt', $jkt);

sub proof {
    my ($path) = @_;
    my $htu = "http://127.0.0.1:$port$path";
    return $have_npm
        ? out('node', "$npm/dpop_npm.mjs", 'proof', $keyfile, $htu, 'GET',
              $token)
        : out($python, $dpop, 'proof', $keyfile, '--htu', $htu, '--token',
              $token);
}

{
    my $head = standalone_head($prefix);
    $head =~ s/worker_processes 1;/worker_processes 2;/;
    open my $fh, '>', "$prefix/conf/nginx.conf" or die $!;
    print $fh <<"_EOC_";
$head
    magic_token_zone dz:1m;
    magic_token_zone small:32k;
    server {
        listen 127.0.0.1:$port reuseport;
        magic_token_key proxy/private.pem;
        add_header X-Pid \$pid always;
        add_header X-Error \$magic_token_error always;
        location /z/ {
            magic_token on;
            magic_token_dpop on zone=dz;
            proxy_pass http://127.0.0.1:@{[$port + 1]};
        }
        location /f/ {
            magic_token on;
            magic_token_dpop on zone=small;
            proxy_pass http://127.0.0.1:@{[$port + 1]};
        }
        location /w/ {
            magic_token on;
            proxy_pass http://127.0.0.1:@{[$port + 1]};
        }
    }
    server {
        listen 127.0.0.1:@{[$port + 1]};
        location / { return 200 "ok\\n"; }
    }
}
_EOC_
    close $fh;
}

# (status, pid, error) of one request on a new connection
sub get {
    my ($path, $proof, $tok) = @_;
    $tok //= $token;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5) or return ('none', 0, '');
    print $s "GET $path HTTP/1.0\r\nHost: 127.0.0.1:$port\r\n"
             . "Authorization: DPoP $tok\r\nDPoP: $proof\r\n\r\n";
    local $/;
    my $r = <$s> // '';
    my ($st) = $r =~ m{^HTTP/1\.\d (\d+)};
    my ($pid) = $r =~ m{^X-Pid: (\d+)}mi;
    my ($err) = $r =~ m{^X-Error: (\S*)}mi;
    return ($st // 'none', $pid // 0, $err // '');
}

# the replay, on new connections until another worker answers
sub replay_elsewhere {
    my ($path, $proof, $first) = @_;
    my @seen;
    for (1 .. 60) {
        my @r = get($path, $proof);
        push @seen, \@r;
        return (\@seen, \@r) if $r[1] && $r[1] != $first;
    }
    return (\@seen, undef);
}

sub nginx { system($nginx, '-p', "$prefix/", '-c', 'conf/nginx.conf',
                   '-e', 'logs/error.log', @_) }

sub stop_nginx {
    open my $pf, '<', "$prefix/logs/nginx.pid" or return;
    my $pid = <$pf>;
    close $pf;
    chomp $pid;
    return unless $pid;
    kill 'QUIT', $pid;
    for (1 .. 50) {
        last unless kill 0, $pid;
        select undef, undef, undef, 0.1;
    }
    kill 'KILL', $pid if kill 0, $pid;
}

is(nginx(), 0, 'nginx starts with two workers');
END { stop_nginx() }

for (1 .. 50) {
    last if (get('/w/ready', 'x'))[0] ne 'none';
    select undef, undef, undef, 0.1;
}

{
    my $p = proof('/z/x');
    my ($st, $pid) = get('/z/x', $p);
    is($st, 200, 'zone: a fresh proof is accepted');

    my ($seen, $other) = replay_elsewhere('/z/x', $p, $pid);
    is(scalar(grep { $_->[0] ne '401' } @$seen), 0,
       'zone: every replay is refused');
    SKIP: {
        skip 'no request reached the other worker', 1 unless $other;
        is("$other->[0] $other->[2]", '401 dpop_replay',
           'zone: the other worker refuses the replay');
    }
}

{
    my $p = proof('/w/x');
    my ($st, $pid) = get('/w/x', $p);
    is($st, 200, 'per worker: a fresh proof is accepted');

    my ($seen, $other) = replay_elsewhere('/w/x', $p, $pid);
    is(scalar(grep { $_->[1] == $pid && $_->[0] ne '401' } @$seen), 0,
       'per worker: the same worker refuses the replay');
    SKIP: {
        skip 'no request reached the other worker', 1 unless $other;
        is($other->[0], 200,
           'per worker: another worker does not know it (documented: use '
           . 'a zone)');
    }
}

{
    my $p = proof('/z/reload');
    is((get('/z/reload', $p))[0], 200, 'zone: a proof before a reload');
    is(nginx('-s', 'reload'), 0, 'reload');

    # asked again and again while the old workers go and the new come
    my $ok = 0;
    for (1 .. 50) {
        my @r = get('/z/reload', $p);
        $ok++ if $r[0] eq '401' && $r[2] eq 'dpop_replay';
        last if $ok >= 5;
        select undef, undef, undef, 0.1;
    }
    is($ok, 5, 'zone: the proof is still refused after the reload');
}

{
    # a full store refuses proofs rather than forget them, and says so
    # once; what it holds is still refused as replays
    my $pem = "$prefix/conf/holder/private.pem";
    my $tok = out($cli, 'mint', '--key', "$prefix/conf/proxy/private.pem",
                  '--credential-file', "$prefix/conf/cred", '--allowed',
                  'GET /.*', '--dpop-key', $pem);
    my @p = split /\n/, out($python, $dpop, 'proof', $pem, '--htu',
                            "http://127.0.0.1:$port/f/x", '--token', $tok,
                            '--count', 1500);
    my ($n, @r) = (0);
    my $p0 = $p[0];
    while (@p) {
        @r = get('/f/x', shift @p, $tok);
        last if $r[0] ne '200';
        $n++;
    }
    diag("the 32k zone held $n proofs");
    is("$r[0] $r[2]", '401 invalid_dpop_proof',
       'full: a new proof is refused');
    is((get('/f/x', shift @p, $tok))[0], 401, 'full: and the next one');

    is(join(' ', (get('/f/x', $p0, $tok))[0, 2]), '401 dpop_replay',
       'full: a proof it holds is still a replay');
    open my $lf, '<', "$prefix/logs/error.log" or die $!;
    my $full = grep { /magic_token_zone "small" is full/ } <$lf>;
    close $lf;
    is($full, 1, 'full: said once in the log');
    ok($n > 50, 'full: the zone held proofs before');
}

done_testing();
