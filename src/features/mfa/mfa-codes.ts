import { defineCodes } from '../../protocol/error-codes.ts';

/** The codes of second factors, passkeys and step-up (`/auth/mfa/*`, `/auth/passkeys/*`, `/auth/reauthenticate`). */
export const mfaCodes = defineCodes({
  mfa_required: {
    status: 403,
    title: 'Your account has two-step verification: enter a code from your authenticator app, a recovery code, or use a passkey.',
  },
  reauthentication_required: {
    status: 403,
    title: 'For your safety, this change needs a recent sign-in: confirm it is you and try again.',
  },
  invalid_code: { status: 401, title: 'The code is wrong, was already used, or has expired.' },
  mfa_already_enabled: { status: 409, title: 'An authenticator app is already set up; remove it first to set up another.' },
  invalid_passkey: { status: 401, title: 'The passkey could not be verified.' },
  last_sign_in_method: { status: 409, title: 'This is the only way to sign in to your account; add a password or another provider first.' },
});
