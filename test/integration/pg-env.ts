import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * The PostgreSQL server the integration tests use: `FIELDSEAL_TEST_PG_URL` (set by .ci/run to
 * postgres://postgres@127.0.0.1:5432/test). Without it, the server suites are skipped and say so.
 */
export const PG_URL = process.env.FIELDSEAL_TEST_PG_URL;

if (PG_URL === undefined) {
  console.warn(
    '\n*** FIELDSEAL_TEST_PG_URL is not set: PostgreSQL SERVER suites are SKIPPED (PGlite suites still run). ***\n',
  );
}

/** A fresh schema on the server per test file, dropped by `close()`. */
export async function serverSchema(): Promise<{
  pool: (max?: number) => pg.Pool;
  schema: string;
  close: () => Promise<void>;
}> {
  const schema = `fieldseal_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
  await admin.query(`CREATE SCHEMA ${schema}`);
  const pools: pg.Pool[] = [];
  return {
    schema,
    pool: (max = 4) => {
      const p = new pg.Pool({ connectionString: PG_URL, max, options: `-c search_path=${schema}` });
      pools.push(p);
      return p;
    },
    close: async () => {
      await Promise.all(pools.map((p) => p.end()));
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
  };
}
