import { defineCodes } from '../../protocol/error-codes.ts';

/** The codes of `/oauth/*` (RFC 7009 revocation, RFC 7662 introspection) beyond the common ones. */
export const oauthCodes = defineCodes({
  invalid_client: { status: 401, title: 'Client authentication failed.' },
});
