# JWT attack suite through nginx (issue #5): alg none in every spelling,
# RS/ES -> HS confusion with public keys in every encoding, kid
# traversal/injection, embedded keys, ECDSA "psychic signatures"
# (CVE-2022-21449) and wrong lengths, invalid-curve ECDH epk, duplicate
# JSON members, NUL bytes, control characters in the credential, odd time
# claims, non-canonical base64url, wrong part counts, size limits, deep
# nesting, catastrophic regexes, JWE/JWS mix-ups.  What 004-claims.t and
# 021-algorithms.t already cover is not repeated here.
#
# Tokens are crafted byte by byte at load time by the Python script at the
# end of this file (python3-cryptography; $ENV{PYTHON} or /usr/bin/python3),
# signed with the suite's keys, so every malformed variant that can be
# validly signed is: the module must refuse it for what it is, not for a
# bad signature.
#
# Cases are grouped, one nginx start per group: a group's requests are
# [path, token name, status, $magic_token_error].  The response header
# X-MT-Error carries "[$magic_token_error]", so "[]" means allowed.
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use MagicToken::Test;
use File::Path qw(rmtree);
use File::Temp qw(tempdir);

my $PY = $ENV{PYTHON} || '/usr/bin/python3';
my $DIR = tempdir('mt-attacks-XXXXXX', TMPDIR => 1, CLEANUP => 0);
my $OWNER = $$;
END { rmtree($DIR) if defined $DIR && $$ == $OWNER && !$ENV{MAGIC_TOKEN_KEEP_KEYS} }
$ENV{TEST_NGINX_ATTACK_DIR} = $DIR;

our (%tok, %G);
{
    open my $py, '>', "$DIR/gen.py" or die "$DIR/gen.py: $!";
    print $py generator();
    close $py;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    exec($PY, "$DIR/gen.py", keys_dir(), $DIR) or die "exec $PY: $!" if $pid == 0;
    while (my $line = <$fh>) {
        chomp $line;
        my ($k, $v) = split /\t/, $line, 2;
        $tok{$k} = $v;
    }
    close $fh or die "gen.py failed: exit " . ($? >> 8) . "\n";
}

# ---------------------------------------------------------------- cases

my @b64 = ((map { ["/rsa/x", $_, 401, 'malformed'] } qw(
    b64_pad_payload b64_std_alphabet b64_noncanon_payload b64_noncanon_header
    b64_pad_sig b64_noncanon_sig b64_tab_in_sig b64_plus_sig
    b64_pad_extra b64_pad_short b64_pad_inside b64_padded_std)),
    # google-auth < 1.6.3: every segment padded, signed as sent
    ["/rsa/x", 'b64_padded_all', 200, ''],
    # padded, but signed over the unpadded text
    ["/rsa/x", 'b64_pad_unsigned', 401, 'bad_signature']);

