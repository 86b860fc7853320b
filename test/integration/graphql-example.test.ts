import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_URL, serverSchema } from './pg-env.js';

/*
 * examples/graphql/server.mjs, started as `npm run example:graphql` starts it (node on the
 * built package), driven over real HTTP: the README's query, writes and reads of plaintext
 * through the API, what the tables really hold, scopes, lookups against a full scan, and
 * (on the PostgreSQL server, where the test can reach the tables while it runs) a value
 * moved between rows and a plaintext refused by fn_create_user.
 */
const EXAMPLE = fileURLToPath(new URL('../../examples/graphql/server.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const CANARY_EMAIL = 'Canary.Kestrel@acme.example';
const CANARY_SSN = '901-77-4410';
const CANARY_PHONE = '+1 555 0100 7391';

interface Example {
  readonly url: string;
  readonly stdout: () => string;
  stop(): Promise<void>;
}

async function start(env: Record<string, string>): Promise<Example> {
  const child: ChildProcess = spawn(process.execPath, [EXAMPLE], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`example did not start: ${err}`)), 60_000);
    const check = (): void => {
      const m = /fieldseal GraphQL example on (http:\/\/127\.0\.0\.1:\d+\/graphql)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`example exited with ${String(code)}: ${err}`));
    });
  });
  return {
    url,
    stdout: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

interface Reply {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

async function gql(
  ex: Example,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<{ text: string; body: Reply }> {
  const res = await fetch(ex.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  return { text, body: JSON.parse(text) as Reply };
}

const SSN_SCOPE = { 'x-scopes': 'pii:read_ssn' };
const CREATE = `mutation($input: CreateUserInput!) { createUser(input: $input) { id name email phone ssn } }`;

/** The cases every database runs. */
function commonCases(get: () => Example): void {
  it("answers the README's query, and prints what the table holds: envelopes", async () => {
    const { body } = await gql(
      get(),
      '{ user(email: "ADA@acme.example") { name email ssn } }',
      {},
      SSN_SCOPE,
    );
    expect(body).toEqual({
      data: { user: { name: 'Ada Lovelace', email: 'ada@acme.example', ssn: '521-44-8790' } },
    });
    const printed = get().stdout();
    expect(printed).toMatch(/acme\s+\S+…\s+email=fs1:\S+…\s+ssn=fs1:\S+…/);
    expect(printed).not.toContain('ada@acme.example');
    expect(printed).not.toContain('521-44-8790');
  });

  it('round-trips plaintext through a mutation and a query; the response to the write holds no envelope', async () => {
    const { body, text } = await gql(
      get(),
      CREATE,
      { input: { name: 'Kestrel', email: CANARY_EMAIL, phone: CANARY_PHONE, ssn: CANARY_SSN } },
      SSN_SCOPE,
    );
    expect(body.errors).toBeUndefined();
    expect(body.data!.createUser).toMatchObject({
      name: 'Kestrel',
      email: CANARY_EMAIL,
      phone: CANARY_PHONE,
      ssn: CANARY_SSN,
    });
    expect(text).not.toContain('fs1:');
    const back = await gql(get(), '{ users { name email ssn } }', {}, SSN_SCOPE);
    expect(back.body.data!.users).toContainEqual({
      name: 'Kestrel',
      email: CANARY_EMAIL,
      ssn: CANARY_SSN,
    });
  });

  it('masks ssn without the scope; other tenants see none of acme', async () => {
    const { body } = await gql(get(), '{ users { name ssn } }');
    expect(body.errors).toBeUndefined();
    for (const u of body.data!.users as { ssn: string }[]) expect(u.ssn).toBe('***-**-****');
    const globex = await gql(get(), '{ users { name } }', {}, { 'x-tenant': 'globex' });
    expect(globex.body.data!.users).toEqual([{ name: 'Grace Hopper' }]);
    const cross = await gql(
      get(),
      '{ user(email: "ada@acme.example") { name } }',
      {},
      { 'x-tenant': 'globex' },
    );
    expect(cross.body).toEqual({ data: { user: null } });
  });

  it('finds users by email exactly as a full scan does, case and spaces normalised', async () => {
    const all = (await gql(get(), '{ users { id email } }')).body.data!.users as {
      id: string;
      email: string;
    }[];
    const asked = [
      'ada@acme.example',
      '  ALAN@acme.example ',
      CANARY_EMAIL.toUpperCase(),
      'nobody@acme.example',
      'grace@globex.example',
    ];
    const norm = (e: string): string => e.trim().toLowerCase();
    for (const email of asked) {
      const scan = all.filter((u) => norm(u.email) === norm(email));
      const one = await gql(get(), 'query($e: String!) { user(email: $e) { id } }', { e: email });
      expect(one.body.errors).toBeUndefined();
      expect(one.body.data!.user).toEqual(scan[0] === undefined ? null : { id: scan[0].id });
    }
    const many = await gql(get(), 'query($e: [String!]!) { usersByEmail(emails: $e) { id } }', {
      e: asked,
    });
    const wanted = new Set(asked.map(norm));
    const expected = all.filter((u) => wanted.has(norm(u.email))).map((u) => ({ id: u.id }));
    expect(expected.length).toBe(3); // ada, alan and the canary of acme; grace is globex's
    expect(many.body.data!.usersByEmail).toEqual(expected);
  });

  it('a tenant without a data key cannot write: a typed error, nothing stored', async () => {
    const { body, text } = await gql(
      get(),
      CREATE,
      { input: { name: 'Nobody', email: CANARY_EMAIL } },
      { 'x-tenant': 'initech' },
    );
    expect(body.data).toEqual({ createUser: null });
    expect(body.errors?.[0]?.extensions).toMatchObject({
      code: 'ENCRYPTION_ERROR',
      reason: 'ERR_KEY_NOT_CONFIGURED',
    });
    expect(text).not.toContain(CANARY_EMAIL);
    const none = await gql(get(), '{ users { id } }', {}, { 'x-tenant': 'initech' });
    expect(none.body.data!.users).toEqual([]);
  });

  it('a variable that fails coercion is not echoed', async () => {
    const { text, body } = await gql(get(), CREATE, {
      input: { name: 'X', email: CANARY_EMAIL, ssn: { not: CANARY_SSN } },
    });
    expect(body.errors?.length).toBeGreaterThan(0);
    expect(text).not.toContain(CANARY_SSN);
    expect(text).not.toContain(CANARY_EMAIL);
  });
}

/** Every stored value of the example's tables, as text. */
async function dumpTables(query: (text: string) => Promise<{ rows: unknown[] }>): Promise<string> {
  const tables = ['tb_user', 'tb_user_email_lookup', 'fieldseal_blind_index_secrets'];
  const out: unknown[] = [];
  for (const t of tables) out.push((await query(`SELECT * FROM ${t}`)).rows);
  return JSON.stringify(out);
}

describe('examples/graphql on PGlite (the default)', () => {
  let ex: Example;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fieldseal-example-graphql-'));
    ex = await start({ FIELDSEAL_EXAMPLE_DIR: dir, FIELDSEAL_EXAMPLE_PGLITE_DIR: join(dir, 'db') });
  }, 90_000);
  afterAll(async () => {
    await ex?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  commonCases(() => ex);

  it('after it stops, its tables hold envelopes and indexes only (canary search)', async () => {
    await ex.stop();
    const db = await PGlite.create(join(dir, 'db'));
    try {
      const dump = await dumpTables((text) => db.query(text));
      expect(dump).toContain('fs1:');
      for (const canary of [CANARY_EMAIL, CANARY_EMAIL.toLowerCase(), CANARY_SSN, CANARY_PHONE]) {
        expect(dump).not.toContain(canary);
      }
      expect(dump).not.toContain('ada@acme.example');
    } finally {
      await db.close();
    }
  });
});

describe.skipIf(PG_URL === undefined)('examples/graphql on the PostgreSQL server', () => {
  let ex: Example;
  let dir: string;
  let server: Awaited<ReturnType<typeof serverSchema>>;
  let pool: pg.Pool;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fieldseal-example-graphql-'));
    server = await serverSchema();
    pool = server.pool(2);
    const url = new URL(PG_URL!);
    url.searchParams.set('options', `-c search_path=${server.schema}`);
    ex = await start({ FIELDSEAL_EXAMPLE_DIR: dir, DATABASE_URL: url.toString() });
  }, 90_000);
  afterAll(async () => {
    await ex?.stop();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  commonCases(() => ex);

  it('its tables hold envelopes and indexes only (canary search, while it runs)', async () => {
    const dump = await dumpTables((text) => pool.query(text));
    expect(dump).toContain('fs1:');
    for (const canary of [CANARY_EMAIL, CANARY_EMAIL.toLowerCase(), CANARY_SSN, CANARY_PHONE]) {
      expect(dump).not.toContain(canary);
    }
  });

  it('fn_create_user refuses plaintext in an encrypted column', async () => {
    await expect(
      pool.query("SELECT fn_create_user('acme', 'x1', 'X', $1, NULL, NULL, 'idx')", [CANARY_EMAIL]),
    ).rejects.toThrow(/envelopes only/);
  });

  it('a value moved from one row to another is a DECRYPTION_ERROR; the rest of the data stays', async () => {
    await pool.query(
      `UPDATE tb_user SET ssn = (SELECT ssn FROM tb_user WHERE name = 'Alan Turing')
        WHERE name = 'Ada Lovelace'`,
    );
    const { body, text } = await gql(ex, '{ users { name email ssn } }', {}, SSN_SCOPE);
    const users = body.data!.users as { name: string; email: string; ssn: string | null }[];
    expect(users.find((u) => u.name === 'Ada Lovelace')).toEqual({
      name: 'Ada Lovelace',
      email: 'ada@acme.example',
      ssn: null,
    });
    expect(users.find((u) => u.name === 'Alan Turing')?.ssn).toBe('078-05-1120');
    expect(body.errors).toEqual([
      expect.objectContaining({
        message: 'Field decryption failed',
        extensions: expect.objectContaining({
          code: 'DECRYPTION_ERROR',
          field: 'User.ssn',
        }) as unknown,
      }),
    ]);
    expect(text).not.toContain('fs1:');
  });
});
