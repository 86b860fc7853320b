import type { ObjectLiteral } from 'typeorm';
import type { Fieldseal } from '../../index.js';
import {
  holdsEnvelope,
  openStoredValues,
  scopeOf,
  type StoredFieldValue,
} from '../../integration/index.js';
import { UnopenedValue } from './sealed-value.js';
import { refuse, type EntityBinding } from './entity-binding.js';

/*
 * Decrypting the entities one query loaded, in one batch per entity type. Internal.
 */

/** The stored envelope (or NULL) a loaded property holds, or undefined when it holds none. */
function storedOf(value: unknown): unknown {
  if (value === null) return null; // checked against the field: NULL where allowed
  if (value instanceof UnopenedValue) return value.stored;
  return typeof value === 'string' && holdsEnvelope(value) ? value : undefined;
}

/** Properties of loaded entities whose stored value was plaintext (a field in migration). */
const plaintextReads = new WeakMap<object, Set<string>>();

/**
 * Whether a loaded entity's property was read from plaintext (a field in migration): a save
 * seals it even when its value is unchanged.
 */
export function readFromPlaintext(entity: object, prop: string): boolean {
  return plaintextReads.get(entity)?.has(prop) === true;
}

/** One entity TypeORM loaded (its sealed columns hold envelopes). */
export interface ReadJob {
  readonly entity: ObjectLiteral;
  readonly binding: EntityBinding;
}

/**
 * Decrypt the sealed columns of loaded entities, each with its record's context; all or
 * nothing per entity type (a failure leaves no entity of that type half-decrypted).
 * @throws BatchError naming each field that does not decrypt; the refusal of an entity loaded
 *   with sealed columns but without its tenant or key.
 */
export async function openEntities(fs: Fieldseal, jobs: readonly ReadJob[]): Promise<void> {
  const byBinding = new Map<EntityBinding, ReadJob[]>();
  for (const job of jobs) {
    let list = byBinding.get(job.binding);
    if (list === undefined) byBinding.set(job.binding, (list = []));
    list.push(job);
  }
  await Promise.all([...byBinding].map(([binding, list]) => openOne(fs, binding, list)));
}

async function openOne(
  fs: Fieldseal,
  binding: EntityBinding,
  jobs: readonly ReadJob[],
): Promise<void> {
  const values: (StoredFieldValue & { prop: string })[] = [];
  jobs.forEach(({ entity }, row) => {
    // What the transformer read (or an envelope that reached the entity another way); a value
    // already decrypted is left as it is.
    const present = [...binding.sealed].filter(([prop]) => storedOf(entity[prop]) !== undefined);
    if (present.length === 0) return;
    const source: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const prop of binding.scopeProps) {
      if (entity[prop] === undefined) {
        refuse(
          binding.table,
          present[0]![0],
          `select ${prop} with it: the record's tenant and key are its encryption context`,
        );
      }
      source[prop] = entity[prop];
    }
    const scope = scopeOf(binding.schema, source);
    for (const [prop, field] of present) {
      values.push({ row, field, stored: storedOf(entity[prop]), scope, prop });
    }
  });
  const plain = await openStoredValues(fs, binding.schema, values);
  values.forEach((v, i) => {
    const entity = jobs[v.row]!.entity;
    if (v.stored !== null && !holdsEnvelope(v.stored)) {
      let props = plaintextReads.get(entity);
      if (props === undefined) plaintextReads.set(entity, (props = new Set()));
      props.add(v.prop);
    }
    entity[v.prop] = plain[i];
  });
}
