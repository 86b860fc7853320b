import { getDirective } from '@graphql-tools/utils';
import {
  defaultFieldResolver,
  getNamedType,
  getNullableType,
  isInputObjectType,
  isListType,
  type GraphQLArgument,
  type GraphQLFieldConfigArgumentMap,
  type GraphQLFieldResolver,
  type GraphQLInputField,
  type GraphQLInputType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
} from 'graphql';
import type { EncryptionContext, FieldValue } from '../../index.js';
import type { BlindIndexSource } from '../../integration/index.js';
import {
  absentError,
  asRecord,
  schemaOf,
  contextOf,
  hasKind,
  kindError,
  ownData,
  scopeOf,
  toText,
  type RecordScope,
} from '../../integration/index.js';
import { binding, type ModelBinding } from './field-spec.js';
import { encryptionError } from './graphql-errors.js';
import type { FieldsealGraphQLOptions, FieldsealInputRef } from './options.js';
import { FieldsealSchemaError } from './setup-error.js';

type Raw = Record<string, unknown>;
type Resolver = GraphQLFieldResolver<unknown, unknown>;
type Args = Record<string, unknown>;

/** Input objects nested deeper than this are refused (a hostile or recursive input). */
const MAX_DEPTH = 32;

/** One `@encrypted` input field or argument, checked at setup. */
interface InputLeaf {
  /** `Input.field`, or `Type.field(arg:)`. */
  readonly coordinate: string;
  readonly model: ModelBinding | undefined;
  /** The model name, as `inputContext` is told. */
  readonly modelName: string | undefined;
  /** The index source of a blind-indexed model field: writes get its index columns. */
  readonly indexes: BlindIndexSource | undefined;
}

/**
 * What a transformed schema knows of its encrypted inputs: the leaves by coordinate, and the
 * input object types that reach one (at any depth).
 */
export interface InputPlan {
  readonly leaves: ReadonlyMap<string, InputLeaf>;
  readonly reaching: ReadonlySet<string>;
}

/** The `@encrypted` settings of an input field or argument (directive or extensions). */
function inputSettings(
  schema: GraphQLSchema,
  node: GraphQLArgument | GraphQLInputField | { astNode?: unknown; extensions?: unknown },
): Raw | undefined {
  const directive = getDirective(schema, node as GraphQLArgument, 'encrypted')?.[0] as
    Raw | undefined;
  if (directive !== undefined) return directive;
  const ext = (node.extensions as Raw | null | undefined)?.fieldseal as Raw | undefined;
  if (ext === undefined || ext === null || !('encrypted' in ext)) return undefined;
  return ext.encrypted === true ? {} : (ext.encrypted as Raw);
}

function leafOf(
  schema: GraphQLSchema,
  coordinate: string,
  name: string,
  node: GraphQLArgument | GraphQLInputField | { astNode?: unknown; extensions?: unknown },
  options: FieldsealGraphQLOptions,
): InputLeaf | undefined {
  const raw = inputSettings(schema, node);
  if (raw === undefined) return undefined;
  const fail = (why: string): never => {
    throw new FieldsealSchemaError(coordinate, why);
  };
  if (typeof raw !== 'object' || raw === null) fail('invalid @encrypted');
  const model = binding(raw, name, options, fail);
  const modelName = model === undefined ? undefined : (raw.model as string);
  let indexes: BlindIndexSource | undefined;
  if (model?.field.encryption?.blindIndex !== undefined) {
    // A row written without its index is missing from every lookup: refuse the setup.
    const sources = options.blindIndexes ?? {};
    indexes = Object.hasOwn(sources, modelName!) ? sources[modelName!] : undefined;
    if (indexes === undefined || typeof indexes.writeIndexes !== 'function') {
      fail(`${model.field.qualified} has a blind index: pass options.blindIndexes.${modelName!}`);
    }
    if (schemaOf(indexes!.model) !== model.schema) {
      fail(`options.blindIndexes.${modelName!} indexes another model`);
    }
  }
  return { coordinate, model, modelName, indexes };
}

/**
 * The resolver receives a blind-indexed input's index columns (`email_bidx_v1`) next to it:
 * a client must not be able to send them itself.
 * @throws FieldsealSchemaError when the holder declares a field of such a name.
 */
