/** JSON Schemas of the shared-signals routes (request validation and the OpenAPI document). */
import { eventsSupported } from './ssf-events.ts';
import { pollMethod, pushMethod } from './ssf-store.ts';

const streamId = { type: 'string', minLength: 1, maxLength: 64 } as const;
const text = (max: number) => ({ type: 'string', maxLength: max }) as const;
const audience = { anyOf: [{ type: 'string', minLength: 1, maxLength: 512 }, { type: 'array', minItems: 1, maxItems: 10, items: { type: 'string', minLength: 1, maxLength: 512 } }] } as const;
const eventList = { type: 'array', maxItems: 32, items: { type: 'string', maxLength: 512 } } as const;

const delivery = {
  type: 'object',
  additionalProperties: false,
  required: ['method'],
  properties: {
    method: { type: 'string', enum: [pushMethod, pollMethod] },
    endpoint_url: text(2048),
    authorization_header: text(4096),
  },
} as const;

/** Members a receiver sets; the transmitter's own (read back from GET) are accepted on PUT/PATCH and ignored. */
const receiverMembers = {
  aud: audience,
  events_requested: eventList,
  delivery,
  description: text(512),
  user_subject_format: { type: 'string', enum: ['iss_sub', 'email'] },
} as const;
const transmitterMembers = {
  iss: text(2048),
  events_supported: eventList,
  events_delivered: eventList,
  min_verification_interval: { type: 'integer' },
  inactivity_timeout: { type: 'integer' },
} as const;

export const createBody = {
  type: 'object',
  additionalProperties: false,
  properties: { ...receiverMembers },
} as const;

export const updateBody = {
  type: 'object',
  additionalProperties: false,
  required: ['stream_id'],
  properties: { stream_id: streamId, ...receiverMembers, ...transmitterMembers },
} as const;

export const statusBody = {
  type: 'object',
  additionalProperties: false,
  required: ['stream_id', 'status'],
  properties: { stream_id: streamId, status: { type: 'string', enum: ['enabled', 'paused', 'disabled'] }, reason: text(512) },
} as const;

const subject = { type: 'object', required: ['format'], properties: { format: { type: 'string', maxLength: 32 } } } as const;

export const addSubjectBody = {
  type: 'object',
  additionalProperties: false,
  required: ['stream_id', 'subject'],
  properties: { stream_id: streamId, subject, verified: { type: 'boolean' } },
} as const;

export const removeSubjectBody = {
  type: 'object',
  additionalProperties: false,
  required: ['stream_id', 'subject'],
  properties: { stream_id: streamId, subject },
} as const;

export const verifyBody = {
  type: 'object',
  additionalProperties: false,
  required: ['stream_id'],
  properties: { stream_id: streamId, state: text(512) },
} as const;

export const pollParams = { type: 'object', required: ['streamId'], properties: { streamId: streamId } } as const;

export const pollBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ack: { type: 'array', maxItems: 1000, items: { type: 'string', maxLength: 64 } },
    setErrs: {
      type: 'object',
      maxProperties: 1000,
      additionalProperties: { type: 'object', required: ['err'], properties: { err: text(64), description: text(1024) } },
    },
    maxEvents: { type: 'integer', minimum: 0, maximum: 1000 },
    returnImmediately: { type: 'boolean' },
  },
} as const;

/** A stream configuration as answered (SSF §8.1.1). */
export const streamResponse = {
  type: 'object',
  additionalProperties: true,
  required: ['stream_id', 'iss', 'aud', 'events_supported', 'events_requested', 'events_delivered', 'delivery'],
  properties: {
    stream_id: { type: 'string' },
    iss: { type: 'string' },
    aud: audience,
    events_supported: { type: 'array', items: { type: 'string', enum: [...eventsSupported] } },
    events_requested: { type: 'array', items: { type: 'string' } },
    events_delivered: { type: 'array', items: { type: 'string' } },
    delivery: { type: 'object', additionalProperties: true, properties: { method: { type: 'string' }, endpoint_url: { type: 'string' } } },
    description: { type: 'string' },
    user_subject_format: { type: 'string' },
    min_verification_interval: { type: 'integer' },
  },
} as const;

export const statusResponse = {
  type: 'object',
  additionalProperties: true,
  required: ['stream_id', 'status'],
  properties: { stream_id: { type: 'string' }, status: { type: 'string' }, reason: { type: 'string' } },
} as const;

export const pollResponse = {
  type: 'object',
  additionalProperties: true,
  required: ['sets'],
  properties: { sets: { type: 'object', additionalProperties: { type: 'string' } }, moreAvailable: { type: 'boolean' } },
} as const;

export const metadataResponse = { type: 'object', additionalProperties: true } as const;
