import { inspect } from 'node:util';
import type { EncryptionContext, FieldValue, Fieldseal } from '../../index.js';
import {
  sealFieldValues,
  type BlindIndexLookup,
  type BlindIndexSource,
  type BlindIndexWrite,
  type FieldSchema,
} from '../../integration/index.js';

/*
 * The values a statement cannot have until it may await: a transformed query carries these
 * markers as parameters, and the sealing connection replaces them, all of one statement in one
 * batch, just before the driver runs it. A marker holds nothing readable: its value is in a
 * private field, and every way a driver could serialise it throws, so a query that escapes
 * the sealing connection fails instead of writing anything.
 */

const REFUSED =
  'a fieldseal value reached the driver unsealed: create Kysely with both parts of withFieldseal(...)';

/** Base of every marker. @internal */
export abstract class Pending {
  /** node-postgres calls this for objects: refuse. */
  toPostgres(): never {
    throw new TypeError(REFUSED);
  }
  toJSON(): never {
    throw new TypeError(REFUSED);
  }
  toString(): never {
    throw new TypeError(REFUSED);
  }
  [Symbol.toPrimitive](): never {
    throw new TypeError(REFUSED);
  }
  [inspect.custom](): string {
    return '[fieldseal pending value]';
  }
}

/** An encrypted column's value, sealed with its record's context. @internal */
export class PendingValue extends Pending {
  readonly #value: FieldValue;
  readonly #context: EncryptionContext;
  readonly field: FieldSchema;
  /** The statement row the value belongs to (for `BatchError.failures`). */
  readonly row: number;

  constructor(value: FieldValue, context: EncryptionContext, field: FieldSchema, row: number) {
    super();
    this.#value = value;
    this.#context = context;
    this.field = field;
    this.row = row;
  }

  /** @internal */
  item(): { value: FieldValue; context: EncryptionContext } {
    return { value: this.#value, context: this.#context };
  }
}

/** Most writes one `writeIndexes` call takes. */
const WRITES_PER_CALL = 1000;

/** The blind-index writes of one statement (one `writeIndexes` call per 1,000). @internal */
export class IndexWrites {
  readonly #source: BlindIndexSource;
  readonly #writes: BlindIndexWrite[] = [];
  #written: readonly Readonly<Record<string, string>>[] | undefined;

  constructor(source: BlindIndexSource) {
    this.#source = source;
  }

  /** Queue a value's write; its markers, one per written column. */
  add(write: BlindIndexWrite, columns: readonly string[]): PendingIndex[] {
    const at = this.#writes.push(write) - 1;
    return columns.map((column) => new PendingIndex(this, at, column));
  }

  async resolve(): Promise<void> {
    const written: Readonly<Record<string, string>>[] = [];
    for (let at = 0; at < this.#writes.length; at += WRITES_PER_CALL) {
      written.push(
        ...(await this.#source.writeIndexes(this.#writes.slice(at, at + WRITES_PER_CALL))),
      );
    }
    this.#written = written;
  }

  /** @internal */
  valueOf(at: number, column: string): string {
    const value = this.#written?.[at]?.[column];
    if (typeof value !== 'string') {
      throw new TypeError(`blind index column ${column} was not computed`);
    }
    return value;
  }
}

/** One index column value of one write. @internal */
export class PendingIndex extends Pending {
  readonly writes: IndexWrites;
  readonly #at: number;
  readonly #column: string;

  constructor(writes: IndexWrites, at: number, column: string) {
    super();
    this.writes = writes;
    this.#at = at;
    this.#column = column;
  }

  resolved(): string {
    return this.writes.valueOf(this.#at, this.#column);
  }
}

/**
 * One lookup of a statement (`email = v` or `email in (...)`): its index values, and the
 * re-check the rows must pass once decrypted. @internal
 */
export class Lookup {
  readonly #source: BlindIndexSource;
  readonly tenant: string;
  readonly field: FieldSchema;
  readonly #values: readonly string[];
  readonly #column: string;
  readonly markers: readonly PendingLookup[];
  #found: BlindIndexLookup | undefined;

  constructor(
    source: BlindIndexSource,
    tenant: string,
    field: FieldSchema,
    values: readonly string[],
    column: string,
  ) {
    this.#source = source;
    this.tenant = tenant;
    this.field = field;
    this.#values = values;
    this.#column = column;
    this.markers = values.map((_, i) => new PendingLookup(this, i));
  }

  async resolve(): Promise<void> {
    const found = await this.#source.lookupIndexes(this.tenant, this.field.name, this.#values);
    if (found.column !== this.#column) {
      throw new TypeError(`blind index of ${this.field.qualified}: the read column changed`);
    }
    this.#found = found;
  }

  /** The i-th distinct index, or `null` (matches nothing) past the last one. */
  indexAt(i: number): string | null {
    if (this.#found === undefined) throw new TypeError('the lookup was not resolved');
    return this.#found.indexes[i] ?? null;
  }

  /** The re-check of a decrypted value; throws before the lookup ran (fail closed). */
  matches(value: unknown): boolean {
    if (this.#found === undefined) throw new TypeError('the lookup was not resolved');
    return this.#found.matches(value);
  }
}

/** One parameter of a lookup's index list. @internal */
export class PendingLookup extends Pending {
  readonly lookup: Lookup;
  readonly #at: number;

  constructor(lookup: Lookup, at: number) {
    super();
    this.lookup = lookup;
    this.#at = at;
  }

  resolved(): string | null {
    return this.lookup.indexAt(this.#at);
  }
}

/**
 * Replace every marker of a statement's parameters: its values encrypted in one batch, its
 * index writes and lookups resolved. Parameters without markers come back as they are.
 * @throws BatchError (each failure names its field) when a value does not encrypt; the
 *   index source's error (e.g. `ERR_KEY_SHREDDED`).
 * @internal
 */
export async function resolveParameters(
  fs: Fieldseal,
  parameters: readonly unknown[],
): Promise<readonly unknown[]> {
  const values: PendingValue[] = [];
  const writes = new Set<IndexWrites>();
  const lookups = new Set<Lookup>();
  for (const p of parameters) {
    if (p instanceof PendingValue) values.push(p);
    else if (p instanceof PendingIndex) writes.add(p.writes);
    else if (p instanceof PendingLookup) lookups.add(p.lookup);
  }
  if (values.length === 0 && writes.size === 0 && lookups.size === 0) return parameters;
  // One after the other, values first: each step's key fetches are then the same for one
  // record as for a thousand (a tenant's key, then its index secret), and a refused value
  // computes no index.
  const sealed = await seal(fs, values);
  for (const w of writes) await w.resolve();
  for (const l of lookups) await l.resolve();
  return parameters.map((p) => {
    if (p instanceof PendingValue) return sealed.get(p);
    if (p instanceof PendingIndex || p instanceof PendingLookup) return p.resolved();
    return p;
  });
}

async function seal(
  fs: Fieldseal,
  values: readonly PendingValue[],
): Promise<Map<PendingValue, string | Buffer>> {
  const sealed = await sealFieldValues(
    fs,
    values.map((v) => ({ row: v.row, field: v.field, ...v.item() })),
  );
  return new Map(values.map((v, i) => [v, sealed[i]!]));
}
