import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkPatientsOutput,
  exampleDatabase,
  PATIENT_SSNS,
  runExample,
  tableDump,
} from './example-run.js';
import { PG_URL } from './pg-env.js';

/*
 * examples/typeorm/app.mjs, run as `npm run example:typeorm` runs it, on the PostgreSQL server
 * (TypeORM has no embedded PostgreSQL driver), twice on the same database; and what it says
 * without a server.
 */
const checkOutput = (out: string) =>
  checkPatientsOutput(
    out,
    'TypeORM reads plaintext:',
    'ERR_UNSUPPORTED_OPTION: column typeorm_patients.ssn',
  );

describe('examples/typeorm without a server', () => {
  it('says what it needs and exits 2', () => {
    const file = fileURLToPath(new URL('../../examples/typeorm/app.mjs', import.meta.url));
    const env: Record<string, string | undefined> = { ...process.env };
    delete env.DATABASE_URL;
    const r = spawnSync(process.execPath, [file], { env, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('DATABASE_URL=postgres://');
  });
});

describe.skipIf(PG_URL === undefined)('examples/typeorm on the PostgreSQL server', () => {
  let db: Awaited<ReturnType<typeof exampleDatabase>>;
  const dir = mkdtempSync(join(tmpdir(), 'fieldseal-typeorm-example-'));
  beforeAll(async () => {
    db = await exampleDatabase();
  });
  afterAll(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs twice on the same database, and the table holds envelopes only', async () => {
    const run = () =>
      runExample('typeorm/app.mjs', { FIELDSEAL_EXAMPLE_DIR: dir, DATABASE_URL: db.url });
    checkOutput(run());
    checkOutput(run());
    const dump = await tableDump(db.url, 'typeorm_patients');
    expect(dump.rows).toBe(3);
    for (const ssn of PATIENT_SSNS) expect(dump.text).not.toContain(ssn);
    expect(dump.text).not.toContain('north.example');
  });
});
