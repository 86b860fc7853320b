// fieldseal backfill benchmark (issue #4): rows/s of runBackfill (checkpointed chunks,
// compare-and-set, typed envelopes, per-tenant keys) re-encrypting a table after a rotation,
// against a hand-written re-encryption pass over the same table shape with raw node:crypto
// AES-256-GCM (keyset pages of 500 rows, one batched UPDATE per page, no checkpoint, no CAS)
// in the same process. PGlite always; the PostgreSQL server when FIELDSEAL_BENCH_PG_URL or
// FIELDSEAL_TEST_PG_URL is set. Called at the end of bench/run.js; also runs alone:
// `npm run build && node bench/backfill.js`. Exits non-zero on a wrong value or count.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';

import { createFieldseal, defineModel, encryptRecords, field } from '../dist/index.js';
import {
  fromPGlite,
  fromPgPool,
  migrate,
  PostgresKeyStore,
  runBackfill,
} from '../dist/postgres/index.js';
import { MemoryKeyProvider } from '../dist/testing/index.js';
import { BenchFailure, fmtInt, fmtRatio, table } from './harness.js';

const ROWS = Number(process.env.BENCH_BACKFILL_ROWS ?? 20_000);
const TENANTS = 10;
const CHUNK = 500;

const Account = defineModel({
  table: 'bench_accounts',
  tenant: 'tenant',
  key: ['id'],
  fields: {
    tenant: field.string(),
    id: field.number(),
    email: field.string().encrypted({ storage: 'text' }),
    secret: field.bytes().encrypted(),
  },
});

const record = (i) => ({
  tenant: `t${i % TENANTS}`,
  id: i,
  email: `user${i}@example.com`,
  secret: Buffer.from(`sk_live_${i}_${'x'.repeat(16)}`),
});

async function fieldsealPass(sql) {
  await sql.exec(
    'DROP TABLE IF EXISTS bench_accounts; CREATE TABLE bench_accounts (tenant text, id float8, email text, secret bytea, PRIMARY KEY (tenant, id))',
  );
  await sql.exec('DELETE FROM fieldseal_backfills');
  const fs = createFieldseal({
    provider: new MemoryKeyProvider(),
    keys: { mode: 'store', store: new PostgresKeyStore({ sql }), masterKeyId: 'master' },
    cache: { maxAgeMs: 600_000 },
    fields: { ...Account.policies },
    admin: ['provision', 'rotate'], // the bench sets its tenants up itself
  });
  const tenants = Array.from({ length: TENANTS }, (_, t) => `t${t}`);
  for (const t of tenants) await fs.provisionTenant(t);
  const records = Array.from({ length: ROWS }, (_, i) => record(i));
  for (let i = 0; i < ROWS; i += 2000) {
    const rows = await encryptRecords(fs, Account, records.slice(i, i + 2000));
    await sql.query(
      'INSERT INTO bench_accounts SELECT * FROM unnest($1::text[], $2::float8[], $3::text[], $4::bytea[])',
      [
        rows.map((r) => r.tenant),
        rows.map((r) => r.id),
        rows.map((r) => r.email),
        rows.map((r) => r.secret),
      ],
    );
  }
  for (const t of tenants) await fs.rotateTenantKey(t);
  const started = performance.now();
  const report = await runBackfill({ sql, fs, model: Account, name: 'bench', chunkSize: CHUNK });
  const seconds = (performance.now() - started) / 1000;
  if (!report.complete || report.rowsWritten !== ROWS) {
    throw new BenchFailure(`backfill wrote ${report.rowsWritten} of ${ROWS} rows`);
  }
  fs.close();
  return ROWS / seconds;
}

const seal = (key, plaintext) => {
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
  return Buffer.concat([nonce, c.update(plaintext), c.final(), c.getAuthTag()]);
};
const open = (key, box) => {
  const d = createDecipheriv('aes-256-gcm', key, box.subarray(0, 12), { authTagLength: 16 });
  d.setAuthTag(box.subarray(box.length - 16));
  return Buffer.concat([d.update(box.subarray(12, box.length - 16)), d.final()]);
};

