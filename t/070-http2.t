# HTTP/2: cleartext with prior knowledge (h2c) and over TLS with ALPN (h2),
# with curl as the client and a real echo upstream on loopback.  Tokens,
# scopes, refusals (401 + WWW-Authenticate, 403), the $magic_token_*
# variables, large header blocks (HPACK, a 6 KB token), the issuer's request
# body, and several streams multiplexed on one connection with different
# tokens: each stream's upstream request carries its own credential and no
# other.  HTTP/3 runs only when nginx was built with http_v3 and curl has
# HTTP3 (Debian 12 has neither: skipped with the reason).
#
# Ports: server port + 32 (h2c), + 33 (h2 over TLS), + 34 (echo upstream),
# + 35 (HTTP/3, UDP).  Plain Test::More: runs its own nginx.

use strict;
use warnings;

use File::Path qw(make_path);
use File::Temp qw(tempdir);
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use MagicToken::Standalone;
use MagicToken::Proto;

my $module = module_so();
plan skip_all => "no module at $module" unless -f $module;
plan skip_all => 'nginx without --with-http_v2_module'
    unless nginx_has('--with-http_v2_module');

my (undef, $cv) = run_capture('curl', '--version');
plan skip_all => 'curl without HTTP2' unless $cv =~ /^Features:.*\bHTTP2\b/m;
my $have_openssl = (run_capture('openssl', 'version'))[0] == 0;
plan skip_all => 'no openssl CLI for the throwaway certificate' unless $have_openssl;

my $port  = base_port() + 32;
my $tport = base_port() + 33;
my $up    = base_port() + 34;
my $qport = base_port() + 35;

my $prefix = tempdir('mt-h2-XXXXXX', TMPDIR => 1, CLEANUP => 1);
make_path("$prefix/conf", "$prefix/logs", "$prefix/keys", "$prefix/req");
keygen("$prefix/keys");

# a throwaway self-signed certificate (generated here, never committed)
{
    my ($rc, undef, $err) = run_capture(
        'openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
        '-subj', '/CN=localhost', '-keyout', "$prefix/conf/tls.key",
        '-out', "$prefix/conf/tls.crt");
    BAIL_OUT("openssl req: $err") if $rc;
}

my $http3 = nginx_has('--with-http_v3_module') && $cv =~ /^Features:.*\bHTTP3\b/m;

# the locations both HTTP/2 servers share
spew("$prefix/conf/locations.conf", <<'_EOC_');
        location /api/ {
            magic_token on;
            add_header X-MT-Id "[$magic_token_id]" always;
            add_header X-MT-Scope "[$magic_token_scope]" always;
            add_header X-MT-Error "[$magic_token_error]" always;
            add_header X-MT-Sub "[$magic_token_claim_sub]" always;
            add_header X-Proto "[$server_protocol $http2]" always;
            add_header X-Conn "$connection" always;
            proxy_set_header Authorization "Bearer $magic_token_credential";
            proxy_set_header X-MT-Id $magic_token_id;
            proxy_pass http://upstream_echo;
        }
        location = /mint {
            magic_token_issuer;
        }
_EOC_

my $h3_server = !$http3 ? '' : <<"_EOC_";
    server {
        listen 127.0.0.1:$qport quic reuseport;
        listen 127.0.0.1:$qport ssl;
        ssl_certificate tls.crt;
        ssl_certificate_key tls.key;
        ssl_protocols TLSv1.3;
        include locations.conf;
    }
_EOC_

spew("$prefix/conf/nginx.conf", <<"_EOC_");
@{[ standalone_head($prefix) ]}
    fastcgi_temp_path $prefix/fastcgi;
    uwsgi_temp_path $prefix/uwsgi;
    scgi_temp_path $prefix/scgi;
    magic_token_key $prefix/keys/private.pem;
    upstream upstream_echo { server 127.0.0.1:$up; }
    server {
        @{[ h2_listen("127.0.0.1:$port") ]}
        include locations.conf;
    }
    server {
        @{[ h2_listen("127.0.0.1:$tport", 1) ]}
        ssl_certificate tls.crt;
        ssl_certificate_key tls.key;
        include locations.conf;
    }
