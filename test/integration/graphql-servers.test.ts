import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSchema, printSchema, type GraphQLObjectType, type GraphQLSchema } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createFieldseal, defineModel, field, type Fieldseal } from '../../src/index.js';
import {
  FieldsealSchemaError,
  fieldsealApolloPlugin,
  fieldsealDirectives,
  fieldsealSchema,
  useFieldseal,
  type FieldsealGraphQLOptions,
} from '../../src/integrations/graphql/index.js';
import {
  PostgresKeyStore,
  createPostgresRepository,
  fromPGlite,
  type SqlClient,
} from '../../src/postgres/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { migratedPGlite } from './pg-env.js';

/*
 * graphql 16 has no `exports` map: Node (and so Yoga and Apollo, loaded natively) gets its CJS
 * build, while Vite would hand the files it transforms (src/, this test) the `.mjs` one, and
 * graphql refuses types from "another module or realm". Under Node alone there is one copy.
 */
vi.mock('graphql', async () => {
  const { createRequire } = await import('node:module');
  return createRequire(import.meta.url)('graphql') as object;
});

const User = defineModel({
  table: 'gql_users',
  tenant: 'tenant_id',
  key: ['id'],
  fields: {
    tenant_id: field.string(),
    id: field.string(),
    name: field.string(),
    email: field.string().encrypted({ storage: 'text' }),
    phone: field.string().encrypted().nullable(),
    ssn: field.string().encrypted(),
    ssn_last4: field.string(),
  },
});

const typeDefs = `${fieldsealDirectives}
  type User {
    id: ID!
    name: String!
    email: String @encrypted(model: "User")
    phone: String @encrypted(model: "User")
    ssn: String @encrypted(model: "User") @requiresScope(scope: "pii:read_ssn", onDeny: MASK)
    secret: String @encrypted(model: "User", field: "ssn") @requiresScope(scope: "admin")
  }
  input UserInput { ssn: Int @encrypted }
  type Query { users(tenant: String!): [User!]! }
  type Mutation { setSsn(id: ID!, ssn: Int @encrypted): Boolean, update(input: UserInput): Boolean }
`;

const CANARY = 'CANARY-521-44-8790';
const SSN = (t: string, i: number) => (i === 0 ? `${CANARY}-${t}` : `521-44-${String(1000 + i)}`);
const record = (tenant: string, i: number) => ({
  tenant_id: tenant,
  id: `u${String(i).padStart(3, '0')}`,
  name: `user ${i}`,
  email: `user${i}@${tenant}.example`,
  phone: i % 2 === 0 ? null : `+1-555-${String(1000 + i)}`,
  ssn: SSN(tenant, i),
  ssn_last4: String(1000 + i),
});

