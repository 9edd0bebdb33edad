import type { RevocationCause } from '../../core/events.ts';

/** The event types this transmitter sends (OpenID CAEP 1.0, SSF 1.0). */
export const sessionRevoked = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
export const credentialChange = 'https://schemas.openid.net/secevent/caep/event-type/credential-change';
export const verification = 'https://schemas.openid.net/secevent/ssf/event-type/verification';
export const streamUpdated = 'https://schemas.openid.net/secevent/ssf/event-type/stream-updated';

/** What `events_supported` lists. Verification and stream-updated events are sent whatever a stream requested. */
export const eventsSupported = [sessionRevoked, credentialChange, verification, streamUpdated] as const;
export const alwaysDelivered: readonly string[] = [verification, streamUpdated];

/** CAEP `initiating_entity`. */
export type InitiatingEntity = 'admin' | 'user' | 'policy' | 'system';

/** Who ended a session, by the core's revocation cause. */
export function initiatorOf(cause: RevocationCause): InitiatingEntity {
  switch (cause) {
    case 'admin':
    case 'user_disabled':
    case 'key_revoked':
      return 'admin';
    case 'refresh_reuse':
      return 'policy';
    case 'backchannel_logout':
    case 'ssf_session_revoked':
      return 'system';
    default:
      return 'user';
  }
}

/** The English `reason_admin` of a revocation cause (the cause itself stays machine-readable in `tokenstile_cause`). */
const reasons: Record<string, string> = {
  logout: 'The user signed out.',
  logout_global: 'The user signed out everywhere.',
  logout_others: 'The user signed out of their other sessions.',
  revoked_by_user: 'The user ended this session.',
  token_revoked: 'A token of the session was revoked (RFC 7009).',
  password_change: 'The password was changed.',
  password_reset: 'The password was reset.',
  refresh_reuse: 'A spent refresh token was used again (possible theft).',
  user_disabled: 'The account was disabled.',
  admin: 'An administrator ended the session.',
  key_revoked: 'A signing key was revoked.',
  backchannel_logout: 'The identity provider signed the user out.',
  ssf_session_revoked: 'An upstream Shared Signals transmitter reported the session ended.',
  credential_change: 'A sign-in credential changed.',
  email_change: 'The email address changed.',
};

export function reasonOf(cause: RevocationCause): string {
  return reasons[cause] ?? `Session ended (${cause}).`;
}

/** A credential-change event, as made from a Tokenstile event. */
export interface CredentialChange {
  readonly credential_type: string;
  readonly change_type: 'create' | 'revoke' | 'update' | 'delete';
  readonly friendly_name?: string;
  readonly initiating_entity: InitiatingEntity;
}

/**
 * The CAEP credential-change of a core or feature event, or null when it is none: password
 * changed, reset or set; TOTP enabled or disabled, recovery codes renewed, an admin's MFA reset;
 * a passkey added or removed.
 */
export function credentialChangeOf(type: string, event: Readonly<Record<string, unknown>>): CredentialChange | null {
  switch (type) {
    case 'password_changed':
      return { credential_type: 'password', change_type: 'update', initiating_entity: 'user' };
    case 'recovery.password_reset':
      return { credential_type: 'password', change_type: 'update', friendly_name: 'password reset by email', initiating_entity: 'user' };
    case 'recovery.password_set':
      return { credential_type: 'password', change_type: 'create', initiating_entity: 'user' };
    case 'mfa.enabled':
      return { credential_type: 'app', change_type: 'create', friendly_name: 'authenticator app (TOTP)', initiating_entity: 'user' };
    case 'mfa.disabled':
      return { credential_type: 'app', change_type: 'delete', friendly_name: 'authenticator app (TOTP)', initiating_entity: 'user' };
    case 'mfa.recovery_codes_renewed':
      return { credential_type: 'app', change_type: 'update', friendly_name: 'recovery codes', initiating_entity: 'user' };
    case 'mfa.reset':
      return { credential_type: 'app', change_type: 'delete', friendly_name: 'all second factors (reset by an administrator)', initiating_entity: 'admin' };
    case 'passkeys.added':
      return { credential_type: 'fido2-platform', change_type: 'create', friendly_name: `passkey ${String(event.passkeyId ?? '')}`.trim(), initiating_entity: 'user' };
    case 'passkeys.removed':
      return { credential_type: 'fido2-platform', change_type: 'delete', friendly_name: `passkey ${String(event.passkeyId ?? '')}`.trim(), initiating_entity: 'user' };
    default:
      return null;
  }
}

/** An RFC 9493 subject identifier. */
export type SubjectId = Readonly<Record<string, unknown>>;

/** The user, as `sub_id.user` names them: `iss_sub` (iss = our issuer, sub = user id) or `email`. */
export function userSubject(issuer: string, user: { id: string; email: string }, format: 'iss_sub' | 'email'): SubjectId {
  return format === 'email' ? { format: 'email', email: user.email } : { format: 'iss_sub', iss: issuer, sub: user.id };
}

/** The `sub_id` of an event: `complex`, with the user and (for a session) the session id as `opaque`. */
export function subjectOf(user: SubjectId, sessionId?: string): SubjectId {
  return sessionId === undefined ? { format: 'complex', user } : { format: 'complex', user, session: { format: 'opaque', id: sessionId } };
}
