import { planOf } from '../model/define-model.js';
import type { AnyModel } from '../model/model-types.js';
import type { ModelSchema } from '../model/model-schema.js';

/**
 * The read-only schema of a model made by `defineModel`: its table, tenant field, key fields
 * and every field with its kind, and, for encrypted fields, mode, storage, padding, static
 * context and blind index. The object is frozen and shared: an integration reads it to map
 * columns and build contexts, it never needs the model's builders.
 * @throws TypeError when `model` was not made by `defineModel`.
 * @example
 * ```ts
 * import { schemaOf } from 'fieldseal/integration';
 *
 * const schema = schemaOf(Customer);
 * for (const f of schema.encrypted) {
 *   console.log(f.name, f.kind, f.encryption?.storage, f.encryption?.blindIndex !== undefined);
 * }
 * ```
 */
export function schemaOf(model: AnyModel): ModelSchema {
  return planOf(model);
}
