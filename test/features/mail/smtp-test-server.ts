// A real SMTP server for the tests (the `smtp-server` package on 127.0.0.1, a free port): it
// receives what Tokenstile sends over the wire, decodes it, and can refuse or stall on purpose.
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';

/** A received mail, decoded. */
export interface ReceivedMail {
  readonly from: string;
  readonly to: readonly string[];
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly raw: string;
}

export interface SmtpTestServer {
  /** `smtp://user:pass@127.0.0.1:PORT` (credentials when `auth` was given). */
  readonly url: string;
  readonly received: ReceivedMail[];
  /** How many logins (AUTH) the server was sent, right or wrong. */
  readonly authAttempts: () => number;
  /** Answers the next `n` mails with a temporary failure (451). */
  failNext(n: number): void;
  /** While true, accepts connections and then never answers the mail data. */
  stall(on: boolean): void;
  /** Waits (bounded) for a mail to `to` matching `match`; returns it. */
  waitFor(to: string, match?: (m: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

function decodeQuotedPrintable(s: string): string {
  const bytes = s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

function splitPart(part: string): { headers: Record<string, string>; body: string } {
  const at = part.search(/\r?\n\r?\n/);
  const head = at === -1 ? part : part.slice(0, at);
  const body = at === -1 ? '' : part.slice(at).replace(/^\r?\n\r?\n/, '');
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return { headers, body };
}

function decodeBody(headers: Record<string, string>, body: string): string {
  const encoding = (headers['content-transfer-encoding'] ?? '').toLowerCase();
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(body);
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  return body;
}

function decodeWords(s: string): string {
  return s.replace(/=\?utf-8\?([QB])\?([^?]*)\?=/gi, (_, enc: string, text: string) =>
    enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : decodeQuotedPrintable(text.replace(/_/g, ' ')),
  );
}

/** Decodes the text and HTML parts of a (possibly multipart/alternative) message. */
export function parseMail(raw: string, from: string, to: string[]): ReceivedMail {
  const { headers, body } = splitPart(raw);
  let text = '';
  let html = '';
  const boundary = /boundary="?([^";]+)"?/i.exec(headers['content-type'] ?? '')?.[1];
  const parts = boundary === undefined ? [{ headers, body }] : body.split(`--${boundary}`).slice(1, -1).map((p) => splitPart(p.replace(/^\r?\n/, '')));
  for (const p of parts) {
    const type = (p.headers['content-type'] ?? 'text/plain').toLowerCase();
    if (type.startsWith('text/plain')) text = decodeBody(p.headers, p.body);
    else if (type.startsWith('text/html')) html = decodeBody(p.headers, p.body);
  }
  return { from, to, subject: decodeWords(headers.subject ?? ''), text, html, raw };
}

/** Starts the server; with `auth`, mail is accepted only after that login. */
export async function startSmtpServer(options: { auth?: { user: string; pass: string } } = {}): Promise<SmtpTestServer> {
  const received: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
  let failing = 0;
  let stalled = false;
  let auths = 0;
  const server = new SMTPServer({
    secure: false,
    disabledCommands: options.auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    allowInsecureAuth: true,
    authOptional: options.auth === undefined,
    logger: false,
    closeTimeout: 500,
    onAuth(auth, _session, callback) {
      auths += 1;
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) return callback(null, { user: auth.username });
      return callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (stalled) return; // never answers: the sender's bound must end the attempt
        if (failing > 0) {
          failing -= 1;
          return callback(Object.assign(new Error('Try again later'), { responseCode: 451 }));
        }
        const from = session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address;
        received.push(parseMail(Buffer.concat(chunks).toString('latin1'), from, session.envelope.rcptTo.map((r) => r.address)));
        for (const w of waiters) w();
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  const credentials = options.auth ? `${encodeURIComponent(options.auth.user)}:${encodeURIComponent(options.auth.pass)}@` : '';
  return {
    url: `smtp://${credentials}127.0.0.1:${port}`,
    received,
    authAttempts: () => auths,
    failNext(n) {
      failing = n;
    },
    stall(on) {
      stalled = on;
    },
    waitFor(to, match = () => true, timeoutMs = 15_000) {
      const find = () => received.find((m) => m.to.includes(to) && match(m));
      const found = find();
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no mail to ${to} within ${timeoutMs} ms (received: ${received.map((m) => `${m.to.join(',')} "${m.subject}"`).join('; ') || 'none'})`));
        }, timeoutMs);
        const check = () => {
          const m = find();
          if (!m) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(m);
        };
        waiters.add(check);
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The first link in a mail's text that goes to `base` (the account page). */
export function linkIn(mail: ReceivedMail, base: string): string {
  const link = mail.text.split(/\s+/).find((w) => w.startsWith(base));
  if (link === undefined) throw new Error(`no link to ${base} in the mail "${mail.subject}"`);
  return link;
}
