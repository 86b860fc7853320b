import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_URL, serverSchema } from './pg-env.js';

/*
 * examples/kysely/app.mjs, run as `npm run example:kysely` runs it (node on the built
 * package), on PGlite and on the PostgreSQL server: what it prints, and (on the server, where
 * the test can read the table afterwards) that the table holds envelopes only.
 */
const EXAMPLE = fileURLToPath(new URL('../../examples/kysely/app.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SSNS = ['521-44-8790', '078-05-1120', '219-09-9999', '000-00-0000'];

function runExample(env: Record<string, string>): string {
  const r = spawnSync(process.execPath, [EXAMPLE], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`example exited with ${String(r.status)}: ${r.stderr}`);
  return r.stdout;
}

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
    checkOutput(runExample({ FIELDSEAL_EXAMPLE_DIR: dir }));
  });
});

describe.skipIf(PG_URL === undefined)('examples/kysely on the PostgreSQL server', () => {
  let server: Awaited<ReturnType<typeof serverSchema>>;
  let url: string;
  const dir = mkdtempSync(join(tmpdir(), 'fieldseal-kysely-example-'));
  beforeAll(async () => {
    server = await serverSchema();
    const u = new URL(PG_URL!);
    u.searchParams.set('options', `-c search_path=${server.schema}`);
    url = u.toString();
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs twice on the same database, and the table holds envelopes only', async () => {
    checkOutput(runExample({ FIELDSEAL_EXAMPLE_DIR: dir, DATABASE_URL: url }));
    checkOutput(runExample({ FIELDSEAL_EXAMPLE_DIR: dir, DATABASE_URL: url }));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<Record<string, unknown>>('SELECT * FROM customers');
      expect(rows).toHaveLength(3);
      const dump = JSON.stringify(rows, (_k, v: unknown) =>
        typeof v === 'object' && v !== null && 'type' in v && v.type === 'Buffer'
          ? Buffer.from((v as unknown as { data: number[] }).data).toString('latin1')
          : v,
      );
      for (const ssn of SSNS) expect(dump).not.toContain(ssn);
      expect(dump).not.toContain('acme.example');
      expect(dump).not.toContain('vip');
    } finally {
      await client.end();
    }
  });
});
