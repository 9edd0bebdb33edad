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

test('the client has no dependency but @simplewebauthn/browser, for its passkey helpers: its compiled modules import only each other', () => {
  const files = readdirSync(`${root}dist/client`).filter((file) => file.endsWith('.js'));
  assert.ok(files.includes('index.js') && files.includes('client.js') && files.includes('passkeys.js'), files.join(', '));
  for (const file of files) {
    const source = readFileSync(`${root}dist/client/${file}`, 'utf8');
    const imports = [...source.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]);
    assert.ok(!/\bimport\(|\brequire\(/.test(source), `${file} loads a module dynamically`);
    for (const spec of imports) assert.match(spec!, file === 'passkeys.js' ? /^(\.\/[a-z-]+\.js|@simplewebauthn\/browser)$/ : /^\.\/[a-z-]+\.js$/, `${file} imports ${spec}`);
  }
});

test('the built account page is small', () => {
  let total = 0;
  for (const file of ['account.html', 'account.js', 'account.css']) total += readFileSync(`${root}dist/web/${file}`).length;
  // 40 KiB until the page gained passkeys: @simplewebauthn/browser alone is 8.5 KB minified. 48 KiB
  // until it gained the recovery forms (reset, verification banner, change of email): about 6 KB.
  assert.ok(total < 54 * 1024, `the account page is ${total} bytes`);
});
