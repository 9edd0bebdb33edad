// Two Tokenstile instances on one database (any backend, any adapter: see test/helpers.ts) with
// the Shared Signals receiver configured, beside a jose-written transmitter.
import { appBackend, appMode, bearer, issuer, tempDir, testApp, testBackend, type TestApp, type TokenBody } from '../../helpers.ts';
import { startTransmitter, type TestTransmitter } from './test-transmitter.ts';

/** True when a revocation made on one instance is refused by the other before `revoke` resolves (a Redis feed, or strict mode). */
export const crossInstanceAtOnce = appBackend === 'postgres+redis' || appMode === 'strict';

export const pushSecret = 'push-secret-0123456789-abcdefghijklmnop';

export interface ReceiverFixture {
  readonly a: TestApp;
  readonly b: TestApp;
  readonly transmitter: TestTransmitter;
  close(): Promise<void>;
}

/**
 * Starts the transmitter, then two instances sharing one database whose receivers are what
 * `receivers` makes of the transmitter (instance `a` gets them; `b` too unless `onlyA`).
 */
export async function receiverFixture(receivers: (t: TestTransmitter) => object[], options: { onlyA?: boolean } = {}): Promise<ReceiverFixture> {
  const dir = tempDir();
  const shared = testBackend(`sqlite:${dir.path}/t.db`);
  // The SETs' iat follows instance a's (manual) clock.
  let clock = (): number => Date.now();
  const transmitter = await startTransmitter(issuer, () => clock());
  const cleanups: (() => Promise<void>)[] = [async () => transmitter.close(), async () => shared.cleanup(), async () => dir.cleanup()];
  try {
    const a = await testApp({ ...shared.options, sharedSignalsReceivers: receivers(transmitter) });
    cleanups.unshift(() => a.close());
    clock = () => a.clock.now();
    const b = await testApp({ ...shared.options, ...(options.onlyA !== true && { sharedSignalsReceivers: receivers(transmitter) }) });
    cleanups.unshift(() => b.close());
    b.clock.set(a.clock.now());
    return {
      a,
      b,
      transmitter,
      async close() {
        for (const c of cleanups) await c().catch(() => {});
      },
    };
  } catch (err) {
    for (const c of cleanups) await c().catch(() => {});
    throw err;
  }
}

/** The status of `GET /auth/me` with this access token on instance `t`. */
export async function meStatus(t: TestApp, s: TokenBody): Promise<number> {
  return (await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(s.accessToken) })).statusCode;
}

/** Signs in again as the user of `s` (a second session). */
export async function signInAgain(t: TestApp, s: TokenBody, password: string): Promise<TokenBody> {
  const res = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: s.user.email, password } });
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
  return res.json() as TokenBody;
}