function checkIndexNames(
  holder: string,
  names: readonly string[],
  leaves: readonly InputLeaf[],
): void {
  for (const leaf of leaves) {
    if (leaf.indexes === undefined) continue;
    const column = new RegExp(`^${leaf.model!.field.name}_bidx_v\\d+$`);
    const clash = names.find((n) => column.test(n));
    if (clash !== undefined) {
      throw new FieldsealSchemaError(
        `${holder}.${clash}`,
        `the index column of ${leaf.coordinate} is set by fieldseal, not by the client`,
      );
    }
  }
}

/**
 * Check every `@encrypted` input field of the schema's input object types and find the types
 * that reach one.
 * @throws FieldsealSchemaError naming `Input.field` (unknown model, a model field that is not
 *   encrypted).
 */
export function inputPlan(schema: GraphQLSchema, options: FieldsealGraphQLOptions): InputPlan {
  const leaves = new Map<string, InputLeaf>();
  const inputs = Object.values(schema.getTypeMap()).filter(isInputObjectType);
  for (const type of inputs) {
    const mine: InputLeaf[] = [];
    for (const f of Object.values(type.getFields())) {
      const coordinate = `${type.name}.${f.name}`;
      const leaf = leafOf(schema, coordinate, f.name, f, options);
      if (leaf !== undefined) {
        leaves.set(coordinate, leaf);
        mine.push(leaf);
      }
    }
    checkIndexNames(type.name, Object.keys(type.getFields()), mine);
  }
  const reaching = new Set<string>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const type of inputs) {
      if (reaching.has(type.name)) continue;
      const reaches = Object.values(type.getFields()).some((f) => {
        const named = getNamedType(f.type);
        return (
          leaves.has(`${type.name}.${f.name}`) ||
          (isInputObjectType(named) && reaching.has(named.name))
        );
      });
      if (reaches) {
        reaching.add(type.name);
        grew = true;
      }
    }
  }
  return { leaves, reaching };
}

/**
 * Add the field's `@encrypted` arguments to the plan (`Type.field(arg:)`) and tell whether any
 * argument is one or reaches one: then its resolver must encrypt the arguments first.
 */
export function argumentsReach(
  schema: GraphQLSchema,
  plan: InputPlan,
  typeName: string,
  fieldName: string,
  args: GraphQLFieldConfigArgumentMap | undefined,
  options: FieldsealGraphQLOptions,
): boolean {
  let any = false;
  const mine: InputLeaf[] = [];
  for (const [name, arg] of Object.entries(args ?? {})) {
    const coordinate = `${typeName}.${fieldName}(${name}:)`;
    const leaf = leafOf(schema, coordinate, name, arg, options);
    if (leaf !== undefined) {
      (plan.leaves as Map<string, InputLeaf>).set(coordinate, leaf);
      mine.push(leaf);
      any = true;
    } else {
      const named = getNamedType(arg.type);
      if (isInputObjectType(named) && plan.reaching.has(named.name)) any = true;
    }
  }
  checkIndexNames(`${typeName}.${fieldName}`, Object.keys(args ?? {}), mine);
  return any;
}

/** A refusal of one input (internal; it never holds a value): the resolver is not called. */
class Refusal extends Error {
  constructor(
    readonly input: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(`input ${input} at ${path}: ${reason}`);
  }
}

interface Slot {
  readonly target: Args;
  readonly key: string;
  readonly text: boolean;
  readonly leaf: InputLeaf;
  readonly path: string;
}

/** One resolver call's walk: the copied arguments, the values to encrypt and their slots. */
class Walk {
  readonly items: { value: FieldValue; context: EncryptionContext }[] = [];
  readonly slots: Slot[] = [];
  /** Blind-indexed values: their index columns are set next to the envelope. */
  readonly indexed: { slot: Slot; tenant: string; value: string }[] = [];

  constructor(
    private readonly plan: InputPlan,
    private readonly options: FieldsealGraphQLOptions,
    private readonly call: {
      readonly args: Args;
      readonly ctx: unknown;
      readonly info: GraphQLResolveInfo;
    },
  ) {}

