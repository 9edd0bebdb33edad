/** True for the optional whitespace HTTP allows around a field value: space and tab only. */
function isOws(code: number): boolean {
  return code === 32 || code === 9;
}

/**
 * The token of an `Authorization: Bearer …` header (scheme case-insensitive), or null. Only spaces
 * and tabs around the token are skipped (not `String.prototype.trim`'s wider set, which would let
 * a token with, say, a non-breaking space attached pass as the same token); anything else stays
 * part of the token, for the verifier's strict base64url check to refuse.
 */
export function bearerToken(header: string | undefined): string | null {
  return schemeToken(header, 'bearer');
}

/** The token of an `Authorization: DPoP …` header (RFC 9449 §7.1; scheme case-insensitive), or null. */
export function dpopToken(header: string | undefined): string | null {
  return schemeToken(header, 'dpop');
}

function schemeToken(header: string | undefined, scheme: 'bearer' | 'dpop'): string | null {
  const n = scheme.length;
  if (header === undefined || header.length < n + 2) return null;
  if (header.charCodeAt(n) !== 32 || header.slice(0, n).toLowerCase() !== scheme) return null;
  let start = n + 1;
  let end = header.length;
  while (start < end && isOws(header.charCodeAt(start))) start++;
  while (end > start && isOws(header.charCodeAt(end - 1))) end--;
  const token = header.slice(start, end);
  return token.length > 0 ? token : null;
}
