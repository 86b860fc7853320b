import {
  KeyNotFoundError,
  KeyShreddedError,
  KeyStoreUnavailableError,
  KeyVersionActiveError,
  isFieldsealError,
} from '../index.js';
import { copyCommitment } from '../integration/index.js';
import type {
  KeyStore,
  KeyWrapping,
  KeyVersionState,
  NewKeyVersion,
  StoredKeyVersion,
} from '../index.js';
import { MAX_KEY_VERSION, checkVersionNumber } from '../integration/index.js';
import type { SqlClient } from './sql-client.js';

/**
 * Options of {@link PostgresKeyStore}.
 * @example
 * ```ts
 * const options: PostgresKeyStoreOptions = { sql: fromPgPool(pool), rls: true };
 * ```
 */
export interface PostgresKeyStoreOptions {
  /** The connection (`fromPgPool(pool)` or `fromPGlite(db)`); migrate it first. */
  readonly sql: SqlClient;
  /**
   * Row-level security: run every query in a transaction that sets `app.tenant_id` to the
   * tenant asked for (and, with `role`, `SET LOCAL ROLE` to a non-owner role), so the
   * policies of {@link enableRowLevelSecurity} hide every other tenant's rows even from a
   * buggy query. Costs a transaction per key lookup; lookups are cached.
   */
  readonly rls?: boolean | { readonly role: string };
}

/**
 * One line of {@link PostgresKeyStore.listTenants}.
 * @example
 * ```ts
 * for (const t of await store.listTenants()) console.log(t.tenant, t.activeVersion);
 * ```
 */
export interface TenantSummary {
  readonly tenant: string;
  readonly createdAt: Date;
  readonly versions: number;
  readonly activeVersion: number | null;
}

interface Row {
  tenant_id: string;
  key_id: string;
  version: string | number;
  state: KeyVersionState;
  provider_id: string;
  master_key_id: string;
  wrapped: Uint8Array | null;
  created_at: Date | string;
  commitment: Uint8Array | null;
}

const COLUMNS =
  'tenant_id, key_id, version, state, provider_id, master_key_id, wrapped, created_at, commitment';
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * A {@link KeyStore} in PostgreSQL — a server through `pg`, or embedded PGlite — with the
 * schema applied by {@link migrate}. Every query names the tenant; a partial unique index
 * guarantees one active version per tenant and key id under any concurrency.
 *
 * @example
 * ```ts
 * const sql = fromPGlite(await PGlite.create('./.fieldseal/db'));
 * await migrate(sql);
 * const store = new PostgresKeyStore({ sql });
 * const fs = createFieldseal({ provider, keys: { mode: 'store', store, masterKeyId: 'master' }, cache });
 * ```
 */
export class PostgresKeyStore implements KeyStore {
  readonly #sql: SqlClient;
  readonly #rls: false | { role: string | undefined };

  constructor(options: PostgresKeyStoreOptions) {
    this.#sql = options.sql;
    const rls = options.rls ?? false;
    if (typeof rls === 'object') {
      if (!IDENTIFIER.test(rls.role))
        throw new TypeError('rls.role: expected a lower-case SQL identifier');
      this.#rls = { role: rls.role };
    } else {
      this.#rls = rls ? { role: undefined } : false;
    }
  }

