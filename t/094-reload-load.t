# A reload under load: clients send allowed and refused requests to an
# nginx with two workers while "nginx -s reload" is sent several times.
# Every response must be the one expected (no failed request), and the
# counters of magic_token_status must then hold every request the
# clients made, by outcome: nothing lost from the zone across the
# reloads, old workers finishing their requests included.  Plain
# Test::More: Test::Nginx restarts nginx per block.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);
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

my $CLIENTS  = 3;       # processes, one request at a time each
my $DURATION = 5;       # seconds of load
my $RELOADS  = 5;
my $PAUSE    = 0.004;   # between two requests of a client

plan skip_all => "no module at $module" unless -f $module;

my $prefix = tempdir(CLEANUP => 1);
make_path("$prefix/conf/keys", "$prefix/logs");

system($python, $mint, 'keygen', "$prefix/conf/keys/k") == 0
    or BAIL_OUT("keygen failed");

sub mint_token {
    my $tok = `printf 'cred-load' | $python $mint mint --key $prefix/conf/keys/k/private.pem --allowed 'GET /up/ok'`;
    chomp $tok;
    return $tok;
}

my $good = mint_token();
my $bad = `$python $mint tamper $good --mode signature`;
chomp $bad;

# what each kind of request must get, and the reason it is counted under
my @kinds = (
    [ 'allowed',        '/up/ok', $good, 200 ],
    [ 'bad_signature',  '/up/ok', $bad,  401 ],
    [ 'scope_denied',   '/up/no', $good, 403 ],
    [ 'missing',        '/up/ok', undef, 401 ],
);

# generation $g: each reload changes the configuration a little (a label
# that comes and goes), so that every reload makes new workers with a
# configuration of their own
sub write_conf {
    my ($g) = @_;
    my $head = standalone_head($prefix);
    $head =~ s/worker_processes 1;/worker_processes 2;/;
    my $extra = $g % 2 ? "magic_token_metrics zone=z label=extra$g;" : '';
    open my $fh, '>', "$prefix/conf/nginx.conf" or die $!;
    print $fh <<"EOF";
$head
    magic_token_zone z:1m;
    server {
        listen 127.0.0.1:$port;
        location /up/ {
            magic_token on;
            magic_token_key keys/k/private.pem;
            magic_token_metrics zone=z label=load;
            proxy_set_header Authorization "Bearer \$magic_token_credential";
            proxy_pass http://127.0.0.1:@{[$port + 1]};
        }
        location /gen/ {
            $extra
            return 200 "$g\\n";
        }
        location = /metrics {
            magic_token_status;
        }
    }
    server {
        listen 127.0.0.1:@{[$port + 1]};
        location / { return 200 "up [\$http_authorization]\\n"; }
    }
}
EOF
    close $fh;
}

sub nginx { system($nginx, '-p', "$prefix/", '-c', 'conf/nginx.conf',
                   '-e', 'logs/error.log', @_) }

sub master_pid {
    open my $fh, '<', "$prefix/logs/nginx.pid" or return;
    my $pid = <$fh>;
    close $fh;
    chomp $pid if defined $pid;
    return $pid;
}

sub stop_nginx {
    my $pid = master_pid() or return;
    kill 'QUIT', $pid;
    for (1 .. 50) {
        last unless kill 0, $pid;
        sleep 0.1;
    }
    kill 'KILL', $pid if kill 0, $pid;
}

# one request on a connection of its own: (status, body)
sub get {
    my ($path, $token) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5) or return ('connect', '');
    my $auth = defined $token ? "Authorization: Bearer $token\r\n" : '';
    print $s "GET $path HTTP/1.0\r\nHost: t\r\n$auth\r\n";
    local $/;
    my $resp = <$s> // '';
    my ($status) = $resp =~ m{^HTTP/1\.\d (\d+)};
    my ($body) = $resp =~ /\r\n\r\n(.*)\z/s;
    return ($status // 'none', $body // '');
}

