# The Debian package (make deb) in the machine's own nginx: dpkg -i it,
# "nginx -t" with the module enabled through /etc/nginx/modules-enabled,
# a real request through a test nginx that loads the module the way
# Debian's nginx.conf does (include modules-enabled/*.conf), with a key
# and a token made by the installed magic-token CLI; then remove,
# reinstall and purge it and check that nothing is left behind.
#
# Needs root and the built package (build/libnginx-mod-http-magic-token_
# <version>_<arch>.deb, or MT_DEB=FILE); skipped otherwise, so that
# "make test" stays fast.  "make deb-test" builds the package and runs
# this file.  The machine's state is restored even when a test fails:
# the test nginx is stopped and the package purged (END block).
#
# Ports: TEST_NGINX_SERVER_PORT (or TEST_NGINX_PORT, or 1984) + 16, and
# + 17 for the upstream.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use Test::More;

my $PKG       = 'libnginx-mod-http-magic-token';
my $NGINX     = '/usr/sbin/nginx';
my $SNIPPET   = '/usr/share/nginx/modules-available/mod-http-magic-token.conf';
my $ENABLED   = '/etc/nginx/modules-enabled/50-mod-http-magic-token.conf';
my $SO        = '/usr/lib/nginx/modules/ngx_http_magic_token_module.so';
my $CLI       = '/usr/bin/magic-token';

# "nginx -t" creates an empty /run/nginx.pid: removed again at the end
# when it was not there before
my $had_pidfile = -e '/run/nginx.pid' ? 1 : 0;
# set once this file runs dpkg: only then does the END block clean up
my $installed_by_us = 0;

