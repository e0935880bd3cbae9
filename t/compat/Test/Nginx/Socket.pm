package Test::Nginx::Socket;

# Self-written, compatible subset of openresty's Test::Nginx::Socket, used
# only when the real CPAN module is absent (prove -I t/compat).  Test files
# written in the Test::Nginx::Socket block format run unchanged under both.
#
# NOTE: "use Test::Base -Base" turns on Spiffy's source filter for this
# file: a named sub written at the start of a line as `sub foo {` gets an
# implicit `my $self = shift;`.  Every sub below is therefore declared with
# a prototype -- `sub foo () {` (the filter strips the empty prototype and
# the sub receives its arguments in @_ as usual) or a real one like ($).

use Test::Base -Base;

use Digest::MD5 ();
use Digest::SHA ();
use Encode ();
use File::Temp ();
use HTTP::Response ();
use IO::Select ();
use IO::Socket::INET ();
use IO::Socket::UNIX ();
use List::Util qw(min shuffle);
use POSIX ();
use Scalar::Util qw(looks_like_number);
use Socket qw(SOCK_STREAM);
use Test::LongString ();
use Time::HiRes qw(sleep time);

use Test::Nginx::Util;

our $VERSION = '0.01_compat';

our @EXPORT = qw(
    env_to_nginx is_str plan run_tests run_test
    repeat_each config_preamble worker_connections master_process_enabled
    no_long_string workers master_on master_off log_level no_shuffle
    no_root_location server_name server_addr server_root html_dir
    server_port server_port_for_client timeout check_accum_error_log
    add_block_preprocessor bail_out add_cleanup_handler
    add_response_body_check no_nginx_manager use_hup
);

our @ResponseBodyChecks;
our $NoNginxManager = $ENV{TEST_NGINX_NO_NGINX_MANAGER} || 0;

sub add_response_body_check ($) { push @ResponseBodyChecks, shift }
sub no_nginx_manager () { $NoNginxManager = 1 }

# HUP-reload mode is not implemented: nginx is always restarted.
sub use_hup () { }

# ---------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------

sub run_tests () {
    Test::Nginx::Util::init_nginx_info();
    $ENV{TEST_NGINX_SERVER_PORT} //= $ServerPort;

    my @blocks = Test::Base::blocks();
    # The real module shuffles blocks unless no_shuffle() or
    # TEST_NGINX_NO_SHUFFLE is in effect.
    @blocks = shuffle @blocks unless $Test::Nginx::Util::NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @Test::Nginx::Util::BlockPreprocessors;

        # Test names carry the script name, e.g. "t/foo.t TEST 1: x".
        $block->set_value(name => "$0 " . $block->name);
        run_test($block);
        $Test::Nginx::Util::PrevBlock = $block;
    }

    stop_server('end of tests');
}

# Stops the running nginx, then runs the previous block's
# --- shutdown_error_log checks on what nginx logged while exiting.
sub stop_server () {
    my $name = shift;
    my $prev = $Test::Nginx::Util::PrevBlock;

    # valgrind findings are reported under the block that ran the server
    Test::Nginx::Util::stop_nginx($prev ? $prev->name : $name);

    if ($prev && defined $prev->shutdown_error_log) {
        check_shutdown_error_log($prev);
    }
    undef $Test::Nginx::Util::PrevBlock;
}

# Evaluates --- skip_nginx / skip_nginx2 / skip_eval / todo.
# Returns ($should_skip, $tests_to_skip, $skip_reason, $should_todo,
# $todo_reason).
sub skip_info () {
    my $block = shift;
    my $name = $block->name;
    my ($skip, $ntests, $reason, $todo, $todo_reason);
    my $ver = $Test::Nginx::Util::NginxVersion;
    my $cmp = sub {
        my ($op, @v) = @_;
        my $want = Test::Nginx::Util::canon_version(@v);
        return eval "$ver $op $want";
    };

    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            ($ntests, $reason) = ($1, 'skip_eval');
            my $code = $2;
            $skip = eval $code;
            bail_out("$name - skip_eval - failed to eval \"$code\": $@")
                if $@;
        }
    }

    if (defined(my $spec = $block->skip_nginx)) {
        my @m = $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)
                          (?:\s*:\s*(.*?))?\s*$/x
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        $ntests = $m[0];
        $reason = $m[5] || "nginx version $m[1] $m[2].$m[3].$m[4]";
        $skip = 1 if $cmp->(@m[1 .. 4]);

    } elsif (defined(my $spec2 = $block->skip_nginx2)) {
        my @m = $spec2 =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)
                           \s*(or|and)\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)
                           (?:\s*:\s*(.*?))?\s*$/x
            or bail_out("$name - Invalid --- skip_nginx2 spec: $spec2");
        $ntests = $m[0];
        $reason = $m[10];
        my $first = $cmp->(@m[1 .. 4]);
        my $second = $cmp->(@m[6 .. 9]);
        $skip = 1 if $m[5] eq 'or' ? ($first || $second)
                                   : ($first && $second);
    }

    if (defined(my $spec = $block->todo)) {
        $spec =~ /^\s*(\d+)\s*:\s*(.*)/s
            or bail_out("$name - Invalid --- todo spec: $spec");
        ($todo, $ntests, $todo_reason) = (1, $1, $2);
    }

    return ($skip, $ntests, $reason // 'various reasons',
            $todo, $todo_reason // 'various reasons');
}

