import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import type { GraphQLSchema } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createFieldseal, defineModel, field, type Fieldseal } from '../../src/index.js';
import {
  fieldsealDirectives,
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

/* graphql 16 has no `exports` map: see graphql-servers.test.ts (one copy of graphql). */
vi.mock('graphql', async () => {
  const { createRequire } = await import('node:module');
  return createRequire(import.meta.url)('graphql') as object;
});

const User = defineModel({
  table: 'gqlw_users',
  tenant: 'tenant_id',
  key: ['id'],
  fields: {
    tenant_id: field.string(),
    id: field.string(),
    email: field.string().encrypted({ storage: 'text' }),
    ssn: field.string().encrypted().nullable(), // binary storage: bytea, a Buffer
    age: field.number().encrypted({ storage: 'text' }).nullable(),
  },
});

const typeDefs = `${fieldsealDirectives}
  type User {
    id: ID!
    email: String @encrypted(model: "User")
    ssn: String @encrypted(model: "User")
    age: Int @encrypted(model: "User")
  }
  input UserInput {
    tenant_id: String!
    id: ID!
    email: String! @encrypted(model: "User")
    ssn: String @encrypted(model: "User")
  }
  input LooseInput {
    tenant_id: String
    id: ID
    email: String @encrypted(model: "User")
    age: String @encrypted(model: "User")
  }
  type Query { users(tenant: String!): [User!]! }
  type Mutation {
    createUser(input: UserInput!): Boolean
    createUsers(inputs: [UserInput!]!): Int
    setSsn(tenant_id: String!, id: ID!, ssn: String @encrypted(model: "User")): Boolean
    loose(input: LooseInput!): Boolean
  }
`;

const CANARY = 'CANARY-521-44-8790';

let db: PGlite;
let sql: SqlClient;
const provider = new MemoryKeyProvider();
let resolverCalls = 0;
/** Every argument object a resolver received, for the "never saw plaintext" checks. */
const seen: unknown[] = [];

const client = (): Fieldseal =>
  createFieldseal({
    admin: true,
    provider,
    keys: { mode: 'store', store: new PostgresKeyStore({ sql }), masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
    models: [User],
  });

/** The resolver writes exactly what it receives; it asserts it never receives the canary. */
function received(args: unknown): void {
  resolverCalls++;
  seen.push(args);
  const text = JSON.stringify(args, (_k, v: unknown) =>
    Buffer.isBuffer(v) ? v.toString('latin1') : v,
  );
  expect(text).not.toContain('CANARY');
}

interface In {
  tenant_id: string;
  id: string;
  email?: unknown;
  ssn?: unknown;
  age?: unknown;
}

async function insert(u: In): Promise<void> {
  await sql.query(
    'INSERT INTO gqlw_users (tenant_id, id, email, ssn, age) VALUES ($1, $2, $3, $4, $5)',
    [u.tenant_id, u.id, u.email ?? null, u.ssn ?? null, u.age ?? null],
  );
}

function baseSchema(): GraphQLSchema {
  return createSchema({
    typeDefs,
    resolvers: {
      Query: {
        users: async (_: unknown, { tenant }: { tenant: string }) =>
          (await sql.query('SELECT * FROM gqlw_users WHERE tenant_id = $1 ORDER BY id', [tenant]))
            .rows,
      },
      Mutation: {
        createUser: async (_: unknown, args: { input: In }) => {
          received(args);
          expect(args.input.email).toMatch(/^fs1:/);
          await insert(args.input);
          return true;
        },
        createUsers: async (_: unknown, args: { inputs: In[] }) => {
          received(args);
          for (const u of args.inputs) await insert(u);
          return args.inputs.length;
        },
        setSsn: async (_: unknown, args: In) => {
          received(args);
          expect(Buffer.isBuffer(args.ssn)).toBe(true);
          await sql.query('UPDATE gqlw_users SET ssn = $3 WHERE tenant_id = $1 AND id = $2', [
            args.tenant_id,
            args.id,
            args.ssn,
          ]);
          return true;
        },
        loose: async (_: unknown, args: { input: In }, ctx: { tenant: string }) => {
          received(args);
          await insert({ ...args.input, tenant_id: args.input.tenant_id ?? ctx.tenant });
          return true;
        },
      },
    },
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
}

interface Target {
  url: string;
  fs: Fieldseal;
  stop: () => Promise<void>;
}

async function startYoga(options: FieldsealGraphQLOptions): Promise<Target> {
  const yoga = createYoga({
    schema: baseSchema(),
    plugins: [useFieldseal(options)],
    context: ({ request }) => ({ tenant: request.headers.get('x-tenant') }),
    logging: false,
  });
  const server = createServer((req, res) => void yoga(req, res));
  const url = await listen(server);
  return { url, fs: options.fs, stop: () => new Promise((done) => server.close(() => done())) };
}

interface GqlError {
  message: string;
  extensions: Record<string, unknown>;
}
interface Body {
  data?: Record<string, unknown> | null;
  errors?: GqlError[];
}

async function post(
  t: Target,
  query: string,
  variables: Record<string, unknown> = {},
  tenant = '',
): Promise<{ text: string; body: Body }> {
  const res = await fetch(t.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tenant': tenant },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  return { text, body: JSON.parse(text) as Body };
}

/** The raw rows of a tenant, every value as text (bytea as latin1), for canary searches. */
async function rawText(): Promise<string> {
  const { rows } = await sql.query('SELECT * FROM gqlw_users');
  return JSON.stringify(rows, (_k, v: unknown) =>
    v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v,
  );
}

const TENANTS = ['w-main', 'w-list1', 'w-list2', 'w-ctx'];
const CREATE = `mutation($input: UserInput!) { createUser(input: $input) }`;
const READ = `query($t: String!) { users(tenant: $t) { id email ssn age } }`;

let t: Target;
let withContext: Target;

beforeAll(async () => {
  db = await migratedPGlite();
  sql = fromPGlite(db);
  const admin = client();
  await createPostgresRepository({ sql, fs: admin, model: User }).createTable();
  for (const tenant of TENANTS) await admin.provisionTenant(tenant);
  t = await startYoga({ fs: client(), models: { User } });
  withContext = await startYoga({
    fs: client(),
    models: { User },
    inputContext: (args, ctx) => ({
      tenant: String((ctx as { tenant: string }).tenant),
      record: String((args.input as { id: string }).id),
    }),
  });
}, 60_000);

afterAll(async () => {
  await t?.stop();
  await withContext?.stop();
  await db?.close();
});

function err(body: Body): GqlError {
  const e = body.errors?.[0];
  if (e === undefined) throw new Error('no error');
  return e;
}

describe('fieldseal/graphql writes over real HTTP', () => {
  it('a mutation receives envelopes; a query reads the plaintext back; the table holds none', async () => {
    const input = { tenant_id: 'w-main', id: 'u1', email: `${CANARY}@x.example`, ssn: CANARY };
    const variables = { input };
    const created = await post(t, CREATE, variables);
    expect(created.body).toEqual({ data: { createUser: true } });
    expect(variables.input.email).toBe(`${CANARY}@x.example`); // the caller's value: untouched
    const got = seen.at(-1) as { input: In };
    expect(got.input.tenant_id).toBe('w-main');
    expect(Buffer.isBuffer(got.input.ssn)).toBe(true); // binary storage
    const read = await post(t, READ, { t: 'w-main' });
    expect(read.body).toEqual({
      data: { users: [{ id: 'u1', email: `${CANARY}@x.example`, ssn: CANARY, age: null }] },
    });
    const raw = await rawText();
    expect(raw).not.toContain('CANARY');
    expect(raw).toContain('fs1:');
  });

  it('a scalar argument is bound to the record of the arguments (tenant_id, id)', async () => {
    const before = resolverCalls;
    const { body } = await post(
      t,
      `mutation($ssn: String) { setSsn(tenant_id: "w-main", id: "u1", ssn: $ssn) }`,
      { ssn: `${CANARY}-2` },
    );
    expect(body).toEqual({ data: { setSsn: true } });
    expect(resolverCalls).toBe(before + 1);
    const read = await post(t, READ, { t: 'w-main' });
    expect((read.body.data?.users as { ssn: string }[])[0]?.ssn).toBe(`${CANARY}-2`);
    expect(await rawText()).not.toContain('CANARY');
  });

  it('an envelope is bound to its record: moved to another row, it does not decrypt', async () => {
    await post(t, CREATE, { input: { tenant_id: 'w-main', id: 'u2', email: 'two@x.example' } });
    await sql.query(
      `UPDATE gqlw_users SET email = (SELECT email FROM gqlw_users WHERE id = 'u1') WHERE id = 'u2'`,
    );
    const read = await post(t, READ, { t: 'w-main' });
    expect(err(read.body).extensions).toMatchObject({
      code: 'DECRYPTION_ERROR',
      field: 'User.email',
      reason: 'ERR_AUTHENTICATION_FAILED',
    });
  });

  it('no tenant or key on the input and no inputContext: refused, resolver not called', async () => {
    const before = resolverCalls;
    const rows = (await sql.query('SELECT 1 FROM gqlw_users')).rows.length;
    const { text, body } = await post(t, `mutation($i: LooseInput!) { loose(input: $i) }`, {
      i: { id: 'u9', email: `${CANARY}@loose.example` },
    });
    expect(body.data).toEqual({ loose: null });
    expect(err(body).extensions).toEqual({
      code: 'ENCRYPTION_ERROR',
      field: 'Mutation.loose',
      input: 'LooseInput.email',
      path: 'input.email',
      reason: 'ERR_INVALID_CONTEXT',
    });
    expect(text).not.toContain('CANARY');
    expect(text).not.toContain('loose.example');
    expect(resolverCalls).toBe(before);
    expect((await sql.query('SELECT 1 FROM gqlw_users')).rows.length).toBe(rows);
    expect(await rawText()).not.toContain('CANARY');
  });

  it('wrong kind and a null where the model field is not nullable: refused, no value echoed', async () => {
    const before = resolverCalls;
    const kind = await post(t, `mutation($i: LooseInput!) { loose(input: $i) }`, {
      i: { tenant_id: 'w-main', id: 'u8', email: 'e@x.example', age: `${CANARY}-age` },
    });
    expect(err(kind.body).extensions).toMatchObject({
      code: 'ENCRYPTION_ERROR',
      input: 'LooseInput.age',
      reason: 'ERR_UNSUPPORTED_VALUE',
    });
    expect(kind.text).not.toContain('CANARY');
    expect(kind.text).not.toContain('e@x.example');
    const absent = await post(t, `mutation($i: LooseInput!) { loose(input: $i) }`, {
      i: { tenant_id: 'w-main', id: 'u8', email: null },
    });
    expect(err(absent.body).extensions).toMatchObject({
      code: 'ENCRYPTION_ERROR',
      input: 'LooseInput.email',
      reason: 'ERR_UNSUPPORTED_VALUE',
    });
    expect(resolverCalls).toBe(before);
    // A null the model allows is passed on as null.
    const nullable = await post(t, CREATE, {
      input: { tenant_id: 'w-main', id: 'u7', email: 'seven@x.example', ssn: null },
    });
    expect(nullable.body).toEqual({ data: { createUser: true } });
    expect((seen.at(-1) as { input: In }).input.ssn).toBeNull();
  });

  it('a list of inputs: one encryptMany batch, one key fetch per tenant', async () => {
    const fresh = await startYoga({ fs: client(), models: { User } });
    try {
      const inputs = ['w-list1', 'w-list2'].flatMap((tenant) =>
        [0, 1, 2].map((i) => ({
          tenant_id: tenant,
          id: `l${i}`,
          email: `${CANARY}-${i}@${tenant}.example`,
          ssn: `${CANARY}-${i}`,
        })),
      );
      const before = fresh.fs.stats();
      const calls = provider.calls;
      const { body } = await post(
        fresh,
        `mutation($inputs: [UserInput!]!) { createUsers(inputs: $inputs) }`,
        { inputs },
      );
      expect(body).toEqual({ data: { createUsers: 6 } });
      const after = fresh.fs.stats();
      expect(after.latency.encryptMany.count - before.latency.encryptMany.count).toBe(1);
      expect(after.values.encrypted - before.values.encrypted).toBe(12);
      const now = provider.calls;
      expect(now.unwrap + now.generate - calls.unwrap - calls.generate).toBe(2);
      const read = await post(fresh, READ, { t: 'w-list2' });
      expect(read.body.data?.users).toEqual(
        [0, 1, 2].map((i) => ({
          id: `l${i}`,
          email: `${CANARY}-${i}@w-list2.example`,
          ssn: `${CANARY}-${i}`,
          age: null,
        })),
      );
      expect(await rawText()).not.toContain('CANARY');
    } finally {
      await fresh.stop();
    }
  });

  it('options.inputContext names the record when the input does not carry it', async () => {
    const { body } = await post(
      withContext,
      `mutation($i: LooseInput!) { loose(input: $i) }`,
      { i: { id: 'c1', email: `${CANARY}@ctx.example`, age: null } },
      'w-ctx',
    );
    expect(body).toEqual({ data: { loose: true } });
    const read = await post(withContext, READ, { t: 'w-ctx' });
    expect(read.body.data?.users).toEqual([
      { id: 'c1', email: `${CANARY}@ctx.example`, ssn: null, age: null },
    ]);
    expect(await rawText()).not.toContain('CANARY');
  });
});
