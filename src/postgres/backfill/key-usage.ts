import type { Fieldseal } from '../../index.js';
import { inspectEnvelope } from '../../index.js';
import {
  isFieldsealError,
  KeyNotConfiguredError,
  KeyVersionInUseError,
  ModeForbiddenError,
  type FieldsealErrorCode,
  type KeyVersionUse,
} from '../../index.js';
import { TenantIndexSecrets } from '../repository/tenant-index-secrets.js';
import type { KeyStore } from '../../index.js';
import type { SqlClient } from '../sql-client.js';
import type { AnyModel } from '../../index.js';
import { backfillTarget, ident } from './backfill-target.js';

/**
 * How many stored values of one tenant use each data key, per table and field. Keys are
 * `keyId@version` (store mode), `embedded` (self-contained envelopes), `plaintext` (legacy
 * values in migration) or `malformed`.
 * @example
 * ```ts
 * const usage: KeyUsage = await countKeyUsage({ sql, fs, model: Customer, tenant: 'acme' });
 * usage.byKey['default@1']; // 0 once the backfill is done
 * ```
 */
export interface KeyUsage {
  readonly tenant: string;
  readonly rows: number;
  /** Values per key label, over every counted table and field. */
  readonly byKey: Readonly<Record<string, number>>;
  /** Values per `table.field`, then per key label. */
  readonly byField: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /**
   * The same counts by place: each database table and column (or sealed blind-index secret of
   * one index version) with each key label it holds, and how many values.
   */
  readonly uses: readonly KeyVersionUse[];
}

/**
 * A model table to count, optionally under another table name.
 * @example
 * ```ts
 * const tables: UsageTable[] = [{ model: Customer }, { model: Order, tableName: 'orders_2026' }];
 * ```
 */
export interface UsageTable {
  readonly model: AnyModel;
  readonly tableName?: string;
}

const PAGE = 5000;

/**
 * Count, by reading every stored value of the tenant (headers only, nothing is decrypted),
 * which data-key versions its values use.
 * @example
 * ```ts
 * const usage = await countKeyUsage({ sql, fs, tables: [{ model: Customer }], tenant: 'acme' });
 * ```
 */
export async function countKeyUsage(options: {
  readonly sql: SqlClient;
  readonly fs: Fieldseal;
  readonly tables: readonly UsageTable[];
  readonly tenant: string;
  /**
   * Tables of values sealed by fieldseal itself, with `tenant` and `sealed` columns, counted
   * too when they exist (default: the repository's blind-index secrets,
   * `fieldseal_blind_index_secrets`; run `resealBlindIndexSecrets()` before retiring).
   */
  readonly sealedTables?: readonly string[];
}): Promise<KeyUsage> {
  const { sql, fs, tenant } = options;
  const sealedTables = options.sealedTables ?? ['fieldseal_blind_index_secrets'];
  const byKey: Record<string, number> = {};
  const byField: Record<string, Record<string, number>> = {};
  const places = new Map<string, { use: Omit<KeyVersionUse, 'count'>; count: number }>();
  const count = (use: Omit<KeyVersionUse, 'count'>, field: string): void => {
    byKey[use.key] = (byKey[use.key] ?? 0) + 1;
    const f = (byField[field] ??= {});
    f[use.key] = (f[use.key] ?? 0) + 1;
    const id = JSON.stringify([use.table, use.column, use.indexVersion ?? null, use.key]);
    const place = places.get(id);
    if (place === undefined) places.set(id, { use, count: 1 });
    else place.count++;
  };
  let rowsCounted = 0;
  for (const t of options.tables) {
    const target = backfillTarget(fs, t.model, { tableName: t.tableName });
    const [tenantCol, ...keyCols] = target.pk;
    const cols = [...target.pk, ...target.fields.map((f) => f.column)].join(', ');
    let after: unknown[] | undefined;
    for (;;) {
      const params: unknown[] = [tenant];
      let cond = `${tenantCol} = $1`;
      if (after !== undefined) {
        const slots = after.map((v) => {
          params.push(v);
          return `$${params.length}`;
        });
        cond += ` AND (${keyCols.join(', ')}) > (${slots.join(', ')})`;
      }
      params.push(PAGE);
      const { rows } = await sql.query<Record<string, unknown>>(
        `SELECT ${cols} FROM ${target.table} WHERE ${cond}
          ORDER BY ${target.pk.join(', ')} LIMIT $${params.length}`,
        params,
      );
      for (const row of rows) {
        rowsCounted++;
        for (const f of target.fields) {
          const stored = row[f.name];
          if (stored === null || stored === undefined) continue;
          count(
            {
              kind: 'column',
              table: target.tableName,
              column: f.name,
              model: target.plan.table,
              key: keyLabel(stored as string | Uint8Array),
            },
            f.planned.qualified,
          );
        }
      }
      if (rows.length < PAGE) break;
      const last = rows[rows.length - 1]!;
      after = target.pkNames.slice(1).map((n) => {
        const v = last[n];
        return typeof v === 'bigint' ? v.toString() : v;
      });
    }
  }
  for (const table of sealedTables) {
    const exists = await sql.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [
      table,
    ]);
    if (exists.rows[0]?.t == null) continue;
    // The index version, where the table has one (any table with tenant and sealed works).
    const { rows } = await sql.query<{ sealed: string; version: string | null }>(
      `SELECT s.sealed, to_jsonb(s) ->> 'version' AS version
         FROM ${ident(table, 'sealedTables')} s WHERE s.tenant = $1`,
      [tenant],
    );
    for (const { sealed, version } of rows) {
      const indexVersion = version === null ? undefined : Number(version);
      count(
        {
          kind: 'blind-index-secret',
          table,
          column: 'sealed',
          ...(indexVersion === undefined || !Number.isInteger(indexVersion)
            ? {}
            : { indexVersion }),
          key: keyLabel(sealed),
        },
        `${table}.sealed`,
      );
    }
  }
  const uses = [...places.values()].map(({ use, count: n }) => Object.freeze({ ...use, count: n }));
  return { tenant, rows: rowsCounted, byKey, byField, uses };
}

