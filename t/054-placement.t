# Credential placement beyond "Authorization: Bearer": a query parameter,
# HTTP Basic, a custom header and a path segment, with stock nginx
# directives: conf-examples/placement.conf run as documented (ports moved
# to +33/+34).  What the upstream receives is read from its access log,
# byte for byte: the credential where the API wants it, the path the
# scopes were checked against and nothing else, no magic token.
#
# Plain Test::More: the example is a whole nginx.conf.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64);
use Test::More;

use FindBin;

my $root   = abs_path(dirname(__FILE__) . '/..');
my $nginx  = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $module = $ENV{MAGIC_TOKEN_MODULE}
             || "$root/build/ngx_http_magic_token_module.so";
my $python = $ENV{PYTHON} || '/usr/bin/python3';
my $mint   = "$root/t/tools/mtmint.py";
my $base   = $ENV{TEST_NGINX_PORT} || $ENV{TEST_NGINX_SERVER_PORT} || 1984;
my $port   = $base + 33;
my $up     = $base + 34;

plan skip_all => "no module at $module" unless -f $module;

my $prefix = tempdir(CLEANUP => 1);
make_path("$prefix/conf/keys", "$prefix/logs", "$prefix/tmp");
chmod 0755, $prefix;    # the workers write the upstream's log

system("$python $mint keygen $prefix/conf/keys/k >/dev/null") == 0
    or BAIL_OUT("keygen failed");
system('cp', "$prefix/conf/keys/k/private.pem", "$prefix/conf/keys/private.pem") == 0
    or die "cp";

my $conf = do {
    local (@ARGV, $/) = "$root/conf-examples/placement.conf"; <>
};
$conf =~ s{^load_module \S+;}{load_module $module;}m or die "no load_module";
$conf =~ s/127\.0\.0\.1:8080\b/127.0.0.1:$port/g;
$conf =~ s/127\.0\.0\.1:8081\b/127.0.0.1:$up/g;
open my $fh, '>', "$prefix/conf/nginx.conf" or die $!;
print $fh $conf;
close $fh;

my $KEY   = 'k_Example-Key.123~';
my $BASIC = encode_base64('user:pa55word', '');

sub mint {
    my ($cred, $aud, @allowed) = @_;
    open my $c, '>', "$prefix/cred" or die $!;
    print $c $cred;
    close $c;
    my $allow = join ' ', map { "--allowed '$_'" } @allowed;
    my $t = `$python $mint mint --key $prefix/conf/keys/private.pem $allow --claim 'aud="$aud"' --credential-file $prefix/cred`;
    unlink "$prefix/cred";
    chomp $t;
    die "mint failed" unless $t =~ /^ey/;
    return $t;
}

my %tok = (
    q      => mint($KEY, 'query-api', 'GET /repos/acme/web(/.*)?'),
    basic  => mint($BASIC, 'basic-api', 'GET /repos/acme/web(/.*)?'),
    header => mint($KEY, 'header-api', 'GET /repos/acme/web(/.*)?'),
    seg    => mint($KEY, 'segment-api', 'GET /repos/acme/web(/.*)?'),
);

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
}

my ($rc, $out) = (0, `$nginx -t -q -p $prefix/ -c conf/nginx.conf -e $prefix/logs/error.log 2>&1`);
is($? >> 8, 0, 'conf-examples/placement.conf passes nginx -t') or diag($out);
unlike($out, qr/magic_token: locations/, 'and draws no audience warning');

is(nginx(), 0, 'the example starts');

sub get {
    my ($path, $tok) = @_;
    for (1 .. 40) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                      Timeout => 5);
        if (!$s) {
            select undef, undef, undef, 0.05;
            next;
        }
        print $s "GET $path HTTP/1.0\r\nAuthorization: Bearer $tok\r\n\r\n";
        local $/;
        my $raw = <$s> // '';
        my ($status) = $raw =~ m{^HTTP/1\.\d (\d+)};
        my ($body) = $raw =~ /\r\n\r\n(.*)\z/s;
        return ($status // 0, $body // '');
    }
    return (0, '');
}

