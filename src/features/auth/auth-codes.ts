import { defineCodes } from '../../protocol/error-codes.ts';

/** The codes of `/auth/*`: sign-up, sign-in, refresh and password change. */
export const authCodes = defineCodes({
  weak_password: {
    status: 400,
    title: 'The password does not meet the policy: 8 to 256 characters, not all of one kind (letters, digits, symbols), and not easy to guess.',
  },
  invalid_credentials: { status: 401, title: 'The email or password is wrong.' },
  account_disabled: { status: 403, title: 'This account is disabled.' },
  email_taken: { status: 409, title: 'An account with this email already exists.' },
  invalid_refresh_token: { status: 401, title: 'The refresh token is unknown, expired or revoked.' },
  refresh_token_reused: { status: 401, title: 'A spent refresh token was presented again; the whole session has been revoked.' },
});
