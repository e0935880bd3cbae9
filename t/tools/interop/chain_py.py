#!/usr/bin/python3
"""chain_py.py - chains of attenuated magic tokens (docs/attenuation.md)
made with third-party Python JOSE libraries, for t/045-attenuation-interop.t
(TEST FIXTURE, not product code).

Run with Debian's /usr/bin/python3 (python3-jwt, python3-jwcrypto,
python3-cryptography).

  root --lib pyjwt|jwcrypto --key PROXY.pem --holder-key PUB.pem
       [--allowed ENTRY ...] [--ttl SECONDS] [--max-further-links N]
      Print an attenuable root token (RS256, no credential), whose cnf
      names the holder's public key.

  attenuate --lib pyjwt|jwcrypto --key HOLDER.pem --alg ALG
       [--allowed ENTRY ...] [--methods M ...] [--aud AUD] [--ttl SECONDS]
       [--next-key PUB.pem | --new-key OUT.pem] [--typ TYP] [--no-prev]
       [--claim NAME=JSON ...] CHAIN|-
      Append a link signed with HOLDER.pem and print the chain.  --typ,
      --no-prev and --claim make links the proxy must refuse.
"""

import argparse
import base64
import hashlib
import json
import sys
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def read(path):
    with open(path, "rb") as f:
        return f.read()


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(lib, pub_pem):
    if lib == "jwcrypto":
        from jwcrypto import jwk
        return jwk.JWK.from_pem(pub_pem).export_public(as_dict=True)
    from jwt import algorithms
    key = serialization.load_pem_public_key(pub_pem)
    for name in ("RSAAlgorithm", "ECAlgorithm", "OKPAlgorithm"):
        alg = getattr(algorithms, name, None)
        if alg is None:
            continue
        try:
            j = json.loads(alg.to_jwk(key))
        except Exception:
            continue
        if j.get("kty") == "EC":
            # full-size coordinates (RFC 7518 section 6.2.1.2): PyJWT
            # before 2.7 drops their leading zero bytes, one key in 120
            size = (key.curve.key_size + 7) // 8
            nums = key.public_numbers()
            for name, v in (("x", nums.x), ("y", nums.y)):
                j[name] = base64.urlsafe_b64encode(
                    v.to_bytes(size, "big")).rstrip(b"=").decode("ascii")
        return j
    raise SystemExit("PyJWT cannot export this key as a JWK")


def sign(lib, claims, key_pem, alg, typ):
    if lib == "pyjwt":
        import jwt
        key = serialization.load_pem_private_key(key_pem, password=None)
        tok = jwt.encode(claims, key, algorithm=alg, headers={"typ": typ})
        return tok.decode() if isinstance(tok, bytes) else tok
    from jwcrypto import jwk, jws
    key = jwk.JWK.from_pem(key_pem)
    s = jws.JWS(json.dumps(claims).encode())
    s.add_signature(key, None, json.dumps({"alg": alg, "typ": typ}))
    return s.serialize(compact=True)


def cmd_root(a):
    now = int(time.time())
    claims = {"iat": now, "exp": now + a.ttl,
              "allowed": a.allowed or ["GET /.*"],
              "cnf": {"jwk": public_jwk(a.lib, read(a.holder_key))}}
    if a.max_further_links is not None:
        claims["max_further_links"] = a.max_further_links
    print(sign(a.lib, claims, read(a.key), "RS256", "JWT"))


def cmd_attenuate(a):
    chain = sys.stdin.read().strip() if a.chain == "-" else a.chain
    last = chain.rsplit("~", 1)[-1]
    claims = {}
    if not a.no_prev:
        claims["prev"] = b64u(hashlib.sha256(last.encode()).digest())
    if a.allowed:
        claims["allowed"] = a.allowed
    if a.methods:
        claims["methods"] = a.methods
    if a.aud:
        claims["aud"] = a.aud
    if a.ttl is not None:
        claims["exp"] = int(time.time()) + a.ttl
    if a.next_key:
        claims["cnf"] = {"jwk": public_jwk(a.lib, read(a.next_key))}
    elif a.new_key:
        k = ec.generate_private_key(ec.SECP256R1())
        pem = k.private_bytes(serialization.Encoding.PEM,
                              serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
        with open(a.new_key, "wb") as f:
            f.write(pem)
        pub = k.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo)
        claims["cnf"] = {"jwk": public_jwk(a.lib, pub)}
    for c in a.claim:
        name, value = c.split("=", 1)
        claims[name] = json.loads(value)
    print(chain + "~" + sign(a.lib, claims, read(a.key), a.alg, a.typ))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("root")
    r.add_argument("--lib", choices=["pyjwt", "jwcrypto"], required=True)
    r.add_argument("--key", required=True)
    r.add_argument("--holder-key", required=True)
    r.add_argument("--allowed", action="append", default=[])
    r.add_argument("--ttl", type=int, default=600)
    r.add_argument("--max-further-links", type=int)

    t = sub.add_parser("attenuate")
    t.add_argument("--lib", choices=["pyjwt", "jwcrypto"], required=True)
    t.add_argument("--key", required=True)
    t.add_argument("--alg", required=True)
    t.add_argument("--allowed", action="append", default=[])
    t.add_argument("--methods", action="append", default=[])
    t.add_argument("--aud")
    t.add_argument("--ttl", type=int)
    t.add_argument("--next-key")
    t.add_argument("--new-key")
    t.add_argument("--typ", default="mt-link+jwt")
    t.add_argument("--no-prev", action="store_true")
    t.add_argument("--claim", action="append", default=[])
    t.add_argument("chain")

    a = p.parse_args()
    {"root": cmd_root, "attenuate": cmd_attenuate}[a.cmd](a)


if __name__ == "__main__":
    main()
