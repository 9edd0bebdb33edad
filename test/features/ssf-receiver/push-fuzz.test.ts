// Property-based checks of the push endpoint: whatever the body (bytes, JWT-shaped text, SETs
// correctly signed by the transmitter with arbitrary claims and subjects), the answer is 202 or an
// RFC 8935 error (400/401 JSON `{err, description}`), never a 5xx, and no session ends unless a
// SET names it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bearer, issuer, testApp, type TestApp, type TokenBody } from '../../helpers.ts';
import { runs } from '../../fuzz/fuzz-helpers.ts';
import { pushSecret } from './receiver-fixture.ts';
import { sessionRevoked, startTransmitter, type TestTransmitter } from './test-transmitter.ts';

let t: TestApp;
let transmitter: TestTransmitter;
let bystander: TokenBody;

before(async () => {
  let clock = () => Date.now();
  transmitter = await startTransmitter(issuer, () => clock());
  t = await testApp({ sharedSignalsReceivers: [{ id: 'fuzz', issuer: transmitter.issuer, delivery: { method: 'push', secret: pushSecret } }] });
  clock = () => t.clock.now();
  bystander = await t.signUp();
});
after(async () => {
  await t?.close();
  await transmitter?.close();
});

async function push(body: string, contentType = 'application/secevent+jwt') {
  return t.app.inject({ method: 'POST', url: '/ssf/receivers/fuzz/events', headers: { authorization: `Bearer ${pushSecret}`, 'content-type': contentType }, payload: body });
}

function checkAnswer(res: Awaited<ReturnType<typeof push>>): void {
  assert.ok(res.statusCode === 202 || res.statusCode === 400 || res.statusCode === 413, `${res.statusCode}: ${res.body.slice(0, 500)}`);
  if (res.statusCode === 400) {
    const body = res.json() as { err?: unknown; description?: unknown };
    assert.match(String(body.err), /^invalid_(request|key|issuer|audience)$/);
    assert.equal(typeof body.description, 'string');
  }
  assert.ok(!/\bat [^\s]+ \(|"stack"/.test(res.body), res.body);
}

const segment = fc.oneof(fc.base64String({ maxLength: 200 }), fc.string({ maxLength: 100 }), fc.constant(''));

test('arbitrary text and JWT-shaped bodies: 400, never a 5xx', async () => {
  await fc.assert(
    fc.asyncProperty(fc.oneof(fc.string({ maxLength: 2000 }), fc.tuple(segment, segment, segment).map((p) => p.join('.'))), async (body) => {
      checkAnswer(await push(body));
    }),
    runs(100),
  );
});

const json = fc.jsonValue({ maxDepth: 3 });
const subject = fc.oneof(
  json,
  fc.record({ format: fc.constantFrom('email', 'iss_sub', 'opaque', 'complex', 'account', 'x'), email: fc.oneof(fc.emailAddress(), json), iss: fc.oneof(fc.constant(issuer), fc.webUrl(), json), sub: json, id: json, user: json, session: json }, { requiredKeys: ['format'] }),
);

test('correctly signed SETs with arbitrary events and subjects: 202 or 400, never a 5xx; a bystander keeps their session', async () => {
  await fc.assert(
    fc.asyncProperty(fc.option(subject, { nil: undefined }), fc.oneof(fc.dictionary(fc.oneof(fc.constant(sessionRevoked), fc.string({ maxLength: 40 })), json, { maxKeys: 3 }), json), async (subId, events) => {
      const { token } = await transmitter.sign({ subId, events: events as Record<string, unknown> });
      checkAnswer(await push(token));
    }),
    runs(100),
  );
  assert.equal((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(bystander.accessToken) })).statusCode, 200);
});
