// Which protected-route modes this build provides. Strict and opaque mode are asked for exactly as
// a user would (the environment variables, then the core options of the same names) and are
// reported as unavailable, never silently measured as the default mode, when the build refuses
// or ignores them.

/** The spec a protected-server process gets as JSON in argv[2]. */
export interface ProtectedServerSpec {
  readonly mode: ProtectedMode;
  /** Verified-token cache size (0: every request pays the signature check). */
  readonly cache: number;
  /** SQLite file to use (needed for seeding); default `:memory:`. */
  readonly database?: string;
  /** Bulk rows added before the core that serves starts. */
  readonly seed?: { readonly sessions: number; readonly revocations: number };
  readonly redisUrl?: string;
  readonly redisPrefix?: string;
}

export type ProtectedMode = 'bare' | 'ceiling' | 'tokenstile' | 'redis' | 'strict' | 'opaque';

/** What a mode needs from the build. */
export type ModeGate =
  | {
      readonly ok: true;
      /** Extra core options. */
      readonly options: Readonly<Record<string, unknown>>;
      /** Null when the started core really runs the mode; otherwise why not. */
      check(config: Readonly<Record<string, unknown>>, accessToken: string): string | null;
    }
  | { readonly ok: false; readonly reason: string };

const optional: Partial<Record<ProtectedMode, { env: string; value: string; option: string }>> = {
  strict: { env: 'TOKENSTILE_REVOCATION_CHECK', value: 'strict', option: 'revocationCheck' },
  opaque: { env: 'TOKENSTILE_ACCESS_TOKEN_FORMAT', value: 'opaque', option: 'accessTokenFormat' },
};

/**
 * The gate for `mode`. `readEnv` is the server's environment reader (`serverConfigFromEnv`),
 * which throws for a setting the build does not provide.
 */
export function modeGate(mode: ProtectedMode, readEnv: (env: Record<string, string>) => unknown): ModeGate {
  const wanted = optional[mode];
  if (!wanted) return { ok: true, options: {}, check: () => null };
  try {
    readEnv({ [wanted.env]: wanted.value });
  } catch (err) {
    return { ok: false, reason: `not available in this build: ${wanted.env}=${wanted.value} is refused (${(err as Error).message})` };
  }
  return {
    ok: true,
    options: { [wanted.option]: wanted.value },
    check(config, accessToken) {
      if (config[wanted.option] !== wanted.value) {
        return `not available in this build: the core ignores ${wanted.option}: '${wanted.value}'`;
      }
      if (mode === 'opaque' && accessToken.split('.').length === 3) return 'not available in this build: login still hands out a JWT in opaque mode';
      return null;
    },
  };
}
