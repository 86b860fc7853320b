import { Column, type EntitySchemaColumnOptions, type ValueTransformer } from 'typeorm';
import { RefusedValue, SealedParameter, SealedValue, UnopenedValue } from './sealed-value.js';
import { valueKey } from './value-key.js';

/**
 * How a sealed column stores its envelopes: `'bytes'` (a `bytea` column, for a field with binary
 * storage) or `'text'` (a `text` column holding the `fs1:` form, for text storage).
 * @example
 * ```ts
 * const kind: SealedColumnKind = 'bytes';
 * ```
 */
export type SealedColumnKind = 'text' | 'bytes';

/**
 * The options a sealed column takes besides its kind. Nothing that would let the database
 * hold a value fieldseal did not seal (a `default`), compare ciphertexts (`unique`) or change the
 * stored type is accepted.
 * @example
 * ```ts
 * const options: SealedColumnOptions = { name: 'ssn_enc', nullable: true };
 * ```
 */
export interface SealedColumnOptions {
  /** The column's name in the database (the property name by default). */
  readonly name?: string;
  /** Whether the column allows NULL (the model field must be nullable or optional too). */
  readonly nullable?: boolean;
  /** Whether `find` selects the column by default (TypeORM's `select`). */
  readonly select?: boolean;
  /** A comment on the column. */
  readonly comment?: string;
}

/**
 * The transformer of a sealed column: it passes to the database only what the fieldseal
 * subscriber sealed, and turns anything else into a refused value that no query carries to the
 * database. Values read are wrapped until the subscriber decrypts them.
 * @internal
 */
export class SealedColumnTransformer implements ValueTransformer {
  readonly kind: SealedColumnKind;
  /** `table.column`, for messages; set by the subscriber when it binds the entity. */
  label: string;
  constructor(kind: SealedColumnKind, label: string) {
    this.kind = kind;
    this.label = label;
  }
  to(value: unknown): unknown {
    if (value === null || value === undefined) return value;
    // Only a value sealed for this column, whose write has not ended.
    if (value instanceof SealedValue && value.live && value.column === this.label) {
      if ((this.kind === 'text') === (typeof value.stored === 'string')) {
        return new SealedParameter(value);
      }
    }
    return this.#refused(value);
  }
  /**
   * The refused stand-in of a value: the same object for equal values (a few most recent), so
   * that TypeORM's change check, which compares what this returns for the entity's value and for
   * the loaded row's, sees an unchanged sealed value as unchanged.
   */
  #refused(value: unknown): RefusedValue {
    const key = valueKey(value);
    if (key === undefined) return new RefusedValue(this.label);
    let refused = this.#recent.get(key);
    if (refused === undefined) {
      refused = new RefusedValue(this.label);
      this.#recent.set(key, refused);
      if (this.#recent.size > 64) this.#recent.delete(this.#recent.keys().next().value!);
    }
    return refused;
  }
  readonly #recent = new Map<string, RefusedValue>();
  from(value: unknown): unknown {
    return value === null || value === undefined ? value : new UnopenedValue(value);
  }
}

const KINDS: ReadonlySet<string> = new Set(['text', 'bytes']);
const OPTIONS: ReadonlySet<string> = new Set(['name', 'nullable', 'select', 'comment']);

function columnOptions(kind: SealedColumnKind, options: SealedColumnOptions, label: string) {
  if (!KINDS.has(kind)) throw new TypeError(`SealedColumn: kind must be 'text' or 'bytes'`);
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('SealedColumn: options must be an object');
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(options)) {
    if (!OPTIONS.has(key)) {
      throw new TypeError(
        `SealedColumn: option ${key} is not accepted (only name, nullable, select, comment)`,
      );
    }
    out[key] = (options as Record<string, unknown>)[key];
  }
  return {
    ...out,
    type: kind === 'text' ? ('text' as const) : ('bytea' as const),
    transformer: new SealedColumnTransformer(kind, label),
  };
}

/**
 * A property decorator for an encrypted field's column: `bytea` (`'bytes'`) or `text`
 * (`'text'`), matching the field's storage. The column accepts only what the fieldseal
 * subscriber sealed: a plain value that reaches it (the subscriber missing or bypassed, a
 * `where` comparing it) is refused with `ERR_PLAINTEXT_IN_ENCRYPTED_FIELD`, never written.
 * Needs TypeScript's `experimentalDecorators`; with an `EntitySchema`, use {@link sealedColumn}.
 * @throws TypeError for an unknown kind or option.
 * @example
 * ```ts
 * import { SealedColumn } from 'fieldseal/typeorm';
 *
 * @Entity('customers')
 * class Customer {
 *   @PrimaryColumn() tenantId!: string;
 *   @PrimaryColumn() id!: string;
 *   @SealedColumn('bytes') ssn!: string;
 *   @SealedColumn('text', { nullable: true }) note!: string | null;
 * }
 * ```
 */
export function SealedColumn(
  kind: SealedColumnKind,
  options: SealedColumnOptions = {},
): PropertyDecorator {
  columnOptions(kind, options, '');
  return (target, propertyName) =>
    Column(columnOptions(kind, options, String(propertyName)))(target, propertyName);
}

/**
 * The column definition of an encrypted field in an `EntitySchema` (the same column as
 * {@link SealedColumn}, without decorators).
 * @throws TypeError for an unknown kind or option.
 * @example
 * ```ts
 * import { sealedColumn } from 'fieldseal/typeorm';
 *
 * const Customers = new EntitySchema({
 *   name: 'Customer',
 *   tableName: 'customers',
 *   columns: {
 *     tenantId: { type: 'text', primary: true },
 *     id: { type: 'text', primary: true },
 *     ssn: sealedColumn('bytes'),
 *   },
 * });
 * ```
 */
export function sealedColumn(
  kind: SealedColumnKind,
  options: SealedColumnOptions = {},
): EntitySchemaColumnOptions {
  return columnOptions(kind, options, options.name ?? 'sealed column');
}

/**
 * The transformer of a sealed column, or undefined for any other column.
 * @internal
 */
export function sealedTransformerOf(transformer: unknown): SealedColumnTransformer | undefined {
  return transformer instanceof SealedColumnTransformer ? transformer : undefined;
}
