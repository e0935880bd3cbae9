# magic_token_mcp: MCP tool, resource and prompt scopes on the JSON-RPC
# body of the Streamable HTTP transport (docs/mcp.md).  Raw requests:
# what is allowed reaches the upstream byte for byte; what is not, or
# what cannot be read the way the server would read it, is refused with
# a JSON-RPC error and never forwarded.  The SDK's client and server:
# t/048-mcp-sdk.t.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;

my $http = '["POST /mcp", "GET /mcp", "DELETE /mcp"]';

our %tok = (
    gh     => mint(credential => 'cred-gh',
                   allowed => ['POST /mcp', 'GET /mcp', 'DELETE /mcp',
                               'PUT /mcp'],
                   claims => { mcp => '{"tools":["get_issue","list_[a-z_]+"],'
                                      . '"resources":["repo://acme/.*"],'
                                      . '"prompts":["review"]}' }),
    empty  => mint(credential => 'cred-empty', allowed => ['POST /mcp'],
                   claims => { mcp => '{}' }),
    nomcp  => mint(credential => 'cred-nomcp', allowed => ['POST /mcp']),
    named  => mint(credential => 'cred-named', scopes => ['mcp-read']),
    bad    => mint(credential => 'cred-bad', allowed => ['POST /mcp'],
                   claims => { mcp => '{"tool":["get_issue"]}' }),
);

# a token from the CLI: magic-token mint --mcp-tool ...
sub cli_mint {
    my @args = @_;
    my $cred = keys_dir() . "/cred.cli.$$";
    open my $out, '>', $cred or die "$cred: $!";
    print $out 'cred-cli';
    close $out;
    open my $in, '-|', repo_root() . '/build/magic-token', 'mint',
        '--key', keys_dir() . '/private.pem', '--credential-file', $cred,
        @args or die "magic-token: $!";
    my $t = do { local $/; <$in> };
    close $in;
    unlink $cred;
    die "magic-token mint @args failed\n" if $? || !$t;
    $t =~ s/\s+\z//;
    return $t;
}

$tok{cli} = cli_mint('--allowed', 'POST /mcp', '--mcp-tool', 'get_.*',
                     '--mcp-prompt', 'review');

our $auth = "Authorization: Bearer $tok{gh}\nContent-Type: application/json";

sub call {
    my ($id, $name, $method) = @_;
    $method //= 'tools/call';
    return qq({"jsonrpc":"2.0","id":$id,"method":"$method",)
         . qq("params":{"name":"$name","arguments":{}}});
}

sub err {
    my ($id, $code, $msg) = @_;
    return qq({"jsonrpc":"2.0","id":$id,"error":{"code":$code,)
         . qq("message":"magic_token: $msg"}}\n);
}

sub seen {
    my ($cred, $method, $body) = @_;
    return "auth=[Bearer $cred] method=$method body=[$body]\n";
}