%G = (
    none => [
        (map { ["/mix/x", $_, 401, 'unsupported_alg'] }
         map { ("none_${_}_nosig", "none_${_}_sig") }
         qw(none None NONE nOnE none_sp empty)),
        ["/mix/x", 'alg_lower_rs256', 401, 'unsupported_alg'],
        ["/mix/x", 'alg_array', 401, 'malformed'],
    ],
    confusion => [
        (map { my $t = $_; (["/rsa/x", $t, 401, 'unknown_key'],
                            ["/ec/x", $t, 401, 'unknown_key'],
                            ["/mix/x", $t, 401, 'bad_signature']) }
         map { ("conf_${_}_HS256", "conf_${_}_HS512") }
         qw(rsa_spki_pem rsa_spki_pem_nonl rsa_pkcs1_pem rsa_private_file
            rsa_cert_file rsa_der ec_pem ec_der ec_jwk ec_point empty)),
        ["/mix/x", 'hs_good', 200, ''],
    ],
    wrap => [
        # /mix/ trusts an HMAC secret and a P-256 public key next to the
        # proxy's RSA key: neither may sign a token that carries a credential
        ["/mix/x", 'wrap_hs', 401, 'untrusted_key'],
        ["/mix/x", 'wrap_ec_pub', 401, 'untrusted_key'],
        ["/mix/x", 'wrap_rsa_own', 200, ''],
    ],
    kid => [
        (map { (["/rsa/x", "kid_$_", 200, ''], ["/ec/x", "kid_$_", 401, 'unknown_key']) }
         qw(traversal devnull keyfile sql cmd crlf k256)),
        (map { ["/mix/x", "kid_$_", 401, 'malformed'] } qw(257 10k nul number null)),
        ["/rsa/x", 'kid_devnull_hs_empty', 401, 'unknown_key'],
        ["/mix/x", 'kid_devnull_hs_empty', 401, 'bad_signature'],
    ],
    embedded => [
        (map { ["/mix/x", $_, 401, 'unsupported_alg'] }
         qw(jwk_ec_attacker jwk_oct_attacker jku_kid x5u_attacker x5c_attacker)),
        ["/rsa/x", 'hdr_16', 200, ''],
        ["/rsa/x", 'hdr_17', 401, 'too_large'],
    ],
    ecdsa => [
        (map { my $t = $_; map { ["/$_/x", $t, 401, 'bad_signature'] } qw(ec mix) }
         qw(ec_zero ec_r0 ec_s0 ec_n_n ec_r_plus_n ec_s_plus_n ec_ff ec_one
            ec_short63 ec_long65 ec_lead0 ec_512len ec_r_only)),
        ["/ec/x", 'ec_empty', 401, 'malformed'],
        ["/rsa/x", 'ec_zero', 401, 'unknown_key'],
        ["/ec/x", 'ec_good', 200, ''],
    ],
    json => [
        map { ["/rsa/x", $_, 401, 'malformed'] }
        qw(dup_alg_rs_none dup_alg_none_rs dup_alg_same dup_exp dup_allowed
           dup_token nul_claim nul_allowed nul_name raw_nul_claim raw_lf_claim
           bom trailing_garbage claims_array invalid_utf8)
    ],
    credential => [
        (map { ["/rsa/x", "cred_$_", 401, 'invalid_credential'] }
         qw(cr del esc tab crlf_hdr trailing_lf vtab nul_only)),
    ],
    time => [
        (map { ["/rsa/x", "time_$_->[0]", $_->[1], $_->[2]] }
         [exp_huge_int => 200, ''], [exp_too_big => 401, 'malformed'],
         [exp_neg => 401, 'expired'], [exp_min => 401, 'expired'],
         [exp_zero => 401, 'expired'], [exp_neg_zero => 401, 'expired'],
         [exp_exponent => 401, 'invalid_claims'],
         [exp_exponent_int => 401, 'invalid_claims'],
         [exp_float_int => 401, 'invalid_claims'],
         [exp_huge_float => 401, 'invalid_claims'],
         [exp_string_num => 401, 'invalid_claims'],
         [exp_array => 401, 'invalid_claims'], [exp_object => 401, 'invalid_claims'],
         [nbf_huge => 401, 'not_yet_valid'], [nbf_neg => 200, ''],
         [nbf_float => 401, 'invalid_claims'], [nbf_string => 401, 'invalid_claims'],
         [nbf_null => 401, 'invalid_claims'], [nbf_bool => 401, 'invalid_claims'],
         [nbf_exponent => 401, 'invalid_claims'],
         [iat_string => 401, 'invalid_claims'], [iat_float => 401, 'invalid_claims'],
         [iat_null => 401, 'invalid_claims'],
         [iat_future => 401, 'not_yet_valid'], [iat_neg => 200, '']),
    ],
    b64 => [
        @b64,
        # the signature is checked over the raw text before any decoding
        ["/rsa/x", 'b64_space_in_payload', 401, 'bad_signature'],
    ],
    parts => [
        map { ["/rsa/x", $_, 401, 'malformed'] }
        qw(parts1 parts2_trailing_dot parts5 parts6 parts_lead_dot
           parts_empty_hdr parts_empty_payload jwe_as_token jws_hdr_with_enc)
    ],
    jwe => [
        ["/jwe/x", 'jwe_valid_cred', 200, ''],
        ["/jwe/x", 'jws_in_token_claim', 401, 'decrypt_failed'],
        ["/jwe/x", 'self_in_token_claim', 401, 'decrypt_failed'],
        (map { ["/jwe/x", "epk_$_", 401, 'decrypt_failed'] }
         qw(zero p384_point p384_crv x_33 no_y kty_oct own_pub x_is_p)),
    ],
    sizes => [
        (map { ["/big/x", $_, 401, 'malformed'] }
         qw(deep_array_claim deep_object_claim deep_unclosed deep_header)),
        ["/big/x", 'allowed_256', 200, ''],
        ["/big/x", 'allowed_257', 401, 'invalid_claims'],
        ["/big/x", 'allowed_3000', 401, 'invalid_claims'],
        ["/big/x", 'scopes_3000', 401, 'invalid_claims'],
        ["/big/x", 'claims_64', 200, ''],
        ["/big/x", 'claims_65', 401, 'too_large'],
        ["/big/x", 'claims_3000', 401, 'too_large'],
        ["/big/x", 'allowed_long_entry', 401, 'invalid_claims'],
        ["/big/x", 'huge_sub', 200, ''],
        # the default magic_token_max_size (16k) stops them before decoding
        ["/rsa/x", 'huge_sub', 401, 'too_large'],
        ["/rsa/x", 'deep_array_claim', 401, 'too_large'],
        ["/rsa/x", 'claims_3000', 401, 'too_large'],
    ],
);

for my $g (values %G) {
    for my $c (@$g) {
        die "no token $c->[1]\n" unless defined $tok{ $c->[1] };
    }
}

sub reqs    { [ map { "GET $_->[0]?case=$_->[1]" } @{ $G{ $_[0] } } ] }
sub hdrs    { [ map { "Authorization: Bearer $tok{ $_->[1] }" } @{ $G{ $_[0] } } ] }
sub codes   { [ map { $_->[2] } @{ $G{ $_[0] } } ] }
sub errors  { [ map { "X-MT-Error: [$_->[3]]\nX-Case: $_->[1]" } @{ $G{ $_[0] } } ] }
sub bodies  {
    [ map { $_->[2] == 200 ? qr/^auth=\[Bearer[^\]]*\] method=GET uri=\Q$_->[0]?case=$_->[1]\E$/
                           : qr/^(?!auth=)/ } @{ $G{ $_[0] } } ]
}

my $long_a = '/rsa/' . ('a' x 4000) . '!';
# a request must be answered in < 5 s (about 0.4 s natively for 256
# catastrophic entries); under valgrind everything is ~50x slower
our $time_re = $ENV{TEST_NGINX_USE_VALGRIND} ? '\d+\.\d+' : '[0-4]\.\d+';
our @redos = qw(redos_nested redos_star redos_alt redos_nested_256
                redos_alt_256 redos_dotstar_256);

