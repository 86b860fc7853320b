import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
 * examples/drizzle/app.mjs, run as `npm run example:drizzle` runs it, on PGlite (it encrypts,
 * then inserts in a Drizzle transaction over shareTransactions) and on the PostgreSQL server,
 * where the test reads the table afterwards.
 */
const run = (env: Record<string, string>) => runExample('drizzle/app.mjs', env);
const checkOutput = (out: string) =>
  checkPatientsOutput(
    out,
    'Drizzle reads plaintext:',
    'ERR_PLAINTEXT_IN_ENCRYPTED_FIELD: column email',
  );

describe('examples/drizzle on PGlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldseal-drizzle-example-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints envelopes for the table and plaintext for Drizzle, and refuses a plain value', () => {
    checkOutput(run({ FIELDSEAL_EXAMPLE_DIR: dir }));
  });
});

describe.skipIf(PG_URL === undefined)('examples/drizzle on the PostgreSQL server', () => {
  let db: Awaited<ReturnType<typeof exampleDatabase>>;
  let url: string;
  const dir = mkdtempSync(join(tmpdir(), 'fieldseal-drizzle-example-'));
  beforeAll(async () => {
    db = await exampleDatabase();
    url = db.url;
  });
  afterAll(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs twice on the same database, and the table holds envelopes only', async () => {
    checkOutput(run({ FIELDSEAL_EXAMPLE_DIR: dir, DATABASE_URL: url }));
    checkOutput(run({ FIELDSEAL_EXAMPLE_DIR: dir, DATABASE_URL: url }));
    const dump = await tableDump(url, 'patients');
    expect(dump.rows).toBe(3);
    for (const ssn of PATIENT_SSNS) expect(dump.text).not.toContain(ssn);
    expect(dump.text).not.toContain('north.example');
  });
});
