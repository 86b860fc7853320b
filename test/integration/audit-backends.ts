import type { AuditEvent } from '../../src/audit/audit-event.js';
import { fromPGlite, fromPgPool, migrate, type SqlClient } from '../../src/postgres/index.js';
import { migratedPGlite, PG_URL, serverSchema } from './pg-env.js';

/** A fresh, migrated database of one backend. */
export interface FreshDatabase {
  readonly sql: SqlClient;
  /** Another independent client on the same database (server: a new pool; PGlite: same db). */
  readonly another: () => SqlClient;
  readonly close: () => Promise<void>;
}

/**
 * The backends the audit suites run on: embedded PGlite always, the PostgreSQL server when
 * FIELDSEAL_TEST_PG_URL is set (each database a private schema, dropped afterwards).
 */
export const backends: { name: string; server: boolean; fresh: () => Promise<FreshDatabase> }[] = [
  {
    name: 'PGlite (embedded)',
    server: false,
    fresh: async () => {
      const db = await migratedPGlite();
      const sql = fromPGlite(db);
      return { sql, another: () => sql, close: () => db.close() };
    },
  },
];
if (PG_URL !== undefined) {
  backends.push({
    name: 'PostgreSQL server',
    server: true,
    fresh: async () => {
      const schema = await serverSchema();
      const sql = fromPgPool(schema.pool(4));
      await migrate(sql);
      return {
        sql,
        another: () => fromPgPool(schema.pool(4)),
        close: schema.close,
      };
    },
  });
}

class Rollback extends Error {}

/** Run `fn` in a transaction that is always rolled back: tamper, observe, leave no trace. */
export async function rolledBack<T>(sql: SqlClient, fn: (tx: SqlClient) => Promise<T>): Promise<T> {
  let result: { value: T } | undefined;
  await sql
    .transaction(async (tx) => {
      result = { value: await fn(tx) };
      throw new Rollback();
    })
    .catch((err: unknown) => {
      if (!(err instanceof Rollback)) throw err;
    });
  if (result === undefined) throw new Error('transaction did not run');
  return result.value;
}

/** A small deterministic PRNG (mulberry32), so a failing random position can be replayed. */
export function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

const OPS = ['unwrap', 'generate', 'rotate', 'rewrap', 'wrap', 'provision'] as const;

/** Event `i` of a synthetic, varied audit trail (no two rows alike). */
export function syntheticEvent(i: number): AuditEvent {
  const failed = i % 97 === 0;
  return {
    at: new Date(Date.UTC(2025, 0, 1) + i * 1_003),
    actor: `svc-${i % 7}`,
    operation: OPS[i % OPS.length]!,
    tenant: `tenant-${i % 13}`,
    keyId: 'default',
    version: (i % 5) + 1,
    providerId: 'local',
    masterKeyId: 'master',
    outcome: failed ? 'failure' : 'success',
    ...(failed ? { errorCode: 'ERR_PROVIDER_UNAVAILABLE' } : {}),
    detail: { i, tags: ['a', i % 2 === 0], ratio: i / 7 },
  };
}
