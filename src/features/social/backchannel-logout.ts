import { createHash } from 'node:crypto';
import type { JWTVerifyGetKey } from 'jose';
import type { DeviceInfo } from '../../core/context.ts';
import { fail, ok, type Result } from '../../core/errors.ts';
import { logoutTokenAlgorithms, remoteKeys, verifyLogoutToken } from './logout-token.ts';
import type { SocialDeps } from './social-deps.ts';

/** Longest logout token accepted (a JWS of a few claims is far shorter). */
const maxTokenLength = 8192;

/**
 * OpenID Connect Back-Channel Logout 1.0 on the receiving side: checks the provider's logout
 * token (`verifyLogoutToken`), refuses a `jti` seen before (recorded in the database, so on every
 * instance), and ends the Tokenstile sessions that provider session (`sid`) or user (`sub`)
 * started, through the acknowledged revocation: when this resolves, no instance accepts their
 * tokens any more.
 */
export function backchannelLogout(deps: SocialDeps) {
  const keys = new Map<string, Promise<JWTVerifyGetKey>>();
  return async (providerId: string, logoutToken: unknown, device: DeviceInfo): Promise<Result<{ ended: number }, 'unknown_provider' | 'invalid_logout_token' | 'oauth_provider_error'>> => {
    const provider = deps.providers.find((p) => p.config.id === providerId && p.config.kind === 'oidc');
    if (provider === undefined) return fail('unknown_provider');
    if (typeof logoutToken !== 'string' || logoutToken.length === 0 || logoutToken.length > maxTokenLength) return fail('invalid_logout_token');
    let configuration;
    try {
      configuration = await provider.configuration();
    } catch {
      return fail('oauth_provider_error');
    }
    const metadata = configuration.serverMetadata();
    if (metadata.jwks_uri === undefined) return fail('oauth_provider_error');
    if (!keys.has(providerId)) keys.set(providerId, remoteKeys(metadata.jwks_uri));
    const checked = await verifyLogoutToken(logoutToken, {
      issuer: metadata.issuer,
      clientId: provider.config.clientId,
      keys: await keys.get(providerId)!,
      algorithms: logoutTokenAlgorithms(metadata.id_token_signing_alg_values_supported),
      now: deps.now(),
      clockToleranceSeconds: deps.clockToleranceSeconds,
    });
    if (!checked.ok) {
      deps.logger?.info({ provider: providerId, reason: checked.reason }, 'tokenstile: a back-channel logout token was refused');
      return fail('invalid_logout_token');
    }
    const { sub, sid, jti, replayableUntil } = checked.value;
    const jtiHash = createHash('sha256').update(jti).digest('base64url');
    if (!(await deps.store.spendLogoutToken(providerId, jtiHash, replayableUntil))) {
      deps.logger?.info({ provider: providerId, reason: 'jti replayed' }, 'tokenstile: a back-channel logout token was refused');
      return fail('invalid_logout_token');
    }
    const sessions = await deps.store.sessionsFor(providerId, { sid, subject: sub });
    const ended = sessions.length === 0 ? 0 : await deps.endSessions(sessions, device);
    deps.emit({ type: 'social.backchannel_logout', provider: providerId, ended });
    return ok({ ended });
  };
}
