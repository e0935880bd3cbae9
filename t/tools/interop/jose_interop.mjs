#!/usr/bin/env node
// jose_interop.mjs - magic tokens minted and checked with the npm "jose"
// package (v5), for t/042-interop.t (TEST FIXTURE, not product code).
//
// Needs "npm install --no-audit --no-fund" in this directory first.
//
//   mint --key PRIV.pem --alg ALG [--kid KID]
//        [--credential-file FILE --enc-key PUB.pem [--jwe-alg A --jwe-enc E]]
//        [--allowed ENTRY ...] [--scopes NAME ...] [--ttl SECONDS]
//       Print a compact JWS.  Without --jwe-alg the credential is in
//       magic-api-proxy's form (base64 RSA-OAEP-SHA256, node:crypto).
//
//   verify --key PUB.pem --alg ALG TOKEN
//       Verify with the public key, the algorithm pinned to ALG; print
//       {"header": {...}, "claims": {...}}.
//
//   decrypt --key PRIV.pem CLAIM
//       Decrypt a compact JWE "token" claim (or the base64 OAEP form);
//       print the credential without a newline.

import { readFileSync } from 'node:fs';
import crypto from 'node:crypto';
import * as jose from 'jose';

function parse(argv) {
  const o = { allowed: [], scopes: [], _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const name = a.slice(2).replace(/-/g, '_');
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      if (Array.isArray(o[name])) o[name].push(v); else o[name] = v;
    } else {
      o._.push(a);
    }
  }
  return o;
}

const pem = (p) => readFileSync(p, 'utf8');

async function mint(o) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { iat: now, exp: now + Number(o.ttl || 600) };
  if (o.allowed.length) claims.allowed = o.allowed;
  if (o.scopes.length) claims.scopes = o.scopes;

  if (o.credential_file) {
    const cred = readFileSync(o.credential_file);
    if (o.jwe_alg) {
      const k = await jose.importSPKI(pem(o.enc_key), o.jwe_alg);
      claims.token = await new jose.CompactEncrypt(cred)
        .setProtectedHeader({ alg: o.jwe_alg, enc: o.jwe_enc })
        .encrypt(k);
    } else {
      claims.token = crypto.publicEncrypt({
        key: pem(o.enc_key),
        padding: crypto.constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha256',
      }, cred).toString('base64');
    }
  }

  const header = { alg: o.alg, typ: 'JWT' };
  if (o.kid) header.kid = o.kid;
  const key = await jose.importPKCS8(pem(o.key), o.alg);
  const tok = await new jose.SignJWT(claims).setProtectedHeader(header)
    .sign(key);
  process.stdout.write(tok + '\n');
}

async function verify(o) {
  const key = await jose.importSPKI(pem(o.key), o.alg);
  const { payload, protectedHeader } = await jose.jwtVerify(o._[0], key, {
    algorithms: [o.alg],
    requiredClaims: ['exp', 'iat'],
  });
  process.stdout.write(JSON.stringify({ header: protectedHeader,
                                        claims: payload }) + '\n');
}

async function decrypt(o) {
  const claim = o._[0];
  if (claim.split('.').length === 5) {
    const hdr = jose.decodeProtectedHeader(claim);
    const key = await jose.importPKCS8(pem(o.key), hdr.alg);
    const { plaintext } = await jose.compactDecrypt(claim, key);
    process.stdout.write(Buffer.from(plaintext));
  } else {
    process.stdout.write(crypto.privateDecrypt({
      key: pem(o.key),
      padding: crypto.constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: 'sha256',
    }, Buffer.from(claim, 'base64')));
  }
}

const [cmd, ...rest] = process.argv.slice(2);
const o = parse(rest);
const run = { mint, verify, decrypt }[cmd];
if (!run) {
  process.stderr.write('usage: jose_interop.mjs mint|verify|decrypt ...\n');
  process.exit(2);
}
run(o).catch((e) => {
  process.stderr.write(`jose_interop: ${e.code || ''} ${e.message}\n`);
  process.exit(1);
});
