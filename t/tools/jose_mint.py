#!/usr/bin/python3
"""jose_mint.py - JOSE keys and tokens for the tests (TEST FIXTURE, not product code).

Run with Debian's /usr/bin/python3: needs python3-jwcrypto and
python3-cryptography.

  keygen DIR NAME TYPE [--kid K] [--alg A] [--use sig|enc]
      TYPE: rsa (2048 bits) | rsa1024 | p256 | p384 | p521 | ed25519 | x25519
            | oct (32 random bytes) | oct16 | oct64
      Writes into DIR:
        NAME.pem       private key PEM (PKCS#8; not for oct)
        NAME.pub.pem   public key PEM (SPKI); NAME.pub.der the same in DER
        NAME.secret    the raw secret (oct only)
        NAME.jwk       private JWK, NAME.pub.jwk public JWK
        NAME.jwks      {"keys": [private JWK]}, NAME.pub.jwks the public set
      kid defaults to NAME ("--kid ''" for none); alg/use are added if given.

  jwks OUT IN.jwk|IN.jwks ...
      Write a JWK Set holding every key of the inputs, in order.

  mint --key FILE [options]         print a compact JWS on stdout
      --key FILE       signing key: PEM, JWK/JWKS (first key) or, with
                       --secret, any file used byte for byte as HMAC secret
      --alg ALG        default from the key (RS256, ES256/384/512, EdDSA, HS256);
                       "none" gives an unsigned token
      --kid KID        header kid (default: the JWK's kid; "" for none)
      --header N=JSON  add/override a header member (repeatable)
      --claim N=JSON   add/override a claim (repeatable)
      --allowed ENTRY  "METHOD regex" (repeatable); --ttl SECONDS (3600)
      --der-sig        ES*: DER-encoded ECDSA signature instead of raw r||s
      credential (claim "token"), optional:
      --credential STR | --credential-file FILE
      --oaep-to FILE   magic-api-proxy form: base64(RSA-OAEP-SHA256)
      --jwe-to FILE    compact JWE to that key, with
        --jwe-alg ALG --jwe-enc ENC [--jwe-kid KID] [--jwe-header N=JSON]
        --jwe-tamper header|iv|ciphertext|tag|epk   corrupt the JWE
"""

import argparse
import base64
import json
import os
import sys
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwcrypto import jwe, jwk, jws
from jwcrypto.common import base64url_decode, base64url_encode

KEYTYPES = {
    "rsa": dict(kty="RSA", size=2048), "rsa1024": dict(kty="RSA", size=1024),
    "p256": dict(kty="EC", crv="P-256"), "p384": dict(kty="EC", crv="P-384"),
    "p521": dict(kty="EC", crv="P-521"),
    "ed25519": dict(kty="OKP", crv="Ed25519"), "x25519": dict(kty="OKP", crv="X25519"),
    "oct": dict(kty="oct", size=256), "oct16": dict(kty="oct", size=128),
    "oct64": dict(kty="oct", size=512),
}
DEFAULT_ALG = {"RSA": "RS256", "P-256": "ES256", "P-384": "ES384",
               "P-521": "ES512", "Ed25519": "EdDSA", "oct": "HS256"}


def write(path, data, mode=0o600):
    if isinstance(data, str):
        data = data.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def dump(obj):
    return json.dumps(obj, indent=2) + "\n"


def name_value(text):
    name, _, value = text.partition("=")
    return name, json.loads(value)


# ---------------------------------------------------------------- keys

