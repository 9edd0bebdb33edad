/** `tokenstile/fetch`: Tokenstile's routes as a Web `fetch` handler (Next.js route handlers, Hono, Bun, Deno). */
export { createFetchHandler, withAuth, type ConnectionInfo, type FetchHandler, type HonoContext, type HonoMiddleware, type ProtectOptions } from './fetch-handler.ts';
export type { AuthInfo } from '../core/auth-info.ts';
export type { HandlerOptions } from './server-handler.ts';
export type { Logger } from '../core/config.ts';
