// Each setting is defined once (src/core/option-definitions.ts, src/cli/server-options.ts); the
// docs table and --help are made from the definitions, and these tests keep them so.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { CliIo } from '../../src/cli/admin-commands.ts';
import { runCli } from '../../src/cli/main.ts';
import { environment, environmentTable } from '../../src/cli/server-options.ts';
import { resolveConfig } from '../../src/core/config.ts';
import { parseDuration } from '../../src/core/duration.ts';
import { coreOptions } from '../../src/core/option-definitions.ts';

const docs = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

test('the environment table of docs/configuration.md is the one the definitions make, row for row', () => {
  const section = docs.slice(docs.indexOf('## Environment variables'));
  const inDocs = section.slice(0, section.indexOf('\n\n', section.indexOf('| variable |'))).split('\n').filter((l) => l.startsWith('|'));
  assert.deepEqual(inDocs, environmentTable().split('\n'), 'regenerate the table from environmentTable()');
});

test('--help lists every variable with its default, as defined', async () => {
  const out: string[] = [];
  const io: CliIo = { out: (l) => out.push(l), err: () => {}, readStdin: async () => '' };
  await runCli(['--help'], io, {});
  const help = out.join('\n');
  for (const d of environment) {
    const shown = (d.defaultText ?? d.default ?? 'unset').replaceAll('`', '');
    const at = help.indexOf(`  ${d.env} `);
    assert.ok(at >= 0, `${d.env} is in --help`);
    const next = environment.map((o) => help.indexOf(`  ${o.env} `)).filter((i) => i > at).sort((a, b) => a - b)[0] ?? help.length;
    assert.match(help.slice(at, next), new RegExp(`\\(default ${shown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)`), `${d.env}'s default in --help`);
  }
});

test('every variable the server reads has a definition, and every definition is read', () => {
  const source = readFileSync(new URL('../../src/cli/env-config.ts', import.meta.url), 'utf8');
  const read = new Set(source.match(/'(TOKENSTILE_[A-Z_]+|HOST|PORT)'/g)!.map((s) => s.slice(1, -1)));
  for (const d of environment) if (d.type === 'duration') read.add(d.env!);
  assert.deepEqual([...read].sort(), environment.map((d) => d.env!).sort());
});

test('resolveConfig defaults each duration to its definition, in ms, and the programmatic table shows it', () => {
  const config = resolveConfig({ issuer: 'https://auth.example.com' });
  const field: Record<string, number> = {
    accessTokenTtl: config.accessTtlMs, refreshTokenTtl: config.refreshTtlMs, sessionMaxLifetime: config.sessionMaxLifetimeMs,
    clockTolerance: config.clockToleranceMs, refreshGrace: config.refreshGraceMs, revocationLease: config.revocationLeaseMs,
    revocationPollInterval: config.revocationPollIntervalMs, purgeInterval: config.purgeIntervalMs, auditRetention: config.auditRetentionMs,
    dpopProofWindow: config.dpopProofWindowMs,
  };
  for (const d of Object.values(coreOptions)) {
    if (d.type !== 'duration') continue;
    assert.equal(field[d.option], parseDuration(d.default) * 1000, d.option);
    assert.ok(docs.includes(`| \`${d.option}\` | \`'${d.default}'\` |`), `${d.option}'s default in the programmatic table`);
  }
});
