/** JSON Schemas of the social routes (request validation and the OpenAPI document). */
import { browserSessionResponse, tokenOrBrowserResponse } from '../../http/schemas.ts';

export const providerParams = {
  type: 'object',
  required: ['provider'],
  properties: { provider: { type: 'string', maxLength: 32 } },
} as const;

export const identityParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string' } },
} as const;

export const providersResponse = {
  type: 'object',
  required: ['providers'],
  properties: {
    providers: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'name', 'protocol', 'startUrl'],
        properties: { id: { type: 'string' }, name: { type: 'string' }, protocol: { type: 'string', enum: ['oidc', 'oauth2'] }, startUrl: { type: 'string' } },
      },
    },
  },
} as const;

export const exchangeBody = {
  type: 'object',
  additionalProperties: false,
  required: ['code', 'codeVerifier'],
  properties: { code: { type: 'string', minLength: 1, maxLength: 256 }, codeVerifier: { type: 'string', minLength: 43, maxLength: 128, pattern: '^[A-Za-z0-9._~-]+$' } },
} as const;

export const linkBody = {
  type: 'object',
  additionalProperties: false,
  properties: { returnTo: { type: 'string', maxLength: 2048 } },
} as const;

export const linkResponse = {
  type: 'object',
  required: ['url'],
  properties: { url: { type: 'string', description: "The provider's authorization URL: navigate the browser there." } },
} as const;

export const identitiesResponse = {
  type: 'object',
  required: ['identities', 'passwordSet'],
  properties: {
    passwordSet: { type: 'boolean', description: 'Whether the account has a password (one made by a provider sign-in has none).' },
    identities: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'provider', 'providerName', 'email', 'emailVerified', 'createdAt'],
        properties: {
          id: { type: 'string' },
          provider: { type: 'string' },
          providerName: { type: 'string' },
          email: { type: ['string', 'null'] },
          emailVerified: { type: 'boolean' },
          createdAt: { type: 'string', format: 'date-time' },
        },
      },
    },
  },
} as const;

export const logoutTokenForm = {
  type: 'object',
  required: ['logout_token'],
  properties: { logout_token: { type: 'string', maxLength: 8192 } },
} as const;

export const redirectResponse = { description: 'A redirect (`Location`)', type: 'null' } as const;

export { browserSessionResponse, tokenOrBrowserResponse };
