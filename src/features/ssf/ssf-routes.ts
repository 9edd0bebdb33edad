import { randomBytes } from 'node:crypto';
import { requireClient } from '../../http/client-auth.ts';
import type { HttpReply, HttpRequest, RouteDefinition } from '../../http/http-types.ts';
import { sendProblem } from '../../http/problem.ts';
import { errorResponses as errors, type RouteContext, type RouteSet } from '../../http/routes/route-context.ts';
import { noContent } from '../../http/schemas.ts';
import { receiverConfig, streamView, type ConfigInput } from './ssf-config.ts';
import { sharedSignalsOf, type SharedSignals } from './ssf-feature.ts';
import { pollMethod, pushMethod, type StreamRecord, type StreamStatus } from './ssf-store.ts';
import * as s from './ssf-schemas.ts';
import { subjectKey } from './ssf-subjects.ts';

const tags = ['shared-signals'];
const security = [{ clientBasic: [] }];
const api = { group: 'api', body: 'json' } as const;

/** Paths of the transmitter's endpoints, below the issuer. */
export const ssfPaths = {
  configuration: '/ssf/streams',
  status: '/ssf/status',
  addSubject: '/ssf/subjects/add',
  removeSubject: '/ssf/subjects/remove',
  verification: '/ssf/verify',
  poll: '/ssf/poll',
} as const;

/** The query parameter `name` of a request. */
function queryParam(request: HttpRequest, name: string): string | null {
  const url = request.url ?? '';
  const at = url.indexOf('?');
  return at === -1 ? null : new URLSearchParams(url.slice(at + 1)).get(name);
}

/**
 * The OpenID Shared Signals transmitter's routes (docs/shared-signals.md): the metadata at
 * `/.well-known/ssf-configuration` (and below it the issuer's path, when it has one), stream
 * configuration, status, subjects and verification (SSF 1.0 §7–8), and the poll endpoint of poll
 * streams (RFC 8936). Receivers authenticate as the server's clients (HTTP Basic); each sees and
 * manages only its own streams (another's answer 404). None when the feature is off.
 */