  getActiveVersion(tenant: string, keyId: string): Promise<StoredKeyVersion | undefined> {
    return this.#scoped(tenant, async (sql) => {
      const { rows } = await sql.query<Row>(
        `SELECT ${COLUMNS} FROM fieldseal_key_versions
          WHERE tenant_id = $1 AND key_id = $2 AND state = 'active'`,
        [tenant, keyId],
      );
      return rows[0] === undefined ? undefined : toStored(rows[0]);
    });
  }

  getVersion(
    tenant: string,
    keyId: string,
    version: number,
  ): Promise<StoredKeyVersion | undefined> {
    return this.#scoped(tenant, async (sql) => {
      const { rows } = await sql.query<Row>(
        `SELECT ${COLUMNS} FROM fieldseal_key_versions
          WHERE tenant_id = $1 AND key_id = $2 AND version = $3`,
        [tenant, keyId, version],
      );
      return rows[0] === undefined ? undefined : toStored(rows[0]);
    });
  }

  rewrapVersion(expected: StoredKeyVersion, next: KeyWrapping): Promise<boolean> {
    return this.#transaction(expected.tenant, async (tx) => {
      const { rows } = await tx.query<{ version: string | number }>(
        `UPDATE fieldseal_key_versions SET provider_id = $5, master_key_id = $6, wrapped = $7
          WHERE tenant_id = $1 AND key_id = $2 AND version = $3 AND state <> 'shredded'
            AND provider_id = $4 AND master_key_id = $8 AND wrapped = $9
          RETURNING version`,
        [
          expected.tenant,
          expected.keyId,
          expected.version,
          expected.providerId,
          next.providerId,
          next.masterKeyId,
          Buffer.from(next.wrapped),
          expected.masterKeyId,
          Buffer.from(expected.wrapped),
        ],
      );
      return rows.length === 1;
    });
  }

  /**
   * A tenant's versions with their states (by key id, newest first), optionally of one key id
   * only — for CLIs and audits.
   */
  listVersions(tenant: string, keyId?: string): Promise<StoredKeyVersion[]> {
    return this.#scoped(tenant, async (sql) => {
      const { rows } = await sql.query<Row>(
        `SELECT ${COLUMNS} FROM fieldseal_key_versions
          WHERE tenant_id = $1 AND ($2::text IS NULL OR key_id = $2)
          ORDER BY key_id, version DESC`,
        [tenant, keyId ?? null],
      );
      return rows.map(toStored);
    });
  }

  /**
   * Every tenant with its active version and version count (an administrative listing: under
   * row-level security it shows only what the session may see).
   */
  listTenants(): Promise<TenantSummary[]> {
    return this.#guard(async () => {
      const { rows } = await this.#sql.query<{
        tenant_id: string;
        created_at: Date | string;
        versions: string | number;
        active: string | number | null;
      }>(
        `SELECT t.tenant_id, t.created_at, count(v.version) AS versions,
                max(v.version) FILTER (WHERE v.state = 'active') AS active
           FROM fieldseal_tenants t LEFT JOIN fieldseal_key_versions v USING (tenant_id)
          GROUP BY t.tenant_id, t.created_at ORDER BY t.tenant_id`,
      );
      return rows.map((r) => ({
        tenant: r.tenant_id,
        createdAt: r.created_at instanceof Date ? r.created_at : new Date(r.created_at),
        versions: Number(r.versions),
        activeVersion: r.active === null ? null : Number(r.active),
      }));
    });
  }

  async createVersion(
    record: NewKeyVersion,
    expectedActive: number | null,
  ): Promise<StoredKeyVersion | undefined> {
    const commitment =
      record.commitment === undefined
        ? null
        : Buffer.from(copyCommitment('record.commitment', record.commitment));
    try {
      return await this.#transaction(record.tenant, async (tx) => {
        await tx.query(
          'INSERT INTO fieldseal_tenants (tenant_id) VALUES ($1) ON CONFLICT (tenant_id) DO NOTHING',
          [record.tenant],
        );
        // Lock the current active row (if any) so concurrent rotations serialise here.
        const { rows } = await tx.query<{ version: string | number }>(
          `SELECT version FROM fieldseal_key_versions
            WHERE tenant_id = $1 AND key_id = $2 AND state = 'active' FOR UPDATE`,
          [record.tenant, record.keyId],
        );
        const active = rows[0] === undefined ? null : Number(rows[0].version);
        if (active !== expectedActive) return undefined;
        if (active !== null) {
          await tx.query(
            `UPDATE fieldseal_key_versions SET state = 'decrypt-only'
              WHERE tenant_id = $1 AND key_id = $2 AND version = $3`,
            [record.tenant, record.keyId, active],
          );
        }
        const inserted = await tx.query<Row>(
          `INSERT INTO fieldseal_key_versions
             (tenant_id, key_id, version, state, provider_id, master_key_id, wrapped, commitment)
           VALUES ($1, $2, $3, 'active', $4, $5, $6, $7)
           RETURNING ${COLUMNS}`,
          [
            record.tenant,
            record.keyId,
            record.version,
            record.providerId,
            record.masterKeyId,
            Buffer.from(record.wrapped),
            commitment,
          ],
        );
        return toStored(inserted.rows[0]!);
      });
    } catch (err) {
      // Another writer created the first active version (or this version) at the same moment:
      // the unique indexes refused ours. The caller re-reads.
      if (isUniqueViolation(err)) return undefined;
      throw err;
    }
  }

  /**
   * Retire every `decrypt-only` version below `below` in one transaction. The transaction first
   * locks the active row (`FOR UPDATE`, the lock {@link PostgresKeyStore.createVersion} takes),
   * so no rotation can slip between the check and the update; and the update itself only
   * matches `state = 'decrypt-only'`, so it can never retire the active row whatever the
   * interleaving.
   */
  async retireVersions(tenant: string, keyId: string, below: number): Promise<number[]> {
    checkVersionNumber('below', below, 1, MAX_KEY_VERSION + 1);
    return await this.#transaction(tenant, async (tx) => {
      const active = await lockActive(tx, tenant, keyId);
      if (active !== null && active < below) {
        throw new KeyVersionActiveError(undefined, { details: { keyRef: `${keyId}@${active}` } });
      }
      const { rows } = await tx.query<{ version: string | number }>(
        `UPDATE fieldseal_key_versions SET state = 'retired'
          WHERE tenant_id = $1 AND key_id = $2 AND state = 'decrypt-only' AND version < $3
          RETURNING version`,
        [tenant, keyId, below],
      );
      return rows.map((r) => Number(r.version)).sort((a, b) => a - b);
    });
  }

  async reinstateVersion(tenant: string, keyId: string, version: number): Promise<boolean> {
    checkVersionNumber('version', version, 1, MAX_KEY_VERSION);
    return await this.#transaction(tenant, async (tx) => {
      const { rows } = await tx.query<{ version: string | number }>(
        `UPDATE fieldseal_key_versions SET state = 'decrypt-only'
          WHERE tenant_id = $1 AND key_id = $2 AND version = $3 AND state = 'retired'
          RETURNING version`,
        [tenant, keyId, version],
      );
      if (rows.length === 1) return true;
      const { rows: found } = await tx.query<{ state: KeyVersionState }>(
        `SELECT state FROM fieldseal_key_versions
          WHERE tenant_id = $1 AND key_id = $2 AND version = $3`,
        [tenant, keyId, version],
      );
      const keyRef = `${keyId}@${version}`;
      const state = found[0]?.state;
      if (state === undefined) {
        throw new KeyNotFoundError('key version not found for this tenant', {
          details: { keyRef },
        });
      }
      if (state === 'shredded') throw new KeyShreddedError(undefined, { details: { keyRef } });
      return false;
    });
  }

  shredTenant(tenant: string): Promise<readonly { keyId: string; version: number }[]> {
    return this.#transaction(tenant, async (tx) => {
      const { rows } = await tx.query<{ key_id: string; version: string | number }>(
        `UPDATE fieldseal_key_versions SET state = 'shredded', wrapped = NULL, commitment = NULL
          WHERE tenant_id = $1 AND state <> 'shredded'
          RETURNING key_id, version`,
        [tenant],
      );
      return rows.map((r) => ({ keyId: r.key_id, version: Number(r.version) }));
    });
  }

  /**
   * Set a legacy row's commitment once: one `UPDATE … WHERE commitment IS NULL` that also
   * requires the row to be unshredded and wrapped exactly as `row` says (the same compare as
   * {@link PostgresKeyStore.rewrapVersion}).
   */
  async setCommitment(row: StoredKeyVersion, commitment: Uint8Array): Promise<boolean> {
    const value = Buffer.from(copyCommitment('commitment', commitment));
    return await this.#transaction(row.tenant, async (tx) => {
      const { rows } = await tx.query<{ version: string | number }>(
        `UPDATE fieldseal_key_versions SET commitment = $4
          WHERE tenant_id = $1 AND key_id = $2 AND version = $3 AND commitment IS NULL
            AND state <> 'shredded' AND provider_id = $5 AND master_key_id = $6 AND wrapped = $7
          RETURNING version`,
        [
          row.tenant,
          row.keyId,
          row.version,
          value,
          row.providerId,
          row.masterKeyId,
          Buffer.from(row.wrapped),
        ],
      );
      return rows.length === 1;
    });
  }

  /** Run a read scoped to `tenant` (under RLS when configured). */
  #scoped<T>(tenant: string, fn: (sql: SqlClient) => Promise<T>): Promise<T> {
    return this.#rls === false ? this.#guard(() => fn(this.#sql)) : this.#transaction(tenant, fn);
  }

  #transaction<T>(tenant: string, fn: (sql: SqlClient) => Promise<T>): Promise<T> {
    const rls = this.#rls;
    return this.#guard(() =>
      this.#sql.transaction(async (tx) => {
        if (rls !== false) {
          if (rls.role !== undefined) await tx.exec(`SET LOCAL ROLE ${rls.role}`);
          await tx.query("SELECT set_config('app.tenant_id', $1, true)", [tenant]);
        }
        return fn(tx);
      }),
    );
  }

  async #guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isFieldsealError(err) || isUniqueViolation(err)) throw err;
      throw new KeyStoreUnavailableError('PostgreSQL key store query failed', { cause: err });
    }
  }
}

