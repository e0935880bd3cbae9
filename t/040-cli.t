# The magic-token CLI (build/magic-token): keygen, mint, inspect and
# verify, and interoperability with PyJWT, jwcrypto and python
# cryptography (Debian's python3-jwt, python3-jwcrypto,
# python3-cryptography, run with $PYTHON or /usr/bin/python3).  When the
# module is built, a token minted by the CLI is also sent through nginx.
# Plain Test::More.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP ();
use POSIX ();
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use MagicToken::Standalone;

my $root   = abs_path(dirname(__FILE__) . '/..');
my $cli    = $ENV{MAGIC_TOKEN_CLI} || "$root/build/magic-token";
my $python = $ENV{PYTHON} || '/usr/bin/python3';

plan skip_all => "no CLI at $cli (make cli)" unless -x $cli;

my $dir = tempdir(CLEANUP => 1);
my $seq = 0;

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return undef;
    local $/;
    my $data = <$fh>;
    close $fh;
    return $data;
}

sub spew {
    my ($path, $data) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $data;
    close $fh or die "$path: $!";
}

# run(STDIN, COMMAND...) -> (exit code, stdout, stderr); no shell
sub run {
    my ($stdin, @cmd) = @_;
    my $n = ++$seq;
    spew("$dir/in.$n", $stdin // '');

    my $pid = fork;
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open STDIN,  '<', "$dir/in.$n"  or POSIX::_exit(126);
        open STDOUT, '>', "$dir/out.$n" or POSIX::_exit(126);
        open STDERR, '>', "$dir/err.$n" or POSIX::_exit(126);
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        POSIX::_exit(127);
    }

    waitpid $pid, 0;
    my $rc = $? & 127 ? 128 + ($? & 127) : $? >> 8;
    my ($out, $err) = (slurp("$dir/out.$n"), slurp("$dir/err.$n"));
    unlink "$dir/in.$n", "$dir/out.$n", "$dir/err.$n";
    return ($rc, $out // '', $err // '');
}

sub mt { my $stdin = shift; return run($stdin, $cli, @_) }

sub mint_ok {
    my ($cred, $name, @args) = @_;
    my ($rc, $out, $err) = mt($cred, 'mint', @args);
    is($rc, 0, "mint: $name") or diag($err);
    chomp $out;
    return $out;
}

# ---------------------------------------------------------------------
# python side

my $py_src = <<'PY';
import base64, json, sys, time, warnings
warnings.simplefilter("ignore")

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
import jwt
from jwcrypto import jwe as jjwe, jwk as jjwk, jws as jjws, jwt as jjwt


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def public_key(path):
    data = read(path)
    if b"CERTIFICATE" in data:
        return x509.load_pem_x509_certificate(data).public_key()
    if b"PRIVATE KEY" in data:
        return serialization.load_pem_private_key(data, None).public_key()
    return serialization.load_pem_public_key(data)


def private_key(path):
    return serialization.load_pem_private_key(read(path), None)


def jwcrypto_key(path, alg):
    data = read(path)
    if alg.startswith("HS"):
        return jjwk.JWK(kty="oct",
                        k=base64.urlsafe_b64encode(data).rstrip(b"=").decode())
    if data.lstrip().startswith(b"{"):
        doc = json.loads(data)
        return jjwk.JWK(**(doc["keys"][0] if "keys" in doc else doc))
    return jjwk.JWK.from_pem(data)


def claims_of(token):
    return json.loads(b64url_decode(token.split(".")[1]))


def oaep_encrypt(cred, pub_path):
    h = hashes.SHA256()
    ct = public_key(pub_path).encrypt(
        cred.encode(), padding.OAEP(mgf=padding.MGF1(h), algorithm=h,
                                    label=None))
    return base64.b64encode(ct).decode()


def run(cmd, args):
    if cmd == "pyjwt-verify":            # ALG KEY TOKEN
        alg, path, token = args
        key = read(path) if alg.startswith("HS") else public_key(path)
        c = jwt.decode(token, key, algorithms=[alg],
                       options={"verify_aud": False, "require": ["exp"]})
        return json.dumps(c)

    elif cmd == "jwcrypto-verify":       # ALG KEY TOKEN
        alg, path, token = args
        t = jjwt.JWT(jwt=token, key=jwcrypto_key(path, alg), algs=[alg])
        return str(t.claims)

    elif cmd == "oaep-decrypt":          # PRIVATE_PEM TOKEN
        path, token = args
        h = hashes.SHA256()
        ct = base64.b64decode(claims_of(token)["token"], validate=True)
        return private_key(path).decrypt(
            ct, padding.OAEP(mgf=padding.MGF1(h), algorithm=h,
                             label=None)).decode()

    elif cmd == "jwe-decrypt":           # PRIVATE_KEY TOKEN
        path, token = args
        e = jjwe.JWE()
        e.deserialize(claims_of(token)["token"],
                      key=jwcrypto_key(path, "RSA"))
        return e.payload.decode()

    elif cmd == "thumbprint":            # JWKS
        k = jjwk.JWKSet.from_json(read(args[0]))
        k = list(k["keys"])[0]
        return k.thumbprint() + " " + k.export_public(as_dict=True).get("kid")

    elif cmd == "cert-matches":          # CERT PRIVATE_PEM
        cert = x509.load_pem_x509_certificate(read(args[0]))
        fmt = (serialization.Encoding.DER,
               serialization.PublicFormat.SubjectPublicKeyInfo)
        return str(cert.public_key().public_bytes(*fmt)
                   == private_key(args[1]).public_key().public_bytes(*fmt))

    elif cmd == "private-jwk":           # PRIVATE_PEM KID -> a private JWK
        k = jjwk.JWK.from_pem(read(args[0]))
        d = json.loads(k.export_private())
        d["kid"] = args[1]
        return json.dumps(d)

    elif cmd == "pyjwt-mint":            # ALG KEY ENC_PUB CRED [CLAIMS_JSON]
        alg, path, enc, cred = args[:4]
        now = int(time.time())
        claims = {"iat": now, "exp": now + 600, "allowed": ["GET /x/.*"],
                  "token": oaep_encrypt(cred, enc)}
        if len(args) > 4:
            claims.update(json.loads(args[4]))
        key = read(path) if alg.startswith("HS") else private_key(path)
        return jwt.encode(claims, key, algorithm=alg)

    elif cmd == "jwcrypto-mint":         # ALG KEY ENC_PUB CRED: JWE credential
        alg, path, enc, cred = args
        rcpt = jjwk.JWK.from_pem(read(enc))
        e = jjwe.JWE(cred.encode(),
                     protected={"alg": "RSA-OAEP-256", "enc": "A256GCM"})
        e.add_recipient(rcpt)
        now = int(time.time())
        claims = {"iat": now, "exp": now + 600, "allowed": ["GET /x/.*"],
                  "token": e.serialize(compact=True)}
        t = jjwt.JWT(header={"alg": alg}, claims=claims)
        t.make_signed_token(jwcrypto_key(path, alg))
        return t.serialize()

    else:
        raise ValueError("unknown command " + cmd)


cmd, args = sys.argv[1], sys.argv[2:]

if cmd == "batch":                   # FILE: [[cmd, args...], ...]
    results = []
    for item in json.loads(read(args[0])):
        try:
            results.append([0, run(item[0], item[1:]), ""])
        except Exception as e:
            results.append([1, "", "%s: %s" % (type(e).__name__, e)])
    print(json.dumps(results))
else:
    print(run(cmd, args))
PY

spew("$dir/interop.py", $py_src);

my $have_python = (run(undef, $python, '-c',
                       'import jwt, jwcrypto, cryptography'))[0] == 0;

diag("$python lacks PyJWT, jwcrypto or cryptography: interop skipped")
    unless $have_python;

sub py {
    my ($rc, $out, $err) = run(undef, $python, "$dir/interop.py", @_);
    chomp $out;
    return ($rc, $out, $err);
}

# many requests, one interpreter: ([cmd, args...], ...) -> ([rc, out, err])
sub py_batch {
    my @req = @_;
    return () unless @req;
    spew("$dir/batch.json", JSON::PP->new->encode(\@req));
    my ($rc, $out, $err) = py('batch', "$dir/batch.json");
    my $res = eval { JSON::PP->new->decode($out) };
    return @$res if $rc == 0 && ref $res eq 'ARRAY' && @$res == @req;
    diag("python batch failed: $err");
    return map { [ 1, '', 'batch failed' ] } @req;
}

# ---------------------------------------------------------------------
# help and version

{
    my ($rc, $out) = mt(undef, '--version');
    is($rc, 0, '--version');
    like($out, qr/^magic-token \S+/, '--version prints the version');

    ($rc, $out) = mt(undef, '--help');
    is($rc, 0, '--help');
    like($out, qr/keygen.*mint.*inspect.*verify/s, '--help lists commands');

    for my $cmd (qw(keygen mint inspect verify)) {
        ($rc, $out) = mt(undef, $cmd, '--help');
        is($rc, 0, "$cmd --help");
        like($out, qr/^usage: magic-token $cmd.*examples:/s,
             "$cmd --help has usage and examples");
    }

    ($rc) = mt(undef, 'frobnicate');
    is($rc, 2, 'unknown command: exit 2');
    ($rc) = mt(undef);
    is($rc, 2, 'no command: exit 2');
}

# ---------------------------------------------------------------------
# keygen

my %key = (
    rsa    => [qw(--type rsa --bits 2048)],
    rsa3k  => [qw(--type rsa)],
    rsa4k  => [qw(--type rsa --bits 4096)],
    ec256  => [qw(--type ec)],
    ec384  => [qw(--type ec --curve P-384)],
    ec521  => [qw(--type ec --curve P-521)],
    ed     => [qw(--type ed25519)],
    other  => [qw(--type rsa --bits 2048)],
    otherec => [qw(--type ec)],
);

for my $k (sort keys %key) {
    my ($rc, $out, $err) = mt(undef, 'keygen', @{ $key{$k} },
                              '--out', "$dir/keys/$k");
    is($rc, 0, "keygen $k") or diag($err);

    my $p = "$dir/keys/$k";
    my @files = qw(private.pem public.pem jwks.json);
    push @files, 'public.x509.cer' if $k =~ /^(rsa|other$)/;

    ok(!grep({ !-s "$p/$_" } @files), "keygen $k writes @files");
    is((stat "$p/private.pem")[2] & 07777, 0600,
       "keygen $k: private.pem is 0600");
    like(slurp("$p/private.pem"), qr/^-----BEGIN PRIVATE KEY-----/,
         "keygen $k: PKCS#8 private key");
    like($out, qr/^kid [A-Za-z0-9_-]{43}$/m, "keygen $k prints the kid");

    ok(!-e "$p/public.x509.cer", "keygen $k: no certificate")
        if $k =~ /^(ec|ed)/;

}

if ($have_python) {
    my @k = sort keys %key;
    my @res = py_batch(map { [ 'thumbprint', "$dir/keys/$_/jwks.json" ] } @k);

    for my $i (0 .. $#k) {
        my ($prc, $tp, $perr) = @{ $res[$i] };
        my ($thumb, $kid) = split ' ', $tp;
        ok($prc == 0 && defined $kid && $thumb eq $kid,
           "keygen $k[$i]: kid is the RFC 7638 thumbprint (jwcrypto)")
            or diag($perr);
    }
}

{
    my $p = "$dir/keys/rsa";
    my ($rc, $out, $err) = mt(undef, 'keygen', '--bits', '2048',
                              '--out', $p);
    is($rc, 2, 'keygen refuses to overwrite keys');
    like($err, qr/exists.*--force/, 'and says how to overwrite');

    if ($have_python) {
        my ($prc, $match) = py('cert-matches', "$p/public.x509.cer",
                               "$p/private.pem");
        is($match, 'True',
           'public.x509.cer holds the key of private.pem (cryptography)');
    }

    ($rc, $out, $err) = mt(undef, 'keygen', '--type', 'secret',
                           '--out', "$dir/keys/hs");
    is($rc, 0, 'keygen secret');
    like(slurp("$dir/keys/hs/secret"), qr/^[A-Za-z0-9_-]{43}\z/,
         'the secret is 43 base64url characters, no newline');
    is((stat "$dir/keys/hs/secret")[2] & 07777, 0600, 'secret is 0600');

    ($rc) = mt(undef, 'keygen', '--bits', '1024', '--out', "$dir/keys/x");
    is($rc, 2, 'keygen refuses 1024-bit RSA');
    ($rc) = mt(undef, 'keygen', '--type', 'dsa', '--out', "$dir/keys/x");
    is($rc, 2, 'keygen refuses an unknown type');

    spew("$dir/keys/hs2", "second secret\n");
}

my $K = "$dir/keys";

# ---------------------------------------------------------------------
# mint -> verify, every algorithm

my @algs = (
    # alg, signing options, verification keys
    [ 'RS256', [ '--key', "$K/rsa/private.pem" ], "$K/rsa/public.x509.cer" ],
    [ 'RS384', [ '--key', "$K/rsa/private.pem" ], "$K/rsa/public.pem" ],
    [ 'RS512', [ '--key', "$K/rsa4k/private.pem" ], "$K/rsa4k/public.pem" ],
    [ 'PS256', [ '--key', "$K/rsa/private.pem" ], "$K/rsa/public.pem" ],
    [ 'PS384', [ '--key', "$K/rsa3k/private.pem" ], "$K/rsa3k/public.pem" ],
    [ 'PS512', [ '--key', "$K/rsa/private.pem" ], "$K/rsa/public.pem" ],
    [ 'ES256', [ '--key', "$K/ec256/private.pem" ], "$K/ec256/public.pem" ],
    [ 'ES384', [ '--key', "$K/ec384/private.pem" ], "$K/ec384/public.pem" ],
    [ 'ES512', [ '--key', "$K/ec521/private.pem" ], "$K/ec521/public.pem" ],
    [ 'EdDSA', [ '--key', "$K/ed/private.pem" ], "$K/ed/public.pem" ],
    [ 'HS256', [ '--secret', "$K/hs/secret" ], "$K/hs/secret" ],
    [ 'HS384', [ '--secret', "$K/hs2" ], "$K/hs2" ],
    [ 'HS512', [ '--secret', "$K/hs/secret" ], "$K/hs/secret" ],
);

my (%tok, @py_checks);

for my $a (@algs) {
    my ($alg, $sign, $pub) = @$a;
    my $cred = "cred-$alg-" . ('x' x 20);
    my $hs = $alg =~ /^HS/;

    # RSA keys take the credential themselves; others encrypt it to rsa
    my @enc = $sign->[1] =~ m{/rsa} ? () : ('--encrypt-to',
                                            "$K/rsa/public.x509.cer");
    my @alg = $alg =~ /^(RS256|ES|EdDSA|HS256)/ ? () : ('--alg', $alg);

    my $t = mint_ok("$cred\n", $alg, @$sign, @alg, @enc,
                    '--allowed', 'GET /x/[0-9]+', '--aud', 'api');
    $tok{$alg} = $t;

    like($t, qr/^[\w-]+\.[\w-]+\.[\w-]+$/, "$alg: a compact JWS");
    my ($rc, $out, $err) = mt(undef, 'inspect', '--json', $t);
    like($out, qr/"alg": "\Q$alg\E"/, "$alg: header alg (default or --alg)");

    my @vkey = $hs ? ('--secret', $pub) : ('--key', $pub);
    my $dec = $sign->[1] =~ m{/rsa[34]} ? $sign->[1] : "$K/rsa/private.pem";

    # only the proxy's own keys may sign credential tokens by default
    unless ($dec eq $sign->[1]) {
        ($rc, $out, $err) = mt($t, 'verify', @vkey, '--key', $dec, '-');
        like($err, qr/invalid token: untrusted_key\b/,
             "$alg: another party's key needs --credentials");
        push @vkey, '--credentials';
    }

    ($rc, $out, $err) = mt($t, 'verify', @vkey, '--key', $dec,
                           '--method', 'GET', '--path', '/x/42',
                           '--audience', 'api', '-');
    is($rc, 0, "$alg: verify") or diag($err);
    like($out, qr/^valid$/m, "$alg: verify says valid");
    like($out, qr/credential\s+decrypts \(\d+ bytes\)/,
         "$alg: the credential decrypts");
    unlike($out . $err, qr/\Q$cred\E/, "$alg: the credential is not shown");

    ($rc, $out) = mt($t, 'verify', @vkey, '--key', $dec,
                     '--show-credential', '-');
    is($out, "$cred\n", "$alg: --show-credential prints the credential");

    # jwcrypto reads the public key from the JWK set keygen wrote
    my $jpub = $hs ? $pub : dirname($pub) . '/jwks.json';
    push @py_checks, [ "$alg: PyJWT", [ 'pyjwt-verify', $alg, $pub, $t ] ],
                     [ "$alg: jwcrypto",
                       [ 'jwcrypto-verify', $alg, $jpub, $t ] ];
}

if ($have_python) {
    my @res = py_batch(map { $_->[1] } @py_checks);

    for my $i (0 .. $#py_checks) {
        my ($prc, $claims, $perr) = @{ $res[$i] };
        is($prc, 0, "$py_checks[$i][0] verifies the CLI's token")
            or diag($perr);
        like($claims, qr/"allowed": ?\["GET \/x\/\[0-9\]\+"\]/,
             "$py_checks[$i][0] sees the claims");
    }
}

# ---------------------------------------------------------------------
# the magic-api-proxy format and JWE credentials

my $cred = 'ghp_0123456789abcdefABCDEF0123456789abcd';
my $rsa = "$K/rsa/private.pem";

{
    my $t = mint_ok("$cred\n", 'from stdin', '--key', $rsa,
                    '--allowed', 'GET /user', '--sub', 'bot',
                    '--jti', 'id-1', '--ttl', '2h');
    my ($rc, $out) = mt(undef, 'inspect', '--json', $t);
    like($out, qr/"sub": "bot"/, 'sub claim');
    like($out, qr/"jti": "id-1"/, 'jti claim');
    my ($iat) = $out =~ /"iat": (\d+)/;
    my ($exp) = $out =~ /"exp": (\d+)/;
    is($exp - $iat, 7200, '--ttl 2h');
    like($out, qr/"token": "<encrypted, 344 bytes>"/,
         'standard base64 of a 256-byte OAEP ciphertext');

    if ($have_python) {
        my ($prc, $plain) = py('oaep-decrypt', $rsa, $t);
        is($plain, $cred,
           'the token claim decrypts with OAEP SHA-256 (cryptography)');
    }

    spew("$dir/cred.txt", "$cred\r\n");
    $t = mint_ok(undef, '--credential-file', '--key', $rsa,
                 '--credential-file', "$dir/cred.txt",
                 '--allowed', 'GET /user');
    ($rc, $out) = mt($t, 'verify', '--key', $rsa, '--show-credential', '-');
    is($out, "$cred\n", '--credential-file; the CRLF is dropped');

    my $err;
    ($rc, $out, $err) = mt(undef, 'mint', '--key', $rsa,
                           '--credential-arg', $cred,
                           '--allowed', 'GET /user');
    is($rc, 0, '--credential-arg works');
    like($err, qr/warning/, 'with a warning');
    unlike($err, qr/\Q$cred\E/, 'which does not repeat the credential');

    ($rc, $out, $err) = mt(undef, 'mint', '--key', $rsa, '--allowed',
                           'GET /user', $cred);
    is($rc, 2, 'a credential as an argument is refused');
    unlike($err, qr/\Q$cred\E/, 'and not echoed');

    ($rc, $out, $err) = mt("bad\x01$cred", 'mint', '--key', $rsa,
                           '--allowed', 'GET /user');
    is($rc, 2, 'a credential with control characters is refused');
    unlike($err, qr/\Q$cred\E/, 'and not echoed');

    ($rc, $out, $err) = mt('', 'mint', '--key', $rsa, '--allowed', 'GET /');
    is($rc, 2, 'an empty credential is refused');

    ($rc, $out, $err) = mt(undef, 'mint', '--key', $rsa, "--credential=$cred",
                           '--allowed', 'GET /');
    is($rc, 2, 'a mistyped option is refused');
    like($err, qr/"--credential"/, 'and named');
    unlike($err, qr/\Q$cred\E/, 'without its value');

    ($rc, $out, $err) = mt($cred, 'mint', '--key', $rsa);
    is($rc, 2, 'mint without --allowed or --scope: exit 2');
    like($err, qr/allowed or scopes/, 'the core says why');

    ($rc, $out, $err) = mt($cred, 'mint', '--key', $rsa,
                           '--allowed', 'GET /(unclosed');
    is($rc, 2, 'an --allowed regex that does not compile is refused');

    # agree with Python's re or refuse: refused in either match mode
    for my $case (['GET /a{,3}', qr/\{,n\} is refused/],
                  ['GET /[[:alpha:]]', qr/POSIX classes/],
                  ['GET (?a)/x', qr/inline flags/],
                  ['GET /x++', qr/possessive/],
                  ["GET /[\xc3\xa9]", qr/non-ASCII character in a character class.*full mode/]) {
        my ($entry, $why) = @$case;
        ($rc, $out, $err) = mt($cred, 'mint', '--key', $rsa,
                               '--allowed', $entry);
        is($rc, 2, "mint refuses --allowed '$entry'");
        like($err, $why, '... and says why');
    }

    ($rc, $out, $err) = mt($cred, 'mint', '--key', $rsa, '--alg', 'ES256',
                           '--allowed', 'GET /');
    is($rc, 2, '--alg that does not fit the key is refused');

    ($rc, $out, $err) = mt($cred, 'mint', '--secret', "$K/hs/secret",
                           '--allowed', 'GET /');
    is($rc, 2, 'HS256 with a credential needs --encrypt-to');
    like($err, qr/--encrypt-to/, 'and says so');
}

# named scopes: the CLI accepts any name; verify does not know them
{
    my $t = mint_ok($cred, 'named scopes', '--key', $rsa,
                    '--scope', 'read-only', '--scope', 'issues');
    my ($rc, $out) = mt(undef, 'inspect', '--json', $t);
    like($out, qr/"scopes": \[\s*"read-only",\s*"issues"\s*\]/s,
         'scopes claim');

    ($rc, $out) = mt($t, 'verify', '--key', $rsa, '-');
    is($rc, 0, 'a named-scope token verifies without --method');

    my $err;
    ($rc, $out, $err) = mt($t, 'verify', '--key', $rsa, '--method', 'GET',
                           '--path', '/', '-');
    is($rc, 1, 'with --method and --path it is refused');
    like($err, qr/unknown_scope/, 'as unknown_scope');
}

# JWE credentials
for my $c (['RSA-OAEP-256', 'A256GCM', $rsa, []],
           ['RSA-OAEP', 'A128CBC-HS256', $rsa, []],
           ['ECDH-ES', 'A128GCM', "$K/ec256/private.pem", []],
           ['ECDH-ES+A256KW', 'A256CBC-HS512', "$K/ec384/private.pem", []],
           ['RSA-OAEP-256', 'A256GCM', "$K/ed/private.pem",
            ['--encrypt-to', "$K/rsa/jwks.json"]])
{
    my ($alg, $enc, $key, $extra) = @$c;
    my $name = "JWE $alg $enc, signed with " . (split '/', $key)[-2];
    my $t = mint_ok($cred, $name, '--key', $key, '--jwe', $alg,
                    '--enc', $enc, @$extra, '--allowed', 'GET /user');

    my ($rc, $out) = mt($t, 'inspect', '-');
    like($out, qr/credential\s+JWE alg \Q$alg\E, enc \Q$enc\E/,
         "$name: inspect names the JWE");

    my @dec = @$extra ? ('--key', $rsa) : ();
    ($rc, $out) = mt($t, 'verify', '--key', $key, @dec,
                     '--show-credential', '-');
    is($out, "$cred\n", "$name: verify decrypts it");

    if ($have_python && $alg =~ /^RSA/) {
        my ($prc, $plain, $perr) = py('jwe-decrypt', $rsa, $t);
        is($plain, $cred, "$name: jwcrypto decrypts the credential")
            or diag($perr);
    }
}

# a JWK signing key carries its kid into the header
SKIP: {
    skip 'no python', 3 unless $have_python;

    my ($prc, $jwk) = py('private-jwk', "$K/ec256/private.pem", 'k-2026');
    spew("$dir/ec.jwk", $jwk);
    chmod 0600, "$dir/ec.jwk";

    my $t = mint_ok($cred, 'private JWK', '--key', "$dir/ec.jwk",
                    '--encrypt-to', "$K/rsa/public.pem",
                    '--allowed', 'GET /');
    my ($rc, $out) = mt(undef, 'inspect', '--json', $t);
    like($out, qr/"kid": "k-2026"/, 'the JWK kid is the header kid');

    ($rc, $out) = mt($t, 'verify', '--key', "$dir/ec.jwk", '--key', $rsa,
                     '-');
    is($rc, 0, 'verifies with the JWK');
}

# ---------------------------------------------------------------------
# refusals

sub refused {
    my ($t, $reason, $name, @args) = @_;
    my ($rc, $out, $err) = mt($t, 'verify', @args, '-');
    is($rc, 1, "$name: exit 1");
    like($err, qr/invalid token: \Q$reason\E\b/, "$name: $reason")
        or diag($err);
    is($out, '', "$name: nothing on stdout");
}

{
    my $t = $tok{RS256};
    my @k = ('--key', "$K/rsa/private.pem");
    my ($h, $p, $s) = split /\./, $t;

    # flip a character in the payload and in the signature
    my $tp = $p;
    substr($tp, 10, 1) = substr($tp, 10, 1) eq 'A' ? 'B' : 'A';
    refused("$h.$tp.$s", 'bad_signature', 'tampered payload', @k);

    my $ts = $s;
    substr($ts, 5, 1) = substr($ts, 5, 1) eq 'A' ? 'B' : 'A';
    refused("$h.$p.$ts", 'bad_signature', 'tampered signature', @k);

    refused("$h.$p", 'malformed', 'truncated token', @k);

    refused($t, 'bad_signature', 'wrong key', '--key',
            "$K/other/private.pem");
    refused($t, 'unknown_key', 'RS256 token, only an EC key', '--key',
            "$K/ec256/public.pem");
    refused($tok{ES256}, 'bad_signature', 'ES256, wrong EC key', '--key',
            "$K/otherec/public.pem");
    refused($tok{HS256}, 'bad_signature', 'HS256, wrong secret',
            '--secret', "$K/hs2");
    refused($tok{HS256}, 'unknown_key', 'HS256 with the RSA public key',
            '--key', "$K/rsa/public.pem");

    my (undef, $json) = mt(undef, 'inspect', '--json', $t);
    my ($exp) = $json =~ /"exp": (\d+)/;

    refused($t, 'expired', 'expired', @k, '--at', $exp);
    my ($rc) = mt($t, 'verify', @k, '--at', $exp, '--leeway', '60', '-');
    is($rc, 0, 'expired, within --leeway');
    refused($t, 'expired', 'expired, beyond --leeway', @k,
            '--at', $exp + 61, '--leeway', '1m');

    refused($t, 'invalid_audience', 'wrong audience', @k,
            '--audience', 'other');
    ($rc) = mt($t, 'verify', @k, '--audience', 'other', '--audience',
               'api', '-');
    is($rc, 0, 'one of several audiences');

    refused($t, 'scope_denied', 'request outside the scopes', @k,
            '--method', 'POST', '--path', '/x/1');
    refused($t, 'scope_denied', 'path outside the scopes', @k,
            '--method', 'GET', '--path', '/x/1/y');
    ($rc) = mt($t, 'verify', @k, '--method', 'GET', '--path', '/x/1/y',
               '--match', 'prefix', '-');
    is($rc, 0, '--match prefix: python re.match semantics');

    # the credential is encrypted to the rsa key; other private keys
    # cannot decrypt it
    refused($tok{ES256}, 'decrypt_failed', 'credential to another key',
            '--key', "$K/ec256/public.pem", '--key', "$K/other/private.pem",
            '--credentials');

    my ($out, $err);
    refused($t, 'untrusted_key', 'a public key alone: not the proxy\'s own',
            '--key', "$K/rsa/public.pem");
    ($rc, $out, $err) = mt($t, 'verify', '--key', "$K/rsa/public.pem",
                           '--credentials', '-');
    is($rc, 0, 'a public key marked --credentials verifies the signature');
    like($out, qr/credential\s+not checked \(no private key\)/,
         'and says the credential was not checked');

    ($rc, $out, $err) = mt($t, 'verify', '-');
    is($rc, 2, 'verify without a key: exit 2');
    ($rc) = mt($t, 'verify', @k, '--method', 'GET', '-');
    is($rc, 2, '--method without --path: exit 2');
    ($rc, $out, $err) = mt($t, 'verify', '--key', "$dir/nonexistent", '-');
    is($rc, 2, 'unreadable key: exit 2');
    ($rc) = mt('', 'verify', @k, '-');
    is($rc, 2, 'empty token: exit 2');
    ($rc) = mt(undef, 'verify', @k, $t);
    is($rc, 0, 'the token as an argument');
}

# ---------------------------------------------------------------------
# inspect

{
    my $t = mint_ok($cred, 'for inspect', '--key', $rsa,
                    '--allowed', 'GET /user', '--aud', 'a', '--aud', 'b');
    my (undef, $p) = split /\./, $t;
    my $payload = do {
        (my $b = $p) =~ tr{-_}{+/};
        require MIME::Base64;
        MIME::Base64::decode_base64($b);
    };
    my ($blob) = $payload =~ /"token":"([^"]+)"/;

    my ($rc, $out, $err) = mt(undef, 'inspect', $t);
    is($rc, 0, 'inspect');
    like($out, qr/NOT VERIFIED/, 'says nothing was verified');
    like($out, qr/"token": "<encrypted, \d+ bytes>"/,
         'the credential as its size');
    unlike($out, qr/\Q$cred\E/, 'no credential');
    unlike($out, qr/\Q$blob\E/, 'not even encrypted');
    my $utc = qr/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/;
    like($out, qr/^exp\s+\d+\s+$utc\s+\(expires in/m,
         'exp in UTC, not expired');
    like($out, qr/^iat\s+\d+\s+$utc/m, 'iat in UTC');
    like($out, qr/"aud": \[\s*"a",\s*"b"\s*\]/s, 'two --aud: an array');

    ($rc, $out) = mt($t, 'inspect', '--json', '-');
    like($out, qr/"verified": false/, '--json: verified false');
    like($out, qr/"expired": false/, '--json: expired false');

    ($rc, $out, $err) = mt(undef, 'inspect', 'not-a-token');
    is($rc, 1, 'inspect of garbage: exit 1');
    like($err, qr/malformed/, 'malformed');

    ($rc) = mt(undef, 'inspect');
    is($rc, 2, 'inspect without a token: exit 2');
}

