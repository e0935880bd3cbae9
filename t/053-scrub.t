# magic_token_scrub: an upstream that sends the credential back
# (t/tools/echo_upstream.py) in every form it can, raw, base64 at the 3
# alignments, percent-encoded, in headers, chunked with chunks ending
# inside it, in a large body, as server-sent events, in trailers,
# gzip'ed; the client reads the raw bytes (chunked decoded, gzip
# inflated) and never finds it.  Plain Test::More: a python upstream.
#
# Ports: TEST_NGINX_PORT (or TEST_NGINX_SERVER_PORT, or 1984) + 31 for
# nginx, + 32 for the upstream.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Socket;
use IO::Uncompress::Gunzip qw(gunzip);
use MIME::Base64 qw(encode_base64);
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
my $base   = $ENV{TEST_NGINX_PORT} || $ENV{TEST_NGINX_SERVER_PORT} || 1984;
my $port   = $base + 31;
my $up     = $base + 32;

plan skip_all => "no module at $module" unless -f $module;

my $prefix = tempdir(CLEANUP => 1);
make_path("$prefix/conf/keys", "$prefix/logs");
chmod 0755, $prefix;    # the workers write proxy temp files under it

system("$python $mint keygen $prefix/conf/keys/k >/dev/null") == 0
    or BAIL_OUT("keygen failed");

my %cred = (
    github  => 'ghp_16C7e42F292c6912E7710c838347Ae178B4a',
    special => "s3cr:t/+ key~!'()*?&=#",
);

my %tok;
for my $name (keys %cred) {
    open my $fh, '>', "$prefix/cred" or die $!;
    print $fh $cred{$name};
    close $fh;
    $tok{$name} = `$python $mint mint --key $prefix/conf/keys/k/private.pem --allow 'GET /.*' --credential-file $prefix/cred`;
    chomp $tok{$name};
    die "mint failed" unless $tok{$name} =~ /^ey/;
}
unlink "$prefix/cred";

my @pids;

sub spawn {
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        exec(@_) or die "exec: $!";
    }
    push @pids, $pid;
}

spawn($python, "$root/t/tools/echo_upstream.py", $up);

sub wait_port {
    my ($p) = @_;
    for (1 .. 40) {
        return 1 if IO::Socket::INET->new(PeerAddr => "127.0.0.1:$p",
                                          Timeout => 1);
        select undef, undef, undef, 0.05;
    }
    return 0;
}

my $proxy = <<"_EOC_";
            magic_token on;
            magic_token_key keys/k/private.pem;
            proxy_set_header Authorization "Bearer \$magic_token_credential";
            proxy_set_header Accept-Encoding "";
            proxy_http_version 1.1;
_EOC_

open my $fh, '>', "$prefix/conf/nginx.conf" or die $!;
print $fh standalone_head($prefix), <<"_EOC_";
    server {
        listen 127.0.0.1:$port;
        magic_token_scrub on;      # off by default (and in standalone_head)

        location / {
$proxy
            proxy_buffer_size 1k;
            proxy_buffers 4 1k;
            add_header X-Added "Bearer \$magic_token_credential";
            add_trailer X-Trailer "\$magic_token_credential";
            proxy_pass http://127.0.0.1:$up;
        }

        location /unbuffered/ {
$proxy
            proxy_buffer_size 1k;
            proxy_buffering off;
            proxy_pass http://127.0.0.1:$up;
        }

        location /gz/ {
$proxy
            gzip on;
            gzip_types *;
            gzip_min_length 1;
            proxy_pass http://127.0.0.1:$up;
        }

        # headers larger than 1k; the body as large as it comes
        location /large/ {
$proxy
            proxy_buffer_size 16k;
            proxy_buffers 4 16k;
            proxy_busy_buffers_size 32k;
            proxy_pass http://127.0.0.1:$up;
        }

        location /off/ {
$proxy
            magic_token_scrub off;
            proxy_pass http://127.0.0.1:$up;
        }

        location /plain/ {
            proxy_set_header Accept-Encoding "";
            proxy_pass http://127.0.0.1:$up;
        }
    }
}
_EOC_
close $fh;

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