  /** The new arguments: encrypted slots are filled once the batch is sealed. */
  arguments(typeName: string, fieldName: string, args: readonly GraphQLArgument[]): Args {
    const holder = snapshot(this.call.args, '', '');
    const out: Args = { ...holder };
    for (const arg of args) {
      if (!Object.hasOwn(holder, arg.name)) continue;
      const leaf = this.plan.leaves.get(`${typeName}.${fieldName}(${arg.name}:)`);
      if (leaf !== undefined) this.leaf(holder, out, arg.name, leaf, arg.name);
      else out[arg.name] = this.value(arg.type, holder[arg.name], arg.name, 0);
    }
    return out;
  }

  private value(type: GraphQLInputType, value: unknown, path: string, depth: number): unknown {
    if (value === null || value === undefined) return value;
    const t = getNullableType(type);
    if (isListType(t)) {
      if (!Array.isArray(value)) return this.value(t.ofType, value, path, depth);
      return value.map((v: unknown, i) => this.value(t.ofType, v, `${path}[${i}]`, depth + 1));
    }
    if (!isInputObjectType(t) || !this.plan.reaching.has(t.name)) return value;
    if (depth > MAX_DEPTH) throw new Refusal(t.name, path, 'ERR_INPUT_TOO_DEEP');
    const holder = snapshot(value, t.name, path);
    const out: Args = { ...holder };
    for (const f of Object.values(t.getFields())) {
      if (!Object.hasOwn(holder, f.name)) continue;
      const leaf = this.plan.leaves.get(`${t.name}.${f.name}`);
      const at = `${path}.${f.name}`;
      if (leaf !== undefined) this.leaf(holder, out, f.name, leaf, at);
      else out[f.name] = this.value(f.type, holder[f.name], at, depth + 1);
    }
    return out;
  }

  /** Queue one encrypted value with its record's context, or refuse it. */
  private leaf(
    holder: Readonly<Args>,
    out: Args,
    key: string,
    leaf: InputLeaf,
    path: string,
  ): void {
    const value = holder[key];
    if (value === undefined) return;
    const model = leaf.model;
    if (value === null) {
      const absent = model === undefined ? undefined : absentError(model.field, null, 'encrypt');
      if (absent !== undefined) throw new Refusal(leaf.coordinate, path, absent.code);
      out[key] = null;
      return;
    }
    if (model !== undefined && !hasKind(model.field.kind, value)) {
      throw new Refusal(leaf.coordinate, path, kindError(model.field, 'encrypt').code);
    }
    const context = this.context(holder, leaf, path);
    this.items.push({ value: value as FieldValue, context });
    const slot: Slot = {
      target: out,
      key,
      leaf,
      path,
      text: model === undefined || model.field.encryption!.storage === 'text',
    };
    this.slots.push(slot);
    if (leaf.indexes !== undefined) {
      this.indexed.push({ slot, tenant: context.tenant, value: value as string });
    }
  }

  /**
   * The record's context: the holder's own tenant and key fields, else `inputContext`; a
   * context that cannot be bound refuses the call.
   */
  private context(holder: Readonly<Args>, leaf: InputLeaf, path: string): EncryptionContext {
    const model = leaf.model;
    if (model !== undefined) {
      let scope: RecordScope | undefined;
      try {
        scope = scopeOf(model.schema, asRecord(model.schema, holder, 'row'));
      } catch {
        scope = undefined;
      }
      if (scope !== undefined) return contextOf(model.schema, model.field, scope);
    }
    const fn = this.options.inputContext;
    const refuse = (): never => {
      throw new Refusal(leaf.coordinate, path, 'ERR_INVALID_CONTEXT');
    };
    if (typeof fn !== 'function') return refuse();
    const ref: FieldsealInputRef = { input: leaf.coordinate, path, model: leaf.modelName };
    let given: unknown;
    try {
      given = fn(this.call.args, this.call.ctx, this.call.info, Object.freeze(ref));
    } catch {
      return refuse();
    }
    if (typeof given !== 'object' || given === null) return refuse();
    const { tenant, record, table, field } = given as Raw;
    const keyOk =
      typeof record === 'string' ||
      (Array.isArray(record) && record.length > 0 && record.every((p) => typeof p === 'string'));
    if (typeof tenant !== 'string' || tenant === '' || !keyOk) return refuse();
    const scope: RecordScope = { tenant, record: record };
    if (model !== undefined) return contextOf(model.schema, model.field, scope);
    if (typeof table !== 'string' || table === '' || typeof field !== 'string' || field === '') {
      return refuse();
    }
    return { tenant, table, field, record: scope.record };
  }
}

