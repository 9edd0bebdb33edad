import type { ReceiverEvent, ReceiverSettings } from './receiver-options.ts';
import { sameIssuer } from './subject-matching.ts';
import { upstreamUrl } from './receiver-options.ts';

/** The CAEP event type URIs (OpenID CAEP 1.0 section 3). */
export const eventTypes: Readonly<Record<ReceiverEvent, string>> = {
  'session-revoked': 'https://schemas.openid.net/secevent/caep/event-type/session-revoked',
  'credential-change': 'https://schemas.openid.net/secevent/caep/event-type/credential-change',
};

/** Delivery method URIs (SSF 1.0 section 6.1.1). */
export const pushMethod = 'urn:ietf:rfc:8935';
export const pollMethod = 'urn:ietf:rfc:8936';

/** The parts of a transmitter's metadata this receiver uses (SSF 1.0 section 7.1). */
export interface TransmitterMetadata {
  readonly jwksUri: URL | null;
  readonly configurationEndpoint: URL | null;
}

/** How long one request to a transmitter may take (metadata, stream creation). */
const requestTimeoutMs = 10_000;
/** Largest metadata or stream document read. */
const maxDocument = 64 * 1024;

/**
 * Where a transmitter's metadata is (SSF 1.0 section 7.2): `/.well-known/ssf-configuration`
 * inserted between the issuer's host and its path (`https://t.example/tenant` →
 * `https://t.example/.well-known/ssf-configuration/tenant`).
 */
export function metadataUrl(issuer: string): URL {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  return new URL(`${url.origin}/.well-known/ssf-configuration${path}`);
}

/** A JSON object from `response`, or an Error naming `what`. */
async function jsonObject(response: Response, what: string): Promise<Record<string, unknown>> {
  const text = await response.text();
  if (text.length > maxDocument) throw new Error(`${what}: the answer is too large`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${what}: the answer is not JSON`);
  }
  if (typeof value !== 'object' || value === null) throw new Error(`${what}: the answer is not a JSON object`);
  return value as Record<string, unknown>;
}

/** Reads the transmitter's metadata; checks that it names the configured issuer. Throws an Error (never with a secret) when it cannot. */
export async function fetchMetadata(receiver: ReceiverSettings, fetchFn: typeof fetch): Promise<TransmitterMetadata> {
  const where = `receiver ${receiver.id}: ${metadataUrl(receiver.issuer).href}`;
  const response = await fetchFn(metadataUrl(receiver.issuer), { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(requestTimeoutMs) });
  if (response.status !== 200) throw new Error(`${where} answered ${response.status}`);
  const metadata = await jsonObject(response, where);
  if (typeof metadata.issuer !== 'string' || !sameIssuer(metadata.issuer, receiver.issuer)) throw new Error(`${where}: its issuer is not ${receiver.issuer}`);
  const url = (key: string) => (metadata[key] === undefined ? null : upstreamUrl(metadata[key], `${where} ${key}`));
  return { jwksUri: url('jwks_uri'), configurationEndpoint: url('configuration_endpoint') };
}

/** The stream's id and poll endpoint from a stream configuration (SSF 1.0 section 8.1.1). */
function streamOf(config: Record<string, unknown>): { streamId: string | null; endpointUrl: string | null } {
  const delivery = typeof config.delivery === 'object' && config.delivery !== null ? (config.delivery as Record<string, unknown>) : {};
  return {
    streamId: typeof config.stream_id === 'string' ? config.stream_id : null,
    endpointUrl: typeof delivery.endpoint_url === 'string' ? delivery.endpoint_url : null,
  };
}

/**
 * Registers a stream at the transmitter's `configuration_endpoint` (SSF 1.0 section 8.1.1.1):
 * push to our endpoint with our bearer secret, or poll (the transmitter names the endpoint),
 * for the events the receiver acts on. A 409 (a stream exists for us already) reads that stream.
 */
export async function createStream(receiver: ReceiverSettings, endpoint: URL, fetchFn: typeof fetch): Promise<{ streamId: string | null; endpointUrl: string | null }> {
  const create = receiver.createStream!;
  const delivery =
    receiver.delivery.method === 'push'
      ? { method: pushMethod, endpoint_url: create.endpointUrl, authorization_header: `Bearer ${receiver.delivery.secret}` }
      : { method: pollMethod };
  const body = {
    delivery,
    events_requested: [...receiver.events].map((e) => eventTypes[e]),
    ...(create.description !== null && { description: create.description }),
  };
  const headers = { authorization: create.authorization, accept: 'application/json' };
  const where = `receiver ${receiver.id}: stream creation at ${endpoint.href}`;
  const response = await fetchFn(endpoint, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    redirect: 'error',
    signal: AbortSignal.timeout(requestTimeoutMs),
  });
  if (response.status === 200 || response.status === 201) return streamOf(await jsonObject(response, where));
  if (response.status !== 409) throw new Error(`${where} answered ${response.status}`);
  await response.body?.cancel();
  const existing = await fetchFn(endpoint, { headers, redirect: 'error', signal: AbortSignal.timeout(requestTimeoutMs) });
  if (existing.status !== 200) throw new Error(`${where}: a stream exists, and reading it answered ${existing.status}`);
  const found = JSON.parse(await existing.text()) as unknown;
  const config = Array.isArray(found) ? found[0] : found;
  if (typeof config !== 'object' || config === null) throw new Error(`${where}: a stream exists, and it could not be read`);
  return streamOf(config as Record<string, unknown>);
}
