# Interned rule lists (mt_intern.c, ngx_http_magic_token_intern.c): the
# cached tokens of a worker share one compiled list per set of "allowed"
# entries and match mode.  Two tokens with the same entries and one with
# other entries, each through the cache (a miss, then hits) in the full
# and the prefix mode: every token allows what its own entries allow and
# nothing else, whatever was compiled or cached before it.  Each block's
# requests run in one nginx, one worker, in order.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;

our %tok;
our @a = ('GET /(api|pre)/a/[0-9]+', 'POST /(api|pre)/a');
our @b = ('GET /(api|pre)/b/[0-9]+', 'POST /(api|pre)/b');

$tok{a1} = mint(credential => 'cred-a1', allowed => \@a, jti => 'a1');
$tok{a2} = mint(credential => 'cred-a2', allowed => \@a, jti => 'a2');
$tok{b} = mint(credential => 'cred-b', allowed => \@b, jti => 'b');

# [token, method, uri, status, cache status]
sub steps {
    my @s = @_;
    return {
        request => [map { "$_->[1] $_->[2]" } @s],
        headers => [map { "Authorization: Bearer $::tok{$_->[0]}" } @s],
        code => [map { $_->[3] } @s],
        body => [map {
            $_->[3] == 200
                ? qr/^\Qauth=[Bearer cred-$_->[0]] method=$_->[1] uri=$_->[2]\E\n\z/
                : qr/403 Forbidden/
        } @s],
        cache => [map { "X-Cache: $_->[4]" } @s],
    };
}

our $full = steps(
    [a1 => GET => '/api/a/1', 200, 'MISS'],
    [a2 => GET => '/api/a/2', 200, 'MISS'],
    [b => GET => '/api/b/3', 200, 'MISS'],
    [a2 => GET => '/api/b/3', 403, 'HIT'],
    [a1 => POST => '/api/b', 403, 'HIT'],
    [b => GET => '/api/a/1', 403, 'HIT'],
    [a1 => GET => '/api/a/4', 200, 'HIT'],
    [a2 => GET => '/api/A/4', 403, 'HIT'],
    [b => POST => '/api/b', 200, 'HIT'],
    [a2 => GET => '/api/a/5x', 403, 'HIT'],
);

our $prefix = steps(
    [a1 => GET => '/api/a/1', 200, 'MISS'],
    [b => GET => '/pre/b/1', 200, 'MISS'],
    [a1 => GET => '/pre/A/1x', 200, 'MISS'],
    [a2 => GET => '/pre/a/2', 200, 'MISS'],
    [a2 => GET => '/pre/b/2', 403, 'HIT'],
    [a2 => GET => '/api/A/2', 403, 'MISS'],
    [b => GET => '/pre/B/9z', 200, 'HIT'],
    [b => GET => '/pre/a/9', 403, 'HIT'],
    [a1 => GET => '/api/a/1x', 403, 'HIT'],
);

default_config(<<'_EOC_');
    magic_token_cache size=100;
    magic_token_key $TEST_NGINX_KEYS/private.pem;

    location /api/ {
        magic_token on;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        add_header X-Cache $magic_token_cache_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }

    location /pre/ {
        magic_token on;
        magic_token_scope_match prefix;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        add_header X-Cache $magic_token_cache_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
_EOC_

run_tests();

__DATA__

=== TEST 1: full mode: tokens with the same entries and with others
--- request eval
$::full->{request}
--- more_headers eval
$::full->{headers}
--- error_code eval
$::full->{code}
--- response_body_like eval
$::full->{body}
--- response_headers eval
$::full->{cache}
--- no_error_log
[alert]
[crit]



=== TEST 2: prefix mode beside full mode: a list per mode
--- request eval
$::prefix->{request}
--- more_headers eval
$::prefix->{headers}
--- error_code eval
$::prefix->{code}
--- response_body_like eval
$::prefix->{body}
--- response_headers eval
$::prefix->{cache}
--- no_error_log
[alert]
[crit]
