// Only the second-factor sign-in scenario: `node bench/mfa.ts [--quick]`. Prints its BENCHMARKS.md
// section on stdout and writes nothing; `npm run bench` runs it with the rest.
import { mfaLogin, mfaLoginSection } from './scenarios/mfa-login.ts';

const p = process.argv.includes('--quick') ? { logins: 10, rounds: 1 } : { logins: 40, rounds: 3 };
process.stdout.write(`${mfaLoginSection(await mfaLogin(p), p)}\n`);
process.exit(0);
