// Only the DPoP scenario (Bearer vs DPoP-bound on the protected route, server CPU per request):
// `node bench/dpop.ts [--quick]` after `npm run build`. Prints its BENCHMARKS.md section on stdout
// and writes nothing; `npm run bench` runs it with the rest.
import { dpopProtectedRoute, dpopSection } from './scenarios/dpop.ts';

const quick = process.argv.includes('--quick');
const p = quick ? { requests: 4000, rounds: 1 } : { requests: 20_000, rounds: 3 };
const progress = (s: string) => process.stderr.write(`${s}\n`);
process.stdout.write(`${dpopSection(await dpopProtectedRoute({ ...p, progress }), p)}\n`);
process.exit(0);
