import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleDatabase, runExample, tableDump } from './example-run.js';
import { PG_URL } from './pg-env.js';

/*
 * examples/kysely/app.mjs, run as `npm run example:kysely` runs it (node on the built
 * package), on PGlite and on the PostgreSQL server: what it prints, and (on the server, where
 * the test can read the table afterwards) that the table holds envelopes only.
 */
const SSNS = ['521-44-8790', '078-05-1120', '219-09-9999', '000-00-0000'];
const run = (env: Record<string, string>) => runExample('kysely/app.mjs', env);

function checkOutput(out: string): void {
  const [held, rest] = out.split('Kysely reads plaintext:');
  expect(held).toMatch(/acme\s+c1\s+email=<\d+ bytes: f5 01/);
  expect(held).toMatch(/ssn=fs1:/);
  for (const ssn of SSNS) expect(held).not.toContain(ssn);
  expect(held).not.toContain('ada@acme.example');
  expect(rest).toContain(
    '"id":"c1","name":"Ada Lovelace","ssn":"521-44-8790","notes":{"vip":true}',
  );
  expect(rest).not.toContain('"id":"c3"'); // another tenant's identical address is not found
  expect(rest).toContain('{"name":"Alan Turing","ssn":"000-00-0000"}');
  for (const column of ['customers.ssn', 'customers.ssn', 'customers.email']) {
    expect(rest).toContain(`ERR_UNSUPPORTED_OPTION (${column})`);
  }
  expect(rest).not.toContain('unexpected');
}

describe('examples/kysely on PGlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldseal-kysely-example-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints envelopes for the table and plaintext for Kysely, and refuses what it must', () => {
    checkOutput(run({ FIELDSEAL_EXAMPLE_DIR: dir }));
  });
});

describe.skipIf(PG_URL === undefined)('examples/kysely on the PostgreSQL server', () => {
  let db: Awaited<ReturnType<typeof exampleDatabase>>;
  let url: string;
  const dir = mkdtempSync(join(tmpdir(), 'fieldseal-kysely-example-'));
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
    const dump = await tableDump(url, 'customers');
    expect(dump.rows).toBe(3);
    for (const ssn of SSNS) expect(dump.text).not.toContain(ssn);
    expect(dump.text).not.toContain('acme.example');
    expect(dump.text).not.toContain('vip');
  });
});
