/** `tokenstile/node`: Tokenstile's routes as a Node `(req, res, next?)` handler (Express, Connect, `node:http`). */
export { callerOf, createNodeHandler, type AuthenticatedRequest, type NodeHandler, type ProtectMiddleware } from './node-handler.ts';
export type { AuthInfo } from '../core/auth-info.ts';
export type { HandlerOptions } from './server-handler.ts';
export type { Logger } from '../core/config.ts';
