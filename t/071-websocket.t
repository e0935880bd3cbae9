# WebSocket through the module: a real RFC 6455 echo upstream on loopback
# (t/tools/ws_echo.py, stdlib only) behind nginx with the usual upgrade
# proxying, and a hand-written RFC 6455 client.  The upgrade request is
# checked like any request (method GET, the path), the credential replaces
# the token in the upgrade request the upstream sees, messages echo, and
# refusals (401/403) happen before any upgrade: no 101, and the upstream
# never sees the request.
#
# Ports: server port + 36 (nginx), + 37 (the echo upstream).
# Plain Test::More: runs its own nginx.

use strict;
use warnings;

use Digest::SHA qw(sha1);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64);
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use MagicToken::Standalone;
use MagicToken::Proto;

my $module = module_so();
plan skip_all => "no module at $module" unless -f $module;

my $port = base_port() + 36;
my $up   = base_port() + 37;

my $prefix = tempdir('mt-ws-XXXXXX', TMPDIR => 1, CLEANUP => 1);
make_path("$prefix/conf", "$prefix/logs", "$prefix/keys");
keygen("$prefix/keys");
my $uplog = "$prefix/logs/upstream.log";
spew($uplog, '');

# the echo upstream
my $echo_pid = fork() // die "fork: $!";
if ($echo_pid == 0) {
    open STDOUT, '>', '/dev/null';
    exec(python_bin(), proto_root() . '/t/tools/ws_echo.py', $up, $uplog)
        or die "exec ws_echo.py: $!";
}
BAIL_OUT('ws_echo.py did not start') unless wait_port($up);
# the probe connection is not a request: nothing was logged
spew($uplog, '');

spew("$prefix/conf/nginx.conf", <<"_EOC_");
@{[ standalone_head($prefix) ]}
    fastcgi_temp_path $prefix/fastcgi;
    uwsgi_temp_path $prefix/uwsgi;
    scgi_temp_path $prefix/scgi;
    magic_token_key $prefix/keys/private.pem;
    server {
        listen 127.0.0.1:$port;
        location /ws {
            magic_token on;
            add_header X-MT-Error "[\$magic_token_error]" always;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Authorization "Bearer \$magic_token_credential";
            proxy_read_timeout 30s;
            proxy_pass http://127.0.0.1:$up;
        }
    }
}
_EOC_

{
    my ($rc, $out) = start_nginx($prefix);
    BAIL_OUT("nginx does not start: $out\n" . slurp("$prefix/logs/error.log")) if $rc;
}
END {
    local $?;
    stop_nginx($prefix) if $prefix;
    if ($echo_pid) { kill 'TERM', $echo_pid; waitpid($echo_pid, 0) }
}
ok(wait_port($port), 'nginx listens');

my $K = "$prefix/keys";
my %cred = (ws => 'ghp_WsCredMain', other => 'ghp_WsCredOther', second => 'ghp_WsCredSecond',
            post => 'ghp_WsCredPost');
my %tok;
$tok{ws}     = mint_token($K, $cred{ws}, allowed => ['GET /ws']);
$tok{other}  = mint_token($K, $cred{other}, allowed => ['GET /ws/other']);
$tok{second} = mint_token($K, $cred{second}, allowed => ['GET /ws']);
$tok{post}   = mint_token($K, $cred{post}, allowed => ['POST /ws']);
($tok{bad} = $tok{ws}) =~ s/(.)$/$1 eq 'A' ? 'B' : 'A'/e;

# ---------------------------------------------------------------------------
# the client (RFC 6455)

