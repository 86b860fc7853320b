import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkKeyEvents } from '../../src/client/key-event-link.js';
import {
  createFieldseal,
  EnvSecretSource,
  isFieldsealError,
  LocalKeyProvider,
  type Fieldseal,
} from '../../src/index.js';
import type { KeyEventBusState } from '../../src/keys/key-events.js';
import {
  PostgresKeyStore,
  fromPgPool,
  migrate,
  postgresKeyEvents,
  type PostgresKeyEvents,
} from '../../src/postgres/index.js';
import { PG_URL, serverSchema } from './pg-env.js';

/*
 * Issue #11, defect 8, on the PostgreSQL server: the LISTEN session of one "process" is
 * terminated by the server (pg_terminate_backend, as a restart, failover or idle timeout
 * would); the bus reports 'disconnected', reconnects, LISTENs again, reports 'connected', and
 * a shred run later by another client still reaches this process's warm cache.
 */

/** Resolve once `check` holds (polling every 10 ms); fail after `ms`. */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.skipIf(PG_URL === undefined)(
  'postgresKeyEvents after a killed LISTEN session (server)',
  () => {
    let env: Awaited<ReturnType<typeof serverSchema>>;
    let admin: pg.Pool;
    const pools: pg.Pool[] = [];
    const closers: (() => unknown)[] = [];
    const masterHex = randomBytes(32).toString('hex');

    /** A pool whose sessions carry `app` as application_name, so the test can find them. */
    const poolFor = (app: string, max = 3) => {
      const pool = new pg.Pool({
        connectionString: PG_URL,
        max,
        application_name: app,
        options: `-c search_path=${env.schema}`,
      });
      pool.on('error', () => undefined); // the test kills sessions on purpose
      pools.push(pool);
      return pool;
    };

    /** One "process": its pool, bus and a store-mode client with a 10-minute cache. */
    const processFor = (
      app: string,
    ): { fs: Fieldseal; events: PostgresKeyEvents; pool: pg.Pool } => {
      const pool = poolFor(app);
      const events = postgresKeyEvents(pool, {
        reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
      });
      const fs = createFieldseal({
        admin: true,
        provider: new LocalKeyProvider({
          source: new EnvSecretSource({ keys: { master: 'M' }, env: { M: `hex:${masterHex}` } }),
        }),
        keys: {
          mode: 'store',
          store: new PostgresKeyStore({ sql: fromPgPool(pool) }),
          masterKeyId: 'master',
        },
        cache: { maxAgeMs: 600_000 },
        keyEvents: events,
      });
      closers.push(
        () => fs.close(),
        () => events.close(),
      );
      return { fs, events, pool };
    };

    /** Terminate the LISTEN sessions of `app`; returns how many were killed. */
    const killListener = async (app: string): Promise<number> => {
      const { rows } = await admin.query<{ killed: boolean }>(
        `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
        WHERE application_name = $1 AND query ILIKE 'LISTEN%'`,
        [app],
      );
      return rows.filter((r) => r.killed).length;
    };
    const listening = async (app: string): Promise<boolean> => {
      const { rows } = await admin.query(
        `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND query ILIKE 'LISTEN%'`,
        [app],
      );
      return rows.length > 0;
    };

    beforeAll(async () => {
      env = await serverSchema();
      await migrate(fromPgPool(env.pool(1)));
      admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
    });
    afterAll(async () => {
      for (const close of closers.reverse()) await close();
      await Promise.all(pools.map((p) => p.end()));
      await admin.end();
      await env.close();
    });

    it('reconnects after its session is terminated, and a later shred elsewhere still reaches it', async () => {
      const app = `fs-listen-${randomBytes(4).toString('hex')}`;
      const a = processFor(app);
      const b = processFor(`fs-other-${randomBytes(4).toString('hex')}`);
      const states: KeyEventBusState[] = [];
      a.events.onConnectionChange((s) => states.push(s));
      const tenant = `t-${randomBytes(4).toString('hex')}`;
      await b.fs.provisionTenant(tenant);
      const context = { tenant, table: 'users', field: 'ssn', record: 'r1' };
      const stored = await b.fs.encrypt('123-45-6789', context);
      expect(await a.fs.decrypt(stored, context)).toBe('123-45-6789'); // warm: cached 10 min
      await a.events.ready;
      await b.events.ready;

      for (let round = 1; round <= 3; round++) {
        await until(() => listening(app), 'A is listening');
        expect(await killListener(app)).toBe(1);
        await until(() => states.filter((s) => s === 'disconnected').length === round, 'lost');
        await until(() => states.filter((s) => s === 'connected').length === round, 'back');
        await until(() => listening(app), 'A listens again');
      }
      expect(states).toEqual([
        'disconnected',
        'connected',
        'disconnected',
        'connected',
        'disconnected',
        'connected',
      ]);
      expect(a.events.state).toBe('connected');
      expect(await a.fs.decrypt(stored, context)).toBe('123-45-6789');

      await b.fs.shredTenant(tenant);
      await until(
        () =>
          a.fs.decrypt(stored, context).then(
            () => false,
            (e: unknown) => isFieldsealError(e) && e.code === 'ERR_KEY_SHREDDED',
          ),
        'the shred reached the process whose session was killed',
      );
    });

    it('a linked client stops caching while the bus is down and caches again once it is back', async () => {
      const app = `fs-link-${randomBytes(4).toString('hex')}`;
      const pool = poolFor(app);
      const events = postgresKeyEvents(pool, {
        reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
      });
      closers.push(() => events.close());
      const calls: string[] = [];
      const unlink = linkKeyEvents(events, {
        purgeTenant: (t) => calls.push(`purgeTenant ${t}`),
        purgeAll: () => calls.push('purgeAll'),
        setCaching: (on) => calls.push(`setCaching ${on}`),
        recordBusState: (s) => calls.push(`state ${s}`),
      });
      closers.push(unlink);
      await events.ready;
      await until(() => listening(app), 'listening');
      expect(await killListener(app)).toBe(1);
      await until(() => calls.includes('state disconnected'), 'the link saw the loss');
      await until(() => calls.includes('setCaching true'), 'the link saw the return');
      expect(calls).toEqual([
        'state connected',
        'setCaching false',
        'purgeAll',
        'state disconnected',
        'purgeAll',
        'setCaching true',
        'state connected',
      ]);
    });
  },
);
