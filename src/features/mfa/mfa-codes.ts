import { defineCodes } from '../../protocol/error-codes.ts';

/** The codes of second factors, passkeys and step-up (`/auth/mfa/*`, `/auth/passkeys/*`, `/auth/reauthenticate`). */
export const mfaCodes = defineCodes({
  mfa_required: {
    status: 403,
    title: 'A second factor is required: complete the sign-in at /auth/mfa/verify with the mfaToken and one of the methods.',
  },
  reauthentication_required: {
    status: 403,
    title: 'This change needs a recent sign-in: confirm who you are at /auth/reauthenticate and try again.',
  },
  invalid_code: { status: 401, title: 'The code is wrong, was already used, or has expired.' },
  mfa_already_enabled: { status: 409, title: 'An authenticator app is already set up; remove it first to set up another.' },
  invalid_passkey: { status: 401, title: 'The passkey could not be verified.' },
});
