#!/usr/bin/env node
// chain_jose.mjs - chains of attenuated magic tokens (docs/attenuation.md)
// made with the npm "jose" package (v5), for t/045-attenuation-interop.t
// (TEST FIXTURE, not product code).
//
//   root --key PROXY.pem --holder-key PUB.pem [--allowed ENTRY ...]
//        [--ttl SECONDS]
//       Print an attenuable root token (RS256, no credential).
//
//   attenuate --key HOLDER.pem --alg ALG [--allowed ENTRY ...]
//        [--methods M ...] [--ttl SECONDS]
//        [--next-key PUB.pem | --new-key OUT.pem] CHAIN
//       Append a link signed with HOLDER.pem and print the chain.

import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import * as jose from 'jose';

function parse(argv) {
  const o = { allowed: [], methods: [], _: [] };
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

async function publicJwk(path) {
  const k = await jose.importSPKI(pem(path), 'ES256', { extractable: true })
    .catch(() => jose.importSPKI(pem(path), 'EdDSA', { extractable: true }))
    .catch(() => jose.importSPKI(pem(path), 'PS256', { extractable: true }));
  return jose.exportJWK(k);
}

async function root(o) {
  const key = await jose.importPKCS8(pem(o.key), 'RS256');
  const claims = {
    allowed: o.allowed.length ? o.allowed : ['GET /.*'],
    cnf: { jwk: await publicJwk(o.holder_key) },
  };
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime(`${Number(o.ttl || 600)}s`)
    .sign(key);
}

async function attenuate(o) {
  const chain = o._[0];
  const last = chain.split('~').pop();
  const claims = {
    prev: createHash('sha256').update(last).digest('base64url'),
  };
  if (o.allowed.length) claims.allowed = o.allowed;
  if (o.methods.length) claims.methods = o.methods;

  if (o.next_key) {
    claims.cnf = { jwk: await publicJwk(o.next_key) };
  } else if (o.new_key) {
    const { publicKey, privateKey } =
      await jose.generateKeyPair('ES256', { extractable: true });
    writeFileSync(o.new_key, await jose.exportPKCS8(privateKey), { mode: 0o600 });
    claims.cnf = { jwk: await jose.exportJWK(publicKey) };
  }

  const jwt = new jose.SignJWT(claims)
    .setProtectedHeader({ alg: o.alg, typ: 'mt-link+jwt' });
  if (o.ttl) jwt.setExpirationTime(`${Number(o.ttl)}s`);

  const key = await jose.importPKCS8(pem(o.key), o.alg);
  return `${chain}~${await jwt.sign(key)}`;
}

const [cmd, ...rest] = process.argv.slice(2);
const o = parse(rest);
const out = cmd === 'root' ? await root(o) : await attenuate(o);
process.stdout.write(out + '\n');
