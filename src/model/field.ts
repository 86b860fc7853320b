import type { BlindIndexOptions } from '../blind-index/options.js';
import { resolveOptions } from '../blind-index/options.js';
import { checkKeyContext } from '../client/field-key.js';
import { ownData } from '../lib/own-data.js';
import type { Mode } from '../client/options.js';
import type { PaddingOption } from '../envelope/plaintext.js';

/**
 * The value kinds a model field may hold; each comes back from decryption as the same type.
 * @example
 * ```ts
 * const kind: FieldKind = 'date';
 * ```
 */
export type FieldKind = 'string' | 'number' | 'bigint' | 'boolean' | 'date' | 'bytes' | 'json';

/**
 * How an encrypted field is stored: `'binary'` (a `Buffer`, for BYTEA / BLOB / DynamoDB `B`,
 * the default) or `'text'` (the `fs1:` string, for TEXT / VARCHAR / DynamoDB `S`).
 * @example
 * ```ts
 * const balance = field.bigint().encrypted({ storage: 'text' satisfies StorageKind });
 * ```
 */
export type StorageKind = 'binary' | 'text';

/**
 * Options of `field.*().encrypted(options)`. `mode`, `allowPlaintextRead`, `pad` and
 * `masterKeyId` become the field's entry in `model.policies`, which the client must be
 * configured with.
 * @example
 * ```ts
 * const options: EncryptedFieldOptions = { mode: 'WriteOnly', pad: 'bucket-16', context: { purpose: 'kyc' } };
 * const ssn: EncryptedFieldOptions = { keyContext: { purpose: 'pii' } }; // sent to the KMS too
 * const card: EncryptedFieldOptions = { masterKeyId: 'arn:aws:kms:eu-west-1:111122223333:alias/payments' };
 * ```
 */
export interface EncryptedFieldOptions<St extends StorageKind = StorageKind> {
  /** Narrows what clients may do with this field (`WriteOnly`: never decrypted). */
  readonly mode?: Mode;
  /**
   * Migration: a stored value that is not an envelope is returned as it is and counted in
   * `metrics().plaintextReads`. Only for `string` and `bytes` fields (legacy values come back
   * as stored).
   */
  readonly allowPlaintextRead?: boolean;
  /** Length-hiding padding for every value of this field. */
  readonly pad?: PaddingOption;
  /**
   * Extra static context entries bound into every value of this field (string values; the
   * names `tenant`, `table`, `field` and `record` are reserved).
   */
  readonly context?: Readonly<Record<string, string>>;
  /**
   * Static entries bound into this field's data keys: sent to the key provider as context
   * with the tenant (AWS KMS: the encryption context CloudTrail records and key policies can
   * require), e.g. `{ purpose: 'pii' }`. The field gets data keys of its own. A `tenant` entry
   * restricts the field to that tenant. Embedded mode, except a lone `tenant`. Becomes the
   * field's `keyContext` policy; see docs/models.md ("Key context").
   */
  readonly keyContext?: Readonly<Record<string, string>>;
  /** Stored form (default `'binary'`). */
  readonly storage?: St;
  /**
   * Embedded mode only: the master key wrapping this field's data keys, for every tenant,
   * instead of the client's `keys.masterKeyId` (e.g. a KMS key or alias ARN, which also picks
   * the region). A non-empty string of at most 255 UTF-8 bytes; a client in store mode refuses
   * it. See docs/models.md ("A master key per field").
   */
  readonly masterKeyId?: string;
}

/**
 * Options of `.blindIndex(options)`: how the value is normalised before it is hashed and how
 * many bits of the HMAC are kept. Writers and readers must agree, so they belong to the model;
 * the index key version is the repository's (it changes during a rotation).
 * @example
 * ```ts
 * const email = field.string().encrypted().blindIndex({ bits: 32, normalize: ['trim', 'lowercase', 'nfc'] } satisfies BlindIndexFieldOptions);
 * ```
 */
export type BlindIndexFieldOptions = Pick<BlindIndexOptions, 'bits' | 'normalize'>;

