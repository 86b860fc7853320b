import type { Fieldseal } from '../../index.js';
import type { SqlClient } from '../sql-client.js';
import type {
  SealedSecret,
  SealedSecretPage,
  SealedSecretStorage,
  SealedSecretId,
} from '../../integration/index.js';
import { TenantSecrets } from '../../integration/index.js';
import { q } from './repository-columns.js';

/*
 * Per-tenant blind-index secrets in a PostgreSQL table (internal). The sealing, opening and
 * resealing are the storage-independent TenantSecrets (src/blind-index/tenant-secrets.ts); this
 * file only keeps the sealed text in a table keyed by (tenant, version).
 */

export type { SecretSet } from '../../integration/index.js';

/**
 * The sealed secrets table in PostgreSQL: `(tenant, version)` primary key, `sealed` text.
 * @example
 * ```ts
 * const storage = new PostgresSealedSecretStorage(sql, 'fieldseal_blind_index_secrets');
 * await storage.createTable();
 * ```
 * @internal
 */
export class PostgresSealedSecretStorage implements SealedSecretStorage {
  constructor(
    private readonly sql: SqlClient,
    private readonly table: string,
  ) {}

  async createTable(): Promise<void> {
    await this.sql.exec(
      `CREATE TABLE IF NOT EXISTS ${q(this.table)} (
        tenant text NOT NULL,
        version integer NOT NULL,
        sealed text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, version))`,
    );
  }

  async select(tenants: readonly string[], versions: readonly number[]): Promise<SealedSecret[]> {
    const { rows } = await this.sql.query<SealedSecret>(
      `SELECT tenant, version, sealed FROM ${q(this.table)}
        WHERE tenant = ANY($1::text[]) AND version = ANY($2::integer[])`,
      [tenants, versions],
    );
    return rows.map(normalized);
  }

  async insertIfAbsent(rows: readonly SealedSecret[]): Promise<void> {
    if (rows.length === 0) return;
    const params: unknown[] = [];
    const tuples = rows.map(({ tenant, version, sealed }) => {
      params.push(tenant, version, sealed);
      const n = params.length;
      return `($${n - 2}, $${n - 1}, $${n})`;
    });
    await this.sql.query(
      `INSERT INTO ${q(this.table)} (tenant, version, sealed) VALUES ${tuples.join(', ')}
        ON CONFLICT (tenant, version) DO NOTHING`,
      params,
    );
  }

  async replaceIf(
    tenant: string,
    version: number,
    expectedSealed: string,
    nextSealed: string,
  ): Promise<boolean> {
    const { rows } = await this.sql.query(
      `UPDATE ${q(this.table)} SET sealed = $3
        WHERE tenant = $1 AND version = $2 AND sealed = $4 RETURNING 1`,
      [tenant, version, nextSealed, expectedSealed],
    );
    return rows.length > 0;
  }

  async listPage(after: SealedSecretId | undefined, limit: number): Promise<SealedSecretPage> {
    const { rows } = await this.sql.query<SealedSecret>(
      `SELECT tenant, version, sealed FROM ${q(this.table)}
        ${after === undefined ? '' : 'WHERE (tenant, version) > ($2, $3)'}
        ORDER BY tenant, version LIMIT $1`,
      after === undefined ? [limit] : [limit, after.tenant, after.version],
    );
    const page = rows.map(normalized);
    const last = page.at(-1);
    return {
      rows: page,
      next: page.length < limit || last === undefined ? undefined : last,
    };
  }

  async erase(tenant: string): Promise<number> {
    const { rows } = await this.sql.query(
      `DELETE FROM ${q(this.table)} WHERE tenant = $1 RETURNING version`,
      [tenant],
    );
    return rows.length;
  }
}

/** Drivers may return `integer` columns as strings. */
function normalized(r: SealedSecret): SealedSecret {
  return { tenant: r.tenant, version: Number(r.version), sealed: r.sealed };
}

/**
 * The sealed per-tenant secrets of a PostgreSQL database (table `table`).
 * @example
 * ```ts
 * const secrets = new TenantIndexSecrets(sql, fs, 'fieldseal_blind_index_secrets');
 * const opened = await secrets.load(['acme'], [1], { create: true, reseal: true });
 * ```
 * @internal
 */
export class TenantIndexSecrets extends TenantSecrets {
  constructor(sql: SqlClient, fs: Fieldseal, table: string) {
    super(new PostgresSealedSecretStorage(sql, table), fs);
  }
}
