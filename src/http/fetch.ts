/** `tokenstile/fetch`: Tokenstile's routes as a Web `fetch` handler (Next.js route handlers, Hono, Bun, Deno). */
export { createFetchHandler, type ConnectionInfo, type FetchHandler } from './fetch-handler.ts';
export type { HandlerOptions } from './server-handler.ts';
export type { Logger } from '../core/config.ts';
