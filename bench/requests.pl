#!/usr/bin/perl
# bench/requests.pl PORT PATH COUNT [TOKEN-FILE | LIST-FILE --list]
#
# COUNT keep-alive GET requests, one after another on one connection,
# every answer checked (200, body "ok"): a fixed request count for the
# callgrind measurement in bench/run.sh.  With --list, the tokens of
# LIST-FILE (one a line) round robin.  A line "TOKEN PROOF" is a
# DPoP-bound token and a proof for this request (bench/mt_bench
# dpoplist): sent as "Authorization: DPoP TOKEN" and "DPoP: PROOF".

use strict;
use warnings;
use IO::Socket::INET;

my ($port, $path, $count, $file, $list) = @ARGV;
die "usage: $0 PORT PATH COUNT [TOKEN-FILE [--list]]\n" unless $count;

my @tokens = ('');
if (defined $file) {
    open my $fh, '<', $file or die "$file: $!\n";
    @tokens = grep { length } map { s/\s+$//r } <$fh>;
    @tokens = ($tokens[0]) unless $list;
}

my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
    or die "connect: $!\n";
binmode $s;

for my $i (0 .. $count - 1) {
    my ($t, $proof) = split / /, $tokens[$i % @tokens], 2;
    my $auth = !length $t ? ''
             : defined $proof ? "Authorization: DPoP $t\r\nDPoP: $proof\r\n"
             : "Authorization: Bearer $t\r\n";
    print $s "GET $path HTTP/1.1\r\nHost: bench\r\n$auth\r\n";

    my $head = '';
    while ($head !~ /\r\n\r\n/) {
        my $n = sysread $s, $head, 4096, length $head;
        die "connection closed after $i requests\n" unless $n;
    }
    my ($h, $body) = split /\r\n\r\n/, $head, 2;
    $h =~ m{^HTTP/1\.1 200 } or die "request $i: $h\n";
    my ($len) = $h =~ /^Content-Length:\s*(\d+)/mi;
    defined $len or die "request $i: no Content-Length\n";
    while (length $body < $len) {
        my $n = sysread $s, $body, $len - length $body, length $body;
        die "short body\n" unless $n;
    }
    $body eq "ok\n" or die "request $i: body \"$body\"\n";
}
