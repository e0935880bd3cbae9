package Test::Nginx::Util;

# Minimal, self-written stand-in for the server-management half of
# openresty's Test::Nginx (lib/Test/Nginx/Util.pm).  It is only used when
# the real CPAN distribution is not installed: the Makefile then runs
# `prove -I t/compat -r t/`.  The behaviour (directory layout, generated
# nginx.conf, environment variables, restart policy, error-log reading)
# follows the real module so that test files pass under both runners.
#
# Test::Nginx::Socket (next to this file) implements the HTTP client and
# the per-section checks on top of Test::Base.

use strict;
use warnings;

use Carp qw(croak);
use File::Path qw(make_path remove_tree);
use File::Spec ();
use IO::Socket::INET ();
use POSIX qw(WNOHANG);
use Test::LongString ();
use Test::More ();
use Time::HiRes qw(sleep time);

use Exporter ();
our @ISA = ('Exporter');

our $VERSION = '0.01_compat';

our @EXPORT = qw(
    env_to_nginx is_str no_long_string
    repeat_each no_shuffle log_level workers worker_connections
    master_on master_off master_process_enabled no_root_location
    config_preamble add_block_preprocessor add_cleanup_handler
    server_root html_dir server_port server_port_for_client
    server_addr server_name timeout bail_out check_accum_error_log
    error_log_data access_log_data parse_time trim
    $ServerPort $ServerPortForClient $ServerAddr $ServerName
    $NginxVersion $NginxBinary $ServRoot $ConfFile $PidFile
    $NoLongString $RepeatEach
);

# ---------------------------------------------------------------------
# Settings.  Defaults and environment variables mirror the real module.
# ---------------------------------------------------------------------

our $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                  || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $ServerAddr = '127.0.0.1';     # address the client connects to
our $ServerName = 'localhost';     # server_name and default Host header

our $NginxBinary = $ENV{TEST_NGINX_BINARY} || default_nginx_binary();
our $LogLevel = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled = 'on';
our $Workers = 1;
our $WorkerConnections = 64;
our $RepeatEach = 1;
our $NoShuffle = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $NoLongString;
our $NoRootLocation = 0;
our $Timeout = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $TestNginxSleep = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $Verbose = $ENV{TEST_NGINX_VERBOSE};
our $UseValgrind = $ENV{TEST_NGINX_USE_VALGRIND};
our $LoadModules = $ENV{TEST_NGINX_LOAD_MODULES};
our $CheckAccumErrLog = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $WorkerUser = $ENV{TEST_NGINX_WORKER_USER};
our $ConfigPreamble = '';

our @EnvToNginx;
our @BlockPreprocessors;
our @CleanupHandlers;

# Like the real module: run nginx in the foreground (daemon off) when it
# is wrapped by valgrind so that we own the process.
$DaemonEnabled = 'off' if $UseValgrind;

our $ServRoot = File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT}
                                    || 't/servroot');
our $LogDir     = File::Spec->catfile($ServRoot, 'logs');
our $ErrLogFile = File::Spec->catfile($LogDir, 'error.log');
our $AccLogFile = File::Spec->catfile($LogDir, 'access.log');
our $StderrFile = File::Spec->catfile($LogDir, 'nginx-stderr.log');
our $ValgrindLogFile = File::Spec->catfile($LogDir, 'valgrind.log');
our $HtmlDir    = File::Spec->catfile($ServRoot, 'html');
our $ConfDir    = File::Spec->catfile($ServRoot, 'conf');
our $ConfFile   = File::Spec->catfile($ConfDir, 'nginx.conf');
our $PidFile    = File::Spec->catfile($LogDir, 'nginx.pid');

# The real module exports TEST_NGINX_SERVER_ROOT; TEST_NGINX_HTML_DIR is a
# convenience of this runner (real test files usually set it themselves).
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;
$ENV{TEST_NGINX_HTML_DIR} //= $HtmlDir;

# Runtime state.
our $NginxVersion;          # canonical form, e.g. 1.022001
our $NginxRawVersion;       # e.g. "1.22.1"
our $NginxV = '';           # full `nginx -V` output
our $NginxPid;              # pid of the running (daemonized) nginx
our $ChildPid;              # pid of our forked child (valgrind mode)
our $PrevConfig;            # expanded --- config of the running server
our $PrevBlock;             # previous block (for shutdown_error_log)
our $ErrLogFilePos = 0;     # where the next error_log_data() read starts
our $InSubprocess;          # true in forked helper processes

