// The Node and fetch adapters by their package subpaths, from the compiled dist/ (after
// `npm run build`): what `import … from 'tokenstile/node'` and `'tokenstile/fetch'` load.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('tokenstile/node and tokenstile/fetch resolve to the built adapters, with type declarations', async () => {
  const node = await import('tokenstile/node');
  assert.equal(typeof node.createNodeHandler, 'function');
  assert.equal(typeof node.callerOf, 'function', "the Express guard's typed accessor");
  assert.match(import.meta.resolve('tokenstile/node'), /\/dist\/http\/node\.js$/);
  assert.ok(existsSync(`${root}dist/http/node.d.ts`));
  const fetchAdapter = await import('tokenstile/fetch');
  assert.equal(typeof fetchAdapter.createFetchHandler, 'function');
  assert.equal(typeof fetchAdapter.withAuth, 'function', 'the Next.js route-handler wrapper');
  assert.match(import.meta.resolve('tokenstile/fetch'), /\/dist\/http\/fetch\.js$/);
  assert.ok(existsSync(`${root}dist/http/fetch.d.ts`));
  // A built handler answers like the sources do.
  const handler = await fetchAdapter.createFetchHandler({ issuer: 'http://127.0.0.1:3000', databaseUrl: 'sqlite::memory:' });
  try {
    const res = await handler(new Request('http://127.0.0.1:3000/healthz'));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  } finally {
    await handler.close();
  }
});