$h3_server
    # the echo upstream: what it received, as HTTP/1.x from nginx
    server {
        listen 127.0.0.1:$up;
        location / {
            return 200 "auth=[\$http_authorization] id=[\$http_x_mt_id] method=\$request_method uri=\$request_uri\\n";
        }
    }
}
_EOC_

{
    my ($rc, $out) = start_nginx($prefix);
    BAIL_OUT("nginx does not start: $out\n" . slurp("$prefix/logs/error.log")) if $rc;
}
END { local $?; stop_nginx($prefix) if $prefix }
ok(wait_port($port) && wait_port($tport), 'nginx listens (h2c and h2)');

# ---------------------------------------------------------------------------
# tokens

my %id_of;
my %cred = (a => 'ghp_H2CredA', b => 'ghp_H2CredBob', c => 'ghp_H2CredC',
            big => 'ghp_H2CredBig' . ('Z' x 100), post => 'ghp_H2CredPost');
my $K = "$prefix/keys";
my %tok;
$tok{a} = mint_token($K, $cred{a}, allowed => ['GET /api/a'], jti => 'h2-a',
                     claims => { sub => '"alice"' });
$tok{b} = mint_token($K, $cred{b}, allowed => ['GET /api/b'], jti => 'h2-b',
                     claims => { sub => '"bob"' });
$tok{c} = mint_token($K, $cred{c}, allowed => ['GET /api/c/\d+'], jti => 'h2-c');
# a 6 KB token: a header field well beyond HPACK's default 4 KB table
$tok{big} = mint_token($K, $cred{big}, allowed => ['GET /api/big'], jti => 'h2-big',
                       claims => { pad => '"' . ('p' x 4200) . '"' });
$tok{post} = mint_token($K, $cred{post}, allowed => ['POST /api/post'], jti => 'h2-post');
# a bad signature: the last signature character changed
($tok{bad} = $tok{a}) =~ s/(.)$/$1 eq 'A' ? 'B' : 'A'/e;
%id_of = map { ($cred{$_} => "h2-$_") } keys %cred;
cmp_ok(length $tok{big}, '>', 6000, 'the big token is over 6000 bytes');

# ---------------------------------------------------------------------------
# curl

my $nreq = 0;
# a header file for curl's -H @file (tokens stay out of argv)
sub hdr_file {
    my (@lines) = @_;
    my $f = "$prefix/req/h" . ++$nreq;
    spew($f, join('', map { "$_\n" } @lines));
    return $f;
}

# one transfer's options; the caller decides h2c / h2
sub transfer_opts {
    my (%o) = @_;
    my @a = ('-sS', '--path-as-is', '--max-time', '20', '-D', $o{head}, '-o', $o{body});
    push @a, $o{tls} ? ('--http2', '-k', "https://127.0.0.1:$tport$o{path}")
                     : ('--http2-prior-knowledge', "http://127.0.0.1:$port$o{path}");
    push @a, '-H', '@' . hdr_file(@{ $o{headers} }) if $o{headers} && @{ $o{headers} };
    push @a, '-X', $o{method} if $o{method};
    push @a, '--data-binary', '@' . $o{data_file} if $o{data_file};
    return @a;
}

sub parse_response {
    my ($head, $body) = @_;
    my $h = slurp($head);
    my $r = { raw => $h, body => slurp($body), headers => {} };
    ($r->{version}, $r->{status}) = $h =~ m{^HTTP/(\S+) (\d+)}m;
    $r->{status} //= 0;
    $r->{version} //= '';
    for my $line (split /\r?\n/, $h) {
        $r->{headers}{lc $1} = $2 if $line =~ /^([^:\s]+):\s*(.*)$/;
    }
    return $r;
}

# a single request -> { status, version, headers{lc}, body }
sub h2 {
    my (%o) = @_;
    my $n = ++$nreq;
    $o{head} = "$prefix/req/r$n.head";
    $o{body} = "$prefix/req/r$n.body";
    my ($rc, undef, $err) = run_capture('curl', transfer_opts(%o));
    my $r = parse_response($o{head}, $o{body});
    $r->{curl_rc} = $rc;
    $r->{curl_err} = $err;
    return $r;
}