# ---------------------------------------------------------------------
# tokens minted by PyJWT and jwcrypto verify with magic-token

SKIP: {
    skip "no PyJWT/jwcrypto/cryptography for $python", 1 unless $have_python;

    my $pub = "$K/rsa/public.x509.cer";
    my $now = time;
    my @mints;

    for my $c (['RS256', $rsa], ['PS256', $rsa], ['RS512', $rsa],
               ['ES256', "$K/ec256/private.pem"],
               ['ES384', "$K/ec384/private.pem"],
               ['ES512', "$K/ec521/private.pem"],
               ['EdDSA', "$K/ed/private.pem"],
               ['HS256', "$K/hs/secret"], ['HS512', "$K/hs2"])
    {
        my ($alg, $key) = @$c;

        for my $lib (qw(pyjwt jwcrypto)) {
            push @mints, [ $lib, $alg, $key, "$lib-$alg-$cred" ];
        }
    }

    my @res = py_batch(
        (map { [ "$_->[0]-mint", $_->[1], $_->[2], $pub, $_->[3] ] } @mints),
        [ 'pyjwt-mint', 'RS256', $rsa, $pub, $cred,
          qq({"nbf": @{[$now + 3600]}}) ],
        [ 'pyjwt-mint', 'RS256', $rsa, $pub, $cred,
          qq({"exp": @{[$now - 10]}, "iat": @{[$now - 100]}}) ],
        [ 'pyjwt-mint', 'RS256', $rsa, $pub, $cred, '{"exp": "soon"}' ],
        [ 'pyjwt-mint', 'RS256', $rsa, $pub, $cred,
          '{"allowed": ["GET /(x"]}' ]);

    for my $m (@mints) {
        my ($lib, $alg, $key, $c) = @$m;
        my ($prc, $t, $perr) = @{ shift @res };
        my @vkey = $alg =~ /^HS/ ? ('--secret', $key) : ('--key', $key);

        is($prc, 0, "$lib mints $alg") or diag($perr);

        my ($rc, $out, $err) = mt($t, 'verify', @vkey, '--key', $rsa,
                                  '--credentials',
                                  '--method', 'GET', '--path', '/x/1',
                                  '--show-credential', '-');
        is($rc, 0, "$lib $alg: magic-token verify") or diag($err);
        is($out, "$c\n", "$lib $alg: the "
           . ($lib eq 'pyjwt' ? 'OAEP' : 'JWE') . ' credential decrypts');
    }

    refused($res[0][1], 'not_yet_valid', 'PyJWT token with nbf ahead',
            '--key', $pub);
    refused($res[1][1], 'expired', 'PyJWT token, expired', '--key', $pub);

    my ($rc, $out) = mt($res[1][1], 'inspect', '-');
    like($out, qr/\(EXPIRED \d+s ago\)/, 'inspect says EXPIRED');

    refused($res[2][1], 'invalid_claims', 'exp as a string', '--key', $pub);
    refused($res[3][1], 'invalid_claims',
            'an allowed regex that does not compile', '--key', $pub,
            '--credentials');
}

