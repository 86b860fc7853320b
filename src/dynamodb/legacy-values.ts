import type { Fieldseal } from '../index.js';
import type { EncryptItem } from '../index.js';
import { toText } from '../integration/index.js';
import { BatchError, ModeForbiddenError, isFieldsealError, type FieldsealError } from '../index.js';
import { KeyProvider } from '../index.js';
import { withField } from '../integration/index.js';
import type { ModelSchema, FieldSchema } from '../integration/index.js';
import type { AnyModel } from '../index.js';
import { assertRegistered, contextOf, scopeOf } from '../integration/index.js';
import { isSeedValue, openSeedValues } from './seed-format/index.js';

/*
 * The migration escape hatch for the DynamoDB seed's `ENC:` values: explicit per attribute,
 * counted, and narrow. Only an attribute configured here may hold such a value; there it is
 * opened with the configured KMS key and context and sealed again, in memory, as a fieldseal
 * value bound to its tenant, table, attribute and item, which is what the rest of the codec
 * then decrypts (and what a backfill or the next save stores). Anything else in an encrypted
 * attribute still fails closed exactly as before.
 */

/**
 * How one attribute's legacy values were written: the DynamoDB seed's (pydynox) `ENC:` format,
 * with the KMS key and the fixed encryption context its `EncryptedAttribute` was given.
 * @example
 * ```ts
 * const ssn: DynamoLegacyFormat = {
 *   format: 'pydynox-enc-v1',
 *   provider: new AwsKmsKeyProvider({ region: 'eu-west-1' }),
 *   masterKeyId: 'alias/my-app-key',
 *   context: { tenant: 'acme-corp', purpose: 'pii' },
 * };
 * ```
 */
export interface DynamoLegacyFormat {
  readonly format: 'pydynox-enc-v1';
  /** Unwraps the seed's KMS-wrapped data keys (`AwsKmsKeyProvider` for real data). */
  readonly provider: KeyProvider;
  /** The KMS key the seed wrote with (pydynox's `key_id`). */
  readonly masterKeyId: string;
  /**
   * The seed attribute's KMS encryption context (pydynox's `context`; default `{}`). A fixed
   * context binds a value to nothing: a seed value copied into another tenant's item opens
   * there. When the seed put the tenant (or the item) in its context, give a function so that
   * each value must open under its own item's context.
   */
  readonly context?:
    | Readonly<Record<string, string>>
    | ((item: {
        readonly tenant: string;
        readonly key: Readonly<Record<string, unknown>>;
      }) => Readonly<Record<string, string>>);
}

/**
 * The `legacy` option of `createDynamoRepository`: per encrypted string attribute, the legacy
 * format it may still hold.
 * @example
 * ```ts
 * const legacy: DynamoLegacyOptions<typeof User> = { ssn: { format: 'pydynox-enc-v1', provider, masterKeyId } };
 * ```
 */
export type DynamoLegacyOptions<M extends AnyModel> = {
  readonly [F in keyof M['fields'] & string]?: DynamoLegacyFormat;
};

/** The checked legacy configuration of one repository. @internal */
export interface LegacyState {
  readonly fields: ReadonlyMap<string, { field: FieldSchema; format: DynamoLegacyFormat }>;
  /** Legacy values read per attribute (`table.field`). */
  readonly reads: Map<string, number>;
}

/**
 * Check the option: each entry names an encrypted string field and a known format.
 * @throws TypeError naming the entry.
 * @internal
 */
