// The parts of jose the DPoP prover uses, in a module of their own: `dpop.ts` loads it on first
// use, so that a client without DPoP (and a bundler that splits dynamic imports) never loads jose.
export { base64url, calculateJwkThumbprint, exportJWK, SignJWT } from 'jose';