# several requests as parallel transfers of one curl; curl waits for the
# first connection and multiplexes the others on it (one stream each)
sub h2_parallel {
    my ($tls, @reqs) = @_;
    my @args = ('--parallel', '--parallel-max', scalar(@reqs));
    my @files;
    for my $i (0 .. $#reqs) {
        my $n = ++$nreq;
        my %o = (%{ $reqs[$i] }, tls => $tls,
                 head => "$prefix/req/p$n.head", body => "$prefix/req/p$n.body");
        push @args, '--next' if $i;
        push @args, transfer_opts(%o);
        push @files, [$o{head}, $o{body}];
    }
    my ($rc, undef, $err) = run_capture('curl', @args);
    diag("curl --parallel: exit $rc: $err") if $rc;
    return map { parse_response(@$_) } @files;
}

sub bearer { ("Authorization: Bearer $_[0]") }
# what the echo upstream answers: the credential and $magic_token_id it got
sub echo_body { my ($cred, $method, $uri) = @_;
                my $id = defined $cred && $id_of{$cred} ? $id_of{$cred} : '';
                "auth=[" . (defined $cred ? "Bearer $cred" : '') . "] id=[$id] method=$method uri=$uri\n" }

my @all_creds = values %cred;
sub no_cred_in {
    my ($r, $what) = @_;
    my @leaked = grep { index($r->{raw} . $r->{body}, $_) >= 0 } @all_creds;
    ok(!@leaked, "$what: no credential in the response") or diag("leaked: @leaked");
}

# ---------------------------------------------------------------------------
# one request per connection, over h2c and over h2 (TLS + ALPN)

for my $tls (0, 1) {
    my $p = $tls ? 'h2' : 'h2c';

    my $r = h2(tls => $tls, path => '/api/a', headers => [bearer($tok{a})]);
    is($r->{version}, '2', "$p: the response is HTTP/2") or diag($r->{curl_err});
    is($r->{status}, 200, "$p: allowed request");
    is($r->{body}, echo_body($cred{a}, 'GET', '/api/a'),
       "$p: the upstream received the credential instead of the token");
    is($r->{headers}{'x-proto'}, "[HTTP/2.0 $p]", "$p: nginx saw HTTP/2 ($p)");
    is($r->{headers}{'x-mt-id'}, '[h2-a]', "$p: \$magic_token_id");
    is($r->{headers}{'x-mt-scope'}, '[GET /api/a]', "$p: \$magic_token_scope");
    is($r->{headers}{'x-mt-error'}, '[]', "$p: \$magic_token_error empty");
    is($r->{headers}{'x-mt-sub'}, '[alice]', "$p: \$magic_token_claim_sub");

    $r = h2(tls => $tls, path => '/api/b', headers => [bearer($tok{a})]);
    is($r->{status}, 403, "$p: out of scope: 403");
    is($r->{headers}{'www-authenticate'},
       'Bearer realm="magic-token", error="insufficient_scope"',
       "$p: out of scope: WWW-Authenticate");
    is($r->{headers}{'x-mt-error'}, '[scope_denied]', "$p: out of scope: \$magic_token_error");
    is($r->{headers}{'x-mt-id'}, '[h2-a]', "$p: out of scope: \$magic_token_id");
    no_cred_in($r, "$p: out of scope");

    $r = h2(tls => $tls, path => '/api/a', headers => [bearer($tok{bad})]);
    is($r->{status}, 401, "$p: bad signature: 401");
    is($r->{headers}{'www-authenticate'},
       'Bearer realm="magic-token", error="invalid_token"',
       "$p: bad signature: WWW-Authenticate");
    like($r->{headers}{'x-mt-error'}, qr/^\[\w+\]$/, "$p: bad signature: \$magic_token_error set");
    isnt($r->{headers}{'x-mt-error'}, '[]', "$p: bad signature: \$magic_token_error not empty");
    no_cred_in($r, "$p: bad signature");

    $r = h2(tls => $tls, path => '/api/a');
    is($r->{status}, 401, "$p: no token: 401");
    is($r->{headers}{'www-authenticate'}, 'Bearer realm="magic-token"',
       "$p: no token: WWW-Authenticate without error");
    is($r->{headers}{'x-mt-error'}, '[missing]', "$p: no token: \$magic_token_error");

    # methods: the :method pseudo-header is the request method
    $r = h2(tls => $tls, path => '/api/post', method => 'POST',
            headers => [bearer($tok{post})], data_file => "$prefix/conf/locations.conf");
    is($r->{status}, 200, "$p: POST in scope");
    is($r->{body}, echo_body($cred{post}, 'POST', '/api/post'), "$p: POST reaches the upstream");
    $r = h2(tls => $tls, path => '/api/post', headers => [bearer($tok{post})]);
    is($r->{status}, 403, "$p: GET with a POST-only token: 403");

    # a large header block: a 6 KB token plus 24 other 300-byte headers
    $r = h2(tls => $tls, path => '/api/big',
            headers => [bearer($tok{big}), map { "X-Filler-$_: " . ('f' x 300) } 1 .. 24]);
    is($r->{status}, 200, "$p: 6 KB token in a large header block");
    is($r->{body}, echo_body($cred{big}, 'GET', '/api/big'), "$p: big token: credential upstream");
    is($r->{headers}{'x-mt-id'}, '[h2-big]', "$p: big token: \$magic_token_id");

    # the path the scopes see is the decoded, normalised :path
    $r = h2(tls => $tls, path => '/api/c/%31%32', headers => [bearer($tok{c})]);
    is($r->{status}, 200, "$p: percent-encoded digits match GET /api/c/\\d+");
    $r = h2(tls => $tls, path => '/api/c/7/../../a', headers => [bearer($tok{c})]);
    is($r->{status}, 403, "$p: dot segments are resolved before the scope check");
    $r = h2(tls => $tls, path => '/api/c/7/../../a', headers => [bearer($tok{a})]);
    is($r->{body}, echo_body($cred{a}, 'GET', '/api/c/7/../../a'),
       "$p: ... and the scope sees the resolved path");
}

