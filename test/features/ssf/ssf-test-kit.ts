// The app and requests of the shared-signals suites.
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { testApp, type TestApp } from '../../helpers.ts';
import { caep, type ReceivedSet } from './ssf-receivers.ts';

export const receiver = { id: 'risk-engine', secret: 'risk-engine-secret-0123456789' };
export const otherReceiver = { id: 'billing-api', secret: 'billing-api-secret-0123456789' };
export const limitedReceiver = { id: 'limits-api', secret: 'limits-api-secret-0123456789' };
export const clients = [receiver, otherReceiver, limitedReceiver].map((c) => `${c.id}:${c.secret}`).join(',');

export interface SsfApp extends TestApp {
  readonly url: string;
}

/** An app with the transmitter on (quick retries and outbox polls), listening on loopback. */
export async function ssfApp(sharedSignals: Record<string, unknown> = {}, options: Record<string, unknown> = {}): Promise<SsfApp> {
  const t = await testApp({ clients, sharedSignals: { enabled: true, retryDelay: '50ms', outboxPollInterval: '50ms', longPollTimeout: '10s', ...sharedSignals }, ...options });
  const url = await t.app.listen({ host: '127.0.0.1', port: 0 });
  return Object.assign(t, { url });
}

export const basic = (c: { id: string; secret: string }) => `Basic ${Buffer.from(`${c.id}:${c.secret}`).toString('base64')}`;

/** A request of a receiver to the transmitter's management API. */
export function call(t: TestApp, method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, payload?: unknown, as = receiver): Promise<LightMyRequestResponse> {
  return t.app.inject({ method, url, headers: { authorization: basic(as) }, ...(payload !== undefined && { payload: payload as object }) });
}

/** Creates a stream; answers its configuration. */
export async function createStream(t: TestApp, config: Record<string, unknown>, as = receiver): Promise<Record<string, any>> {
  const res = await call(t, 'POST', '/ssf/streams', config, as);
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

/** The session-revoked SETs about a session. */
export function revokedSessions(received: readonly ReceivedSet[], sessionId: string): ReceivedSet[] {
  return received.filter((r) => r.type === `${caep}session-revoked` && r.claims.sub_id.session?.id === sessionId);
}

/** The credential-change SETs about a user. */
export function credentialChanges(received: readonly ReceivedSet[], userId: string): ReceivedSet[] {
  return received.filter((r) => r.type === `${caep}credential-change` && r.claims.sub_id.user?.sub === userId);
}
