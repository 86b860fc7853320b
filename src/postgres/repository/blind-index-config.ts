import {
  resolveIndexConfig,
  type IndexConfig,
  type RepositoryBlindIndexOptions,
} from '../../integration/index.js';
import type { ModelSchema } from '../../integration/index.js';
import type { AnyModel } from '../../index.js';
import { checkIdentifier } from './repository-columns.js';

/**
 * Check the repository's blind-index option against the model (the storage-independent
 * rules), with every index column name and the secrets table a plain SQL identifier.
 * @throws TypeError when the model has blind-indexed fields and no indexer is given (or the
 *   reverse), for versions of an unknown field, or a column name that is not an identifier.
 * @throws RangeError for bad versions (empty, repeated, out of range, `read` not written).
 * @example
 * ```ts
 * const config = resolvePostgresIndexConfig(plan, { indexer, secretsTable: 'bidx_secrets' });
 * ```
 * @internal
 */
export function resolvePostgresIndexConfig(
  plan: ModelSchema,
  option: RepositoryBlindIndexOptions<AnyModel> | undefined,
): IndexConfig | undefined {
  return resolveIndexConfig(plan, option, checkIdentifier);
}