def cmd_keygen(a):
    os.makedirs(a.dir, exist_ok=True)
    key = jwk.JWK.generate(**KEYTYPES[a.type])
    extra = {"kid": a.name if a.kid is None else a.kid, "alg": a.alg, "use": a.use}
    priv = json.loads(key.export(private_key=True))
    priv.update({k: v for k, v in extra.items() if v})
    base = os.path.join(a.dir, a.name)
    if priv["kty"] == "oct":
        write(base + ".secret", base64url_decode(priv["k"]))
        pub = priv
    else:
        pub = {k: v for k, v in priv.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
        write(base + ".pem", key.export_to_pem(private_key=True, password=None))
        write(base + ".pub.pem", key.export_to_pem(), 0o644)
        der = key.get_op_key("verify" if priv.get("crv") != "X25519" else "encrypt")
        write(base + ".pub.der", der.public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)
    write(base + ".jwk", dump(priv))
    write(base + ".jwks", dump({"keys": [priv]}))
    write(base + ".pub.jwk", dump(pub), 0o644)
    write(base + ".pub.jwks", dump({"keys": [pub]}), 0o644)


def cmd_jwks(a):
    keys = []
    for path in a.inputs:
        with open(path) as f:
            obj = json.load(f)
        keys.extend(obj["keys"] if "keys" in obj else [obj])
    write(a.out, dump({"keys": keys}))


def load_key(path, secret=False):
    """(jwcrypto JWK, kid or None) from a PEM, JWK, JWKS or raw secret file."""
    with open(path, "rb") as f:
        data = f.read()
    if secret:
        return jwk.JWK(kty="oct", k=base64url_encode(data)), None
    if data.lstrip().startswith(b"{"):
        obj = json.loads(data)
        if "keys" in obj:
            obj = obj["keys"][0]
        # jwcrypto checks alg/use itself; the module is what we test
        obj = {k: v for k, v in obj.items() if k not in ("alg", "use", "key_ops")}
        return jwk.JWK(**obj), obj.get("kid")
    if b"PRIVATE KEY" in data:
        return jwk.JWK.from_pem(data, password=None), None
    return jwk.JWK.from_pem(data), None


# ------------------------------------------------------------- tokens

def b64(obj):
    return base64url_encode(json.dumps(obj, separators=(",", ":")).encode())


def tamper_jwe(compact, what):
    parts = compact.split(".")
    idx = {"header": 0, "iv": 2, "ciphertext": 3, "tag": 4}
    if what == "epk":
        hdr = json.loads(base64url_decode(parts[0]))
        # a point not on the curve (P-*) / a low-order point (X25519)
        if hdr["epk"]["kty"] == "EC":
            y = bytearray(base64url_decode(hdr["epk"]["y"]))
            y[-1] ^= 1
            hdr["epk"]["y"] = base64url_encode(bytes(y))
        else:
            hdr["epk"]["x"] = base64url_encode(bytes(32))
        parts[0] = b64(hdr)
    elif what == "header":
        hdr = json.loads(base64url_decode(parts[0]))
        hdr["x-tampered"] = 1
        parts[0] = b64(hdr)
    else:
        raw = bytearray(base64url_decode(parts[idx[what]]))
        raw[0] ^= 1
        parts[idx[what]] = base64url_encode(bytes(raw))
    return ".".join(parts)


def credential_claim(a):
    if a.credential_file:
        with open(a.credential_file, "rb") as f:
            cred = f.read()
    elif a.credential is not None:
        cred = a.credential.encode()
    else:
        return None
    if a.oaep_to:
        pub = load_key(a.oaep_to)[0].get_op_key("encrypt")
        ct = pub.encrypt(cred, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                            algorithm=hashes.SHA256(), label=None))
        return base64.b64encode(ct).decode()
    if a.jwe_to:
        key, kid = load_key(a.jwe_to)
        hdr = {"alg": a.jwe_alg, "enc": a.jwe_enc}
        kid = a.jwe_kid if a.jwe_kid is not None else kid
        if kid:
            hdr["kid"] = kid
        hdr.update(dict(name_value(h) for h in a.jwe_header))
        token = jwe.JWE(cred, json.dumps(hdr), algs=[a.jwe_alg, a.jwe_enc])
        token.add_recipient(key)
        out = token.serialize(compact=True)
        return tamper_jwe(out, a.jwe_tamper) if a.jwe_tamper else out
    sys.exit("a credential needs --oaep-to or --jwe-to")


def cmd_mint(a):
    key, kid = load_key(a.key, a.secret)
    kty = key.get("kty")
    alg = a.alg or DEFAULT_ALG[key.get("crv", kty) if kty != "RSA" else "RSA"]
    kid = a.kid if a.kid is not None else kid

    header = {"alg": alg, "typ": "JWT"}
    if kid:
        header["kid"] = kid
    header.update(dict(name_value(h) for h in a.header))

    now = int(time.time())
    claims = {"iat": now, "exp": now + a.ttl}
    if a.allowed:
        claims["allowed"] = a.allowed
    cred = credential_claim(a)
    if cred is not None:
        claims["token"] = cred
    claims.update(dict(name_value(c) for c in a.claim))

    signing_input_hdr, payload = b64(header), b64(claims)
    if alg == "none":
        sig = ""
    else:
        core = jws.JWSCore(alg, key, json.dumps(header), json.dumps(claims), [alg])
        out = core.sign()
        signing_input_hdr, payload, sig = out["protected"], out["payload"], out["signature"]
        if isinstance(payload, bytes):
            payload = payload.decode()
        if a.der_sig:
            raw = base64url_decode(sig)
            n = len(raw) // 2
            sig = base64url_encode(encode_dss_signature(
                int.from_bytes(raw[:n], "big"), int.from_bytes(raw[n:], "big")))
    print(f"{signing_input_hdr}.{payload}.{sig}")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    k = sub.add_parser("keygen")
    k.add_argument("dir")
    k.add_argument("name")
    k.add_argument("type", choices=sorted(KEYTYPES))
    k.add_argument("--kid")
    k.add_argument("--alg")
    k.add_argument("--use", choices=["sig", "enc"])
    k.set_defaults(func=cmd_keygen)

    s = sub.add_parser("jwks")
    s.add_argument("out")
    s.add_argument("inputs", nargs="+")
    s.set_defaults(func=cmd_jwks)

    m = sub.add_parser("mint")
    m.add_argument("--key", required=True)
    m.add_argument("--secret", action="store_true")
    m.add_argument("--alg")
    m.add_argument("--kid")
    m.add_argument("--header", action="append", default=[])
    m.add_argument("--claim", action="append", default=[])
    m.add_argument("--allowed", action="append", default=[])
    m.add_argument("--ttl", type=int, default=3600)
    m.add_argument("--der-sig", action="store_true")
    m.add_argument("--credential")
    m.add_argument("--credential-file")
    m.add_argument("--oaep-to")
    m.add_argument("--jwe-to")
    m.add_argument("--jwe-alg", default="RSA-OAEP-256")
    m.add_argument("--jwe-enc", default="A256GCM")
    m.add_argument("--jwe-kid")
    m.add_argument("--jwe-header", action="append", default=[])
    m.add_argument("--jwe-tamper",
                   choices=["header", "iv", "ciphertext", "tag", "epk"])
    m.set_defaults(func=cmd_mint)

    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
