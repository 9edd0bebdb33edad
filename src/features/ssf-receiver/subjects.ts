/**
 * Subject identifiers of Security Event Tokens (RFC 9493, and the `complex` format of the Shared
 * Signals Framework 1.0 section 3.2): the formats this receiver can match to Tokenstile users and
 * sessions. Any other format parses as `other` (nothing to match, never an error).
 */
export type Subject =
  | { readonly format: 'email'; readonly email: string }
  | { readonly format: 'iss_sub'; readonly iss: string; readonly sub: string }
  | { readonly format: 'opaque'; readonly id: string }
  | { readonly format: 'complex'; readonly user: Subject | null; readonly session: Subject | null }
  | { readonly format: 'other' };

const maxLength = 1024;

function str(o: Record<string, unknown>, key: string): string | null {
  const v = o[key];
  return typeof v === 'string' && v !== '' && v.length <= maxLength ? v : null;
}

/**
 * The subject of one event: SSF's top-level `sub_id`, else the event's own `subject` member (CAEP
 * drafts before SSF 1.0). Null when neither is a valid subject identifier (then the SET is refused
 * as `invalid_request`: the event does not conform to its definition).
 */
export function eventSubject(subId: unknown, event: Readonly<Record<string, unknown>>): Subject | null {
  return parseSubject(subId ?? event.subject, true);
}

function parseSubject(value: unknown, top: boolean): Subject | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const o = value as Record<string, unknown>;
  switch (o.format) {
    case 'email': {
      const email = str(o, 'email');
      return email === null ? null : { format: 'email', email };
    }
    case 'iss_sub': {
      const iss = str(o, 'iss');
      const sub = str(o, 'sub');
      return iss === null || sub === null ? null : { format: 'iss_sub', iss, sub };
    }
    case 'opaque': {
      const id = str(o, 'id');
      return id === null ? null : { format: 'opaque', id };
    }
    case 'complex': {
      // Only at the top: a complex subject's members are simple identifiers.
      if (!top) return null;
      const user = o.user === undefined ? null : parseSubject(o.user, false);
      const session = o.session === undefined ? null : parseSubject(o.session, false);
      if ((o.user !== undefined && user === null) || (o.session !== undefined && session === null)) return null;
      return { format: 'complex', user, session };
    }
    default:
      return typeof o.format === 'string' ? { format: 'other' } : null;
  }
}
