// Cost of tokenstile/verify's check in a resource server: the same token verified repeatedly
// (the verified-token cache hit, as for a client's requests) and distinct tokens (signature each
// time). Run: node bench/verify-sdk.ts
import { createVerifier } from '../src/verify/index.ts';
import { testApp } from '../test/helpers.ts';

const t = await testApp({ clients: 'bench:bench-secret-0123456789' });
const url = await t.app.listen({ host: '127.0.0.1', port: 0 });
const verifier = createVerifier({
  issuer: 'http://127.0.0.1:3000',
  audience: 'tokenstile',
  algorithms: ['ES256'],
  jwksUrl: `${url}/.well-known/jwks.json`,
  revocations: { clientId: 'bench', clientSecret: 'bench-secret-0123456789', url: `${url}/revocations/stream` },
});
await verifier.ready();
const tokens: string[] = [];
for (let i = 0; i < 200; i++) tokens.push((await t.signUp()).accessToken);
for (const [label, pick, n] of [
  ['same token (cache hit)', () => tokens[0]!, 200_000],
  ['200 tokens in turn (cache hits after the first round)', (i: number) => tokens[i % 200]!, 200_000],
] as const) {
  const started = performance.now();
  for (let i = 0; i < n; i++) await verifier.verify(pick(i));
  const ms = performance.now() - started;
  console.log(`${label}: ${((ms * 1000) / n).toFixed(2)} µs per verify (${n} calls)`);
}
verifier.close();
await t.close();