default_config(<<'_EOC_');
        large_client_header_buffers 4 96k;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        add_header X-MT-Error "[$magic_token_error]" always;
        add_header X-Case $arg_case always;
        add_header X-MT-Id $magic_token_id always;
        add_header X-Time $request_time always;

        location /rsa/ {
            magic_token on;
            magic_token_key $TEST_NGINX_KEYS/private.pem;
            proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        }
        location /ec/ {
            magic_token on;
            magic_token_key $TEST_NGINX_ATTACK_DIR/p256.pem;
            proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        }
        # every kind of key at once: RSA, EC and an HMAC secret
        location /mix/ {
            magic_token on;
            magic_token_key $TEST_NGINX_KEYS/private.pem;
            magic_token_key $TEST_NGINX_ATTACK_DIR/p256.pub.pem;
            magic_token_secret $TEST_NGINX_ATTACK_DIR/hs.secret;
            proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        }
        location /jwe/ {
            magic_token on;
            magic_token_key $TEST_NGINX_KEYS/private.pem;
            magic_token_key $TEST_NGINX_ATTACK_DIR/enc.jwk;
            proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        }
        location /big/ {
            magic_token on;
            magic_token_max_size 64k;
            magic_token_key $TEST_NGINX_KEYS/private.pem;
            proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
        }
_EOC_

run_tests();

# The token generator (python3-cryptography): argv keys_dir out_dir; writes
# the suite's extra keys into out_dir and prints "name<TAB>token" lines.
sub generator { return <<'_PY_' }
import base64, hashlib, hmac, json, os, sys, time
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