export function ssfRoutes(context: RouteContext): RouteSet {
  const { core, clients } = context;
  const ssf = sharedSignalsOf(core);
  if (ssf === null) return { routes: [] };
  ssf.transmitter.setReceiverCheck((clientId) => clients.knows(clientId));
  const issuer = core.config.issuer;
  const base = issuer.replace(/\/+$/, '');
  const pollUrl = (id: string) => `${base}${ssfPaths.poll}/${encodeURIComponent(id)}`;
  const view = (stream: StreamRecord) => streamView(stream, issuer, pollUrl);
  const now = () => Date.now();

  const metadata = {
    spec_version: '1_0',
    issuer,
    jwks_uri: `${base}/.well-known/jwks.json`,
    delivery_methods_supported: [pushMethod, pollMethod],
    configuration_endpoint: `${base}${ssfPaths.configuration}`,
    status_endpoint: `${base}${ssfPaths.status}`,
    add_subject_endpoint: `${base}${ssfPaths.addSubject}`,
    remove_subject_endpoint: `${base}${ssfPaths.removeSubject}`,
    verification_endpoint: `${base}${ssfPaths.verification}`,
    // Client credentials in HTTP Basic (RFC 7617), as `/oauth/introspect` and the revocation stream take them.
    authorization_schemes: [{ spec_urn: 'urn:ietf:rfc:7617' }],
    default_subjects: ssf.settings.defaultSubjects,
  };
  const issuerPath = new URL(issuer).pathname.replace(/\/+$/, '');
  const metadataRoute = (url: string): RouteDefinition => ({
    method: 'GET',
    url,
    group: 'plain',
    body: 'none',
    schema: { tags, summary: 'Shared Signals transmitter configuration metadata (SSF 1.0 §7.1)', response: { 200: s.metadataResponse } },
    handler: async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=3600');
      return metadata;
    },
  });

  /** The calling client's stream `id`, or null once answered (401, or 404 for none of its own). */
  const ownStream = async (request: HttpRequest, reply: HttpReply, id: string | null | undefined): Promise<{ clientId: string; stream: StreamRecord } | null> => {
    const clientId = await requireClient(clients, request, reply);
    if (clientId === null) return null;
    if (typeof id !== 'string' || id.length === 0) {
      sendProblem(reply, 'invalid_request', { field: 'stream_id', detail: 'stream_id is required.' });
      return null;
    }
    const stream = await ssf.store.stream(id);
    if (stream === null || stream.clientId !== clientId) {
      sendProblem(reply, 'not_found', { detail: 'This receiver has no stream with this stream_id.' });
      return null;
    }
    return { clientId, stream };
  };

  /** Stores a configuration or answers the field it refused. */
  const configured = (reply: HttpReply, input: ConfigInput, clientId: string, current?: StreamRecord, merge = false) => {
    // PATCH keeps what is not sent; PUT replaces all but the delivery (whose authorization_header is never read back).
    const base = current === undefined ? undefined : merge ? current.config : { delivery: current.config.delivery };
    const config = receiverConfig(input, clientId, ssf.settings, ssf.sealSecret, base);
    if ('field' in config) {
      sendProblem(reply, 'invalid_request', { field: config.field, detail: config.detail });
      return null;
    }
    return config;
  };

  const update = (merge: boolean): RouteDefinition => ({
    ...api,
    method: merge ? 'PATCH' : 'PUT',
    url: ssfPaths.configuration,
    schema: {
      tags,
      security,
      summary: merge ? 'Update a stream (SSF §8.1.1.3): the members sent replace theirs' : 'Replace a stream\'s configuration (SSF §8.1.1.4)',
      body: s.updateBody,
      response: { 200: s.streamResponse, ...errors(400, 401, 404) },
    },
    handler: async (request, reply) => {
      const body = request.body as ConfigInput & { stream_id: string };
      const own = await ownStream(request, reply, body.stream_id);
      if (own === null) return reply;
      const config = configured(reply, body, own.clientId, own.stream, merge);
      if (config === null) return reply;
      await ssf.store.updateConfig(own.stream.id, config, now());
      return view({ ...own.stream, config });
    },
  });

  const routes: RouteDefinition[] = [
    metadataRoute('/.well-known/ssf-configuration'),
    ...(issuerPath === '' ? [] : [metadataRoute(`/.well-known/ssf-configuration${issuerPath}`)]),
    {
      ...api,
      method: 'POST',
      url: ssfPaths.configuration,
      schema: {
        tags,
        security,
        summary: 'Create a stream (SSF §8.1.1.1)',
        description: 'Answers 201 with the configuration. `aud` defaults to the client id, `events_requested` to the CAEP events. Push `endpoint_url` must be https (http on loopback).',
        body: s.createBody,
        response: { 201: s.streamResponse, ...errors(400, 401, 409) },
      },
      handler: async (request, reply) => {
        const clientId = await requireClient(clients, request, reply);
        if (clientId === null) return reply;
        const config = configured(reply, (request.body ?? {}) as ConfigInput, clientId);
        if (config === null) return reply;
        const stream: StreamRecord = { id: randomBytes(16).toString('base64url'), clientId, config, status: 'enabled', reason: null, createdAt: now() };
        if (!(await ssf.store.createStream(stream, ssf.settings.maxStreamsPerClient))) {
          return sendProblem(reply, 'stream_limit_reached', { detail: `A receiver may have ${ssf.settings.maxStreamsPerClient} streams.` });
        }
        return reply.code(201).send(view(stream));
      },
    },
    {
      ...api,
      method: 'GET',
      url: ssfPaths.configuration,
      schema: {
        tags,
        security,
        summary: 'Read a stream (`?stream_id=`), or all of the receiver\'s streams (SSF §8.1.1.2)',
        response: errors(401, 404),
      },
      handler: async (request, reply) => {
        const id = queryParam(request, 'stream_id');
        if (id === null) {
          const clientId = await requireClient(clients, request, reply);
          if (clientId === null) return reply;
          return (await ssf.store.streamsOf(clientId)).map(view);
        }
        const own = await ownStream(request, reply, id);
        return own === null ? reply : view(own.stream);
      },
    },
    update(true),
    update(false),
    {
      ...api,
      method: 'DELETE',
      url: ssfPaths.configuration,
      schema: { tags, security, summary: 'Delete a stream and its undelivered SETs (SSF §8.1.1.5)', response: { 204: noContent, ...errors(401, 404) } },
      handler: async (request, reply) => {
        const own = await ownStream(request, reply, queryParam(request, 'stream_id'));
        if (own === null) return reply;
        await ssf.store.deleteStream(own.stream.id);
        return reply.code(204).send();
      },
    },
    {
      ...api,
      method: 'GET',
      url: ssfPaths.status,
      schema: { tags, security, summary: 'A stream\'s status (SSF §8.1.2.1)', response: { 200: s.statusResponse, ...errors(400, 401, 404) } },
      handler: async (request, reply) => {
        const own = await ownStream(request, reply, queryParam(request, 'stream_id'));
        if (own === null) return reply;
        return { stream_id: own.stream.id, status: own.stream.status, ...(own.stream.reason !== null && { reason: own.stream.reason }) };
      },
    },
    {
      ...api,
      method: 'POST',
      url: ssfPaths.status,
      schema: {
        tags,
        security,
        summary: 'Set a stream\'s status (SSF §8.1.2.2)',
        description: '`paused` holds SETs until `enabled` again; `disabled` stores none (and drops none already stored). Each change is followed by a stream-updated SET.',
        body: s.statusBody,
        response: { 200: s.statusResponse, ...errors(400, 401, 404) },
      },
      handler: async (request, reply) => {
        const body = request.body as { stream_id: string; status: StreamStatus; reason?: string };
        const own = await ownStream(request, reply, body.stream_id);
        if (own === null) return reply;
        const reason = body.reason ?? null;
        await ssf.store.setStatus(own.stream.id, body.status, reason, now());
        await ssf.transmitter.statusChanged({ ...own.stream, status: body.status }, body.status, reason);
        if (body.status === 'enabled') ssf.transmitter.wake();
        return { stream_id: own.stream.id, status: body.status, ...(reason !== null && { reason }) };
      },
    },
    subjectRoute(ssf, ownStream, true),
    subjectRoute(ssf, ownStream, false),
    {
      ...api,
      method: 'POST',
      url: ssfPaths.verification,
      schema: {
        tags,
        security,
        summary: 'Ask for a verification SET (SSF §8.1.4)',
        description: 'Answers 204; the verification event (with `state`) follows on the stream, whatever its events_requested.',
        body: s.verifyBody,
        response: { 204: noContent, ...errors(400, 401, 404) },
      },
      handler: async (request, reply) => {
        const body = request.body as { stream_id: string; state?: string };
        const own = await ownStream(request, reply, body.stream_id);
        if (own === null) return reply;
        if (own.stream.status !== 'disabled') await ssf.transmitter.verify(own.stream, body.state);
        return reply.code(204).send();
      },
    },
    {
      ...api,
      method: 'POST',
      url: `${ssfPaths.poll}/:streamId`,
      schema: {
        tags,
        security,
        summary: 'Poll a stream\'s SETs (RFC 8936)',
        description:
          'Acknowledges `ack` (deleted, never sent again), records `setErrs`, and answers up to `maxEvents` (default 100) pending SETs as `{sets: {jti: SET}, moreAvailable}`. A SET not acknowledged comes again in the next poll. Unless `returnImmediately` is true, a poll with nothing pending waits (at most `longPollTimeout`) for a SET (RFC 8936 §2.4: `returnImmediately` defaults to false).',
        params: s.pollParams,
        body: s.pollBody,
        response: { 200: s.pollResponse, ...errors(400, 401, 404) },
      },
      preValidation: (request) => {
        if (request.body === undefined) request.body = {};
      },
      handler: async (request, reply) => {
        const own = await ownStream(request, reply, (request.params as { streamId: string }).streamId);
        if (own === null) return reply;
        if (own.stream.config.delivery.method !== pollMethod) return sendProblem(reply, 'invalid_request', { field: 'stream_id', detail: 'This stream is delivered by push, not poll.' });
        const body = request.body as { ack?: string[]; setErrs?: Record<string, { err: string; description?: string }>; maxEvents?: number; returnImmediately?: boolean };
        return ssf.transmitter.poll(own.stream, { ack: body.ack ?? [], setErrs: body.setErrs ?? {}, maxEvents: body.maxEvents ?? 100, returnImmediately: body.returnImmediately ?? false });
      },
    },
  ];
  return { routes };
}

