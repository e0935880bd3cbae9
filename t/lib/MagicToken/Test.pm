package MagicToken::Test;

# Shared fixture for the t/*.t suites of ngx_http_magic_token_module.
#
# Usage, in every .t file (AFTER Test::Nginx::Socket):
#
#   use FindBin;
#   use lib "$FindBin::Bin/lib";
#   use Test::Nginx::Socket 'no_plan';
#   use MagicToken::Test;
#
#   $::tok{valid} = mint(credential => 'ghp_x', allowed => ['GET /user']);
#   run_tests();
#   __DATA__
#   === TEST 1: ...
#   --- config
#       location / { magic_token on; magic_token_key $TEST_NGINX_KEYS/private.pem;
#                    proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT; }
#   --- more_headers eval
#   "Authorization: Bearer $::tok{valid}"
#
# It works with the CPAN Test::Nginx::Socket and with the compat runner in
# t/compat, and uses only their public API (add_block_preprocessor,
# $block->set_value, $TEST_NGINX_* substitution in config sections).
#
# What it does at load time:
#   * generates two throw-away TEST key pairs with t/tools/mtmint.py keygen into
#     a temp dir removed at exit: $ENV{TEST_NGINX_KEYS} ("main") and
#     $ENV{TEST_NGINX_OTHER_KEYS} ("other", for wrong-key tests); each holds
#     private.pem (PKCS#8), private.pkcs1.pem, public.pem (SPKI), public.x509.cer;
#   * sets $ENV{TEST_NGINX_UPSTREAM_PORT} (server port + 1 unless already set)
#     and $ENV{TEST_NGINX_MODULE};
#   * registers a block preprocessor that
#       - prepends "load_module <module .so>;" to --- main_config
#         ($ENV{MAGIC_TOKEN_MODULE} or <repo>/build/ngx_http_magic_token_module.so),
#       - fills in --- config / --- http_config from default_config() /
#         default_http_config() when a block has none,
#       - appends the echo upstream server on 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT
#         to --- http_config unless the block already listens on that port. It
#         answers every request with
#           auth=[$http_authorization] method=$request_method uri=$request_uri\n
#         so tests assert on what the upstream actually received.

use strict;
use warnings;

use Cwd qw(abs_path);
use Digest::SHA qw(sha256_hex);
use Exporter 'import';
use File::Basename qw(dirname);
use File::Path qw(rmtree);
use File::Temp qw(tempdir);

our @EXPORT = qw(mint tamper token_id mtmint repo_root keys_dir other_keys_dir
                 module_path default_config default_http_config nginx_config_check
                 upstream_body nginx_with_debug);

my $ROOT = abs_path(dirname(abs_path(__FILE__)) . '/../../..');
my $MTMINT = "$ROOT/t/tools/mtmint.py";
# Debian's interpreter, where python3-cryptography lives
my $PYTHON = $ENV{PYTHON} || (-x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3');
my $MODULE = $ENV{MAGIC_TOKEN_MODULE}
             || "$ROOT/build/ngx_http_magic_token_module.so";

sub repo_root   { $ROOT }
sub module_path { $MODULE }

# ---------------------------------------------------------------------------
# keys: generated once per .t process, removed at exit (only by the process
# that made them: the runner may fork helpers).

my $OWNER = $$;
my $TMP = tempdir('magic-token-test-XXXXXX', TMPDIR => 1, CLEANUP => 0);
END { rmtree($TMP) if defined $TMP && $$ == $OWNER && !$ENV{MAGIC_TOKEN_KEEP_KEYS} }

sub mtmint {
    my @args = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        exec($PYTHON, $MTMINT, @args) or die "exec $PYTHON $MTMINT: $!";
    }
    my $out = do { local $/; <$fh> };
    close $fh;
    die "mtmint.py @args[0..0] failed (exit " . ($? >> 8) . ")\n" if $?;
    $out =~ s/\s+\z//;
    return $out;
}

mtmint('keygen', "$TMP/main");
mtmint('keygen', "$TMP/other");

$ENV{TEST_NGINX_KEYS} = "$TMP/main";
$ENV{TEST_NGINX_OTHER_KEYS} = "$TMP/other";
$ENV{TEST_NGINX_MODULE} = $MODULE;

sub keys_dir       { "$TMP/main" }
sub other_keys_dir { "$TMP/other" }

my $server_port = main->can('server_port') ? main::server_port()
                : ($ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984);
$ENV{TEST_NGINX_UPSTREAM_PORT} ||= $server_port + 1;

# ---------------------------------------------------------------------------
# tokens

# mint(%opts) -> compact JWS string.
#   credential => STR        encrypted into the "token" claim (omitted if undef)
#   key        => PEM path   signing key (default main private.pem)
#   encrypt_to => PEM path   (default: public half of key)
#   allowed    => [..]       "METHOD regex" entries
#   scopes     => [..]       named scopes;  scopes_null => 1 for "scopes": null
#   exp / ttl / iat / nbf / jti / no_exp => 1
#   alg        => 'RS256'    (none, HS256, RS384, PS256 ... for attack tests)
#   claims     => { name => 'JSON text' }   add/override claims
#   headers    => { name => 'JSON text' }   add/override header members
my $cred_seq = 0;

