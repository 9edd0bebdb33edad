/** JSON Schemas of the MFA, passkey and step-up routes (also their OpenAPI document). */

const method = { type: 'string', enum: ['totp', 'recovery_code', 'passkey'] } as const;
/** A code as typed: six digits (TOTP) or `xxxxx-xxxxx` (recovery); checked in core. */
const code = { type: 'string', minLength: 1, maxLength: 64 } as const;
/** A WebAuthn answer as `@simplewebauthn/browser` serializes it; checked by the library. */
export const webauthnCredential = { type: 'object', description: 'the PublicKeyCredential as JSON (`startRegistration` / `startAuthentication` of @simplewebauthn/browser)' } as const;
const mfaToken = { type: 'string', minLength: 1, maxLength: 256, description: 'from the mfa_required answer of POST /auth/login' } as const;

export const confirmTotpBody = { type: 'object', additionalProperties: false, required: ['code'], properties: { code } } as const;

export const verifyBody = {
  type: 'object',
  additionalProperties: false,
  required: ['mfaToken', 'method'],
  properties: { mfaToken, method, code, credential: webauthnCredential },
  description: '`code` with `totp` and `recovery_code`; `credential` with `passkey` (options from POST /auth/mfa/passkey/options).',
} as const;

export const mfaTokenBody = { type: 'object', additionalProperties: false, required: ['mfaToken'], properties: { mfaToken } } as const;

export const reauthenticateBody = {
  type: 'object',
  additionalProperties: false,
  required: ['method'],
  properties: { method: { type: 'string', enum: ['password', 'totp', 'recovery_code', 'passkey'] }, password: { type: 'string' }, code, credential: webauthnCredential },
  description: '`password` with `password`; `code` with `totp` and `recovery_code`; `credential` with `passkey` (options from POST /auth/reauthenticate/options).',
} as const;

export const emptyBody = { type: 'object', additionalProperties: false, properties: {} } as const;

export const totpSetupResponse = {
  type: 'object',
  required: ['secret', 'uri', 'qrCode'],
  properties: {
    secret: { type: 'string', description: 'base32, for typing into an authenticator app' },
    uri: { type: 'string', description: 'otpauth://totp/… (Key URI Format)' },
    qrCode: { type: 'string', description: 'the URI as a QR code, a data:image/png;base64 URL' },
  },
} as const;

export const recoveryCodesResponse = {
  type: 'object',
  required: ['recoveryCodes'],
  properties: { recoveryCodes: { type: 'array', items: { type: 'string' }, description: 'ten single-use codes, shown this once' } },
} as const;

export const mfaStatusResponse = {
  type: 'object',
  required: ['totp', 'recoveryCodesLeft', 'passkeys', 'methods'],
  properties: { totp: { type: 'boolean' }, recoveryCodesLeft: { type: 'integer' }, passkeys: { type: 'integer' }, methods: { type: 'array', items: method } },
} as const;

export const reauthenticatedResponse = {
  type: 'object',
  required: ['authTime'],
  properties: { authTime: { type: 'integer', description: 'seconds since the epoch: the session’s new auth_time (access tokens carry it from the next refresh)' } },
} as const;

/** WebAuthn options, to hand to `startRegistration` / `startAuthentication` as `optionsJSON`. */
export const webauthnOptionsResponse = { type: 'object', additionalProperties: true, description: 'PublicKeyCredentialCreationOptionsJSON or PublicKeyCredentialRequestOptionsJSON' } as const;

const passkey = {
  type: 'object',
  required: ['id', 'name', 'createdAt', 'lastUsedAt'],
  properties: { id: { type: 'string' }, name: { type: 'string' }, createdAt: { type: 'string', format: 'date-time' }, lastUsedAt: { type: ['string', 'null'], format: 'date-time' } },
} as const;

export const passkeyResponse = { type: 'object', required: ['passkey'], properties: { passkey } } as const;
export const passkeysResponse = { type: 'object', required: ['passkeys'], properties: { passkeys: { type: 'array', items: passkey } } } as const;

export const registerPasskeyBody = {
  type: 'object',
  additionalProperties: false,
  required: ['credential'],
  properties: { credential: webauthnCredential, name: { type: 'string', maxLength: 256, description: 'what the user calls it (at most 64 characters)' } },
} as const;

export const passkeyLoginBody = { type: 'object', additionalProperties: false, required: ['credential'], properties: { credential: webauthnCredential } } as const;

export const passkeyParams = { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } as const;

export const renamePasskeyBody = { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string', maxLength: 256 } } } as const;
