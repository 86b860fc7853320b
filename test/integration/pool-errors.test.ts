import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isConnectionLost,
  retryOnConnectionLoss,
} from '../../src/postgres/backfill/connection-loss.js';
import { openDatabase, type OpenedDatabase } from '../../src/config/open-from-config.js';
import type { FieldsealConfig } from '../../src/config/config-file.js';
import { isFieldsealError } from '../../src/index.js';
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
} from './backfill-fixture.js';
import { PG_URL, serverSchema } from './pg-env.js';

/*
 * Issue #11, defect 9: a database session the server terminates (restart, failover, idle
 * timeout, pg_terminate_backend) must never crash a process through a pool fieldseal opened,
 * and a backfill must run the interrupted chunk again on a new connection and finish.
 */

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const DIST = new URL('../../dist/', import.meta.url).href;

/** Resolve once `check` holds (polling every 10 ms); fail after `ms`. */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('connection-loss classification (unit)', () => {
  it('recognises lost sessions through cause chains, and nothing else', async () => {
    const killed = Object.assign(new Error('terminating connection due to administrator command'), {
      code: '57P01',
    });
    expect(isConnectionLost(killed)).toBe(true);
    expect(isConnectionLost(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(
      isConnectionLost(new Error('wrapped', { cause: new Error('x', { cause: killed }) })),
    ).toBe(true);
    expect(isConnectionLost(Object.assign(new Error('syntax'), { code: '42601' }))).toBe(false);
    expect(isConnectionLost(new Error('ERR_WRONG_KEY'))).toBe(false);
    let calls = 0;
    const err = await retryOnConnectionLoss(
      () => {
        calls++;
        return Promise.reject(killed);
      },
      { attempts: 3, initialDelayMs: 1, maxDelayMs: 2 },
    ).catch((e: unknown) => e);
    expect(calls).toBe(3);
    expect(isFieldsealError(err) && err.code).toBe('ERR_BACKFILL_FAILED');
    expect((err as Error).message).toContain('resumable');
    expect((err as Error).cause).toBe(killed);
  });
});

describe.skipIf(PG_URL === undefined)('terminated sessions (PostgreSQL server)', () => {
  let env: Awaited<ReturnType<typeof serverSchema>>;
  let admin: pg.Pool;
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown): void => {
    uncaught.push(err);
  };

  /** A server URL whose sessions carry `app` as application_name and use the test schema. */
  const urlFor = (app: string): string => {
    const u = new URL(PG_URL!);
    u.searchParams.set('application_name', app);
    u.searchParams.set('options', `-c search_path=${env.schema}`);
    return u.toString();
  };
  const configFor = (app: string, keyFile = '/nonexistent'): FieldsealConfig => ({
    version: 1,
    database: { kind: 'postgres', url: urlFor(app) },
    provider: { kind: 'local', keyFile, masterKeyId: 'master' },
    keyId: 'default',
    cache: { maxAgeSeconds: 600 },
  });
  /** Terminate every session of `app`; returns how many. */
  const kill = async (app: string): Promise<number> => {
    const { rows } = await admin.query<{ killed: boolean }>(
      `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
        WHERE application_name = $1 AND pid <> pg_backend_pid()`,
      [app],
    );
    return rows.filter((r) => r.killed).length;
  };
  const sessions = async (app: string): Promise<number> => {
    const { rows } = await admin.query<{ n: string }>(
      'SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1',
      [app],
    );
    return Number(rows[0]?.n);
  };

  /** A fresh `accounts` table of `tenants` × `perTenant` rows, rotated (every row to redo). */
  const fill = async (tenants: number, perTenant: number, hex: string) => {
    const setup = fromPgPool(env.pool(2));
    await createAccounts(setup);
    const fs = accountClient(setup, hex);
    const prefix = randomBytes(3).toString('hex'); // each fill its own tenants and keys
    const names = Array.from({ length: tenants }, (_, t) => `t${prefix}-${t}`);
    for (const t of names) await fs.provisionTenant(t);
    const originals = names.flatMap((t) =>
      Array.from({ length: perTenant }, (_, i) => account(t, i + 1)),
    );
    await insertAccounts(setup, fs, originals);
    for (const t of names) await fs.rotateTenantKey(t);
    return { setup, fs, originals };
  };

  /** Drop what {@link fill} created, so the next test starts afresh. */
  const dropAccounts = (sql: SqlClient): Promise<void> =>
    sql.exec(`DROP TABLE accounts, write_log CASCADE; DROP FUNCTION accounts_log_write();
      DELETE FROM fieldseal_backfills;`);

  beforeAll(async () => {
    env = await serverSchema();
    await migrate(fromPgPool(env.pool(1)));
    admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
    process.on('uncaughtException', onUncaught);
  });
  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    await admin.end();
    await env.close();
  });

  it('a pool opened from a configuration survives its idle and busy sessions being terminated', async () => {
    const app = `fs-pool-${randomBytes(4).toString('hex')}`;
    const db: OpenedDatabase = await openDatabase(configFor(app));
    try {
      // Two sessions idle in the pool, then killed.
      await Promise.all([db.sql.query('SELECT pg_sleep(0.05)'), db.sql.query('SELECT 1')]);
      expect(await kill(app)).toBeGreaterThanOrEqual(1);
      await until(async () => (await sessions(app)) === 0, 'sessions gone');
      // The pool has dropped the dead connections (a query may first meet one: it fails).
      await until(
        () =>
          db.sql.query('SELECT 1 AS one').then(
            () => true,
            () => false,
          ),
        'the pool usable again',
      );
      // A busy session killed mid-statement: that statement fails, nothing else does.
      const busy = db.sql.query('SELECT pg_sleep(30)').then(
        () => 'finished',
        (e: unknown) => (isConnectionLost(e) ? 'lost' : String(e)),
      );
      await until(async () => (await sessions(app)) >= 1, 'busy session started');
      expect(await kill(app)).toBeGreaterThanOrEqual(1);
      expect(await busy).toBe('lost');
      // The pool replaced the broken connections.
      await until(
        () =>
          db.sql.query('SELECT 1 AS one').then(
            (r) => r.rows.length === 1,
            () => false,
          ),
        'a query on a new connection',
      );
      expect(uncaught).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('runBackfill on such a pool finishes though its sessions are killed mid-run', async () => {
    const hex = masterHex();
    const { setup, fs: setupFs, originals } = await fill(4, 1_500, hex);
    const app = `fs-bf-${randomBytes(4).toString('hex')}`;
    const db = await openDatabase(configFor(app));
    const fs = accountClient(db.sql, hex);
    let killed = 0;
    const kills: Promise<void>[] = [];
    try {
      const report = await runBackfill({
        sql: db.sql,
        fs,
        model: Account,
        name: 'killed-sessions',
        chunkSize: 100,
        onProgress: (p) => {
          // Kill every session of the worker during the next chunk, a few times over the run.
          if (p.chunksDone > 0 && p.chunksDone % 8 === 0 && kills.length < 6) {
            kills.push(
              new Promise((r) => setTimeout(r, 5))
                .then(() => kill(app))
                .then((n) => {
                  killed += n;
                }),
            );
          }
        },
      });
      await Promise.all(kills);
      expect(killed).toBeGreaterThanOrEqual(3); // sessions were really terminated mid-run
      expect(report.complete).toBe(true);
      const { records, versions } = await readAccounts(setup, setupFs);
      expect(records).toEqual(originals);
      expect([...versions.keys()]).toEqual([2]);
      const writes = await writesPerRow(setup);
      expect(writes.size).toBe(originals.length);
      expect([...new Set(writes.values())]).toEqual([1]); // no row written twice
      expect(uncaught).toEqual([]);
    } finally {
      fs.close();
      setupFs.close();
      await db.close();
      await dropAccounts(setup);
    }
  }, 120_000);

  it('the backfill CLI finishes though its sessions are killed mid-run (built CLI)', async () => {
    const hex = masterHex();
    const { setup, fs: setupFs, originals } = await fill(4, 1_500, hex);
    const app = `fs-cli-${randomBytes(4).toString('hex')}`;
    const dir = mkdtempSync(join(tmpdir(), 'fieldseal-pool-errors-'));
    writeFileSync(join(dir, 'master.key'), `hex:${hex}\n`, { mode: 0o600 });
    writeFileSync(
      join(dir, 'fieldseal.config.json'),
      JSON.stringify({ ...configFor(app, 'master.key'), $schema: undefined }),
    );
    writeFileSync(
      join(dir, 'models.mjs'),
      `import { defineModel, field } from '${DIST}index.js';
export const Account = defineModel({
  table: 'accounts', tenant: 'tenant', key: ['id'],
  fields: {
    tenant: field.string(), id: field.bigint(),
    email: field.string().encrypted({ storage: 'text' }),
    secret: field.bytes().encrypted().nullable(),
  },
});
`,
    );
    try {
      let killed = 0;
      const result = await new Promise<{ code: number | null; out: string; err: string }>(
        (resolve, reject) => {
          const child = spawn(
            process.execPath,
            [
              CLI,
              'backfill',
              'run',
              '--models',
              'models.mjs',
              '--model',
              'accounts',
              '--chunk-size',
              '100',
            ],
            { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
          );
          let out = '';
          let err = '';
          let killing: Promise<void> | undefined;
          child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
          child.stderr.setEncoding('utf8').on('data', (d: string) => {
            err += d;
            // Once the run is under way, kill its sessions five times, 150 ms apart.
            killing ??= (async () => {
              for (let i = 0; i < 5 && child.exitCode === null; i++) {
                killed += await kill(app);
                await new Promise((r) => setTimeout(r, 150));
              }
            })();
          });
          const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
          child.on('error', reject);
          child.on('exit', (code) => {
            clearTimeout(timer);
            void (killing ?? Promise.resolve()).then(() => resolve({ code, out, err }));
          });
        },
      );
      expect(killed).toBeGreaterThanOrEqual(2);
      expect(result.err).not.toMatch(/uncaught|Unhandled|at .*node_modules\/pg/i);
      expect(result.code, result.err).toBe(0);
      expect(result.out).toMatch(/accounts\s+complete/);
      const { records, versions } = await readAccounts(setup, setupFs);
      expect(records).toEqual(originals);
      expect([...versions.keys()]).toEqual([2]);
      const writes = await writesPerRow(setup);
      expect([...new Set(writes.values())]).toEqual([1]);
    } finally {
      setupFs.close();
      await dropAccounts(setup);
    }
  }, 120_000);
});
