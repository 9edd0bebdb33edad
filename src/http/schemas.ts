/** JSON Schemas of Tokenstile's request and response bodies (also the source of the OpenAPI document). */

const user = {
  type: 'object',
  required: ['id', 'email', 'name', 'emailVerified'],
  properties: {
    id: { type: 'string' },
    email: { type: 'string' },
    name: { type: ['string', 'null'] },
    emailVerified: { type: 'boolean', description: 'the user proved they receive mail at `email`' },
  },
} as const;

export const emailField = { type: 'string', minLength: 1, maxLength: 320 } as const;
// Lengths are not limited here: core checks the password policy (8–256, so that it answers
// `weak_password`) and the name (100 code points after trimming); the 16 KiB body limit bounds both.
export const passwordField = { type: 'string' } as const;
export const nameField = { type: ['string', 'null'] } as const;

export const registerBody = {
  type: 'object',
  additionalProperties: false,
  required: ['email', 'password'],
  properties: { email: emailField, password: passwordField, name: nameField },
} as const;

export const loginBody = {
  type: 'object',
  additionalProperties: false,
  required: ['email', 'password'],
  properties: { email: emailField, password: passwordField },
} as const;

export const refreshBody = {
  type: 'object',
  additionalProperties: false,
  required: ['refreshToken'],
  properties: { refreshToken: { type: 'string', maxLength: 1024 } },
} as const;

export const logoutBody = {
  type: 'object',
  additionalProperties: false,
  properties: { scope: { type: 'string', enum: ['local', 'global', 'others'], default: 'local' } },
} as const;

export const updateMeBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: nameField },
} as const;

export const passwordBody = {
  type: 'object',
  additionalProperties: false,
  required: ['currentPassword', 'newPassword'],
  properties: { currentPassword: passwordField, newPassword: passwordField },
} as const;

export const sessionParams = {
  type: 'object',
  required: ['id'],
  // No length limit: any id that is not one of the caller's live sessions is a 404 (contract).
  properties: { id: { type: 'string' } },
} as const;

export const userResponse = { type: 'object', required: ['user'], properties: { user } } as const;

export const tokenResponse = {
  type: 'object',
  required: ['tokenType', 'accessToken', 'expiresIn', 'refreshToken', 'refreshExpiresIn', 'session', 'user'],
  properties: {
    tokenType: { type: 'string', enum: ['Bearer', 'DPoP'], description: '`DPoP` when the tokens are bound to the key of the sign-in\'s DPoP proof (RFC 9449 §5): send them with `Authorization: DPoP` and a proof' },
    accessToken: { type: 'string' },
    expiresIn: { type: 'integer', description: 'seconds' },
    refreshToken: { type: 'string' },
    refreshExpiresIn: { type: 'integer', description: 'seconds' },
    session: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
    user,
  },
} as const;

/** Cookie transport: the login or refresh answer, with the CSRF token and no token in it. */
export const browserSessionResponse = {
  type: 'object',
  required: ['csrfToken', 'expiresIn', 'session', 'user'],
  properties: {
    csrfToken: { type: 'string', description: 'send it as X-CSRF-Token on POST, PUT, PATCH, DELETE' },
    tokenType: { type: 'string', enum: ['DPoP'], description: 'present when the cookies hold tokens bound to the sign-in\'s DPoP key: every request still needs a proof' },
    expiresIn: { type: 'integer', description: 'seconds until the access cookie expires' },
    session: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
    user,
  },
} as const;

/** A token response (header transport) or a browser session (cookie transport). */
export const tokenOrBrowserResponse = { anyOf: [tokenResponse, browserSessionResponse] } as const;

/** The optional header that selects the cookie transport. */
export const transportHeaders = {
  type: 'object',
  properties: {
    'tokenstile-transport': { type: 'string', description: '`cookie`: tokens in HttpOnly cookies (browsers); anything else: in the body' },
    dpop: { type: 'string', description: 'a DPoP proof (RFC 9449) for this method and URL: the session and its tokens are bound to its key (tokenType DPoP). 400 `invalid_dpop_proof` when it is bad (or missing with dpop: required), 400 `use_dpop_nonce` with a `DPoP-Nonce` to retry with' },
  },
} as const;

export const meResponse = {
  type: 'object',
  required: ['id', 'email', 'name', 'emailVerified', 'sessionId'],
  properties: { ...user.properties, sessionId: { type: 'string' } },
} as const;

export const sessionsResponse = {
  type: 'object',
  required: ['sessions'],
  properties: {
    sessions: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'createdAt', 'lastUsedAt', 'expiresAt', 'userAgent', 'ip', 'current'],
        properties: {
          id: { type: 'string' },
          createdAt: { type: 'string', format: 'date-time' },
          lastUsedAt: { type: 'string', format: 'date-time' },
          expiresAt: { type: 'string', format: 'date-time' },
          userAgent: { type: ['string', 'null'] },
          ip: { type: ['string', 'null'] },
          current: { type: 'boolean' },
        },
      },
    },
  },
} as const;

/** `GET /auth/refresh/status`: signed in, refreshable, or neither and why. */
export const sessionStatusResponse = {
  type: 'object',
  required: ['signedIn', 'refreshable', 'sessionId', 'reason'],
  properties: {
    signedIn: { type: 'boolean', description: 'the access token (Bearer or cookie) is valid' },
    refreshable: { type: 'boolean', description: 'not signed in, but POST /auth/refresh with the refresh cookie will succeed' },
    sessionId: { type: ['string', 'null'] },
    reason: {
      type: ['string', 'null'],
      enum: ['no_session', 'invalid_token', 'token_expired', 'session_revoked', 'invalid_refresh_token', null],
      description: 'when neither: why (`no_session`: no token or cookie was sent)',
    },
  },
} as const;

export const problemResponse = {
  description: 'RFC 9457 problem details',
  type: 'object',
  required: ['type', 'title', 'status', 'code', 'detail'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: { type: 'string' },
    detail: { type: 'string' },
    field: { type: 'string', description: 'with invalid_request: the request field at fault, e.g. `email`' },
  },
  // RFC 9457 extension members of some codes (e.g. `mfaToken` and `methods` with `mfa_required`).
  additionalProperties: true,
} as const;

export const noContent = { description: 'No content', type: 'null' } as const;
