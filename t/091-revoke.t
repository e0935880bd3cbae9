# Revocations in a magic_token_zone (magic_token_revocation) and the
# admin API (magic_token_admin), with a real master and two workers:
# revoked tokens are refused by every worker at once, the list survives
# reloads and restarts through its file, the CLI edits the file offline,
# a corrupt file is refused while the running nginx keeps its list, and
# revocations expire.  Plain Test::More: the flow needs reloads,
# restarts and several workers.

use strict;
use warnings;

use Cwd qw(abs_path);
use Digest::SHA qw(sha256_hex);
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
             + 20;

plan skip_all => "no module at $module" unless -f $module;
plan skip_all => "no CLI at $cli" unless -x $cli;

my $prefix = tempdir(CLEANUP => 1);
# the workers (another user when run as root) open the file in it
chmod 0755, $prefix;
make_path("$prefix/conf", "$prefix/logs");

system("$python $mint keygen $prefix/conf/k >/dev/null") == 0
    or BAIL_OUT("keygen failed");

my $file  = "$prefix/revoked";
my $small = "$prefix/small";

sub cli {
    my $out = `$cli revoke @_ 2>&1`;
    return ($? >> 8, $out);
}

is((cli($file, 'init'))[0], 0, 'magic-token revoke init creates the file');
is((cli($small, 'init'))[0], 0, 'and a second one');

my $now = time;

sub mint {
    my (%o) = @_;
    my @args = ('--key', "$prefix/conf/k/private.pem");
    push @args, defined $o{cred} ? ('--credential', $o{cred})
                                 : ('--no-credential');
    push @args, '--allowed', 'GET /up/.*';
    push @args, '--jti', $o{jti} if defined $o{jti};
    push @args, '--iat', $o{iat} if defined $o{iat};
    push @args, '--exp', $o{exp} if defined $o{exp};
    push @args, map { ('--claim', $_) } @{ $o{claims} || [] };
    my $pid = open(my $fh, '-|') // die "fork: $!";
    exec($python, $mint, 'mint', @args) or die "exec: $!" if $pid == 0;
    my $tok = do { local $/; <$fh> };
    close $fh;
    chomp $tok;
    return $tok;
}

sub token_id {
    my ($t) = @_;
    return substr(sha256_hex(substr($t, 0, rindex($t, '.'))), 0, 16);
}

my %t = (
    jti      => mint(cred => 'cred-jti', jti => 'jti-1'),
    id       => mint(cred => 'cred-id'),
    sub_old  => mint(cred => 'cred-so', iat => $now - 100,
                     claims => ['sub="svc-a"']),
    sub_new  => mint(cred => 'cred-sn', iat => $now - 10,
                     claims => ['sub="svc-a"']),
    aud_old  => mint(cred => 'cred-ao', iat => $now - 100,
                     claims => ['aud=["x","lockbox"]']),
    aud_new  => mint(cred => 'cred-an', iat => $now - 10,
                     claims => ['aud="lockbox"']),
    other    => mint(cred => 'cred-other', jti => 'jti-other'),
    id_jti   => mint(cred => 'cred-idj', jti => 'jti-as-id'),
    admin    => mint(claims => ['admin=true']),
    cred_adm => mint(cred => 'cred-adm', claims => ['admin=true']),
    cnf_adm  => mint(claims => ['admin=true', 'cnf={"jkt":"x"}']),
    user     => mint(claims => ['admin=false']),
);

my $mt_size = '1m';

