/**
 * PostgreSQL integration: a repository per model that encrypts on write, decrypts on read,
 * finds rows by blind index and re-encrypts on read (docs/models.md, docs/blind-index.md).
 *
 * @example
 * ```ts
 * import { createPostgresRepository } from 'fieldseal/postgres';
 * ```
 * @module
 */
export {
  createPostgresRepository,
  type KeyValues,
  type PostgresRepository,
  type PostgresRepositoryOptions,
} from './postgres-repository.js';
export type { PostgresRepositoryStats } from './repository-context.js';
export type { BlindIndexVersions, RepositoryBlindIndexOptions } from '../../integration/index.js';
export type {
  BackfillCursor,
  BackfillOptions as BlindIndexBackfillOptions,
  BackfillReport as BlindIndexBackfillReport,
  BlindIndexStatus,
} from './blind-index-rotation.js';