function toStored(row: Row): StoredKeyVersion {
  // A shredded row has no commitment (one left by an older release's shred is not handed out).
  const commitment =
    row.commitment === null || row.state === 'shredded'
      ? {}
      : { commitment: Uint8Array.from(row.commitment) };
  return Object.freeze({
    tenant: row.tenant_id,
    keyId: row.key_id,
    version: Number(row.version),
    state: row.state,
    providerId: row.provider_id,
    masterKeyId: row.master_key_id,
    wrapped: row.wrapped === null ? new Uint8Array(0) : Uint8Array.from(row.wrapped),
    createdAt: row.created_at instanceof Date ? row.created_at : new Date(row.created_at),
    ...commitment,
  });
}

/**
 * Lock the tenant's active row and return its version (`null`: none). Under READ COMMITTED a
 * rotation that commits while we wait makes the locked row `decrypt-only`, so the statement
 * finds nothing although a new active row exists: look again, with a fresh snapshot.
 */
async function lockActive(tx: SqlClient, tenant: string, keyId: string): Promise<number | null> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const { rows } = await tx.query<{ version: string | number }>(
      `SELECT version FROM fieldseal_key_versions
        WHERE tenant_id = $1 AND key_id = $2 AND state = 'active' FOR UPDATE`,
      [tenant, keyId],
    );
    if (rows[0] !== undefined) return Number(rows[0].version);
    const { rows: present } = await tx.query(
      `SELECT 1 FROM fieldseal_key_versions
        WHERE tenant_id = $1 AND key_id = $2 AND state = 'active'`,
      [tenant, keyId],
    );
    if (present.length === 0) return null;
  }
  throw new KeyNotFoundError('the tenant key changed during retirement; retry');
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}
