import { randomBytes } from 'node:crypto';
import type { Fieldseal } from '../../client/fieldseal.js';
import type { DecryptItem, EncryptItem } from '../../client/items.js';
import { InvalidKeyMaterialError, isFieldsealError, type FieldsealError } from '../../errors.js';
import type { EncryptionContext } from '../../envelope/context.js';
import { inspectEnvelope } from '../../envelope/inspect-envelope.js';
import type { SqlClient } from '../../keystore/postgres/sql-client.js';
import { q } from './repository-columns.js';

/*
 * Per-tenant blind-index secrets (internal). The blind indexer's root key is shared by every
 * tenant, so on its own it would let whoever holds it recompute any tenant's indexes forever,
 * shredded or not. Each (tenant, index version) therefore also gets 32 random bytes mixed into
 * its index keys, stored only sealed under the tenant's own data key: when the tenant is
 * crypto-shredded the secret can no longer be opened, and neither can its indexes be
 * recomputed or tested against guesses, even with the root key.
 */

/** Secrets read per page by `reseal`. */
const PAGE = 500;

/** Bytes of a tenant secret. */
const SECRET_BYTES = 32;

/** Fixed context table of sealed secrets (independent of the table's name in the database). */
const CONTEXT_TABLE = 'fieldseal_blind_index_secrets';

/** Opened secrets of one operation; `wipe()` zeroes them when it is done. @internal */
export interface SecretSet {
  /** The secret, the error that prevented opening it, or `undefined` when none exists. */
  get(tenant: string, version: number): Buffer | FieldsealError | undefined;
  wipe(): void;
}

interface SealedRow {
  tenant: string;
  version: number;
  sealed: string;
}

const id = (tenant: string, version: number): string => `${version}\u0000${tenant}`;

function contextOf(tenant: string, version: number): EncryptionContext {
  return { tenant, table: CONTEXT_TABLE, field: 'secret', record: String(version) };
}

/** The sealed per-tenant secrets table. @internal */
export class TenantIndexSecrets {
  readonly #sql: SqlClient;
  readonly #fs: Fieldseal;
  readonly #table: string;

  constructor(sql: SqlClient, fs: Fieldseal, table: string) {
    this.#sql = sql;
    this.#fs = fs;
    this.#table = table;
  }

