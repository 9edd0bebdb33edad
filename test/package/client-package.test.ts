// `tokenstile/client` as a user's bundler or Node would load it: through package.json "exports",
// from the compiled dist/ (after `npm run build`), with its type declarations.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('tokenstile/client resolves to dist with types, and exports the client', async () => {
  assert.match(import.meta.resolve('tokenstile/client'), /\/dist\/client\/index\.js$/);
  assert.ok(existsSync(`${root}dist/client/index.d.ts`));
  const client = await import('tokenstile/client');
  assert.equal(typeof client.createClient, 'function');
  assert.equal(typeof client.TokenstileClient, 'function');
  assert.equal(typeof client.TokenstileProblem, 'function');
});

/** The one package each client module may import besides the client's own modules. */
const allowedPackage: Record<string, RegExp> = { 'passkeys.js': /^@simplewebauthn\/browser$/, 'dpop-jose.js': /^jose$/ };

test('the client has no dependency but @simplewebauthn/browser, for its passkey helpers, and jose, for DPoP: its compiled modules import only each other', () => {
  const files = readdirSync(`${root}dist/client`).filter((file) => file.endsWith('.js'));
  assert.ok(files.includes('index.js') && files.includes('client.js') && files.includes('passkeys.js') && files.includes('dpop-jose.js'), files.join(', '));
  for (const file of files) {
    const source = readFileSync(`${root}dist/client/${file}`, 'utf8');
    const imports = [...source.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]);
    // jose is loaded on first use of DPoP only, so that a client without DPoP can leave it out of its bundle.
    const dynamic = [...source.matchAll(/\bimport\(\s*['"]([^'"]*)['"]\s*\)/g)].map((m) => m[1]);
    assert.deepEqual(dynamic, file === 'dpop.js' ? ['./dpop-jose.js'] : [], `${file} loads modules dynamically: ${dynamic.join(', ')}`);
    assert.ok(!/\brequire\(/.test(source), `${file} requires a module`);
    for (const spec of imports) assert.ok(/^\.\/[a-z-]+\.js$/.test(spec!) || allowedPackage[file]?.test(spec!), `${file} imports ${spec}`);
  }
});

test('the built account page is small', () => {
  let total = 0;
  for (const file of ['account.html', 'account.js', 'account.css']) total += readFileSync(`${root}dist/web/${file}`).length;
  // 40 KiB until the page gained passkeys: @simplewebauthn/browser alone is 8.5 KB minified. 48 KiB
  // until it gained the recovery forms (reset, verification banner, change of email): about 6 KB.
  // 54 KiB until it gained DPoP: jose's SignJWT, exportJWK and thumbprint are 14 KB minified, the
  // client's prover and IndexedDB key store about 5 KB.
  assert.ok(total < 74 * 1024, `the account page is ${total} bytes`);
});
