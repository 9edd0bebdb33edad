// Matching subject identifiers (RFC 9493, SSF complex subjects) to Tokenstile users and sessions,
// over a small in-memory directory of users and of the social feature's provider sessions.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { subjectFormats, type SubjectFormat } from '../../../src/features/ssf-receiver/receiver-options.ts';
import { matchSubject, type MatchDeps } from '../../../src/features/ssf-receiver/subject-matching.ts';
import { eventSubject } from '../../../src/features/ssf-receiver/subjects.ts';

const ours = 'https://auth.example.com';
const upstream = 'https://ssf.upstream.example/tenant';
const provider = 'https://login.provider.example';

const deps: MatchDeps = {
  ourIssuer: ours,
  userIdByEmail: async (email) => ({ 'ann@example.com': 'u-ann' })[email.toLowerCase()] ?? null,
  userExists: async (id) => id === 'u-ann' || id === 'u-bob',
  providers: {
    providerByIssuer: (issuer) => (issuer.replace(/\/$/, '') === provider ? 'acme' : null),
    linkedUser: async (p, subject) => (p === 'acme' && subject === 'acme-bob' ? 'u-bob' : null),
    async providerSessions(p, { sid, subject }) {
      if (p !== 'acme' || sid !== 'sid-1') return [];
      return subject === null || subject === 'acme-bob' ? ['s-bob-1', 's-bob-2'] : [];
    },
  },
};

const all = new Set<SubjectFormat>(subjectFormats);
const match = (subId: unknown, options: { upstreamIssuer?: string; formats?: ReadonlySet<SubjectFormat>; wholeUser?: boolean } = {}) =>
  matchSubject(eventSubject(subId, {})!, { upstreamIssuer: options.upstreamIssuer ?? upstream, formats: options.formats ?? all, wholeUser: options.wholeUser ?? false }, deps);

describe('subject identifiers to users and sessions', () => {
  test('email: the user with that address', async () => {
    assert.deepEqual(await match({ format: 'email', email: 'Ann@Example.com' }), [{ userId: 'u-ann' }]);
    assert.deepEqual(await match({ format: 'email', email: 'nobody@example.com' }), []);
  });

  test('iss_sub: our user id with our issuer (trailing slash forgiven), the linked user with a provider\'s, nothing otherwise', async () => {
    assert.deepEqual(await match({ format: 'iss_sub', iss: `${ours}/`, sub: 'u-bob' }), [{ userId: 'u-bob' }]);
    assert.deepEqual(await match({ format: 'iss_sub', iss: ours, sub: 'u-nobody' }), []);
    assert.deepEqual(await match({ format: 'iss_sub', iss: provider, sub: 'acme-bob' }), [{ userId: 'u-bob' }]);
    assert.deepEqual(await match({ format: 'iss_sub', iss: provider, sub: 'acme-unknown' }), []);
    assert.deepEqual(await match({ format: 'iss_sub', iss: 'https://elsewhere.example', sub: 'u-bob' }), []);
  });

  test('opaque: a session of the SET\'s issuer: ours, or a provider session', async () => {
    assert.deepEqual(await match({ format: 'opaque', id: 's-1' }, { upstreamIssuer: ours }), [{ sessionId: 's-1' }]);
    assert.deepEqual(await match({ format: 'opaque', id: 'sid-1' }, { upstreamIssuer: provider }), [{ sessionId: 's-bob-1' }, { sessionId: 's-bob-2' }]);
    assert.deepEqual(await match({ format: 'opaque', id: 'sid-1' }), []);
  });

  test('complex with a session: in the namespace of its user\'s issuer, only that user\'s', async () => {
    assert.deepEqual(await match({ format: 'complex', user: { format: 'iss_sub', iss: ours, sub: 'u-ann' }, session: { format: 'opaque', id: 's-9' } }), [{ sessionId: 's-9', userId: 'u-ann' }]);
    assert.deepEqual(await match({ format: 'complex', user: { format: 'iss_sub', iss: provider, sub: 'acme-bob' }, session: { format: 'opaque', id: 'sid-1' } }), [{ sessionId: 's-bob-1' }, { sessionId: 's-bob-2' }]);
    assert.deepEqual(await match({ format: 'complex', user: { format: 'iss_sub', iss: provider, sub: 'acme-eve' }, session: { format: 'opaque', id: 'sid-1' } }), []);
    // A provider session named with the user's email: bound to that user.
    assert.deepEqual(await match({ format: 'complex', user: { format: 'email', email: 'ann@example.com' }, session: { format: 'opaque', id: 'sid-1' } }, { upstreamIssuer: provider }), [
      { sessionId: 's-bob-1', userId: 'u-ann' },
      { sessionId: 's-bob-2', userId: 'u-ann' },
    ]);
  });

  test('complex without a session, or for a whole-user event (credential change): every session of its user', async () => {
    assert.deepEqual(await match({ format: 'complex', user: { format: 'email', email: 'ann@example.com' } }), [{ userId: 'u-ann' }]);
    assert.deepEqual(await match({ format: 'complex', user: { format: 'iss_sub', iss: ours, sub: 'u-ann' }, session: { format: 'opaque', id: 's-9' } }, { wholeUser: true }), [{ userId: 'u-ann' }]);
    assert.deepEqual(await match({ format: 'opaque', id: 's-1' }, { upstreamIssuer: ours, wholeUser: true }), []);
  });

  test('formats not enabled match nothing, inside complex subjects too', async () => {
    const issSubOnly = new Set<SubjectFormat>(['iss_sub', 'complex']);
    assert.deepEqual(await match({ format: 'email', email: 'ann@example.com' }, { formats: issSubOnly }), []);
    assert.deepEqual(await match({ format: 'complex', user: { format: 'email', email: 'ann@example.com' } }, { formats: issSubOnly }), []);
    assert.deepEqual(await match({ format: 'complex', user: { format: 'iss_sub', iss: ours, sub: 'u-ann' } }, { formats: new Set(['iss_sub']) }), []);
    assert.deepEqual(await match({ format: 'opaque', id: 's-1' }, { upstreamIssuer: ours, formats: issSubOnly }), []);
  });

  test('without the social feature, provider identities match nothing', async () => {
    const r = await matchSubject(eventSubject({ format: 'iss_sub', iss: provider, sub: 'acme-bob' }, {})!, { upstreamIssuer: upstream, formats: all, wholeUser: false }, { ...deps, providers: null });
    assert.deepEqual(r, []);
  });
});

describe('parsing subject identifiers', () => {
  test('sub_id first, else the event\'s subject; malformed ones are null; unknown formats are "other"', () => {
    assert.deepEqual(eventSubject({ format: 'email', email: 'a@b.c' }, { subject: { format: 'opaque', id: 'x' } }), { format: 'email', email: 'a@b.c' });
    assert.deepEqual(eventSubject(undefined, { subject: { format: 'opaque', id: 'x' } }), { format: 'opaque', id: 'x' });
    assert.equal(eventSubject(undefined, {}), null);
    assert.equal(eventSubject({ format: 'email', email: 42 }, {}), null);
    assert.equal(eventSubject({ format: 'iss_sub', iss: 'x' }, {}), null);
    assert.equal(eventSubject({ format: 'complex', user: { format: 'email' } }, {}), null);
    assert.equal(eventSubject({ format: 'complex', user: { format: 'complex' } }, {}), null);
    assert.equal(eventSubject({ email: 'a@b.c' }, {}), null);
    assert.deepEqual(eventSubject({ format: 'phone_number', phone_number: '+1' }, {}), { format: 'other' });
  });
});
