import { defineCodes } from '../../protocol/error-codes.ts';

/**
 * The codes of social and enterprise sign-in (`/auth/oauth/*`, `/auth/identities`). Answered as
 * problem+json by the JSON routes; the browser flow's callback carries them back to the app in the
 * redirect's fragment instead (`#tokenstile_error=<code>`, see docs/social.md).
 */
export const socialCodes = defineCodes({
  unknown_provider: { status: 404, title: 'No sign-in provider has this id.' },
  oauth_flow_invalid: { status: 400, title: 'The sign-in with the provider could not be completed: it expired, was already used, or was not started in this browser. Start again.' },
  oauth_provider_error: { status: 502, title: 'The sign-in provider refused the sign-in or answered something that is not valid.' },
  oauth_email_missing: { status: 400, title: 'The provider did not share an email address, which an account needs.' },
  link_required: {
    status: 409,
    title: 'An account with this email already exists. Sign in to it, then connect this provider from your account page.',
  },
  identity_in_use: { status: 409, title: 'This provider account is already connected to another account.' },
  last_sign_in_method: { status: 409, title: 'This is the only way to sign in to your account; add a password or another provider first.' },
  invalid_code: { status: 401, title: 'The code is wrong, already used or expired.' },
  invalid_logout_token: { status: 400, title: 'The logout token is not valid.' },
  reauthentication_required: { status: 403, title: 'For your safety, this change needs a recent sign-in: confirm it is you and try again.' },
});