keys, out = sys.argv[1], sys.argv[2]
now = int(time.time())
def b64u(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def js(o): return json.dumps(o, separators=(",", ":")).encode()
def wr(name, data, mode=0o600):
    fd = os.open(os.path.join(out, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f: f.write(data)
def i2b(i, n): return i.to_bytes(n, "big")

rsa = serialization.load_pem_private_key(open(keys + "/private.pem", "rb").read(), None)
rsa_pub = rsa.public_key()
N256 = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
p256 = ec.generate_private_key(ec.SECP256R1())
wr("p256.pem", p256.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
P = serialization.PublicFormat.SubjectPublicKeyInfo
wr("p256.pub.pem", p256.public_key().public_bytes(serialization.Encoding.PEM, P), 0o644)
nums = p256.public_key().public_numbers()
p256_jwk = {"kty": "EC", "crv": "P-256", "x": b64u(i2b(nums.x, 32)), "y": b64u(i2b(nums.y, 32))}
secret = os.urandom(32)
wr("hs.secret", secret)
# encryption key (ECDH-ES) as a JWK with use enc
enck = ec.generate_private_key(ec.SECP256R1())
en = enck.public_key().public_numbers()
enc_jwk = {"kty": "EC", "crv": "P-256", "kid": "enc1", "use": "enc",
           "x": b64u(i2b(en.x, 32)), "y": b64u(i2b(en.y, 32)),
           "d": b64u(i2b(enck.private_numbers().private_value, 32))}
wr("enc.jwk", js(enc_jwk))

def oaep(cred):
    h = hashes.SHA256()
    return base64.b64encode(rsa_pub.encrypt(cred, padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None))).decode()

def sign(alg, si, key=None):
    if alg.startswith("RS"):
        return rsa.sign(si, padding.PKCS1v15(), getattr(hashes, "SHA" + alg[2:])())
    if alg == "ES256":
        r, s = utils.decode_dss_signature((key or p256).sign(si, ec.ECDSA(hashes.SHA256())))
        return i2b(r, 32) + i2b(s, 32)
    if alg.startswith("HS"):
        return hmac.new(key, si, getattr(hashlib, "sha" + alg[2:])).digest()
    return b""

def claims(**kw):
    c = {"iat": now, "exp": now + 3600, "allowed": ["GET /.*"]}
    c.update(kw)
    return c

def raw(hdr_text, pay_text, alg, key=None, sig=None, enc=b64u):
    """hdr_text/pay_text: bytes of the JSON (exact), encoded with enc"""
    si = (enc(hdr_text) + "." + enc(pay_text)).encode()
    s = sign(alg, si, key) if sig is None else sig
    return si.decode() + "." + b64u(s)

def tok(alg="RS256", hdr=None, key=None, **kw):
    h = {"alg": alg, "typ": "JWT"}
    h.update(hdr or {})
    return raw(js(h), js(claims(**kw)), alg, key)

T = {}
T["valid"] = tok(token=oaep(b"ghp_AttackCred"))
T["valid_ec"] = tok("ES256")
# --- alg none spellings, with and without a signature
for spelling in ["none", "None", "NONE", "nOnE", "none ", ""]:
    tag = spelling.strip() or "empty"
    tag += "_sp" if spelling.endswith(" ") else ""
    si = (b64u(js({"alg": spelling, "typ": "JWT"})) + "." + b64u(js(claims()))).encode()
    T["none_%s_nosig" % tag] = si.decode() + "."
    T["none_%s_sig" % tag] = si.decode() + "." + b64u(sign("RS256", si))
T["alg_lower_rs256"] = raw(js({"alg": "rs256"}), js(claims()), "RS256")
T["alg_array"] = raw(js({"alg": ["RS256"]}), js(claims()), "RS256")
# --- alg confusion: public keys of every form as HMAC secret
pem = rsa_pub.public_bytes(serialization.Encoding.PEM, P)
conf = {
    "rsa_spki_pem": pem,
    "rsa_spki_pem_nonl": pem.rstrip(b"\n"),
    "rsa_pkcs1_pem": rsa_pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
    "rsa_private_file": open(keys + "/private.pem", "rb").read(),
    "rsa_cert_file": open(keys + "/public.x509.cer", "rb").read(),
    "rsa_der": rsa_pub.public_bytes(serialization.Encoding.DER, P),
    "ec_pem": p256.public_key().public_bytes(serialization.Encoding.PEM, P),
    "ec_der": p256.public_key().public_bytes(serialization.Encoding.DER, P),
    "ec_jwk": json.dumps(p256_jwk).encode(),
    "ec_point": p256.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint),
    "empty": b"",
}
for name, k in conf.items():
    for alg in ("HS256", "HS512"):
        T["conf_%s_%s" % (name, alg)] = tok(alg, key=k)
T["hs_good"] = tok("HS256", key=secret)
# --- a key that is not the proxy's own wraps a copied credential ciphertext
stolen = oaep(b"ghp_AttackCred")
T["wrap_hs"] = tok("HS256", key=secret, token=stolen, allowed=["* .*"])
T["wrap_ec_pub"] = tok("ES256", token=stolen, allowed=["* .*"])
T["wrap_rsa_own"] = tok("RS256", token=stolen, allowed=["* .*"])
# --- kid
for name, kid in [("traversal", "../../etc/passwd"), ("devnull", "/dev/null"),
                  ("keyfile", keys + "/private.pem"),
                  ("sql", "x' UNION SELECT 'secret' --"), ("cmd", "|cat /etc/passwd"),
                  ("crlf", "a\r\nX-Injected: 1"), ("k256", "k" * 256)]:
    T["kid_%s" % name] = tok(hdr={"kid": kid})
T["kid_257"] = tok(hdr={"kid": "k" * 257})
T["kid_10k"] = tok(hdr={"kid": "k" * 10240})
T["kid_devnull_hs_empty"] = tok("HS256", hdr={"kid": "/dev/null"}, key=b"")
T["kid_nul"] = raw(b'{"alg":"RS256","kid":"a\\u0000b"}', js(claims()), "RS256")
T["kid_number"] = tok(hdr={"kid": 1})
T["kid_null"] = tok(hdr={"kid": None})
# --- embedded keys and key URLs (with a key of the attacker's)
atk = ec.generate_private_key(ec.SECP256R1())
an = atk.public_key().public_numbers()
atk_jwk = {"kty": "EC", "crv": "P-256", "x": b64u(i2b(an.x, 32)), "y": b64u(i2b(an.y, 32))}
T["jwk_ec_attacker"] = tok("ES256", hdr={"jwk": atk_jwk}, key=atk)
T["jwk_oct_attacker"] = tok("HS256", hdr={"jwk": {"kty": "oct", "k": b64u(b"x" * 32)}}, key=b"x" * 32)
T["jku_kid"] = tok("ES256", hdr={"jku": "http://127.0.0.1/jwks", "kid": "x"}, key=atk)
T["x5u_attacker"] = tok("ES256", hdr={"x5u": "http://127.0.0.1/c.pem"}, key=atk)
T["x5c_attacker"] = tok("ES256", hdr={"x5c": ["MIIB"]}, key=atk)
T["hdr_17"] = tok(hdr={"h%02d" % i: i for i in range(15)})  # 17 members
T["hdr_16"] = tok(hdr={"h%02d" % i: i for i in range(14)})  # 16 members
# --- ECDSA (CVE-2022-21449 "psychic signatures") and lengths
si = (b64u(js({"alg": "ES256", "typ": "JWT"})) + "." + b64u(js(claims()))).encode()
good = sign("ES256", si)
r, s = int.from_bytes(good[:32], "big"), int.from_bytes(good[32:], "big")
def es(sig): return si.decode() + "." + b64u(sig)
T["ec_good"] = es(good)
T["ec_zero"] = es(bytes(64))
T["ec_r0"] = es(bytes(32) + good[32:])
T["ec_s0"] = es(good[:32] + bytes(32))
T["ec_n_n"] = es(i2b(N256, 32) * 2)
T["ec_r_plus_n"] = es(i2b(r + N256, 32) + good[32:]) if r + N256 < 2**256 else es(i2b(N256, 32) + good[32:])
T["ec_s_plus_n"] = es(good[:32] + i2b(s + N256, 32)) if s + N256 < 2**256 else es(good[:32] + i2b(N256, 32))
T["ec_ff"] = es(b"\xff" * 64)
T["ec_one"] = es(i2b(1, 32) * 2)
T["ec_high_s"] = es(good[:32] + i2b(N256 - s, 32))
T["ec_short63"] = es(good[:63])
T["ec_long65"] = es(good + b"\x00")
T["ec_lead0"] = es(b"\x00" + good[:32] + b"\x00" + good[32:])
T["ec_512len"] = es(bytes(34) + good[:32] + bytes(34) + good[32:])
T["ec_r_only"] = es(good[:32])
T["ec_empty"] = si.decode() + "."
# --- duplicate members (validly signed)
c = js(claims())
T["dup_alg_rs_none"] = raw(b'{"alg":"RS256","alg":"none"}', c, "RS256")
T["dup_alg_none_rs"] = raw(b'{"alg":"none","alg":"RS256"}', c, "RS256")
T["dup_alg_same"] = raw(b'{"alg":"RS256","alg":"RS256"}', c, "RS256")
T["dup_exp"] = raw(js({"alg": "RS256"}), ('{"exp":%d,"exp":%d,"allowed":["GET /.*"]}' % (now - 3600, now + 3600)).encode(), "RS256")
T["dup_allowed"] = raw(js({"alg": "RS256"}), ('{"exp":%d,"allowed":["GET /nothing"],"allowed":["GET /.*"]}' % (now + 3600)).encode(), "RS256")
T["dup_token"] = raw(js({"alg": "RS256"}), ('{"exp":%d,"allowed":["GET /.*"],"token":"%s","token":"%s"}' % (now + 3600, oaep(b"one"), oaep(b"two"))).encode(), "RS256")
# --- NUL and controls in claims
T["nul_claim"] = raw(js({"alg": "RS256"}), ('{"exp":%d,"allowed":["GET /.*"],"sub":"a\\u0000b"}' % (now + 3600)).encode(), "RS256")
T["nul_allowed"] = raw(js({"alg": "RS256"}), ('{"exp":%d,"allowed":["GET /x\\u0000|GET /.*"]}' % (now + 3600)).encode(), "RS256")
T["nul_name"] = raw(js({"alg": "RS256"}), ('{"exp":%d,"allowed":["GET /.*"],"a\\u0000b":1}' % (now + 3600)).encode(), "RS256")
T["raw_nul_claim"] = raw(js({"alg": "RS256"}), ('{"exp":%d,"allowed":["GET /.*"],"sub":"a\x00b"}' % (now + 3600)).encode(), "RS256")
T["raw_lf_claim"] = raw(js({"alg": "RS256"}), ('{"exp":%d,"allowed":["GET /.*"],"sub":"a\nb"}' % (now + 3600)).encode(), "RS256")
T["bom"] = raw(b"\xef\xbb\xbf" + js({"alg": "RS256"}), js(claims()), "RS256")
T["trailing_garbage"] = raw(js({"alg": "RS256"}), js(claims()) + b"x", "RS256")
T["claims_array"] = raw(js({"alg": "RS256"}), b"[1]", "RS256")
T["invalid_utf8"] = raw(js({"alg": "RS256"}), ('{"exp":%d,"allowed":["GET /.*"],"sub":"' % (now + 3600)).encode() + b"\xc3\x28" + b'"}', "RS256")
# --- credentials with controls / injection attempts
for name, cred in [("cr", b"ghp_x\rX-Injected: 1"), ("del", b"ghp_x\x7f"), ("esc", b"ghp_\x1b[31m"),
                   ("tab", b"ghp\tx"), ("crlf_hdr", b"ghp_x\r\nX-Injected: 1\r\n\r\nGET /admin HTTP/1.1"),
                   ("trailing_lf", b"ghp_x\n"), ("vtab", b"ghp\x0bx"), ("nul_only", b"\x00")]:
    T["cred_%s" % name] = tok(token=oaep(cred))
T["cred_utf8"] = tok(token=oaep("ghp_\u00e9\u2028x".encode()))
T["cred_space"] = tok(token=oaep(b" ghp_x y "))
# --- time claims
for name, text in [("exp_huge_int", "9223372036854775807"), ("exp_too_big", "99999999999999999999"),
                   ("exp_neg", "-1"), ("exp_min", "-9223372036854775808"), ("exp_zero", "0"),
                   ("exp_exponent", "4.1e9"), ("exp_exponent_int", "4E9"), ("exp_float_int", "4102444800.0"),
                   ("exp_huge_float", "1e308"), ("exp_string_num", '"%d"' % (now + 3600)),
                   ("exp_array", "[%d]" % (now + 3600)), ("exp_object", '{"v":%d}' % (now + 3600)),
                   ("exp_neg_zero", "-0"),
                   ("nbf_huge", "9223372036854775807"), ("nbf_neg", "-9223372036854775808"),
                   ("nbf_float", "1.5"), ("nbf_string", '"0"'), ("nbf_null", "null"), ("nbf_bool", "false"),
                   ("nbf_exponent", "1e3"),
                   ("iat_string", '"now"'), ("iat_float", "1.5"), ("iat_future", "9223372036854775807"),
                   ("iat_null", "null"), ("iat_neg", "-5")]:
    claim = name.split("_")[0]
    body = js(claims()).decode()[:-1] + ',"%s":%s}' % (claim, text)
    body = body.replace('"%s":%d,' % (claim, now + 3600 if claim == "exp" else now), "", 1) if claim in ("exp", "iat") else body
    T["time_%s" % name] = raw(js({"alg": "RS256"}), body.encode(), "RS256")
# --- base64url variants, validly signed over the odd text
h, p = js({"alg": "RS256"}), js(claims(sub="xy"))
def pad(b): return base64.urlsafe_b64encode(b).decode()
def std(b): return base64.b64encode(b).rstrip(b"=").decode()
# make sure padding is actually present in the payload part
pp = p
while len(pp) % 3 == 0: pp = pp[:-1] + b' }'
T["b64_pad_payload"] = raw(h, pp, "RS256", enc=pad)
assert "=" in T["b64_pad_payload"].split(".")[1]
# a claims text whose base64 needs + and / in the standard alphabet
q = js(claims(sub="\u00ff\u00fe>>>???~~~" * 3))
T["b64_std_alphabet"] = raw(h, q, "RS256", enc=std)
assert any(ch in T["b64_std_alphabet"].split(".")[1] for ch in "+/")
# non-canonical trailing bits: same bytes, last char's unused bits set
def noncanon(b):
    e = b64u(b)
    if len(e) % 4 == 0: return e
    alph = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return e[:-1] + alph[alph.index(e[-1]) | 1]
pp = p
while len(pp) % 3 == 0: pp = pp[:-1] + b' }'
T["b64_noncanon_payload"] = raw(h, pp, "RS256", enc=noncanon)
hh = js({"alg": "RS256"})
while len(hh) % 3 == 0: hh = hh[:-1] + b' }'
T["b64_noncanon_header"] = raw(hh, p, "RS256", enc=noncanon)
v = T["valid"]; H, PL, S = v.split(".")
# padding: canonical on every segment (google-auth < 1.6.3) is accepted;
# padding on some segments only, short, extra or misplaced is not.  pp
# needs padding, and so does every RS256 signature (256 bytes).
def padded(hdr_text, pay_text, spad_fix=lambda s: s):
    si = (pad(hdr_text) + "." + pad(pay_text)).encode()
    return si.decode() + "." + spad_fix(pad(sign("RS256", si, None)))
T["b64_padded_all"] = padded(js({"alg": "RS256", "typ": "JWT"}), pp)
assert T["b64_padded_all"].split(".")[2].endswith("==")
si = (pad(h) + "." + base64.b64encode(q).decode()).encode()
T["b64_padded_std"] = si.decode() + "." + pad(sign("RS256", si, None))
assert any(ch in T["b64_padded_std"].split(".")[1] for ch in "+/")
T["b64_pad_sig"] = raw(h, pp, "RS256", sig=None).rsplit(".", 1)[0]
T["b64_pad_sig"] += "." + pad(sign("RS256", T["b64_pad_sig"].encode(), None))
T["b64_pad_extra"] = padded(h, pp, lambda s: s + "==")
T["b64_pad_short"] = padded(h, pp, lambda s: s[:-1])
T["b64_pad_inside"] = padded(h, pp, lambda s: s[:10] + "==" + s[12:])
T["b64_pad_unsigned"] = ".".join(pad(x) for x in (h, pp)) + "." + pad(
    sign("RS256", (b64u(h) + "." + b64u(pp)).encode(), None))
T["b64_noncanon_sig"] = H + "." + PL + "." + noncanon(base64.urlsafe_b64decode(S + "=="))
T["b64_space_in_payload"] = H + "." + PL[:10] + " " + PL[10:] + "." + S
T["b64_tab_in_sig"] = H + "." + PL + "." + S[:10] + "\t" + S[10:]
T["b64_plus_sig"] = H + "." + PL + "." + S.replace("-", "+").replace("_", "/") if ("-" in S or "_" in S) else None
# --- part counts
T["parts1"] = H + PL + S
T["parts2_trailing_dot"] = H + "." + PL + "." + S + "."
T["parts5"] = v + "." + S + "." + S
T["parts6"] = v + ".a.b.c"
T["parts_lead_dot"] = "." + v
T["parts_empty_hdr"] = "." + PL + "." + S
T["parts_empty_payload"] = H + ".." + S
# --- JWE where a JWS is expected, JWS where a JWE (token claim) is expected
def jwe_ecdh(epk_override=None, hdr_extra=None):
    eph = ec.generate_private_key(ec.SECP256R1())
    z = eph.exchange(ec.ECDH(), enck.public_key())
    kdf = ConcatKDFHash(hashes.SHA256(), 32, otherinfo=(len(b"A256GCM")).to_bytes(4, "big") + b"A256GCM" + bytes(8) + (256).to_bytes(4, "big"))
    cek = kdf.derive(z)
    e = eph.public_key().public_numbers()
    epk = {"kty": "EC", "crv": "P-256", "x": b64u(i2b(e.x, 32)), "y": b64u(i2b(e.y, 32))}
    if epk_override: epk.update(epk_override)
    hd = {"alg": "ECDH-ES", "enc": "A256GCM", "kid": "enc1", "epk": epk}
    hd.update(hdr_extra or {})
    ph = b64u(js(hd))
    iv = os.urandom(12)
    ct = AESGCM(cek).encrypt(iv, b"ghp_JweCred", ph.encode())
    return ".".join([ph, "", b64u(iv), b64u(ct[:-16]), b64u(ct[-16:])])
T["jwe_valid_cred"] = tok(token=jwe_ecdh())
T["jwe_as_token"] = jwe_ecdh()
T["jws_hdr_with_enc"] = tok(hdr={"enc": "A256GCM"})
T["jws_in_token_claim"] = tok(token=T["valid_ec"])
T["self_in_token_claim"] = tok(token=T["valid"])
# invalid-curve epk variants
q384 = ec.generate_private_key(ec.SECP384R1()).public_key().public_numbers()
for name, o in [("zero", {"x": b64u(bytes(32)), "y": b64u(bytes(32))}),
                ("p384_point", {"x": b64u(i2b(q384.x, 48)), "y": b64u(i2b(q384.y, 48))}),
                ("p384_crv", {"crv": "P-384"}),
                ("x_33", {"x": b64u(b"\x00" + i2b(en.x, 32))}),
                ("no_y", {"y": None}),
                ("kty_oct", {"kty": "oct", "k": b64u(bytes(32))}),
                ("own_pub", {"x": b64u(i2b(en.x, 32)), "y": b64u(i2b(en.y, 32))}),
                ("x_is_p", {"x": b64u(i2b(0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF, 32))}),
                ]:
    if o.get("y", 1) is None:
        o = {}
        j = jwe_ecdh()
        hd = json.loads(base64.urlsafe_b64decode(j.split(".")[0] + "=="))
        del hd["epk"]["y"]
        parts = j.split("."); parts[0] = b64u(js(hd)); j = ".".join(parts)
        T["epk_%s" % name] = tok(token=j)
        continue
    T["epk_%s" % name] = tok(token=jwe_ecdh(o))
# --- sizes, nesting, counts
T["deep_array_claim"] = raw(h, ('{"exp":%d,"allowed":["GET /.*"],"x":' % (now + 3600)).encode() + b"[" * 10000 + b"]" * 10000 + b"}", "RS256")
T["deep_object_claim"] = raw(h, ('{"exp":%d,"allowed":["GET /.*"],"x":' % (now + 3600)).encode() + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}", "RS256")
T["deep_unclosed"] = raw(h, b"[" * 10000, "RS256")
T["deep_header"] = raw(b'{"alg":"RS256","x":' + b"[" * 5000 + b"]" * 5000 + b"}", js(claims()), "RS256")
T["allowed_256"] = tok(allowed=["GET /n%d" % i for i in range(255)] + ["GET /.*"])
T["allowed_257"] = tok(allowed=["GET /n%d" % i for i in range(256)] + ["GET /.*"])
T["allowed_3000"] = tok(allowed=["GET /n"] * 2999 + ["GET /.*"])
T["scopes_3000"] = tok(scopes=["s"] * 3000)
base = claims()
def nclaims(n):
    c = dict(base)
    for i in range(n - len(c)): c["c%d" % i] = 1
    return raw(h, js(c), "RS256")
T["claims_64"] = nclaims(64)
T["claims_65"] = nclaims(65)
T["claims_3000"] = nclaims(3000)
T["allowed_long_entry"] = tok(allowed=["GET /" + "a" * 1100])
T["huge_sub"] = tok(sub="s" * 40000)
# --- catastrophic regexes (the path checked is /rsa/aaaa...a!)
T["redos_nested"] = tok(allowed=["GET /rsa/(a+)+$"])
T["redos_star"] = tok(allowed=["GET (.*)*x"])
T["redos_alt"] = tok(allowed=["GET /rsa/(a|aa)*"])
T["redos_nested_256"] = tok(allowed=["GET /rsa/(a+)+(x%d)?" % i for i in range(256)])
T["redos_alt_256"] = tok(allowed=["GET /rsa/(a|aa)*(x%d)?" % i for i in range(256)])
T["redos_dotstar_256"] = tok(allowed=["GET /rsa/(.*a){25}(x%d)?" % i for i in range(256)])
# --- claims with CR/LF exposed through $magic_token_claim_* / $magic_token_scope
T["crlf_sub"] = tok(sub="a\r\nX-Injected: 1")
T["crlf_scope"] = tok(allowed=["GET /inj/x|\r\nX-Injected: 1"])

for k, v in T.items():
    if v is not None:
        print("%s\t%s" % (k, v))
_PY_

__DATA__

=== TEST 1: alg none in every spelling, with and without a signature, at a location with RSA, EC and HMAC keys
--- request eval
main::reqs('none')
--- more_headers eval
main::hdrs('none')
--- error_code eval
main::codes('none')
--- response_headers eval
main::errors('none')
--- response_body_like eval
main::bodies('none')
--- no_error_log
[alert]
[crit]



=== TEST 2: RS/ES -> HS confusion: RSA and EC public keys (SPKI PEM, PKCS#1 PEM, DER, JWK text, raw point, the key files themselves) as HMAC secret
--- request eval
main::reqs('confusion')
--- more_headers eval
main::hdrs('confusion')
--- error_code eval
main::codes('confusion')
--- response_headers eval
main::errors('confusion')
--- response_body_like eval
main::bodies('confusion')
--- no_error_log
[alert]
[crit]



=== TEST 2b: a key that is not the proxy's own (an HMAC secret, another party's public key) cannot wrap a copied credential into a wider token
--- request eval
main::reqs('wrap')
--- more_headers eval
main::hdrs('wrap')
--- error_code eval
main::codes('wrap')
--- response_headers eval
main::errors('wrap')
--- response_body_like eval
main::bodies('wrap')
--- no_error_log
[alert]
[crit]



=== TEST 3: kid is a label, never a path or a query: traversal, /dev/null, key file path, SQL, shell, CRLF, 256 bytes; >256 bytes, NUL, non-string refused
--- request eval
main::reqs('kid')
--- more_headers eval
main::hdrs('kid')
--- error_code eval
main::codes('kid')
--- response_headers eval
main::errors('kid')
--- response_body_like eval
main::bodies('kid')
--- no_error_log
[alert]
[crit]



=== TEST 4: keys and key URLs in the header (jwk EC/oct, jku, x5u, x5c) with the attacker's own signature; header member limit (16)
--- request eval
main::reqs('embedded')
--- more_headers eval
main::hdrs('embedded')
--- error_code eval
main::codes('embedded')
--- response_headers eval
main::errors('embedded')
--- response_body_like eval
main::bodies('embedded')
--- no_error_log
[alert]
[crit]



=== TEST 5: ECDSA psychic signatures (CVE-2022-21449): r=0/s=0, r or s >= n, all-ones, 1/1, wrong lengths
--- request eval
main::reqs('ecdsa')
--- more_headers eval
main::hdrs('ecdsa')
--- error_code eval
main::codes('ecdsa')
--- response_headers eval
main::errors('ecdsa')
--- response_body_like eval
main::bodies('ecdsa')
--- no_error_log
[alert]
[crit]



=== TEST 6: ECDSA malleability: (r, n-s) verifies too, and $magic_token_id stays the same (it hashes the signed part only)
--- request eval
["GET /ec/x?case=ec_good", "GET /ec/x?case=ec_high_s"]
--- more_headers eval
["Authorization: Bearer $::tok{ec_good}", "Authorization: Bearer $::tok{ec_high_s}"]
--- error_code eval
[200, 200]
--- response_headers eval
[ map { "X-MT-Error: []\nX-MT-Id: " . MagicToken::Test::token_id($::tok{ec_good}) } 1 .. 2 ]



=== TEST 7: duplicate JSON members (alg twice, exp twice, allowed twice, token twice), NUL bytes, raw control characters, BOM, trailing garbage, invalid UTF-8 — all validly signed
--- request eval
main::reqs('json')
--- more_headers eval
main::hdrs('json')
--- error_code eval
main::codes('json')
--- response_headers eval
main::errors('json')
--- response_body_like eval
main::bodies('json')
--- no_error_log
[alert]
[crit]



=== TEST 8: control characters in the decrypted credential (CR, DEL, ESC, TAB, VT, CRLF + smuggled request, NUL only) never reach the upstream
--- request eval
main::reqs('credential')
--- more_headers eval
main::hdrs('credential')
--- error_code eval
main::codes('credential')
--- response_headers eval
main::errors('credential')
--- response_body_like eval
main::bodies('credential')
--- no_error_log
[alert]
[crit]
http upstream request



=== TEST 9: what a real upstream receives: exactly one Authorization header, the credential byte for byte (UTF-8 and inner spaces kept), nothing injected
--- config
    location /up/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_set_header Authorization "Bearer $magic_token_credential";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo/;
    }
    location /echo/ {
        return 200 "auth=[$http_authorization] injected=[$http_x_injected] get=[$http_get]\n";
    }
--- request eval
["GET /up/x", "GET /up/x", "GET /up/x"]
--- more_headers eval
["Authorization: Bearer $::tok{cred_utf8}", "Authorization: Bearer $::tok{cred_space}",
 "Authorization: Bearer $::tok{cred_crlf_hdr}"]
--- error_code eval
[200, 200, 401]
--- response_body_like eval
[qr/^auth=\[Bearer ghp_\x{c3}\x{a9}\x{e2}\x{80}\x{a8}x\] injected=\[\] get=\[\]$/,
 qr/^auth=\[Bearer  ghp_x y\] injected=\[\] get=\[\]$/,
 qr/^(?!auth=)/]



=== TEST 10: time claims: huge, out-of-range, negative, -0, exponent notation, float, string, array, object, null, bool
--- request eval
main::reqs('time')
--- more_headers eval
main::hdrs('time')
--- error_code eval
main::codes('time')
--- response_headers eval
main::errors('time')
--- response_body_like eval
main::bodies('time')
--- no_error_log
[alert]
[crit]



=== TEST 11: base64url strictness on validly signed text: padding, standard alphabet (+ /), non-canonical trailing bits, whitespace
--- request eval
main::reqs('b64')
--- more_headers eval
main::hdrs('b64')
--- error_code eval
main::codes('b64')
--- response_headers eval
main::errors('b64')
--- response_body_like eval
main::bodies('b64')



=== TEST 12: wrong part counts (1, 3 with a trailing dot, 5, 6, empty parts), a JWE where a JWS is expected, a JWS header with "enc"
--- request eval
main::reqs('parts')
--- more_headers eval
main::hdrs('parts')
--- error_code eval
main::codes('parts')
--- response_headers eval
main::errors('parts')
--- response_body_like eval
main::bodies('parts')



=== TEST 13: JWS in the "token" claim (and the token itself); invalid-curve and malformed ECDH-ES epk (zero point, P-384 point, wrong crv, 33-byte x, no y, oct, x = p)
--- request eval
main::reqs('jwe')
--- more_headers eval
main::hdrs('jwe')
--- error_code eval
main::codes('jwe')
--- response_headers eval
main::errors('jwe')
--- response_body_like eval
main::bodies('jwe')
--- no_error_log
[alert]
[crit]



=== TEST 14: sizes: 10k-deep arrays/objects, unclosed nesting, 256/257/3000 allowed entries, 3000 scopes, 64/65/3000 claims, a 1100-byte entry, a 53 KB claim
--- request eval
main::reqs('sizes')
--- more_headers eval
main::hdrs('sizes')
--- error_code eval
main::codes('sizes')
--- response_headers eval
main::errors('sizes')
--- response_body_like eval
main::bodies('sizes')
--- no_error_log
[alert]
[crit]



=== TEST 15: catastrophic regexes in "allowed" against a 4 KB path: answered (403) quickly, also with 256 of them; no worker crash
--- timeout: 60
--- request eval
[ map { "GET /rsa/" . ('a' x 4000) . '!' } @::redos ]
--- more_headers eval
[ map { "Authorization: Bearer $::tok{$_}" } @::redos ]
--- error_code eval
[ map { 403 } @::redos ]
--- response_headers_like eval
[ map { "X-MT-Error: \\[scope_denied\\]\nX-Time: ^$::time_re\$" } @::redos ]
--- no_error_log
[alert]
[crit]



=== TEST 16: a header larger than large_client_header_buffers is nginx's 400, before the module runs
--- config
    location /rsa/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- request
GET /rsa/x
--- more_headers eval
"Authorization: Bearer $::tok{huge_sub}"
--- error_code: 400
--- response_body_like: Request Header Or Cookie Too Large
--- no_error_log
magic_token: denied



=== TEST 17: NUL and a bare CR inside the Authorization header are refused by nginx's parser (400)
--- config
    location /rsa/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- raw_request eval
["GET /rsa/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer $::tok{valid}\0x\r\n\r\n"]
--- error_code: 400
--- no_error_log
magic_token: denied



=== TEST 18: magic_token_max_size above 64k is a configuration error
--- config
    location /rsa/ {
        magic_token on;
        magic_token_max_size 65k;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        proxy_pass http://127.0.0.1:$TEST_NGINX_UPSTREAM_PORT;
    }
--- must_die
--- error_log
"magic_token_max_size" must be between 1 and 65536



=== TEST 19: CR/LF in a verified string claim never splits headers: claims are %-escaped, allowed entries with control characters are invalid
--- config
    location /inj/ {
        magic_token on;
        magic_token_key $TEST_NGINX_KEYS/private.pem;
        magic_token_scope_required off;
        proxy_set_header Authorization "sub=$magic_token_claim_sub";
        proxy_set_header X-Scope $magic_token_scope;
        add_header X-Sub $magic_token_claim_sub;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo/;
    }
    location /echo/ {
        return 200 "injected=[$http_x_injected]\n";
    }
--- request eval
["GET /inj/x", "GET /inj/x"]
--- more_headers eval
["Authorization: Bearer $::tok{crlf_sub}", "Authorization: Bearer $::tok{crlf_scope}"]
--- response_body_like eval
[qr/^(?!injected=\[1\])/, qr/^(?!injected=\[1\])/]
--- raw_response_headers_unlike eval
[qr/\r\nX-Injected:/i, qr/\r\nX-Injected:/i]
--- error_code eval
[200, 401]
