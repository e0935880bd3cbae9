# magic_token_grant end to end: magic-api-proxy's Let's Encrypt DNS-01
# example (a token may create a TXT record on one domain, then delete the
# records it created and no other) against a local fake DigitalOcean API
# (t/tools/fake_do.py), with a real nginx master and worker.  Plain
# Test::More: the grants live in the zone across requests and a reload,
# which Test::Nginx's restart per block would wipe.
#
# Ports: TEST_NGINX_PORT (or TEST_NGINX_SERVER_PORT, or 1984) + 26 for
# nginx, + 27 for the fake API.

use strict;
use warnings;

use Cwd qw(abs_path);
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
my $port   = $base + 26;
my $api    = $base + 27;

plan skip_all => "no module at $module" unless -f $module;

my $prefix = tempdir(CLEANUP => 1);
make_path("$prefix/conf/keys", "$prefix/logs");

system("$python $mint keygen $prefix/conf/keys/k >/dev/null") == 0
    or BAIL_OUT("keygen failed");

sub mint_token {
    my ($scope, $ttl) = @_;
    $ttl //= 3600;
    my $tok = `printf 'do-secret' | $python $mint mint --key $prefix/conf/keys/k/private.pem --scopes $scope --ttl $ttl`;
    chomp $tok;
    return $tok;
}

# the fake DigitalOcean API
my $api_pid = fork() // die "fork: $!";
if ($api_pid == 0) {
    exec($python, "$root/t/tools/fake_do.py", $api) or die "exec: $!";
}

sub wait_port {
    my ($p) = @_;
    for (1 .. 40) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$p",
                                      Timeout => 1);
        return 1 if $s;
        select undef, undef, undef, 0.05;
    }
    return 0;
}

open my $fh, '>', "$prefix/conf/nginx.conf" or die $!;
print $fh standalone_head($prefix), <<"_EOC_";
    magic_token_zone state:1m;

    # the seed's DOMAIN: records of example.com only
    magic_token_scope dns01 "POST /v2/domains/example\\.com/records";
    magic_token_grant dns01 "POST /v2/domains/([^/]+)/records"
                      "DELETE /v2/domains/\$1/records/\$json"
                      json=domain_record.id zone=state ttl=1h max=3;

    # the same with grants that last a second
    magic_token_scope quick "POST /v2/domains/quick\\.example/records";
    magic_token_grant quick "POST /v2/domains/([^/]+)/records"
                      "DELETE /v2/domains/\$1/records/\$json"
                      json=domain_record.id zone=state ttl=1s;

    # a zone that fills up
    magic_token_zone small:32k;
    magic_token_scope fill "POST /v2/domains/fill\\.example/records";
    magic_token_grant fill "POST /v2/domains/([^/]+)/records"
                      "DELETE /v2/domains/\$1/records/\$json"
                      json=domain_record.id zone=small max=1024;

    server {
        listen 127.0.0.1:$port;
        location = /metrics {
            magic_token_status;
        }
        location /v2/ {
            magic_token on;
            magic_token_key keys/k/private.pem;
            magic_token_leeway 60s;
            proxy_set_header Authorization "Bearer \$magic_token_credential";
            proxy_pass http://127.0.0.1:$api;
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
    if ($api_pid) { kill 'TERM', $api_pid; waitpid($api_pid, 0); }
}

ok(wait_port($api), 'the fake API listens');
is(nginx(), 0, 'nginx starts');
ok(wait_port($port), 'nginx listens');

my $http = HTTP::Tiny->new(timeout => 5);

# one write per request (HTTP::Tiny writes the body apart, and Nagle
# plus delayed ACKs cost 40 ms a request); Connection: close
sub call {
    my ($tok, $method, $path, $body) = @_;
    $body //= '';
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5)
        or return { status => 599, content => "connect: $!" };
    my $len = length $body;
    syswrite $s, "$method $path HTTP/1.1\r\nHost: localhost\r\n"
                 . "Authorization: Bearer $tok\r\nConnection: close\r\n"
                 . "Content-Type: application/json\r\n"
                 . "Content-Length: $len\r\n\r\n$body";
    my $resp = do { local $/; <$s> } // '';
    my ($head, $content) = split /\r\n\r\n/, $resp, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.\d (\d+)};
    my %h;
    my @kv = ($head // '') =~ /^([^:\r\n]+): ([^\r\n]*)/mg;
    while (my ($k, $v) = splice @kv, 0, 2) { $h{lc $k} = $v }
    return { status => $status // 599, content => $content // '',
             headers => \%h };
}

