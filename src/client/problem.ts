/** The RFC 9457 body Tokenstile answers errors with (see the HTTP contract). */
export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  /** With `invalid_request`: the request field at fault, e.g. `email`. */
  readonly field?: string;
}

/**
 * A Tokenstile error answer, thrown by the client's convenience methods (`login`, `me`, …); `code`
 * is the contract's stable error code (`invalid_credentials`, `csrf_failed`, …), or
 * `network_error` when no answer came.
 */
export class TokenstileProblem extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  /** With `invalid_request`: the request field at fault (`email`, `name`, …), to mark in a form. */
  readonly field: string | undefined;
  /** The problem's other members, e.g. `mfaToken` and `methods` of `mfa_required`. */
  readonly extensions: Readonly<Record<string, unknown>>;

  constructor(status: number, code: string, detail: string, field?: string, extensions: Readonly<Record<string, unknown>> = {}) {
    super(detail);
    this.extensions = extensions;
    this.name = 'TokenstileProblem';
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.field = field;
  }
}

/** The problem body of a response, or null when it is not problem+json. Does not consume `response`. */
export async function problemOf(response: Response): Promise<ProblemBody | null> {
  if (!(response.headers.get('content-type') ?? '').startsWith('application/problem+json')) return null;
  try {
    const body = (await response.clone().json()) as ProblemBody;
    return typeof body?.code === 'string' ? body : null;
  } catch {
    return null;
  }
}

/** Turns a failed response into a `TokenstileProblem`. */
export async function toProblem(response: Response): Promise<TokenstileProblem> {
  const body = await problemOf(response);
  const { type: _t, title: _ti, status: _s, code: _c, detail: _d, field: _f, ...extensions } = body ?? ({} as Partial<ProblemBody>);
  return new TokenstileProblem(response.status, body?.code ?? 'http_error', body?.detail ?? `HTTP ${response.status}`, typeof body?.field === 'string' ? body.field : undefined, extensions);
}
