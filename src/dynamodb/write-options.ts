import type { AnyModel } from '../model/model-types.js';
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
  /** The item after (`'ALL_NEW'`, default) or before (`'ALL_OLD'`) the update, decrypted. */
  readonly returnValues?: 'ALL_NEW' | 'ALL_OLD';
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