sub default_nginx_binary {
    for my $dir (split /:/, $ENV{PATH} // '') {
        next if $dir eq '';
        my $path = "$dir/nginx";
        return $path if -f $path && -x _;
    }
    return '/usr/sbin/nginx';
}

# ---------------------------------------------------------------------
# Small exported setters/getters (same names and calling conventions as
# the real module).
# ---------------------------------------------------------------------

sub no_long_string () { $NoLongString = 1 }
sub no_shuffle () { $NoShuffle = 1 }
sub no_root_location () { $NoRootLocation = 1 }
sub master_on () { $MasterProcessEnabled = 'on' }
sub master_off () { $MasterProcessEnabled = 'off' }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub html_dir () { $HtmlDir }
sub server_root () { $ServRoot }
sub config_preamble ($) { $ConfigPreamble = shift }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($) { unshift @CleanupHandlers, shift }

# Getter when called without arguments, setter otherwise.
sub _accessor {
    my ($ref, @args) = @_;
    $$ref = $args[0] if @args;
    return $$ref;
}

sub repeat_each (@) { _accessor(\$RepeatEach, @_) }
sub workers (@) { _accessor(\$Workers, @_) }
sub worker_connections (@) { _accessor(\$WorkerConnections, @_) }
sub log_level (@) { _accessor(\$LogLevel, @_) }
sub timeout (@) { _accessor(\$Timeout, @_) }
sub server_port (@) { _accessor(\$ServerPort, @_) }
sub server_port_for_client (@) { _accessor(\$ServerPortForClient, @_) }
sub server_addr (@) { _accessor(\$ServerAddr, @_) }
sub server_name (@) { _accessor(\$ServerName, @_) }

sub master_process_enabled (@) {
    if (@_) {
        $MasterProcessEnabled = $_[0] ? 'on' : 'off';
    }
    return $MasterProcessEnabled;
}

sub env_to_nginx (@) {
    croak "env_to_nginx: no arguments specified" unless @_;
    for my $v (@_) {
        croak "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

# "100ms" -> 0.1, "2s" -> 2, "1.5" -> 1.5 (same units as the real module).
sub parse_time ($) {
    my $t = shift;
    return undef unless defined $t;
    if ($t =~ /^\s*([\d.]+)\s*ms\s*$/) {
        return $1 / 1000;
    }
    if ($t =~ /^\s*([\d.]+)\s*s?\s*$/) {
        return $1;
    }
    return $t;
}

sub trim ($) {
    my $s = shift;
    return undef unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /g;
    $s =~ s/\s{2,}/ /g;
    return $s;
}

# String comparison used for bodies: a qr// expectation means "like",
# otherwise Test::LongString's is_string (unless no_long_string()).
sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }
    if ($NoLongString) {
        return Test::More::is($got, $expected, $desc);
    }
    return Test::LongString::is_string($got, $expected, $desc);
}

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

# ---------------------------------------------------------------------
# nginx binary information
# ---------------------------------------------------------------------

sub canon_version (@) {
    return sprintf "%d.%03d%03d", @_;
}

sub init_nginx_info () {
    return if defined $NginxVersion;

    $NginxV = `$NginxBinary -V 2>&1`;
    if (!defined $NginxV || $? != 0) {
        bail_out("Failed to run \"$NginxBinary -V\": " . ($NginxV // $!));
    }
    if ($NginxV =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}
        || $NginxV =~ m{\w+/(\d+)\.(\d+)\.(\d+)})
    {
        $NginxRawVersion = "$1.$2.$3";
        $NginxVersion = canon_version($1, $2, $3);
    } else {
        bail_out("Failed to parse the output of \"nginx -V\": $NginxV");
    }
}

# ---------------------------------------------------------------------
# Server root, user files, nginx.conf
# ---------------------------------------------------------------------

# Recreates conf/, html/ and logs/ under the server root.  Like the real
# module only our own sub-directories are removed, never the root itself
# with unknown content, in case TEST_NGINX_SERVROOT points somewhere odd.
sub setup_server_root () {
    if (-d $ServRoot) {
        remove_tree($ConfDir, $HtmlDir, $LogDir,
                    glob("$ServRoot/*_temp"), glob("$ServRoot/*_cache"));
    }
    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        next if -d $dir;
        make_path($dir) or bail_out("Failed to create directory $dir: $!");
    }

    my $index = "$HtmlDir/index.html";
    open my $out, '>', $index or bail_out("Can't open $index: $!");
    print $out '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>';
    close $out;
}

