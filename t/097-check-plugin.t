# magic_token_check with a python plugin service (t/tools/check_plugin.py)
# that decides, and a response hook that lets it keep state: the seed's
# DNS-01 plugin as a service, against the fake DigitalOcean API
# (t/tools/fake_do.py).  Plain Test::More: the plugin's state lives
# across requests.
#
# Ports: TEST_NGINX_PORT (or TEST_NGINX_SERVER_PORT, or 1984) + 28 for
# nginx, + 29 for the fake API, + 30 for the plugin.

use strict;
use warnings;

use Cwd qw(abs_path);
use Digest::SHA qw(sha256_hex);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use HTTP::Tiny;
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
my $base   = $ENV{TEST_NGINX_PORT} || $ENV{TEST_NGINX_SERVER_PORT} || 1984;
my $port   = $base + 28;
my $api    = $base + 29;
my $plugin = $base + 30;

plan skip_all => "no module at $module" unless -f $module;

my $prefix = tempdir(CLEANUP => 1);
make_path("$prefix/conf/keys", "$prefix/logs");

system("$python $mint keygen $prefix/conf/keys/k >/dev/null") == 0
    or BAIL_OUT("keygen failed");

sub mint_token {
    my ($extra) = @_;
    my $tok = `printf 'do-secret' | $python $mint mint --key $prefix/conf/keys/k/private.pem --scopes dns01 $extra`;
    chomp $tok;
    return $tok;
}

my @pids;

sub spawn {
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        exec(@_) or die "exec: $!";
    }
    push @pids, $pid;
}

spawn($python, "$root/t/tools/fake_do.py", $api);
spawn($python, "$root/t/tools/check_plugin.py", $plugin, 'example.com');

sub wait_port {
    my ($p) = @_;
    for (1 .. 40) {
        return 1 if IO::Socket::INET->new(PeerAddr => "127.0.0.1:$p",
                                          Timeout => 1);
        select undef, undef, undef, 0.05;
    }
    return 0;
}

open my $fh, '>', "$prefix/conf/nginx.conf" or die $!;
print $fh standalone_head($prefix), <<"_EOC_";
    magic_token_zone state:1m;
    magic_token_check dns01 /_dns01 claims=sub response=/_dns01_seen
                      zone=state;

    server {
        listen 127.0.0.1:$port;

        location = /metrics {
            magic_token_status;
        }

        location /v2/ {
            magic_token on;
            magic_token_key keys/k/private.pem;
            proxy_set_header Authorization "Bearer \$magic_token_credential";
            proxy_pass http://127.0.0.1:$api;
        }

        location = /_dns01 {
            internal;
            proxy_pass http://127.0.0.1:$plugin/check;
            proxy_read_timeout 300ms;
        }

        location = /_dns01_seen {
            internal;
            proxy_pass http://127.0.0.1:$plugin/response;
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

ok(wait_port($api) && wait_port($plugin), 'the fake API and the plugin listen');
is(nginx(), 0, 'nginx starts');
ok(wait_port($port), 'nginx listens');

my $http = HTTP::Tiny->new(timeout => 5);

sub call {
    my ($tok, $method, $path, $body) = @_;
    my %o = (headers => { Authorization => "Bearer $tok" });
    $o{content} = $body if defined $body;
    return $http->request($method, "http://127.0.0.1:$port$path", \%o);
}

my $records = '/v2/domains/example.com/records';
my $ta = mint_token(q{--claim 'sub="acme-client"'});
my $tb = mint_token('');

is(call($ta, 'DELETE', "$records/3352891")->{status}, 403,
   'the plugin refuses a delete it has not seen created');

my $r = call($ta, 'POST', $records, '{"type":"TXT","name":"_acme-challenge"}');
is($r->{status}, 201, 'the plugin allows the create');
my ($id) = $r->{content} =~ /"id": (\d+)/;
ok($id, "record $id");

# the hook runs after the response: poll (a kept-alive connection would
# wait for it)
is(call($tb, 'DELETE', "$records/$id")->{status}, 403,
   "token B cannot delete token A's record");

my $st = 0;
for (1 .. 40) {
    $st = call($ta, 'DELETE', "$records/$id")->{status};
    last if $st != 403;
    select undef, undef, undef, 0.05;
}
is($st, 204, 'token A deletes it, once the hook has told the plugin');

is(call($ta, 'DELETE', "$records/" . ($id + 100))->{status}, 403,
   'and no other record');

my $slow = call($ta, 'GET', '/v2/slow');
is($slow->{status}, 500, 'a check that times out: 500');

require JSON::PP;
my @seen = map { JSON::PP::decode_json($_) }
        split /\n/, $http->get("http://127.0.0.1:$plugin/seen")->{content};

my ($check) = grep { $_->{method} eq 'GET'
                     && $_->{headers}{'x-magic-token-method'} eq 'POST' } @seen;
ok($check, 'the plugin was asked about the create');
my $ida = substr(sha256_hex(substr($ta, 0, rindex($ta, '.'))), 0, 16);
is_deeply([ map { $check->{headers}{"x-magic-token-$_"} }
            qw(scope method path id claim-sub) ],
          ['dns01', 'POST', $records, $ida, '"acme-client"'],
          'it was given scope, method, path, token id and the sub claim');
ok(!exists $check->{headers}{authorization},
   'not the client\'s Authorization (the token)');
is($check->{uri}, '/check', 'a GET to the check location');

my ($hook) = grep { $_->{method} eq 'POST' } @seen;
ok($hook, 'the response hook was called');
is($hook->{headers}{'x-magic-token-status'}, '201', 'with the status');
is($hook->{headers}{'x-magic-token-content-type'}, 'application/json',
   'the content type');
like($hook->{body}, qr/^\{"domain_record": \{"id": $id, /, 'the body');
is($hook->{headers}{'content-length'}, length($hook->{body}),
   'and its length');
is($hook->{headers}{'x-magic-token-path'}, $records, 'and the request');
ok(!grep({ $_->{method} eq 'POST'
           && ($_->{headers}{'x-magic-token-status'} // '') eq '403' } @seen),
   'a refused request calls no hook');

my $m = $http->get("http://127.0.0.1:$port/metrics")->{content} // '';
my ($checks) = $m =~ /^magic_token_checks_total\{zone="state"\} (\d+)$/m;
ok(($checks // 0) >= 6, "magic_token_checks_total counts the checks ($checks)")
    or diag($m);

my $log = do { local (@ARGV, $/) = "$prefix/logs/error.log"; <> };
like($log, qr/magic_token_check "dns01": "\/_dns01" answered 504/,
     'the timeout is logged');
unlike($log, qr/do-secret/, 'no credential in the error log');
unlike($log, qr/\[(?:alert|crit|emerg)\]/, 'no alert');

done_testing();
