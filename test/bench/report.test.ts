// The bench harness's pure helpers: percentile math, formatting, Markdown and SVG rendering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { barChart, table, targetsTable } from '../../bench/lib/report.ts';
import { modeGate } from '../../bench/lib/modes.ts';
import { count, median, ms, percentile, ratio } from '../../bench/lib/stats.ts';

test('percentile uses the nearest rank and does not reorder its input', () => {
  const xs = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
  assert.equal(percentile(xs, 50), 5);
  assert.equal(percentile(xs, 99), 10);
  assert.equal(percentile(xs, 10), 1);
  assert.equal(percentile(xs, 0), 1);
  assert.deepEqual(xs.slice(0, 3), [5, 1, 4]);
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2);
});

test('figures are formatted for the report, with a dash for what is missing', () => {
  assert.equal(count(12345.6), '12,346');
  assert.equal(count(Number.NaN), '—');
  assert.equal(ms(0.4211), '0.42 ms');
  assert.equal(ms(12.34), '12.3 ms');
  assert.equal(ms(140.2), '140 ms');
  assert.equal(ratio(95, 100), '0.95×');
  assert.equal(ratio(1, 0), '—');
});

test('tables and targets render as Markdown, a target not measured says so', () => {
  assert.equal(table(['a', 'b'], [['1', '2']]), '| a | b |\n| --- | --- |\n| 1 | 2 |');
  const t = targetsTable([
    { target: 'x ≥ 1', measured: '2', met: true },
    { target: 'y ≥ 1', measured: '0', met: false },
    { target: 'z', measured: 'not available', met: null },
  ]);
  assert.match(t, /\| x ≥ 1 \| 2 \| \*\*met\*\* \|/);
  assert.match(t, /\| y ≥ 1 \| 0 \| \*\*missed\*\* \|/);
  assert.match(t, /\| z \| not available \| not measured \|/);
});

test('the bar chart scales bars to the largest value, escapes labels and notes missing bars', () => {
  const svg = barChart('T <1>', 'req/s', [
    { label: 'a & b', value: 100 },
    { label: 'half', value: 50, accent: true },
    { label: 'none', value: null, note: 'not available in this build' },
  ]);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /T &lt;1&gt;/);
  assert.match(svg, /a &amp; b/);
  const widths = [...svg.matchAll(/<rect x="\d+" y="\d+" width="(\d+)"/g)].map((m) => Number(m[1]));
  assert.equal(widths.length, 2);
  assert.equal(widths[0], widths[1]! * 2);
  assert.match(svg, /not available in this build/);
  assert.match(svg, /#2f6fde/);
});

test('a mode the build refuses is reported unavailable; one it ignores is caught after start', () => {
  const refusing = () => {
    throw new Error('only "pushed" is supported by this version');
  };
  const refused = modeGate('strict', refusing);
  assert.equal(refused.ok, false);
  assert.match(!refused.ok ? refused.reason : '', /not available in this build: TOKENSTILE_REVOCATION_CHECK=strict/);
  const accepting = modeGate('opaque', () => ({}));
  assert.ok(accepting.ok);
  assert.deepEqual(accepting.options, { accessTokenFormat: 'opaque' });
  assert.match(accepting.check({}, 'opaque-token') ?? '', /ignores accessTokenFormat/);
  assert.match(accepting.check({ accessTokenFormat: 'opaque' }, 'a.b.c') ?? '', /still hands out a JWT/);
  assert.equal(accepting.check({ accessTokenFormat: 'opaque' }, 'tso_abc'), null);
  assert.ok(modeGate('tokenstile', refusing).ok, 'the default mode needs nothing');
});