sub run_test () {
    my $block = shift;
    my $name = $block->name;
    my $rand_ports = {};

    my $config = Test::Nginx::Util::expand_env_in_text($block->config,
                                                       $name, $rand_ports);

    local $Test::Nginx::Util::LogLevel =
        $block->log_level || $Test::Nginx::Util::LogLevel;

    my ($should_skip, $tests_to_skip, $skip_reason, $should_todo,
        $todo_reason) = skip_info($block);

    if ($NoNginxManager) {
        # Somebody else manages the server.

    } elsif (!defined $config) {
        # Like the real module: a block without --- config reuses the
        # server started for the previous block.
        bail_out("$name - No '--- config' section specified and could "
                 . "not get previous one.")
            unless defined $Test::Nginx::Util::PrevConfig;

    } elsif (!$should_skip) {
        # The real module restarts nginx for every block that has a
        # --- config (TEST_NGINX_FORCE_RESTART_ON_TEST defaults to 1).
        stop_server($name);
        Test::Nginx::Util::setup_server_root();
        Test::Nginx::Util::write_user_files($block, $rand_ports);
        Test::Nginx::Util::write_config_file($block, $config, $rand_ports);
        $Test::Nginx::Util::PrevConfig = $config;
        $Test::Nginx::Util::ErrLogFilePos = 0;

        if (defined $block->must_die) {
            run_must_die($block);
            return;
        }

        start_or_bail($name);
    }

    if (defined(my $init = $block->init)) {
        eval $init;
        bail_out("$name - init failed: $@") if $@;
    }

    # Error-log checks of a block see the log from its beginning (nginx
    # was restarted, so normally just this block's lines); repeated
    # requests only see what was logged since the previous check.
    $Test::Nginx::Util::ErrLogFilePos = 0;

    for my $i (1 .. $RepeatEach) {
        Test::Nginx::Util::write_user_files($block, $rand_ports) if $i > 1;

        my $tcp = start_tcp_server($block);

        if ($should_skip && defined $tests_to_skip) {
            SKIP: {
                skip("$name - $skip_reason", $tests_to_skip);
            }
        } elsif ($should_todo) {
            TODO: {
                todo_skip("$name - $todo_reason", $tests_to_skip);
            }
        } else {
            run_test_helper($block, $i - 1);
            check_tcp_server($block, $tcp);
        }

        stop_tcp_server($tcp);
    }
}

sub start_or_bail () {
    my $name = shift;

    my $status;
    my $deadline = time + 5;
    while (1) {
        $status = Test::Nginx::Util::start_nginx($name);
        last if $status == 0;

        # A previous instance (or a lingering TIME_WAIT listener) may
        # still hold the port: retry for a little while.
        my $err = Test::Nginx::Util::slurp($Test::Nginx::Util::StderrFile);
        last unless $err =~ /Address already in use/ && time < $deadline;
        sleep 0.2;
    }

    if ($status != 0) {
        diag_startup_failure();
        bail_out("$name - Cannot start nginx using command \""
                 . join(' ', Test::Nginx::Util::nginx_command())
                 . "\" (status code $status).");
    }

    if (!Test::Nginx::Util::wait_for_nginx($name)) {
        diag_startup_failure();
        bail_out("$name - nginx does not accept connections on "
                 . "$ServerAddr:$ServerPortForClient");
    }
}

sub diag_startup_failure () {
    my $err = Test::Nginx::Util::slurp($Test::Nginx::Util::StderrFile);
    diag("nginx stderr:\n$err") if $err =~ /\S/;
    my $log = Test::Nginx::Util::slurp($Test::Nginx::Util::ErrLogFile);
    my @lines = split /^/m, $log;
    @lines = @lines[-40 .. -1] if @lines > 40;
    diag("tail of $Test::Nginx::Util::ErrLogFile:\n" . join '', @lines)
        if @lines;
}

# --- must_die: nginx must fail to start.  A numeric value is the
# expected exit code.  The error_log checks then apply to error.log (where
# "-e" sends the startup errors).  Done once per repeat_each.
our $ExpectStartupError;

sub run_must_die () {
    my $block = shift;
    my $name = $block->name;
    my $must_die = $block->must_die;

    local $Test::Nginx::Util::UseValgrind;    # as in the real module
    # the [emerg] that stops nginx is what the block expects: not warned
    # about (the real module prints "WARNING: <name> - <the line>")
    local $ExpectStartupError = 1;

    for my $i (0 .. $RepeatEach - 1) {
        my $status = Test::Nginx::Util::start_nginx($name);
        my $exit_code = $status >> 8;

        if ($status & 127) {
            fail("$name - nginx died of signal " . ($status & 127));
        } elsif (looks_like_number($must_die)) {
            is($exit_code, $must_die,
               "$name - die with the expected exit code");
        } else {
            isnt($status, 0, "$name - die as expected");
        }

        if ($status != 0 && $Test::Nginx::Util::NginxVersion < 1.019005) {
            # No "-e": startup errors only went to stderr.
            append_stderr_to_error_log();
        }

        check_error_log($block, undef, $i, 0);

        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; "
                 . "killing it (req $i)\n";
            Test::Nginx::Util::stop_nginx($name);
        }
    }
}

sub append_stderr_to_error_log () {
    my $err = Test::Nginx::Util::slurp($Test::Nginx::Util::StderrFile);
    return unless length $err;
    open my $out, '>>', $Test::Nginx::Util::ErrLogFile or return;
    print $out $err;
    close $out;
}

