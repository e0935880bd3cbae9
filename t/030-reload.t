# Reloads with a real nginx master and worker: keys are swapped by
# "nginx -s reload", and a reload with a broken key file is refused while
# the running configuration keeps serving.  Plain Test::More: Test::Nginx
# restarts nginx per block, which is exactly what this must not do.

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
my $mint   = "$root/t/tools/mtmint.py";
my $port   = ($ENV{TEST_NGINX_SERVER_PORT} || 1984) + 10;

plan skip_all => "no module at $module" unless -f $module;

my $prefix = tempdir(CLEANUP => 1);
make_path("$prefix/conf/keys", "$prefix/logs");

for my $k (qw(a b)) {
    system($python, $mint, 'keygen', "$prefix/conf/keys/$k") == 0
        or BAIL_OUT("keygen failed");
}

sub mint_with {
    my ($key) = @_;
    my $tok = `printf 'cred-$key' | $python $mint mint --key $prefix/conf/keys/$key/private.pem --allowed 'GET /up/.*'`;
    chomp $tok;
    return $tok;
}

sub write_conf {
    my ($keyfile) = @_;
    open my $fh, '>', "$prefix/conf/nginx.conf" or die $!;
    print $fh <<"EOF";
@{[ standalone_head($prefix) ]}
    server {
        listen 127.0.0.1:$port;
        location /up/ {
            magic_token on;
            magic_token_key $keyfile;
            proxy_set_header X-Cred \$magic_token_credential;
            proxy_pass http://127.0.0.1:@{[$port + 1]}/;
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

sub get {
    my ($token) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5) or return "connect: $!";
    print $s "GET /up/x HTTP/1.0\r\nAuthorization: Bearer $token\r\n\r\n";
    local $/;
    my $resp = <$s>;
    return $resp // '';
}

sub status { (get(@_) =~ m{^HTTP/1\.\d (\d+)})[0] // 'none' }

sub nginx { system($nginx, '-p', "$prefix/", '-c', 'conf/nginx.conf',
                   '-e', 'logs/error.log', @_) }

sub stop_nginx {
    open my $fh, '<', "$prefix/logs/nginx.pid" or return;
    my $pid = <$fh>;
    close $fh;
    chomp $pid;
    return unless $pid;
    kill 'QUIT', $pid;
    for (1 .. 50) {
        last unless kill 0, $pid;
        select undef, undef, undef, 0.1;
    }
    kill 'KILL', $pid if kill 0, $pid;
}

sub wait_reload {
    # the new worker answers with the new keys once the old one is gone
    my ($token, $want) = @_;
    for (1 .. 50) {
        return 1 if status($token) eq $want;
        select undef, undef, undef, 0.1;
    }
    return 0;
}

my $ta = mint_with('a');
my $tb = mint_with('b');

write_conf("keys/a/private.pem");
is(nginx(), 0, 'nginx starts with key a');
END { stop_nginx() }

ok(wait_reload($ta, 200), 'token of key a is accepted');
like(get($ta), qr/ok \[cred-a\]/, 'credential of key a is decrypted');
is(status($tb), 401, 'token of key b is refused');

# rotation: both keys side by side
write_conf("keys/a/private.pem; magic_token_key keys/b/private.pem");
is(nginx('-s', 'reload'), 0, 'reload with keys a and b');
ok(wait_reload($tb, 200), 'after reload, token of key b is accepted');
is(status($ta), 200, 'token of key a is still accepted');

# a broken key file: nginx -t and the reload are refused
open my $fh, '>', "$prefix/conf/keys/broken.pem" or die $!;
print $fh "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";
close $fh;
write_conf("keys/broken.pem");

my $t = `$nginx -p $prefix/ -c conf/nginx.conf -e logs/error.log -t 2>&1`;
isnt($?, 0, 'nginx -t fails with a broken key file');
like($t, qr/magic_token_key "[^"]*broken\.pem"/,
     'the error names the directive and the file');

nginx('-s', 'reload');
select undef, undef, undef, 1;
is(status($ta), 200, 'after the refused reload, key a still works');
is(status($tb), 200, 'and key b still works');

my $log = do { local (@ARGV, $/) = "$prefix/logs/error.log"; <> };
like($log, qr/\[emerg\].*magic_token_key "[^"]*broken\.pem"/,
     'the refused reload is logged');

# removing key a: its tokens are refused from then on
write_conf("keys/b/private.pem");
is(nginx('-s', 'reload'), 0, 'reload without key a');
ok(wait_reload($ta, 401), 'token of key a is refused after removal');
is(status($tb), 200, 'token of key b is accepted');

unlike($log, qr/cred-[ab]/, 'no credential in the error log');
unlike($log, qr/\Q$ta\E/, 'no token in the error log');

done_testing();