# what the upstream received since the last call
my $seen = 0;
sub received {
    select undef, undef, undef, 0.05;
    open my $l, '<', "$prefix/logs/upstream.log" or return '';
    local $/;
    my $all = <$l> // '';
    close $l;
    my $new = substr($all, $seen);
    $seen = length $all;
    return $new;
}

my @cases = (
    # [ what, path, token, status, what the upstream gets (undef: nothing) ]
    ['query', '/q/repos/acme/web?page=2', 'q', 200,
     "GET /repos/acme/web?page=2&api_key=$KEY auth=[-] key=[-]\n"],
    ['query, no query of its own', '/q/repos/acme/web', 'q', 200,
     "GET /repos/acme/web?api_key=$KEY auth=[-] key=[-]\n"],
    ['query, another path', '/q/repos/acme/other', 'q', 403, undef],
    ['query, a dot segment out of the scope', '/q/repos/acme/web/../../evil/x',
     'q', 403, undef],
    ['query, an encoded "?" in the path', '/q/repos/acme/web/x%3Fapi_key=1',
     'q', 400, undef],
    ['query, an encoded "%"', '/q/repos/acme/web/%252e%252e', 'q', 400, undef],

    ['basic', '/basic/repos/acme/web/issues', 'basic', 200,
     "GET /repos/acme/web/issues auth=[Basic $BASIC] key=[-]\n"],
    ['basic, another path', '/basic/repos/acme/other', 'basic', 403, undef],

    ['header', '/header/repos/acme/web', 'header', 200,
     "GET /repos/acme/web auth=[-] key=[$KEY]\n"],
    ['header, another path', '/header/user', 'header', 403, undef],

    ['segment', '/seg/repos/acme/web/pulls', 'seg', 200,
     "GET /bot$KEY/repos/acme/web/pulls auth=[-] key=[-]\n"],
    ['segment, another path', '/seg/repos/acme/other', 'seg', 403, undef],
    ['segment, dots resolved before the check', '/seg/repos/acme/web/../other',
     'seg', 403, undef],
    ['segment, an encoded slash and dots', '/seg/repos/acme/web%2F..%2Fother',
     'seg', 403, undef],
    ['segment, an encoded "?"', '/seg/repos/acme/web%3F/x', 'seg', 400, undef],
    ['segment, an encoded "#"', '/seg/repos/acme/web/x%23y', 'seg', 400, undef],
    ['segment, an encoded space', '/seg/repos/acme/web/x%20y', 'seg', 400, undef],
    ['segment, a query', '/seg/repos/acme/web?x=1', 'seg', 200,
     "GET /bot$KEY/repos/acme/web?x=1 auth=[-] key=[-]\n"],

    # one token per API
    ['the query token at the segment API', '/seg/repos/acme/web', 'q', 401, undef],
    ['the segment token at the header API', '/header/repos/acme/web', 'seg', 401, undef],
    ['the header token at the Basic API', '/basic/repos/acme/web', 'header', 401, undef],
);

received();

for my $c (@cases) {
    my ($what, $path, $t, $status, $want) = @$c;
    my ($st, $body) = get($path, $tok{$t});
    is($st, $status, "$what: $status");
    is(received(), $want // '', defined $want
       ? "$what: the upstream gets exactly the checked path and the credential"
       : "$what: nothing forwarded");
    unlike($body, qr/\Q$KEY\E|\Q$BASIC\E|pa55word/,
           "$what: the credential is not sent back");
}

open my $el, '<', "$prefix/logs/error.log" or die $!;
my $log = do { local $/; <$el> };
close $el;
# nginx's own context names the upstream URL, which holds the credential
# in the query and path placements (documented in the example)
like($log, qr/upstream: "[^"]*\Q$KEY\E/,
     'nginx\'s "upstream:" context shows a credential placed in the URL');
$log =~ s/upstream: "[^"]*"//g;
unlike($log, qr/\Q$KEY\E|\Q$BASIC\E/, 'nowhere else in the error log');

done_testing();
