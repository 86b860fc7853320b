import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { available } from '../requirements-available.js';

/**
 * The PostgreSQL server the integration tests use: `FIELDSEAL_TEST_PG_URL` (set by .ci/run to
 * postgres://postgres@127.0.0.1:5432/test). Without it `PG_URL` is undefined and the server
 * suites are skipped (`describe.skipIf(PG_URL === undefined)`), named in the run's summary
 * (test/requirements.ts); under `FIELDSEAL_REQUIRE_ALL=1` (CI) the run fails instead.
 */
export const PG_URL = available('pgServer') ? process.env.FIELDSEAL_TEST_PG_URL : undefined;

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