# Replaces $TEST_NGINX_FOO with $ENV{TEST_NGINX_FOO}; an undefined variable
# aborts the run like in the real module.  $TEST_NGINX_RAND_PORT_<N> gets
# a free port, stable within one block.
sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;
    return undef unless defined $text;

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $val;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            $val = $rand_ports->{$var} //= gen_rand_port($rand_ports);
        } else {
            bail_out("$name - No environment $var defined.\n")
                unless defined $ENV{$var};
            $val = $ENV{$var};
        }
        $val;
    }eg;

    return $text;
}

sub gen_rand_port ($) {
    my $used = shift;
    my %used = map { $_ => 1 } $ServerPort, values %$used;
    for (1 .. 1000) {
        my $port = 1985 + int rand 40000;
        next if $used{$port};
        my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                         LocalPort => $port,
                                         Proto => 'tcp',
                                         ReuseAddr => 1);
        if ($sock) {
            close $sock;
            return $port;
        }
    }
    bail_out("Cannot find a free port for \$TEST_NGINX_RAND_PORT_*");
}

# --- user_files: either the text form
#     >>> path/name [touch-date]
#     content...
# or (with the eval filter) an arrayref of [name, content, date].
sub write_user_files ($$) {
    my ($block, $rand_ports) = @_;
    my $name = $block->name;
    my $files = $block->user_files;
    return unless $files;

    if (!ref $files) {
        my @list;
        for my $line (split /^/m, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, undef, $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - --- user_files must be a string or an ARRAY");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        $body //= '';
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{^(.*)/} && !-d $1) {
            make_path($1) or bail_out("$name - Cannot create directory $1");
        }
        $body = expand_env_in_text($body, $name, $rand_ports);
        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!");
        binmode $out;
        print $out $body;
        close $out;
        if ($date) {
            system("TZ=GMT touch -t '$date' '$path'") == 0
                or bail_out("$name - Failed to touch $path");
        }
    }
}

# Debian (and other distro) builds compile the temp directories to
# absolute paths such as /var/lib/nginx/body.  Standard builds use
# directories relative to the prefix, i.e. inside our server root.  For
# the former we point them into the server root explicitly, unless the
# test's http_config sets the directive itself.
sub temp_path_directives ($) {
    my $http_config = shift;
    my $out = '';
    my %opt = (
        client_body => 'http-client-body-temp-path',
        proxy       => 'http-proxy-temp-path',
        fastcgi     => 'http-fastcgi-temp-path',
        uwsgi       => 'http-uwsgi-temp-path',
        scgi        => 'http-scgi-temp-path',
    );
    for my $kind (qw(client_body proxy fastcgi uwsgi scgi)) {
        next unless $NginxV =~ /--$opt{$kind}=/;
        next if $http_config =~ /\b${kind}_temp_path\b/;
        $out .= "    ${kind}_temp_path $ServRoot/${kind}_temp;\n";
    }
    return $out;
}

