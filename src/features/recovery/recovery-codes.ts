import { defineCodes } from '../../protocol/error-codes.ts';

/** The codes of password reset, email verification, change of email and sign-in links. */
export const recoveryCodes = defineCodes({
  invalid_code: { status: 401, title: 'The code or link is wrong, already used or expired.' },
  email_not_verified: { status: 403, title: 'Confirm your email address first: follow the link in the mail we sent.' },
  reauthentication_required: { status: 403, title: 'For your safety, this change needs a recent sign-in: confirm it is you and try again.' },
});
