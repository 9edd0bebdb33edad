// The real process tree an operator starts: `npm start` (npm → sh → scripts/node.mjs → the server)
// and `node scripts/node.mjs bin/tokenstile.js serve`. Each tree runs in its own process group, as
// a terminal's foreground job does, so that "Ctrl-C" is a SIGINT to the whole group and "no
// orphans" means the group is empty. Runs the built dist/ (npm test builds it first).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const root = fileURLToPath(new URL('../..', import.meta.url));
const slow = 60_000; // a loaded 2-core machine can take a while to start npm and the server

interface Tree {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `command` in a new process group with the server on a free port and an in-memory database. */
function launch(command: string, args: string[]): Tree {
  const child = spawn(command, args, {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', TOKENSTILE_DATABASE_URL: 'sqlite::memory:', TOKENSTILE_LOG_LEVEL: 'debug' },
  });
  const lines: string[] = [];
  let pending = '';
  const collect = (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const parts = pending.split('\n');
    pending = parts.pop()!;
    lines.push(...parts);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, lines, exited };
}

async function eventually<T>(probe: () => T | undefined | false, what: string, timeoutMs = slow): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The server's JSON log lines with `msg`. */
function logged(tree: Tree, msg: string): Array<Record<string, unknown>> {
  return tree.lines.flatMap((l) => {
    try {
      const entry = JSON.parse(l) as Record<string, unknown>;
      return entry.msg === msg ? [entry] : [];
    } catch {
      return [];
    }
  });
}

async function serving(tree: Tree): Promise<URL> {
  const entry = await eventually(() => logged(tree, 'tokenstile: serving')[0], `the server to listen; output so far:\n${tree.lines.join('\n')}`);
  return new URL(String(entry.url));
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** Waits until every process of the tree's group has ended: nothing orphaned. */
async function treeGone(tree: Tree): Promise<void> {
  await tree.exited;
  await eventually(() => !groupAlive(tree.child.pid!), 'every process of the tree to end');
}

/** Kills what is left of a tree after a failed assertion, so that the test run does not hang. */
function reap(tree: Tree): void {
  if (groupAlive(tree.child.pid!)) process.kill(-tree.child.pid!, 'SIGKILL');
}

function assertCleanShutdown(tree: Tree, signal: string): void {
  const down = logged(tree, 'tokenstile: shutting down');
  assert.equal(down.length, 1, tree.lines.join('\n'));
  assert.equal(down[0]!.signal, signal);
  assert.equal(logged(tree, 'tokenstile: stopped').length, 1, `no clean stop in:\n${tree.lines.join('\n')}`);
}

test('Ctrl-C on npm start (SIGINT to the whole group, passed on again by npm and node.mjs) shuts down cleanly, every process ends', { timeout: 2 * slow }, async () => {
  const tree = launch('npm', ['start', '--ignore-scripts']); // dist/ is built; the prestart build is npm test's job
  try {
    await serving(tree);
    process.kill(-tree.child.pid!, 'SIGINT');
    await treeGone(tree);
    assertCleanShutdown(tree, 'SIGINT');
    // The shell between npm and node.mjs dies of the SIGINT, and npm reports that as shells do.
    const { code, signal } = await tree.exited;
    assert.ok(code === 0 || signal === 'SIGINT', `npm ended with ${code ?? signal}`);
  } finally {
    reap(tree);
  }
});

test('SIGTERM to npm start (a process manager stopping it) shuts the server down cleanly and leaves no orphan', { timeout: 2 * slow }, async () => {
  const tree = launch('npm', ['start', '--ignore-scripts']);
  try {
    await serving(tree);
    process.kill(tree.child.pid!, 'SIGTERM'); // npm only: the shell under it does not pass it on
    await treeGone(tree);
    assertCleanShutdown(tree, 'SIGTERM');
  } finally {
    reap(tree);
  }
});

/** Reads from a socket until the server closes it. */
function readAll(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    socket.on('data', (d) => (out += d.toString('utf8')));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
}

/**
 * Opens a connection and sends a login whose body is incomplete: a request in flight that keeps
 * the server closing until `finish` sends the rest (and whatever is pipelined behind it).
 */
async function requestInFlight(tree: Tree, url: URL): Promise<{ finish: (pipelined?: string) => void; answers: Promise<string> }> {
  const socket = connect(Number(url.port), url.hostname);
  await new Promise((r) => socket.once('connect', r));
  const answers = readAll(socket);
  const body = JSON.stringify({ email: 'nobody@example.com', password: 'not the password' });
  socket.write(`POST /auth/login HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
  await eventually(() => tree.lines.some((l) => l.includes('"incoming request"')), 'the login request to reach the server');
  return { finish: (pipelined = '') => socket.write(`${body.slice(10)}${pipelined}`), answers };
}

function refused(url: URL): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(Number(url.port), url.hostname);
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

test('while the server closes, the request in flight finishes (Connection: close) and a new one gets 503 problem+json', { timeout: 2 * slow }, async () => {
  const tree = launch(process.execPath, ['scripts/node.mjs', 'bin/tokenstile.js', 'serve']);
  try {
    const url = await serving(tree);
    const { finish, answers } = await requestInFlight(tree, url);
    // A second client that has begun a request, with its headers not yet complete: the connection
    // is not idle, so closing leaves it open, and its request arrives after the close began.
    const late = connect(Number(url.port), url.hostname);
    await new Promise((r) => late.once('connect', r));
    const lateAnswer = readAll(late);
    late.write(`GET /auth/me HTTP/1.1\r\nhost: ${url.host}\r\n`);
    process.kill(tree.child.pid!, 'SIGTERM');
    // Closing has begun once the listener refuses new connections.
    let closed = false;
    const deadline = Date.now() + slow;
    while (!(closed = await refused(url)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(closed, 'the server kept accepting connections after SIGTERM');
    late.write('\r\n');
    const [head, payload] = (await lateAnswer).split('\r\n\r\n') as [string, string];
    assert.match(head, /^HTTP\/1\.1 503 /);
    assert.match(head, /\r\ncontent-type: application\/problem\+json/i);
    assert.match(head, /\r\nconnection: close/i);
    assert.match(head, /\r\nretry-after: \d+/i);
    const problem = JSON.parse(payload) as Record<string, unknown>;
    assert.equal(problem.code, 'service_unavailable');
    assert.equal(problem.status, 503);
    assert.equal(problem.type, 'urn:tokenstile:error:service_unavailable');
    finish();
    const inFlight = await answers; // ends: the server closed this keep-alive connection itself
    assert.match(inFlight, /^HTTP\/1\.1 401 /);
    assert.match(inFlight, /\r\nconnection: close/i);
    await treeGone(tree);
    assertCleanShutdown(tree, 'SIGTERM');
  } finally {
    reap(tree);
  }
});

test('Ctrl-C pressed again while scripts/node.mjs serve is closing does not cut the shutdown short', { timeout: 2 * slow }, async () => {
  const tree = launch(process.execPath, ['scripts/node.mjs', 'bin/tokenstile.js', 'serve']);
  try {
    const url = await serving(tree);
    const { finish, answers } = await requestInFlight(tree, url);
    // The terminal's SIGINT reaches node.mjs and the server, and node.mjs passes its copy on.
    process.kill(-tree.child.pid!, 'SIGINT');
    await eventually(() => logged(tree, 'tokenstile: shutting down').length > 0, 'the shutdown to begin');
    process.kill(-tree.child.pid!, 'SIGINT');
    await eventually(() => logged(tree, 'tokenstile: already shutting down').length > 0, 'the repeated SIGINT to be absorbed');
    assert.equal(logged(tree, 'tokenstile: stopped').length, 0, 'stopped while a request was still in flight');
    finish();
    assert.match(await answers, /^HTTP\/1\.1 401 /);
    await treeGone(tree);
    assertCleanShutdown(tree, 'SIGINT');
    assert.deepEqual(await tree.exited, { code: 0, signal: null });
  } finally {
    reap(tree);
  }
});