# ---------------------------------------------------------------------
# end to end: a CLI-minted token through nginx

SKIP: {
    my $nginx  = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
    my $module = $ENV{MAGIC_TOKEN_MODULE}
                 || "$root/build/ngx_http_magic_token_module.so";

    skip 'no nginx or module', 1 unless -x $nginx && -f $module;

    my $port = 2284;
    my $prefix = "$dir/nginx";
    mkdir $prefix;
    mkdir "$prefix/logs";
    mkdir "$prefix/conf";

    spew("$prefix/conf/nginx.conf", <<"EOF");
@{[ standalone_head($prefix) ]}
    server {
        listen 127.0.0.1:$port;
        location /rsa/ {
            magic_token on;
            magic_token_key $K/rsa/private.pem;
            magic_token_scope_uri \$uri;
            proxy_set_header X-Cred \$magic_token_credential;
            proxy_pass http://127.0.0.1:@{[$port + 1]}/;
        }
        location /ed/ {
            magic_token on;
            magic_token_key $K/ed/jwks.json credentials;
            magic_token_key $K/rsa/private.pem;
            magic_token_audience api;
            proxy_set_header X-Cred \$magic_token_credential;
            proxy_pass http://127.0.0.1:@{[$port + 1]}/;
        }
        location /hs/ {
            magic_token on;
            magic_token_secret $K/hs/secret credentials;
            magic_token_key $K/rsa/private.pem;
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

    my ($rc, $out, $err) = run(undef, $nginx, '-p', "$prefix/", '-c',
                               'conf/nginx.conf', '-e', 'logs/error.log');
    is($rc, 0, 'nginx starts') or do { diag($err); skip 'nginx', 1 };

    my $stop = sub {
        my $pid = slurp("$prefix/logs/nginx.pid") or return;
        chomp $pid;
        kill 'QUIT', $pid;
        for (1 .. 50) {
            last unless kill 0, $pid;
            select undef, undef, undef, 0.1;
        }
        kill 'KILL', $pid if kill 0, $pid;
    };

    my $get = sub {
        my ($path, $token) = @_;
        my $s;
        for (1 .. 50) {
            $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                       Timeout => 5) and last;
            select undef, undef, undef, 0.1;
        }
        return 'connect failed' unless $s;
        print $s "GET $path HTTP/1.0\r\nAuthorization: Bearer $token\r\n\r\n";
        local $/;
        return <$s> // '';
    };

    my $t = mint_ok("nginx-$cred\n", 'for nginx (RS256)', '--key', $rsa,
                    '--allowed', 'GET /rsa/api/.*');
    like($get->('/rsa/api/user', $t),
         qr{^HTTP/1\.\d 200.*ok \[nginx-\Q$cred\E\]}s,
         'nginx accepts the CLI token and decrypts its credential');
    like($get->('/rsa/other', $t), qr{^HTTP/1\.\d 403}, 'and enforces scopes');

    $t = mint_ok("ed-$cred", 'for nginx (EdDSA, JWE)', '--key',
                 "$K/ed/private.pem", '--encrypt-to', "$K/rsa/public.pem",
                 '--jwe', 'RSA-OAEP-256', '--aud', 'api',
                 '--allowed', 'GET /.*');
    like($get->('/ed/x', $t), qr{^HTTP/1\.\d 200.*ok \[ed-\Q$cred\E\]}s,
         'nginx accepts an EdDSA token with a JWE credential');

    $t = mint_ok("hs-$cred", 'for nginx (HS256)', '--secret', "$K/hs/secret",
                 '--encrypt-to', "$K/rsa/public.x509.cer",
                 '--allowed', 'GET /.*');
    like($get->('/hs/x', $t), qr{^HTTP/1\.\d 200.*ok \[hs-\Q$cred\E\]}s,
         'nginx accepts an HS256 token minted with the secret file');

    $stop->();
}

done_testing();
