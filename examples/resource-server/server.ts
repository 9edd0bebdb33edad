// A resource server (an "orders" API) that trusts Tokenstile's access tokens: it verifies them
// locally with tokenstile/verify, and a logout at the auth server is refused here at once, because
// the auth server pushes revocations to this process over its revocation stream.
import express from 'express';
import { createVerifier } from 'tokenstile/verify';
import { expressAuth } from 'tokenstile/express';

const env = process.env;
const authUrl = (env.TOKENSTILE_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
const clientId = env.ORDERS_CLIENT_ID;
const clientSecret = env.ORDERS_CLIENT_SECRET;
if (!clientId || !clientSecret) {
  console.error('Set ORDERS_CLIENT_ID and ORDERS_CLIENT_SECRET (tokenstile clients create --id orders-api).');
  process.exit(2);
}

const verifier = createVerifier({
  issuer: env.TOKENSTILE_ISSUER ?? authUrl,
  audience: env.TOKENSTILE_AUDIENCE ?? 'tokenstile',
  algorithms: [(env.TOKENSTILE_SIGNING_ALG as 'ES256' | 'EdDSA' | 'RS256' | undefined) ?? 'ES256'],
  jwksUrl: `${authUrl}/.well-known/jwks.json`,
  revocations: {
    clientId,
    clientSecret,
    url: `${authUrl}/revocations/stream`,
    introspectionUrl: `${authUrl}/oauth/introspect`,
    // Refuse (503) when revocations may be more than 2 s behind; 'introspect' asks the auth server instead.
    onStale: env.ORDERS_ON_STALE === 'introspect' ? 'introspect' : 'refuse',
    staleAfter: env.ORDERS_STALE_AFTER ?? '2s',
    // ORDERS_ACKNOWLEDGE=true: a logout answers only once this process refuses its tokens (docs/verify.md).
    acknowledge: env.ORDERS_ACKNOWLEDGE === 'true',
  },
  onEvent: (e) => {
    if (e.type === 'stream_error' || e.type === 'jwks_error') console.error(`verifier: ${e.type}: ${e.message}`);
  },
});

const app = express();
const orders = new Map<string, string[]>();

app.get('/', (_req, res) => {
  res.json({ service: 'orders', auth: authUrl });
});

// Ready when the revocation list is current: put this behind your load balancer's health check.
app.get('/readyz', (_req, res) => {
  res.status(verifier.fresh ? 200 : 503).json({ fresh: verifier.fresh, revokedSessions: verifier.revocationCount });
});

app.get('/orders', expressAuth(verifier), (req, res) => {
  const { userId, sessionId } = req.auth!;
  res.json({ userId, sessionId, orders: orders.get(userId) ?? [] });
});

app.post('/orders', expressAuth(verifier), express.json({ limit: '4kb' }), (req, res) => {
  const item = typeof req.body?.item === 'string' ? req.body.item.slice(0, 200) : null;
  if (!item) {
    res.status(400).type('application/problem+json').send(JSON.stringify({ type: 'about:blank', title: 'item is required', status: 400 }));
    return;
  }
  const list = orders.get(req.auth!.userId) ?? [];
  list.push(item);
  orders.set(req.auth!.userId, list);
  res.status(201).json({ orders: list });
});

await verifier.ready(30_000);
const port = Number(env.PORT ?? 4001);
const server = app.listen(port, env.HOST ?? '127.0.0.1', () => {
  const address = server.address();
  console.log(`orders API listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`);
});
const stop = () => {
  verifier.close();
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
