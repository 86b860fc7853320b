import type { AnyModel } from '../index.js';
import { UnsupportedOptionError } from '../index.js';
import { flag, optionSnapshot } from './option-snapshot.js';
import type { DynamoCondition } from './write-conditions.js';

/** A model's field names. @internal */
export type FieldName<M extends AnyModel> = keyof M['fields'] & string;

/**
 * Options of {@link DynamoRepository.save}. A save never replaces an item of another tenant
 * (that fails with `ERR_CONDITION_FAILED`).
 * @example
 * ```ts
 * await repo.save(record, { ifAbsent: true }); // create only
 * const previous = await repo.save(record, { returnOld: true }); // the replaced item, decrypted
 * ```
 */
export interface DynamoSaveOptions<M extends AnyModel> {
  /** Only create: fail with `ERR_CONDITION_FAILED` when an item with this key exists. */
  readonly ifAbsent?: boolean;
  /** A condition of yours on the item being replaced (plain fields; see DynamoCondition). */
  readonly condition?: DynamoCondition<FieldName<M>>;
  /** Return the replaced item, decrypted (`ReturnValues: 'ALL_OLD'`). */
  readonly returnOld?: boolean;
}

/**
 * Options of {@link DynamoRepository.update}.
 * @example
 * ```ts
 * // optimistic locking with a plain `version` number field
 * await repo.update('acme', key, { email }, { condition: { equals: { version: 7 } }, increment: { version: 1 } });
 * ```
 */
export interface DynamoUpdateOptions<M extends AnyModel> {
  /** Add to plain number / bigint attributes server-side (`if_not_exists(a, 0) + n`). */
  readonly increment?: Readonly<Partial<Record<FieldName<M>, number | bigint>>>;
  /** A condition of yours; when it fails on the tenant's item, `ERR_CONDITION_FAILED`. */
  readonly condition?: DynamoCondition<FieldName<M>>;
  /**
   * The item after (`'ALL_NEW'`) or before (`'ALL_OLD'`) the update, decrypted; or `'NONE'`:
   * `update` then resolves `true` when the tenant's item was updated, `false` when there was
   * none. The default is `'ALL_NEW'` when the repository may decrypt its records; when it may
   * not (a WriteOnly client, or a WriteOnly field in the model) nothing is asked for and
   * `update` resolves `undefined` (pass `'NONE'` to learn whether an item was updated), and
   * `'ALL_NEW'` / `'ALL_OLD'` are refused before the request (docs/modes.md).
   */
  readonly returnValues?: 'ALL_NEW' | 'ALL_OLD' | 'NONE';
}

/**
 * Options of {@link DynamoRepository.delete}.
 * @example
 * ```ts
 * const removed = await repo.delete('acme', key, { returnOld: true }); // the record, or undefined
 * ```
 */
export interface DynamoDeleteOptions<M extends AnyModel> {
  /** A condition of yours; when it fails on the tenant's item, `ERR_CONDITION_FAILED`. */
  readonly condition?: DynamoCondition<FieldName<M>>;
  /** Return the deleted item, decrypted, instead of a boolean. */
  readonly returnOld?: boolean;
}

/** The checked options of `save`. @internal */
export interface SaveOptions {
  readonly ifAbsent: boolean;
  readonly condition: unknown;
  readonly returnOld: boolean;
}

/**
 * Read `save`'s options once (see option-snapshot.ts).
 * @throws UnsupportedOptionError for an unknown option; TypeError for a mistyped flag.
 * @internal
 */
export function saveOptions(options: unknown): SaveOptions {
  const o = optionSnapshot('save options', options, ['ifAbsent', 'condition', 'returnOld']);
  return {
    ifAbsent: flag('ifAbsent', o.ifAbsent),
    condition: o.condition,
    returnOld: flag('returnOld', o.returnOld),
  };
}

/** The checked options of `update` (`returnValues` undefined: the repository decides). @internal */
export interface UpdateOptions {
  readonly increment: unknown;
  readonly condition: unknown;
  readonly returnValues: 'ALL_NEW' | 'ALL_OLD' | 'NONE' | undefined;
}

/**
 * Read `update`'s options once.
 * @throws UnsupportedOptionError for an unknown option or `returnValues` (`UPDATED_*` are not
 *   offered).
 * @internal
 */
export function updateOptions(options: unknown): UpdateOptions {
  const o = optionSnapshot('update options', options, ['increment', 'condition', 'returnValues']);
  const { returnValues } = o;
  if (
    returnValues !== undefined &&
    returnValues !== 'ALL_NEW' &&
    returnValues !== 'ALL_OLD' &&
    returnValues !== 'NONE'
  ) {
    throw new UnsupportedOptionError("returnValues: expected 'ALL_NEW', 'ALL_OLD' or 'NONE'");
  }
  return { increment: o.increment, condition: o.condition, returnValues };
}

/** The checked options of `delete`. @internal */
export interface DeleteOptions {
  readonly condition: unknown;
  readonly returnOld: boolean;
}

/**
 * Read `delete`'s options once.
 * @throws UnsupportedOptionError for an unknown option; TypeError for a mistyped flag.
 * @internal
 */
export function deleteOptions(options: unknown): DeleteOptions {
  const o = optionSnapshot('delete options', options, ['condition', 'returnOld']);
  return { condition: o.condition, returnOld: flag('returnOld', o.returnOld) };
}
