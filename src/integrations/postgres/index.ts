/**
 * PostgreSQL integration: a repository per model that encrypts on write and decrypts on read.
 *
 * @example
 * ```ts
 * import { createModelRepository } from 'fieldseal/postgres';
 * ```
 * @module
 */
export {
  createModelRepository,
  type KeyValues,
  type ModelRepository,
  type ModelRepositoryOptions,
} from './model-repository.js';
