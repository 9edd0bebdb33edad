/**
 * Stored text (user agents, emails, names, audit details) comes from the network: before it
 * reaches an operator's terminal, every character that a terminal acts on or that reorders what
 * is shown is escaped as `\uXXXX`. JSON.stringify alone leaves DEL, the C1 controls (U+0080–U+009F,
 * among them CSI, which starts escape sequences on many terminals) and the bidi controls as they are.
 */
const unsafe = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

function escapeCodeUnit(ch: string): string {
  return Array.from({ length: ch.length }, (_, i) => `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`).join('');
}

/** `value` as a JSON string literal that is safe to print: valid JSON, with no control character left raw. */
export function quoted(value: string): string {
  return JSON.stringify(value).replace(unsafe, escapeCodeUnit);
}

/** `value` as a JSON line that is safe to print (for `--json`): parses back to the same value. */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(unsafe, escapeCodeUnit);
}

/** Text shown unquoted (an email, a name), with unsafe characters escaped. */
export function escaped(value: string): string {
  return value.replace(unsafe, escapeCodeUnit);
}
