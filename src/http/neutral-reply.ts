import { stringifySetCookie } from 'cookie';
import type { CookieAttributes, EventSink, HttpReply } from './http-types.ts';

/** What a route answered, for an adapter to write out. */
export interface HttpAnswer {
  readonly status: number;
  /** Lower-case names; `set-cookie` holds one entry per cookie. */
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly body: string | Buffer | null;
}

/**
 * The reply of the Node and fetch adapters: headers, cookies and a body collected in memory, or a
 * connection handed over for server-sent events (`openStream`, given by the adapter).
 */
export class NeutralReply implements HttpReply {
  status = 200;
  body: string | Buffer | null = null;
  #sent = false;
  streamed = false;
  readonly #headers = new Map<string, string>();
  // Keyed by name, domain and path as @fastify/cookie does: a later cookie replaces an earlier one.
  readonly #cookies = new Map<string, string>();
  readonly #openStream: (headers: Readonly<Record<string, string>>) => EventSink;

  constructor(openStream: (headers: Readonly<Record<string, string>>) => EventSink) {
    this.#openStream = openStream;
  }

  get sent(): boolean {
    return this.#sent;
  }

  code(status: number): this {
    this.status = status;
    return this;
  }

  header(name: string, value: string): this {
    this.#headers.set(name.toLowerCase(), value);
    return this;
  }

  getHeader(name: string): string | undefined {
    return this.#headers.get(name.toLowerCase());
  }

  hasHeader(name: string): boolean {
    return this.#headers.has(name.toLowerCase());
  }

  removeHeader(name: string): this {
    this.#headers.delete(name.toLowerCase());
    return this;
  }

  type(contentType: string): this {
    return this.header('content-type', contentType);
  }

  setCookie(name: string, value: string, attributes: CookieAttributes): this {
    this.#cookies.set(`${name};${attributes.path}`, stringifySetCookie({ name, value, ...attributes }));
    return this;
  }

  clearCookie(name: string, attributes: CookieAttributes): this {
    this.#cookies.set(`${name};${attributes.path}`, stringifySetCookie({ name, value: '', ...attributes, expires: new Date(0), maxAge: 0 }));
    return this;
  }

  send(body?: unknown): this {
    this.#sent = true;
    if (body === undefined || body === null) {
      this.body = null;
    } else if (typeof body === 'string') {
      if (!this.hasHeader('content-type')) this.type('text/plain; charset=utf-8');
      this.body = body;
    } else if (Buffer.isBuffer(body)) {
      if (!this.hasHeader('content-type')) this.type('application/octet-stream');
      this.body = body;
    } else {
      if (!this.hasHeader('content-type')) this.type('application/json; charset=utf-8');
      this.body = JSON.stringify(body);
    }
    return this;
  }

  eventStream(headers: Readonly<Record<string, string>>): EventSink {
    this.#sent = true;
    this.streamed = true;
    return this.#openStream(headers);
  }

  /** The answer to write: status, headers (cookies as `set-cookie`) and body. */
  answer(): HttpAnswer {
    const headers: Record<string, string | string[]> = Object.fromEntries(this.#headers);
    if (this.#cookies.size > 0) headers['set-cookie'] = [...this.#cookies.values()];
    const body = this.body;
    if (body !== null) headers['content-length'] = String(Buffer.byteLength(body));
    return { status: this.status, headers, body };
  }
}