sub write_conf {
    my $head = standalone_head($prefix);
    $head =~ s/worker_processes 1;/worker_processes 2;/;
    open my $fh, '>', "$prefix/conf/nginx.conf" or die $!;
    print $fh <<"EOF";
$head
    magic_token_zone mt:$mt_size revocations=$file;
    magic_token_zone small:32k revocations=$small;
    magic_token_key k/private.pem;
    magic_token_revocation zone=mt;
    server {
        listen 127.0.0.1:$port;
        add_header X-Pid \$pid always;
        add_header X-Err \$magic_token_error always;
        location /up/ {
            magic_token on;
            magic_token_cache size=100;
            proxy_set_header X-Cred \$magic_token_credential;
            proxy_pass http://127.0.0.1:@{[$port + 1]}/;
        }
        location = /admin {
            magic_token_admin zone=mt;
        }
        location = /admin-small {
            magic_token_admin zone=small;
        }
    }
    server {
        listen 127.0.0.1:@{[$port + 1]};
        location / { return 200 "ok [\$http_x_cred]\\n"; }
    }
}
EOF
    close $fh;
}

# (status, headers, body)
sub http {
    my ($method, $path, $token, $body, @hdrs) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5) or return (0, '', "$!");
    my $req = "$method $path HTTP/1.0\r\nHost: localhost\r\n";
    $req .= "Authorization: Bearer $token\r\n" if defined $token;
    $req .= "$_\r\n" for @hdrs;
    $req .= "Content-Length: " . length($body) . "\r\n" if defined $body;
    $req .= "\r\n";
    $req .= $body if defined $body;
    print $s $req;
    local $/;
    my $resp = <$s> // '';
    my ($head, $content) = split /\r\n\r\n/, $resp, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.\d (\d+)};
    return ($status // 0, $head // '', $content // '');
}

sub status { (http('GET', '/up/x', $_[0]))[0] }

