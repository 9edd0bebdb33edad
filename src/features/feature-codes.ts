import { authCodes } from './auth/auth-codes.ts';
import { oauthCodes } from './oauth/oauth-codes.ts';
import { recoveryCodes } from './recovery/recovery-codes.ts';
import { mfaCodes } from './mfa/mfa-codes.ts';
import { socialCodes } from './social/social-codes.ts';
import { ssfCodes } from './ssf/ssf-codes.ts';
import { ssfReceiverCodes } from './ssf-receiver/ssf-receiver-codes.ts';

/**
 * The error codes of the built-in features (src/features/index.ts), from which the `ErrorCode`
 * union is derived. Plain data: the verify package carries this file and the code sets, never the
 * features' routes. A feature added to the registry lists its code set here too, in the same order
 * (test/features/registry.test.ts checks that the two lists agree).
 */
export const featureCodes = [authCodes, oauthCodes, recoveryCodes, socialCodes, mfaCodes, ssfCodes, ssfReceiverCodes] as const;