# ---------------------------------------------------------------------------
# several streams on one connection, with different tokens: per-stream state
# (token, credential, variables) never leaks into another stream.
#
# h2c: curl 7.88 fails to multiplex with --http2-prior-knowledge ("Error in
# the HTTP2 framing layer", without this module too), so a small HTTP/2
# client below opens all the streams at once on one connection before it
# reads any response.  h2 (TLS): curl --parallel multiplexes the transfers.

# HPACK: a literal header field without indexing, new name, no Huffman
sub hpack_int {
    my ($n) = @_;   # 7-bit prefix, H bit clear
    return chr($n) if $n < 127;
    my $s = chr(127);
    $n -= 127;
    while ($n >= 128) { $s .= chr(($n & 0x7f) | 0x80); $n >>= 7 }
    return $s . chr($n);
}
sub hpack_literal { my ($k, $v) = @_; "\x00" . hpack_int(length $k) . $k . hpack_int(length $v) . $v }
sub frame { my ($type, $flags, $sid, $payload) = @_;
            substr(pack('N', length $payload), 1) . pack('CCN', $type, $flags, $sid) . $payload }

my %STATIC_STATUS = (8 => 200, 9 => 204, 10 => 206, 11 => 304, 12 => 400, 13 => 404, 14 => 500);

