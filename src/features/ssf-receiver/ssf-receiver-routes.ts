import { TokenstileError } from '../../core/errors.ts';
import type { RouteDefinition } from '../../http/http-types.ts';
import { sendProblem } from '../../http/problem.ts';
import { seceventType } from '../../http/request-body.ts';
import { errorResponses as errors, type RouteContext, type RouteSet } from '../../http/routes/route-context.ts';
import { receiverOf } from './ssf-receiver-feature.ts';
import { SetCheckUnavailable } from './set-token.ts';

/** RFC 8935 section 2.3: the answer to a SET that was not accepted. */
const setError = {
  type: 'object',
  required: ['err', 'description'],
  properties: {
    err: { type: 'string', enum: ['invalid_request', 'invalid_key', 'invalid_issuer', 'invalid_audience', 'authentication_failed'] },
    description: { type: 'string' },
  },
} as const;

const params = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 64 } },
} as const;

/**
 * `POST /ssf/receivers/:id/events`: push delivery of Security Event Tokens (RFC 8935) to a
 * configured receiver. Also starts the poll loops and stream registrations of the receivers
 * (servers only), stopped when the server closes.
 */
export function ssfReceiverRoutes(context: RouteContext): RouteSet {
  const receiver = receiverOf(context.core);
  if (receiver === null) return { routes: [] };
  const stop = receiver.start();
  const route: RouteDefinition = {
    method: 'POST',
    url: '/ssf/receivers/:id/events',
    group: 'api',
    body: 'secevent',
    schema: {
      tags: ['shared signals'],
      summary: 'Shared Signals push delivery: a transmitter posts a Security Event Token (RFC 8935)',
      description:
        'Body: one SET (`application/secevent+jwt`), `Authorization: Bearer <the receiver\'s secret>`. Answers 202 once the sessions its `session-revoked` event names have ended on every instance (also for a SET seen before, or one naming no known user or session); 400 with `{err, description}` for a SET that is not valid, 401 with `err` `authentication_failed` for a wrong `Authorization`; 503 when the transmitter\'s keys cannot be fetched (send it again later).',
      consumes: [seceventType],
      params,
      body: { description: 'A Security Event Token (compact JWS)' },
      response: { 202: { type: 'null', description: 'Accepted: the sessions it names have ended' }, 400: setError, 401: setError, ...errors(404, 413, 415, 503) },
    },
    handler: async (request, reply) => {
      const { id } = request.params as { id: string };
      const authorization = request.headers.authorization;
      const body = typeof request.body === 'string' ? request.body : '';
      let answer;
      try {
        answer = await receiver.push(id, typeof authorization === 'string' ? authorization : undefined, body);
      } catch (err) {
        if (err instanceof SetCheckUnavailable) throw new TokenstileError('service_unavailable', 'The transmitter\'s signing keys cannot be fetched now; deliver the SET again later.', { cause: err });
        throw err;
      }
      if (answer === null) return sendProblem(reply, 'unknown_receiver');
      if (answer.status === 202) return reply.code(202).send();
      if (answer.status === 401) reply.header('www-authenticate', 'Bearer');
      return reply.code(answer.status).type('application/json').send({ err: answer.err, description: answer.description });
    },
  };
  return { routes: [route], close: stop };
}