export function planLegacy(
  plan: ModelSchema,
  option: DynamoLegacyOptions<AnyModel> | undefined,
): LegacyState | undefined {
  if (option === undefined) return undefined;
  if (typeof option !== 'object' || option === null) {
    throw new TypeError('legacy: expected { <field>: { format, provider, masterKeyId } }');
  }
  const fields = new Map<string, { field: FieldSchema; format: DynamoLegacyFormat }>();
  for (const [name, format] of Object.entries(option)) {
    const f = plan.fields.find((x) => x.name === name);
    if (f === undefined) throw new TypeError(`legacy.${name}: not a field of ${plan.table}`);
    if (f.encryption === undefined || f.kind !== 'string') {
      throw new TypeError(`legacy.${name}: only encrypted string fields hold seed values`);
    }
    if (format?.format !== 'pydynox-enc-v1') {
      throw new TypeError(`legacy.${name}.format: expected 'pydynox-enc-v1'`);
    }
    if (!(format.provider instanceof KeyProvider)) {
      throw new TypeError(`legacy.${name}.provider: expected a KeyProvider`);
    }
    if (typeof format.masterKeyId !== 'string' || format.masterKeyId.length === 0) {
      throw new TypeError(`legacy.${name}.masterKeyId: expected the seed's KMS key id`);
    }
    fields.set(name, { field: f, format });
  }
  return { fields, reads: new Map() };
}

/** One legacy value found in a row. @internal */
export interface LegacySlot {
  readonly row: number;
  readonly field: FieldSchema;
  readonly text: string;
}

/** The legacy values of the rows, attribute by attribute. @internal */
export function legacySlots(
  state: LegacyState,
  rows: readonly Readonly<Record<string, unknown>>[],
): LegacySlot[] {
  const slots: LegacySlot[] = [];
  rows.forEach((row, i) => {
    for (const { field } of state.fields.values()) {
      const text = row[field.name];
      if (isSeedValue(text)) slots.push({ row: i, field, text });
    }
  });
  return slots;
}

function tenantOf(plan: ModelSchema, row: Readonly<Record<string, unknown>>): string {
  return String(row[plan.tenant]);
}

/** The KMS context a seed value of `row` was written with. */
function seedContext(
  plan: ModelSchema,
  format: DynamoLegacyFormat,
  row: Readonly<Record<string, unknown>>,
): Readonly<Record<string, string>> {
  if (typeof format.context !== 'function') return { ...format.context };
  const key = Object.fromEntries(plan.key.map((k) => [k, row[k]]));
  return { ...format.context({ tenant: tenantOf(plan, row), key }) };
}

/**
 * One throw-away sealing per tenant of the slots: the tenants whose key refuses (their error).
 */
async function probeTenants(
  fs: Fieldseal,
  plan: ModelSchema,
  rows: readonly Readonly<Record<string, unknown>>[],
  slots: readonly LegacySlot[],
): Promise<Map<string, FieldsealError>> {
  const first = new Map<string, LegacySlot>();
  for (const s of slots) {
    const tenant = tenantOf(plan, rows[s.row]!);
    if (!first.has(tenant)) first.set(tenant, s);
  }
  const probes = [...first.values()];
  const results = await sealSettled(
    fs,
    probes.map((s) => ({
      value: '',
      context: contextOf(plan, s.field, scopeOf(plan, rows[s.row]!)),
    })),
  );
  const refused = new Map<string, FieldsealError>();
  results.forEach((r, i) => {
    if (!Buffer.isBuffer(r)) refused.set(tenantOf(plan, rows[probes[i]!.row]!), r);
  });
  return refused;
}

/** encryptManyToBytes with each item's own outcome (the failures of a BatchError). */
async function sealSettled(
  fs: Fieldseal,
  items: readonly EncryptItem[],
): Promise<(Buffer | FieldsealError)[]> {
  if (items.length === 0) return [];
  try {
    return await fs.encryptManyToBytes(items);
  } catch (err) {
    if (!(err instanceof BatchError)) throw err;
    const out: (Buffer | FieldsealError)[] = new Array<Buffer | FieldsealError>(items.length);
    for (const f of err.failures) out[f.index] = f.error;
    const rest = items.flatMap((_, i) => (out[i] === undefined ? [i] : []));
    const again = await sealSettled(
      fs,
      rest.map((i) => items[i]!),
    );
    rest.forEach((i, k) => (out[i] = again[k]!));
    return out;
  }
}

/**
 * Open each legacy value and seal it again as the fieldseal value of its attribute and item
 * (one unwrap per distinct seed data key, one client batch for the sealing).
 * @returns per slot: the new stored value (bytes or `fs1:` text, as the field stores) and the
 *   plaintext, or the error naming the field.
 * @internal
 */
