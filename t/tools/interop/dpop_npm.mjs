// dpop_npm.mjs - DPoP proofs made by npm "dpop" (panva), for t/046-dpop.t
// (TEST TOOL, not product code).
//
//   node dpop_npm.mjs keygen ES256|PS256|RS256 FILE
//       a new key pair, its private JWK written to FILE; prints the
//       RFC 7638 thumbprint (the package's calculateThumbprint)
//   node dpop_npm.mjs proof FILE HTU HTM [TOKEN]
//       a proof by FILE's key, generateProof(keypair, htu, htm,
//       undefined, TOKEN)
import { readFileSync, writeFileSync } from 'node:fs';
import { webcrypto as crypto } from 'node:crypto';
import * as DPoP from 'dpop';

const params = {
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  PS256: { name: 'RSA-PSS', hash: 'SHA-256' },
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
};

const [cmd, ...args] = process.argv.slice(2);

if (cmd === 'keygen') {
  const [alg, file] = args;
  const kp = await DPoP.generateKeyPair(alg, { extractable: true });
  const jwk = await crypto.subtle.exportKey('jwk', kp.privateKey);
  writeFileSync(file, JSON.stringify({ alg, jwk }), { mode: 0o600 });
  console.log(await DPoP.calculateThumbprint(kp.publicKey));
} else if (cmd === 'proof') {
  const [file, htu, htm, token] = args;
  const { alg, jwk } = JSON.parse(readFileSync(file, 'utf8'));
  const pub = { ...jwk };
  for (const k of ['d', 'p', 'q', 'dp', 'dq', 'qi']) delete pub[k];
  pub.key_ops = ['verify'];
  const privateKey = await crypto.subtle.importKey('jwk', jwk, params[alg],
                                                   false, ['sign']);
  const publicKey = await crypto.subtle.importKey('jwk', pub, params[alg],
                                                  true, ['verify']);
  console.log(await DPoP.generateProof({ privateKey, publicKey }, htu, htm,
                                       undefined, token));
} else {
  console.error('usage: dpop_npm.mjs keygen ALG FILE | proof FILE HTU HTM [TOKEN]');
  process.exit(2);
}
