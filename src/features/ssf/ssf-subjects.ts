import { normalizeEmail } from '../../core/account-text.ts';

/**
 * The keys a subject identifier (RFC 9493) is matched by: `user:<id>` for an `iss_sub` of our
 * issuer, `email:<normalized address>`, `session:<id>` for an `opaque` session id; a `complex`
 * subject by its `user` or `session` member. Null for a subject this transmitter cannot name
 * (another issuer, an unknown format), with the reason.
 */
export function subjectKey(subject: unknown, issuer: string): { key: string } | { error: string } {
  if (typeof subject !== 'object' || subject === null || Array.isArray(subject)) return { error: 'subject must be an object with a format' };
  const s = subject as Record<string, unknown>;
  switch (s.format) {
    case 'iss_sub':
      if (s.iss !== issuer) return { error: `iss_sub: iss must be this transmitter's issuer (${issuer})` };
      if (typeof s.sub !== 'string' || s.sub.length === 0 || s.sub.length > 200) return { error: 'iss_sub: sub must be a user id' };
      return { key: `user:${s.sub}` };
    case 'email': {
      const email = typeof s.email === 'string' ? normalizeEmail(s.email) : null;
      return email === null ? { error: 'email: email must be an email address' } : { key: `email:${email}` };
    }
    case 'opaque':
      if (typeof s.id !== 'string' || s.id.length === 0 || s.id.length > 200) return { error: 'opaque: id must be a session id' };
      return { key: `session:${s.id}` };
    case 'complex': {
      // One member names what is matched: the session when given (narrower), else the user.
      if (s.session !== undefined) return subjectKey(s.session, issuer);
      if (s.user !== undefined) return subjectKey(s.user, issuer);
      return { error: 'complex: a user or session member is required' };
    }
    default:
      return { error: 'subject format must be iss_sub, email, opaque or complex' };
  }
}

/** The keys an event about `user` (and a session) matches. */
export function eventKeys(user: { id: string; email: string } | null, userId: string, sessionId?: string): string[] {
  const keys = [`user:${userId}`];
  if (user !== null) keys.push(`email:${user.email}`);
  if (sessionId !== undefined) keys.push(`session:${sessionId}`);
  return keys;
}

/**
 * Whether a stream takes an event, from its choices for the event's keys: a removed subject
 * wins, then an added one, then the transmitter's `default_subjects`.
 */
export function subjectWanted(choices: readonly boolean[] | undefined, defaultSubjects: 'ALL' | 'NONE'): boolean {
  if (choices !== undefined && choices.includes(false)) return false;
  if (choices !== undefined && choices.includes(true)) return true;
  return defaultSubjects === 'ALL';
}
