import type { Fieldseal } from '../client/fieldseal.js';
import { inspectEnvelope } from '../envelope/inspect-envelope.js';
import {
  isFieldsealError,
  KeyNotConfiguredError,
  KeyVersionInUseError,
  ModeForbiddenError,
} from '../errors.js';
import type { KeyStore } from '../keystore/key-store.js';
import type { SqlClient } from '../keystore/postgres/sql-client.js';
import type { AnyModel } from '../model/model-types.js';
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
   * `fieldseal_blind_index_secrets`; run `repo.resealBlindIndexSecrets()` before retiring).
   */
  readonly sealedTables?: readonly string[];
}): Promise<KeyUsage> {
  const { sql, fs, tenant } = options;
  const sealedTables = options.sealedTables ?? ['fieldseal_blind_index_secrets'];
  const byKey: Record<string, number> = {};
  const byField: Record<string, Record<string, number>> = {};
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
          const label = keyLabel(stored as string | Uint8Array);
          byKey[label] = (byKey[label] ?? 0) + 1;
          const field = (byField[f.planned.qualified] ??= {});
          field[label] = (field[label] ?? 0) + 1;
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
    const { rows } = await sql.query<{ sealed: string }>(
      `SELECT sealed FROM ${ident(table, 'sealedTables')} WHERE tenant = $1`,
      [tenant],
    );
    for (const { sealed } of rows) {
      const label = keyLabel(sealed);
      byKey[label] = (byKey[label] ?? 0) + 1;
      const field = (byField[`${table}.sealed`] ??= {});
      field[label] = (field[label] ?? 0) + 1;
    }
  }
  return { tenant, rows: rowsCounted, byKey, byField };
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
 * @throws KeyVersionInUseError when a value still uses a version below `below` (run the
 *   backfill first) or the active version is too recent.
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
  const inUse = (usage: KeyUsage): string[] =>
    Object.entries(usage.byKey)
      .filter(([label, n]) => {
        const m = /^(.*)@(\d+)$/.exec(label);
        return n > 0 && m !== null && m[1] === keyId && Number(m[2]) < below;
      })
      .map(([label]) => label);
  const before = await countKeyUsage(options);
  const blocking = inUse(before);
  if (blocking.length > 0) {
    throw new KeyVersionInUseError(
      `stored values still use ${blocking.join(', ')}: run the backfill first`,
      { details: { keyRef: blocking[0]! } },
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
        `values were written under ${late.join(', ')} during the retirement, and versions ` +
          `${retired.join(', ')} stay retired: reinstate them with reinstateKeyVersion`,
      );
    }
    throw new KeyVersionInUseError(
      `values were written under ${late.join(', ')} during the retirement; reinstated`,
      { details: { keyRef: late[0]! } },
    );
  }
  return { retired, usage: after };
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
