import { defineCodes } from '../../protocol/error-codes.ts';

/** The codes of the shared-signals transmitter (`/ssf/*`, docs/shared-signals.md). */
export const ssfCodes = defineCodes({
  stream_limit_reached: { status: 409, title: 'This receiver has as many streams as it may have; delete one first.' },
  subject_limit_reached: { status: 409, title: 'This stream has as many subjects as it may have; remove one first.' },
});
