// The contract's /auth/* routes (register, login, refresh, logout, me, sessions, …), answered by
// Tokenstile's fetch handler as they come.
export { handle as GET, handle as POST, handle as PATCH, handle as PUT, handle as DELETE, handle as OPTIONS } from '../../../lib/auth';

// Tokenstile's stores use Node APIs (node:sqlite, node:crypto): never the Edge runtime.
export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';
