import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { Fieldseal } from '../../src/index.js';
import { fromPgPool, migrate, runBackfill, type SqlClient } from '../../src/postgres/index.js';
import {
  Account,
  account,
  accountClient,
  createAccounts,
  insertAccounts,
  masterHex,
  readAccounts,
  writesPerRow,
  type AccountRecord,
} from './backfill-fixture.js';
import { PG_URL, serverSchema } from './pg-env.js';

/*
 * The backfill's promises under real failures, on the PostgreSQL server: SIGKILL at random
 * points, several workers at once, and an application writing during the backfill.
 */

const WORKER = fileURLToPath(new URL('../fixtures/backfill-worker.mjs', import.meta.url));

interface Setup {
  sql: SqlClient;
  pool: (max?: number) => pg.Pool;
  schema: string;
  fs: Fieldseal;
  hex: string;
  originals: AccountRecord[];
  close: () => Promise<void>;
}

async function setup(tenants: number, perTenant: number): Promise<Setup> {
  const s = await serverSchema();
  const sql = fromPgPool(s.pool(4));
  await migrate(sql);
  await createAccounts(sql);
  const hex = masterHex();
  const fs = accountClient(sql, hex);
  const names = Array.from({ length: tenants }, (_, t) => `tenant-${t}`);
  for (const t of names) await fs.provisionTenant(t);
  const originals = names.flatMap((t) =>
    Array.from({ length: perTenant }, (_, i) => account(t, i + 1)),
  );
  await insertAccounts(sql, fs, originals);
  for (const t of names) await fs.rotateTenantKey(t);
  return {
    sql,
    pool: s.pool,
    schema: s.schema,
    fs,
    hex,
    originals,
    close: async () => {
      fs.close();
      await s.close();
    },
  };
}

/** Run the worker process; kill it with SIGKILL after `killAfterMs` (if given). */
function worker(
  s: Setup,
  killAfterMs?: number,
): Promise<{ killed: boolean; lines: string[]; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER], {
      env: {
        ...process.env,
        PG_URL,
        SCHEMA: s.schema,
        MASTER_HEX: s.hex,
        WORKER: `w${Math.random()}`,
        CHUNK: '200',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let err = '';
    let killed = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      lines.push(...d.split('\n').filter(Boolean));
      // Start the clock at the first chunk, so kills land inside the backfill, not at start-up.
      if (killAfterMs !== undefined && lines.length === 1) {
        setTimeout(() => {
          killed = child.kill('SIGKILL');
        }, killAfterMs);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (!killed && code !== 0) reject(new Error(`worker failed (${code}): ${err}`));
      else resolve({ killed, lines, code });
    });
  });
}

async function pendingChunks(sql: SqlClient): Promise<number> {
  const { rows } = await sql.query<{ n: string }>(
    'SELECT count(*) AS n FROM fieldseal_backfill_chunks WHERE done_at IS NULL',
  );
  return Number(rows[0]?.n);
}

