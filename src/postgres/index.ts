/**
 * PostgreSQL key store for fieldseal, on a PostgreSQL server (`pg`) or embedded PGlite.
 *
 * @example
 * ```ts
 * import { PostgresKeyStore, fromPGlite, migrate } from 'fieldseal/postgres';
 * ```
 * @module
 */
export {
  PostgresKeyStore,
  type PostgresKeyStoreOptions,
  type TenantSummary,
} from './postgres-key-store.js';
export { migrate, schemaVersion, SCHEMA_VERSION } from './migrations.js';
export { enableRowLevelSecurity } from './row-level-security.js';
export { sealedColumnStatements, type SealedColumnSpec } from '../integration/index.js';
export {
  fromPGlite,
  shareTransactions,
  fromPgPool,
  type PGliteLike,
  type PgPoolClientLike,
  type PgPoolLike,
  type SqlClient,
} from './sql-client.js';
export * from './repository/index.js';
export {
  postgresKeyEvents,
  type PostgresEventsPool,
  type PostgresKeyEvents,
  type PostgresKeyEventsOptions,
  type PostgresListenClient,
} from './postgres-key-events.js';
export * from './backfill/index.js';
export {
  fraiseqlValueReader,
  type FraiseqlSingleKeyOptions,
  type FraiseqlValueReaderOptions,
  type FraiseqlVersionedOptions,
} from './seed-format/fraiseql-value-reader.js';
export {
  postgresAuditSink,
  type PostgresAuditSink,
  type PostgresAuditSinkOptions,
} from './audit/postgres-audit-sink.js';
export { verifyAuditChain } from './audit/verify-audit-chain.js';
export type {
  AuditBreak,
  AuditBreakReason,
  AuditVerification,
  AuditVerifyProgress,
  VerifyAuditChainOptions,
} from './audit/audit-verification.js';
export type { AuditChainKey } from '../integration/index.js';