# ---------------------------------------------------------------------
# Building requests
# ---------------------------------------------------------------------

# Turns --- more_headers text into CRLF-terminated header lines; lines
# starting with "#" are comments.  Also reports chunked request bodies.
sub parse_more_headers () {
    my $in = shift;
    my ($out, $is_chunked) = ('', 0);
    for my $line (split /\n+/, $in) {
        next if $line =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val //= '';
        $is_chunked = 1
            if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $is_chunked);
}

# Builds a full HTTP request from the short --- request form:
#   METHOD [URI [VERSION]]      (defaults: "/" and "HTTP/1.1")
#   optional body...
# Adds Host and Connection headers unless given in more_headers, and a
# Content-Length for a non-chunked body (which is then whitespace-trimmed,
# as the real module does).
sub build_request () {
    my ($name, $more_headers, $is_chunked, $conn, $raw) = @_;

    bail_out("$name - Request line should be non-empty")
        unless defined $raw && length $raw;

    my ($first, $body) = split /\n/, $raw, 2;
    $body //= '';
    $first =~ /^\s*(\S+)(?: +(\S+))?(?: +(\S+))?\s*$/
        or bail_out("$name - Request line is not valid. Should be "
                    . "'meth [url [version]]' but got \"$first\".");
    my ($meth, $url, $ver) = ($1, $2 // '/', $3 // 'HTTP/1.1');

    my $len_header = '';
    if (!$is_chunked && $body ne ''
        && $more_headers !~ /(?:^|\n)Content-Length:/)
    {
        $body =~ s/^\s+|\s+$//g;
        $len_header = "Content-Length: " . length($body) . "\r\n";
    }

    $more_headers =~ s/(?<!\r)\n/\r\n/g;

    my $headers = '';
    $headers .= "Host: $ServerName\r\n"
        if $more_headers !~ /(?:^|\n)Host:/i;
    $headers .= "Connection: $conn\r\n"
        if $more_headers !~ /(?:^|\n)Connection/i;

    return "$meth $url $ver\r\n$headers$more_headers$len_header\r\n$body";
}

# Headers for the $i-th request: --- more_headers may be an array (eval).
sub more_headers_for () {
    my ($more_headers, $i) = @_;
    if (ref $more_headers eq 'ARRAY') {
        my $hdr = $more_headers->[$i];
        bail_out("--- more_headers lacks data for request $i")
            unless defined $hdr;
        return parse_more_headers($hdr);
    }
    return parse_more_headers($more_headers);
}

# A request given as an array of packets: the request is built from their
# concatenation, then re-split so that all but the first packet keep their
# original sizes (the header additions go into the first packet).
sub build_packets () {
    my ($name, $hdr, $is_chunked, $packets) = @_;

    my @items = map { ref $_ eq 'HASH' ? {%$_} : { value => $_ } }
                @$packets;
    my $full = build_request($name, $hdr, $is_chunked, 'close',
                             join '', map { $_->{value} } @items);

    for my $k (reverse 1 .. $#items) {
        my $len = min(length $items[$k]{value}, length($full));
        $items[$k]{value} = substr $full, length($full) - $len;
        substr($full, length($full) - $len) = '';
    }
    $items[0]{value} = $full;
    return \@items;
}

# Returns a list of requests; each request is a list of packets
# ({ value => bytes, delay_before => seconds }) sent on one connection.
sub get_req_from_block () {
    my $block = shift;
    my $name = $block->name;
    my @reqs;

    if (defined(my $raw = $block->raw_request)) {
        if (ref $raw eq 'ARRAY') {
            push @reqs, [ map { ref $_ eq 'HASH' ? $_ : { value => $_ } }
                          @$raw ];
        } else {
            push @reqs, [ { value => $raw } ];
        }
        return \@reqs;
    }

    my $request;
    if (defined $block->request_eval) {
        $request = eval $block->request_eval;
        warn $@ if $@;
    } else {
        $request = $block->request;
        if (defined $request && !ref $request) {
            # leading blank lines and "#" comment lines are ignored
            1 while $request =~ s/^\s*#[^\n]+\s+|^\s+//s;
        }
    }

    my $more_headers = $block->more_headers || '';

    if (my $pipelined = $block->pipelined_requests) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            unless ref $pipelined eq 'ARRAY';
        my $all = '';
        for my $i (0 .. $#$pipelined) {
            my $conn = $i == $#$pipelined ? 'close' : 'keep-alive';
            my ($hdr, $chunked) = more_headers_for($more_headers, $i);
            $all .= build_request($name, $hdr, $chunked, $conn,
                                  $pipelined->[$i]);
        }
        push @reqs, [ { value => $all } ];

    } elsif (!ref $request) {
        my ($hdr, $chunked) = more_headers_for($more_headers, 0);
        push @reqs, [ { value => build_request($name, $hdr, $chunked,
                                               'close', $request) } ];

    } elsif (ref $request eq 'ARRAY') {
        # Several requests, each on its own connection, one after another.
        for my $i (0 .. $#$request) {
            my $one = $request->[$i];
            my ($hdr, $chunked) = more_headers_for($more_headers, $i);
            if (!ref $one) {
                push @reqs, [ { value => build_request($name, $hdr,
                                               $chunked, 'close', $one) } ];
            } elsif (ref $one eq 'ARRAY') {
                push @reqs, build_packets($name, $hdr, $chunked, $one);
            } else {
                bail_out("$name - Invalid syntax. $one should be a string "
                         . "or an array of packets.");
            }
        }

    } else {
        bail_out("$name - invalid --- request: MUST be string or array "
                 . "of requests");
    }

    return \@reqs;
}