export async function sealLegacy(
  state: LegacyState,
  fs: Fieldseal,
  plan: ModelSchema,
  rows: readonly Readonly<Record<string, unknown>>[],
  slots: readonly LegacySlot[],
): Promise<({ stored: Buffer | string; plaintext: string } | FieldsealError)[]> {
  assertRegistered(fs, plan); // the client enforces the model's policies (modes, padding)
  const opened: (string | FieldsealError)[] = new Array<string | FieldsealError>(slots.length);
  // A tenant whose key cannot seal (shredded, unprovisioned, provider down) never has its
  // legacy values opened: after a shred, not even in memory.
  const sealable = await probeTenants(fs, plan, rows, slots);
  for (const [name, { field, format }] of state.fields) {
    const mine = slots.flatMap((s, i) => {
      if (s.field.name !== name) return [];
      const refused = sealable.get(tenantOf(plan, rows[s.row]!));
      if (refused !== undefined) opened[i] = withField(refused, field.qualified);
      return refused === undefined ? [i] : [];
    });
    if (mine.length === 0) continue;
    // A client or model that may not read (or write) this field never opens its values.
    const modes = [fs.mode, fs.fieldPolicy(plan.table, name).mode, field.encryption!.policy.mode];
    if (modes.some((m) => m !== undefined && m !== 'ReadWrite')) {
      const error = new ModeForbiddenError(
        'legacy values are read by re-sealing them: this needs a ReadWrite client and field',
        { details: { field: field.qualified } },
      );
      for (const i of mine) opened[i] = error;
      continue;
    }
    const results = await openSeedValues(
      mine.map((i) => ({
        text: slots[i]!.text,
        context: seedContext(plan, format, rows[slots[i]!.row]!),
      })),
      { provider: format.provider, masterKeyId: format.masterKeyId },
    );
    results.forEach((r, k) => (opened[mine[k]!] = r.ok ? r.value : r.error));
  }
  const items: EncryptItem[] = [];
  const sealedAt: number[] = [];
  slots.forEach((s, i) => {
    const value = opened[i]!;
    if (typeof value !== 'string') return;
    state.reads.set(s.field.qualified, (state.reads.get(s.field.qualified) ?? 0) + 1);
    items.push({ value, context: contextOf(plan, s.field, scopeOf(plan, rows[s.row]!)) });
    sealedAt.push(i);
  });
  const sealed = await sealSettled(fs, items);
  // Values that did not open keep their error; the sealed ones are filled in below.
  const out = opened.map((value, i) =>
    typeof value === 'string' ? undefined : withField(value, slots[i]!.field.qualified),
  ) as ({ stored: Buffer | string; plaintext: string } | FieldsealError)[];
  sealedAt.forEach((i, k) => {
    const result = sealed[k]!;
    const s = slots[i]!;
    out[i] = Buffer.isBuffer(result)
      ? {
          stored: s.field.encryption!.storage === 'text' ? toText(result) : result,
          plaintext: opened[i] as string,
        }
      : withField(result, s.field.qualified);
  });
  return out;
}

/**
 * The codec hook: replace every legacy value of the rows by its fieldseal value, in place.
 * @throws BatchError whose indexes are row indexes, for values that do not open.
 * @internal
 */
export async function replaceLegacy(
  state: LegacyState,
  fs: Fieldseal,
  plan: ModelSchema,
  rows: Record<string, unknown>[],
): Promise<void> {
  const slots = legacySlots(state, rows);
  if (slots.length === 0) return;
  const results = await sealLegacy(state, fs, plan, rows, slots);
  const failures: { index: number; error: FieldsealError }[] = [];
  results.forEach((r, i) => {
    const s = slots[i]!;
    if (isFieldsealError(r)) failures.push({ index: s.row, error: r });
    else rows[s.row]![s.field.name] = r.stored;
  });
  if (failures.length > 0) throw new BatchError(failures);
}
