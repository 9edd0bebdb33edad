import { revocationHeadroomMs } from './config.ts';
import { TokenstileError } from './errors.ts';
import type { AuthEvent, RevocationCause } from './events.ts';
import type { KeyStore, SigningKeyChange } from './key-store.ts';
import { generateSigningKey, signingOrder, type StoredSigningKey } from './keys.ts';
import type { Revocation } from './revocation.ts';
import type { RevokeTarget, SessionStore } from './session-store.ts';

/** How many sessions a key revocation ends at once. */
const revokeConcurrency = 16;

/** What `tokenstile keys revoke` did. Times in ms since the epoch. */
export interface KeyRevocation {
  readonly kid: string;
  /** When the key may have signed (widened by the clock headroom); null when it never signed. */
  readonly signed: { readonly from: number; readonly until: number } | null;
  /** Sessions ended because they may hold an access token the key signed. */
  readonly sessionsEnded: number;
  /** The key that signs now, for the key's algorithm. */
  readonly signingKid: string;
}

/**
 * When `key` may have signed, from the stored keys: from its creation, or the latest retirement of
 * another key of its algorithm before its own if later, until its retirement or `now`. Null when
 * that interval is empty (a pending key). Keys removed earlier only make the interval longer.
 */
export function signingInterval(key: StoredSigningKey, keys: readonly StoredSigningKey[], now: number): { from: number; until: number } | null {
  const ownEnd = key.retiredAt ?? Infinity;
  let from = key.createdAt;
  for (const k of keys) {
    if (k.kid !== key.kid && k.alg === key.alg && k.retiredAt !== null && k.retiredAt <= ownEnd) from = Math.max(from, k.retiredAt);
  }
  const until = Math.min(ownEnd, now);
  return from <= until ? { from, until } : null;
}

/**
 * The key change that takes `key` out at once: removed (it stops being published, so no instance
 * or verifier accepts its tokens once it has reloaded its keys); if it was the active key, the key
 * that would have signed last among the others becomes active, or a new key is added to sign at
 * once (without publish-ahead: a verifier that caches the JWKS refetches on the unknown `kid`).
 */
function takeOut(key: StoredSigningKey, keys: readonly StoredSigningKey[], now: number): SigningKeyChange {
  if (key.retiredAt !== null) return { remove: [key.kid], retire: [], add: [] };
  const successor = signingOrder(keys.filter((k) => k.kid !== key.kid), key.alg, now).at(-1);
  return successor
    ? { remove: [key.kid], retire: [{ kid: successor.kid, from: successor.retiredAt, to: null }], add: [] }
    : { remove: [key.kid], retire: [], add: [generateSigningKey(key.alg, now)] };
}

/** The stored keys once `change` has applied. */
function applied(keys: readonly StoredSigningKey[], change: SigningKeyChange): StoredSigningKey[] {
  const kept = keys.filter((k) => !change.remove.includes(k.kid));
  return [
    ...kept.map((k) => {
      const retire = change.retire.find((r) => r.kid === k.kid);
      return retire ? { ...k, retiredAt: retire.to } : k;
    }),
    ...change.add,
  ];
}

/**
 * Revokes a compromised signing key: removes it from the store (unpublished; see `takeOut`), then
 * ends every session that may hold an access token it signed. Tokens carry `kid` and `sid`, but
 * which session got a token from which key is not recorded: the sessions ended are those created
 * before the key stopped signing and signed in or refreshed after it started (`signingInterval`,
 * widened by the revocation headroom for clock skew between instances, and by the refresh grace
 * window, whose retries issue tokens without marking the session used). A superset, never fewer.
 *
 * Sessions end through the usual revocation (`revoke`), so every instance and verifier refuses
 * their tokens as for a logout; tokens of the key for other sessions (forged with the stolen key)
 * are refused by each instance when it next reloads its keys (every 10 s).
 */
export async function revokeSigningKey(
  deps: {
    readonly keys: KeyStore;
    readonly sessions: SessionStore;
    readonly refreshGraceMs: number;
    readonly revoke: (target: RevokeTarget, cause: RevocationCause) => Promise<Revocation[]>;
    readonly emit: (e: AuthEvent) => void;
  },
  kid: string,
  now: number,
): Promise<KeyRevocation> {
  const keys = await deps.keys.listSigningKeys();
  const key = keys.find((k) => k.kid === kid);
  if (!key) throw new TokenstileError('not_found', `no signing key ${JSON.stringify(kid)} (tokenstile keys list shows them)`);
  const change = takeOut(key, keys, now);
  if (!(await deps.keys.changeSigningKeys(change))) throw new Error('another change to the keys happened at the same time; list them and retry');
  const signingKid = signingOrder(applied(keys, change), key.alg, now)[0]?.kid ?? '';

  const interval = signingInterval(key, keys, now);
  const signed = interval && { from: interval.from - revocationHeadroomMs - deps.refreshGraceMs, until: interval.until + revocationHeadroomMs };
  let sessionsEnded = 0;
  if (signed) {
    const targets = await deps.sessions.usedBetween(signed.from, signed.until, now);
    for (let i = 0; i < targets.length; i += revokeConcurrency) {
      const ended = await Promise.all(targets.slice(i, i + revokeConcurrency).map((s) => deps.revoke({ sessionId: s.id, userId: s.userId }, 'key_revoked')));
      sessionsEnded += ended.reduce((n, r) => n + r.length, 0);
    }
  }
  deps.emit({ type: 'key_revoked', kid, alg: key.alg, sessionsEnded, signingKid });
  return { kid, signed, sessionsEnded, signingKid };
}