# ---------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------

sub connect_to_server () {
    my ($block, $timeout) = @_;
    my $addr = $block->server_addr_for_client // $ServerAddr;
    my $port = $ServerPortForClient;

    # nginx normally accepts at once; retry for a while anyway (valgrind
    # or a slow machine), like the real module does.
    my $deadline = time + ($Test::Nginx::Util::UseValgrind ? 30 : 5);
    my $wait = 0.01;
    while (1) {
        my $sock = IO::Socket::INET->new(PeerAddr => $addr,
                                         PeerPort => $port,
                                         Proto => 'tcp',
                                         Timeout => $timeout);
        return $sock if $sock;
        my $err = $!;
        if (time >= $deadline) {
            fail($block->name . " - Can't connect to $addr:$port: $err "
                 . "(aborted)\n");
            return undef;
        }
        sleep $wait;
        $wait = min($wait * 2, 0.5);
    }
}

# Sends the packets of one request on a fresh connection and reads the
# response until the server closes the connection.  $timeout is an
# inactivity timeout, as in the real module; hitting it is a test failure
# unless the block has --- abort.
sub send_request () {
    my ($packets, $middle_delay, $timeout, $block) = @_;
    my $name = $block->name;

    my $whole = join '', map { $_->{value} } @$packets;
    my $head_req = $whole =~ /^\s*HEAD\s+/ ? 1 : 0;

    my $sock = connect_to_server($block, $timeout) or return;
    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';

    my @queue = @$packets;
    my $wbuf = (shift @queue)->{value} // '';
    my $woff = 0;
    my $writing = 1;
    my $resp = '';
    my $sel = IO::Select->new($sock);
    my $last_activity = time;

    while (1) {
        my ($r, $w) = IO::Select->select($sel, $writing ? $sel : undef,
                                         undef, 0.05);
        if (!($r && @$r) && !($w && @$w)) {
            if (time - $last_activity >= $timeout) {
                if (!defined $block->abort) {
                    fail("ERROR: client socket timed out - $name\n");
                }
                last;
            }
            next;
        }
        $last_activity = time;

        if ($w && @$w) {
            if ($woff < length $wbuf) {
                my $n = syswrite($sock, $wbuf, length($wbuf) - $woff, $woff);
                if (!defined $n) {
                    next if $!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR};
                    warn "WARNING: $name - write failed: $!\n";
                    $writing = 0;
                    next;
                }
                $woff += $n;
            }
            if ($woff >= length $wbuf) {
                if (@queue) {
                    my $next = shift @queue;
                    my $delay = $next->{delay_before} // $middle_delay;
                    sleep parse_time($delay) if $delay;
                    ($wbuf, $woff) = ($next->{value} // '', 0);
                } else {
                    $writing = 0;
                    if (defined(my $how = $block->shutdown)) {
                        $how = 1 if $how !~ /\S/;
                        shutdown($sock, $how);
                    }
                }
            }
        }

        if ($r && @$r) {
            my $n = sysread($sock, my $buf, 16384);
            if (!defined $n) {
                next if $!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR};
                warn "WARNING: $name - HTTP response read failure: $!\n";
                last;
            }
            last if $n == 0;
            $resp .= $buf;
        }
    }

    close $sock;
    return ($resp, $head_req);
}

# ---------------------------------------------------------------------
# Parsing responses
# ---------------------------------------------------------------------

# Returns ($res, $raw_headers, $left): an HTTP::Response with the decoded
# body (Content-Length, chunked or read-until-close), the raw header block
# and whatever bytes follow the response (pipelined requests).  Returns an
# empty list after failing a test on malformed chunked data.
sub parse_response () {
    my ($name, $raw, $head_req) = @_;

    my $raw_headers = $raw =~ /^(.*?\r\n)\r\n/s ? $1 : '';

    my ($head, $body);
    if ($raw =~ /\A(.*?)\r?\n\r?\n(.*)\z/s) {
        ($head, $body) = ($1, $2);
    } else {
        ($head, $body) = ($raw, '');
    }

    my @lines = split /\r?\n/, $head;
    my $status_line = shift(@lines) // '';
    my ($proto, $code, $msg);
    if ($status_line =~ m{^(HTTP/\S+)\s+(\d+)(?:\s+(.*))?$}) {
        ($proto, $code, $msg) = ($1, $2, $3);
    }

    my $res = HTTP::Response->new($code, $msg);
    $res->protocol($proto) if defined $proto;
    my $last_key;
    for my $line (@lines) {
        if ($line =~ /^[ \t]+(.*)/ && defined $last_key) {
            # obsolete header line folding
            my @vals = $res->header($last_key);
            $vals[-1] .= " $1";
            $res->header($last_key => \@vals);
        } elsif ($line =~ /^([^:\s]+)\s*:\s*(.*?)\s*$/) {
            $res->push_header($1 => $2);
            $last_key = $1;
        }
    }

    if (defined $code && ($code == 304 || $code == 101)) {
        $res->content($body);
        return ($res, $raw_headers);
    }

    my $left;
    my $te = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');

    if (defined $te && $te eq 'chunked') {
        my ($decoded, $pos) = ('', 0);
        while (1) {
            pos($body) = $pos;
            if ($body =~ /\G0[ \t]*\r\n\r\n/gc) {
                $pos = pos $body;
                $left = substr $body, $pos if $pos < length $body;
                last;
            }
            if ($body =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
                my $size = hex $1;
                $pos = pos $body;
                if (length($body) - $pos < $size) {
                    fail("$name - invalid chunked data received "
                         . "(not enough octets for the data section)");
                    return;
                }
                $decoded .= substr $body, $pos, $size;
                $pos += $size;
                if (substr($body, $pos, 2) ne "\r\n") {
                    fail("$name - invalid chunked data received "
                         . "(expected CRLF).");
                    return;
                }
                $pos += 2;
                next;
            }
            if ($pos < length $body) {
                fail("$name - invalid chunked body received: "
                     . substr($body, $pos));
            } else {
                fail("$name - no last chunk found - $body");
            }
            return;
        }
        $body = $decoded;

    } elsif (defined $len && $len =~ /^\s*(\d+)\s*$/) {
        $len = $1;
        if (length $body < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got " . length($body) . "\n"
                unless $head_req;
        } elsif (length $body > $len) {
            $left = substr $body, $len;
            $body = substr $body, 0, $len;
        }
    }

    $res->content($body);
    return ($res, $raw_headers, $left);
}

