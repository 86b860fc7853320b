import type { EncryptionContext, FieldValue, Fieldseal } from '../../index.js';
import {
  absentError,
  contextOf,
  hasKind,
  kindError,
  scopeOf,
  sealFieldValues,
  type BlindIndexSource,
  type BlindIndexWrite,
  type FieldSchema,
  type RecordScope,
} from '../../integration/index.js';
import { refuseSealedFilters } from './filters.js';
import { isNull, isObject, items, type Obj } from './query-args.js';
import type { BoundModel, BoundModels, PrismaField } from './prisma-models.js';
import { refuse } from './refusal.js';

/*
 * The data of a Prisma write (create, update, upsert, and the nested writes inside them):
 * each encrypted value is queued with its record's context, each blind-indexed value with its
 * index columns; then one batch seals them all, and writes the envelopes and indexes into the
 * data in place. All internal.
 */

/** Atomic update operations: none applies to ciphertext. */
const ATOMIC = new Set(['increment', 'decrement', 'multiply', 'divide', 'push', 'unset']);

const NO_KEY =
  "the record is not named by its tenant and key, which are its values' encryption context: update it by its key (e.g. where: { tenantId_id: { tenantId, id } }) with update or upsert";

interface Slot {
  readonly target: Obj;
  readonly key: string;
  readonly field: FieldSchema;
  readonly value: FieldValue;
  readonly context: EncryptionContext;
  readonly row: number;
}

interface IndexSlot {
  readonly target: Obj;
  readonly columns: readonly string[];
  readonly write: BlindIndexWrite | undefined;
}

/** Most writes one `writeIndexes` call takes. */
const WRITES_PER_CALL = 1000;

/** The encrypted values and index writes of one Prisma operation. @internal */
export class WriteBatch {
  readonly #models: BoundModels;
  readonly #slots: Slot[] = [];
  readonly #indexes = new Map<BlindIndexSource, IndexSlot[]>();
  #row = -1;

  constructor(models: BoundModels) {
    this.#models = models;
  }

  /** Queue the data of a record created (top level or nested) on `model`. */
  create(model: BoundModel, data: unknown, inheritedTenant?: unknown): void {
    if (!model.reachesSealed || !isData(model, data)) return;
    const row = ++this.#row;
    const sealed = model.sealed;
    const tenant =
      sealed === undefined ? undefined : (data[sealed.schema.tenant] ?? inheritedTenant);
    let scope: RecordScope | undefined;
    const scopeFor = (field: string): RecordScope => {
      if (scope !== undefined) return scope;
      const { schema } = sealed!;
      if (typeof tenant !== 'string') {
        refuse(
          model.name,
          field,
          `set ${schema.tenant} in the data: it is the value's encryption context`,
        );
      }
      for (const k of schema.key) {
        if (data[k] === undefined) {
          refuse(
            model.name,
            k,
            "set the record key in the data (not a database default): it is part of each encrypted value's context",
          );
        }
      }
      scope = scopeOf(schema, { ...data, [schema.tenant]: tenant });
      return scope;
    };
    for (const [key, value] of Object.entries(data)) {
      const f = model.fields.get(key);
      if (f?.kind === 'object') this.#nested(model, f, value, tenant);
      else if (sealed !== undefined) {
        if (sealed.indexColumns.has(key)) refuseIndexColumn(model, key);
        const enc = sealed.encrypted.get(key);
        if (enc !== undefined) this.#seal(model, data, key, value, enc.field, row, scopeFor);
      }
    }
    this.#indexesOf(model, data, scopeFor);
  }

  /**
   * Queue the data of an update on `model`: `scope` names the record, when the query does;
   * without it an encrypted field in the data is refused with `why`.
   */
  update(model: BoundModel, data: unknown, scope: RecordScope | undefined, why = NO_KEY): void {
    if (!model.reachesSealed || !isData(model, data)) return;
    const row = ++this.#row;
    const sealed = model.sealed;
    const scopeFor = (field: string): RecordScope => scope ?? refuse(model.name, field, why);
    for (const [key, raw] of Object.entries(data)) {
      if (raw === undefined) continue; // Prisma leaves the field as it is
      const f = model.fields.get(key);
      if (f?.kind === 'object') {
        this.#nested(model, f, raw, scope?.tenant);
        continue;
      }
      if (sealed === undefined) continue;
      if (sealed.indexColumns.has(key)) refuseIndexColumn(model, key);
      const { schema } = sealed;
      if (sealed.encrypted.size > 0 && (key === schema.tenant || schema.key.includes(key))) {
        refuse(
          model.name,
          key,
          "changing a record's tenant or key would orphan its encrypted values (it is their context): create the record anew and delete this one",
        );
      }
      const enc = sealed.encrypted.get(key);
      if (enc === undefined) continue;
      let value: unknown = raw;
      if (isObject(raw) && enc.column !== 'Json' && !isNull(raw)) {
        const ops = Object.keys(raw);
        if (ops.length === 1 && ops[0] === 'set') value = raw.set;
        else if (enc.field.kind !== 'json' || ops.some((op) => ATOMIC.has(op))) {
          refuse(model.name, key, 'an atomic update cannot apply to ciphertext: set the new value');
        }
      }
      data[key] = value;
      this.#seal(model, data, key, value, enc.field, row, scopeFor);
    }
    this.#indexesOf(model, data, scopeFor);
  }