{
    for my $case (
        ['max_body over the buffer',
         "server { location / { client_body_buffer_size 8k; magic_token_mcp on max_body=16k; } }",
         qr/"magic_token_mcp" max_body=16384 is larger than client_body_buffer_size 8192/],
        ['a bad max_body',  'magic_token_mcp on max_body=2m;',
         qr/invalid "max_body" "2m" in "magic_token_mcp", it must be 1 to 1048576 bytes/],
        ['a bad value',     'magic_token_mcp yes;',
         qr/invalid value "yes" in "magic_token_mcp", it must be "on" or "off"/],
        ['a bad parameter', 'magic_token_mcp on size=1k;',
         qr/invalid parameter "size=1k" in "magic_token_mcp"/],
        ['no scope',        'magic_token_mcp_scope r "tool x";',
         qr/magic_token_mcp_scope "r" in \S+:\d+ has no magic_token_scope of that name/],
        ['an HTTP entry',   "magic_token_scope r \"POST /mcp\";\nmagic_token_mcp_scope r \"POST /mcp\";",
         qr/magic_token_mcp_scope "r": MCP entry "POST \/mcp" is not "tool regex", "resource regex" or "prompt regex"/],
        ['a bad regex',     "magic_token_scope r \"POST /mcp\";\nmagic_token_mcp_scope r \"tool (\";",
         qr/magic_token_mcp_scope "r": scope regex "tool \(":/],
        ['twice',           "magic_token_scope r \"POST /mcp\";\nmagic_token_mcp_scope r \"tool a\";\nmagic_token_mcp_scope r \"tool b\";",
         qr/duplicate magic_token_mcp_scope "r"/],
    ) {
        my ($what, $conf, $re) = @$case;
        my ($rc, $err) = nginx_config_check("$conf\n");
        Test::More::isnt($rc, 0, "nginx -t refuses: $what");
        Test::More::like($err, $re, "$what: the message") or Test::More::diag($err);
    }

    # conf-examples/mcp.conf passes nginx -t (with a test key, and
    # without its TLS server: no certificate here)
    open my $in, '<', repo_root() . '/conf-examples/mcp.conf' or die "mcp.conf: $!";
    my $example = do { local $/; <$in> };
    close $in;
    my $kd = keys_dir();
    $example =~ s{/etc/nginx/magic-token}{$kd}g;
    $example =~ s{listen\s+443 ssl;}{listen 127.0.0.1:$ENV{TEST_NGINX_UPSTREAM_PORT};};
    $example =~ s{^\s*ssl_certificate.*\n}{}mg;
    $example =~ s{proxy_pass\s+https://api\.githubcopilot\.com/}{proxy_pass https://127.0.0.1:1/};   # no DNS here
    my ($erc, $eerr) = nginx_config_check($example);
    Test::More::is($erc, 0, 'conf-examples/mcp.conf passes nginx -t')
        or Test::More::diag($eerr);

    my ($rc, $err) = nginx_config_check(
        "magic_token_mcp_scope r \"tool get_.*\" \"resource x://.*\" "
        . "\"prompt p\";\nmagic_token_scope r \"POST /mcp\";\n"
        . "server { location / { magic_token_mcp on max_body=8k; } }\n");
    Test::More::is($rc, 0, 'nginx -t accepts MCP scopes (forward reference)')
        or Test::More::diag($err);
}

default_http_config(<<'_EOC_');
    magic_token_zone mcpz:1m;
    magic_token_scope mcp-read "POST /mcp";
    magic_token_mcp_scope mcp-read "tool get_issue";

    # the upstream: what it was sent, body included
    server {
        listen 127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        magic_token off;
        access_log off;
        client_body_buffer_size 64k;

        location / {
            proxy_set_header X-Auth $http_authorization;
            proxy_set_header X-Method $request_method;
            proxy_set_header X-Body $request_body;
            proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT/_echo;
        }

        location /_echo {
            return 200 "auth=[$http_x_auth] method=$http_x_method body=[$http_x_body]\n";
        }
    }
_EOC_

default_config(<<'_EOC_');
    location = /mcp {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_mcp on max_body=2k;
        client_body_buffer_size 16k;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }

    location = /plain {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
_EOC_

run_tests();

__DATA__

=== TEST 1: an allowed tool: the upstream gets the body byte for byte
--- request eval
"POST /mcp\n" . main::call(1, 'get_issue')
--- more_headers eval
$::auth
--- error_code: 200
--- response_body eval
main::seen('cred-gh', 'POST', main::call(1, 'get_issue'))
--- no_error_log
[error]
[alert]



=== TEST 2: a pattern, full match
--- request eval
"POST /mcp\n" . main::call('"a"', 'list_issues')
--- more_headers eval
$::auth
--- error_code: 200
--- response_body eval
main::seen('cred-gh', 'POST', main::call('"a"', 'list_issues'))



=== TEST 3: a forbidden tool: 403, a JSON-RPC error with the id, never forwarded
--- request eval
"POST /mcp\n" . main::call(7, 'delete_repository')
--- more_headers eval
$::auth
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body eval
main::err(7, -32003, 'this tool is not allowed by the token')
--- error_log
magic_token: MCP request refused: magic_token: this tool is not allowed by the token (token
--- no_error_log
cred-gh
[alert]



=== TEST 4: a string id is given back as JSON
--- request eval
"POST /mcp\n" . main::call('"x\\"y"', 'delete_repository')
--- more_headers eval
$::auth
--- error_code: 403
--- response_body eval
main::err('"x\\"y"', -32003, 'this tool is not allowed by the token')



=== TEST 5: no partial match: get_issue_comments is not get_issue
--- request eval
"POST /mcp\n" . main::call(1, 'get_issue_comments')
--- more_headers eval
$::auth
--- error_code: 403



=== TEST 6: a batch mixing an allowed and a forbidden call is refused whole
--- request eval
"POST /mcp\n[" . main::call(1, 'get_issue') . "," . main::call(2, 'delete_repository') . "]"
--- more_headers eval
$::auth
--- error_code: 403
--- response_body eval
main::err('null', -32003, 'this tool is not allowed by the token')



=== TEST 7: a batch of allowed calls passes
--- request eval
"POST /mcp\n[" . main::call(1, 'get_issue') . "," . main::call(2, 'list_pulls') . "]"
--- more_headers eval
$::auth
--- error_code: 200
--- response_body eval
main::seen('cred-gh', 'POST', "[" . main::call(1, 'get_issue') . "," . main::call(2, 'list_pulls') . "]")



=== TEST 8: duplicate keys: parse error
--- request eval
qq(POST /mcp\n{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_issue","name":"delete_repository"}})
--- more_headers eval
$::auth
--- error_code: 400
--- response_body eval
main::err('null', -32700, 'parse error')



=== TEST 9: a duplicate method
--- request eval
qq(POST /mcp\n{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call","params":{"name":"delete_repository"}})
--- more_headers eval
$::auth
--- error_code: 400



=== TEST 10: malformed JSON
--- request eval
qq(POST /mcp\n{"jsonrpc":"2.0","id":1,"method":"tools/call")
--- more_headers eval
$::auth
--- error_code: 400
--- response_body eval
main::err('null', -32700, 'parse error')



=== TEST 11: bytes after the message
--- request eval
"POST /mcp\n" . main::call(1, 'get_issue') . "\n" . main::call(2, 'delete_repository')
--- more_headers eval
$::auth
--- error_code: 400



=== TEST 12: UTF-16 with a BOM
--- request eval
my $j = main::call(1, 'delete_repository');
"POST /mcp\n\xff\xfe" . CORE::join('', map { "$_\0" } split //, $j)
--- more_headers eval
$::auth
--- error_code: 400



=== TEST 13: a UTF-8 BOM
--- request eval
"POST /mcp\n\xef\xbb\xbf" . main::call(1, 'get_issue')
--- more_headers eval
$::auth
--- error_code: 400



=== TEST 14: invalid UTF-8 in a name
--- request eval
"POST /mcp\n" . main::call(1, "get_\xc0\xafissue")
--- more_headers eval
$::auth
--- error_code: 400



=== TEST 15: an escaped method name is the method: tools\/call is checked
--- request eval
qq(POST /mcp\n{"jsonrpc":"2.0","id":3,"method":"tools\\/call","params":{"name":"delete_repository"}})
--- more_headers eval
$::auth
--- error_code: 403
--- response_body eval
main::err(3, -32003, 'this tool is not allowed by the token')



=== TEST 16: unicode escapes in the method and the name are decoded before the check
--- request eval
qq(POST /mcp\n{"jsonrpc":"2.0","id":4,"method":"tools/\\u0063all","params":{"name":"delete_\\u0072epository"}})
--- more_headers eval
$::auth
--- error_code: 403



=== TEST 17: and an allowed name written with escapes passes as it is
--- request eval
qq(POST /mcp\n{"jsonrpc":"2.0","id":4,"method":"tools\\/call","params":{"name":"get_\\u0069ssue"}})
--- more_headers eval
$::auth
--- error_code: 200
--- response_body eval
main::seen('cred-gh', 'POST', qq({"jsonrpc":"2.0","id":4,"method":"tools\\/call","params":{"name":"get_\\u0069ssue"}}))



=== TEST 18: "\u0000" in a name
--- request eval
qq(POST /mcp\n{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_issue\\u0000"}})
--- more_headers eval
$::auth
--- error_code: 400



=== TEST 19: a body over max_body (Content-Length): 413 before reading
--- request eval
"POST /mcp\n" . main::call(1, 'get_issue' . ('x' x 3000))
--- more_headers eval
$::auth
--- error_code: 413
--- response_body eval
main::err('null', -32600, 'request too large')



=== TEST 20: a chunked body over max_body: 413
--- raw_request eval
my $b = main::call(1, 'get_issue' . ('x' x 3000));
"POST /mcp HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
. "Authorization: Bearer $::tok{gh}\r\nTransfer-Encoding: chunked\r\n\r\n"
. sprintf("%x", length $b) . "\r\n$b\r\n0\r\n\r\n"
--- error_code: 413



=== TEST 21: a chunked body under max_body passes, as sent
--- raw_request eval
my $b = main::call(1, 'get_issue');
"POST /mcp HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
. "Authorization: Bearer $::tok{gh}\r\nTransfer-Encoding: chunked\r\n\r\n"
. "10\r\n" . substr($b, 0, 16) . "\r\n"
. sprintf("%x", length($b) - 16) . "\r\n" . substr($b, 16) . "\r\n0\r\n\r\n"
--- error_code: 200
--- response_body eval
main::seen('cred-gh', 'POST', main::call(1, 'get_issue'))



=== TEST 22: nesting past the bound
--- request eval
"POST /mcp\n" . ('[' x 40) . (']' x 40)
--- more_headers eval
$::auth
--- error_code: 413



=== TEST 23: a compressed body is refused (the server could decode it)
--- request eval
"POST /mcp\n" . main::call(1, 'get_issue')
--- more_headers eval
"$::auth\nContent-Encoding: gzip"
--- error_code: 415



=== TEST 24: an empty body
--- request
POST /mcp
--- more_headers eval
$::auth
--- error_code: 400



=== TEST 25: initialize, ping and notifications pass
--- request eval
qq(POST /mcp\n[{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"t","version":"1"}}},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":1,"method":"ping"}])
--- more_headers eval
$::auth
--- error_code: 200



=== TEST 26: listing passes
--- request eval
qq(POST /mcp\n[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"resources/list"},{"jsonrpc":"2.0","id":3,"method":"prompts/list","params":{"cursor":"x"}}])
--- more_headers eval
$::auth
--- error_code: 200



=== TEST 27: any other method is refused
--- request eval
qq(POST /mcp\n{"jsonrpc":"2.0","id":9,"method":"completion/complete","params":{}})
--- more_headers eval
$::auth
--- error_code: 403
--- response_body eval
main::err(9, -32003, 'this method is not allowed by the token')



=== TEST 28: a resource by URI pattern
--- request eval
qq(POST /mcp\n{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"repo://acme/readme"}})
--- more_headers eval
$::auth
--- error_code: 200



=== TEST 29: a resource outside the pattern
--- request eval
qq(POST /mcp\n{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"repo://other/readme"}})
--- more_headers eval
$::auth
--- error_code: 403
--- response_body eval
main::err(1, -32003, 'this resource is not allowed by the token')



=== TEST 30: prompts by name
--- request eval
"POST /mcp\n[" . main::call(1, 'review', 'prompts/get') . "]"
--- more_headers eval
$::auth
--- error_code: 200



=== TEST 31: a tool name is no prompt
--- request eval
"POST /mcp\n" . main::call(1, 'get_issue', 'prompts/get')
--- more_headers eval
$::auth
--- error_code: 403
--- response_body eval
main::err(1, -32003, 'this prompt is not allowed by the token')



=== TEST 32: a message that is not JSON-RPC 2.0
--- request eval
qq(POST /mcp\n{"id":1,"method":"tools/call","params":{"name":"get_issue"}})
--- more_headers eval
$::auth
--- error_code: 400
--- response_body eval
main::err(1, -32600, 'not a JSON-RPC 2.0 message')



=== TEST 33: a member JSON-RPC does not have
--- request eval
qq(POST /mcp\n{"jsonrpc":"2.0","id":1,"method":"ping","Method":"tools/call"})
--- more_headers eval
$::auth
--- error_code: 400



=== TEST 34: GET (the server's SSE stream) passes without a body
--- request
GET /mcp
--- more_headers eval
"Authorization: Bearer $::tok{gh}\nAccept: text/event-stream"
--- error_code: 200
--- response_body eval
main::seen('cred-gh', 'GET', '')



=== TEST 35: DELETE (the end of a session) passes
--- request
DELETE /mcp
--- more_headers eval
"Authorization: Bearer $::tok{gh}\nMcp-Session-Id: abc"
--- error_code: 200
--- response_body eval
main::seen('cred-gh', 'DELETE', '')



=== TEST 36: a GET with a body is refused
--- request eval
"GET /mcp\n" . main::call(1, 'delete_repository')
--- more_headers eval
$::auth
--- error_code: 400



=== TEST 37: other methods are refused, even when the token's scopes allow them
--- request eval
"PUT /mcp\n" . main::call(1, 'get_issue')
--- more_headers eval
$::auth
--- error_code: 405



=== TEST 38: a token without MCP entries gets nothing at an MCP endpoint
--- request eval
qq(POST /mcp\n{"jsonrpc":"2.0","id":1,"method":"ping"})
--- more_headers eval
"Authorization: Bearer $::tok{nomcp}"
--- error_code: 403
--- response_body eval
main::err('null', -32003, 'the token has no MCP entries')



=== TEST 39: ... and passes where magic_token_mcp is off
--- request eval
"POST /plain\n" . main::call(1, 'delete_repository')
--- more_headers eval
"Authorization: Bearer $::tok{nomcp}"
--- error_code: 403



=== TEST 40: empty MCP entries: lifecycle only
--- request eval
"POST /mcp\n" . main::call(1, 'get_issue')
--- more_headers eval
"Authorization: Bearer $::tok{empty}"
--- error_code: 403



=== TEST 41: empty MCP entries: ping passes
--- request eval
qq(POST /mcp\n{"jsonrpc":"2.0","id":1,"method":"ping"})
--- more_headers eval
"Authorization: Bearer $::tok{empty}"
--- error_code: 200



=== TEST 42: a claim that is not understood is refused
--- request eval
qq(POST /mcp\n{"jsonrpc":"2.0","id":1,"method":"ping"})
--- more_headers eval
"Authorization: Bearer $::tok{bad}"
--- error_code: 403
--- response_body eval
main::err('null', -32003, "the token's MCP entries are invalid")



=== TEST 43: a named scope's MCP entries (magic_token_mcp_scope)
--- request eval
"POST /mcp\n" . main::call(1, 'get_issue')
--- more_headers eval
"Authorization: Bearer $::tok{named}"
--- error_code: 200
--- response_body eval
main::seen('cred-named', 'POST', main::call(1, 'get_issue'))



=== TEST 44: ... and only those
--- request eval
"POST /mcp\n" . main::call(1, 'list_issues')
--- more_headers eval
"Authorization: Bearer $::tok{named}"
--- error_code: 403



=== TEST 45: the ordinary scopes come first: a path the token does not have
--- config
    location /other {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_mcp on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request eval
"POST /other\n" . main::call(1, 'get_issue')
--- more_headers eval
$::auth
--- error_code: 403
--- response_headers
WWW-Authenticate: Bearer realm="magic-token", error="insufficient_scope"
--- error_log
magic_token: denied: scope_denied



=== TEST 46: the body in a temporary file is refused (client_body_buffer_size)
--- config
    location = /mcp {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        client_body_buffer_size 1k;
        magic_token_mcp on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- raw_request eval
my $b = main::call(1, 'get_issue' . ('x' x 1500));
"POST /mcp HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
. "Authorization: Bearer $::tok{gh}\r\nTransfer-Encoding: chunked\r\n\r\n"
. sprintf("%x", length $b) . "\r\n$b\r\n0\r\n\r\n"
--- error_code: 413



=== TEST 47: a token from magic-token mint --mcp-tool: an allowed tool
--- request eval
"POST /mcp\n" . main::call(1, 'get_issue')
--- more_headers eval
"Authorization: Bearer $::tok{cli}"
--- error_code: 200
--- response_body eval
main::seen('cred-cli', 'POST', main::call(1, 'get_issue'))



=== TEST 48: ... and a forbidden one
--- request eval
"POST /mcp\n" . main::call(1, 'delete_repository')
--- more_headers eval
"Authorization: Bearer $::tok{cli}"
--- error_code: 403



=== TEST 49: the worker cache: hits keep the MCP entries (allowed, forbidden, allowed)
--- config
    location = /mcp {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_cache size=16;
        magic_token_mcp on;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request eval
["POST /mcp\n" . main::call(1, 'get_issue'),
 "POST /mcp\n" . main::call(2, 'delete_repository'),
 "POST /mcp\n" . main::call(3, 'get_issue')]
--- more_headers eval
$::auth
--- error_code eval
[200, 403, 200]
--- response_body eval
[main::seen('cred-gh', 'POST', main::call(1, 'get_issue')),
 main::err(2, -32003, 'this tool is not allowed by the token'),
 main::seen('cred-gh', 'POST', main::call(3, 'get_issue'))]
--- no_error_log
[alert]



=== TEST 50: the shared cache: hits keep the MCP entries (allowed, forbidden, allowed)
--- config
    location = /mcp {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_cache zone=mcpz;
        magic_token_mcp on;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request eval
["POST /mcp\n" . main::call(1, 'get_issue'),
 "POST /mcp\n" . main::call(2, 'delete_repository'),
 "POST /mcp\n" . main::call(3, 'get_issue')]
--- more_headers eval
$::auth
--- error_code eval
[200, 403, 200]
--- response_body eval
[main::seen('cred-gh', 'POST', main::call(1, 'get_issue')),
 main::err(2, -32003, 'this tool is not allowed by the token'),
 main::seen('cred-gh', 'POST', main::call(3, 'get_issue'))]
--- no_error_log
[alert]
