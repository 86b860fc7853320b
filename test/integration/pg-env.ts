import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { inject } from 'vitest';
import { fromPGlite, migrate } from '../../src/postgres/index.js';
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

/*
 * A new in-memory PGlite costs an initdb (about 3 s of CPU on the 2-core CI machine). The first
 * file of a run that asks for one saves the data directory of a fresh database, and of the same
 * database once migrated, into the run's directory (test/global-setup.ts); every later instance
 * in the run starts from those copies. They are made in each run by this tree's migrate(), so
 * they are never stale. Each call still returns an independent database.
 */
const EMPTY_TEMPLATE = 'pglite-empty.tar';
const MIGRATED_TEMPLATE = 'pglite-migrated.tar';

function runDir(): string | undefined {
  try {
    return inject('fieldsealRunDir');
  } catch {
    return undefined;
  }
}

function readTemplate(dir: string, name: string): Blob | undefined {
  try {
    return new Blob([readFileSync(join(dir, name))]);
  } catch {
    return undefined; // not made yet (or being made by another file)
  }
}

async function saveTemplate(db: PGlite, dir: string, name: string): Promise<void> {
  const dump = await db.dumpDataDir('none');
  const path = join(dir, name);
  writeFileSync(`${path}.tmp`, Buffer.from(await dump.arrayBuffer()));
  renameSync(`${path}.tmp`, path);
}

/** Whether this file is the one to make the run's templates (the first to ask). */
function claimTemplates(dir: string): boolean {
  try {
    closeSync(openSync(join(dir, 'pglite-templates.lock'), 'wx'));
    return true;
  } catch {
    return false;
  }
}

/**
 * A new in-memory PGlite with every fieldseal migration applied (by `migrate()`), independent
 * of every other instance.
 */
export async function migratedPGlite(): Promise<PGlite> {
  const dir = runDir();
  const template = dir === undefined ? undefined : readTemplate(dir, MIGRATED_TEMPLATE);
  if (template !== undefined) return PGlite.create({ loadDataDir: template });
  const db = await PGlite.create();
  if (dir !== undefined && claimTemplates(dir)) {
    await saveTemplate(db, dir, EMPTY_TEMPLATE);
    await migrate(fromPGlite(db));
    await saveTemplate(db, dir, MIGRATED_TEMPLATE);
  } else {
    await migrate(fromPGlite(db));
  }
  return db;
}

/** A new in-memory PGlite as PGlite.create() makes it: no fieldseal table (not migrated). */
export async function emptyPGlite(): Promise<PGlite> {
  const dir = runDir();
  const template = dir === undefined ? undefined : readTemplate(dir, EMPTY_TEMPLATE);
  return template === undefined ? PGlite.create() : PGlite.create({ loadDataDir: template });
}