END {
    local $?;
    stop_nginx();
    for my $pid (@pids) { kill 'TERM', $pid; waitpid($pid, 0); }
}

ok(wait_port($up), 'the echo upstream listens');
is(nginx(), 0, 'nginx starts');
ok(wait_port($port), 'nginx listens');

# the raw response: (status, head, body with chunks decoded, trailers)
sub get {
    my ($path, %h) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5) or die "connect: $!";
    my $req = "GET $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
    $req .= "$_: $h{$_}\r\n" for sort keys %h;
    print $s "$req\r\n";
    local $/;
    my $raw = <$s> // '';
    close $s;

    return parse($raw);
}

sub parse {
    my ($raw) = @_;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    $body //= '';
    my ($status) = $head =~ m{^HTTP/1\.1 (\d+)};
    my $trailers = '';

    if ($head =~ /^Transfer-Encoding: chunked/mi) {
        my $out = '';
        while ($body =~ s/^([0-9a-fA-F]+)\r\n//) {
            my $n = hex $1;
            if ($n == 0) {
                $trailers = $body;
                last;
            }
            $out .= substr($body, 0, $n, '');
            $body =~ s/^\r\n//;
        }
        $body = $out;
    }

    if ($head =~ /^Content-Encoding: gzip/mi) {
        my $plain;
        gunzip(\$body => \$plain) or die "gunzip failed";
        $body = $plain;
    }

    return ($status, $head, $body, $trailers);
}

