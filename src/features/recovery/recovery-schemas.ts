/** JSON Schemas of the recovery routes' bodies (also their OpenAPI). */
import { emailField, passwordField } from '../../http/schemas.ts';

/** A one-time token from a link (`tso_…`); anything else is simply not a live token. */
const tokenField = { type: 'string', minLength: 1, maxLength: 256, description: 'the token from the link (`tso_…`)' } as const;

export const emailBody = {
  type: 'object',
  additionalProperties: false,
  required: ['email'],
  properties: { email: emailField },
} as const;

export const tokenBody = {
  type: 'object',
  additionalProperties: false,
  required: ['token'],
  properties: { token: tokenField },
} as const;

export const resetBody = {
  type: 'object',
  additionalProperties: false,
  required: ['token', 'newPassword'],
  properties: { token: tokenField, newPassword: passwordField },
} as const;

export const emailChangeBody = {
  type: 'object',
  additionalProperties: false,
  // `password` is required of an account that has one; one without (made by a provider sign-in) re-authenticates instead.
  required: ['newEmail'],
  properties: { newEmail: emailField, password: passwordField },
} as const;

/** No body, or `{}`. */
export const emptyBody = { type: 'object', additionalProperties: false, properties: {} } as const;

/** `GET /auth/magic-link`: whether sign-in links are on. */
export const magicLinkStatus = {
  description: 'Whether sign-in links are on (TOKENSTILE_MAGIC_LINK)',
  type: 'object',
  required: ['enabled'],
  additionalProperties: false,
  properties: { enabled: { type: 'boolean' } },
} as const;

export const accepted = { description: 'Accepted: a mail goes out if there is one to send (the answer is the same either way)', type: 'null' } as const;
