import type { ObjectLiteral } from 'typeorm';
import {
  BatchError,
  isFieldsealError,
  type FieldValue,
  type Fieldseal,
  type FieldsealError,
} from '../../index.js';
import {
  absentError,
  contextOf,
  hasKind,
  holdsEnvelope,
  kindError,
  scopeOf,
  sealFieldValues,
  withField,
  type FieldValueToSeal,
  type RecordScope,
} from '../../integration/index.js';
import { refuse, type EntityBinding, type ScopeForm } from './entity-binding.js';
import { SealedValue, UnopenedValue } from './sealed-value.js';
import { readFromPlaintext } from './entity-reads.js';
import { sameValue } from './value-key.js';

/*
 * Sealing the entities of one insert or update before TypeORM writes them, and giving them their
 * plaintext back afterwards. Internal.
 */

/** One entity TypeORM is about to insert (`previous` undefined) or update via `save`. */
export interface WriteJob {
  readonly entity: ObjectLiteral;
  readonly binding: EntityBinding;
  /** The row as loaded before a `save` updates it (its sealed values decrypted). */
  readonly previous: ObjectLiteral | undefined;
  /** The write's query runner: only its queries may carry the values sealed for it. */
  readonly runner: object;
  /** Whether the write is still under way (a rollback may end it while the batch runs). */
  readonly pending: () => boolean;
}

/**
 * The plaintext behind each {@link SealedValue} set on an entity, until the write ends: it is
 * given back after the write, after a failed query or a rollback, and re-sealed when a failed
 * `save` is retried.
 */
const plaintexts = new WeakMap<object, Map<string, { plain: unknown; sealed: SealedValue }>>();

/** One read of an entity's own property: a getter is refused (it could answer twice). */
function readOwn(entity: ObjectLiteral, binding: EntityBinding, prop: string): unknown {
  const d = Reflect.getOwnPropertyDescriptor(entity, prop);
  if (d === undefined) {
    // TypeORM reads through the prototype: an inherited value would be written unseen.
    if (prop in entity) refuse(binding.table, prop, 'an entity property must be its own data');
    return undefined;
  }
  if (!('value' in d)) refuse(binding.table, prop, 'an entity property must be plain data');
  return d.value as unknown;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const INTEGER = /^(0|-?[1-9][0-9]*)$/;

/** A tenant or key value as its column stores it, or undefined when PostgreSQL would rewrite it. */
function canonical(value: unknown, form: ScopeForm, length: number): string | undefined {
  if (form === 'integer') {
    if (typeof value === 'bigint') return String(value);
    if (typeof value === 'number') return Number.isSafeInteger(value) ? String(value) : undefined;
    return typeof value === 'string' && INTEGER.test(value) ? value : undefined;
  }
  // Longer than a varchar's length: PostgreSQL would drop trailing spaces, or refuse it.
  if (typeof value !== 'string' || (length > 0 && value.length > length)) return undefined;
  return form === 'uuid' && !UUID.test(value) ? undefined : value;
}

/**
 * The record's tenant and key: the entity's, or for a `save` the loaded row's where absent. Each
 * must be what TypeORM will write (a relation on the same column, an inherited value) and what
 * PostgreSQL will store (no uuid or integer it would rewrite).
 */
function scopeOfJob({ entity, binding, previous }: WriteJob): RecordScope {
  const source: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [prop, { column, form }] of binding.scopeColumns) {
    const now = readOwn(entity, binding, prop);
    const before = previous === undefined ? undefined : (previous[prop] as unknown);
    const written = column.getEntityValue(entity) as unknown;
    const value = now ?? before ?? written;
    if (value === undefined) {
      refuse(
        binding.table,
        prop,
        previous === undefined
          ? 'give the record its tenant and key before the insert (a generated key is not known to encrypt with): they are its encryption context'
          : 'the loaded row has no tenant or key: select them',
      );
    }
    const length = Number(column.length) || 0;
    const text = canonical(value, form, length);
    if (text === undefined) {
      refuse(
        binding.table,
        prop,
        form === 'uuid'
          ? 'a uuid tenant or key must be written in lowercase canonical form: PostgreSQL stores it so'
          : form === 'integer'
            ? 'an integer tenant or key must be a safe integer (or its canonical decimal text)'
            : 'a tenant or key must be a string',
      );
    }
    for (const other of [before, written]) {
      if (other !== undefined && canonical(other, form, length) !== text) {
        refuse(
          binding.table,
          prop,
          "changing a record's tenant or key (directly or through a relation) would orphan its sealed values: insert a new record and delete the old one",
        );
      }
    }
    source[prop] = text;
  }
  return scopeOf(binding.schema, source);
}

