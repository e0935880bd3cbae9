#!/usr/bin/python3
"""lockbox_mint.py - mint Lockbox-style service tokens (TEST FIXTURE, not product code).

Lockbox (a Python service-token proxy) issues HS256 JWTs signed with the
whole content of its signing-key file, read as text (trailing newline
included), with exactly these claims, in this order:

    {"iss": "lockbox", "exp": <int>, "service_name": "<svc>", "aud": "<audience>"}

By default this script does the same thing, with PyJWT (Debian's
python3-jwt). Run it with /usr/bin/python3, not a pyenv/venv interpreter
without Debian packages.

Usage:
    lockbox_mint.py SECRET_FILE SERVICE AUDIENCE TTL [options]

TTL is in seconds from now and may be negative (an expired token).

Options for negative tests (the default output is a genuine Lockbox token):
    --strip-newline        sign with the file content minus one trailing "\\n"
    --iss ISS              issuer (default "lockbox")
    --aud-json JSON        aud claim as raw JSON (e.g. '["a","b"]' or 42)
    --omit CLAIM           leave out a claim (repeatable): iss, exp,
                           service_name, aud
    --claim NAME=JSON      add or override a claim (repeatable)
    --alg ALG              HS256 (default), HS384, HS512, RS256, none
    --rsa-key PEM          RSA private key for --alg RS256
    --hmac-key-file FILE   HMAC key: the bytes of FILE instead of SECRET_FILE
                           (signed by hand, since PyJWT refuses PEM keys as HMAC
                           secrets: the "algorithm confusion" attack token)
    --pad                  every segment padded with "=" (signed by hand over
                           the padded text; PyJWT accepts such tokens)
"""

import argparse
import base64
import hashlib
import hmac
import json
import sys
import time

try:
    import jwt  # python3-jwt (PyJWT)
except ImportError:
    sys.exit("lockbox_mint.py: needs PyJWT (Debian: python3-jwt); "
             "run it with /usr/bin/python3")

JWT_ISSUER_LOCKBOX = "lockbox"
HMAC_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384,
               "HS512": hashlib.sha512}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_padded(data):
    return base64.urlsafe_b64encode(data).decode("ascii")


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


def parse_args(argv):
    p = argparse.ArgumentParser(description="mint a Lockbox-style service token")
    p.add_argument("secret_file")
    p.add_argument("service")
    p.add_argument("audience")
    p.add_argument("ttl", type=int)
    p.add_argument("--strip-newline", action="store_true")
    p.add_argument("--iss", default=JWT_ISSUER_LOCKBOX)
    p.add_argument("--aud-json")
    p.add_argument("--omit", action="append", default=[])
    p.add_argument("--claim", action="append", default=[])
    p.add_argument("--alg", default="HS256",
                   choices=sorted(HMAC_HASHES) + ["RS256", "none"])
    p.add_argument("--rsa-key")
    p.add_argument("--hmac-key-file")
    p.add_argument("--pad", action="store_true")
    return p.parse_args(argv)


def main(argv):
    a = parse_args(argv)

    # Lockbox: open(signing_key_file).read(), i.e. text mode, whole content
    with open(a.secret_file) as f:
        secret = f.read()
    if a.strip_newline and secret.endswith("\n"):
        secret = secret[:-1]

    claims = {
        "iss": a.iss,
        "exp": int(time.time() + a.ttl),
        "service_name": a.service,
        "aud": a.audience if a.aud_json is None else json.loads(a.aud_json),
    }
    for name in a.omit:
        claims.pop(name, None)
    for item in a.claim:
        name, sep, value = item.partition("=")
        if not sep:
            sys.exit("--claim wants NAME=JSON")
        claims[name] = json.loads(value)

    if a.alg == "none":
        header = {"alg": "none", "typ": "JWT"}
        token = b64url(compact(header)) + "." + b64url(compact(claims)) + "."
    elif a.alg == "RS256":
        if not a.rsa_key:
            sys.exit("--alg RS256 needs --rsa-key")
        with open(a.rsa_key, "rb") as f:
            token = jwt.encode(claims, f.read(), algorithm="RS256")
    elif a.hmac_key_file or a.pad:
        if a.hmac_key_file:
            with open(a.hmac_key_file, "rb") as f:
                key = f.read()
        else:
            key = secret.encode("utf-8")
        enc = b64url_padded if a.pad else b64url
        header = {"alg": a.alg, "typ": "JWT"}
        signing_input = enc(compact(header)) + "." + enc(compact(claims))
        sig = hmac.new(key, signing_input.encode("ascii"),
                       HMAC_HASHES[a.alg]).digest()
        token = signing_input + "." + enc(sig)
    else:
        # exactly what Lockbox's generate_service_token does
        token = jwt.encode(claims, secret, algorithm=a.alg)

    if isinstance(token, bytes):  # PyJWT < 2
        token = token.decode("ascii")
    print(token)


if __name__ == "__main__":
    main(sys.argv[1:])