# ---------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------

sub run_test_helper () {
    my ($block, $repeated_req_idx) = @_;
    my $name = $block->name;

    my $reqs = get_req_from_block($block);
    bail_out("$name - request empty") unless @$reqs;

    my $timeout = parse_time($block->timeout) // timeout();
    my ($res, $need_array);
    my $req_idx = 0;

    for my $k (0 .. $#$reqs) {
        my $delay = $block->raw_request_middle_delay;
        my ($raw, $head_req) = send_request($reqs->[$k], $delay, $timeout,
                                            $block);
        $raw //= '';

        # pipelined requests: several responses in one stream
        my $n = 0;
        if ($block->pipelined_requests) {
            $n = @{ $block->pipelined_requests };
            $need_array = 1;
        } else {
            $need_array = @$reqs > 1;
        }

        while (1) {
            my ($raw_headers, $left);
            if (!defined $block->ignore_response) {
                ($res, $raw_headers, $left) =
                    parse_response($name, $raw, $head_req);
            }

            if ($n) {
                $raw = $left // '';
                $n--;
            } elsif (defined $left && length $left) {
                (my $l = $left) =~ s/([\0-\037\200-\377])/
                                     sprintf('\x{%02x}', ord $1)/eg;
                warn "WARNING: $name - unexpected extra bytes after last "
                     . "chunk in response: \"$l\"\n";
            }

            if (!defined $block->ignore_response) {
                check_error_code($block, $res, $req_idx, $need_array);
                check_raw_response_headers($block, $raw_headers, $req_idx,
                                           $need_array);
                check_response_headers($block, $res, $raw_headers,
                                       $req_idx, $need_array);
                transform_response_body($block, $res, $req_idx);
                check_response_body($block, $res, $req_idx,
                                    $repeated_req_idx, $need_array);
            }

            # Like the real module, the log checks also run after every
            # request but the last one.
            if ($n || $k < $#$reqs) {
                sleep parse_time($block->wait) if $block->wait;
                check_error_log($block, $res, $repeated_req_idx,
                                $need_array);
                check_access_log($block, $repeated_req_idx)
                    unless defined $block->ignore_response;
            }

            $req_idx++;
            last unless $n;
        }
    }

    sleep parse_time($block->wait) if $block->wait;
    check_error_log($block, $res, $repeated_req_idx, $need_array);
    check_access_log($block, $repeated_req_idx)
        unless defined $block->ignore_response;
}

# Picks the expectation for the $req_idx-th response: with several
# requests, expectations must be arrays (eval).
sub get_indexed_value () {
    my ($name, $value, $req_idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$req_idx] if ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected "
                 . "results should be arrays as well.");
    }
    return $value->[0] if ref $value eq 'ARRAY';
    return $value;
}

sub subst_ports () {
    my $s = shift;
    return $s unless defined $s && !ref $s;
    $s =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
    $s =~ s/\$ServerPort\b/$ServerPort/g;
    return $s;
}

sub check_error_code () {
    my ($block, $res, $req_idx, $need_array) = @_;
    my $name = $block->name;
    my $got = ($res && $res->code) || '';

    if (defined $block->error_code_like) {
        my $pat = get_indexed_value($name, scalar($block->error_code_like),
                                    $req_idx, $need_array);
        like($got, qr/$pat/sm, "$name - status code ok");
    } elsif (defined $block->error_code) {
        is($got, get_indexed_value($name, scalar($block->error_code), $req_idx,
                                   $need_array),
           "$name - status code ok");
    } else {
        is($got, 200, "$name - status code ok");
    }
}

sub check_raw_response_headers () {
    my ($block, $raw_headers, $req_idx, $need_array) = @_;
    my $name = $block->name;
    $raw_headers //= '';

    if (defined $block->raw_response_headers_like) {
        my $spec = $block->raw_response_headers_like;
        my $pat = get_indexed_value($name, $spec, $req_idx, $need_array);
        like($raw_headers, qr/$pat/s, "$name - raw resp headers like");
    }
    if (defined $block->raw_response_headers_unlike) {
        my $spec = $block->raw_response_headers_unlike;
        my $pat = get_indexed_value($name, $spec, $req_idx, $need_array);
        unlike($raw_headers, qr/$pat/s, "$name - raw resp headers unlike");
    }
}

