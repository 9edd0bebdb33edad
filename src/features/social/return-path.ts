/**
 * Where the browser goes back to after a sign-in with a provider (`returnTo`): a path on
 * Tokenstile's own origin (`/account`, `/app/home?tab=2`) or an absolute URL on one of the allowed
 * origins (`TOKENSTILE_ALLOWED_ORIGINS`). Anything else is refused, so that the flow cannot be
 * used as an open redirect: protocol-relative (`//evil.example`), backslashes (`/\evil.example`,
 * which browsers read as `//`), other schemes (`javascript:`), credentials in the URL, control
 * characters and whitespace. The fragment is dropped: the callback writes its own.
 *
 * Returns the absolute URL to redirect to, or null when refused.
 */
export function checkReturnTo(value: string, ownOrigin: string, allowedOrigins: ReadonlySet<string>): string | null {
  if (value.length === 0 || value.length > 2048) return null;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f\\]/.test(value)) return null;
  const relative = value.startsWith('/');
  if (relative && value.startsWith('//')) return null;
  if (!relative && !/^https?:\/\//i.test(value)) return null;
  let url: URL;
  try {
    url = new URL(value, `${ownOrigin}/`);
  } catch {
    return null;
  }
  if (url.username !== '' || url.password !== '') return null;
  if (url.origin !== ownOrigin && !allowedOrigins.has(url.origin)) return null;
  url.hash = '';
  return url.href;
}

/**
 * The return URL with the outcome in its fragment (never sent to a server, kept out of logs and
 * `Referer`): `tokenstile_signed_in=<provider>`, `tokenstile_linked=<provider>`,
 * `tokenstile_code=<code>` (header clients) or `tokenstile_error=<code>`.
 */
export function withOutcome(returnTo: string, outcome: Readonly<Record<string, string>>): string {
  const url = new URL(returnTo);
  url.hash = new URLSearchParams(outcome).toString();
  return url.href;
}