# all requests as streams 1, 3, 5, ... sent before any response is read
# -> list of { status, body, stream }
sub h2c_multi {
    my (@reqs) = @_;
    require IO::Socket::INET;
    require IO::Select;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 10)
        or return map { { status => 0, body => "connect: $!" } } @reqs;
    binmode $s;
    my $out = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" . frame(4, 0, 0, '');
    my %st;
    for my $i (0 .. $#reqs) {
        my $sid = 2 * $i + 1;
        my $block = hpack_literal(':method', 'GET') . hpack_literal(':scheme', 'http')
                  . hpack_literal(':path', $reqs[$i]{path})
                  . hpack_literal(':authority', "127.0.0.1:$port");
        for my $h (@{ $reqs[$i]{headers} || [] }) {
            my ($k, $v) = $h =~ /^([^:]+):\s*(.*)$/ or die "header $h";
            $block .= hpack_literal(lc $k, $v);
        }
        $out .= frame(1, 0x5, $sid, $block);   # END_STREAM | END_HEADERS
        $st{$sid} = { status => 0, body => '', stream => $sid, index => $i };
    }
    print {$s} $out;
    my $buf = '';
    my $open = scalar @reqs;
    my $sel = IO::Select->new($s);
    my $deadline = time + 20;
    while ($open > 0 && time < $deadline) {
        while (length $buf >= 9) {
            my ($len) = unpack('N', "\0" . substr($buf, 0, 3));
            last if length $buf < 9 + $len;
            my ($type, $flags, $sid) = unpack('CCN', substr($buf, 3, 6));
            $sid &= 0x7fffffff;
            my $payload = substr($buf, 9, $len);
            substr($buf, 0, 9 + $len) = '';
            if ($type == 4 && !($flags & 1)) {                 # SETTINGS: ack
                print {$s} frame(4, 1, 0, '');
            } elsif ($type == 1 && $st{$sid}) {                 # HEADERS
                my $b = ord $payload;
                if ($b & 0x80) {
                    $st{$sid}{status} = $STATIC_STATUS{$b & 0x7f} // "idx$b";
                } elsif (($b & 0xc0) == 0x40 && ($b & 0x3f) == 8) {
                    $st{$sid}{status} = substr($payload, 2, ord(substr $payload, 1, 1) & 0x7f);
                }
                if ($flags & 1) { $open--; $st{$sid}{done} = 1 }
            } elsif ($type == 0 && $st{$sid}) {                 # DATA
                $st{$sid}{body} .= $payload;
                # give the window back, so large bodies keep flowing
                print {$s} frame(8, 0, 0, pack('N', $len)), frame(8, 0, $sid, pack('N', $len))
                    if $len;
                if ($flags & 1) { $open--; $st{$sid}{done} = 1 }
            } elsif ($type == 3 && $st{$sid}) {                 # RST_STREAM
                $st{$sid}{status} = 'rst'; $open--; $st{$sid}{done} = 1;
            } elsif ($type == 7) {                              # GOAWAY
                $open = 0;
            }
        }
        last unless $open > 0;
        next unless $sel->can_read(1);
        my $n = sysread($s, $buf, 65536, length $buf);
        last unless $n;
    }
    close $s;
    return map { $st{$_} } sort { $a <=> $b } keys %st;
}

