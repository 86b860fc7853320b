import type { AnyModel, Fieldseal } from '../../index.js';
import type { BlindIndexSource } from '../../integration/index.js';

/**
 * What {@link withFieldseal} needs: the client, the models whose tables hold encrypted
 * columns (the column of a field is its name, as `createPostgresRepository` creates it), and,
 * for models with blind-indexed fields, the source of their indexes (the model's
 * `createPostgresRepository`, which keeps the tenants' index secrets).
 * @example
 * ```ts
 * const users = createPostgresRepository({ sql, fs, model: User, blindIndex: { indexer } });
 * const options: FieldsealKyselyOptions = { fs, models: [User], blindIndexes: { users } };
 * ```
 */
export interface FieldsealKyselyOptions {
  /** The client; it must be created with `models: [...]` including every model below. */
  readonly fs: Fieldseal;
  /** The models whose tables the plugin guards, one per table name. */
  readonly models: readonly AnyModel[];
  /**
   * The blind-index source of each model with `.blindIndex()` fields, by table name. A model
   * with blind-indexed fields and no source is refused at setup: its values would be written
   * without the indexes that find them.
   */
  readonly blindIndexes?: Readonly<Record<string, BlindIndexSource>>;
}