# Generates conf/nginx.conf.  The layout follows the real module: global
# settings, --- main_config, http { --- http_config, default server with
# --- config and "location /" }, --- post_main_config, events {}.
sub write_config_file ($$$) {
    my ($block, $config, $rand_ports) = @_;
    my $name = $block->name;

    my $main_config = $block->main_config // '';
    if ($LoadModules) {
        $main_config .= join '', map { "load_module $_;\n" }
                                 grep { length } split /\s+/, $LoadModules;
    }
    $main_config = expand_env_in_text($main_config, $name, $rand_ports);
    my $http_config = expand_env_in_text($block->http_config // '',
                                         $name, $rand_ports);
    my $post_main_config = expand_env_in_text(
        $block->post_main_config // '', $name, $rand_ports);
    $config //= '';

    my $server_name = $block->server_name // $ServerName;
    my $temp_paths = temp_path_directives($http_config);

    my $env = '';
    for my $v (@EnvToNginx) {
        $env .= $v =~ /\s/ ? "env '$v';\n" : "env $v;\n";
    }

    my $user = '';
    if (defined $WorkerUser) {
        $user = "user $WorkerUser;\n";
    } elsif ($> == 0) {
        # The real module also switches to "user root" when run as root,
        # otherwise workers (master_on) could not read the server root.
        $user = "user root;\n";
    }

    my $root_location = '';
    if (!$NoRootLocation) {
        $root_location = <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_
    }

    my $conf = <<"_EOC_";
worker_processes  $Workers;
daemon $DaemonEnabled;
master_process $MasterProcessEnabled;
error_log $ErrLogFile $LogLevel;
pid       $PidFile;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env ASAN_OPTIONS;
$env$user
$main_config

http {
    access_log $AccLogFile;

    default_type text/plain;
    keepalive_timeout  68;

$temp_paths
$http_config

    server {
        listen          $ServerPort;
        server_name     '$server_name';

        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main_config

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
}
_EOC_

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!");
    print $out $conf;
    close $out;
}

# ---------------------------------------------------------------------
# Process management
# ---------------------------------------------------------------------

# A daemonized nginx is re-parented to PID 1; in containers that init
# may reap exited processes only after a delay, so a zombie counts as
# "not running".
sub is_running ($) {
    my $pid = shift;
    return 0 unless defined $pid && $pid > 0 && kill(0, $pid);
    if (open my $in, '<', "/proc/$pid/stat") {
        my $stat = <$in> // '';
        close $in;
        return 0 if $stat =~ /^\d+ \(.*\) Z/s;
    }
    return 1;
}

sub read_pid_file () {
    open my $in, '<', $PidFile or return undef;
    my $pid = <$in>;
    close $in;
    return undef unless defined $pid && $pid =~ /^\s*(\d+)/;
    return $1;
}

sub slurp ($) {
    my $file = shift;
    open my $in, '<', $file or return '';
    local $/;
    my $data = <$in>;
    close $in;
    return $data // '';
}

# Command line used to start nginx.  "-e" (nginx >= 1.19.5) makes errors
# that happen before the error_log directive is parsed go to error.log:
# distro builds often default to stderr (--error-log-path=stderr), while a
# standard build -- what the real module assumes -- defaults to
# <prefix>/logs/error.log, which is exactly this file.
sub nginx_command () {
    my @cmd = ($NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile);
    if ($NginxVersion >= 1.019005) {
        push @cmd, '-e', $ErrLogFile;
    }
    if ($UseValgrind) {
        my @vg = ('valgrind', '-q', "--log-file=$ValgrindLogFile");
        if ($UseValgrind =~ /^\d+$/) {
            push @vg, '--tool=memcheck', '--leak-check=full',
                      '--show-possibly-lost=no', '--num-callers=100';
            push @vg, '--suppressions=valgrind.suppress'
                if -f 'valgrind.suppress';
        } else {
            push @vg, split ' ', $UseValgrind;
        }
        unshift @cmd, @vg;
    }
    return @cmd;
}

# Starts nginx.  Returns the wait status of the start command (0 on
# success) -- in daemon mode the foreground process exits once nginx
# has bound its sockets and daemonized, exactly what the real module
# checks.  stderr is captured in logs/nginx-stderr.log.
sub start_nginx ($) {
    my $name = shift;
    my @cmd = nginx_command();

    warn "$name - starting: @cmd\n" if $Verbose;
    unlink $PidFile;

    my $pid = fork();
    bail_out("$name - fork() failed: $!") unless defined $pid;
    if ($pid == 0) {
        $InSubprocess = 1;
        setpgrp(0, 0) if $UseValgrind;
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', $StderrFile;
        exec { $cmd[0] } @cmd or POSIX::_exit(127);
    }

    if ($DaemonEnabled eq 'off') {
        # Foreground nginx (valgrind mode): we own the process.  Treat it
        # as started once it accepts connections; if it exits before
        # that, report its exit status.
        $ChildPid = $pid;
        my $deadline = time + ($UseValgrind ? 60 : 10);
        while (time < $deadline) {
            my $r = waitpid($pid, WNOHANG);
            if ($r == $pid) {
                undef $ChildPid;
                return $? || 1 << 8;
            }
            return 0 if port_is_listening($ServerPort);
            sleep 0.05;
        }
        return 0;
    }

    waitpid($pid, 0);
    my $status = $?;
    return $status if $status != 0;

    # The daemon writes its pid file right after forking, so wait for it.
    my $deadline = time + 5;
    while (time < $deadline) {
        $NginxPid = read_pid_file();
        last if $NginxPid;
        sleep 0.01;
    }
    return 0;
}

# Is something listening on TCP $port?  Read from /proc/net/tcp{,6} so
# that no probe connection shows up in error.log (tests check its
# contents, including connection numbers like "*1").  Falls back to a
# connect() probe where /proc is not available.
sub port_is_listening ($) {
    my $port = shift;
    my $hex = sprintf '%04X', $port;
    my $have_proc;
    for my $file ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $in, '<', $file or next;
        $have_proc = 1;
        while (my $line = <$in>) {
            # "sl local_address rem_address st ..."; st 0A is LISTEN
            my @f = split ' ', $line;
            next unless @f > 3 && $f[3] eq '0A';
            if ($f[1] =~ /:$hex$/) {
                close $in;
                return 1;
            }
        }
        close $in;
    }
    return 0 if $have_proc;

    my $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr,
                                     PeerPort => $port,
                                     Proto => 'tcp', Timeout => 0.5);
    return 0 unless $sock;
    close $sock;
    return 1;
}

