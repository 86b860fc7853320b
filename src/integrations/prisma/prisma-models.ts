import type { AnyModel } from '../../index.js';
import {
  assertRegistered,
  ownData,
  schemaOf,
  type BlindIndexSource,
  type FieldSchema,
  type ModelSchema,
} from '../../integration/index.js';
import type { FieldsealPrismaOptions, SealedPrismaModel } from './options.js';

/*
 * The Prisma client's models (its runtime data model: fields, kinds, types, relations) bound
 * to the fieldseal models that seal them, checked once when the extension is applied. All
 * internal.
 */

/** A field of a Prisma model, as the client's runtime data model describes it. @internal */
export interface PrismaField {
  readonly name: string;
  /** `scalar`, `object` (a relation), `enum` or `unsupported`. */
  readonly kind: string;
  /** The scalar type (`String`, `Bytes`, `Json`, ...) or the related model's name. */
  readonly type: string;
}

/** The Prisma column types an encrypted field can be stored in. @internal */
export type SealedColumnType = 'String' | 'Bytes' | 'Json';

/** A blind-indexed field: the index column queries read, and the ones writes fill. @internal */
export interface IndexedColumns {
  readonly field: FieldSchema;
  readonly read: string;
  readonly written: readonly string[];
}

/** A sealed Prisma model. @internal */
export interface SealedModel {
  readonly schema: ModelSchema;
  readonly source: BlindIndexSource | undefined;
  /** Encrypted fields by name, with the type of their Prisma column. */
  readonly encrypted: ReadonlyMap<string, { field: FieldSchema; column: SealedColumnType }>;
  readonly indexed: ReadonlyMap<string, IndexedColumns>;
  /** Every index column: fieldseal writes them; a query never sets them itself. */
  readonly indexColumns: ReadonlySet<string>;
}

/** A Prisma model: its fields, and its sealing when fieldseal seals it. @internal */
export interface BoundModel {
  readonly name: string;
  readonly fields: ReadonlyMap<string, PrismaField>;
  readonly sealed: SealedModel | undefined;
  /** Whether a query on this model can reach a sealed model (itself, or through relations). */
  readonly reachesSealed: boolean;
}

/** Every model of the client, by Prisma model name. @internal */
export type BoundModels = ReadonlyMap<string, BoundModel>;

const COLUMN_TYPES: ReadonlySet<string> = new Set(['String', 'Bytes', 'Json']);

/**
 * Read the client's runtime data model and bind the configured models to it.
 * @throws TypeError naming the first model or field that does not fit.
 * @internal
 */
export function bindModels(client: unknown, options: FieldsealPrismaOptions): BoundModels {
  const data = runtimeDataModel(client);
  const configured = ownData(options.models, (_why, key) => {
    throw new TypeError(`fieldseal(prisma): models.${key} must be a plain data property`);
  });
  const models = new Map<string, BoundModel>();
  const sealedByName = new Map<string, SealedModel>();
  for (const [name, entry] of Object.entries(configured)) {
    const fields = data.get(name);
    if (fields === undefined) {
      throw new TypeError(`fieldseal(prisma): models.${name}: the Prisma client has no such model`);
    }
    sealedByName.set(name, sealModel(options, name, fields, entry as AnyModel | SealedPrismaModel));
  }
  // Which models reach a sealed one through relations: a fixed point over the relation graph.
  const reaches = new Set(sealedByName.keys());
  for (let grew = true; grew;) {
    grew = false;
    for (const [name, fields] of data) {
      if (reaches.has(name)) continue;
      for (const f of fields.values()) {
        if (f.kind === 'object' && reaches.has(f.type)) {
          reaches.add(name);
          grew = true;
          break;
        }
      }
    }
  }
  for (const [name, fields] of data) {
    models.set(name, {
      name,
      fields,
      sealed: sealedByName.get(name),
      reachesSealed: reaches.has(name),
    });
  }
  return models;
}

