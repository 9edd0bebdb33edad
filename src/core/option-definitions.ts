import { parseDuration, type Duration } from './duration.ts';
import { ConfigError } from './errors.ts';
import { signingAlgorithms } from './keys.ts';

/**
 * One setting, defined once: its option name, its environment variable, its default, its bounds
 * and its doc line. `resolveConfig` validates and defaults from it, the server's environment
 * parsing reads it, and `--help` and the table in docs/configuration.md are made from it (a test
 * checks both). Durations are milliseconds inside, whatever the unit they are written in.
 */
export interface OptionDefinition {
  /** The field of `TokenstileOptions` / `buildApp`'s options; absent for server-only settings (`PORT`). */
  readonly option?: string;
  /** The environment variable the server and the CLI read it from; absent when programmatic only. */
  readonly env?: string;
  /** How its value is written: a duration (`15m`, `1500ms`, or seconds), one of `values`, or text. */
  readonly type: 'duration' | 'choice' | 'text';
  /** The default as written in the environment (`15m`, `jwt`, `on`); absent: required or unset. */
  readonly default?: string;
  /** What help and the docs say about the default, when it is not `default` itself (`unset`, `http://HOST:PORT`). */
  readonly defaultText?: string;
  /** A duration's bounds, in ms (inclusive). */
  readonly minMs?: number;
  readonly maxMs?: number;
  /** The accepted values of a choice. */
  readonly values?: readonly string[];
  /** `--help`'s description: one line, or a few for long ones. */
  readonly help: readonly string[];
  /** The meaning column of the environment table in docs/configuration.md (Markdown). */
  readonly doc: string;
}

const second = 1000;
const minute = 60 * second;
const hour = 60 * minute;
const day = 24 * hour;

/** A duration setting. */
function duration(d: Omit<OptionDefinition, 'type'> & { readonly option: string; readonly default: string; readonly minMs: number; readonly maxMs: number }) {
  return { type: 'duration', ...d } as const;
}

