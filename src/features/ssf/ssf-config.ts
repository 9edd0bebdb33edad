import { isIP } from 'node:net';
import { eventsSupported } from './ssf-events.ts';
import type { SsfSettings } from './ssf-options.ts';
import { pollMethod, pushMethod, type ReceiverConfig, type StreamRecord } from './ssf-store.ts';

/** What a receiver sent for a stream's configuration (validated by the route schemas). */
export interface ConfigInput {
  readonly aud?: string | readonly string[];
  readonly events_requested?: readonly string[];
  readonly delivery?: { readonly method: string; readonly endpoint_url?: string; readonly authorization_header?: string };
  readonly description?: string;
  readonly user_subject_format?: 'iss_sub' | 'email';
}

/** A configuration refused: the field, and why. */
export interface ConfigProblem {
  readonly field: string;
  readonly detail: string;
}

/** What a stream receives unless it asks otherwise: the CAEP events. */
const defaultEvents = eventsSupported.filter((e) => e.includes('/caep/'));

function loopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** Why a push endpoint is refused, or null: `https:`, or `http:` on loopback or when allowed. */
export function endpointProblem(url: string, settings: SsfSettings): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'endpoint_url must be an absolute URL.';
  }
  if (parsed.username !== '' || parsed.password !== '') return 'endpoint_url must not carry credentials; use authorization_header.';
  if (parsed.hash !== '') return 'endpoint_url must not have a fragment.';
  if (parsed.protocol === 'https:') return null;
  if (parsed.protocol === 'http:' && (loopback(parsed.hostname) || settings.allowInsecureEndpoints)) return null;
  return 'endpoint_url must be https (http only on a loopback address, or with sharedSignals.allowInsecureEndpoints).';
}

/**
 * The stored configuration of a receiver's input (creation, or PUT over `base`: members left out
 * take defaults; PATCH passes the current configuration as `base` and `merge`), or the first
 * field refused. `sealSecret` seals `authorization_header` for storage.
 */
export function receiverConfig(
  input: ConfigInput,
  clientId: string,
  settings: SsfSettings,
  sealSecret: (plain: string) => string,
  base?: Partial<ReceiverConfig>,
): ReceiverConfig | ConfigProblem {
  const events = input.events_requested ?? base?.events_requested ?? defaultEvents;
  const given = input.delivery;
  let delivery: ReceiverConfig['delivery'];
  if (given === undefined) {
    if (base?.delivery === undefined) return { field: 'delivery', detail: `delivery is required: {"method": "${pushMethod}", "endpoint_url": …} or {"method": "${pollMethod}"}.` };
    delivery = base.delivery;
  } else if (given.method === pushMethod) {
    if (given.endpoint_url === undefined) return { field: 'delivery.endpoint_url', detail: 'A push stream needs the receiver\'s endpoint_url.' };
    const problem = endpointProblem(given.endpoint_url, settings);
    if (problem !== null) return { field: 'delivery.endpoint_url', detail: problem };
    const kept = given.authorization_header === undefined && base?.delivery?.method === pushMethod ? base.delivery.authorization_header : undefined;
    const header = given.authorization_header === undefined ? kept : sealSecret(given.authorization_header);
    delivery = { method: pushMethod, endpoint_url: given.endpoint_url, ...(header !== undefined && { authorization_header: header }) };
  } else {
    if (given.authorization_header !== undefined) return { field: 'delivery.authorization_header', detail: 'authorization_header is for push delivery; a poll stream is polled with the client\'s credentials.' };
    // The transmitter names the poll endpoint; one the receiver read back from GET is accepted as it is.
    delivery = { method: pollMethod };
  }
  return {
    aud: input.aud ?? base?.aud ?? clientId,
    events_requested: [...events],
    delivery,
    ...((input.description ?? base?.description) !== undefined && { description: input.description ?? base?.description }),
    ...((input.user_subject_format ?? base?.user_subject_format) !== undefined && { user_subject_format: input.user_subject_format ?? base?.user_subject_format }),
  };
}

/** A stream's configuration as answered (SSF §8.1.1): the receiver's `authorization_header` is never read back. */
export function streamView(stream: StreamRecord, issuer: string, pollUrl: (id: string) => string): Record<string, unknown> {
  const { config } = stream;
  const delivery = config.delivery.method === pushMethod ? { method: pushMethod, endpoint_url: config.delivery.endpoint_url } : { method: pollMethod, endpoint_url: pollUrl(stream.id) };
  return {
    stream_id: stream.id,
    iss: issuer,
    aud: config.aud,
    events_supported: [...eventsSupported],
    events_requested: config.events_requested,
    events_delivered: config.events_requested.filter((e) => (eventsSupported as readonly string[]).includes(e)),
    delivery,
    ...(config.description !== undefined && { description: config.description }),
    user_subject_format: config.user_subject_format ?? 'iss_sub',
  };
}
