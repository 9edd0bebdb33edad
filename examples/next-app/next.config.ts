import { fileURLToPath } from 'node:url';
import type { NextConfig } from 'next';

// `tokenstile` is linked from the repository root (`file:../..`): let the bundler and the output
// tracing see files there.
const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));

const config: NextConfig = {
  // Server-only: Tokenstile (node:sqlite, node:crypto, its stores) is loaded by Node at run time,
  // never bundled, and never sent to the browser. The page imports only `tokenstile/client`.
  serverExternalPackages: ['tokenstile'],
  turbopack: { root: repositoryRoot },
  outputFileTracingRoot: repositoryRoot,
  poweredByHeader: false,
};

export default config;