/** The core's options (see `TokenstileOptions` for each one's meaning in full). */
export const coreOptions = {
  issuer: {
    option: 'issuer', env: 'TOKENSTILE_ISSUER', type: 'text', defaultText: '`http://HOST:PORT`',
    help: ['iss of every token'],
    doc: '`iss` of every token; set it to your public URL in production',
  },
  audience: {
    option: 'audience', env: 'TOKENSTILE_AUDIENCE', type: 'text', default: 'tokenstile',
    help: ['aud of access tokens'],
    doc: '`aud` of access tokens',
  },
  accessTokenTtl: duration({
    option: 'accessTokenTtl', env: 'TOKENSTILE_ACCESS_TTL', default: '15m', minMs: second, maxMs: day,
    help: ['access-token lifetime'],
    doc: 'access-token lifetime, 1 s to 24 h (`90s`, `15m`, `1h`)',
  }),
  refreshTokenTtl: duration({
    option: 'refreshTokenTtl', env: 'TOKENSTILE_REFRESH_TTL', default: '7d', minMs: minute, maxMs: 400 * day,
    help: ['session lifetime, renewed by each refresh'],
    doc: 'session lifetime; each refresh renews it (sliding)',
  }),
  sessionMaxLifetime: duration({
    option: 'sessionMaxLifetime', env: 'TOKENSTILE_SESSION_MAX_LIFETIME', default: '30d', minMs: minute, maxMs: 3650 * day,
    help: ['absolute session lifetime from sign-in, never renewed'],
    doc: 'absolute session lifetime from sign-in, 60 s – 3650 d: refreshes never carry a session past it, and then answer `401 invalid_refresh_token`',
  }),
  signingAlgorithm: {
    option: 'signingAlgorithm', env: 'TOKENSTILE_SIGNING_ALG', type: 'choice', default: 'ES256', values: signingAlgorithms,
    help: [signingAlgorithms.join(' | ')],
    doc: '`ES256`, `EdDSA` or `RS256`; changing it generates a key of the new kind, and tokens signed with the old algorithm are refused from then on',
  },
  clockTolerance: duration({
    option: 'clockTolerance', env: 'TOKENSTILE_CLOCK_TOLERANCE', default: '5s', minMs: 0, maxMs: 5 * minute,
    help: ['leeway for exp/nbf/iat'],
    doc: 'leeway for `exp`/`nbf`/`iat`, at most 5 min (`0s` expires exactly)',
  }),
  refreshGrace: duration({
    option: 'refreshGrace', env: 'TOKENSTILE_REFRESH_GRACE', default: '10s', minMs: 0, maxMs: 5 * minute,
    help: ['retry window for a just-spent refresh token'],
    doc: 'window in which a retry with the just-spent refresh token, from the same client (user agent), gets the same successor, at most 5 min; each such retry is audited, and one from another client is handled as reuse',
  }),
  accessTokenFormat: {
    option: 'accessTokenFormat', env: 'TOKENSTILE_ACCESS_TOKEN_FORMAT', type: 'choice', default: 'jwt', values: ['jwt', 'opaque'],
    help: ['jwt | opaque: signed JWTs, or reference handles'],
    doc: '`jwt`: signed JWTs any service verifies locally; `opaque`: reference handles (`tsa_…`) that the server maps to the session, replaced by every refresh, dead at logout ([recipes](recipes.md))',
  },
  dpop: {
    option: 'dpop', env: 'TOKENSTILE_DPOP', type: 'choice', default: 'optional', values: ['off', 'optional', 'required'],
    help: ['off | optional | required: DPoP (RFC 9449) sender-constrained tokens'],
    doc: '`optional`: a client that sends a `DPoP` proof at sign-in gets tokens bound to its key (`cnf.jkt`), one that sends none gets Bearer tokens; `required`: every sign-in and refresh needs a proof; `off`: DPoP headers are ignored ([DPoP](dpop.md))',
  },
  dpopNonce: {
    option: 'dpopNonce', env: 'TOKENSTILE_DPOP_NONCE', type: 'choice', default: 'false', values: ['true', 'false'],
    help: ['true: DPoP proofs must carry a server nonce (DPoP-Nonce header)'],
    doc: '`true`: DPoP proofs must carry a fresh server nonce (the `DPoP-Nonce` answer header; RFC 9449 §8), stateless and accepted by every instance ([DPoP](dpop.md#server-nonces))',
  },
  dpopProofWindow: duration({
    option: 'dpopProofWindow', env: 'TOKENSTILE_DPOP_PROOF_WINDOW', default: '60s', minMs: second, maxMs: 10 * minute,
    help: ['how far a DPoP proof iat may be from now (plus the clock tolerance)'],
    doc: 'how far a DPoP proof\'s `iat` may be from the server\'s clock, either way, on top of `clockTolerance`, 1 s – 10 min; proof `jti`s are remembered twice as long',
  }),
  revocationLease: duration({
    option: 'revocationLease', env: 'TOKENSTILE_REVOCATION_LEASE', default: '1.5s', minMs: 200, maxMs: 10 * second,
    help: ['how long an instance trusts its revocation list without fresh contact', 'with Redis and the database; bounds a logout when an instance hangs'],
    doc: 'how long an instance trusts its in-memory revocation list without fresh contact, 200 ms – 10 s: its own heartbeat back through Redis, and a completed poll of the database. Past it the instance checks the store per request until contact is back. It also bounds a logout while an instance is hung or Redis is down (the revocation waits at most this long). The same value on every instance ([scaling](scaling.md#the-logout-guarantee))',
  }),
  revocationCheck: {
    option: 'revocationCheck', env: 'TOKENSTILE_REVOCATION_CHECK', type: 'choice', default: 'pushed', values: ['pushed', 'strict'],
    help: ['pushed | strict: in-memory list, or a store read per request'],
    doc: '`pushed`: the in-memory revocation list (no I/O per request); `strict`: the session is also read from the database on every protected request ([recipes](recipes.md))',
  },
  revocationPollInterval: duration({
    option: 'revocationPollInterval', default: '250ms', minMs: 50, maxMs: hour,
    help: ['how often the store is read for revocations made by another process'],
    doc: 'how often the store is read for revocations made by another process (the CLI, another instance); each completed poll renews the store lease',
  }),
  purgeInterval: duration({
    option: 'purgeInterval', default: '1h', minMs: second, maxMs: 7 * day,
    help: ['how often expired rows are deleted'],
    doc: 'how often expired rows are deleted, by a timer in the process (no cron job), in batches that yield to requests',
  }),
  auditRetention: duration({
    option: 'auditRetention', default: '90d', minMs: hour, maxMs: 3650 * day,
    help: ['how long audit entries are kept'],
    doc: 'how long audit entries are kept',
  }),
} as const satisfies Record<string, OptionDefinition>;

