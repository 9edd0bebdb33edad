import type { KeyObject } from 'node:crypto';

/** `jose`, loaded at the first SET: importing Tokenstile loads no other package. */
const loadJose = () => import('jose');

/** The key that signs now: the core's access-token key, so receivers verify with `/.well-known/jwks.json`. */
export interface SetKey {
  readonly kid: string;
  readonly alg: string;
  readonly key: KeyObject;
}

/** Signs a Security Event Token (RFC 8417) with `typ: secevent+jwt`. */
export async function signSet(key: SetKey, claims: Readonly<Record<string, unknown>>): Promise<string> {
  const { SignJWT } = await loadJose();
  return new SignJWT({ ...claims }).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'secevent+jwt' }).sign(key.key);
}
