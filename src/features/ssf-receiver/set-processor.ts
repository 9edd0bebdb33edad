import { createHash } from 'node:crypto';
import type { JWTVerifyGetKey } from 'jose';
import type { FeatureEvent } from '../../core/events.ts';
import type { RevokeTarget } from '../../core/session-store.ts';
import type { ReceiverEvent, ReceiverSettings } from './receiver-options.ts';
import type { ReceiverStore } from './receiver-store.ts';
import { verifySet, type SetRefusal, type VerifiedSet } from './set-token.ts';
import { matchSubject, type MatchDeps, type Target } from './subject-matching.ts';
import { eventSubject } from './subjects.ts';
import { eventTypes } from './transmitter-client.ts';

/** Why sessions end when a SET asks (audit trail, events). */
export const ssfRevocationCause = 'ssf_session_revoked';

/** What became of one SET. A failure that is not the SET's fault (keys or store unreachable) is thrown instead. */
export type SetOutcome =
  | { readonly status: 'applied'; readonly ended: number }
  /** Valid, but nothing to do: no event this receiver acts on, or no user or session matched. */
  | { readonly status: 'ignored' }
  /** Processed before (its `jti`): nothing done again. */
  | { readonly status: 'replayed' }
  | { readonly status: 'refused'; readonly refusal: SetRefusal };

/** What the processor needs, made from the feature kit. */
export interface ProcessorDeps {
  readonly store: ReceiverStore;
  readonly match: MatchDeps;
  now(): number;
  readonly clockToleranceSeconds: number;
  /** The receiver's verification keys (its `jwksUri`, or its metadata's): may throw `SetCheckUnavailable`. */
  keys(receiver: ReceiverSettings): Promise<JWTVerifyGetKey>;
  /** The kit's acknowledged revocation: resolves once no instance accepts the sessions' tokens. */
  revoke(target: RevokeTarget): Promise<number>;
  emit(event: FeatureEvent): void;
}

const eventOf = new Map(Object.entries(eventTypes).map(([name, uri]) => [uri, name as ReceiverEvent]));

/** Credential changes that end the user's sessions (CAEP 1.0 section 3.3): the password was revoked or deleted. */
function endsSessions(event: Readonly<Record<string, unknown>>): boolean {
  return event.credential_type === 'password' && (event.change_type === 'revoke' || event.change_type === 'delete');
}

/**
 * Processes one SET for `receiver`: checks it (`verifySet`), skips a `jti` processed before, ends
 * the sessions its `session-revoked` (and, when enabled, password `credential-change`) events name,
 * through the acknowledged revocation, then records the `jti`. When this resolves with `applied`,
 * no instance accepts those sessions' tokens any more; only then may the SET be acknowledged.
 */
export async function processSet(deps: ProcessorDeps, receiver: ReceiverSettings, token: string): Promise<SetOutcome> {
  const checked = await verifySet(token, {
    issuer: receiver.issuer,
    audience: receiver.audience,
    keys: await deps.keys(receiver),
    algorithms: receiver.algorithms,
    now: deps.now(),
    clockToleranceSeconds: deps.clockToleranceSeconds,
    maxAgeMs: receiver.maxAgeMs,
  });
  if (!checked.ok) {
    deps.emit({ type: 'ssf-receiver.set_refused', receiver: receiver.id, reason: checked.refusal.err });
    return { status: 'refused', refusal: checked.refusal };
  }
  const set = checked.value;
  const jtiHash = createHash('sha256').update(set.jti).digest('base64url');
  if (await deps.store.processed(receiver.id, jtiHash, deps.now())) {
    deps.emit({ type: 'ssf-receiver.set_ignored', receiver: receiver.id, jti: set.jti, reason: 'replayed' });
    return { status: 'replayed' };
  }
  const targets = await targetsOf(deps, receiver, set);
  if (!Array.isArray(targets)) {
    deps.emit({ type: 'ssf-receiver.set_refused', receiver: receiver.id, reason: targets.err });
    return { status: 'refused', refusal: targets };
  }
  let ended = 0;
  for (const target of targets) ended += await deps.revoke(target);
  await deps.store.recordProcessed(receiver.id, jtiHash, set.issuedAt + receiver.maxAgeMs + deps.clockToleranceSeconds * 1000);
  if (targets.length === 0) {
    deps.emit({ type: 'ssf-receiver.set_ignored', receiver: receiver.id, jti: set.jti, reason: 'no_match' });
    return { status: 'ignored' };
  }
  deps.emit({ type: 'ssf-receiver.set_applied', receiver: receiver.id, jti: set.jti, ended });
  return { status: 'applied', ended };
}

/** The sessions the SET's events name, or the refusal when an event it acts on has no valid subject. */
async function targetsOf(deps: ProcessorDeps, receiver: ReceiverSettings, set: VerifiedSet): Promise<Target[] | SetRefusal> {
  const targets: Target[] = [];
  for (const [uri, event] of Object.entries(set.events)) {
    const name = eventOf.get(uri);
    if (name === undefined || !receiver.events.has(name)) continue;
    if (name === 'credential-change' && !endsSessions(event)) continue;
    const subject = eventSubject(set.subId, event);
    if (subject === null) return { err: 'invalid_request', description: 'the event has no valid subject identifier (sub_id)' };
    const request = { upstreamIssuer: receiver.issuer, formats: receiver.subjects, wholeUser: name === 'credential-change' };
    targets.push(...(await matchSubject(subject, request, deps.match)));
  }
  return targets;
}