/** The options of social and enterprise sign-in (src/features/social, docs/social.md). */
export const socialOptions = {
  oauthProviders: {
    option: 'oauthProviders', env: 'TOKENSTILE_OAUTH_PROVIDERS', type: 'text', defaultText: 'unset',
    help: ['sign-in providers: a JSON array of', '{id, issuer | preset (github, google), clientId, clientSecret, scopes?, name?}'],
    doc: 'sign-in providers ("Sign in with …"): a JSON array of `{id, issuer, clientId, clientSecret, scopes?, name?}` (or `preset` instead of `issuer`: `github` or `google`); redirect URI `<issuer>/auth/oauth/<id>/callback` ([social sign-in](social.md))',
  },
} as const satisfies Record<string, OptionDefinition>;

/**
 * The options of the OpenID Shared Signals transmitter (`TokenstileOptions.sharedSignals`,
 * docs/shared-signals.md) that the server reads from its environment; the limits are
 * programmatic only. Checked by `resolveSharedSignals`.
 */
export const sharedSignalsOptionDefinitions = {
  enabled: {
    option: 'sharedSignals.enabled', env: 'TOKENSTILE_SSF', type: 'choice', default: 'false', values: ['true', 'false'],
    help: ['true: serve the OpenID Shared Signals transmitter (SSF streams, CAEP events)'],
    doc: '`true` serves the OpenID Shared Signals transmitter: `/.well-known/ssf-configuration`, streams for the clients of `TOKENSTILE_CLIENTS`, CAEP `session-revoked` and `credential-change` SETs by push or poll ([shared signals](shared-signals.md))',
  },
  defaultSubjects: {
    option: 'sharedSignals.defaultSubjects', env: 'TOKENSTILE_SSF_DEFAULT_SUBJECTS', type: 'choice', default: 'ALL', values: ['ALL', 'NONE'],
    help: ['ALL | NONE: what a stream receives before it adds or removes subjects'],
    doc: '`ALL`: a stream receives every user\'s events but those of removed subjects; `NONE`: only those of added subjects',
  },
  setLifetime: duration({
    option: 'sharedSignals.setLifetime', env: 'TOKENSTILE_SSF_SET_LIFETIME', default: '7d', minMs: minute, maxMs: 90 * day,
    help: ['how long an undelivered SET is kept'],
    doc: 'how long an undelivered SET is kept for its receiver, 1 min – 90 d; older ones are dropped and audited (`ssf.sets_expired`)',
  }),
  allowInsecureEndpoints: {
    option: 'sharedSignals.allowInsecureEndpoints', env: 'TOKENSTILE_SSF_ALLOW_INSECURE_ENDPOINTS', type: 'choice', default: 'false', values: ['true', 'false'],
    help: ['true: accept http push endpoints on any host (development only)'],
    doc: '`true` accepts `http:` push endpoints on any host (development only); otherwise `https:`, or `http:` on loopback',
  },
} as const satisfies Record<string, OptionDefinition>;

/** The options of the Shared Signals receiver (src/features/ssf-receiver, docs/shared-signals.md#receiver-ending-sessions-when-an-upstream-says-so). */
export const ssfReceiverOptions = {
  sharedSignalsReceivers: {
    option: 'sharedSignalsReceivers', env: 'TOKENSTILE_SSF_RECEIVERS', type: 'text', defaultText: 'unset',
    help: ['Shared Signals transmitters whose session-revoked events end sessions:', 'a JSON array of {id, issuer, delivery: {method: push|poll, …}, …}'],
    doc: 'upstream Shared Signals transmitters whose `session-revoked` SETs end sessions: a JSON array of `{id, issuer, delivery: {method: "push", secret} | {method: "poll", endpoint, authorization}, jwksUri?, audience?, subjects?, events?, createStream?}`; pushed SETs go to `POST /ssf/receivers/<id>/events` ([Shared Signals receiver](shared-signals.md#receiver-ending-sessions-when-an-upstream-says-so))',
  },
} as const satisfies Record<string, OptionDefinition>;

/** The name of a duration option of the core. */
export type DurationOption = { [K in keyof typeof coreOptions]: (typeof coreOptions)[K]['type'] extends 'duration' ? K : never }[keyof typeof coreOptions];

/** `ms` as the shortest exact text in seconds for messages (`86400s`, `0.2s`). */
function secondsText(ms: number): string {
  return `${ms / 1000}s`;
}

/**
 * The duration option `name` in ms: `value` (text or seconds) or its default, checked against its
 * bounds. Throws `ConfigError` naming the option: `accessTokenTtl must be between 1s and 86400s,
 * got "2d"`.
 */