/** One value to seal, and where its sealed value goes. */
type Slot = FieldValueToSeal & { readonly prop: string; readonly plain: unknown };

/** The values, index writes and NULLs of one entity, or the refusal of it. */
interface EntityPlan {
  readonly slots: Slot[];
  readonly nulls: string[];
  readonly indexes: { field: string; value: string | null }[];
  readonly scope: RecordScope | undefined;
}

function planEntity(job: WriteJob, row: number): EntityPlan {
  const { entity, binding } = job;
  const slots: Slot[] = [];
  const nulls: string[] = [];
  const indexes: { field: string; value: string | null }[] = [];
  const failures: { index: number; error: FieldsealError }[] = [];
  // An update may leave every sealed value as it was and still change the tenant or key: checked
  // whatever it writes.
  let scope: RecordScope | undefined = job.previous === undefined ? undefined : scopeOfJob(job);
  const pending = plaintexts.get(entity);
  for (const [prop, field] of binding.sealed) {
    let value = readOwn(entity, binding, prop);
    if (value instanceof SealedValue) {
      // A failed save retried: its plaintext is re-sealed (the context may have changed).
      const mine = pending?.get(prop);
      if (mine?.sealed !== value) {
        refuse(binding.table, prop, 'a sealed value of another entity or write cannot be reused');
      }
      value = mine.plain;
    }
    if (value instanceof UnopenedValue) {
      refuse(
        binding.table,
        prop,
        'the entity was loaded without decryption (a mapped join or callListeners(false)): load it with find, then save',
      );
    }
    if (value === undefined) continue;
    // Unchanged since the row was loaded (and not read from plaintext): not sealed again, and
    // TypeORM sees no change. A placeholder of a failed try goes.
    const previous = job.previous;
    if (
      previous !== undefined &&
      !readFromPlaintext(previous, prop) &&
      sameValue(value, previous[prop])
    ) {
      const left = pending?.get(prop);
      if (left !== undefined && entity[prop] === left.sealed) {
        left.sealed.retire();
        pending!.delete(prop);
        entity[prop] = value;
      }
      continue;
    }
    if (value === null) {
      const error = absentError(field, null, 'encrypt');
      if (error !== undefined) failures.push({ index: row, error });
      else nulls.push(prop);
    } else if (!hasKind(field.kind, value)) {
      failures.push({ index: row, error: kindError(field, 'encrypt') });
      continue;
    } else if (typeof value === 'string' && holdsEnvelope(value)) {
      // An envelope read raw (getRawMany, a query) and saved back would be sealed again.
      refuse(binding.table, prop, 'the value is already an envelope: save the decrypted value');
    } else {
      scope ??= scopeOfJob(job);
      slots.push({
        row,
        field,
        value: value as FieldValue,
        context: contextOf(binding.schema, field, scope),
        prop,
        plain: value,
      });
    }
    if (field.encryption?.blindIndex !== undefined) {
      scope ??= scopeOfJob(job);
      indexes.push({ field: field.name, value: typeof value === 'string' ? value : null });
    }
  }
  if (failures.length > 0) throw new BatchError(failures);
  return { slots, nulls, indexes, scope };
}

/**
 * Seal the sealed properties each entity sets, in one client batch; set blind-index columns;
 * put a {@link SealedValue} in place of each plaintext. Each job settles on its own: an entity
 * refused (its value, its scope) fails its own write only.
 * @returns each job's failure, or undefined for a job sealed.
 */
