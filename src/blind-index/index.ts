/**
 * Blind indexes: equality lookups on encrypted fields (docs/blind-index.md).
 * @module
 */
export { BlindIndexer, createBlindIndexer, type BlindIndexerOptions } from './blind-indexer.js';
export type { BlindIndexContext, BlindIndexNormalization, BlindIndexOptions } from './options.js';