sub pct {
    my ($s, $style) = @_;
    my $keep = $style == 3 ? qr/[A-Za-z0-9\-._~!'()*]/ : qr/[A-Za-z0-9\-._~]/;
    my $fmt = $style == 1 ? '%%%02x' : '%%%02X';
    return join '', map {
        $_ =~ $keep ? $_ : ($style == 2 && $_ eq ' ') ? '+'
                         : sprintf($fmt, ord $_)
    } split //, $s;
}

# what must never be seen: the credential, its percent forms, and the
# base64 characters it alone makes at each alignment
sub forms {
    my ($c) = @_;
    my @f = ($c, map { pct($c, $_) } 0 .. 3);
    for my $prefix ('', 'user:', 'x', 'xy') {
        my $b = encode_base64($prefix . $c, '');
        my $u = $b =~ tr{+/}{-_}r;
        push @f, $b, $u, $b =~ s/=+$//r, $u =~ s/=+$//r;
    }
    # the stable core of every alignment: drop 2 characters each side
    push @f, map { substr($_, 2, length($_) - 4) }
             grep { length($_) > 8 } @f[5 .. $#f];
    return @f;
}

sub leaks {
    my ($name, $text) = @_;
    return grep { index($text, $_) >= 0 } forms($cred{$name});
}

for my $name (sort keys %cred) {
    my $auth = "Bearer $tok{$name}";

    # the control: scrubbing off, the echo is real
    my ($st, $head, $body) = get('/off/raw', Authorization => $auth);
    is($st, 200, "$name: /off/raw 200");
    ok(index($body, $cred{$name}) >= 0,
       "$name: without scrubbing the upstream's echo reaches the client");

    for my $path ('/raw', '/forms', '/chunked', '/big', '/sse',
                  '/unbuffered/chunked', '/unbuffered/big', '/unbuffered/sse',
                  '/gz/forms', '/gz/big', '/large/headers', '/large/big',
                  '/trailers')
    {
        my %h = (Authorization => $auth);
        $h{'Accept-Encoding'} = 'gzip' if $path =~ m{^/gz/};
        my ($st, $head, $body, $trailers) = get($path, %h);
        is($st, 200, "$name: $path 200");
        my @l = leaks($name, "$head\n$body\n$trailers");
        is(scalar @l, 0, "$name: $path: the credential is not in the response")
            or diag("left: @l");
        like($head, qr/^Content-Encoding: gzip/mi,
             "$name: $path: nginx's gzip after the scrubbing")
            if $path =~ m{^/gz/};
        like($body . $head, qr/\*{8}/, "$name: $path: a marker in its place")
            unless $path =~ m{/trailers$};
    }

    # lengths kept: Content-Length and the body agree
    for my $path ('/large/big', '/unbuffered/big') {
        ($st, $head, $body) = get($path, Authorization => $auth);
        my ($cl) = $head =~ /^Content-Length: (\d+)/mi;
        is($cl, 200 * 1024, "$name: $path keeps its Content-Length");
        is(length $body, 200 * 1024, "$name: $path: and its length");
        # the upstream's placements overlap: some leave fragments only
        ok(($body =~ tr/*//) >= 5 * length $cred{$name},
           "$name: $path: markers where the credential was");
    }

    # an encoded body cannot be scanned: refused
    ($st, $head, $body) = get('/gzip', Authorization => $auth);
    is($st, 502, "$name: a gzip'ed response is refused");
    is(scalar leaks($name, "$head\n$body"), 0, "$name: and leaks nothing");

    # a range could be pieced together: refused
    ($st, $head, $body) = get('/range', Authorization => $auth,
                              Range => 'bytes=0-9');
    is($st, 502, "$name: a 206 is refused");
    ($st, $head, $body) = get('/range', Authorization => $auth);
    is($st, 200, "$name: the same without Range passes");
    is(scalar leaks($name, $body), 0, "$name: scrubbed");
}

# a slow client: the filter's buffers fill up and the upstream waits
for my $path ('/unbuffered/huge', '/huge') {
    socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
    setsockopt($s, SOL_SOCKET, SO_RCVBUF, 4096);
    connect($s, sockaddr_in($port, inet_aton('127.0.0.1')))
        or die "connect: $!";
    syswrite($s, "GET $path HTTP/1.1\r\nHost: localhost\r\n"
                 . "Connection: close\r\n"
                 . "Authorization: Bearer $tok{github}\r\n\r\n");
    select undef, undef, undef, 0.5;
    my ($raw, $buf) = ('', '');
    while (sysread($s, $buf, 65536)) { $raw .= $buf; }
    close $s;
    my ($st, $head, $body) = parse($raw);
    is(length $body, 4 << 20, "slow client, $path: every byte");
    is(scalar leaks('github', $body), 0, "slow client, $path: scrubbed");
    is($body =~ tr/*//, 41 * length $cred{github},
       "slow client, $path: 41 markers");
}

# no false positives: a response without the credential is untouched
{
    my ($st, $head, $body) = get('/clean',
                                 Authorization => "Bearer $tok{github}");
    is($st, 200, '/clean 200');
    is($body, 'nothing secret here, just text ' x 100, '/clean unchanged');

    ($st, $head, $body) = get('/plain/raw',
                              Authorization => "Bearer $cred{github}");
    ok(index($body, $cred{github}) >= 0,
       'no token, nothing released: nothing scrubbed');
}

# logged once per request, without the credential
{
    open my $lf, '<', "$prefix/logs/error.log" or die $!;
    local $/;
    my $log = <$lf>;
    close $lf;
    my @warn = $log =~ /(the upstream sent the credential back)/g;
    ok(@warn >= 2 * 13, 'the echo is logged (' . scalar(@warn) . ' times)');
    for my $name (sort keys %cred) {
        is(scalar leaks($name, $log), 0, "$name: not in the error log");
    }
    like($log, qr/cannot scrub the credential from an encoded response/,
         'the gzip refusal is logged');
    unlike($log, qr/\[(alert|crit|emerg)\]/, 'no alert in the error log');
}

done_testing();