export function durationOption(name: DurationOption, value: Duration | undefined): number {
  const d: OptionDefinition = coreOptions[name];
  const given = value ?? d.default!;
  const ms = Math.round(parseDuration(given, name) * 1000);
  if (ms < d.minMs! || ms > d.maxMs!) {
    throw new ConfigError(`${name} must be between ${secondsText(d.minMs!)} and ${secondsText(d.maxMs!)}, got ${JSON.stringify(given)}`);
  }
  return ms;
}

/** The choice option `name`: `value` or its default, one of its values; `ConfigError` naming the option otherwise. */
export function choiceOption<T extends string>(name: keyof typeof coreOptions, value: T | undefined): T {
  const d: OptionDefinition = coreOptions[name];
  const given = value ?? (d.default as T);
  if (!d.values!.includes(given)) throw new ConfigError(`${name} must be one of ${d.values!.join(', ')}, got ${JSON.stringify(given)}`);
  return given;
}

/**
 * The options of account recovery and email (`TokenstileOptions.recovery`, docs/recovery.md), with
 * their variables; checked by `resolveRecoveryOptions`.
 */
export const recoveryOptionDefinitions = {
  smtpUrl: {
    option: 'recovery.smtpUrl', env: 'TOKENSTILE_SMTP_URL', type: 'text', defaultText: 'unset',
    help: ['smtp://user:pass@host:587 or smtps://…:465 for account mail; unset: mails are kept', 'in the database outbox (tokenstile mail list|show)'],
    doc: '`smtp://user:password@host:587` (STARTTLS required, except to localhost or with `?starttls=optional`) or `smtps://…:465` for account mail (reset, verification, sign-in links); unset: mails are kept in the database outbox, read with `tokenstile mail list|show` ([recovery](recovery.md))',
  },
  mailFrom: {
    option: 'recovery.mailFrom', env: 'TOKENSTILE_MAIL_FROM', type: 'text', defaultText: '`no-reply@` the issuer\'s host',
    help: ['From of account mail'],
    doc: '`From` of account mail, e.g. `Example <no-reply@example.com>`',
  },
  appUrl: {
    option: 'recovery.appUrl', env: 'TOKENSTILE_APP_URL', type: 'text', defaultText: 'the issuer\'s `/account`',
    help: ['the page links in mails open (the token goes in its #fragment)'],
    doc: 'the page links in mails open; the token goes in its URL fragment (`#reset=tso_…`), which never reaches a server log or `Referer` ([recovery](recovery.md#from-links-and-templates))',
  },
  mailTemplates: {
    option: 'recovery.mailTemplates', env: 'TOKENSTILE_MAIL_TEMPLATES', type: 'text', defaultText: 'unset',
    help: ['a folder of mail templates replacing the built-in ones'],
    doc: 'a folder of mail templates (`password_reset.txt`, …) replacing the built-in ones ([recovery](recovery.md#from-links-and-templates))',
  },
  requireVerifiedEmail: {
    option: 'recovery.requireVerifiedEmail', env: 'TOKENSTILE_REQUIRE_VERIFIED_EMAIL', type: 'choice', default: 'false', values: ['true', 'false'],
    help: ['true: sign-in answers 403 email_not_verified until the email is verified'],
    doc: '`true`: a sign-in answers `403 email_not_verified` until the address is verified',
  },
  magicLink: {
    option: 'recovery.magicLink', env: 'TOKENSTILE_MAGIC_LINK', type: 'choice', default: 'off', values: ['on', 'off'],
    help: ['on | off: sign-in links by mail (POST /auth/magic-link)'],
    doc: '`on` offers sign-in links by mail (`POST /auth/magic-link`)',
  },
  passwordResetTtl: duration({
    option: 'recovery.passwordResetTtl', env: 'TOKENSTILE_PASSWORD_RESET_TTL', default: '30m', minMs: minute, maxMs: day,
    help: ['how long a password-reset link works'],
    doc: 'how long a password-reset link works, 1 min – 24 h',
  }),
  emailVerificationTtl: duration({
    option: 'recovery.emailVerificationTtl', env: 'TOKENSTILE_EMAIL_VERIFICATION_TTL', default: '24h', minMs: minute, maxMs: 30 * day,
    help: ['how long an email-verification link works'],
    doc: 'how long an email-verification link works, 1 min – 30 d',
  }),
} as const satisfies Record<string, OptionDefinition>;
