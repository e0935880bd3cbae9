#!/usr/bin/env python3
"""dpop_proof.py - DPoP proofs (RFC 9449) made with PyJWT, for the tests
(TEST TOOL, not product code).

  dpop_proof.py jkt KEY_PEM
      the RFC 7638 thumbprint of the key's public half
  dpop_proof.py proof KEY_PEM --htm GET --htu URL [--token T] [options]
      a proof on stdout; options make bad ones for the suite:
      --iat-offset N, --jti J, --alg A (none, HS256: made by hand),
      --typ T, --private-jwk (the private key in "jwk"),
      --jwk-key PEM (another key's public JWK in the header), --ath X,
      --count N (N proofs, one a line, each with its own jti)

Needs Debian's python3-jwt and python3-cryptography.
"""

import argparse
import base64
import hashlib
import json
import sys
import time
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def public_jwk(key, private=False):
    if isinstance(key, ec.EllipticCurvePrivateKey):
        j = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(
            key if private else key.public_key()))
    elif isinstance(key, rsa.RSAPrivateKey):
        j = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(
            key if private else key.public_key()))
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        j = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(
            key if private else key.public_key()))
    else:
        raise SystemExit("unsupported key type")
    if isinstance(key, ec.EllipticCurvePrivateKey):
        # full-size coordinates (RFC 7518 section 6.2.1.2): PyJWT before
        # 2.7 drops their leading zero bytes, about one key in 120
        size = (key.curve.key_size + 7) // 8
        pub = key.public_key().public_numbers()
        j["x"] = b64url(pub.x.to_bytes(size, "big"))
        j["y"] = b64url(pub.y.to_bytes(size, "big"))
        if private:
            j["d"] = b64url(key.private_numbers().private_value.to_bytes(
                size, "big"))
    for k in ("alg", "use", "key_ops", "kid"):
        j.pop(k, None)
    return j


def default_alg(key):
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {"secp256r1": "ES256", "secp384r1": "ES384",
                "secp521r1": "ES512"}[key.curve.name]
    if isinstance(key, rsa.RSAPrivateKey):
        return "PS256"
    return "EdDSA"


def thumbprint(jwk):
    names = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"),
             "OKP": ("crv", "kty", "x")}[jwk["kty"]]
    s = json.dumps({n: jwk[n] for n in names}, separators=(",", ":"),
                   sort_keys=True)
    return b64url(hashlib.sha256(s.encode()).digest())


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    j = sub.add_parser("jkt")
    j.add_argument("key")
    p = sub.add_parser("proof")
    p.add_argument("key")
    p.add_argument("--htm", default="GET")
    p.add_argument("--htu", required=True)
    p.add_argument("--token")
    p.add_argument("--ath")
    p.add_argument("--iat-offset", type=int, default=0)
    p.add_argument("--jti")
    p.add_argument("--alg")
    p.add_argument("--typ", default="dpop+jwt")
    p.add_argument("--private-jwk", action="store_true")
    p.add_argument("--jwk-key")
    p.add_argument("--count", type=int, default=1)
    a = ap.parse_args()

    key = load(a.key)

    if a.cmd == "jkt":
        print(thumbprint(public_jwk(key)))
        return

    for _ in range(a.count):
        print(proof(a, key))


def proof(a, key):
    jwk = public_jwk(load(a.jwk_key)) if a.jwk_key else \
        public_jwk(key, a.private_jwk)
    claims = {"jti": a.jti or str(uuid.uuid4()), "htm": a.htm,
              "htu": a.htu, "iat": int(time.time()) + a.iat_offset}
    if a.token is not None:
        claims["ath"] = b64url(hashlib.sha256(a.token.encode()).digest())
    if a.ath is not None:
        claims["ath"] = a.ath
    alg = a.alg or default_alg(key)
    header = {"typ": a.typ, "alg": alg, "jwk": jwk}

    if alg in ("none", "HS256"):
        h = b64url(json.dumps(header).encode())
        c = b64url(json.dumps(claims).encode())
        sig = ""
        if alg == "HS256":
            import hmac
            sig = b64url(hmac.new(b"secret", (h + "." + c).encode(),
                                  hashlib.sha256).digest())
        return h + "." + c + "." + sig

    return jwt.encode(claims, key, algorithm=alg, headers=header)


if __name__ == "__main__":
    main()
