// Only the framework scenarios (Express and Hono protected route, login and refresh through each
// adapter): `node bench/frameworks.ts [--quick]` after `npm run build`. Prints their BENCHMARKS.md
// sections and targets on stdout and writes nothing; `npm run bench` runs them with the rest.
import { adapterAuthSection, frameworkProtectSection } from './lib/frameworks-report.ts';
import { targetsTable } from './lib/report.ts';
import { adapterAuth, frameworkProtectedRoute } from './scenarios/frameworks.ts';

const quick = process.argv.includes('--quick');
const p = quick ? { seconds: 3, authSeconds: 2, rounds: 1 } : { seconds: 10, authSeconds: 5, rounds: 3 };
const progress = (s: string) => process.stderr.write(`${s}\n`);
const protect = frameworkProtectSection(await frameworkProtectedRoute({ seconds: p.seconds, rounds: p.rounds, progress }), { seconds: p.seconds, rounds: p.rounds });
const auth = adapterAuthSection(await adapterAuth({ seconds: p.authSeconds, rounds: p.rounds, progress }), { seconds: p.authSeconds, rounds: p.rounds });
process.stdout.write(`${targetsTable([...protect.targets, ...auth.targets])}\n\n${protect.section}\n\n${auth.section}\n`);
process.exit(0);
