import { ownData } from '../lib/own-data.js';
import type { FieldPolicy, ModelPolicySource } from './options.js';

function refuse(where: string) {
  return (why: string, key: string): never => {
    throw new TypeError(`${where}.${key}: ${why} properties are not read; pass plain data`);
  };
}

/**
 * The client's field policies: `fields` plus the `policies` of every model in `models`, each
 * read once (own enumerable data properties only). A model may only set policies of its own
 * table, and a `table.field` set twice is refused unless both name the same policy object
 * (`fields: { ...Customer.policies }, models: [Customer]`), so no policy silently wins.
 * @throws TypeError naming the model and the field.
 * @internal
 */
export function mergeModelPolicies(
  fields: Readonly<Record<string, FieldPolicy>>,
  models: readonly ModelPolicySource[] | undefined,
): Readonly<Record<string, FieldPolicy>> {
  if (models === undefined) return fields;
  if (!Array.isArray(models)) {
    throw new TypeError('models: expected an array of models made by defineModel');
  }
  const merged = Object.create(null) as Record<string, FieldPolicy>;
  const from = Object.create(null) as Record<string, string>;
  for (const [name, policy] of Object.entries(ownData(fields, refuse('fields')))) {
    merged[name] = policy as FieldPolicy;
    from[name] = 'fields';
  }
  const list: readonly unknown[] = [...(models as readonly unknown[])];
  list.forEach((model, i) => {
    const where = `models[${i}]`;
    if (typeof model !== 'object' || model === null) {
      throw new TypeError(`${where}: expected a model made by defineModel`);
    }
    const { table, policies } = ownData(model, refuse(where));
    if (typeof table !== 'string' || table.length === 0) {
      throw new TypeError(`${where}.table: expected a non-empty string (a model from defineModel)`);
    }
    if (typeof policies !== 'object' || policies === null) {
      throw new TypeError(
        `${where}.policies: expected the model's policies (a model from defineModel)`,
      );
    }
    for (const [name, policy] of Object.entries(ownData(policies, refuse(`${where}.policies`)))) {
      if (!name.startsWith(`${table}.`)) {
        throw new TypeError(`${where} (${table}): "${name}" is not a field of table ${table}`);
      }
      const earlier = from[name];
      if (earlier !== undefined) {
        if (merged[name] === policy) continue;
        throw new TypeError(
          `"${name}" is configured twice (${earlier} and ${where}) with different policies; configure it once`,
        );
      }
      merged[name] = policy as FieldPolicy;
      from[name] = `${where} (${table})`;
    }
  });
  return merged;
}
