import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe } from 'vitest';
import { createBlindIndexer, createFieldseal, EnvSecretSource } from '../../src/index.js';
import type { BlindIndexer, Fieldseal, FieldPolicy, KeyStore } from '../../src/index.js';
import {
  PostgresKeyStore,
  fromPGlite,
  fromPgPool,
  migrate,
  type SqlClient,
} from '../../src/postgres/index.js';
import { MemoryKeyStore, type MemoryKeyProvider } from '../../src/testing/index.js';
import { migratedPGlite, PG_URL, serverSchema } from './pg-env.js';

/**
 * Run `suite` on embedded PGlite (always) and on the PostgreSQL server of
 * `FIELDSEAL_TEST_PG_URL` (in a private schema; skipped, loudly, without it). `sql()` is the
 * migrated database of the suite.
 */
export function onBothBackends(suite: (backend: string, sql: () => SqlClient) => void): void {
  describe('PGlite', () => {
    let db: PGlite;
    let sql: SqlClient;
    beforeAll(async () => {
      db = await migratedPGlite();
      sql = fromPGlite(db);
    });
    afterAll(async () => {
      await db.close();
    });
    suite('PGlite', () => sql);
  });

  describe.skipIf(PG_URL === undefined)('PostgreSQL server', () => {
    let env: Awaited<ReturnType<typeof serverSchema>>;
    let sql: SqlClient;
    beforeAll(async () => {
      env = await serverSchema();
      sql = fromPgPool(env.pool(4));
      await migrate(sql);
    });
    afterAll(async () => {
      await env.close();
    });
    suite('the PostgreSQL server', () => sql);
  });
}

/**
 * Run `suite` over every key store a defect involving stores must be tested on: the memory
 * store, the PostgreSQL key store on PGlite, and on the server (skipped, loudly, without it).
 */
export function onEveryKeyStore(suite: (name: string, store: () => KeyStore) => void): void {
  suite('the memory store', () => new MemoryKeyStore());
  onBothBackends((backend, sql) => {
    let store: KeyStore | undefined;
    suite(backend, () => (store ??= new PostgresKeyStore({ sql: sql() })));
  });
}

/** A store-mode client over the suite's key store (one provider per suite, shared master). */
export function storeClient(
  provider: MemoryKeyProvider,
  sql: SqlClient,
  fields: Readonly<Record<string, FieldPolicy>>,
): Fieldseal {
  return createFieldseal({
    admin: true,
    provider,
    keys: { mode: 'store', store: new PostgresKeyStore({ sql }), masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
    fields,
  });
}

/** A blind indexer with a fixed root key (as every process of a fleet would load it). */
export function testIndexer(): Promise<BlindIndexer> {
  const root = Buffer.alloc(32, 0x5a).toString('base64');
  return createBlindIndexer({
    source: new EnvSecretSource({
      keys: { 'blind-index': 'BI_ROOT' },
      env: { BI_ROOT: `base64:${root}` },
    }),
    reference: 'blind-index',
  });
}

/**
 * `inner`, except that the first statement for which `trigger(text, params)` is true first
 * awaits `before(params)`: the application's write landing between a read and its
 * compare-and-set, deterministically.
 */
export function interceptFirst(
  inner: SqlClient,
  trigger: (text: string) => boolean,
  before: (params: readonly unknown[]) => Promise<void>,
): SqlClient & { readonly fired: boolean } {
  let fired = false;
  const client = {
    get fired() {
      return fired;
    },
    query: async <R extends object>(text: string, params?: readonly unknown[]) => {
      if (!fired && trigger(text)) {
        fired = true;
        await before(params ?? []);
      }
      return inner.query<R>(text, params);
    },
    exec: (text: string) => inner.exec(text),
    transaction: <T>(fn: (tx: SqlClient) => Promise<T>) => inner.transaction(fn),
  };
  return client;
}
