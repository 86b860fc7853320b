import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleDatabase, runExample, tableDump } from './example-run.js';
import { PG_URL } from './pg-env.js';

/*
 * examples/prisma/app.mjs, run as `npm run example:prisma` runs it (the test setup generates
 * its client), on PGlite and on the PostgreSQL server, where the test reads the tables after.
 */
const PLAIN = ['521-44-8790', '078-05-1120', '219-09-9999', 'migraine', 'north.example'];
const run = (env: Record<string, string>) => runExample('prisma/app.mjs', env);

function checkOutput(out: string): void {
  const [held, rest] = out.split('Prisma reads plaintext:');
  expect(held).toMatch(/north\s+p1\s+email=fs1:/);
  expect(held).toMatch(/north\s+v1\s+notes=<\d+ bytes: f5 01/);
  for (const text of PLAIN) expect(held).not.toContain(text);
  expect(rest).toContain('"id":"p1","name":"Ada Lovelace","email":"ada@north.example"');
  expect(rest).toContain('"visits":[{"day":"2026-12-01","notes":"migraine, prescribed rest"}]');
  expect(rest).not.toContain('Grace Hopper'); // same email, other clinic
  expect(rest).toContain('orderBy ssn: ERR_UNSUPPORTED_OPTION: field Patient.ssn');
  expect(rest).toContain('ssn contains: ERR_UNSUPPORTED_OPTION: field Patient.ssn');
  expect(rest).toContain('updateMany of email: ERR_UNSUPPORTED_OPTION: field Patient.email');
  expect(rest).toContain('refused by the database');
  expect(rest).not.toContain('unexpected');
  expect(out).not.toContain('123-45-6789');
}

describe('examples/prisma on PGlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldseal-prisma-example-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints envelopes for the tables and plaintext for Prisma, and refuses what it must', () => {
    checkOutput(run({ FIELDSEAL_EXAMPLE_DIR: dir }));
  });
});

describe.skipIf(PG_URL === undefined)('examples/prisma on the PostgreSQL server', () => {
  let db: Awaited<ReturnType<typeof exampleDatabase>>;
  const dir = mkdtempSync(join(tmpdir(), 'fieldseal-prisma-example-'));
  beforeAll(async () => {
    db = await exampleDatabase();
  });
  afterAll(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs twice on the same database, and the tables hold envelopes only', async () => {
    checkOutput(run({ FIELDSEAL_EXAMPLE_DIR: dir, DATABASE_URL: db.url }));
    checkOutput(run({ FIELDSEAL_EXAMPLE_DIR: dir, DATABASE_URL: db.url }));
    for (const table of ['prisma_patients', 'prisma_visits']) {
      const dump = await tableDump(db.url, table);
      expect(dump.rows).toBeGreaterThan(0);
      for (const text of PLAIN) expect(dump.text).not.toContain(text);
    }
  });
});
