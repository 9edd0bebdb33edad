import { Ajv, type ValidateFunction } from 'ajv';

// One validator for every adapter, strict whatever the host app configured: unknown fields are
// refused, not stripped, types are not coerced ("123" is not a number), and defaults fill in
// (logout's scope).
const ajv = new Ajv({ removeAdditional: false, useDefaults: true, coerceTypes: false, allErrors: false, strict: false });
const compiled = new WeakMap<object, ValidateFunction>();

/** The compiled validator of a route schema (compiled once per schema object). */
export function validatorFor(schema: object): ValidateFunction {
  let validate = compiled.get(schema);
  if (validate === undefined) compiled.set(schema, (validate = ajv.compile(schema)));
  return validate;
}
