// fieldseal backfill benchmark (issues #4, #17): rows/s of runBackfill (checkpointed chunks,
// compare-and-set, typed envelopes, per-tenant keys) re-encrypting a table after a rotation,
// against a hand-written re-encryption pass over the same table shape with raw node:crypto
// AES-256-GCM (keyset pages of 500 rows, one batched UPDATE per page, no checkpoint, no CAS)
// in the same process: target >= 80% of the raw pass's throughput, median of rounds that
// alternate the two. PGlite always; the PostgreSQL server when FIELDSEAL_BENCH_PG_URL or
// FIELDSEAL_TEST_PG_URL is set, where runBackfill also runs in 1, 2 and 4 worker processes
// (bench/backfill-worker.js) on one job. Called at the end of bench/run.js; also runs alone:
// `npm run build && node bench/backfill.js`. Exits non-zero on a wrong value or count.
import { fork } from 'node:child_process';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';

import {
  createFieldseal,
  decryptRecords,
  defineModel,
  encryptRecords,
  EnvSecretSource,
  field,
  inspectEnvelope,
  LocalKeyProvider,
} from '../dist/index.js';
import {
  fromPGlite,
  fromPgPool,
  migrate,
  PostgresKeyStore,
  runBackfill,
} from '../dist/postgres/index.js';
import { BenchFailure, fmtInt, fmtPct, median, table } from './harness.js';

const ROWS = Number(process.env.BENCH_BACKFILL_ROWS ?? 20_000);
const ROUNDS = Math.max(3, Number(process.env.BENCH_BACKFILL_ROUNDS ?? 3));
const WORKER_ROWS = Number(process.env.BENCH_BACKFILL_WORKER_ROWS ?? 40_000);
const WORKERS = [1, 2, 4];
const TENANTS = 10;
const CHUNK = 500;
const TARGET = 0.8;

// The master key, shared with the worker processes through their environment.
const MASTER_ENV = 'FIELDSEAL_BENCH_MASTER_KEY';
process.env[MASTER_ENV] ??= `base64:${randomBytes(32).toString('base64')}`;

/** A client for the backfill table; `admin` for the setup, none for a worker. */
export function backfillClient(sql, admin = []) {
  return createFieldseal({
    provider: new LocalKeyProvider({
      id: 'bench',
      source: new EnvSecretSource({ keys: { master: MASTER_ENV } }),
    }),
    keys: { mode: 'store', store: new PostgresKeyStore({ sql }), masterKeyId: 'master' },
    cache: { maxAgeMs: 600_000 },
    fields: { ...Account.policies },
    admin,
  });
}

