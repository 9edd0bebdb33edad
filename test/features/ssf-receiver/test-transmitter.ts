// An upstream Shared Signals transmitter for the receiver's tests, written with jose and node:http
// only: it serves its metadata (/.well-known/ssf-configuration), its JWKS, a stream configuration
// endpoint and an RFC 8936 poll endpoint, and signs SETs with its own key.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export const sessionRevoked = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
export const credentialChange = 'https://schemas.openid.net/secevent/caep/event-type/credential-change';

/** What a poll request carried (RFC 8936 section 2.4). */
export interface PollRequest {
  readonly ack: string[];
  readonly setErrs: Record<string, { err: string; description: string }>;
  readonly maxEvents: number | undefined;
  readonly returnImmediately: boolean | undefined;
  readonly authorization: string | undefined;
}

export interface SetOptions {
  readonly subId?: unknown;
  readonly events?: Record<string, unknown>;
  readonly iss?: string;
  readonly aud?: string;
  readonly typ?: string | null;
  readonly jti?: string;
  readonly iat?: number;
  /** Sign with this key instead (a forger's). */
  readonly key?: CryptoKey;
}

export interface TestTransmitter {
  readonly issuer: string;
  readonly pollUrl: string;
  readonly pollAuthorization: string;
  readonly configurationAuthorization: string;
  /** Signs a SET (default: a session-revoked event for `subId`, aud the given audience). */
  sign(options: SetOptions): Promise<{ jti: string; token: string }>;
  /** Queues a SET for the poll endpoint. */
  queue(jti: string, token: string): void;
  /** SETs queued and not yet acknowledged (nor refused). */
  pending(): string[];
  readonly polls: PollRequest[];
  readonly acked: Set<string>;
  readonly refused: Map<string, { err: string; description: string }>;
  /** Streams created at the configuration endpoint (their request bodies). */
  readonly streamsCreated: Record<string, unknown>[];
  /** While true, every request is answered 503 (the transmitter is down). */
  down: boolean;
  /** Requests answered 503 while down. */
  readonly downHits: number;
  close(): Promise<void>;
}

/** Reads a JSON request body. */
async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' }).end(body === undefined ? undefined : JSON.stringify(body));
}

/**
 * Starts a transmitter on a free loopback port; `audience` is what its SETs' `aud` is by default,
 * `now` the clock (ms) of their `iat` (the app's manual clock).
 */
export async function startTransmitter(audience: string, now: () => number = Date.now): Promise<TestTransmitter> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const queued = new Map<string, string>();
  const waiters = new Set<() => void>();
  const state = {
    polls: [] as PollRequest[],
    acked: new Set<string>(),
    refused: new Map<string, { err: string; description: string }>(),
    streamsCreated: [] as Record<string, unknown>[],
    down: false,
    downHits: 0,
  };
  const pollAuthorization = `Bearer poll-${randomUUID()}`;
  const configurationAuthorization = `Bearer config-${randomUUID()}`;
  let base = '';

  const server: Server = createServer((req, res) => {
    void (async () => {
      if (state.down) {
        state.downHits++;
        return send(res, 503, { error: 'down' });
      }
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (req.method === 'GET' && path === '/.well-known/ssf-configuration/tenant') {
        return send(res, 200, {
          spec_version: '1_0',
          issuer: `${base}/tenant`,
          jwks_uri: `${base}/jwks`,
          delivery_methods_supported: ['urn:ietf:rfc:8935', 'urn:ietf:rfc:8936'],
          configuration_endpoint: `${base}/streams`,
        });
      }
      if (req.method === 'GET' && path === '/jwks') return send(res, 200, { keys: [jwk] });
      if (req.method === 'POST' && path === '/streams') {
        if (req.headers.authorization !== configurationAuthorization) return send(res, 401);
        const body = await jsonBody(req);
        state.streamsCreated.push(body);
        const delivery = body.delivery as Record<string, unknown>;
        return send(res, 201, {
          stream_id: `stream-${state.streamsCreated.length}`,
          iss: `${base}/tenant`,
          aud: audience,
          events_delivered: body.events_requested,
          delivery: delivery.method === 'urn:ietf:rfc:8936' ? { method: delivery.method, endpoint_url: `${base}/poll` } : delivery,
        });
      }
      if (req.method === 'POST' && path === '/poll') {
        if (req.headers.authorization !== pollAuthorization) return send(res, 401);
        const body = await jsonBody(req);
        const request: PollRequest = {
          ack: (body.ack as string[] | undefined) ?? [],
          setErrs: (body.setErrs as PollRequest['setErrs'] | undefined) ?? {},
          maxEvents: body.maxEvents as number | undefined,
          returnImmediately: body.returnImmediately as boolean | undefined,
          authorization: req.headers.authorization,
        };
        state.polls.push(request);
        for (const jti of request.ack) {
          state.acked.add(jti);
          queued.delete(jti);
        }
        for (const [jti, error] of Object.entries(request.setErrs)) {
          state.refused.set(jti, error);
          queued.delete(jti);
        }
        // Long polling: hold the request until a SET is queued, for at most 500 ms.
        if (queued.size === 0 && request.returnImmediately !== true && request.maxEvents !== 0) {
          await new Promise<void>((resolve) => {
            const done = () => {
              waiters.delete(done);
              clearTimeout(timer);
              resolve();
            };
            const timer = setTimeout(done, 500);
            waiters.add(done);
          });
        }
        const sets = Object.fromEntries([...queued].slice(0, request.maxEvents ?? 10));
        return send(res, 200, { sets, moreAvailable: queued.size > Object.keys(sets).length });
      }
      send(res, 404);
    })().catch((err: unknown) => res.destroy(err as Error));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = `${base}/tenant`;

  return {
    issuer,
    pollUrl: `${base}/poll`,
    pollAuthorization,
    configurationAuthorization,
    async sign(o) {
      const jti = o.jti ?? randomUUID();
      const payload: Record<string, unknown> = { events: o.events ?? { [sessionRevoked]: { event_timestamp: Math.floor(now() / 1000) } } };
      if (o.subId !== undefined) payload.sub_id = o.subId;
      const jwt = new SignJWT(payload)
        .setProtectedHeader({ alg: 'ES256', kid: 'k1', ...(o.typ !== null && { typ: o.typ ?? 'secevent+jwt' }) })
        .setIssuer(o.iss ?? issuer)
        .setAudience(o.aud ?? audience)
        .setJti(jti)
        .setIssuedAt(o.iat ?? Math.floor(now() / 1000));
      return { jti, token: await jwt.sign(o.key ?? privateKey) };
    },
    queue(jti, token) {
      queued.set(jti, token);
      for (const wake of waiters) wake();
    },
    pending: () => [...queued.keys()],
    get polls() {
      return state.polls;
    },
    acked: state.acked,
    refused: state.refused,
    streamsCreated: state.streamsCreated,
    get down() {
      return state.down;
    },
    set down(value: boolean) {
      state.down = value;
    },
    get downHits() {
      return state.downHits;
    },
    async close() {
      for (const wake of waiters) wake();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Waits until `condition` holds, asking every 20 ms, for at most `timeoutMs` (generous: busy machines). */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
