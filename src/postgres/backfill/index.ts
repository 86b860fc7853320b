/**
 * Checkpointed, resumable, multi-worker re-encryption of model tables.
 * @module
 */
export {
  runBackfill,
  type BackfillOptions,
  type BackfillProgress,
  type BackfillReport,
} from './run-backfill.js';
export {
  backfillStatus,
  listBackfills,
  type BackfillCounts,
  type BackfillStatus,
} from './backfill-status.js';
export type { LegacyConverter } from './backfill-target.js';
export {
  countKeyUsage,
  resealBlindIndexSecrets,
  retireKeyVersion,
  type KeyUsage,
  type ResealReport,
  type UsageTable,
} from './key-usage.js';