type OwnStream = (request: HttpRequest, reply: HttpReply, id: string | null | undefined) => Promise<{ clientId: string; stream: StreamRecord } | null>;

/** Add (SSF §8.1.3.2) or remove (§8.1.3.3) a subject. */
function subjectRoute(ssf: SharedSignals, ownStream: OwnStream, add: boolean): RouteDefinition {
  return {
    ...api,
    method: 'POST',
    url: add ? ssfPaths.addSubject : ssfPaths.removeSubject,
    schema: {
      tags,
      security,
      summary: add ? 'Add a subject to a stream (SSF §8.1.3.2)' : 'Remove a subject from a stream (SSF §8.1.3.3)',
      description: 'Subjects: `iss_sub` (our issuer, a user id), `email`, `opaque` (a session id), or `complex` with `user` or `session`. Whether the user exists is not told.',
      body: add ? s.addSubjectBody : s.removeSubjectBody,
      response: { [add ? 200 : 204]: noContent, ...errors(400, 401, 404, 409) },
    },
    handler: async (request, reply) => {
      const body = request.body as { stream_id: string; subject: unknown };
      const own = await ownStream(request, reply, body.stream_id);
      if (own === null) return reply;
      const key = subjectKey(body.subject, ssf.issuer);
      if ('error' in key) return sendProblem(reply, 'invalid_request', { field: 'subject', detail: key.error });
      if (!(await ssf.store.setSubject(own.stream.id, key.key, add, ssf.settings.maxSubjectsPerStream))) {
        return sendProblem(reply, 'subject_limit_reached', { detail: `A stream may have ${ssf.settings.maxSubjectsPerStream} subjects.` });
      }
      return reply.code(add ? 200 : 204).send();
    },
  };
}