/** What a builder records at run time. @internal */
export interface FieldSpec {
  readonly kind: FieldKind;
  readonly nullable: boolean;
  readonly optional: boolean;
  readonly indexed: boolean;
  /** Present when `.encrypted()` was called: the options exactly as given (frozen copy). */
  readonly encryption: EncryptedFieldOptions | undefined;
  /** Present when `.blindIndex()` was called: the options as given (frozen copy). */
  readonly blindIndex?: BlindIndexFieldOptions | undefined;
}

/**
 * The type-level facts of a field, read by `InferRecord` and `InferStored`. Never present at
 * run time.
 * @example
 * ```ts
 * type EmailValue = (typeof Customer.fields.email)['~types']['value']; // string
 * ```
 */
export interface FieldTypes {
  readonly value: unknown;
  readonly storage: StorageKind | undefined;
  readonly nullable: boolean;
  readonly optional: boolean;
  /** `true` when the field has a blind index (`.blindIndex()`). */
  readonly blindIndex?: boolean;
}

const specs = new WeakMap<object, FieldSpec>();

/** The run-time spec of a builder, or `undefined` for anything that is not one. @internal */
export function fieldSpec(value: unknown): FieldSpec | undefined {
  return typeof value === 'object' && value !== null ? specs.get(value) : undefined;
}

/**
 * An immutable field declaration: every method returns a new builder. `T` is the value type,
 * `S` the storage of an encrypted field (`undefined` for a plain one), `N` / `O` whether the
 * field is nullable / optional, `I` whether it has a blind index. Made by the {@link field}
 * functions.
 * @example
 * ```ts
 * const ssn = field.string().encrypted({ mode: 'WriteOnly' }).nullable();
 * const email = field.string().encrypted().blindIndex({ normalize: ['trim', 'lowercase'] });
 * ```
 */
export class FieldBuilder<
  T,
  S extends StorageKind | undefined = undefined,
  N extends boolean = false,
  O extends boolean = false,
  I extends boolean = false,
> {
  /** Type-level only (see {@link FieldTypes}); not present at run time. */
  declare readonly '~types': {
    readonly value: T;
    readonly storage: S;
    readonly nullable: N;
    readonly optional: O;
    readonly blindIndex: I;
  };

  /** @internal Use the {@link field} functions. */
  constructor(spec: FieldSpec) {
    specs.set(this, Object.freeze({ ...spec }));
    Object.freeze(this);
  }

  /**
   * Encrypt this field. Encrypted fields cannot be the tenant, a key field or indexed.
   * @throws TypeError when the field is already encrypted.
   */
  encrypted<const St extends StorageKind = 'binary'>(
    this: FieldBuilder<T, undefined, N, O>,
    options: EncryptedFieldOptions<St> = {},
  ): FieldBuilder<T, NoInfer<St>, N, O> {
    const spec = specOf(this);
    if (spec.encryption !== undefined) {
      throw new TypeError('encrypted(): the field is already encrypted');
    }
    if (typeof options !== 'object' || options === null) {
      throw new TypeError('encrypted(): expected an options object');
    }
    // Read once, own data only: an inherited (polluted) option never becomes a field's policy.
    const own = ownData(options, (why, key) => {
      throw new TypeError(`encrypted(): ${key}: ${why} properties are not read; pass plain data`);
    }) as EncryptedFieldOptions;
    // Null prototype: whoever reads the spec later sees the given options and nothing else.
    const copy: EncryptedFieldOptions = Object.assign(Object.create(null) as object, own, {
      ...(own.context === undefined ? {} : { context: Object.freeze({ ...own.context }) }),
      ...(own.keyContext === undefined
        ? {}
        : { keyContext: checkKeyContext(own.keyContext, 'encrypted(): keyContext') }),
    });
    return new FieldBuilder<T, St, N, O>({ ...spec, encryption: Object.freeze(copy) });
  }

  /** The value may be `null` (stored as `null`: whether a value is present stays visible). */
  nullable(): FieldBuilder<T, S, true, O, I> {
    return new FieldBuilder<T, S, true, O, I>({ ...specOf(this), nullable: true });
  }

  /** The value may be absent (`undefined`), like a missing DynamoDB attribute. */
  optional(): FieldBuilder<T, S, N, true, I> {
    return new FieldBuilder<T, S, N, true, I>({ ...specOf(this), optional: true });
  }

  /**
   * Give an encrypted string field a blind index: a keyed, truncated HMAC of the normalised
   * value, stored next to it so the PostgreSQL repository can find rows by value
   * (`repo.findBy`). It reveals which rows hold equal values: read docs/blind-index.md
   * before choosing `bits`. Options are checked at once; `version` belongs to the repository.
   * @throws TypeError on a plain, non-string or already blind-indexed field, or a `version`.
   * @throws RangeError for bad `bits` or `normalize` steps.
   */
  blindIndex<St extends StorageKind>(
    this: FieldBuilder<string, St, N, O, false>,
    options: BlindIndexFieldOptions = {},
  ): FieldBuilder<string, St, N, O, true> {
    const spec = specOf(this);
    if (spec.encryption === undefined) {
      throw new TypeError('blindIndex(): call .encrypted() first (plain fields use .indexed())');
    }
    if (spec.kind !== 'string') throw new TypeError('blindIndex(): only for field.string()');
    if (spec.blindIndex !== undefined) {
      throw new TypeError('blindIndex(): the field already has a blind index');
    }
    if (typeof options !== 'object' || options === null) {
      throw new TypeError('blindIndex(): expected an options object');
    }
    if ((options as { version?: unknown }).version !== undefined) {
      throw new TypeError('blindIndex(): the index key version is set by the repository');
    }
    resolveOptions(options); // RangeError / TypeError now, not at the first write
    const copy: BlindIndexFieldOptions = {
      ...(options.bits === undefined ? {} : { bits: options.bits }),
      ...(options.normalize === undefined
        ? {}
        : { normalize: Object.freeze([...options.normalize]) }),
    };
    return new FieldBuilder<string, St, N, O, true>({ ...spec, blindIndex: Object.freeze(copy) });
  }

  /** Mark a plain field as indexed (metadata for your schema tooling; refused when encrypted). */
  indexed(this: FieldBuilder<T, undefined, N, O>): FieldBuilder<T, undefined, N, O> {
    return new FieldBuilder<T, undefined, N, O>({ ...specOf(this), indexed: true });
  }
}

