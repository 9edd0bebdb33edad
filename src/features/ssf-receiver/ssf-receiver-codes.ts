import { defineCodes } from '../../protocol/error-codes.ts';

/**
 * The codes of the Shared Signals receiver (`POST /ssf/receivers/<id>/events`) answered as
 * problem+json. A SET that is refused is answered as RFC 8935 says instead: 400 (401 for the
 * `Authorization` header) with `{err, description}` (docs/shared-signals.md#receiver-ending-sessions-when-an-upstream-says-so).
 */
export const ssfReceiverCodes = defineCodes({
  unknown_receiver: { status: 404, title: 'No Shared Signals push receiver has this id.' },
});