sub metrics {
    my ($status, $body) = get('/metrics');
    my %m;
    while ($body =~ /^magic_token_requests_(allowed|refused)_total
                     \{zone="z",label="([^"]*)"(?:,reason="([^"]*)")?\}
                     \ (\d+)$/mgx) {
        $m{$2}{$3 // $1} = $4;
    }
    return \%m;
}

write_conf(0);
is(nginx(), 0, 'nginx starts with two workers');
END { stop_nginx() }

for (1 .. 50) {
    last if (get('/gen/'))[0] eq '200';
    sleep 0.1;
}

# the clients: each writes "kind expected got" per request to its file
my @pids;
my $stop_at = time + $DURATION;
for my $c (1 .. $CLIENTS) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my (%count, %wrong);
        my $i = $c;
        while (time < $stop_at) {
            my ($kind, $path, $token, $want) = @{ $kinds[$i++ % @kinds] };
            my ($got, $body) = get($path, $token);
            $count{$kind}++;
            $wrong{"$kind: $got"}++ if $got ne $want
                || ($want == 200 && $body ne "up [Bearer cred-load]\n");
            sleep $PAUSE;
        }
        open my $fh, '>', "$prefix/client.$c" or die $!;
        print $fh "count $_ $count{$_}\n" for keys %count;
        print $fh "wrong $_|$wrong{$_}\n" for keys %wrong;
        close $fh;
        POSIX::_exit(0);    # not exit: the END block would stop nginx
    }
    push @pids, $pid;
}

# the reloads, spread over the run
for my $g (1 .. $RELOADS) {
    sleep $DURATION / ($RELOADS + 1);
    write_conf($g);
    is(nginx('-s', 'reload'), 0, "reload $g under load");
}

waitpid $_, 0 for @pids;

my (%count, %wrong);
for my $c (1 .. $CLIENTS) {
    open my $fh, '<', "$prefix/client.$c" or die "client $c: no result";
    while (<$fh>) {
        $count{$1} += $2 if /^count (\S+) (\d+)$/;
        $wrong{$1} += $2 if /^wrong (.*)\|(\d+)$/;
    }
}

my $total = 0;
$total += $_ for values %count;
cmp_ok($total, '>', 500, "the clients made $total requests");
is_deeply(\%wrong, {}, 'every response was the expected one')
    or diag(explain(\%wrong));

# the last configuration is in place once its workers answer
my $ok = 0;
for (1 .. 50) {
    $ok = 1, last if (get('/gen/'))[1] eq "$RELOADS\n";
    sleep 0.1;
}
ok($ok, "the last configuration answers") or diag(join "|", get("/gen/"));

# old workers log their last requests as they finish: poll a little
my $m;
for (1 .. 20) {
    $m = metrics();
    last if ($m->{load}{allowed} // -1) == $count{allowed}
            && ($m->{load}{bad_signature} // -1) == $count{bad_signature};
    sleep 0.1;
}

for my $k (@kinds) {
    my $kind = $k->[0];
    is($m->{load}{$kind}, $count{$kind},
       "label load, $kind: every request counted ($count{$kind})");
}

my $other = 0;
$other += $m->{load}{$_} for grep { !$count{$_} } keys %{ $m->{load} };
is($other, 0, 'no request counted under another reason');

ok(exists $m->{"extra$RELOADS"}, 'a label of the last reload is shown');
is($m->{"extra$RELOADS"}{allowed}, 0, 'and starts at zero');
ok(!exists $m->{extra1}, 'a label gone from the configuration is not shown');

my $log = do { local (@ARGV, $/) = "$prefix/logs/error.log"; <> };
my @reloads = $log =~ /\] \d+#\d+: reconfiguring$/mg;
is(scalar @reloads, $RELOADS, "the master reloaded every time")
    or diag(join "", grep { /emerg|alert|crit|signal|reconf|error/ } split /^/, $log);
unlike($log, qr/\[(alert|crit|emerg)\]/, 'no alert, crit or emerg');
unlike($log, qr/cred-load/, 'no credential in the error log');

done_testing();
