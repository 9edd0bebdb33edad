/** One schema error as Ajv (and so Fastify) reports it. */
export interface SchemaError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly params: object;
}

/** What a 400 `invalid_request` says about a request that failed its schema. */
export interface FieldProblem {
  /** The offending field as a dotted path (`email`, `session.id`); absent when the whole body is at fault. */
  readonly field?: string;
  /** One sentence naming the field and why it was refused; never the value sent. */
  readonly detail: string;
}

// A field name is echoed only when it reads as one: a key made of anything else (or a long one)
// may be a pasted secret or an attempt to inject text into logs and pages.
const printableName = /^[A-Za-z_$][A-Za-z0-9_$-]{0,63}$/;

/** `/a/0/b` (an Ajv instance path) as `a.0.b`; null when a segment is not fit to be shown. */
function pathOf(instancePath: string, child?: unknown): string | null {
  const segments = instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
  if (child !== undefined) segments.push(String(child));
  return segments.every((segment) => printableName.test(segment) || /^\d{1,9}$/.test(segment)) ? segments.join('.') : null;
}

const typeNames: Readonly<Record<string, string>> = { string: 'a string', number: 'a number', integer: 'an integer', boolean: 'true or false', object: 'an object', array: 'a list', null: 'null' };

function typeList(type: unknown): string {
  const types = (Array.isArray(type) ? type : String(type).split(',')).map((t) => typeNames[String(t)] ?? String(t));
  return types.length > 1 ? `${types.slice(0, -1).join(', ')} or ${types.at(-1)}` : (types[0] ?? 'of another type');
}

/** Where the failed part sits: the body's fields are named bare, other parts with their place. */
const partNames: Readonly<Record<string, string>> = { body: 'body', querystring: 'query parameter', params: 'path parameter', headers: 'header' };

/**
 * Turns the first schema error of a request into a problem that names the field and the reason,
 * e.g. `{field: 'email', detail: 'email must be a string.'}` or `{field: 'isAdmin', detail:
 * 'isAdmin is not an allowed field.'}`. The value sent is never repeated.
 */
export function fieldProblem(errors: readonly SchemaError[], context = 'body'): FieldProblem {
  const error = errors[0];
  if (error === undefined) return { detail: 'The request is malformed.' };
  const params = error.params as Record<string, unknown>;
  const part = partNames[context] ?? context;
  const named = (field: string | null, why: string): FieldProblem => {
    if (field === null) return { detail: `${context === 'body' ? 'A field' : `A ${part}`} ${why}; its name is not shown.` };
    return { field, detail: context === 'body' ? `${field} ${why}.` : `The ${part} ${field} ${why}.` };
  };
  if (error.keyword === 'required') return named(pathOf(error.instancePath, params.missingProperty), 'is required');
  if (error.keyword === 'additionalProperties') return named(pathOf(error.instancePath, params.additionalProperty), 'is not an allowed field');
  const path = pathOf(error.instancePath);
  if (path === '') {
    const whole = context === 'body' ? 'The request body' : `The ${part}s`;
    return { detail: error.keyword === 'type' ? `${whole} must be ${typeList(params.type)}.` : `${whole} ${context === 'body' ? 'is' : 'are'} not valid.` };
  }
  switch (error.keyword) {
    case 'type':
      return named(path, `must be ${typeList(params.type)}`);
    case 'enum':
      return named(path, `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`);
    case 'maxLength':
      return named(path, `must be at most ${String(params.limit)} characters long`);
    case 'minLength':
      return named(path, Number(params.limit) === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters long`);
    case 'format':
    case 'pattern':
      return named(path, 'is not in the expected format');
    default:
      return named(path, 'is not valid');
  }
}