# Waits until nginx listens (a few seconds at most; longer for valgrind).
sub wait_for_nginx ($) {
    my $name = shift;
    my $deadline = time + ($UseValgrind ? 30 : 5);
    while (time < $deadline) {
        return 1 if port_is_listening($ServerPort);
        sleep 0.02;
    }
    return 0;
}

# Sends QUIT, waits, escalates to TERM and KILL.
sub kill_process ($$) {
    my ($pid, $name) = @_;
    return unless is_running($pid);

    for my $step (['QUIT', $Timeout], ['TERM', 2], ['KILL', 2]) {
        my ($sig, $wait) = @$step;
        warn "$name - sending $sig to $pid\n" if $Verbose;
        kill $sig, $pid;
        my $deadline = time + $wait;
        while (time < $deadline) {
            waitpid($pid, WNOHANG);
            return unless is_running($pid);
            sleep 0.01;
        }
        warn "$name - nginx process $pid did not exit on SIG$sig\n"
            unless $sig eq 'KILL';
    }
}

sub stop_nginx ($) {
    my $name = shift;

    my $pid = $ChildPid // $NginxPid // read_pid_file();
    if (defined $pid) {
        kill_process($pid, $name);
        waitpid($ChildPid, 0) if defined $ChildPid;
    }
    # With master_on(), the workers normally exit with the master; make
    # sure nothing is left listening from an older run either.
    my $file_pid = read_pid_file();
    if (defined $file_pid && (!defined $pid || $file_pid != $pid)) {
        kill_process($file_pid, $name);
    }
    undef $ChildPid;
    undef $NginxPid;
    unlink $PidFile;

    check_valgrind_log($name) if $UseValgrind;
}

sub check_valgrind_log ($) {
    my $name = shift;
    my $report = slurp($ValgrindLogFile);
    return unless $report =~ /\S/;
    unlink $ValgrindLogFile;
    Test::More::diag("valgrind report:\n$report");
    Test::More::fail("$name - valgrind reported errors");
}

sub cleanup () {
    return if $InSubprocess;
    $_->() for @CleanupHandlers;
    stop_nginx('cleanup');
}

# ---------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------

# Lines of error.log written since the previous call (or all lines with
# check_accum_error_log()).  Sleeps briefly first since nginx may still
# be logging (log phase runs after the response is sent).
sub error_log_data () {
    sleep $TestNginxSleep * 3;

    open my $in, '<', $ErrLogFile or return [];
    seek $in, $ErrLogFilePos, 0 if !$CheckAccumErrLog && $ErrLogFilePos;
    my @lines = <$in>;
    $ErrLogFilePos = tell $in unless $CheckAccumErrLog;
    close $in;
    return \@lines;
}

sub access_log_data () {
    sleep $TestNginxSleep * 3;
    open my $in, '<', $AccLogFile or return [];
    my @lines = <$in>;
    close $in;
    return \@lines;
}

# Called from END in case the test script died before run_tests finished.
END {
    if (!$InSubprocess) {
        local $?;
        cleanup();
    }
}

for my $sig (qw(INT TERM HUP)) {
    $SIG{$sig} = sub {
        cleanup() unless $InSubprocess;
        POSIX::_exit(128 + 1) if $InSubprocess;
        exit 130;
    };
}

1;
