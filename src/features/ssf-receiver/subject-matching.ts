import type { SubjectFormat } from './receiver-options.ts';
import type { Subject } from './subjects.ts';

/** What to end: every session of a user, or one session (only if it is that user's, when `userId` is set). */
export type Target = { readonly userId: string } | { readonly sessionId: string; readonly userId?: string };

/** The social feature's linked identities and provider sessions, as matching needs them. */
export interface ProviderLookup {
  /** The id of the configured sign-in provider with this issuer, or null. */
  providerByIssuer(issuer: string): string | null;
  /** The Tokenstile user linked to the provider account `subject`, or null. */
  linkedUser(provider: string, subject: string): Promise<string | null>;
  /** The Tokenstile sessions that provider session `sid` (of `subject`, when given) started. */
  providerSessions(provider: string, match: { readonly sid: string; readonly subject: string | null }): Promise<string[]>;
}

/** What matching reads: our issuer, users by email or id, and the social feature's lookup (null without it). */
export interface MatchDeps {
  readonly ourIssuer: string;
  userIdByEmail(email: string): Promise<string | null>;
  userExists(userId: string): Promise<boolean>;
  readonly providers: ProviderLookup | null;
}

/** What the event asks about the subject. */
export interface MatchRequest {
  /** The SET's issuer: whose session ids an `opaque` session identifier is. */
  readonly upstreamIssuer: string;
  /** The formats the receiver matches (`subjects` setting). */
  readonly formats: ReadonlySet<SubjectFormat>;
  /** True to end every session of the subject's user, whatever session it names (a credential change). */
  readonly wholeUser: boolean;
}

/** Issuers compare as strings (RFC 7519), forgiving only a trailing slash. */
export function sameIssuer(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

/**
 * The Tokenstile sessions a subject identifier names. `email`: the user with that address
 * (normalized as sign-in does). `iss_sub`: with our issuer, `sub` is our user id; with a
 * configured sign-in provider's issuer, the user linked to that provider account. `opaque`: a
 * session id of the SET's issuer: ours when it is our issuer, a provider session (`sid`) when it
 * is a provider's. `complex`: its `session` in the namespace of its `user` (an `iss_sub`) or of
 * the SET's issuer, and only that user's; without a `session`, every session of its `user`.
 * Empty when nothing matches: an unknown subject is not an error.
 */
export async function matchSubject(subject: Subject, request: MatchRequest, deps: MatchDeps): Promise<Target[]> {
  const { formats } = request;
  if (subject.format === 'other' || (subject.format !== 'complex' && !formats.has(subject.format))) return [];
  switch (subject.format) {
    case 'email':
    case 'iss_sub': {
      const userId = await userOf(subject, formats, deps);
      return userId === null ? [] : [{ userId }];
    }
    case 'opaque':
      return request.wholeUser ? [] : sessionsOf(subject.id, request.upstreamIssuer, null, formats, deps);
    case 'complex': {
      if (!formats.has('complex')) return [];
      if (subject.session === null || request.wholeUser) {
        const userId = subject.user === null ? null : await userOf(subject.user, formats, deps);
        return userId === null ? [] : [{ userId }];
      }
      if (subject.session.format !== 'opaque') return [];
      const namespace = subject.user?.format === 'iss_sub' ? subject.user.iss : request.upstreamIssuer;
      return sessionsOf(subject.session.id, namespace, subject.user, formats, deps);
    }
  }
}

/** The user an `email` or `iss_sub` identifier names, when its format is matched. */
async function userOf(subject: Subject, formats: ReadonlySet<SubjectFormat>, deps: MatchDeps): Promise<string | null> {
  if (subject.format === 'email') return formats.has('email') ? deps.userIdByEmail(subject.email) : null;
  if (subject.format !== 'iss_sub' || !formats.has('iss_sub')) return null;
  if (sameIssuer(subject.iss, deps.ourIssuer)) return (await deps.userExists(subject.sub)) ? subject.sub : null;
  const provider = deps.providers?.providerByIssuer(subject.iss) ?? null;
  return provider === null ? null : deps.providers!.linkedUser(provider, subject.sub);
}

/** Session `id` of issuer `namespace`, limited to `user`'s when given. */
async function sessionsOf(id: string, namespace: string, user: Subject | null, formats: ReadonlySet<SubjectFormat>, deps: MatchDeps): Promise<Target[]> {
  if (sameIssuer(namespace, deps.ourIssuer)) {
    if (user === null) return [{ sessionId: id }];
    const userId = await userOf(user, formats, deps);
    return userId === null ? [] : [{ sessionId: id, userId }];
  }
  const provider = deps.providers?.providerByIssuer(namespace) ?? null;
  if (provider === null) return [];
  if (user !== null && user.format !== 'iss_sub') {
    // A provider session, named with the user's email: only the sessions of the user it names.
    const userId = await userOf(user, formats, deps);
    if (userId === null) return [];
    return (await deps.providers!.providerSessions(provider, { sid: id, subject: null })).map((sessionId) => ({ sessionId, userId }));
  }
  if (user !== null && !formats.has('iss_sub')) return [];
  const subject = user?.format === 'iss_sub' ? user.sub : null;
  return (await deps.providers!.providerSessions(provider, { sid: id, subject })).map((sessionId) => ({ sessionId }));
}
