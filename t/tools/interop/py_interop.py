#!/usr/bin/python3
"""py_interop.py - magic tokens minted and checked with third-party Python
JOSE libraries, for t/042-interop.t (TEST FIXTURE, not product code).

Run with Debian's /usr/bin/python3 (python3-jwcrypto, python3-jwt,
python3-cryptography).

  mint --lib jwcrypto|pyjwt --key PRIV.pem --alg ALG [--kid KID]
       [--credential-file FILE --enc-key PUB.pem
        [--jwe-alg ALG --jwe-enc ENC]]          (default: magic-api-proxy
                                                 base64 RSA-OAEP-256 form)
       [--allowed ENTRY ...] [--scopes NAME ...] [--ttl SECONDS]
      Print a compact JWS.  The credential is read from a file, never argv.

  verify --lib jwcrypto|pyjwt --key PUB.pem --alg ALG TOKEN
      Verify TOKEN's signature and exp with the public key only (the
      algorithm pinned to ALG) and print its header and claims as JSON:
      {"header": {...}, "claims": {...}}.

  decrypt --key PRIV.pem CLAIM
      Decrypt a "token" claim: magic-api-proxy's base64 RSA-OAEP-SHA256
      with python cryptography, a compact JWE with jwcrypto.  Prints the
      credential, without a newline.
"""

import argparse
import base64
import json
import sys
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


def read(path):
    with open(path, "rb") as f:
        return f.read()


def oaep_encrypt(pub_pem, data):
    pub = serialization.load_pem_public_key(pub_pem)
    ct = pub.encrypt(data, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                        algorithm=hashes.SHA256(), label=None))
    return base64.b64encode(ct).decode()


def jwe_encrypt(pub_pem, data, alg, enc):
    from jwcrypto import jwe, jwk
    key = jwk.JWK.from_pem(pub_pem)
    e = jwe.JWE(data, protected=json.dumps({"alg": alg, "enc": enc}))
    e.add_recipient(key)
    return e.serialize(compact=True)


def cmd_mint(a):
    now = int(time.time())
    claims = {"iat": now, "exp": now + a.ttl}
    if a.allowed:
        claims["allowed"] = a.allowed
    if a.scopes:
        claims["scopes"] = a.scopes
    if a.credential_file:
        cred = read(a.credential_file)
        enc_pem = read(a.enc_key)
        if a.jwe_alg:
            claims["token"] = jwe_encrypt(enc_pem, cred, a.jwe_alg, a.jwe_enc)
        else:
            claims["token"] = oaep_encrypt(enc_pem, cred)

    header = {"alg": a.alg, "typ": "JWT"}
    if a.kid:
        header["kid"] = a.kid

    if a.lib == "pyjwt":
        import jwt
        key = serialization.load_pem_private_key(read(a.key), password=None)
        extra = {"kid": a.kid} if a.kid else None
        tok = jwt.encode(claims, key, algorithm=a.alg, headers=extra)
        if isinstance(tok, bytes):
            tok = tok.decode()
    else:
        from jwcrypto import jwk, jwt
        key = jwk.JWK.from_pem(read(a.key))
        t = jwt.JWT(header=header, claims=claims)
        t.make_signed_token(key)
        tok = t.serialize()
    sys.stdout.write(tok + "\n")


def b64url_json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def cmd_verify(a):
    pub_pem = read(a.key)
    header = b64url_json(a.token.split(".")[0])
    if a.lib == "pyjwt":
        import jwt
        key = serialization.load_pem_public_key(pub_pem)
        claims = jwt.decode(a.token, key, algorithms=[a.alg],
                            options={"require": ["exp", "iat"],
                                     "verify_aud": False})
    else:
        from jwcrypto import jwk, jwt
        key = jwk.JWK.from_pem(pub_pem)
        t = jwt.JWT(jwt=a.token, key=key, algs=[a.alg],
                    check_claims={"exp": None})
        claims = json.loads(t.claims)
    json.dump({"header": header, "claims": claims}, sys.stdout)
    sys.stdout.write("\n")


def cmd_decrypt(a):
    priv_pem = read(a.key)
    if a.claim.count(".") == 4:
        from jwcrypto import jwe, jwk
        e = jwe.JWE()
        e.deserialize(a.claim, key=jwk.JWK.from_pem(priv_pem))
        out = e.payload
    else:
        key = serialization.load_pem_private_key(priv_pem, password=None)
        out = key.decrypt(base64.b64decode(a.claim, validate=True),
                          padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                       algorithm=hashes.SHA256(), label=None))
    sys.stdout.buffer.write(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    m = sub.add_parser("mint")
    m.add_argument("--lib", choices=["jwcrypto", "pyjwt"], required=True)
    m.add_argument("--key", required=True)
    m.add_argument("--alg", required=True)
    m.add_argument("--kid")
    m.add_argument("--credential-file")
    m.add_argument("--enc-key")
    m.add_argument("--jwe-alg")
    m.add_argument("--jwe-enc")
    m.add_argument("--allowed", action="append")
    m.add_argument("--scopes", action="append")
    m.add_argument("--ttl", type=int, default=600)

    v = sub.add_parser("verify")
    v.add_argument("--lib", choices=["jwcrypto", "pyjwt"], required=True)
    v.add_argument("--key", required=True)
    v.add_argument("--alg", required=True)
    v.add_argument("token")

    d = sub.add_parser("decrypt")
    d.add_argument("--key", required=True)
    d.add_argument("claim")

    a = p.parse_args()
    if a.cmd == "mint" and a.credential_file and not a.enc_key:
        p.error("--credential-file needs --enc-key")
    if a.cmd == "mint" and bool(a.jwe_alg) != bool(a.jwe_enc):
        p.error("--jwe-alg and --jwe-enc go together")
    {"mint": cmd_mint, "verify": cmd_verify, "decrypt": cmd_decrypt}[a.cmd](a)


if __name__ == "__main__":
    main()