async function rawPass(sql) {
  await sql.exec(
    'DROP TABLE IF EXISTS bench_raw; CREATE TABLE bench_raw (tenant text, id float8, email text, secret bytea, PRIMARY KEY (tenant, id))',
  );
  const oldKeys = new Map();
  const newKeys = new Map();
  for (let t = 0; t < TENANTS; t++) {
    oldKeys.set(`t${t}`, randomBytes(32));
    newKeys.set(`t${t}`, randomBytes(32));
  }
  const records = Array.from({ length: ROWS }, (_, i) => record(i));
  for (let i = 0; i < ROWS; i += 2000) {
    const part = records.slice(i, i + 2000);
    await sql.query(
      'INSERT INTO bench_raw SELECT * FROM unnest($1::text[], $2::float8[], $3::text[], $4::bytea[])',
      [
        part.map((r) => r.tenant),
        part.map((r) => r.id),
        part.map((r) => seal(oldKeys.get(r.tenant), Buffer.from(r.email)).toString('base64')),
        part.map((r) => seal(oldKeys.get(r.tenant), r.secret)),
      ],
    );
  }
  const started = performance.now();
  let after = null;
  let done = 0;
  for (;;) {
    const n = await sql.transaction(async (tx) => {
      const { rows } = await tx.query(
        `SELECT tenant, id, email, secret FROM bench_raw
          ${after === null ? '' : 'WHERE (tenant, id) > ($2, $3)'} ORDER BY tenant, id LIMIT $1`,
        after === null ? [CHUNK] : [CHUNK, after[0], after[1]],
      );
      if (rows.length === 0) return 0;
      const emails = [];
      const secrets = [];
      for (const r of rows) {
        const o = oldKeys.get(r.tenant);
        const k = newKeys.get(r.tenant);
        emails.push(seal(k, open(o, Buffer.from(r.email, 'base64'))).toString('base64'));
        secrets.push(seal(k, open(o, Buffer.from(r.secret))));
      }
      await tx.query(
        `UPDATE bench_raw AS t SET email = v.e, secret = v.s
           FROM unnest($1::text[], $2::float8[], $3::text[], $4::bytea[]) AS v(tenant, id, e, s)
          WHERE t.tenant = v.tenant AND t.id = v.id`,
        [rows.map((r) => r.tenant), rows.map((r) => r.id), emails, secrets],
      );
      const last = rows[rows.length - 1];
      after = [last.tenant, last.id];
      return rows.length;
    });
    if (n === 0) break;
    done += n;
  }
  const seconds = (performance.now() - started) / 1000;
  if (done !== ROWS) throw new BenchFailure(`raw pass rewrote ${done} of ${ROWS} rows`);
  return ROWS / seconds;
}

/** Run the backfill benchmark on PGlite and (when configured) the server; print a table. */
export async function runBackfillBenchmarks() {
  const targets = [];
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create();
  targets.push({ name: 'PGlite (embedded)', sql: fromPGlite(db), close: () => db.close() });
  const url = process.env.FIELDSEAL_BENCH_PG_URL ?? process.env.FIELDSEAL_TEST_PG_URL;
  if (url !== undefined) {
    const pg = (await import('pg')).default;
    const schema = `fieldseal_bench_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Pool({ connectionString: url, max: 1 });
    await admin.query(`CREATE SCHEMA ${schema}`);
    const pool = new pg.Pool({
      connectionString: url,
      max: 4,
      options: `-c search_path=${schema}`,
    });
    targets.push({
      name: 'PostgreSQL server',
      sql: fromPgPool(pool),
      close: async () => {
        await pool.end();
        await admin.query(`DROP SCHEMA ${schema} CASCADE`);
        await admin.end();
      },
    });
  }
  const rows = [];
  for (const t of targets) {
    try {
      await migrate(t.sql);
      const raw = await rawPass(t.sql);
      const ours = await fieldsealPass(t.sql);
      rows.push([t.name, fmtInt(ROWS), fmtInt(raw), fmtInt(ours), fmtRatio(raw / ours)]);
    } finally {
      await t.close();
    }
  }
  console.log(
    `\nBackfill after a rotation: ${fmtInt(ROWS)} rows x 2 encrypted columns, ${TENANTS} tenants, chunks of ${CHUNK}, one worker`,
  );
  console.log(
    table(
      ['database', 'rows', 'raw AES-GCM pass rows/s', 'runBackfill rows/s', 'time vs raw'],
      rows,
      ['l', 'r', 'r', 'r', 'r'],
    ),
  );
  console.log(
    'raw pass: keyset pages + decrypt/encrypt + one UPDATE per page, no checkpoint, no CAS, no key store;' +
      ' runBackfill adds the checkpoint, CAS on every column, envelope parsing and authentication of the key commitment.',
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runBackfillBenchmarks().catch((err) => {
    console.error(err instanceof BenchFailure ? `BENCHMARK FAILED: ${err.message}` : err);
    process.exitCode = 1;
  });
}