my $records = '/v2/domains/example.com/records';

sub create {
    my ($tok, $name, $domain) = @_;
    my $r = call($tok, 'POST', "/v2/domains/" . ($domain // 'example.com')
                               . "/records",
                 qq({"type":"TXT","name":"$name","data":"token-$name"}));
    my ($id) = ($r->{content} // '') =~ /"id": (\d+)/;
    return ($r, $id // 0);
}

my $ta = mint_token('dns01');
my $tb = mint_token('dns01');
my $tc = mint_token('dns01');

# before anything: only the create is allowed
is(call($ta, 'DELETE', "$records/3352891")->{status}, 403,
   'no grant yet: a delete is refused');
is(call($ta, 'POST', '/v2/domains/other.org/records', '{}')->{status}, 403,
   'a record of another domain is refused');

# create, then delete what was created
my ($r, $id) = create($ta, '_acme-challenge');
is($r->{status}, 201, 'token A creates a record');
ok($id, "the upstream's record id ($id)");
like($r->{content}, qr/^\{"domain_record": \{"id": $id, "type": "TXT", "name": "_acme-challenge", "data": "token-_acme-challenge", "ttl": 30\}\}\z/,
     'the response reaches the client unchanged');
is($r->{headers}{'content-length'}, length($r->{content}),
   'with its Content-Length');

my ($r2, $id2) = create($ta, '_acme-challenge');
is($r2->{status}, 201, 'token A creates a second record');

is(call($tb, 'DELETE', "$records/$id")->{status}, 403,
   "token B cannot use token A's grant");
is(call($ta, 'DELETE', "$records/" . ($id2 + 1))->{status}, 403,
   'token A cannot delete a record it did not create');
is(call($ta, 'DELETE', "/v2/domains/other.org/records/$id")->{status}, 403,
   'nor its record id under another domain');
is(call($ta, 'GET', "$records/$id")->{status}, 403,
   'the grant is for DELETE only');
is(call($ta, 'DELETE', "$records/$id/")->{status}, 403,
   'and for exactly that path');
is(call($ta, 'DELETE', "$records/$id")->{status}, 204,
   'token A deletes its first record');
is(call($ta, 'DELETE', "$records/$id2")->{status}, 204,
   'and its second');

# a failed create grants nothing (its body names id 777)
my ($f) = create($ta, 'fail');
is($f->{status}, 422, 'a failed create reaches the client');
is(call($ta, 'DELETE', "$records/777")->{status}, 403,
   'and grants nothing, though its body has an id');

# a response larger than 64 kB grants nothing, and passes unchanged
my ($big, $bigid) = create($ta, 'big');
is($big->{status}, 201, 'a large response');
ok(length($big->{content}) > 70000, 'reaches the client whole')
    or diag(length($big->{content}));
is(call($ta, 'DELETE', "$records/$bigid")->{status}, 403,
   'and grants nothing');

# an id that is not a safe value grants nothing
my ($evil) = create($ta, 'evil');
is($evil->{status}, 201, 'a response with id "../../account"');
is(call($ta, 'DELETE', '/v2/domains/example.com/account')->{status}, 403,
   'grants nothing');

# max=3 grants per token
my @ids;
for my $i (1 .. 4) {
    my ($cr, $cid) = create($tc, "c$i");
    is($cr->{status}, 201, "token C creates record $i");
    push @ids, $cid;
}
is(call($tc, 'DELETE', "$records/$ids[3]")->{status}, 403,
   'the fourth grant was refused (max=3)');
is(call($tc, 'DELETE', "$records/$ids[0]")->{status}, 204,
   'the first three stand');

# grants kept across a reload
my ($kr, $kid) = create($ta, 'kept');
is($kr->{status}, 201, 'a record before the reload');
is(nginx('-s', 'reload'), 0, 'reload');
select undef, undef, undef, 0.3;
is(call($ta, 'DELETE', "$records/$kid")->{status}, 204,
   'the grant outlives the reload');

# grants expire (ttl=1s)
my $tq = mint_token('quick');
my ($qr, $qid) = create($tq, 'q1', 'quick.example');
my ($qr2, $qid2) = create($tq, 'q2', 'quick.example');
is($qr->{status}, 201, 'a record with a one-second grant');
is(call($tq, 'DELETE', "/v2/domains/quick.example/records/$qid")->{status},
   204, 'deleted at once');
my $st = '';
for (1 .. 30) {
    $st = call($tq, 'DELETE', "/v2/domains/quick.example/records/$qid2")
          ->{status};
    last if $st == 403;
    select undef, undef, undef, 0.1;
}
is($st, 403, 'a grant past its ttl is refused');

# grants end with the token's exp, even where a leeway still takes it
my $te = mint_token('dns01', 2);
my ($er, $eid) = create($te, 'e1');
my ($er2, $eid2) = create($te, 'e2');
is(call($te, 'DELETE', "$records/$eid")->{status}, 204,
   'a token about to expire deletes its record');
$st = '';
for (1 .. 40) {
    $st = call($te, 'DELETE', "$records/$eid2")->{status};
    last if $st == 403;
    select undef, undef, undef, 0.1;
}
is($st, 403, "its other grant ends at the token's exp (1 h ttl)");
is(call($te, 'POST', $records, '{}')->{status}, 201,
   'while the token itself is still taken (leeway)');

# a full zone: grants refused, said once, requests served
my $tf = mint_token('fill');
my ($full, $served, $first, $last) = (0, 0);
for my $i (1 .. 1000) {
    my ($fr, $fid) = create($tf, "f$i", 'fill.example');
    $served++ if $fr->{status} == 201;
    $first //= $fid;
    $last = $fid;
    if ($i % 50 == 0) {
        my $l = do { local (@ARGV, $/) = "$prefix/logs/error.log"; <> };
        last if $full = () = $l =~ /magic_token_zone "small" is full/g;
    }
}
note("the zone filled after " . ($last - $first + 1) . " creates");
is($full, 1, 'the full zone is logged once');
is($served, $last - $first + 1, 'every create was served');
is(call($tf, 'DELETE', "/v2/domains/fill.example/records/$last")->{status},
   403, 'the last create, refused by the full zone, granted nothing');
is(call($tf, 'DELETE', "/v2/domains/fill.example/records/$first")->{status},
   204, 'the first grant stands');

# the zones' counters (magic_token_status)
my $m = $http->get("http://127.0.0.1:$port/metrics")->{content} // '';
sub metric { ($m =~ /^\Q$_[0]\E\{zone="\Q$_[1]\E"\} (\d+)$/m)[0] // 'none' }
# made: A 3 (two, then one before the reload), C 3, E 2, quick 2;
# used: A 3, C 1, E 1, quick 1, and the polls until 403
is(metric('magic_token_grants_made_total', 'state'), 10,
   'magic_token_grants_made_total');
ok(metric('magic_token_grants_used_total', 'state') >= 6,
   'magic_token_grants_used_total');
ok(metric('magic_token_grants', 'state') <= 10, 'magic_token_grants');
is(metric('magic_token_grants', 'small'),
   metric('magic_token_grants_made_total', 'small'),
   'the small zone holds every grant it made (a used one stays)');
ok(metric('magic_token_zone_full_total', 'small') >= 1,
   'the small zone counted its refusals');

# what the API saw
my $calls = $http->get("http://127.0.0.1:$api/calls")->{content};
unlike($calls, qr/^DELETE \S+\/(?:777|$bigid|$ids[3]) /m,
       'no refused delete reached the API');
unlike($calls, qr/^\S+ \S+ (?!Bearer do-secret$)/m,
       'every call bore the decrypted credential');

my $log = do { local (@ARGV, $/) = "$prefix/logs/error.log"; <> };
like($log, qr/magic_token_grant: no grant for scope "dns01" from the response: malformed/,
     'the unsafe id is logged');
like($log, qr/magic_token_grant: a too large response grants nothing/,
     'the large response is logged');
like($log, qr/magic_token_grant: token [0-9a-f]{16} holds 3 grants/,
     'the per-token limit is logged');
unlike($log, qr/do-secret/, 'no credential in the error log');
unlike($log, qr/\[(?:alert|crit|emerg)\]/, 'no alert');

done_testing();