  /** `CREATE TABLE IF NOT EXISTS` of the secrets table. */
  async createTable(): Promise<void> {
    await this.#sql.exec(
      `CREATE TABLE IF NOT EXISTS ${q(this.#table)} (
        tenant text NOT NULL,
        version integer NOT NULL,
        sealed text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, version))`,
    );
  }

  /**
   * Open the secrets of every (tenant, version) pair. With `create`, missing ones are made
   * first (random, sealed, inserted; concurrent writers agree through the primary key: the
   * first insert wins and everyone opens the stored one). With `reseal`, secrets sealed under
   * a data-key version that is no longer current are sealed again (see {@link reseal}).
   * @throws only database errors and programming errors; key errors are per pair in the set.
   */
  async load(
    tenants: readonly string[],
    versions: readonly number[],
    { create, reseal }: { readonly create: boolean; readonly reseal: boolean },
  ): Promise<SecretSet> {
    const ts = [...new Set(tenants)];
    let rows = await this.#select(ts, versions);
    if (reseal) await this.#reseal(rows);
    if (create) {
      const have = new Set(rows.map((r) => id(r.tenant, r.version)));
      const missing = ts.flatMap((tenant) =>
        versions.filter((v) => !have.has(id(tenant, v))).map((version) => ({ tenant, version })),
      );
      if (missing.length > 0) {
        await this.#create(missing);
        rows = await this.#select(ts, versions);
      }
    }
    const items: DecryptItem[] = rows.map((r) => ({
      stored: r.sealed,
      context: contextOf(r.tenant, r.version),
    }));
    const opened = items.length > 0 ? await this.#fs.decryptManySettled<unknown>(items) : [];
    const found = new Map<string, Buffer | FieldsealError>();
    opened.forEach((result, i) => {
      const { tenant, version } = rows[i]!;
      if (!result.ok) {
        found.set(id(tenant, version), result.error);
      } else if (result.value instanceof Uint8Array && result.value.byteLength === SECRET_BYTES) {
        found.set(id(tenant, version), Buffer.from(result.value));
        result.value.fill(0);
      } else {
        found.set(
          id(tenant, version),
          new InvalidKeyMaterialError('blind index tenant secret is not 32 bytes'),
        );
      }
    });
    return {
      get: (tenant, version) => found.get(id(tenant, version)),
      wipe: () => {
        for (const s of found.values()) if (Buffer.isBuffer(s)) s.fill(0);
        found.clear();
      },
    };
  }

  /**
   * Seal every stored secret whose data-key version is no longer its tenant's current one
   * again under the current one (compare-and-set on the sealed text), so that retiring old
   * data-key versions never strands a tenant's blind indexes. Shredded tenants are skipped.
   */
  async reseal(): Promise<{ checked: number; resealed: number; failed: number }> {
    const report = { checked: 0, resealed: 0, failed: 0 };
    let after: SealedRow | undefined;
    for (;;) {
      const { rows } = await this.#sql.query<SealedRow>(
        `SELECT tenant, version, sealed FROM ${q(this.#table)}
          ${after === undefined ? '' : 'WHERE (tenant, version) > ($2, $3)'}
          ORDER BY tenant, version LIMIT $1`,
        after === undefined ? [PAGE] : [PAGE, after.tenant, after.version],
      );
      const page = rows.map((r) => ({ ...r, version: Number(r.version) }));
      const { resealed, failed } = await this.#reseal(page);
      report.checked += page.length;
      report.resealed += resealed;
      report.failed += failed;
      after = page.at(-1);
      if (page.length < PAGE) return report;
    }
  }

  /** Delete every secret of `tenant` (all versions); returns how many were deleted. */
  async erase(tenant: string): Promise<number> {
    const { rows } = await this.#sql.query(
      `DELETE FROM ${q(this.#table)} WHERE tenant = $1 RETURNING version`,
      [tenant],
    );
    return rows.length;
  }

  async #reseal(rows: readonly SealedRow[]): Promise<{ resealed: number; failed: number }> {
    let resealed = 0;
    let failed = 0;
    for (const r of rows) {
      // Embedded envelopes have no versions (re-encrypting them would change them every time).
      if (inspectEnvelope(r.sealed)?.keyRef.kind !== 'store') continue;
      let out: { stored: string; changed: boolean };
      try {
        out = await this.#fs.reencrypt(r.sealed, contextOf(r.tenant, r.version));
      } catch (err) {
        if (!isFieldsealError(err)) throw err;
        failed += 1; // reported again, per pair, when the secret is opened
        continue;
      }
      if (!out.changed) continue;
      const { rows: done } = await this.#sql.query(
        `UPDATE ${q(this.#table)} SET sealed = $3
          WHERE tenant = $1 AND version = $2 AND sealed = $4 RETURNING 1`,
        [r.tenant, r.version, out.stored, r.sealed],
      );
      resealed += done.length;
    }
    return { resealed, failed };
  }

  async #select(tenants: readonly string[], versions: readonly number[]): Promise<SealedRow[]> {
    if (tenants.length === 0 || versions.length === 0) return [];
    const { rows } = await this.#sql.query<SealedRow>(
      `SELECT tenant, version, sealed FROM ${q(this.#table)}
        WHERE tenant = ANY($1::text[]) AND version = ANY($2::integer[])`,
      [tenants, versions],
    );
    return rows.map((r) => ({ tenant: r.tenant, version: Number(r.version), sealed: r.sealed }));
  }

  async #create(missing: readonly { tenant: string; version: number }[]): Promise<void> {
    const secrets = missing.map(() => randomBytes(SECRET_BYTES));
    let sealed: string[];
    try {
      const items: EncryptItem[] = missing.map(({ tenant, version }, i) => ({
        value: secrets[i]!,
        context: contextOf(tenant, version),
      }));
      sealed = await this.#fs.encryptMany(items);
    } finally {
      for (const s of secrets) s.fill(0);
    }
    const params: unknown[] = [];
    const tuples = missing.map(({ tenant, version }, i) => {
      params.push(tenant, version, sealed[i]);
      const n = params.length;
      return `($${n - 2}, $${n - 1}, $${n})`;
    });
    await this.#sql.query(
      `INSERT INTO ${q(this.#table)} (tenant, version, sealed) VALUES ${tuples.join(', ')}
        ON CONFLICT (tenant, version) DO NOTHING`,
      params,
    );
  }
}
