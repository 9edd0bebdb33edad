/** `tokenstile/node`: Tokenstile's routes as a Node `(req, res, next?)` handler (Express, Connect, `node:http`). */
export { createNodeHandler, type NodeHandler } from './node-handler.ts';
export type { HandlerOptions } from './server-handler.ts';
export type { Logger } from '../core/config.ts';
