// Receivers written against the specs with node:http, fetch and jose only (not with Tokenstile's
// SDK): a push receiver (RFC 8935) and a poll receiver (RFC 8936), both verifying each SET
// (RFC 8417, SSF 1.0 profile) with the transmitter's JWKS.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

export const caep = 'https://schemas.openid.net/secevent/caep/event-type/';
export const ssfEvent = 'https://schemas.openid.net/secevent/ssf/event-type/';

/** A verified SET: its claims, and its one event (type and body). */
export interface ReceivedSet {
  readonly claims: JWTPayload & { sub_id: Record<string, any>; events: Record<string, any>; txn?: string };
  readonly type: string;
  readonly event: Record<string, any>;
  /** The signing key's id (JWS header). */
  readonly kid: string;
}

/**
 * Verifies a SET as a receiver must: signature with the transmitter's JWKS (ES256 pinned),
 * `typ: secevent+jwt`, `iss`, `aud`, a `jti` and `iat`, no `exp` needed, exactly one event, and
 * the event's schema (CAEP / SSF members).
 */
export async function verifySet(token: string, jwks: ReturnType<typeof createRemoteJWKSet>, issuer: string, audience: string): Promise<ReceivedSet> {
  const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer, audience, typ: 'secevent+jwt', algorithms: ['ES256'] });
  assert.equal(protectedHeader.typ, 'secevent+jwt');
  assert.equal(typeof protectedHeader.kid, 'string');
  assert.equal(typeof payload.jti, 'string');
  assert.equal(typeof payload.iat, 'number');
  assert.equal('sub' in payload, false, 'SSF puts the subject in sub_id');
  const claims = payload as ReceivedSet['claims'];
  assert.equal(typeof claims.sub_id?.format, 'string');
  const types = Object.keys(claims.events ?? {});
  assert.equal(types.length, 1);
  const type = types[0]!;
  const event = claims.events[type] as Record<string, any>;
  checkEvent(type, event, claims.sub_id);
  return { claims, type, event, kid: protectedHeader.kid! };
}

function checkEvent(type: string, event: Record<string, any>, subId: Record<string, any>): void {
  if (type === `${caep}session-revoked`) {
    assert.equal(Number.isInteger(event.event_timestamp), true);
    assert.ok(['admin', 'user', 'policy', 'system'].includes(event.initiating_entity));
    assert.equal(typeof event.reason_admin?.en, 'string');
    assert.equal(subId.format, 'complex');
    assert.equal(subId.session.format, 'opaque');
    assert.ok(['iss_sub', 'email'].includes(subId.user.format));
  } else if (type === `${caep}credential-change`) {
    assert.equal(Number.isInteger(event.event_timestamp), true);
    assert.ok(['password', 'pin', 'x509', 'fido2-platform', 'fido2-roaming', 'fido-u2f', 'verifiable-credential', 'phone-voice', 'phone-sms', 'app'].includes(event.credential_type));
    assert.ok(['create', 'revoke', 'update', 'delete'].includes(event.change_type));
    assert.equal(subId.format, 'complex');
  } else if (type === `${ssfEvent}verification` || type === `${ssfEvent}stream-updated`) {
    assert.equal(subId.format, 'opaque');
  } else {
    assert.fail(`unexpected event type ${type}`);
  }
}