/** An input object's (or the arguments') own plain data, read once; accessors are refused. */
function snapshot(value: unknown, input: string, path: string): Readonly<Args> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Refusal(input, path, 'ERR_UNSUPPORTED_VALUE');
  }
  return ownData(value, () => {
    throw new Refusal(input, path, 'ERR_UNSUPPORTED_VALUE');
  });
}

/** The fieldseal code of a failed batch, and the slot it names when it names one. */
function batchFailure(err: unknown): { reason: string; index: number | undefined } {
  const e = err as { code?: unknown; failures?: unknown } | null;
  const failures = Array.isArray(e?.failures)
    ? (e.failures as { index?: unknown; error?: { code?: unknown } }[])
    : [];
  const first = failures[0];
  if (first !== undefined && typeof first.error?.code === 'string') {
    return {
      reason: first.error.code,
      index: typeof first.index === 'number' ? first.index : undefined,
    };
  }
  return {
    reason: typeof e?.code === 'string' ? e.code : 'ERR_ENCRYPTION_FAILED',
    index: undefined,
  };
}

/**
 * Set the index columns of every blind-indexed value next to its envelope (one
 * `writeIndexes` call per index source); the first failure, else `undefined`.
 */
async function addIndexColumns(
  indexed: readonly { slot: Slot; tenant: string; value: string }[],
): Promise<{ slot: Slot; reason: string } | undefined> {
  const bySource = new Map<BlindIndexSource, { slot: Slot; tenant: string; value: string }[]>();
  for (const entry of indexed) {
    const source = entry.slot.leaf.indexes!;
    const list = bySource.get(source);
    if (list === undefined) bySource.set(source, [entry]);
    else list.push(entry);
  }
  for (const [source, entries] of bySource) {
    let columns: Readonly<Record<string, string>>[];
    try {
      columns = await source.writeIndexes(
        entries.map((e) => ({
          tenant: e.tenant,
          field: e.slot.leaf.model!.field.name,
          value: e.value,
        })),
      );
    } catch (err) {
      const { reason } = batchFailure(err);
      return { slot: entries[0]!.slot, reason };
    }
    entries.forEach((e, i) => Object.assign(e.slot.target, columns[i]));
  }
  return undefined;
}

/**
 * Wrap a resolver whose arguments reach `@encrypted` inputs: every encrypted value of the
 * call is checked (kind, nullability), bound to its record's context and sealed in ONE
 * `fs.encryptManyToBytes` batch (text storage gets the `fs1:` text form); the resolver then
 * receives NEW arguments holding the envelopes (the caller's are never modified). Any refusal
 * or failure makes the field an `ENCRYPTION_ERROR` and the resolver is not called: nothing
 * plain is written, and no error holds a value.
 */
export function inputEncryptingResolver(
  coordinate: string,
  inner: Resolver | undefined,
  plan: InputPlan,
  options: FieldsealGraphQLOptions,
): Resolver {
  const resolve = inner ?? defaultFieldResolver;
  return async (source, args: Args, ctx, info) => {
    const walk = new Walk(plan, options, { args, ctx, info });
    let next: Args;
    try {
      const defs = info.parentType.getFields()[info.fieldName]?.args ?? [];
      next = walk.arguments(info.parentType.name, info.fieldName, defs);
    } catch (err) {
      if (err instanceof Refusal)
        return encryptionError(coordinate, err.input, err.path, err.reason);
      return encryptionError(coordinate, '', '', 'ERR_UNSUPPORTED_VALUE');
    }
    if (walk.items.length > 0) {
      let sealed: Buffer[];
      try {
        sealed = await options.fs.encryptManyToBytes(walk.items);
      } catch (err) {
        const { reason, index } = batchFailure(err);
        const slot = index === undefined ? undefined : walk.slots[index];
        return encryptionError(coordinate, slot?.leaf.coordinate ?? '', slot?.path ?? '', reason);
      }
      walk.slots.forEach((slot, i) => {
        const bytes = sealed[i]!;
        slot.target[slot.key] = slot.text ? toText(bytes) : bytes;
      });
    }
    const failed = await addIndexColumns(walk.indexed);
    if (failed !== undefined) {
      return encryptionError(
        coordinate,
        failed.slot.leaf.coordinate,
        failed.slot.path,
        failed.reason,
      );
    }
    return resolve(source, next, ctx, info);
  };
}
