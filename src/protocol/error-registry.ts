import { authCodes } from '../features/auth/auth-codes.ts';
import { oauthCodes } from '../features/oauth/oauth-codes.ts';
import { socialCodes } from '../features/social/social-codes.ts';
import { commonCodes } from './common-codes.ts';
import { mergeCodes } from './error-codes.ts';

/**
 * Every error code Tokenstile answers with, merged from the code sets each feature declares
 * in its feature folder (src/features/<name>/). A new feature lists its set here (as it lists its routes in the route
 * table); its codes then join the `ErrorCode` union, the status table and the messages.
 */
export const errorRegistry = mergeCodes([commonCodes, authCodes, oauthCodes, socialCodes]);

/** Every error code: the keys of {@link errorRegistry}. */
export type RegisteredCode = keyof typeof errorRegistry;
