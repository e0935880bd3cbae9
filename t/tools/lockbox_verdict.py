#!/usr/bin/python3
"""lockbox_verdict.py - Lockbox's verdict on service tokens (TEST ORACLE, not product code).

Reads lines "SERVICE<TAB>TOKEN" on stdin and prints, for each, 1 if Lockbox
0.1.3 would accept the token for a request to /s/SERVICE/..., 0 if not.

Lockbox checks a service token in two steps, both with PyJWT (Debian's
python3-jwt): a decode without signature verification, after which "iss"
must equal "lockbox", "exp" must not be before the current time and
"service_name" must equal the URL's service (compared as Python values, so
the number 123 is not the string "123"; any missing claim or type error is
a refusal); then jwt.decode(token, key, algorithms=["HS256"],
audience=AUDIENCES), where AUDIENCES is the service's valid_audiences, or,
for a service without any, a one-element list holding the token's own
"aud".  PyJWT's leeway is 0.  The key is the signing-key file read as text.

Usage:
    lockbox_verdict.py SECRET_FILE VALID_AUDIENCES_JSON < requests

VALID_AUDIENCES_JSON maps a service to its list, or to null when the
service has no valid_audiences, e.g. '{"svc-a":["ci","deploy"],"svc-b":null}'.
"""

import json
import sys
import time

import jwt  # python3-jwt (PyJWT)


def unverified_checks(token, service):
    claims = jwt.decode(token, options={"verify_signature": False})
    return (claims["iss"] == "lockbox"
            and not claims["exp"] < time.time()
            and claims["service_name"] == service), claims


def accepts(token, service, key, valid_audiences):
    try:
        ok, claims = unverified_checks(token, service)
        if not ok:
            return False
        audiences = valid_audiences.get(service)
        if audiences is None:
            audiences = [claims["aud"]]
        jwt.decode(token, key, algorithms=["HS256"], audience=list(audiences))
        return True
    except Exception:
        return False


def main(argv):
    with open(argv[0]) as f:
        key = f.read()
    valid_audiences = json.loads(argv[1])
    for line in sys.stdin:
        service, _, token = line.rstrip("\n").partition("\t")
        print(1 if accepts(token, service, key, valid_audiences) else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