export async function sealEntities(fs: Fieldseal, jobs: readonly WriteJob[]): Promise<unknown[]> {
  const errors: unknown[] = jobs.map(() => undefined);
  const plans: (EntityPlan | undefined)[] = jobs.map((job, i) => {
    try {
      return planEntity(job, i);
    } catch (err) {
      errors[i] = err;
      return undefined;
    }
  });
  const ok = (i: number) => plans[i] !== undefined && errors[i] === undefined;
  // Encrypt; a value the client refuses fails its own entity, and the others are sealed again.
  let sealed = new Map<Slot, string | Buffer>();
  for (let attempt = 0; attempt < 2; attempt++) {
    const slots = plans.flatMap((p, i) => (ok(i) ? p!.slots : []));
    try {
      const out = await sealFieldValues(fs, slots);
      sealed = new Map(slots.map((s, k) => [s, out[k]!]));
      break;
    } catch (err) {
      if (!(isFieldsealError(err) && err.code === 'ERR_BATCH_FAILED') || attempt === 1) throw err;
      const byRow = new Map<number, { index: number; error: FieldsealError }[]>();
      for (const f of err.failures) byRow.set(f.index, [...(byRow.get(f.index) ?? []), f]);
      for (const [row, failures] of byRow) errors[row] = new BatchError(failures);
    }
  }
  const indexes = await indexColumnsOf(jobs, plans, ok, errors);
  jobs.forEach((job, i) => {
    // Nothing is changed on an entity until it is sealed whole, nor once its write ended.
    if (!ok(i) || !job.pending()) return;
    const { entity, binding } = job;
    const plan = plans[i]!;
    let pending = plaintexts.get(entity);
    if (pending === undefined) {
      plaintexts.set(
        entity,
        (pending = new Map<string, { plain: unknown; sealed: SealedValue }>()),
      );
    }
    for (const slot of plan.slots) {
      const label = binding.transformers.get(slot.prop)!.label;
      const value = new SealedValue(sealed.get(slot)!, label, job.runner);
      pending.get(slot.prop)?.sealed.retire();
      pending.set(slot.prop, { plain: slot.plain, sealed: value });
      entity[slot.prop] = value;
    }
    for (const prop of plan.nulls) pending.delete(prop);
    for (const { prop, value } of indexes[i] ?? []) entity[prop] = value;
  });
  return errors;
}

/** The blind-index columns of each entity: index values of strings, NULL for a NULL. */
async function indexColumnsOf(
  jobs: readonly WriteJob[],
  plans: readonly (EntityPlan | undefined)[],
  ok: (i: number) => boolean,
  errors: unknown[],
): Promise<{ prop: string; value: string | null }[][]> {
  const out: { prop: string; value: string | null }[][] = jobs.map(() => []);
  const bySource = new Map<EntityBinding, { job: number; field: string; value: string }[]>();
  plans.forEach((plan, i) => {
    if (!ok(i)) return;
    const { binding } = jobs[i]!;
    for (const w of plan!.indexes) {
      if (w.value === null) {
        const { read, written } = binding.source!.indexColumns(w.field);
        for (const column of new Set([read, ...written])) {
          out[i]!.push({ prop: binding.indexProps.get(column)!, value: null });
        }
      } else {
        let list = bySource.get(binding);
        if (list === undefined) bySource.set(binding, (list = []));
        list.push({ job: i, field: w.field, value: w.value });
      }
    }
  });
  for (const [binding, list] of bySource) {
    for (let at = 0; at < list.length; at += 1000) {
      const chunk = list.slice(at, at + 1000);
      let written: Readonly<Record<string, string>>[];
      try {
        written = await binding.source!.writeIndexes(
          chunk.map((w) => ({
            tenant: plans[w.job]!.scope!.tenant,
            field: w.field,
            value: w.value,
          })),
        );
      } catch (err) {
        // A tenant's index secret that cannot be made or opened: its entities fail.
        for (const w of chunk) errors[w.job] ??= withIndexField(err, binding, w.field);
        continue;
      }
      chunk.forEach((w, k) => {
        for (const [column, value] of Object.entries(written[k]!)) {
          out[w.job]!.push({ prop: binding.indexProps.get(column)!, value });
        }
      });
    }
  }
  return out;
}

function withIndexField(err: unknown, binding: EntityBinding, field: string): unknown {
  return isFieldsealError(err) ? withField(err, `${binding.table}.${field}`) : err;
}

/** Give an entity its plaintext back in place of the sealed values it was written with. */
export function restorePlaintext(entity: unknown): void {
  if (typeof entity !== 'object' || entity === null) return;
  const pending = plaintexts.get(entity);
  if (pending === undefined) return;
  plaintexts.delete(entity);
  // Also where TypeORM merged something else in (a value a RETURNING brought back).
  for (const [prop, { plain, sealed }] of pending) {
    sealed.retire();
    (entity as ObjectLiteral)[prop] = plain;
  }
}