# "Name: value" lines -> ordered list of [name, value]; "!Name" means the
# header must be absent (value undef).  Last occurrence of a name wins.
sub parse_header_spec () {
    my $spec = shift;
    my (@order, %val);
    for my $line (split /\n/, $spec // '') {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        my ($key, $val);
        if ($line =~ s/^!\s*//) {
            $key = $line;
        } else {
            ($key, $val) = split /\s*:\s*/, $line, 2;
            $val //= '';
        }
        push @order, $key unless exists $val{$key};
        $val{$key} = $val;
    }
    return map { [$_, $val{$_}] } @order;
}

sub check_response_headers () {
    my ($block, $res, $raw_headers, $req_idx, $need_array) = @_;
    my $name = $block->name;
    $raw_headers //= '';

    if (defined $block->response_headers) {
        my $spec = get_indexed_value($name, scalar($block->response_headers),
                                     $req_idx, $need_array);
        for my $pair (parse_header_spec($spec)) {
            my ($key, $val) = @$pair;
            if (!defined $val) {
                unlike($raw_headers, qr/^\s*\Q$key\E\s*:/mi,
                       "$name - header $key not present in the raw headers");
                next;
            }
            my $actual = $res ? $res->header($key) : undef;
            is($actual // '', subst_ports($val), "$name - header $key ok");
        }

    } elsif (defined $block->response_headers_like) {
        my $spec = get_indexed_value($name,
                                     scalar($block->response_headers_like),
                                     $req_idx, $need_array);
        for my $pair (parse_header_spec($spec)) {
            my ($key, $val) = @$pair;
            my $actual = $res ? $res->header($key) : undef;
            $val = subst_ports($val) // '';
            like($actual // '', qr/^$val$/, "$name - header $key like ok");
        }
    }
}

# --- response_body_filters: names (uc lc ucfirst lcfirst length md5_hex
# sha1_hex) or code refs, applied in order before comparing the body.
sub transform_response_body () {
    my ($block, $res, $req_idx) = @_;
    return unless $res && defined $res->content;
    my $filters = $block->response_body_filters;
    return unless defined $filters;
    my $name = $block->name;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//g;
        $filters = [ split /\s+/, $filters ];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [ $filters ];
    }
    if (ref $filters->[0] eq 'ARRAY') {
        # one list of filters per request
        $filters = $filters->[$req_idx];
        bail_out("$name - no --- response_body_filters for request "
                 . "$req_idx") unless defined $filters;
        $filters = [ $filters ] unless ref $filters eq 'ARRAY';
    }

    my %builtin = (
        uc => sub { uc $_[0] }, lc => sub { lc $_[0] },
        ucfirst => sub { ucfirst $_[0] }, lcfirst => sub { lcfirst $_[0] },
        length => sub { length $_[0] },
        md5_hex => \&Digest::MD5::md5_hex,
        sha1_hex => \&Digest::SHA::sha1_hex,
    );

    my $content = $res->content;
    for my $f (@$filters) {
        my $code = ref $f eq 'CODE' ? $f : $builtin{$f}
            or bail_out("$name - unknown filter, \"$f\", specified in the "
                        . "--- response_body_filters section");
        $content = $code->($content);
    }
    $res->content($content);
}

sub check_response_body () {
    my ($block, $res, $req_idx, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;
    my $content = $res ? $res->content : undef;

    if (defined $block->response_body || defined $block->response_body_eval)
    {
        my $expected;
        if ($block->response_body_eval) {
            my $code = $block->response_body_eval;
            $expected = eval get_indexed_value($name, $code, $req_idx,
                                               $need_array);
            warn $@ if $@;
        } else {
            $expected = get_indexed_value($name, scalar($block->response_body),
                                          $req_idx, $need_array);
        }

        if ($block->charset && defined $expected && !ref $expected) {
            Encode::from_to($expected, "UTF-8", scalar($block->charset));
        }
        $expected = subst_ports($expected);

        my $desc = "$name - response_body - ";
        if (ref $expected) {
            like($content, $expected, $desc . "like (repeated req "
                 . "$repeated_req_idx, req $req_idx)");
        } else {
            $desc .= "response is expected (repeated req $repeated_req_idx, "
                     . "req $req_idx)";
            if ($Test::Nginx::Util::NoLongString) {
                is($content, $expected, $desc);
            } else {
                Test::LongString::is_string($content, $expected, $desc);
            }
        }

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my ($type, $patterns) = defined $block->response_body_like
            ? (q{like}, scalar($block->response_body_like))
            : (q{unlike}, scalar($block->response_body_unlike));
        my $pat = subst_ports(get_indexed_value($name, $patterns, $req_idx,
                                                $need_array));
        my $summary = trim($content) // '';
        my $desc = "$name - response_body_$type - response is expected "
                   . "($summary)";
        if ($type eq 'like') {
            like($content, qr/$pat/s, $desc);
        } else {
            unlike($content, qr/$pat/s, $desc);
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $res ? $res->content : undef, $req_idx,
                 $repeated_req_idx, 0);
    }
}

# Does the pattern text mention $str?  (qr// objects are stringified.)
sub value_contains () {
    my ($val, $str) = @_;
    return 0 unless defined $val;
    if (ref $val eq 'ARRAY') {
        for my $v (@$val) {
            return 1 if value_contains($v, $str);
        }
        return 0;
    }
    return index("$val", $str) >= 0;
}

# Normalizes --- error_log style values into a fresh list of patterns:
# text (one substring per line), a qr//, or an arrayref of both.
sub pattern_list () {
    my $pats = shift;
    if (!ref $pats) {
        chomp $pats;
        return [ split /\n+/, $pats ];
    }
    return [ $pats ] if ref $pats eq 'Regexp';
    return [ @$pats ];
}

sub line_matches () {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ $pat : index($line, $pat) >= 0;
}

sub fmt_str () {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

# Shared by error_log/access_log/shutdown_error_log: each pattern must
# match some line (one test per pattern).
sub check_log_contains () {
    my ($name, $pats, $lines, $what, $suffix) = @_;
    for my $line (@$lines) {
        for my $pat (@$pats) {
            next unless defined $pat;
            if (line_matches($line, $pat)) {
                pass("$name - pattern \"$pat\" matches a line in $what"
                     . $suffix);
                undef $pat;
            }
        }
    }
    for my $pat (@$pats) {
        next unless defined $pat;
        fail("$name - pattern \"$pat\" should match a line in $what"
             . $suffix);
    }
}

# Shared by no_error_log/no_access_log/no_shutdown_error_log: one failure
# per matching line, one pass per pattern that matched nothing.
sub check_log_lacks () {
    my ($name, $pats, $lines, $what, $suffix) = @_;
    my %found;
    for my $i (0 .. $#$lines) {
        my $line = $lines->[$i];
        for my $pat (@$pats) {
            next unless defined $pat && line_matches($line, $pat);
            $found{$pat} = 1;
            my @more = @$lines[$i + 1 .. min($i + 9, $#$lines)];
            fail("$name - pattern \"" . fmt_str($pat) . "\" should not "
                 . "match any line in $what but matches line \""
                 . fmt_str($line) . "\"$suffix\n" . join('', @more));
        }
    }
    for my $pat (@$pats) {
        next if !defined $pat || $found{$pat};
        pass("$name - pattern \"" . fmt_str($pat) . "\" does not match a "
             . "line in $what$suffix");
    }
}

sub check_error_log () {
    my ($block, $res, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;
    my $suffix = " (req $repeated_req_idx)";
    my $lines;
    my %warn_level = map { $_ => 1 } qw(alert crit emerg);
    delete $warn_level{emerg} if $ExpectStartupError;

    my $grep_pat = $block->grep_error_log;
    if (defined $grep_pat) {
        $grep_pat = $grep_pat->[$repeated_req_idx]
            if ref $grep_pat eq 'ARRAY';
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but --- "
                 . "grep_error_log is defined") unless defined $expected;
        $expected = $expected->[$repeated_req_idx]
            if ref $expected eq 'ARRAY';

        $lines //= Test::Nginx::Util::error_log_data();
        my $matched = '';
        for my $line (@$lines) {
            my $m;
            if (ref $grep_pat) {
                $m = $& if $line =~ $grep_pat;
            } elsif ((my $at = index($line, $grep_pat)) >= 0) {
                $m = $grep_pat;
            }
            $matched .= "$m\n" if defined $m && $m !~ /\n/;
        }
        is_str($matched, $expected,
               "$name - grep_error_log_out (req $repeated_req_idx)");
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but --- "
                 . "grep_error_log_out is defined");
    }

    for my $section (qw(error_log no_error_log)) {
        my $pats = $block->$section;
        next unless defined $pats;
        for my $lvl (keys %warn_level) {
            delete $warn_level{$lvl} if value_contains($pats, "[$lvl");
        }
        $lines //= Test::Nginx::Util::error_log_data();
        if ($section eq 'error_log') {
            check_log_contains($name, pattern_list($pats), $lines,
                               'error.log', $suffix);
        } else {
            check_log_lacks($name, pattern_list($pats), $lines,
                            'error.log', $suffix);
        }
    }

    # Like the real module: warn about serious log entries nobody
    # asked about, and fail on assertion failures.
    $lines //= Test::Nginx::Util::error_log_data();
    for my $line (@$lines) {
        for my $lvl (keys %warn_level) {
            warn "WARNING: $name - " . fmt_str($line) . "\n"
                if $line =~ /\[$lvl\]/;
        }
        if ($line =~ /\bAssertion .*?failed\b/) {
            (my $l = $line) =~ s/\s+$//;
            fail("$name - $l\n");
        }
    }
}

sub check_access_log () {
    my ($block, $repeated_req_idx) = @_;
    my $name = $block->name;
    my $suffix = " (req $repeated_req_idx)";
    my $lines;

    if (defined $block->access_log) {
        $lines //= Test::Nginx::Util::access_log_data();
        my $pats = pattern_list(scalar $block->access_log);
        check_log_contains($name, $pats, $lines, 'access.log', $suffix);
    }
    if (defined $block->no_access_log) {
        $lines //= Test::Nginx::Util::access_log_data();
        my $pats = pattern_list(scalar $block->no_access_log);
        check_log_lacks($name, $pats, $lines, 'access.log', $suffix);
    }
}

# --- shutdown_error_log / --- no_shutdown_error_log: checked against
# what nginx logged after the block's last log check, including its exit.
sub check_shutdown_error_log () {
    my $block = shift;
    my $name = $block->name;
    my $lines = Test::Nginx::Util::error_log_data();

    if (defined $block->no_shutdown_error_log) {
        my $pats = pattern_list(scalar $block->no_shutdown_error_log);
        check_log_lacks($name, $pats, $lines, 'error.log', '');
    }
    my $pats = pattern_list(scalar $block->shutdown_error_log);
    check_log_contains($name, $pats, $lines, 'error.log', '');
}

# ---------------------------------------------------------------------
# --- tcp_listen: a one-shot mock TCP server (port number or *.sock path)
# answering with --- tcp_reply (string, array of strings, or code ref
# getting the query).  --- tcp_query / --- tcp_query_len check what it
# received; tcp_reply_delay, tcp_shutdown and tcp_no_close are supported.
# ---------------------------------------------------------------------

# The mock server currently running, so that an interrupted test run
# (SIGINT/SIGTERM, die) does not leave it behind.
our $CurrentTcpServer;
push @Test::Nginx::Util::CleanupHandlers, sub {
    stop_tcp_server($CurrentTcpServer) if $CurrentTcpServer;
};

sub start_tcp_server () {
    my $block = shift;
    my $target = $block->tcp_listen;
    return undef unless defined $target;
    my $name = $block->name;

    my $reply = $block->tcp_reply;
    bail_out("$name - no --- tcp_reply specified but --- tcp_listen is "
             . "specified")
        if !defined $reply && !defined $block->tcp_shutdown;

    my $req_len = $block->tcp_query_len;
    $req_len = length $block->tcp_query
        if !defined $req_len && defined $block->tcp_query;

    my $query_file;
    if (defined $req_len) {
        (undef, $query_file) = File::Temp::tempfile(UNLINK => 1);
    }

    my $listener;
    my $deadline = time + 5;
    while (1) {
        if ($target =~ /^\d+$/) {
            $listener = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                              LocalPort => $target,
                                              Proto => 'tcp',
                                              ReuseAddr => 1,
                                              Listen => 5);
        } elsif ($target =~ /\.sock$/) {
            unlink $target;
            $listener = IO::Socket::UNIX->new(Local => $target,
                                              Type => SOCK_STREAM,
                                              Listen => 5);
        } else {
            bail_out("$name - bad tcp_listen target: $target");
        }
        last if $listener || time >= $deadline;
        sleep 0.1;
    }
    bail_out("$name - failed to create the tcp listening socket: $!")
        unless $listener;

    my $pid = fork();
    bail_out("$name - fork() failed: $!") unless defined $pid;

    if ($pid == 0) {
        $Test::Nginx::Util::InSubprocess = 1;
        Test::More->builder->no_ending(1);
        my $client = $listener->accept or POSIX::_exit(1);

        my ($no_read, $no_write);
        if (defined(my $how = $block->tcp_shutdown)) {
            sleep parse_time($block->tcp_shutdown_delay)
                if $block->tcp_shutdown_delay;
            $client->shutdown($how);
            ($how == 0 || $how == 2) ? ($no_read = 1) : ($no_write = 1);
        }

        my $buf = '';
        unless ($no_read) {
            while (1) {
                my $n = sysread($client, my $chunk, 4096);
                last unless $n;
                $buf .= $chunk;
                if ($query_file && open my $out, '>', $query_file) {
                    print $out $buf;
                    close $out;
                }
                last if !$req_len || length $buf >= $req_len;
            }
        }

        if (my $delay = parse_time($block->tcp_reply_delay)) {
            sleep $delay;
        }

        if (!$no_write && defined $reply) {
            $reply = $reply->($buf) if ref $reply eq 'CODE';
            for my $r (ref $reply eq 'ARRAY' ? @$reply : ($reply)) {
                syswrite($client, $r) // last;
            }
        }

        if (defined $block->tcp_no_close) {
            sleep 1 while 1;
        }
        close $client;
        POSIX::_exit(0);
    }

    return $CurrentTcpServer = { pid => $pid, sock => $listener,
                                 query_file => $query_file,
                                 target => $target };
}

sub check_tcp_server () {
    my ($block, $tcp) = @_;
    return unless $tcp;
    my $name = $block->name;
    my $buf = $tcp->{query_file}
        ? Test::Nginx::Util::slurp($tcp->{query_file}) : '';

    if (defined $block->tcp_query) {
        is_str($buf, scalar($block->tcp_query), "$name - tcp_query ok");
    }
    if (defined $block->tcp_query_len) {
        is(length($buf), scalar($block->tcp_query_len),
           "$name - TCP query length ok");
    }
}

sub stop_tcp_server () {
    my $tcp = shift;
    return unless $tcp;
    undef $CurrentTcpServer;
    # our own one-shot helper: no need for a graceful shutdown
    kill 'KILL', $tcp->{pid};
    waitpid($tcp->{pid}, 0);
    close $tcp->{sock};
    unlink $tcp->{target} if $tcp->{target} =~ /\.sock$/;
    unlink $tcp->{query_file} if $tcp->{query_file};
}

1;
__END__

=head1 NAME

Test::Nginx::Socket - compatible subset of openresty's Test::Nginx::Socket

=head1 SYNOPSIS

    use Test::Nginx::Socket 'no_plan';
    run_tests();

    __DATA__

    === TEST 1: hello
    --- config
        location = /t { return 200 "hello\n"; }
    --- request
    GET /t
    --- response_body
    hello
    --- no_error_log
    [error]

=head1 DESCRIPTION

Loaded only via C<prove -I t/compat> when the real module is not
installed.  See the README in this directory for the supported sections
and the known differences from the real module.

=cut
