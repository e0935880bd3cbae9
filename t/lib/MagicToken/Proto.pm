package MagicToken::Proto;

# Helpers for the protocol suites (t/070-http2.t, t/071-websocket.t): plain
# Test::More files that run their own nginx (daemon, one worker) under a temp
# prefix, with real clients (curl, a hand-written RFC 6455 client) and real
# upstreams on loopback.  They do not use Test::Nginx, so they run the same
# under the project's runner and under the real Test::Nginx.

use strict;
use warnings;

use Cwd qw(abs_path);
use Exporter 'import';
use File::Basename qw(dirname);
use File::Path qw(make_path);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep);

use MagicToken::Standalone;

our @EXPORT = qw(proto_root nginx_bin module_so python_bin base_port
                 keygen mint_token nginx_version nginx_at_least nginx_has
                 h2_listen start_nginx stop_nginx run_capture slurp spew
                 wait_port);

my $ROOT = abs_path(dirname(abs_path(__FILE__)) . '/../../..');

sub proto_root { $ROOT }
sub nginx_bin  { $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx' }
sub module_so  { $ENV{MAGIC_TOKEN_MODULE} || "$ROOT/build/ngx_http_magic_token_module.so" }
sub python_bin { $ENV{PYTHON} || (-x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3') }
sub base_port  { $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984 }

sub slurp {
    my ($f) = @_;
    open my $in, '<', $f or return '';
    local $/;
    my $s = <$in>;
    return $s // '';
}

sub spew {
    my ($f, $s) = @_;
    open my $out, '>', $f or die "$f: $!";
    print $out $s;
    close $out or die "$f: $!";
}

# run a command (list form: no shell) -> (exit status, stdout, stderr)
sub run_capture {
    my (@cmd) = @_;
    my $err = "/tmp/mt-proto-err.$$." . int(rand(1e9));
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>', $err or die "$err: $!";
        exec(@cmd) or die "exec $cmd[0]: $!";
    }
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    my $rc = $? >> 8;
    my $stderr = slurp($err);
    unlink $err;
    return ($rc, $out, $stderr);
}

sub keygen {
    my ($dir) = @_;
    my ($rc, undef, $err) = run_capture(python_bin(), "$ROOT/t/tools/mtmint.py", 'keygen', $dir);
    die "keygen $dir failed: $err" if $rc;
}

# mint_token($keydir, $credential, allowed => [...], claims => {NAME => JSON}, jti => ..)
# The credential goes through a file, never argv.
my $seq = 0;
sub mint_token {
    my ($keydir, $cred, %o) = @_;
    my @args = (python_bin(), "$ROOT/t/tools/mtmint.py", 'mint',
                '--key', "$keydir/private.pem");
    my $cf;
    if (defined $cred) {
        $cf = "$keydir/cred.$$." . ++$seq;
        spew($cf, $cred);
        push @args, '--credential-file', $cf;
    } else {
        push @args, '--no-credential';
    }
    push @args, map { ('--allowed', $_) } @{ $o{allowed} || [] };
    push @args, '--jti', $o{jti} if defined $o{jti};
    push @args, '--claim', "$_=$o{claims}{$_}" for sort keys %{ $o{claims} || {} };
    my ($rc, $out, $err) = run_capture(@args);
    unlink $cf if defined $cf;
    die "mint failed: $err" if $rc;
    $out =~ s/\s+\z//;
    return $out;
}

# nginx -v / -V
my ($VERSION, $CONFIGURE);
sub _nginx_info {
    return if defined $VERSION;
    my (undef, $out, $err) = run_capture(nginx_bin(), '-V');
    my $all = $out . $err;
    ($VERSION) = $all =~ m{nginx/(\d+\.\d+\.\d+)};
    $VERSION //= '0.0.0';
    ($CONFIGURE) = $all =~ /^configure arguments:(.*)$/m;
    $CONFIGURE //= '';
}
sub nginx_version { _nginx_info(); $VERSION }
sub nginx_at_least {
    my ($want) = @_;
    my @have = split /\./, nginx_version();
    my @want = split /\./, $want;
    for my $i (0 .. 2) {
        return 1 if ($have[$i] // 0) > ($want[$i] // 0);
        return 0 if ($have[$i] // 0) < ($want[$i] // 0);
    }
    return 1;
}
sub nginx_has { my ($flag) = @_; _nginx_info(); index($CONFIGURE, $flag) >= 0 }

# The listen line of an HTTP/2 server: nginx < 1.25.1 takes "http2" as a
# listen parameter; newer nginx has the "http2 on;" directive (and warns
# about the parameter).
sub h2_listen {
    my ($addr, $ssl) = @_;
    my $s = $ssl ? ' ssl' : '';
    return nginx_at_least('1.25.1') ? "listen $addr$s;\n        http2 on;"
                                    : "listen $addr$s http2;";
}

# wait until something accepts on 127.0.0.1:$port
sub wait_port {
    my ($port) = @_;
    require IO::Socket::INET;
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 1);
        if ($s) { close $s; return 1 }
        sleep 0.05;
    }
    return 0;
}

# the pid nginx wrote, or 0
sub _pid {
    my ($prefix) = @_;
    my $p = slurp("$prefix/logs/nginx.pid");
    return $p =~ /^(\d+)/ ? $1 : 0;
}

# gone, or a zombie waiting for a slow init to reap it: either way it has
# exited and its ports are closed
sub _alive {
    my ($pid) = @_;
    return 0 unless kill 0, $pid;
    my $stat = slurp("/proc/$pid/stat");
    return 0 if $stat =~ /^\d+ \(.*\) [ZX] /s;
    return 1;
}

sub start_nginx {
    my ($prefix) = @_;
    my ($rc, $out, $err) = run_capture(nginx_bin(), '-p', "$prefix/", '-c', 'conf/nginx.conf',
                                       '-e', 'logs/error.log');
    return ($rc, $out . $err);
}

sub stop_nginx {
    my ($prefix) = @_;
    my $pid = _pid($prefix) or return;
    kill 'QUIT', $pid;
    for (1 .. 100) {
        last unless _alive($pid);
        waitpid($pid, WNOHANG);
        sleep 0.05;
    }
    kill 'KILL', $pid if _alive($pid);
}

1;
