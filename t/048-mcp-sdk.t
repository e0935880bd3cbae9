# magic_token_mcp with the real MCP SDK (@modelcontextprotocol/sdk from
# npm): its Streamable HTTP server on loopback (t/tools/interop/
# mcp_server.mjs: get_issue, list_issues, delete_repository, two
# resources, two prompts) behind nginx, and its client
# (t/tools/interop/mcp_client.mjs) with magic tokens.  Allowed calls
# reach the server with the credential; forbidden ones fail in the
# client with the module's JSON-RPC error, and the server never sees
# them.
#
# Ports: server port + 38 (nginx), + 39 (the MCP server).
# Plain Test::More: runs its own nginx.  Skipped without node or
# t/tools/interop/node_modules (make interop-deps).

use strict;
use warnings;

use File::Path qw(make_path);
use File::Temp qw(tempdir);
use JSON::PP ();
use Test::More;
use Time::HiRes qw(sleep);

use FindBin;
use lib "$FindBin::Bin/lib";
use MagicToken::Standalone;
use MagicToken::Proto;

my $module = module_so();
my $tools = proto_root() . '/t/tools/interop';

plan skip_all => "no module at $module" unless -f $module;
plan skip_all => 'no node' if system('node --version >/dev/null 2>&1') != 0;
plan skip_all => 'no @modelcontextprotocol/sdk (make interop-deps)'
    unless -d "$tools/node_modules/\@modelcontextprotocol/sdk";

my $port = base_port() + 38;
my $up   = base_port() + 39;

my $prefix = tempdir('mt-mcp-XXXXXX', TMPDIR => 1, CLEANUP => 1);
make_path("$prefix/conf", "$prefix/logs", "$prefix/keys");
keygen("$prefix/keys");
my $uplog = "$prefix/logs/mcp.log";
spew($uplog, '');

my $server_pid = fork() // die "fork: $!";
if ($server_pid == 0) {
    open STDOUT, '>', '/dev/null';
    exec('node', "$tools/mcp_server.mjs", $up, $uplog)
        or die "exec mcp_server.mjs: $!";
}
BAIL_OUT('mcp_server.mjs did not start') unless wait_port($up);

spew("$prefix/conf/nginx.conf", <<"_EOC_");
@{[ standalone_head($prefix) ]}
    fastcgi_temp_path $prefix/fastcgi;
    uwsgi_temp_path $prefix/uwsgi;
    scgi_temp_path $prefix/scgi;
    magic_token_key $prefix/keys/private.pem;
    magic_token_scope mcp-read "POST /mcp" "GET /mcp" "DELETE /mcp";
    magic_token_mcp_scope mcp-read "tool get_issue" "tool list_.*"
                                   "resource repo://acme/.*";
    server {
        listen 127.0.0.1:$port;
        location = /mcp {
            magic_token on;
            magic_token_mcp on max_body=16k;
            client_body_buffer_size 16k;
            proxy_http_version 1.1;
            proxy_buffering off;
            proxy_set_header Authorization "Bearer \$magic_token_credential";
            proxy_pass http://127.0.0.1:$up;
        }
    }
}
_EOC_

{
    my ($rc, $out) = start_nginx($prefix);
    BAIL_OUT("nginx does not start: $out\n" . slurp("$prefix/logs/error.log")) if $rc;
}
END {
    local $?;
    stop_nginx($prefix) if $prefix;
    if ($server_pid) { kill 'TERM', $server_pid; waitpid($server_pid, 0) }
}

my $keys = "$prefix/keys";

my %tok = (
    claim => mint_token($keys, 'cred-claim',
                        allowed => ['POST /mcp', 'GET /mcp', 'DELETE /mcp'],
                        claims => { mcp => '{"tools":["get_issue","list_issues"],'
                                           . '"resources":["repo://acme/readme"],'
                                           . '"prompts":["review"]}' }),
    named => mint_token($keys, 'cred-named',
                        claims => { scopes => '["mcp-read"]' }),
    none  => mint_token($keys, 'cred-none', allowed => ['POST /mcp']),
);

# the client's answers, and what the server saw meanwhile
sub client {
    my ($token) = @_;
    spew($uplog, '');
    local $ENV{MT_TOKEN} = $token;
    my ($rc, $out, $err) = run_capture('node', "$tools/mcp_client.mjs",
                                       "http://127.0.0.1:$port/mcp");
    is($rc, 0, 'the client ran') or diag($err);
    my $r = eval { JSON::PP->new->decode($out) } || {};
    my @seen = map { JSON::PP->new->decode($_) } grep { length } split /\n/, slurp($uplog);
    return ($r, \@seen);
}

sub served {
    my ($seen, $key, $value) = @_;
    return scalar grep { defined $_->{$key} && $_->{$key} eq $value } @$seen;
}

my $refused = qr/"code":-32003.*magic_token: this (tool|resource|prompt) is not allowed by the token/;

for my $who (qw(claim named)) {
    my ($r, $seen) = client($tok{$who});

    ok($r->{connect}{ok}, "$who: the client connects (initialize passes)")
        or diag(explain($r->{connect}));
    is_deeply($r->{tools}{value}, [qw(delete_repository get_issue list_issues)],
              "$who: tools/list passes");
    is($r->{get_issue}{value}, 'issue 7', "$who: get_issue is served");
    is($r->{list_issues}{value}, '1 2 3', "$who: list_issues is served");
    ok(!$r->{delete_repository}{ok}, "$who: delete_repository fails in the client");
    like($r->{delete_repository}{error}, $refused,
         "$who: ... with the module's JSON-RPC error");
    is(served($seen, 'tool', 'delete_repository'), 0,
       "$who: the server never saw delete_repository");
    is($r->{readme}{value}, 'readme text', "$who: an allowed resource");
    ok(!$r->{secrets}{ok} && $r->{secrets}{error} =~ $refused,
       "$who: a forbidden resource fails") or diag(explain($r->{secrets}));
    is(served($seen, 'resource', 'repo://vault/secrets'), 0,
       "$who: the server never read it");
    is($r->{ping}{value}, 'pong', "$who: ping passes");
    ok(!$r->{exfiltrate}{ok}, "$who: a forbidden prompt fails");
    is(served($seen, 'prompt', 'exfiltrate'), 0,
       "$who: the server never saw that prompt");

    my @auth = grep { exists $_->{authorization} } @$seen;
    ok(@auth && !grep({ ($_->{authorization} // '') ne "Bearer cred-$who" } @auth),
       "$who: every request reached the server with the credential, never the token");
}

{
    my ($r) = client($tok{claim});
    is($r->{review}{value}, 'review 1', 'claim: an allowed prompt');
}

{
    my ($r, $seen) = client($tok{named});
    ok(!$r->{review}{ok}, 'named: the scope has no prompts');
}

{
    my ($r, $seen) = client($tok{none});
    ok(!$r->{connect}{ok}, 'a token without MCP entries cannot even initialize');
    like($r->{connect}{error} // '', qr/"code":-32003,"message":"magic_token: the token has no MCP entries"/,
         '... and the client shows why');
    is(scalar @$seen, 0, 'the server saw nothing');
}

unlike(slurp("$prefix/logs/error.log"), qr/\[alert\]|\[emerg\]|cred-/,
       'no alert, and no credential in the error log');

done_testing();
