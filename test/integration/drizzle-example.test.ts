import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleDatabase, runExample, tableDump } from './example-run.js';
import { PG_URL } from './pg-env.js';

/*
 * examples/drizzle/app.mjs, run as `npm run example:drizzle` runs it, on PGlite (it encrypts,
 * then inserts in a Drizzle transaction over shareTransactions) and on the PostgreSQL server,
 * where the test reads the table afterwards.
 */
const SSNS = ['521-44-8790', '078-05-1120', '219-09-9999', '123-45-6789'];
const run = (env: Record<string, string>) => runExample('drizzle/app.mjs', env);

function checkOutput(out: string): void {
  const [held, rest] = out.split('Drizzle reads plaintext:');
  expect(held).toMatch(/north\s+p1\s+email=<\d+ bytes: f5 01/);
  expect(held).toMatch(/ssn=fs1:/);
  for (const ssn of SSNS) expect(held).not.toContain(ssn);
  expect(held).not.toContain('north.example');
  expect(rest).toContain(
    '[{"clinic":"north","id":"p1","name":"Ada Lovelace","email":"ada@north.example","ssn":"521-44-8790"}]',
  );
  expect(rest).toContain('ERR_PLAINTEXT_IN_ENCRYPTED_FIELD: column email');
  expect(rest).not.toContain('123-45-6789');
  expect(rest).not.toContain('unexpected');
}

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
    for (const ssn of SSNS) expect(dump.text).not.toContain(ssn);
    expect(dump.text).not.toContain('north.example');
  });
});
