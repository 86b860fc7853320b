import type { AuditSink } from '../audit/audit-event.js';
import { postgresAuditSink } from '../postgres/audit/postgres-audit-sink.js';
import { createFieldseal, type Fieldseal } from '../client/fieldseal.js';
import type { FieldPolicy, KeyAdminOperation } from '../client/options.js';
import type { KeyProvider } from '../kms/key-provider.js';
import type { KeyStore } from '../keys/key-store.js';
import { PostgresKeyStore } from '../postgres/postgres-key-store.js';
import { migrate } from '../postgres/migrations.js';
import { fromPGlite, fromPgPool, type SqlClient } from '../postgres/sql-client.js';
import { loadPGlite } from './embedded-database.js';
import type { FieldsealConfig } from './config-file.js';
import { lockDataDir } from './data-dir-lock.js';
import { openPgPool } from './pg-pool.js';
import { providerFromConfig } from './provider-config.js';

/**
 * A database connection opened from a configuration, with its own `close`.
 * @example
 * ```ts
 * const db: OpenedDatabase = await openDatabase(config);
 * await db.close();
 * ```
 */
export interface OpenedDatabase {
  readonly sql: SqlClient;
  readonly close: () => Promise<void>;
}

/**
 * A client, its key store and database, opened from a configuration.
 * @example
 * ```ts
 * const { fs, store, close }: OpenedFieldseal = await openFromConfig(config);
 * ```
 */
export interface OpenedFieldseal extends OpenedDatabase {
  readonly fs: Fieldseal;
  readonly store: PostgresKeyStore;
  readonly provider: KeyProvider;
  readonly config: FieldsealConfig;
}

/**
 * Open the configured database: embedded PGlite (locked against a second process) or a
 * PostgreSQL server through `pg`. The drivers are optional peer dependencies, loaded here only.
 * @example
 * ```ts
 * const db = await openDatabase(readConfig('fieldseal.config.json'));
 * try { await migrate(db.sql); } finally { await db.close(); }
 * ```
 */
export async function openDatabase(config: FieldsealConfig): Promise<OpenedDatabase> {
  if (config.database.kind === 'pglite') {
    const release = lockDataDir(config.database.dataDir);
    try {
      const PGlite = await loadPGlite();
      const db = await PGlite.create(config.database.dataDir);
      return {
        sql: fromPGlite(db),
        close: async () => {
          try {
            await db.close();
          } finally {
            release();
          }
        },
      };
    } catch (err) {
      release();
      throw err;
    }
  }
  // Handles 'error' on the pool and on every connection: a session the server terminates is
  // a failed query, never an uncaught exception that ends the process.
  const pool = await openPgPool(config.database.url, 4);
  return { sql: fromPgPool(pool), close: () => pool.end() };
}

/**
 * Open a client from a configuration: local provider with the configured key file, the
 * PostgreSQL key store on the configured database (migrated unless `migrate: false`). The
 * client administers no keys unless `admin` says so.
 * @throws KeyNotConfiguredError / InvalidKeyMaterialError for a missing or bad key file.
 * @example
 * ```ts
 * const { fs, close } = await openFromConfig(readConfig('fieldseal.config.json'));
 * try { console.log(await fs.decrypt(stored, context)); } finally { await close(); }
 * // An onboarding job that provisions tenants:
 * const admin = await openFromConfig(readConfig('fieldseal.config.json'), { admin: ['provision'] });
 * try { await admin.fs.provisionTenant('acme'); } finally { await admin.close(); }
 * ```
 */
export async function openFromConfig(
  config: FieldsealConfig,
  options: {
    /** Apply fieldseal's migrations to the database first (default `true`). */
    readonly migrate?: boolean;
    /** Per-field policies, e.g. `{ ...Customer.policies }` for model helpers and backfills. */
    readonly fields?: Readonly<Record<string, FieldPolicy>>;
    /**
     * The key administration the client may perform (`createFieldseal`'s `admin` option): none
     * by default. Pass exactly what the job needs, e.g. `['provision']` to onboard tenants or
     * `['retire', 'reinstate']` for `retireKeyVersion`; see docs/modes.md.
     */
    readonly admin?: boolean | readonly KeyAdminOperation[];
  } = {},
): Promise<OpenedFieldseal> {
  // Key first: a bad key refuses to start before any database is opened.
  const { provider, close: closeProvider } = await providerFromConfig(config.provider);
  let db: OpenedDatabase;
  try {
    db = await openDatabase(config);
  } catch (err) {
    await closeProvider();
    throw err;
  }
  try {
    if (options.migrate !== false) await migrate(db.sql);
    const store = new PostgresKeyStore({ sql: db.sql });
    const audit = config.audit === undefined ? undefined : postgresAuditSink(db.sql);
    const fs = clientFromConfig(config, provider, store, options.fields, options.admin, audit);
    const close = async (): Promise<void> => {
      try {
        await db.close();
      } finally {
        await closeProvider();
      }
    };
    return { sql: db.sql, close, fs, store, provider, config };
  } catch (err) {
    await db.close();
    await closeProvider();
    throw err;
  }
}

/**
 * The fieldseal client a configuration describes, on a key store of the caller's choice:
 * store mode under the configured master key (and the historic ones reads accept), key id and
 * cache, with the key administration `admin` names (none when absent), audited into `audit`
 * when the configuration turns auditing on.
 * @internal
 */
export function clientFromConfig(
  config: FieldsealConfig,
  provider: KeyProvider,
  store: KeyStore,
  fields: Readonly<Record<string, FieldPolicy>> | undefined,
  admin?: boolean | readonly KeyAdminOperation[],
  audit?: AuditSink,
): Fieldseal {
  return createFieldseal({
    provider,
    keys: {
      mode: 'store',
      store,
      masterKeyId: config.provider.masterKeyId,
      ...(config.acceptMasterKeyIds === undefined
        ? {}
        : { acceptMasterKeyIds: config.acceptMasterKeyIds }),
      keyId: config.keyId,
    },
    cache: {
      maxAgeMs: config.cache.maxAgeSeconds * 1000,
      ...(config.cache.maxUses === undefined ? {} : { maxUses: config.cache.maxUses }),
    },
    ...(fields === undefined ? {} : { fields }),
    ...(admin === undefined ? {} : { admin }),
    ...(audit === undefined || config.audit === undefined
      ? {}
      : { audit, actor: config.audit.actor }),
  });
}