function specOf(builder: object): FieldSpec {
  const spec = specs.get(builder);
  if (spec === undefined) throw new TypeError('expected a field builder made by field.*()');
  return spec;
}

function plain<T>(kind: FieldKind): FieldBuilder<T> {
  return new FieldBuilder<T>({
    kind,
    nullable: false,
    optional: false,
    indexed: false,
    encryption: undefined,
  });
}

/**
 * Field builders for {@link defineModel}. A field is plain until `.encrypted()` is called;
 * `.nullable()`, `.optional()`, (plain fields only) `.indexed()` and (encrypted strings only)
 * `.blindIndex()` may follow in any order.
 * @example
 * ```ts
 * const fields = {
 *   id: field.string(),
 *   email: field.string().encrypted({ pad: 'bucket-32' }),
 *   dob: field.date().encrypted().nullable(),
 *   notes: field.json<{ vip: boolean }>().encrypted().optional(),
 *   phone: field.string().encrypted().blindIndex({ normalize: ['trim'] }),
 * };
 * ```
 */
export const field = Object.freeze({
  /** A `string` field. */
  string: (): FieldBuilder<string> => plain<string>('string'),
  /** A `number` field (any double, including NaN and ±Infinity when encrypted). */
  number: (): FieldBuilder<number> => plain<number>('number'),
  /** A `bigint` field. */
  bigint: (): FieldBuilder<bigint> => plain<bigint>('bigint'),
  /** A `boolean` field. */
  boolean: (): FieldBuilder<boolean> => plain<boolean>('boolean'),
  /** A `Date` field (millisecond precision; invalid dates are refused). */
  date: (): FieldBuilder<Date> => plain<Date>('date'),
  /** A byte-string field (`Uint8Array`; a `Buffer` comes back as a `Buffer`). */
  bytes: (): FieldBuilder<Uint8Array> => plain<Uint8Array>('bytes'),
  /** A JSON field (plain objects, arrays and JSON primitives) typed as `T`. */
  json: <T = unknown>(): FieldBuilder<T> => plain<T>('json'),
});