sub mint {
    my %o = @_;
    my @args = ('mint', '--key', $o{key} // "$TMP/main/private.pem");
    push @args, '--encrypt-to', $o{encrypt_to} if defined $o{encrypt_to};

    my $cred_file;
    if (defined $o{credential}) {
        # via a file, never argv (argv is visible in ps)
        $cred_file = "$TMP/cred." . $$ . '.' . ++$cred_seq;
        open my $out, '>', $cred_file or die "$cred_file: $!";
        binmode $out;
        print $out $o{credential};
        close $out;
        push @args, '--credential-file', $cred_file;
    } else {
        push @args, '--no-credential';
    }

    push @args, map { ('--allowed', $_) } @{ $o{allowed} || [] };
    push @args, '--scopes', @{ $o{scopes} } if $o{scopes} && @{ $o{scopes} };
    push @args, '--scopes-null' if $o{scopes_null};
    for my $opt (qw(exp ttl iat nbf jti alg)) {
        push @args, "--$opt", $o{$opt} if defined $o{$opt};
    }
    push @args, '--no-exp' if $o{no_exp};
    push @args, '--pad' if $o{pad};
    for my $name (sort keys %{ $o{claims} || {} }) {
        push @args, '--claim', "$name=$o{claims}{$name}";
    }
    for my $name (sort keys %{ $o{headers} || {} }) {
        push @args, '--header', "$name=$o{headers}{$name}";
    }

    my $tok = eval { mtmint(@args) };
    my $err = $@;
    unlink $cred_file if defined $cred_file;
    die $err if $err;
    return $tok;
}

# tamper($token, $mode, claim => [NAME=JSON..], header => [NAME=JSON..])
sub tamper {
    my ($token, $mode, %o) = @_;
    my @args = ('tamper', $token, '--mode', $mode);
    push @args, map { ('--claim', $_) } @{ $o{claim} || [] };
    push @args, map { ('--header', $_) } @{ $o{header} || [] };
    return mtmint(@args);
}

# the id the module reports for a token without jti
# $magic_token_id without jti: the hash of the signed part (no signature)
sub token_id {
    my ($t) = @_;
    my $i = rindex($t, '.');
    return substr(sha256_hex($i >= 0 ? substr($t, 0, $i) : $t), 0, 16);
}

# what the echo upstream answers
sub upstream_body {
    my ($auth, $method, $uri) = @_;
    return "auth=[$auth] method=$method uri=$uri\n";
}

# ---------------------------------------------------------------------------
# block preprocessor

my ($DEFAULT_CONFIG, $DEFAULT_HTTP_CONFIG);
sub default_config      { $DEFAULT_CONFIG = shift }
sub default_http_config { $DEFAULT_HTTP_CONFIG = shift }

my $UPSTREAM = <<'_EOC_';

    # echo upstream (added by MagicToken::Test)
    server {
        listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        magic_token off;
        access_log off;
        location / {
            return 200 "auth=[$http_authorization] method=$request_method uri=$request_uri\n";
        }
    }
_EOC_

my $preprocess = sub {
    my $block = shift;

    my $main = $block->main_config;
    $main = '' unless defined $main;
    $block->set_value('main_config', "load_module $MODULE;\n$main")
        unless $main =~ /ngx_http_magic_token_module\.so/;

    $block->set_value('config', $DEFAULT_CONFIG)
        if !defined $block->config && defined $DEFAULT_CONFIG;

    my $http = $block->http_config;
    $http = $DEFAULT_HTTP_CONFIG if !defined $http;
    $http = '' unless defined $http;
    # the echo upstream shows what arrived, credential included: not
    # scrubbed here (magic_token_scrub is t/053-scrub.t's)
    $http = "    magic_token_scrub off;\n$http"
        unless $http =~ /\bmagic_token_scrub\b/;
    if ($http !~ /\blisten\s+\S*(?:\$TEST_NGINX_UPSTREAM_PORT|:\Q$ENV{TEST_NGINX_UPSTREAM_PORT}\E)\b/) {
        (my $up = $UPSTREAM) =~ s/\$TEST_NGINX_UPSTREAM_PORT/$ENV{TEST_NGINX_UPSTREAM_PORT}/g;
        $http .= $up;
    }
    $block->set_value('http_config', $http);
};

if (my $add = main->can('add_block_preprocessor')) {
    $add->($preprocess);
} else {
    die "MagicToken::Test: load Test::Nginx::Socket before MagicToken::Test\n";
}

# ---------------------------------------------------------------------------
# nginx_with_debug() -> true when the nginx under test was configured
# --with-debug ("nginx -V"); debug-level log lines exist only then.

my $WITH_DEBUG;

sub nginx_with_debug {
    return $WITH_DEBUG if defined $WITH_DEBUG;
    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $v = `$nginx -V 2>&1`;
    return $WITH_DEBUG = ($v =~ /--with-debug\b/ ? 1 : 0);
}

# ---------------------------------------------------------------------------
# nginx_config_check($http_snippet, %opts) -> ($exit_status, $stderr)
#
# Runs "nginx -t" on a minimal config that loads the module and contains
# $http_snippet inside http {}. Independent of the test runner: used to check
# configuration error messages, which Debian's nginx (built with
# --error-log-path=stderr) prints on stderr, not into the servroot error.log.
# $TEST_NGINX_* variables in the snippet are substituted.

sub nginx_config_check {
    my ($snippet, %o) = @_;
    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $dir = tempdir('mt-conf-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    mkdir "$dir/$_" for qw(conf logs tmp);
    $snippet =~ s/\$(TEST_NGINX_[A-Z0-9_]+)/defined $ENV{$1} ? $ENV{$1} : "\$$1"/ge;
    my $main = defined $o{main_config} ? $o{main_config} : '';
    open my $out, '>', "$dir/conf/nginx.conf" or die "$dir/conf/nginx.conf: $!";
    print $out <<_EOC_;
load_module $MODULE;
$main
pid $dir/logs/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections 16; }
http {
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    access_log off;
$snippet
}
_EOC_
    close $out;
    my $stderr = `$nginx -t -q -p $dir/ -c $dir/conf/nginx.conf 2>&1`;
    return ($? >> 8, $stderr);
}

1;