let db: PGlite;
let sql: SqlClient;
const provider = new MemoryKeyProvider();
let resolverCalls = 0;
const client = (): Fieldseal =>
  createFieldseal({
    admin: true,
    provider,
    keys: { mode: 'store', store: new PostgresKeyStore({ sql }), masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
    models: [User],
  });

function baseSchema(): GraphQLSchema {
  return createSchema({
    typeDefs,
    resolvers: {
      Query: {
        users: async (_: unknown, { tenant }: { tenant: string }) => {
          resolverCalls++;
          const r = await sql.query('SELECT * FROM gql_users WHERE tenant_id = $1 ORDER BY id', [
            tenant,
          ]);
          return r.rows; // stored rows: envelopes
        },
      },
      Mutation: { setSsn: () => true, update: () => true },
    },
  });
}

const scopesOf = (header: string | null | undefined): string[] =>
  header === null || header === undefined || header === '' ? [] : header.split(',');

async function listen(server: Server): Promise<string> {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
}

interface Target {
  url: string;
  fs: Fieldseal;
  stop: () => Promise<void>;
}

async function startYoga(schema: GraphQLSchema, options: FieldsealGraphQLOptions): Promise<Target> {
  const yoga = createYoga<{ req?: unknown }>({
    schema,
    plugins: [useFieldseal(options)],
    context: ({ request }) => ({ scopes: scopesOf(request.headers.get('x-scopes')) }),
    logging: false,
  });
  const server = createServer((req, res) => void yoga(req, res));
  const url = await listen(server);
  return {
    url,
    fs: options.fs,
    stop: () => new Promise((done) => server.close(() => done())),
  };
}

async function startApollo(schema: GraphQLSchema, fs: Fieldseal): Promise<Target> {
  const server = new ApolloServer<{ scopes: string[] }>({
    schema,
    plugins: [fieldsealApolloPlugin()],
  });
  const { url } = await startStandaloneServer(server, {
    listen: { port: 0, host: '127.0.0.1' },
    context: async ({ req }) =>
      Promise.resolve({ scopes: scopesOf(req.headers['x-scopes'] as string | undefined) }),
  });
  return { url, fs, stop: () => server.stop() };
}

async function post(
  t: Target,
  query: string,
  variables: Record<string, unknown> = {},
  scopes = '',
): Promise<{ text: string; body: Body }> {
  const res = await fetch(t.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-scopes': scopes },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  return { text, body: JSON.parse(text) as Body };
}

type Row = Record<string, unknown>;
interface GqlError {
  message: string;
  path?: unknown[];
  extensions: Record<string, unknown>;
}
interface Body {
  data?: Record<string, Row[]> | null;
  errors?: GqlError[];
}
/** The rows of a list field of the response (`users` unless named). */
function rows(body: Body, key = 'users'): Row[] {
  const list = body.data?.[key];
  if (list === undefined) throw new Error(`no data.${key}`);
  return list;
}
/** The i-th error of the response. */
function err(body: Body, i = 0): GqlError {
  const e = body.errors?.[i];
  if (e === undefined) throw new Error(`no error #${i}`);
  return e;
}

/** Nothing secret in a response: no envelope, no plaintext of a failed field, no stack. */
function expectClean(text: string, secrets: readonly string[]): void {
  expect(text).not.toContain('fs1:');
  expect(text).not.toContain('stacktrace');
  expect(text).not.toMatch(/\n\s+at /);
  expect(text).not.toMatch(/\\n\s+at /);
  for (const s of secrets) expect(text).not.toContain(s);
}

const options = (fs: Fieldseal, extra: Partial<FieldsealGraphQLOptions> = {}) =>
  ({
    fs,
    models: { User },
    scopes: (ctx: unknown) => (ctx as { scopes: string[] }).scopes,
    masks: { 'User.ssn': (p) => `***-**-${String(p.ssn_last4)}` },
    ...extra,
  }) satisfies FieldsealGraphQLOptions;

beforeAll(async () => {
  db = await migratedPGlite();
  sql = fromPGlite(db);
  const writer = client();
  const repo = createPostgresRepository({ sql, fs: writer, model: User });
  await repo.createTable();
  const tenants: [string, number][] = [];
  for (const server of ['yoga', 'apollo']) {
    for (const t of ['main', 'moved', 'tamper', 'shred', 'outage'])
      tenants.push([`${t}-${server}`, 3]);
    tenants.push([`big1-${server}`, 50], [`big2-${server}`, 50]);
  }
  for (const [t] of tenants) await writer.provisionTenant(t);
  await repo.insert(tenants.flatMap(([t, n]) => Array.from({ length: n }, (_, i) => record(t, i))));
  // A value moved between rows of one tenant, and a tampered one.
  for (const server of ['yoga', 'apollo']) {
    await sql.query(
      `UPDATE gql_users SET email = (SELECT email FROM gql_users WHERE tenant_id = $1 AND id = 'u000') WHERE tenant_id = $1 AND id = 'u001'`,
      [`moved-${server}`],
    );
    const { rows } = await sql.query<{ email: string }>(
      `SELECT email FROM gql_users WHERE tenant_id = $1 AND id = 'u001'`,
      [`tamper-${server}`],
    );
    const e = rows[0]!.email;
    const i = e.length - 10;
    const flipped = e.slice(0, i) + (e[i] === 'A' ? 'B' : 'A') + e.slice(i + 1);
    await sql.query(`UPDATE gql_users SET email = $2 WHERE tenant_id = $1 AND id = 'u001'`, [
      `tamper-${server}`,
      flipped,
    ]);
  }
}, 60_000);

afterAll(async () => {
  await db?.close();
});

const QUERY = `query($t: String!) { users(tenant: $t) { id name email phone ssn } }`;

describe.each(['yoga', 'apollo'] as const)('fieldseal/graphql on %s over real HTTP', (kind) => {
  let t: Target;
  let strict: Target;
  beforeAll(async () => {
    const fs = client();
    const strictFs = client();
    const schema = fieldsealSchema(baseSchema(), options(fs));
    const strictSchema = fieldsealSchema(
      baseSchema(),
      options(strictFs, { rejectDeniedOperations: true }),
    );
    if (kind === 'yoga') {
      t = await startYoga(schema, options(fs));
      strict = await startYoga(strictSchema, options(strictFs, { rejectDeniedOperations: true }));
    } else {
      t = await startApollo(schema, fs);
      strict = await startApollo(strictSchema, strictFs);
    }
  });
  afterAll(async () => {
    await t?.stop();
    await strict?.stop();
  });

  it('100 users × 3 encrypted fields: one decryption batch, one key fetch per tenant', async () => {
    const before = t.fs.stats();
    const unwraps = provider.calls.unwrap;
    const q = `{ a: users(tenant: "big1-${kind}") { id email phone ssn } b: users(tenant: "big2-${kind}") { id email phone ssn } }`;
    const { body } = await post(t, q, {}, 'pii:read_ssn');
    expect(body.errors).toBeUndefined();
    expect(rows(body, 'a')).toHaveLength(50);
    expect(rows(body, 'b')[7]).toEqual({
      id: 'u007',
      email: `user7@big2-${kind}.example`,
      phone: '+1-555-1007',
      ssn: '521-44-1007',
    });
    const after = t.fs.stats();
    expect(after.latency.decryptMany.count - before.latency.decryptMany.count).toBe(1);
    expect(after.values.decrypted - before.values.decrypted).toBe(250); // phone is null on even ids
    expect(provider.calls.unwrap - unwraps).toBe(2);
  });

  it('round trip: stored rows in, plaintext out; the table holds only envelopes', async () => {
    const { body } = await post(t, QUERY, { t: `main-${kind}` }, 'pii:read_ssn');
    expect(body.errors).toBeUndefined();
    expect(rows(body)).toEqual(
      [0, 1, 2].map((i) => {
        const r = record(`main-${kind}`, i);
        return { id: r.id, name: r.name, email: r.email, phone: r.phone, ssn: r.ssn };
      }),
    );
    const raw = await sql.query('SELECT * FROM gql_users');
    const dump = JSON.stringify(raw.rows, (_k, v: unknown) =>
      v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v,
    );
    expect(dump).not.toContain(CANARY);
    expect(dump).not.toContain('@main-');
  });

  it('a value moved between rows is DECRYPTION_ERROR (authentication), partial data', async () => {
    const { text, body } = await post(t, QUERY, { t: `moved-${kind}` }, 'pii:read_ssn');
    expect(body.errors).toHaveLength(1);
    expect(err(body)).toMatchObject({
      message: 'Field decryption failed',
      path: ['users', 1, 'email'],
      extensions: {
        code: 'DECRYPTION_ERROR',
        field: 'User.email',
        reason: 'ERR_AUTHENTICATION_FAILED',
      },
    });
    expect(rows(body)[1]).toEqual({
      id: 'u001',
      name: 'user 1',
      email: null,
      phone: '+1-555-1001',
      ssn: '521-44-1001',
    });
    expect(rows(body)[0]?.email).toBe(`user0@moved-${kind}.example`);
    expectClean(text, [`user1@moved-${kind}`]);
  });

  it('tampered, shredded and unavailable keys give typed reasons', async () => {
    const tampered = await post(t, QUERY, { t: `tamper-${kind}` }, 'pii:read_ssn');
    expect(err(tampered.body).extensions).toMatchObject({
      code: 'DECRYPTION_ERROR',
      field: 'User.email',
    });
    expect(['ERR_AUTHENTICATION_FAILED', 'ERR_MALFORMED_CIPHERTEXT']).toContain(
      err(tampered.body).extensions.reason,
    );
    expectClean(tampered.text, [`user1@tamper-${kind}`]);

    await client().shredTenant(`shred-${kind}`);
    const shredded = await post(t, QUERY, { t: `shred-${kind}` }, 'pii:read_ssn');
    expect(shredded.body.errors?.length).toBeGreaterThan(0);
    for (const e of shredded.body.errors ?? [])
      expect(e.extensions.reason).toBe('ERR_KEY_SHREDDED');
    expect(rows(shredded.body).map((u) => u.name)).toEqual(['user 0', 'user 1', 'user 2']);
    expectClean(shredded.text, [`@shred-${kind}`, CANARY]);

    provider.injectFault('unavailable', Infinity);
    try {
      const down = await post(t, QUERY, { t: `outage-${kind}` }, 'pii:read_ssn');
      expect(down.body.errors?.length).toBeGreaterThan(0);
      for (const e of down.body.errors ?? []) {
        expect(e.extensions.reason).toBe('ERR_PROVIDER_UNAVAILABLE');
      }
      expectClean(down.text, [`@outage-${kind}`, CANARY]);
    } finally {
      provider.injectFault('unavailable', 0);
    }
  });

  it('no scope: MASK gives the mask and decrypts nothing for the field; REJECT is FORBIDDEN', async () => {
    const before = t.fs.stats();
    const masked = await post(t, `query($t: String!) { users(tenant: $t) { id ssn } }`, {
      t: `main-${kind}`,
    });
    expect(masked.body.errors).toBeUndefined();
    expect(rows(masked.body)[1]).toEqual({ id: 'u001', ssn: '***-**-1001' });
    const after = t.fs.stats();
    expect(after.values.decrypted).toBe(before.values.decrypted);
    expect(after.latency.decryptMany.count).toBe(before.latency.decryptMany.count);

    const rejected = await post(t, `query($t: String!) { users(tenant: $t) { id secret } }`, {
      t: `main-${kind}`,
    });
    expect(rejected.body.errors).toHaveLength(3);
    expect(err(rejected.body).extensions).toMatchObject({
      code: 'FORBIDDEN',
      field: 'User.secret',
    });
    expect(rows(rejected.body)[0]).toEqual({ id: 'u000', secret: null });
    expect(t.fs.stats().values.decrypted).toBe(before.values.decrypted);
    expectClean(rejected.text, [CANARY]);
  });

  it('rejects an operation selecting a denied REJECT field before any resolver runs', async () => {
    const calls = resolverCalls;
    const before = strict.fs.stats();
    const { text, body } = await post(
      strict,
      `query($t: String!) { users(tenant: $t) { id ...F } } fragment F on User { secret }`,
      { t: `main-${kind}` },
    );
    expect(body.data ?? null).toBeNull();
    expect(err(body).extensions).toMatchObject({ code: 'FORBIDDEN', field: 'User.secret' });
    expect(resolverCalls).toBe(calls);
    expect(strict.fs.stats().values.decrypted).toBe(before.values.decrypted);
    expectClean(text, []);
    const allowed = await post(
      strict,
      `query($t: String!) { users(tenant: $t) { id secret } }`,
      { t: `main-${kind}` },
      'admin',
    );
    expect(rows(allowed.body)[1]?.secret).toBe('521-44-1001');
  });

  it('variable coercion errors of encrypted inputs hold no value', async () => {
    const scalar = await post(t, `mutation($ssn: Int) { setSsn(id: "u1", ssn: $ssn) }`, {
      ssn: '521-44-8790',
    });
    expect(err(scalar.body).message).toContain('[REDACTED]');
    expectClean(scalar.text, ['521-44-8790']);
    const nested = await post(t, `mutation($input: UserInput) { update(input: $input) }`, {
      input: { ssn: '521-44-8790' },
    });
    expect(err(nested.body).message).toContain('[REDACTED]');
    expectClean(nested.text, ['521-44-8790']);
  });
});

describe('fieldsealSchema setup', () => {
  const fs = () => client();
  it('refuses @encrypted and MASK on non-null fields unless allowNonNull', () => {
    const sdl = (f: string) =>
      buildSchema(`${fieldsealDirectives} type User { id: ID! ${f} } type Query { u: User }`);
    const attempt = (f: string) => () => fieldsealSchema(sdl(f), options(fs(), { masks: {} }));
    expect(attempt('ssn: String! @encrypted(model: "User")')).toThrow(FieldsealSchemaError);
    expect(attempt('ssn: String! @encrypted(model: "User")')).toThrow(/User\.ssn/);
    expect(attempt('name: String! @requiresScope(scope: "x", onDeny: MASK)')).toThrow(
      /User\.name.*allowNonNull/,
    );
    expect(attempt('ssn: String! @encrypted(model: "User", allowNonNull: true)')).not.toThrow();
    expect(attempt('name: String! @requiresScope(scope: "x")')).not.toThrow();
    expect(attempt('ssn: String @encrypted(model: "Nope")')).toThrow(/User\.ssn.*unknown model/);
    expect(attempt('note: String @encrypted')).toThrow(/User\.note.*context/);
  });

  it('does not modify the input schema', () => {
    const base = baseSchema();
    const printed = printSchema(base);
    const email = base.getType('User') as GraphQLObjectType;
    const resolveBefore = email.getFields().email!.resolve;
    const out = fieldsealSchema(base, options(fs()));
    expect(out).not.toBe(base);
    expect(printSchema(base)).toBe(printed);
    expect(email.getFields().email!.resolve).toBe(resolveBefore);
    expect((out.getType('User') as typeof email).getFields().email!.resolve).not.toBe(
      resolveBefore,
    );
  });

  it('useFieldseal transforms a plain schema on Yoga', async () => {
    const f = fs();
    const target = await startYoga(baseSchema(), options(f));
    try {
      const { body } = await post(target, QUERY, { t: 'main-yoga' }, 'pii:read_ssn');
      expect(rows(body)[0]?.email).toBe('user0@main-yoga.example');
    } finally {
      await target.stop();
    }
  });
});