  /** Seal every queued value and index in one batch each, and write them into the data. */
  async seal(fs: Fieldseal): Promise<void> {
    const slots = this.#slots;
    const sealed = await sealFieldValues(fs, slots);
    slots.forEach((s, i) => (s.target[s.key] = sealed[i]));
    for (const [source, queued] of this.#indexes) {
      const writes = queued.filter((q) => q.write !== undefined);
      for (let at = 0; at < writes.length; at += WRITES_PER_CALL) {
        const chunk = writes.slice(at, at + WRITES_PER_CALL);
        const written = await source.writeIndexes(chunk.map((q) => q.write!));
        chunk.forEach((q, i) => {
          for (const column of q.columns) {
            const value = written[i]![column];
            if (typeof value !== 'string') {
              throw new TypeError(`blind index column ${column} was not computed`);
            }
            q.target[column] = value;
          }
        });
      }
      for (const q of queued) {
        if (q.write === undefined) for (const column of q.columns) q.target[column] = null;
      }
    }
  }

  #seal(
    model: BoundModel,
    target: Obj,
    key: string,
    value: unknown,
    field: FieldSchema,
    row: number,
    scopeFor: (field: string) => RecordScope,
  ): void {
    if (value === undefined || isNull(value)) {
      // A NULL in a Json column is Prisma's DbNull / JsonNull: left as the caller wrote it.
      const error = absentError(field, value === undefined ? undefined : null, 'encrypt');
      if (error !== undefined) throw error;
      return;
    }
    if (!hasKind(field.kind, value)) throw kindError(field, 'encrypt');
    const scope = scopeFor(key);
    this.#slots.push({
      target,
      key,
      field,
      value: value as FieldValue,
      context: contextOf(model.sealed!.schema, field, scope),
      row,
    });
  }

  /** Queue the index columns of each blind-indexed field the data sets. */
  #indexesOf(model: BoundModel, data: Obj, scopeFor: (field: string) => RecordScope): void {
    const sealed = model.sealed;
    if (sealed === undefined || sealed.indexed.size === 0) return;
    let queued = this.#indexes.get(sealed.source!);
    if (queued === undefined) {
      queued = [];
      this.#indexes.set(sealed.source!, queued);
    }
    for (const [name, { written }] of sealed.indexed) {
      if (data[name] === undefined) continue;
      // The plaintext, read before the slot's envelope replaces it (seal runs later).
      const value = data[name];
      const write =
        typeof value === 'string'
          ? { tenant: scopeFor(name).tenant, field: name, value }
          : undefined;
      queued.push({ target: data, columns: written, write });
    }
  }

  /** The nested writes of a relation field. */
  #nested(parent: BoundModel, relation: PrismaField, ops: unknown, tenant: unknown): void {
    const related = this.#models.get(relation.type)!;
    if (!related.reachesSealed || !isData(parent, ops)) return;
    const models = this.#models;
    const filter = (where: unknown): void =>
      refuseSealedFilters(
        models,
        related,
        where,
        'a nested write cannot filter on an encrypted field: find the records first, then write them by key',
      );
    const nestedUpdate = (data: unknown): void =>
      this.update(
        related,
        data,
        undefined,
        'a nested update cannot seal a value (Prisma does not name the record to fieldseal): update that record through its own model, by its key',
      );
    for (const [op, value] of Object.entries(ops)) {
      for (const item of items(value)) {
        const x = isObject(item) ? item : {};
        switch (op) {
          case 'create':
            this.create(related, item, tenant);
            break;
          case 'createMany':
            for (const d of items(x.data)) this.create(related, d, tenant);
            break;
          case 'connectOrCreate':
            if (parent.sealed !== undefined || related.sealed !== undefined) {
              refuse(
                parent.name,
                relation.name,
                "connectOrCreate can rewrite a sealed record's tenant or key (its values' context) through the foreign key: create, or write the foreign-key fields themselves",
              );
            }
            filter(x.where);
            this.create(related, x.create, tenant);
            break;
          case 'upsert':
            filter(x.where);
            this.create(related, x.create, tenant);
            nestedUpdate(x.update);
            break;
          case 'update':
          case 'updateMany':
            if ('data' in x && Object.keys(x).every((k) => k === 'data' || k === 'where')) {
              filter(x.where);
              nestedUpdate(x.data);
            } else nestedUpdate(x);
            break;
          case 'connect':
          case 'disconnect':
          case 'set':
            if (parent.sealed !== undefined || related.sealed !== undefined) {
              refuse(
                parent.name,
                relation.name,
                `${op} can rewrite a sealed record's tenant or key (its values' context) through the foreign key: write the foreign-key fields themselves (fieldseal checks them)`,
              );
            }
            filter(item);
            break;
          case 'delete':
          case 'deleteMany':
            filter(item);
            break;
          default:
            refuse(parent.name, relation.name, `fieldseal does not know the nested write ${op}`);
        }
      }
    }
  }
}

/** Whether a part of a write is data to walk (undefined: absent); anything else is refused. */
function isData(model: BoundModel, value: unknown): value is Obj {
  if (value === undefined) return false;
  if (!isObject(value)) refuse(model.name, '*', 'the data of a write must be plain objects');
  return true;
}

function refuseIndexColumn(model: BoundModel, key: string): never {
  return refuse(
    model.name,
    key,
    'a blind-index column is computed by fieldseal: write the blind-indexed field itself',
  );
}