sub admin {
    my ($method, $body, $token) = @_;
    my ($st, $h, $b) = http($method, '/admin', $token // $t{admin}, $body);
    return ($st, $b, $h);
}

# every worker refuses (or serves) the token: requests on new connections
# until both workers have answered (they take turns as the kernel wakes
# them), each answer as expected
sub all_workers {
    my ($token, $want) = @_;
    my %pids;
    for (1 .. 200) {
        my ($st, $h) = http('GET', '/up/x', $token);
        return "status $st" unless $st == $want;
        my ($pid) = $h =~ /^X-Pid: (\d+)/mi;
        $pids{$pid}++ if $pid;
        return 'ok' if keys %pids >= 2;
    }
    return 'only one worker answered';
}

sub nginx { system($nginx, '-p', "$prefix/", '-c', 'conf/nginx.conf',
                   '-e', 'logs/error.log', @_) }

sub master_pid {
    open my $fh, '<', "$prefix/logs/nginx.pid" or return;
    my $pid = <$fh>;
    chomp $pid if defined $pid;
    return $pid;
}

sub stop_nginx {
    my $pid = master_pid() or return;
    kill 'QUIT', $pid;
    for (1 .. 50) {
        last unless kill 0, $pid;
        select undef, undef, undef, 0.1;
    }
    kill 'KILL', $pid if kill 0, $pid;
    unlink "$prefix/logs/nginx.pid";
}

sub start_nginx {
    is(nginx(), 0, $_[0]);
    for (1 .. 50) {
        last if IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port");
        select undef, undef, undef, 0.1;
    }
}

# a reload is done when the old workers are gone
sub reload_nginx {
    my $master = master_pid();
    my @old = split ' ', `ps -o pid= --ppid $master`;
    is(nginx('-s', 'reload'), 0, $_[0]);
    for (1 .. 50) {
        last unless grep { kill 0, $_ } @old;
        select undef, undef, undef, 0.1;
    }
}

sub slurp { local (@ARGV, $/) = @_; <> }

write_conf();
start_nginx('nginx starts with an empty revocations file');
END { stop_nginx() }

for my $k (qw(jti id sub_old sub_new aud_old aud_new other id_jti)) {
    is(status($t{$k}), 200, "$k: accepted before any revocation");
}

# ---- the admin API refuses who may not administer, and bad requests ----

{
    my ($st, $h, $b) = http('GET', '/admin');
    is($st, 401, 'admin: no token, 401');
    like($h, qr/^WWW-Authenticate: Bearer realm="magic-token"\r?$/mi,
         'with a challenge');
    is($b, qq({"error":"unauthorized","detail":"an admin token is required"}\n),
       'and a JSON error');

    ($st, $b) = admin('GET', undef, $t{cred_adm});
    is($st, 403, 'admin: a token with a credential, 403 even with admin');
    like($b, qr/"detail":"a token that carries a credential cannot administer"/,
         'it says why');

    ($st, $b) = admin('GET', undef, $t{cnf_adm});
    is($st, 403, 'admin: a token with a "cnf" claim (holder-bound), 403');
    like($b, qr/"detail":"a token with a \\"cnf\\" claim cannot administer"/,
         'it says why');

    ($st, $b) = admin('GET', undef, $t{user});
    is($st, 403, 'admin: a token without "admin": true, 403');

    ($st, $b) = admin('GET', undef, $t{admin} . 'x');
    is($st, 401, 'admin: a bad signature, 401');
    like($b, qr/"error":"invalid_token"/, 'invalid_token');

    ($st, $b, $h) = admin('PUT', '{}');
    is($st, 405, 'admin: PUT, 405');
    like($h, qr/^Allow: GET, HEAD, POST, DELETE\r?$/mi, 'with Allow');
    like($b, qr/"error":"method_not_allowed"/, 'and a JSON error');

    ($st, $b) = admin('POST', '{"jti":"a","until":');
    is($st, 400, 'admin: bad JSON, 400');
    is($b, qq({"error":"bad_request","detail":"not a JSON object"}\n),
       'the JSON error');

    ($st, $b) = admin('POST', '{"jti":"a","until":' . ($now + 60)
                              . ',"reason":"x"}');
    is($st, 400, 'admin: an unknown field, 400');
    like($b, qr/unknown field \\"reason\\"/, 'named');

    ($st, $b) = admin('POST', '{"jti":"a"}');
    is($st, 400, 'admin: no until, 400');
    like($b, qr/\\"until\\" is required/, 'said');

    ($st, $b) = admin('POST', '{"jti":"a","until":' . ($now + 60) . '}'
                              . (' ' x 5000));
    is($st, 413, 'admin: an oversize body, 413');
    like($b, qr/"error":"too_large"/, 'a JSON error');

    ($st, $b) = admin('DELETE', '{"jti":"nothing"}');
    is($st, 404, 'admin: un-revoking what is not revoked, 404');
    like($b, qr/"error":"not_found"/, 'a JSON error');

    my $cli_admin = `$cli mint --key $prefix/conf/k/private.pem --admin --ttl 10m`;
    chomp $cli_admin;
    ($st, $b) = admin('GET', undef, $cli_admin);
    is($st, 200, 'admin: a token of magic-token mint --admin lists');
    is(status($cli_admin), 403, 'and is no proxy token (no scope)');

    ($st, $b) = admin('GET');
    is($st, 200, 'admin: GET lists');
    is($b, "{\"revocations\":[\n]}\n", 'nothing yet');
}

# ---- revoke by jti, id, sub and aud cut-offs ----

my $until = $now + 3600;
my ($st, $b);

($st, $b) = admin('POST', qq({"jti":"jti-1","until":$until}));
is($st, 200, 'revoke by jti');
is($b, qq({"revoked":{"jti":"jti-1","until":$until}}\n), 'the record');
is(all_workers($t{jti}, 401), 'ok', 'jti: refused by both workers at once');

{
    my ($s, $h) = http('GET', '/up/x', $t{jti});
    like($h, qr/^X-Err: revoked\r?$/mi, '$magic_token_error is "revoked"');
    like($h, qr/error="invalid_token"/, 'an invalid_token challenge');
}

my $id = token_id($t{id});
($st, $b) = admin('POST', qq({"id":"$id","until":$until}));
is($st, 200, 'revoke by token id');
is(all_workers($t{id}, 401), 'ok', 'id: refused by both workers');

($st, $b) = admin('POST', qq({"id":"jti-as-id","until":$until}));
is($st, 200, 'revoke by a $magic_token_id that is a jti');
is(all_workers($t{id_jti}, 401), 'ok', 'refused by both workers');

my $cut = $now - 50;
($st, $b) = admin('POST', qq({"sub":"svc-a","before":$cut,"until":$until}));
is($st, 200, 'revoke a sub before a time');
is(all_workers($t{sub_old}, 401), 'ok', 'sub: an older token is refused');
is(all_workers($t{sub_new}, 200), 'ok', 'sub: a newer token still works');

($st, $b) = admin('POST', qq({"aud":"lockbox","before":$cut,"until":$until}));
is($st, 200, 'revoke an aud before a time');
is(all_workers($t{aud_old}, 401), 'ok',
   'aud: an older token (aud in an array) is refused');
is(all_workers($t{aud_new}, 200), 'ok', 'aud: a newer token still works');
is(status($t{other}), 200, 'another token is not touched');

($st, $b) = admin('GET');
is(() = $b =~ /^\{"(?:jti|id|sub|aud)"/mg, 5, 'the list has five records');

($st, $b) = admin('GET', undef, mint(claims => ['admin=true'],
                                     jti => 'jti-1'));
is($st, 401, 'a revoked admin token cannot administer');

# ---- un-revoke ----

($st, $b) = admin('DELETE', '{"jti":"jti-1"}');
is($st, 200, 'un-revoke the jti');
is($b, qq({"unrevoked":{"jti":"jti-1","removed":true}}\n), 'the removal');
is(all_workers($t{jti}, 200), 'ok', 'the token works again in both workers');

# ---- reload and restart keep the list ----

reload_nginx('reload');
is(status($t{id}), 401, 'after a reload: the id is still revoked');
is(status($t{sub_old}), 401, 'the sub cut-off too');
is(status($t{jti}), 200, 'the un-revoked jti still works');

stop_nginx();
start_nginx('restart');
is(all_workers($t{id}, 401), 'ok', 'after a restart: the id is revoked');
is(status($t{aud_old}), 401, 'the aud cut-off too');
is(status($t{aud_new}), 200, 'a newer aud token works');
is(status($t{jti}), 200, 'the un-revoked jti works');

my $content = slurp($file);
unlike($content, qr/removed/, 'the start compacted the file');
is(() = $content =~ /^\{/mg, 4, 'four records in it');

# ---- the CLI, offline ----

stop_nginx();
is((cli($file, 'add', '--jti', 'jti-other', '--until', '+1h'))[0], 0,
   'cli: add a jti offline');
is((cli($file, 'remove', '--id', $id))[0], 0, 'cli: remove the id');
my ($rc, $out) = cli($file, 'list');
is($rc, 0, 'cli: list');
like($out, qr/^\{"jti":"jti-other","until":\d+\}$/m, 'shows the new one');
start_nginx('restart after the CLI');
is(all_workers($t{other}, 401), 'ok', 'the CLI revocation is in force');
is(all_workers($t{id}, 200), 'ok', 'the CLI removal too');

# a reload that resizes the zone: a new zone, loaded from the file
$mt_size = '2m';
write_conf();
reload_nginx('reload with a larger zone');
is(all_workers($t{other}, 401), 'ok', 'the resized zone has the list');
is(status($t{sub_old}), 401, 'cut-offs included');

# ---- expiry: a revocation goes at its until ----

my $soon = time + 2;
($st, $b) = admin('POST', qq({"jti":"soon","until":$soon}));
is($st, 200, 'a revocation that expires in two seconds');
like((admin('GET'))[1], qr/"soon"/, 'is listed');
my $gone = 0;
for (1 .. 40) {
    if ((admin('GET'))[1] !~ /"soon"/) { $gone = 1; last }
    select undef, undef, undef, 0.1;
}
ok($gone, 'and is gone once expired');

# ---- a corrupt or half-written file ----

my $good = slurp($file);

open my $fh, '>>', $file or die $!;
print $fh '{"jti":"half","unt';
close $fh;

my $t_out = `$nginx -p $prefix/ -c conf/nginx.conf -e logs/error.log -t 2>&1`;
isnt($?, 0, 'nginx -t fails with a half-written record');
like($t_out, qr/revocations file "\Q$file\E" of magic_token_zone "mt", line \d+: the last line does not end with a newline/,
     'the message names the file and the line');

($st, $b) = admin('POST', qq({"jti":"more","until":$until}));
is($st, 500, 'an append after a half-written record is refused');
like($b, qr/"error":"not_saved"/, 'a JSON error');
unlike((admin('GET'))[1], qr/"more"/, 'and nothing was revoked');

system("$nginx -p $prefix/ -c conf/nginx.conf -e logs/error.log -s reload "
       . "2>/dev/null");
select undef, undef, undef, 0.5;
like(slurp("$prefix/logs/error.log"),
     qr/\[emerg\].*revocations file "\Q$file\E".*line \d+/,
     'the refused reload is logged');
is(all_workers($t{other}, 401), 'ok',
   'the running nginx keeps refusing revoked tokens');
is(status($t{sub_new}), 200, 'and serving the others');

open $fh, '>', $file or die $!;
print $fh $good, "not json\n";
close $fh;
$t_out = `$nginx -p $prefix/ -c conf/nginx.conf -e logs/error.log -t 2>&1`;
like($t_out, qr/line \d+: not a JSON object/, 'a corrupt line is refused');

open $fh, '>', $file or die $!;
close $fh;
$t_out = `$nginx -p $prefix/ -c conf/nginx.conf -e logs/error.log -t 2>&1`;
like($t_out, qr/line 1: not a revocation file/,
     'an empty (truncated) file is refused, not taken for no revocation');

rename $file, "$file.away";
$t_out = `$nginx -p $prefix/ -c conf/nginx.conf -e logs/error.log -t 2>&1`;
like($t_out, qr/revocations file "\Q$file\E" of magic_token_zone "mt" does not exist: create it with "magic-token revoke \Q$file\E init"/,
     'a missing file is refused');

open $fh, '>', $file or die $!;
print $fh $good;
close $fh;
chown((stat "$file.away")[4, 5], $file);
is(system("$nginx -p $prefix/ -c conf/nginx.conf -e logs/error.log -t -q"),
   0, 'the repaired file passes nginx -t');

# ---- a full zone refuses, and keeps what it has ----

my ($full, $n) = (0, 0);
while ($n < 3000) {
    my ($s, undef, $body) = http('POST', '/admin-small', $t{admin},
                                 qq({"jti":"fill-$n","until":$until}));
    if ($s == 507) {
        $full = 1;
        like($body, qr/"error":"zone_full"/, 'a full zone: 507, JSON');
        last;
    }
    last unless $s == 200;
    $n++;
}
ok($full, "the small zone is full after $n revocations");
{
    my (undef, undef, $body) = http('GET', '/admin-small', $t{admin});
    is(() = $body =~ /"fill-/g, $n, 'none of them was dropped');
    like(slurp("$prefix/logs/error.log"), qr/magic_token_zone "small" is full/,
         'the zone said it is full');
}

# ---- hygiene ----

my $log = slurp("$prefix/logs/error.log");
unlike($log, qr/cred-/, 'no credential in the error log');
unlike($log, qr/\Q$t{admin}\E/, 'no admin token in the error log');
like($log, qr/magic_token_admin: revoked \{"jti":"jti-1"/,
     'revocations are logged');

done_testing();
