import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal, defineModel, field, type InferRecord } from '../../src/index.js';
import {
  PostgresKeyStore,
  createPostgresRepository,
  fromPGlite,
  fromPgPool,
  migrate,
  type SqlClient,
} from '../../src/postgres/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { migratedPGlite, PG_URL, serverSchema } from './pg-env.js';

const Customer = defineModel({
  table: 'customers',
  tenant: 'tenantId',
  key: ['id'],
  fields: {
    tenantId: field.string(),
    id: field.string(),
    plan: field.string().indexed(),
    seats: field.number(),
    email: field.string().encrypted({ pad: 'bucket-32' }),
    ssn: field.string().encrypted().nullable(),
    dob: field.date().encrypted(),
    balance: field.bigint().encrypted({ storage: 'text' }),
    apiSecret: field.bytes().encrypted(),
    notes: field.json<{ vip: boolean }>().encrypted().optional(),
    signedUp: field.date(),
    credits: field.bigint(),
  },
});
type CustomerRecord = InferRecord<typeof Customer>;

const CANARY = 'CANARY-SSN-990-11-2233';

function customer(tenant: string, i: number): CustomerRecord {
  return {
    tenantId: tenant,
    id: `cus_${String(i).padStart(4, '0')}`,
    plan: i % 2 === 0 ? 'pro' : 'free',
    seats: i,
    email: `user${i}@${tenant}.example`,
    ssn: i % 5 === 0 ? null : i === 1 ? CANARY : `123-45-${String(i).padStart(4, '0')}`,
    dob: new Date(Date.UTC(1980, 0, 1 + i)),
    balance: 10n ** 20n + BigInt(i),
    apiSecret: Buffer.from(`sk_live_${tenant}_${i}`),
    ...(i % 3 === 0 ? { notes: { vip: i % 2 === 0 } } : {}),
    signedUp: new Date(Date.UTC(2024, 5, 1)),
    credits: BigInt(i) * 1000n,
  };
}

function repositoryBehaviour(name: string, open: () => SqlClient) {
  describe(`model repository on ${name}`, () => {
    const provider = new MemoryKeyProvider();
    const tenants = ['t-alpha', 't-beta', 't-gamma'];
    let sql: SqlClient;
    const client = () =>
      createFieldseal({
        admin: true,
        provider,
        keys: { mode: 'store', store: new PostgresKeyStore({ sql }), masterKeyId: 'master' },
        cache: { maxAgeMs: 60_000 },
        fields: { ...Customer.policies },
      });

    beforeAll(async () => {
      sql = open();
      const fs = client();
      for (const t of tenants) await fs.provisionTenant(t);
      const repo = createPostgresRepository({ sql, fs, model: Customer });
      await repo.createTable();
      const records = tenants.flatMap((t) => Array.from({ length: 100 }, (_, i) => customer(t, i)));
      expect(await repo.insert(records)).toBe(300);
    });

    it('reads back every record of every tenant with its types, one unwrap per tenant', async () => {
      const fs = client();
      const repo = createPostgresRepository({ sql, fs, model: Customer });
      const before = provider.calls.unwrap;
      for (const t of tenants) {
        const list = await repo.list(t);
        expect(list).toHaveLength(100);
        list.forEach((r, i) => expect(r).toEqual(customer(t, i)));
      }
      expect(provider.calls.unwrap - before).toBe(3);
      expect(await repo.get('t-beta', ['cus_0007'])).toEqual(customer('t-beta', 7));
    });

    it('is tenant-scoped: another tenant’s key never finds the record', async () => {
      const repo = createPostgresRepository({ sql, fs: client(), model: Customer });
      expect(await repo.get('t-gamma', ['cus_0001'])).toBeDefined();
      expect(await repo.get('t-nobody', ['cus_0001'])).toBeUndefined();
    });

    it('stores ciphertext only: no plaintext anywhere in the table', async () => {
      const repo = createPostgresRepository({ sql, fs: client(), model: Customer });
      const stored = await repo.listStored('t-alpha', { limit: 5 });
      expect(Buffer.isBuffer(stored[0]!.email)).toBe(true);
      expect(stored[0]!.email[0]).toBe(0xf5);
      expect(String(stored[0]!.balance)).toMatch(/^fs1:/);
      const { rows } = await sql.query<{ row: string }>('SELECT c::text AS row FROM customers c');
      const dump = rows.map((r) => r.row).join('\n');
      expect(dump).not.toContain(CANARY);
      expect(dump).not.toContain('@t-alpha.example');
      expect(dump).not.toContain('sk_live_');
    });

    it('a ciphertext copied to another row (same tenant) or tenant fails, naming the record and field', async () => {
      await sql.query(
        `UPDATE customers SET email = (SELECT email FROM customers WHERE "tenantId" = 't-alpha' AND id = 'cus_0002')
          WHERE "tenantId" = 't-alpha' AND id = 'cus_0003'`,
      );
      await sql.query(
        `UPDATE customers SET ssn = (SELECT ssn FROM customers WHERE "tenantId" = 't-alpha' AND id = 'cus_0001')
          WHERE "tenantId" = 't-beta' AND id = 'cus_0001'`,
      );
      const repo = createPostgresRepository({ sql, fs: client(), model: Customer });
      await expect(repo.get('t-alpha', ['cus_0003'])).rejects.toMatchObject({
        code: 'ERR_AUTHENTICATION_FAILED',
        details: { field: 'customers.email' },
      });
      await expect(repo.get('t-beta', ['cus_0001'])).rejects.toMatchObject({
        code: 'ERR_WRONG_KEY',
      });
      const err = (await repo.list('t-alpha').catch((e: unknown) => e)) as {
        code: string;
        failures: { index: number; error: { code: string } }[];
      };
      expect(err.code).toBe('ERR_BATCH_FAILED');
      expect(err.failures.map((f) => [f.index, f.error.code])).toEqual([
        [3, 'ERR_AUTHENTICATION_FAILED'],
      ]);
    });
  });
}

describe('PGlite', () => {
  let db: PGlite;
  beforeAll(async () => {
    db = await migratedPGlite();
  });
  afterAll(async () => {
    await db.close();
  });
  repositoryBehaviour('PGlite', () => fromPGlite(db));
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
  repositoryBehaviour('the PostgreSQL server', () => sql);
});
