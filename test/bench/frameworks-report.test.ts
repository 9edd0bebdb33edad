// The framework scenarios' report: CPU-per-request ratios against the stateless check and against
// Fastify, targets met or missed by the goals, and a failed scenario reported as not measured.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adapterAuthSection, frameworkProtectSection } from '../../bench/lib/frameworks-report.ts';

const run = { seconds: 3, rounds: 1 };
const fig = (cpuPerRequest: number, rps = 1000) => ({ cpuPerRequest, rps });

test('the protected-route target compares Tokenstile with the same framework\'s stateless check', () => {
  const r = frameworkProtectSection(new Map([
    ['express-stateless', fig(200)], ['express-cached', fig(80)], ['express-tokenstile', fig(100)],
    ['hono-stateless', fig(100)], ['hono-cached', fig(90)], ['hono-tokenstile', fig(110)],
  ]), run);
  assert.deepEqual(r.targets.map((t) => [t.measured, t.met]), [['0.50×', true], ['1.10×', false]]);
  assert.match(r.section, /\| Express, Tokenstile `auth\.protect\(\)` \(tokenstile\/node\) \| 100 µs \| 0\.50× \| 1\.25× \| 1,000 \|/);
  assert.match(r.section, /\| Hono, cached signature check, no revocation \(ceiling\) \| 90\.0 µs \| 0\.90× \| — \|/);
});

test('a variant that was not measured leaves its target not measured, never met', () => {
  const r = frameworkProtectSection(new Map([['express-tokenstile', fig(100)]]), run);
  assert.deepEqual(r.targets.map((t) => t.met), [null, null]);
  assert.match(r.section, /Express, stateless JWT check \(jose, no revocation\) \| not measured/);
  const failed = frameworkProtectSection('failed in this run: boom', run);
  assert.match(failed.section, /failed in this run: boom/);
  assert.ok(failed.targets.every((t) => t.met === null && t.measured === 'failed in this run: boom'));
});

test('login and refresh through each adapter are compared with Fastify', () => {
  const r = adapterAuthSection({
    login: new Map([['fastify', fig(1000)], ['express', fig(1050)], ['hono', fig(1200)]]),
    refresh: new Map([['fastify', fig(500)], ['express', fig(500)], ['hono', fig(540)]]),
  }, run);
  assert.deepEqual(r.targets.map((t) => [t.target.split(':')[0], t.target.includes('login') ? 'login' : 'refresh', t.measured, t.met]), [
    ['Express (Node handler, tokenstile/node)', 'login', '1.05×', true],
    ['Express (Node handler, tokenstile/node)', 'refresh', '1.00×', true],
    ['Hono (fetch handler, tokenstile/fetch)', 'login', '1.20×', false],
    ['Hono (fetch handler, tokenstile/fetch)', 'refresh', '1.08×', true],
  ]);
  assert.match(r.section, /\| Fastify \(`buildApp`\) \| 1000 µs \| — \| 1,000\/s \| 500 µs \| — \| 1,000\/s \|/);
});
