package MagicToken::Standalone;

# For the plain Test::More files that run their own nginx (reloads,
# multi-step flows): the head of a standalone nginx.conf under a prefix
# directory, up to and including the opening of the http block.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use Exporter 'import';

our @EXPORT = qw(standalone_head);

my $ROOT = abs_path(dirname(__FILE__) . '/../../..');

sub standalone_head {
    my ($prefix) = @_;
    my $module = $ENV{MAGIC_TOKEN_MODULE}
                 || "$ROOT/build/ngx_http_magic_token_module.so";

    return <<"_EOC_";
load_module $module;
worker_processes 1;
daemon on;
pid logs/nginx.pid;
error_log logs/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $prefix/body;
    proxy_temp_path $prefix/proxy;
    # the suites' upstreams echo the credential to show it arrived;
    # t/053-scrub.t turns magic_token_scrub on where it tests it
    magic_token_scrub off;
_EOC_
}

1;
