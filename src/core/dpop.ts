import type { TokenstileConfig } from './config.ts';
import { checkProof, type ProofFailure, type ProofResult } from './dpop-proofs.ts';
import type { DpopNonces } from './dpop-nonces.ts';
import type { ProofReplayStore } from './proof-replay.ts';
import type { AuthEvent } from './events.ts';

/** What a sign-in or refresh proved: the key its tokens are bound to, or null for Bearer tokens. */
export type SignInProof = { readonly ok: true; readonly jkt: string | null } | ProofFailure;

/**
 * The server's DPoP policy (RFC 9449), used by the HTTP layer: which sign-ins must or may carry
 * a proof, how proofs are checked (window, replay store, nonces), and the nonce to hand out.
 * `htu` is the request's public URL: the issuer's origin and the path the request was sent to.
 */
export class DpopPolicy {
  readonly mode: TokenstileConfig['dpop'];
  readonly #settings: Parameters<typeof checkProof>[2];
  readonly #nonces: DpopNonces | null;

  readonly #emit: (event: AuthEvent) => void;

  constructor(config: TokenstileConfig, replay: ProofReplayStore, nonces: DpopNonces, now: () => number, emit: (event: AuthEvent) => void = () => {}) {
    this.mode = config.dpop;
    this.#emit = emit;
    this.#nonces = config.dpopNonce ? nonces : null;
    this.#settings = { windowMs: config.dpopProofWindowMs + config.clockToleranceMs, now, replay, ...(this.#nonces !== null && { nonceValid: (n: string) => nonces.valid(n) }) };
  }

  /** The nonce to send in `DPoP-Nonce`, or null when nonces are off. */
  nonce(): string | null {
    return this.#nonces?.current() ?? null;
  }

  /**
   * A sign-in or refresh request's proof (`proof`: the `DPoP` header's values). None: Bearer
   * tokens (`optional`), or refused (`required`). With DPoP off, the header is ignored.
   */
  async signIn(method: string, url: string, proof: string | readonly string[] | undefined): Promise<SignInProof> {
    if (this.mode === 'off') return { ok: true, jkt: null };
    if (proof === undefined) {
      return this.mode === 'required' ? this.#refused('sign_in', { ok: false, code: 'invalid_dpop_proof', reason: 'this server requires a DPoP proof (the DPoP header)' }) : { ok: true, jkt: null };
    }
    if (typeof proof !== 'string') return this.#refused('sign_in', { ok: false, code: 'invalid_dpop_proof', reason: 'send one DPoP header' });
    const checked = await checkProof(proof, { method, url }, this.#settings);
    return checked.ok ? checked : this.#refused('sign_in', checked);
  }

  /** A protected request's proof for a token bound to `jkt`; `fromCookie`: the token came in the access cookie (`ath` optional). */
  async resource(method: string, url: string, proof: string | readonly string[] | undefined, accessToken: string, jkt: string, fromCookie = false): Promise<ProofResult> {
    if (Array.isArray(proof)) return this.#refused('resource', { ok: false, code: 'invalid_dpop_proof', reason: 'send one DPoP header' });
    const checked = await checkProof(proof as string | undefined, { method, url, accessToken, jkt, athOptional: fromCookie }, this.#settings);
    return checked.ok ? checked : this.#refused('resource', checked);
  }

  #refused(where: 'sign_in' | 'resource', failure: ProofFailure): ProofFailure {
    this.#emit({ type: 'dpop_proof_refused', where, code: failure.code });
    return failure;
  }
}
