#!/usr/bin/env node
// Builds the account page (web/) into dist/web/: one bundled, minified ES module (the page and the
// browser client), its stylesheet and its HTML. Run by `npm run build` after tsc.
import { build } from 'esbuild';
import { mkdirSync, copyFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const out = `${root}dist/web`;
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [`${root}web/account.ts`, `${root}web/account.css`],
  outdir: out,
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome111', 'firefox113', 'safari16.4'],
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(`${root}web/account.html`, `${out}/account.html`);
copyFileSync(`${root}web/favicon.svg`, `${out}/favicon.svg`);