for my $tls (0, 1) {
    my $p = $tls ? 'h2' : 'h2c';
    my @reqs = (
        { path => '/api/a',   headers => [bearer($tok{a})] },                 # 0 ok a
        { path => '/api/b',   headers => [bearer($tok{b})] },                 # 1 ok b
        { path => '/api/a',   headers => [bearer($tok{bad})] },               # 2 401
        { path => '/api/a' },                                                 # 3 401 missing
        { path => '/api/b',   headers => [bearer($tok{a})] },                 # 4 403
        { path => '/api/c/9', headers => [bearer($tok{c})] },                 # 5 ok c
        { path => '/api/big', headers => [bearer($tok{big})] },               # 6 ok big
        { path => '/api/a',   headers => [bearer($tok{a})] },                 # 7 ok a (HPACK: indexed)
        { path => '/api/big', headers => [bearer($tok{big})] },               # 8 ok big again
        { path => '/api/b',   headers => [bearer($tok{b})] },                 # 9 ok b again
    );
    my @want = (
        [200, $cred{a}, '/api/a'], [200, $cred{b}, '/api/b'], [401], [401], [403],
        [200, $cred{c}, '/api/c/9'], [200, $cred{big}, '/api/big'],
        [200, $cred{a}, '/api/a'], [200, $cred{big}, '/api/big'], [200, $cred{b}, '/api/b'],
    );
    my @r = $tls ? h2_parallel($tls, @reqs) : h2c_multi(@reqs);
    is(scalar @r, scalar @want, "$p streams: one response per stream");
    my %conns;
    for my $i (0 .. $#want) {
        my ($status, $c, $uri) = @{ $want[$i] };
        my $r = $r[$i] || { status => 0, body => '', raw => '' };
        $r->{raw} //= '';
        is($r->{status}, $status, "$p streams: #$i status $status");
        if ($tls) {
            is($r->{version}, '2', "$p streams: #$i over HTTP/2");
            $conns{ $r->{headers}{'x-conn'} // '' }++;
        }
        if ($status == 200) {
            is($r->{body}, echo_body($c, 'GET', $uri),
               "$p streams: #$i its own credential and \$magic_token_id upstream");
        } else {
            no_cred_in($r, "$p streams: #$i refused");
        }
        my @others = grep { !defined $c || $_ ne $c } @all_creds;
        my @leak = grep { index($r->{body}, $_) >= 0 } @others;
        ok(!@leak, "$p streams: #$i carries no other stream's credential") or diag("@leak");
    }
    if ($tls) {
        is(scalar(keys %conns), 1, "$p streams: all on one connection")
            or diag(join ', ', map { "$_ x$conns{$_}" } sort keys %conns);
    }
}

# ---------------------------------------------------------------------------
# the issuer over HTTP/2: the request body arrives in DATA frames

{
    my $json = "$prefix/req/mint.json";
    spew($json, '{"token":"ghp_H2Minted","allowed":["GET /api/minted"]}');
    for my $tls (0, 1) {
        my $p = $tls ? 'h2' : 'h2c';
        my $r = h2(tls => $tls, path => '/mint', method => 'POST', data_file => $json,
                   headers => ['Content-Type: application/json']);
        is($r->{status}, 200, "$p: issuer answers a POST");
        (my $t = $r->{body}) =~ s/\s+\z//;
        like($t, qr/^[\w-]+\.[\w-]+\.[\w-]+$/, "$p: issuer returns a token");
        $r = h2(tls => $tls, path => '/api/minted', headers => [bearer($t)]);
        is($r->{status}, 200, "$p: the minted token is accepted");
        like($r->{body}, qr/^auth=\[Bearer ghp_H2Minted\] id=\[[\w-]+\] method=GET uri=\/api\/minted\n\z/,
           "$p: the minted token carries its credential upstream");
        $r = h2(tls => $tls, path => '/api/a', headers => [bearer($t)]);
        is($r->{status}, 403, "$p: the minted token is scoped");
    }
}

# ---------------------------------------------------------------------------
# HTTP/3

SKIP: {
    skip 'HTTP/3: nginx ' . nginx_version() . ' was built without --with-http_v3_module'
         . ' (Debian 12 nginx 1.22 has no QUIC)', 6
        unless nginx_has('--with-http_v3_module');
    skip 'HTTP/3: curl has no HTTP3 feature', 6 unless $http3;
    my $h3 = sub {
        my (@h) = @_;
        my $n = ++$nreq;
        my ($rc, undef, $err) = run_capture('curl', '-sS', '--max-time', '20', '--http3-only', '-k',
            '-D', "$prefix/req/q$n.head", '-o', "$prefix/req/q$n.body",
            (@h ? ('-H', '@' . hdr_file(@h)) : ()), "https://127.0.0.1:$qport/api/a");
        return parse_response("$prefix/req/q$n.head", "$prefix/req/q$n.body");
    };
    my $r = $h3->(bearer($tok{a}));
    is($r->{version}, '3', 'h3: HTTP/3');
    is($r->{status}, 200, 'h3: allowed');
    is($r->{body}, echo_body($cred{a}, 'GET', '/api/a'), 'h3: credential upstream');
    is($h3->(bearer($tok{bad}))->{status}, 401, 'h3: bad token 401');
    is($h3->()->{status}, 401, 'h3: missing token 401');
    is($r->{headers}{'x-mt-id'}, '[h2-a]', 'h3: $magic_token_id');
}

# ---------------------------------------------------------------------------
# the error log has neither a token nor a credential

{
    my $log = slurp("$prefix/logs/error.log");
    for my $name (sort keys %tok) {
        unlike($log, qr/\Q$tok{$name}\E/, "error log: no token $name");
    }
    for my $c (@all_creds, 'ghp_H2Minted') {
        unlike($log, qr/\Q$c\E/, "error log: no credential");
    }
    unlike($log, qr/\[(?:alert|crit|emerg)\]/, 'error log: no alert/crit/emerg');
}

done_testing();