function keyLabel(stored: string | Uint8Array): string {
  try {
    const info = inspectEnvelope(typeof stored === 'string' ? stored : Buffer.from(stored));
    if (info === undefined) return 'plaintext';
    return info.keyRef.kind === 'store'
      ? `${info.keyRef.keyId}@${info.keyRef.version}`
      : 'embedded';
  } catch {
    return 'malformed';
  }
}

/**
 * Retire every data-key version of the tenant below `below` (a minimum decryption version),
 * **only after counting** that no stored value in `tables` still uses one: the safe way to
 * call `fs.retireKeyVersions`. The values are counted before and again after the retirement;
 * a value that appeared under a retired version in between makes it reinstate those versions
 * and fail. It also refuses while the active version is younger than `minActiveAgeMs`
 * (default 15 minutes), since processes without key events may still write under an older
 * version until their cache expires.
 *
 * Key administration: `fs` must be created with `admin: ['retire', 'reinstate']` (or
 * `admin: true`); `reinstate` undoes the retirement when values appear meanwhile.
 * @throws KeyVersionInUseError when a value still uses a version below `below` (its `uses`
 *   names every table column and blind-index secret still using one, with counts: run the
 *   backfill, or {@link resealBlindIndexSecrets}, first) or the active version is too recent
 *   (`uses` empty).
 * @throws ModeForbiddenError when `fs` may not retire or reinstate (nothing is retired; the
 *   message says which `admin` option the client needs).
 * @returns the versions retired and the usage counted.
 * @example
 * ```ts
 * await runBackfill({ sql, fs, model: Customer });
 * const admin = createFieldseal({ ...options, admin: ['retire', 'reinstate'] });
 * const { retired } = await retireKeyVersion({ sql, fs: admin, store, tables: [{ model: Customer }], tenant: 'acme', below: 3 });
 * ```
 */
export async function retireKeyVersion(options: {
  readonly sql: SqlClient;
  readonly fs: Fieldseal;
  readonly store: KeyStore;
  readonly tables: readonly UsageTable[];
  readonly tenant: string;
  readonly below: number;
  /** The client's key id (checked: default and only accepted value is the client's). */
  readonly keyId?: string;
  /** See {@link countKeyUsage}. */
  readonly sealedTables?: readonly string[];
  readonly minActiveAgeMs?: number;
}): Promise<{ retired: number[]; usage: KeyUsage }> {
  const { fs, store, tenant, below } = options;
  // Count exactly the key id the client will retire.
  const keyId = fs.keyId;
  if (keyId === undefined) {
    throw new KeyNotConfiguredError('retireKeyVersion needs a client in keys.mode "store"');
  }
  if (options.keyId !== undefined && options.keyId !== keyId) {
    throw new TypeError(`keyId: the client retires versions of "${keyId}", not "${options.keyId}"`);
  }
  const minAge = options.minActiveAgeMs ?? 15 * 60_000;
  const active = await store.getActiveVersion(tenant, keyId);
  if (active !== undefined && Date.now() - active.createdAt.getTime() < minAge) {
    throw new KeyVersionInUseError(
      'the active version is too recent: other processes may still write under older ones',
      { details: { keyRef: `${keyId}@${active.version}` } },
    );
  }
  const inUse = (usage: KeyUsage): KeyVersionUse[] =>
    usage.uses.filter((u) => {
      const m = /^(.*)@(\d+)$/.exec(u.key);
      return u.count > 0 && m !== null && m[1] === keyId && Number(m[2]) < below;
    });
  const before = await countKeyUsage(options);
  const blocking = inUse(before);
  if (blocking.length > 0) {
    throw new KeyVersionInUseError(
      `stored values still use ${describeUses(blocking)}: re-encrypt them first (runBackfill ` +
        'for table columns, resealBlindIndexSecrets for blind-index secrets); err.uses lists them',
      { details: { keyRef: blocking[0]!.key }, uses: blocking },
    );
  }
  let retired: number[];
  try {
    retired = await fs.retireKeyVersions(tenant, below);
  } catch (err) {
    throw refusedAdmin(err, 'it retires versions, and nothing was retired');
  }
  const after = await countKeyUsage(options);
  const late = inUse(after);
  if (late.length > 0) {
    try {
      for (const v of retired) await fs.reinstateKeyVersion(tenant, v);
    } catch (err) {
      throw refusedAdmin(
        err,
        `values were written under ${describeUses(late)} during the retirement, and versions ` +
          `${retired.join(', ')} stay retired: reinstate them with reinstateKeyVersion`,
      );
    }
    throw new KeyVersionInUseError(
      `values were written under ${describeUses(late)} during the retirement; reinstated`,
      { details: { keyRef: late[0]!.key }, uses: late },
    );
  }
  return { retired, usage: after };
}

