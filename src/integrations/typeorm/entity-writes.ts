import type { ObjectLiteral } from 'typeorm';
import { BatchError, type FieldValue, type Fieldseal, type FieldsealError } from '../../index.js';
import {
  absentError,
  contextOf,
  hasKind,
  kindError,
  scopeOf,
  sealFieldValues,
  type FieldValueToSeal,
  type RecordScope,
} from '../../integration/index.js';
import { refuse, type EntityBinding } from './entity-binding.js';
import { SealedValue } from './sealed-value.js';

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
}

/**
 * The plaintext behind each {@link SealedValue} set on an entity, until the write ends: it is
 * given back after the write, after a rollback, and re-sealed when a failed `save` is retried.
 */
const plaintexts = new WeakMap<object, Map<string, unknown>>();

/** One read of an entity's own property: a getter is refused (it could answer twice). */
function readOwn(entity: ObjectLiteral, binding: EntityBinding, prop: string): unknown {
  const d = Reflect.getOwnPropertyDescriptor(entity, prop);
  if (d === undefined) return undefined;
  if (!('value' in d)) refuse(binding.table, prop, 'an entity property must be plain data');
  return d.value as unknown;
}

/** A tenant or key value as text, for comparison (anything else compares by identity). */
function keyText(value: unknown): unknown {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint'
    ? String(value)
    : value;
}

/** The record's tenant and key: the entity's, or for a `save` the loaded row's where absent. */
function scopeOfJob({ entity, binding, previous }: WriteJob): RecordScope {
  const source: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const prop of binding.scopeProps) {
    const now = readOwn(entity, binding, prop);
    const before = previous === undefined ? undefined : (previous[prop] as unknown);
    if (now === undefined && before === undefined) {
      refuse(
        binding.table,
        prop,
        previous === undefined
          ? 'give the record its tenant and key before the insert (a generated key is not known to encrypt with): they are its encryption context'
          : 'the loaded row has no tenant or key: select them',
      );
    }
    if (now !== undefined && before !== undefined && keyText(now) !== keyText(before)) {
      refuse(
        binding.table,
        prop,
        "changing a record's tenant or key would orphan its sealed values: insert a new record and delete the old one",
      );
    }
    source[prop] = now ?? before;
  }
  return scopeOf(binding.schema, source);
}

/**
 * Seal the sealed properties each entity sets, in one client batch; set blind-index columns;
 * put a {@link SealedValue} in place of each plaintext.
 * @throws BatchError (each failure naming its field) or the refusal of a value or scope.
 */
export async function sealEntities(fs: Fieldseal, jobs: readonly WriteJob[]): Promise<void> {
  const values: (FieldValueToSeal & { prop: string; plain: unknown })[] = [];
  const nulls: { job: number; prop: string }[] = [];
  const failures: { index: number; error: FieldsealError }[] = [];
  const indexWrites = new Map<
    EntityBinding,
    { job: number; field: string; value: string | null }[]
  >();
  jobs.forEach((job, index) => {
    const { entity, binding } = job;
    let scope: RecordScope | undefined;
    const pending = plaintexts.get(entity);
    for (const [prop, field] of binding.sealed) {
      let value = readOwn(entity, binding, prop);
      if (value instanceof SealedValue) {
        // A failed save retried: its plaintext is re-sealed (the context may have changed).
        if (pending?.has(prop) !== true) {
          refuse(binding.table, prop, 'a sealed value of another entity or write cannot be reused');
        }
        value = pending.get(prop);
      }
      if (value === undefined) continue;
      if (value === null) {
        const error = absentError(field, null, 'encrypt');
        if (error !== undefined) failures.push({ index, error });
        else nulls.push({ job: index, prop });
      } else if (!hasKind(field.kind, value)) {
        failures.push({ index, error: kindError(field, 'encrypt') });
        continue;
      } else {
        scope ??= scopeOfJob(job);
        values.push({
          row: index,
          field,
          value: value as FieldValue,
          context: contextOf(binding.schema, field, scope),
          prop,
          plain: value,
        });
      }
      if (field.encryption?.blindIndex !== undefined) {
        scope ??= scopeOfJob(job);
        let list = indexWrites.get(binding);
        if (list === undefined) indexWrites.set(binding, (list = []));
        list.push({
          job: index,
          field: field.name,
          value: typeof value === 'string' ? value : null,
        });
      }
    }
  });
  if (failures.length > 0) throw new BatchError(failures);
  const sealed = await sealFieldValues(fs, values);
  const indexes = await indexColumnsOf(jobs, indexWrites);
  // Nothing is changed on an entity until everything is sealed: a failure leaves them as given.
  values.forEach((v, i) => {
    const entity = jobs[v.row]!.entity;
    let pending = plaintexts.get(entity);
    if (pending === undefined) plaintexts.set(entity, (pending = new Map<string, unknown>()));
    pending.set(v.prop, v.plain);
    entity[v.prop] = new SealedValue(sealed[i]!);
  });
  for (const { job, prop } of nulls) plaintexts.get(jobs[job]!.entity)?.delete(prop);
  for (const { job, prop, value } of indexes) jobs[job]!.entity[prop] = value;
}

/** The blind-index columns each entity writes: index values of strings, NULL for a NULL. */
async function indexColumnsOf(
  jobs: readonly WriteJob[],
  writes: ReadonlyMap<
    EntityBinding,
    readonly { job: number; field: string; value: string | null }[]
  >,
): Promise<{ job: number; prop: string; value: string | null }[]> {
  const out: { job: number; prop: string; value: string | null }[] = [];
  for (const [binding, list] of writes) {
    const source = binding.source!;
    for (const w of list.filter((x) => x.value === null)) {
      const { read, written } = source.indexColumns(w.field);
      for (const column of new Set([read, ...written])) {
        out.push({ job: w.job, prop: binding.indexProps.get(column)!, value: null });
      }
    }
    const strings = list.filter((x) => x.value !== null);
    for (let at = 0; at < strings.length; at += 1000) {
      const chunk = strings.slice(at, at + 1000);
      const written = await source.writeIndexes(
        chunk.map((w) => ({
          tenant: scopeOfJob(jobs[w.job]!).tenant,
          field: w.field,
          value: w.value!,
        })),
      );
      chunk.forEach((w, i) => {
        for (const [column, value] of Object.entries(written[i]!)) {
          out.push({ job: w.job, prop: binding.indexProps.get(column)!, value });
        }
      });
    }
  }
  return out;
}

/** Give an entity its plaintext back in place of the sealed values it was written with. */
export function restorePlaintext(entity: unknown): void {
  if (typeof entity !== 'object' || entity === null) return;
  const pending = plaintexts.get(entity);
  if (pending === undefined) return;
  plaintexts.delete(entity);
  for (const [prop, plain] of pending) {
    if ((entity as ObjectLiteral)[prop] instanceof SealedValue) {
      (entity as ObjectLiteral)[prop] = plain;
    }
  }
}