function sealModel(
  options: FieldsealPrismaOptions,
  name: string,
  fields: ReadonlyMap<string, PrismaField>,
  entry: AnyModel | SealedPrismaModel,
): SealedModel {
  const fail = (field: string, why: string): never => {
    throw new TypeError(`fieldseal(prisma): ${name}.${field}: ${why}`);
  };
  if (typeof entry !== 'object' || entry === null) {
    throw new TypeError(`fieldseal(prisma): models.${name}: expected a fieldseal model`);
  }
  const { model, blindIndexes: source } =
    'model' in entry ? entry : { model: entry, blindIndexes: undefined };
  const schema = schemaOf(model);
  assertRegistered(options.fs, schema);
  const scalar = (field: string): PrismaField => {
    const f = fields.get(field);
    if (f === undefined) fail(field, 'the Prisma model has no such field');
    if (f!.kind !== 'scalar') fail(field, `expected a scalar field, found a ${f!.kind} field`);
    return f!;
  };
  for (const f of schema.fields) scalar(f.name);
  const encrypted = new Map<string, { field: FieldSchema; column: SealedColumnType }>();
  for (const f of schema.encrypted) {
    const type = scalar(f.name).type;
    if (!COLUMN_TYPES.has(type)) {
      fail(f.name, `an encrypted field is stored in a String, Bytes or Json column, not ${type}`);
    }
    const storage = f.encryption!.storage;
    if (type === 'Bytes' && storage !== 'binary') {
      fail(
        f.name,
        "a Bytes column holds binary envelopes: declare .encrypted({ storage: 'binary' })",
      );
    }
    if (type !== 'Bytes' && storage !== 'text') {
      fail(
        f.name,
        `a ${type} column holds text envelopes: declare .encrypted({ storage: 'text' })`,
      );
    }
    encrypted.set(f.name, { field: f, column: type as SealedColumnType });
  }
  if (schema.blindIndexed.length > 0 && source === undefined) {
    fail(
      schema.blindIndexed[0]!.name,
      'a blind-indexed field needs blindIndexes: createPostgresRepository({ ... })',
    );
  }
  if (source !== undefined && source.model !== model) {
    throw new TypeError(
      `fieldseal(prisma): models.${name}: blindIndexes is the source of another model`,
    );
  }
  const indexed = new Map<string, IndexedColumns>();
  const indexColumns = new Set<string>();
  for (const f of schema.blindIndexed) {
    const { read, written } = source!.indexColumns(f.name);
    for (const column of new Set([read, ...written])) {
      if (scalar(column).type !== 'String') fail(column, 'a blind-index column is a String field');
      indexColumns.add(column);
    }
    indexed.set(f.name, { field: f, read, written });
  }
  return { schema, source, encrypted, indexed, indexColumns };
}

/** The client's runtime data model: every model's fields. */
function runtimeDataModel(client: unknown): Map<string, ReadonlyMap<string, PrismaField>> {
  const fail = (): never => {
    throw new TypeError(
      "fieldseal(prisma): the client has no runtime data model to check the configuration against: pass fieldseal(...) to a PrismaClient's $extends (Prisma 7 with a driver adapter)",
    );
  };
  const runtime = (client as { _runtimeDataModel?: { models?: unknown } } | null)
    ?._runtimeDataModel;
  const models = runtime?.models;
  if (typeof models !== 'object' || models === null) fail();
  const out = new Map<string, ReadonlyMap<string, PrismaField>>();
  for (const [name, model] of Object.entries(models as Record<string, { fields?: unknown }>)) {
    if (!Array.isArray(model.fields)) fail();
    const fields = new Map<string, PrismaField>();
    for (const f of model.fields as { name: unknown; kind: unknown; type: unknown }[]) {
      if (typeof f.name !== 'string' || typeof f.kind !== 'string' || typeof f.type !== 'string')
        fail();
      fields.set(f.name as string, {
        name: f.name as string,
        kind: f.kind as string,
        type: f.type as string,
      });
    }
    out.set(name, fields);
  }
  return out;
}