describe.skipIf(PG_URL === undefined)('backfill under failure (PostgreSQL server)', () => {
  describe('100,000 rows, SIGKILL at random points', () => {
    let s: Setup;
    beforeAll(async () => {
      s = await setup(10, 10_000);
    }, 240_000);
    afterAll(() => s.close());

    it('resumes after 10+ kills with every row re-encrypted exactly once', async () => {
      let kills = 0;
      let pendingBefore = Infinity;
      const seen: number[] = [];
      while (kills < 12) {
        const r = await worker(s, 100 + Math.floor(Math.random() * 1100));
        if (!r.killed) break; // finished before the kill landed
        kills++;
        const pending = await pendingChunks(s.sql);
        expect(pending).toBeLessThanOrEqual(pendingBefore);
        pendingBefore = pending;
        seen.push(pending);
      }
      expect(kills).toBeGreaterThanOrEqual(10);
      // Between kills, the checkpoint advanced.
      expect(seen[0]).toBeGreaterThan(seen.at(-1)!);
      expect(seen.at(-1)).toBeGreaterThan(0);
      // Finish (a killed worker's server session may take a moment to end: run until done).
      for (let i = 0; i < 5 && (await pendingChunks(s.sql)) > 0; i++) {
        const r = await worker(s);
        expect(r.lines.at(-1)).toMatch(/^done /);
      }
      expect(await pendingChunks(s.sql)).toBe(0);

      const { records, versions } = await readAccounts(s.sql, s.fs);
      expect(records.length).toBe(100_000);
      expect(records).toEqual(s.originals);
      expect([...versions.keys()]).toEqual([2]);
      const writes = await writesPerRow(s.sql);
      expect(writes.size).toBe(100_000);
      expect([...new Set(writes.values())]).toEqual([1]);
      const { rows } = await s.sql.query<{ written: string; workers: string }>(
        'SELECT sum(rows_written) AS written, count(DISTINCT worker) AS workers FROM fieldseal_backfill_chunks',
      );
      expect(Number(rows[0]?.written)).toBe(100_000);
      // Kills landed mid-job: several killed workers had committed chunks before dying.
      expect(Number(rows[0]?.workers)).toBeGreaterThanOrEqual(3);
    }, 600_000);
  });

  describe('two workers at once', () => {
    let s: Setup;
    beforeAll(async () => {
      s = await setup(4, 5_000);
    }, 120_000);
    afterAll(() => s.close());

    it('finish the same table with no row processed twice', async () => {
      const sqlB = fromPgPool(s.pool(2));
      const fsB = accountClient(sqlB, s.hex);
      const [a, b] = await Promise.all([
        runBackfill({
          sql: s.sql,
          fs: s.fs,
          model: Account,
          name: 'two',
          chunkSize: 250,
          worker: 'A',
        }),
        runBackfill({
          sql: sqlB,
          fs: fsB,
          model: Account,
          name: 'two',
          chunkSize: 250,
          worker: 'B',
        }),
      ]);
      fsB.close();
      expect(a.chunks).toBeGreaterThan(0);
      expect(b.chunks).toBeGreaterThan(0);
      expect(a.chunks + b.chunks).toBe(80);
      expect(a.rowsWritten + b.rowsWritten).toBe(20_000);
      // The worker that finishes last sees the job complete.
      expect(a.complete || b.complete).toBe(true);
      expect(a.planned !== b.planned).toBe(true); // one planned, the other joined
      const writes = await writesPerRow(s.sql);
      expect(writes.size).toBe(20_000);
      expect([...new Set(writes.values())]).toEqual([1]);
      const { records, versions } = await readAccounts(s.sql, s.fs);
      expect(records).toEqual(s.originals);
      expect([...versions.keys()]).toEqual([2]);
    }, 120_000);
  });

  describe('application writes during a backfill', () => {
    let s: Setup;
    beforeAll(async () => {
      s = await setup(2, 5_000);
    }, 120_000);
    afterAll(() => s.close());

    it('are all preserved (compare-and-set), and the backfill still finishes', async () => {
      const app = fromPgPool(s.pool(2));
      const expected = new Map(s.originals.map((r) => [`${r.tenant}/${r.id}`, r.email]));
      let running = true;
      let updates = 0;
      const appLoop = (async () => {
        while (running) {
          // Aim at the chunk being processed (the first pending one), where races happen.
          const { rows } = await app.query<{ lo: unknown }>(
            'SELECT lo FROM fieldseal_backfill_chunks WHERE done_at IS NULL ORDER BY chunk LIMIT 1',
          );
          if (rows.length === 0) {
            await new Promise((r) => setTimeout(r, 5));
            continue;
          }
          const lo = rows[0]!.lo as [string, string] | null;
          const tenant = lo?.[0] ?? 'tenant-0';
          const id = BigInt(lo?.[1] ?? 0) + 1n + BigInt(Math.floor(Math.random() * 200));
          const email = `changed-${updates}@app.example`;
          const stored = await s.fs.encrypt(email, {
            tenant,
            table: 'accounts',
            field: 'email',
            record: id.toString(),
          });
          const done = await app.query(
            'UPDATE accounts SET email = $1 WHERE tenant = $2 AND id = $3 RETURNING 1',
            [stored, tenant, id.toString()],
          );
          if (done.rows.length > 0) expected.set(`${tenant}/${id}`, email);
          updates++;
        }
      })();
      const report = await runBackfill({
        sql: s.sql,
        fs: s.fs,
        model: Account,
        name: 'racing',
        chunkSize: 200,
      });
      running = false;
      await appLoop;
      expect(report.complete).toBe(true);
      expect(updates).toBeGreaterThan(50);
      // The races did happen: some rows changed between the backfill's read and its write.
      expect(report.conflicts).toBeGreaterThan(0);
      const { records, versions } = await readAccounts(s.sql, s.fs);
      expect([...versions.keys()]).toEqual([2]);
      for (const r of records) expect(r.email).toBe(expected.get(`${r.tenant}/${r.id}`));
    }, 120_000);
  });
});