export const Account = defineModel({
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

/** The table of `rows` records sealed under each tenant's first key, then every key rotated. */
async function prepareFieldsealTable(sql, rows) {
  await sql.exec(
    'DROP TABLE IF EXISTS bench_accounts; CREATE TABLE bench_accounts (tenant text, id float8, email text, secret bytea, PRIMARY KEY (tenant, id))',
  );
  await sql.exec('DELETE FROM fieldseal_backfills');
  const fs = backfillClient(sql, ['provision', 'rotate']);
  const tenants = Array.from({ length: TENANTS }, (_, t) => `t${t}`);
  for (const t of tenants) await fs.provisionTenant(t); // a no-op after the first round
  const records = Array.from({ length: rows }, (_, i) => record(i));
  for (let i = 0; i < rows; i += 2000) {
    const sealed = await encryptRecords(fs, Account, records.slice(i, i + 2000));
    await sql.query(
      'INSERT INTO bench_accounts SELECT * FROM unnest($1::text[], $2::float8[], $3::text[], $4::bytea[])',
      [
        sealed.map((r) => r.tenant),
        sealed.map((r) => r.id),
        sealed.map((r) => r.email),
        sealed.map((r) => r.secret),
      ],
    );
  }
  const active = new Map();
  for (const t of tenants) active.set(t, (await fs.rotateTenantKey(t)).version);
  fs.close();
  return active;
}

/** Every row decrypts to its record and is under its tenant's `active` key version. */
async function verifyFieldsealTable(sql, rows, active) {
  const fs = backfillClient(sql);
  const { rows: stored } = await sql.query(
    'SELECT tenant, id, email, secret FROM bench_accounts ORDER BY id',
  );
  if (stored.length !== rows) throw new BenchFailure(`backfill table has ${stored.length} rows`);
  const back = await decryptRecords(fs, Account, stored);
  back.forEach((r, i) => {
    const want = record(i);
    if (r.email !== want.email || !Buffer.from(r.secret).equals(want.secret)) {
      throw new BenchFailure(`backfill row ${i} is wrong`);
    }
  });
  for (const r of stored) {
    const version = active.get(r.tenant);
    const under = [r.email, r.secret].map((v) => inspectEnvelope(v)?.keyRef);
    if (under.some((k) => k?.kind !== 'store' || k.version !== version)) {
      throw new BenchFailure(`backfill row ${r.id} is not under the active key`);
    }
  }
  fs.close();
}

async function fieldsealPass(sql) {
  const active = await prepareFieldsealTable(sql, ROWS);
  const fs = backfillClient(sql);
  const started = performance.now();
  const report = await runBackfill({ sql, fs, model: Account, name: 'bench', chunkSize: CHUNK });
  const seconds = (performance.now() - started) / 1000;
  fs.close();
  if (!report.complete || report.rowsWritten !== ROWS) {
    throw new BenchFailure(`backfill wrote ${report.rowsWritten} of ${ROWS} rows`);
  }
  await verifyFieldsealTable(sql, ROWS, active);
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

/**
 * runBackfill in `n` worker processes on one job over WORKER_ROWS rows of the server's table:
 * rows/s from the moment every worker is ready (module loaded, client built) to the last
 * worker's end.
 */
async function workerPass(sql, url, schema, n) {
  const active = await prepareFieldsealTable(sql, WORKER_ROWS);
  const script = fileURLToPath(new URL('./backfill-worker.js', import.meta.url));
  const children = Array.from({ length: n }, (_, w) =>
    fork(script, [], {
      env: { ...process.env, BENCH_WORKER_URL: url, BENCH_WORKER_SCHEMA: schema },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
      execArgv: [],
    }).on('error', () => {}),
  );
  const message = (child, type) =>
    new Promise((resolve, reject) => {
      child.on('message', (m) => {
        if (m.type === type) resolve(m);
        else if (m.type === 'error') reject(new BenchFailure(`backfill worker: ${m.message}`));
      });
      child.on('exit', (code) => reject(new BenchFailure(`backfill worker exited with ${code}`)));
    });
  const ready = children.map((c) => message(c, 'ready'));
  const done = children.map((c) => message(c, 'done'));
  try {
    await Promise.all(ready);
    const started = performance.now();
    children.forEach((c, w) => c.send({ type: 'go', worker: `w${w}`, chunkSize: CHUNK }));
    const reports = await Promise.all(done);
    const seconds = (performance.now() - started) / 1000;
    const written = reports.reduce((t, r) => t + r.rowsWritten, 0);
    if (written !== WORKER_ROWS || !reports.some((r) => r.complete)) {
      throw new BenchFailure(`${n} backfill workers wrote ${written} of ${WORKER_ROWS} rows`);
    }
    await verifyFieldsealTable(sql, WORKER_ROWS, active);
    return { rowsPerSecond: WORKER_ROWS / seconds, chunks: reports.map((r) => r.chunks) };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill();
  }
}

/** PGlite always, the server when configured: alternating rounds, median ratio. */
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
      url,
      schema,
      close: async () => {
        await pool.end();
        await admin.query(`DROP SCHEMA ${schema} CASCADE`);
        await admin.end();
      },
    });
  }
  const rows = [];
  const verdicts = [];
  const scaling = [];
  for (const t of targets) {
    try {
      await migrate(t.sql);
      const raw = [];
      const ours = [];
      for (let r = 0; r < ROUNDS; r++) {
        // Alternate which pass runs first, so a slow phase of the machine hits both.
        if (r % 2 === 0) {
          raw.push(await rawPass(t.sql));
          ours.push(await fieldsealPass(t.sql));
        } else {
          ours.push(await fieldsealPass(t.sql));
          raw.push(await rawPass(t.sql));
        }
        process.stderr.write('.');
      }
      const ratios = ours.map((x, i) => x / raw[i]).sort((a, b) => a - b);
      const ratio = median(ratios);
      const pass = ratio >= TARGET;
      verdicts.push({ name: t.name, ratio, pass });
      rows.push([
        t.name,
        fmtInt(ROWS),
        fmtInt(median([...raw].sort((a, b) => a - b))),
        fmtInt(median([...ours].sort((a, b) => a - b))),
        fmtPct(ratio),
        `${fmtPct(ratios[0])}-${fmtPct(ratios[ratios.length - 1])}`,
        `>= ${fmtPct(TARGET)}`,
        pass ? 'PASS' : 'MISS',
      ]);
      if (t.url !== undefined) {
        for (const n of WORKERS) {
          scaling.push({ n, ...(await workerPass(t.sql, t.url, t.schema, n)) });
          process.stderr.write('.');
        }
      }
    } finally {
      await t.close();
    }
  }
  process.stderr.write('\n');
  console.log(
    `\nBACKFILL after a rotation: ${fmtInt(ROWS)} rows x 2 encrypted columns, ${TENANTS} tenants, chunks of ${CHUNK}, one worker;` +
      `\nmedian of ${ROUNDS} rounds, each running both passes (order alternated)`,
  );
  console.log(
    table(
      [
        'database',
        'rows',
        'raw pass rows/s',
        'runBackfill rows/s',
        'of raw',
        'per round',
        'target',
        'result',
      ],
      rows,
      ['l', 'r', 'r', 'r', 'r', 'r', 'l', 'l'],
    ),
  );
  console.log(
    'raw pass: keyset pages + decrypt/encrypt + one UPDATE per page, no checkpoint, no CAS, no key store;' +
      '\n  runBackfill adds the chunk plan and checkpoint, compare-and-set on the row version, envelope parsing,' +
      '\n  key commitment and the typed values; every round checks every row afterwards (value and key version)',
  );
  if (scaling.length > 0) {
    const one = scaling[0].rowsPerSecond;
    console.log(
      `\nBACKFILL WORKERS - PostgreSQL server, ${fmtInt(WORKER_ROWS)} rows, one job, each worker its own process and pool`,
    );
    console.log(
      table(
        ['workers', 'rows/s', 'x 1 worker', 'chunks per worker'],
        scaling.map((s) => [
          String(s.n),
          fmtInt(s.rowsPerSecond),
          `${(s.rowsPerSecond / one).toFixed(2)}x`,
          s.chunks.join(' / '),
        ]),
        ['r', 'r', 'r', 'l'],
      ),
    );
    console.log(
      'timed from every worker ready (module loaded, client built) to the last one done; the machine has' +
        ' 2 CPUs shared by the workers and the server, so scaling stops where they saturate them',
    );
  }
  return { verdicts, scaling };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runBackfillBenchmarks().catch((err) => {
    console.error(err instanceof BenchFailure ? `BENCHMARK FAILED: ${err.message}` : err);
    process.exitCode = 1;
  });
}