my $root = abs_path(dirname(__FILE__) . '/..');
my ($version) = do {
    open my $fh, '<', "$root/debian/changelog" or die "changelog: $!";
    (<$fh> =~ /\(([^)]+)\)/);
};
chomp(my $arch = `dpkg --print-architecture 2>/dev/null` // '');
my $deb = $ENV{MT_DEB} || "$root/build/${PKG}_${version}_${arch}.deb";
$deb = abs_path($deb) if -e $deb;

my $base = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
my $port = $base + 16;
my $upstream_port = $base + 17;

plan skip_all => 'needs root: installs the package with dpkg' if $> != 0;
plan skip_all => "no package at $deb (make deb, or make deb-test)"
    unless -f $deb;
plan skip_all => "$NGINX is not installed" unless -x $NGINX;
plan skip_all => "$PKG is already installed here: not touching it"
    if pkg_status() ne 'not-installed';
plan skip_all => 'the stock nginx configuration fails "nginx -t" already'
    unless system("$NGINX -q -t >/dev/null 2>&1") == 0;

# ---- helpers -------------------------------------------------------------

sub sh_quote { my $s = shift; $s =~ s/'/'\\''/g; return "'$s'" }

sub run {
    my $cmd = join ' ', map { sh_quote($_) } @_;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

# dpkg with retries while another dpkg/apt holds the lock
sub dpkg {
    my ($rc, $out);
    for (1 .. 90) {
        ($rc, $out) = run('dpkg', @_);
        last unless $rc != 0 && $out =~ /lock|locked/i;
        sleep 2;
    }
    return ($rc, $out);
}

# "installed", "config-files", "not-installed", ...
sub pkg_status {
    my $s = `dpkg-query -W -f='\${db:Status-Status}' $PKG 2>/dev/null`;
    return $s eq '' ? 'not-installed' : $s;
}

sub stock_nginx_running {
    open my $fh, '<', '/run/nginx.pid' or return 0;
    chomp(my $pid = <$fh> // '');
    return $pid =~ /^\d+$/ && kill(0, $pid) ? 1 : 0;
}

my $tmp = tempdir(CLEANUP => 1);
chmod 0755, $tmp;
my $pidfile = "$tmp/nginx.pid";

sub stop_test_nginx {
    return unless defined $pidfile;
    open my $fh, '<', $pidfile or return;
    chomp(my $pid = <$fh> // '');
    close $fh;
    return unless $pid =~ /^\d+$/ && kill(0, $pid);
    kill 'QUIT', $pid;
    for (1 .. 50) {
        last unless kill(0, $pid);
        select(undef, undef, undef, 0.1);
    }
    kill 'KILL', $pid if kill(0, $pid);
    unlink $pidfile;
}

my $started_stock = 0;

sub workers_of {
    my ($pid) = @_;
    return join ' ', sort split /\s+/, `pgrep -P $pid 2>/dev/null`;
}

sub stock_master { open my $fh, '<', '/run/nginx.pid' or return 0;
                   chomp(my $p = <$fh> // ''); return $p =~ /^\d+$/ ? $p : 0 }

sub stop_stock_nginx {
    return unless $started_stock;
    my $pid = stock_master();
    system("$NGINX -s quit >/dev/null 2>&1");
    for (1 .. 50) {
        last unless $pid && kill(0, $pid);
        select(undef, undef, undef, 0.1);
    }
    kill 'KILL', $pid if $pid && kill(0, $pid);
    $started_stock = 0;
}

# whatever happens: no test nginx left running, the stock nginx stopped
# if this file started it, the package purged
END {
    my $status = $?;
    stop_test_nginx();
    stop_stock_nginx();
    if ($installed_by_us && pkg_status() ne 'not-installed') {
        my ($rc, $out) = dpkg('--purge', $PKG);
        print STDERR "# cleanup: dpkg --purge $PKG: rc $rc\n$out" if $rc;
    }
    unlink '/run/nginx.pid'
        if $> == 0 && !$had_pidfile && -z '/run/nginx.pid';
    $? = $status;
}
$SIG{INT} = $SIG{TERM} = sub { exit 1 };

my $stock_was_running = stock_nginx_running();

# ---- the package's metadata --------------------------------------------

my ($rc, $out) = run('sh', "$root/debian/nginx-abi");
chomp(my $abi = $out);
is($rc, 0, "the installed nginx provides an ABI ($abi)");

($rc, $out) = run('dpkg-deb', '--field', $deb, 'Package', 'Version',
                  'Depends');
like($out, qr/^Package: \Q$PKG\E$/m, 'package name');
like($out, qr/^Version: \Q$version\E$/m, "version $version (debian/changelog)");
like($out, qr/^Depends: .*(?<![\w-])\Q$abi\E(?![\w.-])/m,
     "depends on the exact ABI of the installed nginx ($abi)");

# paths the package will own, and which of them exist already (shared
# directories such as /usr/share/doc): only the others must go away
my @paths = map { s{^\./}{/}r =~ s{/$}{}r }
            grep { $_ ne './' }
            split /\n/, `dpkg-deb --fsys-tarfile '$deb' | tar -tf -`;
ok(scalar(@paths) > 5, scalar(@paths) . ' paths in the package');
my %existed = map { $_ => (-e $_ || -l $_) ? 1 : 0 } @paths;

# ---- install -----------------------------------------------------------

$installed_by_us = 1;
($rc, $out) = dpkg('-i', $deb);
is($rc, 0, 'dpkg -i') or diag($out);
is(pkg_status(), 'installed', 'the package is installed');

my @listed = split /\n/, `dpkg -L $PKG 2>/dev/null`;
for my $f ($SO, $SNIPPET, $CLI, '/usr/share/man/man1/magic-token.1.gz',
           "/usr/share/doc/$PKG/copyright",
           "/usr/share/doc/$PKG/examples/quickstart.conf") {
    ok((grep { $_ eq $f } @listed) && -f $f, "installed: $f");
}

ok(-l $ENABLED, "enabled: $ENABLED is a link");
is(readlink($ENABLED), $SNIPPET, '... to the snippet in modules-available');
{
    open my $fh, '<', $SNIPPET or die "$SNIPPET: $!";
    local $/;
    is(<$fh>, "load_module modules/ngx_http_magic_token_module.so;\n",
       'the snippet loads the module from nginx\'s module directory');
}

($rc, $out) = run($NGINX, '-t');
is($rc, 0, 'nginx -t: the stock configuration with the module enabled')
    or diag($out);
($rc, $out) = run($NGINX, '-T');
like($out, qr{^# configuration file \Q$ENABLED\E:\nload_module modules/ngx_http_magic_token_module\.so;}m,
     'nginx -T: the module is loaded through modules-enabled');

($rc, $out) = run($CLI, '--version');
like($out, qr/^magic-token \Q$version\E /, "magic-token --version: $version");
($rc, $out) = run('sh', '-c', 'gzip -dc /usr/share/man/man1/magic-token.1.gz');
like($out, qr/^\.TH MAGIC-TOKEN 1 /m, 'the man page is roff, gzipped');

# ---- a real request through the installed module -----------------------

($rc, $out) = run($CLI, 'keygen', '--out', "$tmp/keys");
is($rc, 0, 'magic-token keygen') or diag($out);

my $credential = 'real-upstream-credential-' . int(rand(1e9));
open my $cf, '>', "$tmp/cred" or die $!;
print $cf $credential;
close $cf;
($rc, $out) = run($CLI, 'mint', '--key', "$tmp/keys/private.pem",
                  '--allowed', 'GET /up/.*', '--ttl', '10m',
                  '--credential-file', "$tmp/cred");
is($rc, 0, 'magic-token mint') or diag($out);
chomp(my $token = $out);

open my $conf, '>', "$tmp/nginx.conf" or die $!;
print $conf <<"EOF";
# as Debian's /etc/nginx/nginx.conf: modules come from modules-enabled
include /etc/nginx/modules-enabled/*.conf;
worker_processes 1;
daemon on;
pid $pidfile;
error_log $tmp/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $tmp/body;
    proxy_temp_path $tmp/proxy;
    server {
        listen 127.0.0.1:$port;
        location /up/ {
            magic_token on;
            magic_token_key $tmp/keys/private.pem;
            proxy_set_header X-Credential \$magic_token_credential;
            proxy_pass http://127.0.0.1:$upstream_port/;
        }
    }
    server {
        listen 127.0.0.1:$upstream_port;
        location / {
            return 200 "upstream: \$request_method \$uri [\$http_x_credential]\\n";
        }
    }
}
EOF
close $conf;

# no -p: the default prefix /usr/share/nginx, where modules/ is
($rc, $out) = run($NGINX, '-t', '-c', "$tmp/nginx.conf");
is($rc, 0, 'nginx -t on the test configuration') or diag($out);
($rc, $out) = run($NGINX, '-c', "$tmp/nginx.conf");
is($rc, 0, "test nginx started on port $port") or diag($out);
for (1 .. 50) { last if -s $pidfile; select(undef, undef, undef, 0.1) }

my $http = HTTP::Tiny->new(timeout => 10);
my $r = $http->get("http://127.0.0.1:$port/up/hello",
                   { headers => { Authorization => "Bearer $token" } });
is($r->{status}, 200, 'GET /up/hello with the token: 200')
    or diag("$r->{status} $r->{content}");
is($r->{content}, "upstream: GET /hello [$credential]\n",
   'the upstream received the real credential');

$r = $http->get("http://127.0.0.1:$port/up/hello");
is($r->{status}, 401, 'without a token: 401');
$r = $http->post("http://127.0.0.1:$port/up/hello",
                 { headers => { Authorization => "Bearer $token" } });
is($r->{status}, 403, 'POST, outside the token\'s scopes: 403');

stop_test_nginx();
ok(!-e $pidfile, 'test nginx stopped');

# ---- a running stock nginx is reloaded by the maintainer scripts ------

SKIP: {
    skip 'the stock nginx runs already: not touching it', 6
        if $stock_was_running;
    skip 'port 80 is in use: the stock nginx cannot start', 6
        if IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => 80,
                                 Proto => 'tcp', Timeout => 2);

    ($rc, $out) = run($NGINX);
    $started_stock = 1 if $rc == 0;
    is($rc, 0, 'the stock nginx started (by hand, no init system)')
        or diag($out);
    my $master = stock_master();
    for (1 .. 50) { last if workers_of($master); select(undef, undef, undef, 0.1) }
    my $before = workers_of($master);

    my $reloaded = sub {
        my ($old) = @_;
        for (1 .. 50) {
            my $now = workers_of($master);
            return $now if $now && $now ne $old;
            select(undef, undef, undef, 0.1);
        }
        return '';
    };

    ($rc, $out) = dpkg('-i', $deb);
    is($rc, 0, 'dpkg -i while the stock nginx runs') or diag($out);
    my $after = $reloaded->($before);
    ok($after, 'the postinst reloaded it (new workers)');
    my $maps = do { local (@ARGV, $/) = ("/proc/$master/maps"); <> } // '';
    like($maps, qr{/ngx_http_magic_token_module\.so}, '... and it loaded the module');

    ($rc, $out) = dpkg('-r', $PKG);
    is($rc, 0, 'dpkg -r while the stock nginx runs') or diag($out);
    ok($reloaded->($after), 'the prerm reloaded it without the module');

    stop_stock_nginx();
    ($rc, $out) = dpkg('-i', $deb);
    BAIL_OUT("dpkg -i failed: $out") if $rc;
}

# ---- remove, reinstall, purge --------------------------------------------

($rc, $out) = dpkg('-r', $PKG);
is($rc, 0, 'dpkg -r') or diag($out);
ok(!-e $ENABLED && !-l $ENABLED, 'removed: the module is no longer enabled');
ok(!-e $SO, 'removed: the module is gone');
ok(-l "$ENABLED.removed", 'removed: the enabled state is remembered until the purge');
($rc, $out) = run($NGINX, '-t');
is($rc, 0, 'nginx -t after the removal') or diag($out);

($rc, $out) = dpkg('-i', $deb);
is($rc, 0, 'reinstalled') or diag($out);
is(readlink($ENABLED) // '', $SNIPPET, 'reinstalled: enabled again');
ok(!-l "$ENABLED.removed", 'reinstalled: no stale .removed link');

unlink $ENABLED;    # an administrator disables the module
($rc, $out) = dpkg('-i', $deb);
is($rc, 0, 'installed again over itself (an upgrade)') or diag($out);
ok(!-l $ENABLED, 'an upgrade keeps a module the administrator disabled, disabled');

($rc, $out) = dpkg('--purge', $PKG);
is($rc, 0, 'dpkg --purge') or diag($out);
is(pkg_status(), 'not-installed', 'purged: dpkg no longer knows the package');

my @left = grep { !$existed{$_} && (-e $_ || -l $_) } @paths;
is_deeply(\@left, [], 'purged: every path the package brought is gone')
    or diag("left: @left");
my @links = glob('/etc/nginx/modules-enabled/*magic-token*');
is_deeply(\@links, [], 'purged: nothing in /etc/nginx/modules-enabled');
my @info = glob("/var/lib/dpkg/info/$PKG.*");
is_deeply(\@info, [], 'purged: no maintainer scripts left in dpkg\'s database');

($rc, $out) = run($NGINX, '-t');
is($rc, 0, 'nginx -t: the stock configuration still works') or diag($out);
is(stock_nginx_running(), $stock_was_running,
   'the stock nginx is ' . ($stock_was_running ? 'still' : 'still not')
   . ' running');

done_testing();