# ws_connect($path, $token, method => 'GET') -> { status, head, headers, sock, accept_ok }
sub ws_connect {
    my ($path, $token, %o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 10)
        or return { status => 0, head => "connect: $!" };
    binmode $s;
    my $key = encode_base64(join('', map { chr int rand 256 } 1 .. 16), '');
    my $req = ($o{method} || 'GET') . " $path HTTP/1.1\r\nHost: localhost\r\n"
            . "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            . "Sec-WebSocket-Key: $key\r\nSec-WebSocket-Version: 13\r\n";
    $req .= "Authorization: Bearer $token\r\n" if defined $token;
    print {$s} "$req\r\n";
    my $head = '';
    while ($head !~ /\r\n\r\n/) {
        my $n = sysread($s, $head, 1, length $head);   # byte by byte: no frame bytes consumed
        last unless $n;
    }
    my %h;
    for (split /\r\n/, $head) { $h{lc $1} = $2 if /^([^:\s]+):\s*(.*)$/ }
    my ($status) = $head =~ m{^HTTP/1\.1 (\d+)};
    my $r = { status => $status // 0, head => $head, headers => \%h, sock => $s };
    $r->{accept_ok} = ($h{'sec-websocket-accept'} // '')
                      eq encode_base64(sha1($key . '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'), '');
    if ($r->{status} != 101) {
        # the refusal's body (the connection may stay open: keepalive)
        my $len = $h{'content-length'} // 0;
        $r->{body} = $len ? eval { read_n($s, $len) } // '' : '';
        close $s;
        delete $r->{sock};
    }
    return $r;
}

sub read_n {
    my ($s, $n) = @_;
    my $buf = '';
    my $sel = IO::Select->new($s);
    while (length $buf < $n) {
        $sel->can_read(20) or die "read timeout\n";
        my $got = sysread($s, $buf, $n - length $buf, length $buf);
        die "eof\n" unless $got;
    }
    return $buf;
}

# a masked client frame
sub ws_send {
    my ($s, $opcode, $payload) = @_;
    my $n = length $payload;
    my $head = chr(0x80 | $opcode);
    if ($n < 126)       { $head .= chr(0x80 | $n) }
    elsif ($n < 65536)  { $head .= chr(0x80 | 126) . pack('n', $n) }
    else                { $head .= chr(0x80 | 127) . pack('Q>', $n) }
    my $mask = join '', map { chr int rand 256 } 1 .. 4;
    my $masked = $payload ^ substr($mask x (int($n / 4) + 1), 0, $n);
    print {$s} $head . $mask . $masked;
}

# -> (opcode, payload); server frames are not masked
sub ws_recv {
    my ($s) = @_;
    my ($b0, $b1) = unpack('CC', read_n($s, 2));
    my $n = $b1 & 0x7f;
    $n = unpack('n', read_n($s, 2)) if $n == 126;
    $n = unpack('Q>', read_n($s, 8)) if $n == 127;
    die "masked server frame\n" if $b1 & 0x80;
    return ($b0 & 0x0f, $n ? read_n($s, $n) : '');
}

sub upstream_seen { my @l = split /\n/, slurp($uplog); scalar @l }

sub no_cred_in {
    my ($r, $what) = @_;
    my $all = ($r->{head} // '') . ($r->{body} // '');
    my @leaked = grep { index($all, $_) >= 0 } values %cred;
    ok(!@leaked, "$what: no credential in the response") or diag("@leaked");
}

# ---------------------------------------------------------------------------
# an allowed upgrade: credential upstream, messages echo, close handshake

{
    my $r = ws_connect('/ws', $tok{ws});
    is($r->{status}, 101, 'GET /ws with a token for GET /ws: 101 Switching Protocols');
    ok($r->{accept_ok}, 'Sec-WebSocket-Accept matches the key');
    SKIP: {
        skip 'no upgrade', 10 unless $r->{sock};
        my $s = $r->{sock};
        my ($op, $msg) = ws_recv($s);
        is($op, 1, 'first message is text');
        is($msg, "auth=[Bearer $cred{ws}] uri=/ws",
           'the upstream saw the credential (not the token) in the upgrade request');
        ws_send($s, 1, 'hello over nginx');
        is_deeply([ws_recv($s)], [1, 'hello over nginx'], 'a short text message echoes');
        my $mid = join '', map { chr(32 + $_ % 90) } 1 .. 300;
        ws_send($s, 1, $mid);
        is_deeply([ws_recv($s)], [1, $mid], 'a 300-byte message (16-bit length) echoes');
        my $bin = join '', map { chr($_ % 256) } 1 .. 70000;
        ws_send($s, 2, $bin);
        my ($bop, $bmsg) = ws_recv($s);
        is($bop, 2, 'binary opcode kept');
        ok($bmsg eq $bin, 'a 70000-byte binary message (64-bit length) echoes');
        # a message that looks like an HTTP request with another token is
        # just data after the upgrade
        my $fake = "GET /ws/other HTTP/1.1\r\nAuthorization: Bearer $tok{other}\r\n\r\n";
        ws_send($s, 1, $fake);
        is_deeply([ws_recv($s)], [1, $fake], 'an HTTP-looking message is echoed as data');
        ws_send($s, 9, 'ping-data');
        is_deeply([ws_recv($s)], [10, 'ping-data'], 'ping answered with pong');
        ws_send($s, 8, pack('n', 1000));
        my ($cop, $cmsg) = ws_recv($s);
        is($cop, 8, 'close frame returned');
        is(unpack('n', $cmsg), 1000, 'close code 1000');
        close $s;
    }
}
is(upstream_seen(), 1, 'the upstream saw one upgrade request');

# ---------------------------------------------------------------------------
# refusals happen before the upgrade: no 101, the upstream sees nothing

my @refusals = (
    ['bad signature',           '/ws',       $tok{bad},   401, 'Bearer realm="magic-token", error="invalid_token"'],
    ['no token',                '/ws',       undef,       401, 'Bearer realm="magic-token"'],
    ['token for GET /ws on GET /ws/other', '/ws/other', $tok{ws}, 403,
        'Bearer realm="magic-token", error="insufficient_scope"'],
    ['token for GET /ws on GET /ws/', '/ws/', $tok{ws}, 403, undef],
    ['token for GET /ws/other on GET /ws', '/ws', $tok{other}, 403, undef],
    ['POST-only token on a GET upgrade', '/ws', $tok{post}, 403, undef],
    ['token for GET /ws on a POST upgrade', '/ws', $tok{ws}, 403, undef, 'POST'],
    ['percent-encoded path /w%73/other', '/w%73/other', $tok{ws}, 403, undef],
);
for my $t (@refusals) {
    my ($what, $path, $token, $status, $www, $method) = @$t;
    my $before = upstream_seen();
    my $r = ws_connect($path, $token, $method ? (method => $method) : ());
    is($r->{status}, $status, "$what: $status before any upgrade");
    ok(!exists $r->{headers}{'sec-websocket-accept'}, "$what: no Sec-WebSocket-Accept");
    is($r->{headers}{'www-authenticate'}, $www, "$what: WWW-Authenticate") if defined $www;
    is(upstream_seen(), $before, "$what: the upstream never saw the request");
    no_cred_in($r, $what);
}

# the query string is not part of the path the scopes see
{
    my $r = ws_connect('/ws?room=1', $tok{ws});
    is($r->{status}, 101, 'token for GET /ws on /ws?room=1: 101');
    if ($r->{sock}) {
        is_deeply([ws_recv($r->{sock})], [1, "auth=[Bearer $cred{ws}] uri=/ws?room=1"],
                  '/ws?room=1: the upstream saw the credential and the query');
        close $r->{sock};
    }
}

# the right token for the other path works, with its own credential
{
    my $r = ws_connect('/ws/other', $tok{other});
    is($r->{status}, 101, 'token for GET /ws/other on /ws/other: 101');
    if ($r->{sock}) {
        is_deeply([ws_recv($r->{sock})], [1, "auth=[Bearer $cred{other}] uri=/ws/other"],
                  '/ws/other: the upstream saw its own credential');
        close $r->{sock};
    }
}

# ---------------------------------------------------------------------------
# two WebSockets at once with different tokens: messages and credentials
# stay on their own connection

{
    my $a = ws_connect('/ws', $tok{ws});
    my $b = ws_connect('/ws', $tok{second});
    is($a->{status}, 101, 'concurrent: first upgraded');
    is($b->{status}, 101, 'concurrent: second upgraded');
    SKIP: {
        skip 'no upgrade', 4 unless $a->{sock} && $b->{sock};
        is_deeply([ws_recv($a->{sock})], [1, "auth=[Bearer $cred{ws}] uri=/ws"],
                  'concurrent: first saw its credential');
        is_deeply([ws_recv($b->{sock})], [1, "auth=[Bearer $cred{second}] uri=/ws"],
                  'concurrent: second saw its credential');
        ws_send($a->{sock}, 1, 'to-a');
        ws_send($b->{sock}, 1, 'to-b');
        is_deeply([ws_recv($b->{sock})], [1, 'to-b'], 'concurrent: second echoes its own message');
        is_deeply([ws_recv($a->{sock})], [1, 'to-a'], 'concurrent: first echoes its own message');
        close $a->{sock};
        close $b->{sock};
    }
}

# ---------------------------------------------------------------------------
# the error log has neither a token nor a credential

{
    my $log = slurp("$prefix/logs/error.log");
    for my $name (sort keys %tok) {
        unlike($log, qr/\Q$tok{$name}\E/, "error log: no token $name");
    }
    for my $c (sort values %cred) {
        unlike($log, qr/\Q$c\E/, "error log: no credential");
    }
    unlike($log, qr/\[(?:alert|crit|emerg)\]/, 'error log: no alert/crit/emerg');
}

done_testing();