/** A push receiver: answers 202 to each valid SET (or what `answer` says), keeps what it accepted. */
export class PushReceiver {
  readonly received: ReceivedSet[] = [];
  /** Raw SETs posted, accepted or not. */
  readonly posted: string[] = [];
  readonly #server: Server;
  #jwks: ReturnType<typeof createRemoteJWKSet> | null = null;
  #issuer = '';
  #audience = '';
  /** Status to answer the next requests with instead of 202 (consumed one per request). */
  readonly failures: number[] = [];
  /** The `Authorization` header each post carried. */
  readonly authorizations: Array<string | undefined> = [];
  /** How long it takes to answer each post (a slow receiver). */
  delayMs = 0;
  #waiters: Array<() => void> = [];
  url = '';

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void this.#handle(req.method, req.headers['content-type'], req.headers.authorization, Buffer.concat(chunks).toString('utf8')).then(([status, body]) => {
          res.writeHead(status, body === null ? {} : { 'content-type': 'application/json' });
          res.end(body === null ? undefined : JSON.stringify(body));
          for (const w of this.#waiters.splice(0)) w();
        });
      });
    });
  }

  /** Listens on loopback (`port`, or a free one) and verifies with `transmitterUrl`'s JWKS. */
  async start(transmitterUrl: string, issuer: string, audience: string, port = 0): Promise<this> {
    // A kid it does not know sends it to the JWKS again at once (jose waits 30 s by default).
    this.#jwks = createRemoteJWKSet(new URL(`${transmitterUrl}/.well-known/jwks.json`), { cooldownDuration: 0 });
    this.#issuer = issuer;
    this.#audience = audience;
    await new Promise<void>((resolve) => this.#server.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/events`;
    return this;
  }

  async #handle(method: string | undefined, type: string | undefined, authorization: string | undefined, body: string): Promise<[number, object | null]> {
    this.posted.push(body);
    this.authorizations.push(authorization);
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (method !== 'POST') return [405, null];
    if (type !== 'application/secevent+jwt') return [400, { err: 'invalid_request', description: 'media type' }];
    const fail = this.failures.shift();
    if (fail !== undefined) return [fail, fail === 400 ? { err: 'invalid_key', description: 'test' } : null];
    try {
      this.received.push(await verifySet(body, this.#jwks!, this.#issuer, this.#audience));
      return [202, null];
    } catch (err) {
      return [400, { err: 'invalid_request', description: (err as Error).message }];
    }
  }

  /** Waits until `check` holds over what was received (bounded; woken by each post). */
  async until(check: (received: readonly ReceivedSet[]) => boolean, timeoutMs = 20_000, what = 'SETs'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this.received)) {
      if (Date.now() > deadline) assert.fail(`${what} not received within ${timeoutMs} ms; got ${this.received.map((r) => r.type).join(', ')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

/** A poll receiver (RFC 8936) over fetch, authenticating with HTTP Basic client credentials. */
export class PollReceiver {
  readonly #jwks: ReturnType<typeof createRemoteJWKSet>;
  readonly #auth: string;
  readonly endpoint: string;
  readonly issuer: string;
  readonly audience: string;

  constructor(transmitterUrl: string, endpoint: string, issuer: string, audience: string, client: { id: string; secret: string }) {
    this.endpoint = endpoint;
    this.issuer = issuer;
    this.audience = audience;
    this.#jwks = createRemoteJWKSet(new URL(`${transmitterUrl}/.well-known/jwks.json`));
    this.#auth = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
  }

  /** One poll: answers the verified SETs by jti and `moreAvailable`. */
  async poll(body: { ack?: string[]; setErrs?: Record<string, { err: string; description: string }>; maxEvents?: number; returnImmediately?: boolean } = {}) {
    const res = await fetch(this.endpoint, { method: 'POST', headers: { authorization: this.#auth, 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) });
    assert.equal(res.status, 200, await res.clone().text());
    const answer = (await res.json()) as { sets: Record<string, string>; moreAvailable?: boolean };
    const sets = new Map<string, ReceivedSet>();
    for (const [jti, token] of Object.entries(answer.sets)) {
      const set = await verifySet(token, this.#jwks, this.issuer, this.audience);
      assert.equal(set.claims.jti, jti);
      sets.set(jti, set);
    }
    return { sets, moreAvailable: answer.moreAvailable === true };
  }

  /** Polls (acknowledging what it got) until `check` holds over everything received; answers it all. */
  async collect(check: (received: readonly ReceivedSet[]) => boolean, timeoutMs = 20_000): Promise<ReceivedSet[]> {
    const all: ReceivedSet[] = [];
    let ack: string[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { sets } = await this.poll({ ack, returnImmediately: false });
      all.push(...sets.values());
      ack = [...sets.keys()];
      if (check(all)) {
        if (ack.length > 0) await this.poll({ ack, maxEvents: 0 });
        return all;
      }
      if (Date.now() > deadline) assert.fail(`not received within ${timeoutMs} ms; got ${all.map((r) => r.type).join(', ')}`);
    }
  }
}