/** `contacts.email: 300 under default@1, ...`: names and counts only. */
function describeUses(uses: readonly KeyVersionUse[]): string {
  return uses
    .map((u) =>
      u.kind === 'blind-index-secret'
        ? `blind-index secret${u.indexVersion === undefined ? '' : ` of index version ${u.indexVersion}`} in ${u.table}: ${u.count} under ${u.key}`
        : `${u.table}.${u.column}: ${u.count} under ${u.key}`,
    )
    .join('; ');
}

/**
 * A refusal of `retireKeyVersion`'s client to administer keys, as an error that says which
 * `admin` option the client needs (and what state the tenant is in); other errors unchanged.
 */
function refusedAdmin(err: unknown, state: string): unknown {
  if (!isFieldsealError(err) || err.code !== 'ERR_MODE_FORBIDDEN') return err;
  return new ModeForbiddenError(
    `retireKeyVersion needs a client created with admin: ['retire', 'reinstate'] (or admin: true): ${state}; see docs/modes.md`,
    { cause: err },
  );
}

/**
 * What {@link resealBlindIndexSecrets} did: secrets checked, resealed, and each one that could
 * not be resealed (tenant, index version, error code; e.g. `ERR_KEY_SHREDDED`).
 * @example
 * ```ts
 * const { resealed, failures }: ResealReport = await resealBlindIndexSecrets({ sql, fs, tenant: 'acme' });
 * ```
 */
export interface ResealReport {
  readonly checked: number;
  readonly resealed: number;
  readonly failed: number;
  readonly failures: readonly {
    readonly tenant: string;
    readonly indexVersion: number;
    readonly code: FieldsealErrorCode;
  }[];
}

/**
 * Seal the per-tenant blind-index secrets of a PostgreSQL database (table `table`, default
 * `fieldseal_blind_index_secrets`, shared by every model) again under each tenant's active
 * data-key version, where one is sealed under an older version: the step before
 * {@link retireKeyVersion} when `KeyVersionInUseError.uses` names a `blind-index-secret`. It
 * needs only the data keys (not the blind-index root key); compare-and-set per secret, so it
 * is safe while applications write. `fieldseal keys reseal-index-secrets <tenant>` runs it.
 * @param options.tenant - only this tenant's secrets (default: every tenant).
 * @throws ModeForbiddenError when `fs` is not ReadWrite (resealing decrypts and encrypts);
 *   KeyNotConfiguredError when `fs` is not in store mode; TypeError for a bad table name.
 * @example
 * ```ts
 * const report = await resealBlindIndexSecrets({ sql, fs, tenant: 'acme' });
 * if (report.failed === 0) await retireKeyVersion({ sql, fs: admin, store, tables, tenant: 'acme', below: 3 });
 * ```
 */
export async function resealBlindIndexSecrets(options: {
  readonly sql: SqlClient;
  readonly fs: Fieldseal;
  readonly tenant?: string;
  readonly table?: string;
}): Promise<ResealReport> {
  const { sql, fs, tenant } = options;
  const table = options.table ?? 'fieldseal_blind_index_secrets';
  ident(table, 'table');
  if (tenant !== undefined && (typeof tenant !== 'string' || tenant.length === 0)) {
    throw new TypeError('tenant: expected a non-empty string');
  }
  if (fs.keyId === undefined) {
    throw new KeyNotConfiguredError('resealBlindIndexSecrets needs a client in keys.mode "store"');
  }
  if (fs.mode !== 'ReadWrite') {
    throw new ModeForbiddenError(
      `resealBlindIndexSecrets needs a ReadWrite client (it decrypts and encrypts), not ${fs.mode}`,
    );
  }
  const exists = await sql.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [
    table,
  ]);
  if (exists.rows[0]?.t == null) return { checked: 0, resealed: 0, failed: 0, failures: [] };
  const failures: ResealReport['failures'][number][] = [];
  const report = await new TenantIndexSecrets(sql, fs, table).reseal({
    tenant,
    onFailure: (f) => failures.push(f),
  });
  return { ...report, failures };
}
