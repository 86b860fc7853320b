import type { PGlite } from '@electric-sql/pglite';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { parse, type GraphQLSchema } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createBlindIndexer,
  createFieldseal,
  defineModel,
  EnvSecretSource,
  field,
  type BlindIndexer,
  type Fieldseal,
} from '../../src/index.js';
import {
  FieldsealSchemaError,
  fieldsealApolloPlugin,
  fieldsealDirectives,
  fieldsealSchema,
  sensitiveVariables,
  useFieldseal,
  type FieldsealGraphQLOptions,
} from '../../src/integrations/graphql/index.js';
import {
  PostgresKeyStore,
  createPostgresRepository,
  fromPGlite,
  type PostgresRepository,
  type SqlClient,
} from '../../src/postgres/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { migratedPGlite } from './pg-env.js';

/* graphql 16 has no `exports` map: see graphql-servers.test.ts (one copy of graphql). */
vi.mock('graphql', async () => {
  const { createRequire } = await import('node:module');
  return createRequire(import.meta.url)('graphql') as object;
});

/*
 * `@lookup` arguments and the blind indexes of `@encrypted` inputs, through Yoga's whole
 * pipeline (yoga.fetch) over PGlite: the resolver never sees the value, only its indexes; the
 * rows it returns are re-checked (a resolver that ignores the index returns nothing wrong);
 * scopes, shredded tenants, damaged candidates and setup mistakes fail closed.
 */
const Person = defineModel({
  table: 'gqll_people',
  tenant: 'tenant_id',
  key: ['id'],
  fields: {
    tenant_id: field.string(),
    id: field.string(),
    email: field
      .string()
      .encrypted({ storage: 'text' })
      .blindIndex({ normalize: ['trim', 'lowercase'], bits: 16 }),
    ssn: field.string().encrypted({ storage: 'text' }).blindIndex().nullable(),
    note: field.string().encrypted({ storage: 'text' }).nullable(),
  },
});
const Other = defineModel({
  table: 'gqll_other',
  tenant: 'tenant_id',
  key: ['id'],
  fields: {
    tenant_id: field.string(),
    id: field.string(),
    email: field.string().encrypted({ storage: 'text' }).blindIndex(),
  },
});

const CANARY = 'Canary.Lookup@Example.COM';

const typeDefs = `${fieldsealDirectives}
  type Person {
    id: ID!
    tenant_id: String!
    email: String @encrypted(model: "Person")
    ssn: String @encrypted(model: "Person") @requiresScope(scope: "pii:read_ssn")
  }
  input PersonInput {
    tenant_id: String!
    id: ID!
    email: String! @encrypted(model: "Person")
  }
  type Query {
    byEmail(email: String! @lookup(model: "Person")): Person
    "Ignores the index: returns every row of every tenant (the re-check must filter)."
    everyone(email: String! @lookup(model: "Person")): [Person!]!
    anyOf(emails: [String!] @lookup(model: "Person", field: "email")): [Person!]!
    bySsn(ssn: String! @lookup(model: "Person")): [Person!]!
  }
  type Mutation { createPerson(input: PersonInput!): Boolean }
`;

let db: PGlite;
let sql: SqlClient;
let fs: Fieldseal;
let admin: Fieldseal;
let indexer: BlindIndexer;
let people: PostgresRepository<typeof Person>;
const provider = new MemoryKeyProvider();
const seen: unknown[] = [];
let resolverCalls = 0;

const clientOf = (extra: object = {}): Fieldseal =>
  createFieldseal({
    provider,
    keys: { mode: 'store', store: new PostgresKeyStore({ sql }), masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
    models: [Person, Other],
    ...extra,
  });

function received(args: unknown): void {
  resolverCalls++;
  seen.push(args);
  expect(JSON.stringify(args).toLowerCase()).not.toContain('canary');
}

const rowsOf = async (where = 'true', params: unknown[] = []): Promise<unknown[]> =>
  (await sql.query(`SELECT * FROM gqll_people WHERE ${where} ORDER BY tenant_id, id`, params)).rows;

interface Indexes {
  column: string;
  indexes: string[];
}

function baseSchema(): GraphQLSchema {
  const byIndex = async (tenant: string, q: Indexes): Promise<unknown[]> =>
    rowsOf(`tenant_id = $1 AND "${q.column}" = ANY($2::text[])`, [tenant, q.indexes]);
  return createSchema({
    typeDefs,
    resolvers: {
      Query: {
        byEmail: async (_: unknown, args: { email: Indexes }, ctx: { tenant: string }) => {
          received(args);
          return (await byIndex(ctx.tenant, args.email))[0];
        },
        everyone: async (_: unknown, args: unknown) => {
          received(args);
          return rowsOf();
        },
        anyOf: async (_: unknown, args: { emails: Indexes | null }, ctx: { tenant: string }) => {
          received(args);
          return args.emails === null ? [] : byIndex(ctx.tenant, args.emails);
        },
        bySsn: async (_: unknown, args: { ssn: Indexes }, ctx: { tenant: string }) => {
          received(args);
          return byIndex(ctx.tenant, args.ssn);
        },
      },
      Mutation: {
        createPerson: async (_: unknown, args: { input: Record<string, unknown> }) => {
          received(args);
          const i = args.input;
          await sql.query(
            'INSERT INTO gqll_people (tenant_id, id, email, email_bidx_v1) VALUES ($1, $2, $3, $4)',
            [i.tenant_id, i.id, i.email, i.email_bidx_v1],
          );
          return true;
        },
      },
    },
  });
}

const options = (client = fs, repo = people): FieldsealGraphQLOptions => ({
  fs: client,
  models: { Person },
  blindIndexes: { Person: repo },
  scopes: (ctx) => (ctx as { scopes: string[] }).scopes,
  lookupTenant: (_args, ctx) => (ctx as { tenant: string }).tenant,
});

type Yoga = ReturnType<typeof createYoga>;
let yoga: Yoga;

interface Body {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions: Record<string, unknown> }[];
}

async function run(
  query: string,
  variables: Record<string, unknown>,
  tenant: string,
  scopes = '',
): Promise<{ text: string; body: Body }> {
  const res = await yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tenant': tenant, 'x-scopes': scopes },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  return { text, body: JSON.parse(text) as Body };
}

const CREATE = 'mutation($input: PersonInput!) { createPerson(input: $input) }';

function makeYoga(o: FieldsealGraphQLOptions): Yoga {
  return createYoga({
    schema: baseSchema(),
    plugins: [useFieldseal(o)],
    context: ({ request }) => ({
      tenant: request.headers.get('x-tenant') ?? '',
      scopes: (request.headers.get('x-scopes') ?? '').split(',').filter(Boolean),
    }),
    logging: false,
  }) as unknown as Yoga;
}

beforeAll(async () => {
  db = await migratedPGlite();
  sql = fromPGlite(db);
  admin = clientOf({ admin: ['provision', 'shred'] });
  fs = clientOf();
  indexer = await createBlindIndexer({
    source: new EnvSecretSource({
      keys: { bi: 'BI_ROOT' },
      env: { BI_ROOT: `base64:${Buffer.alloc(32, 0x3c).toString('base64')}` },
    }),
    reference: 'bi',
  });
  people = createPostgresRepository({ sql, fs, model: Person, blindIndex: { indexer } });
  await people.createTable();
  for (const t of ['north', 'south', 'doomed']) await admin.provisionTenant(t);
  yoga = makeYoga(options());
  // Through the API: the resolver stores what it receives (envelope and index column).
  const people0 = [
    ['north', 'n1', CANARY],
    ['north', 'n2', 'bea@example.com'],
    ['south', 's1', CANARY], // the same address in another tenant
    ['doomed', 'd1', 'dora@example.com'],
  ];
  for (const [tenant_id, id, email] of people0) {
    const { body } = await run(CREATE, { input: { tenant_id, id, email } }, tenant_id!);
    expect(body).toEqual({ data: { createPerson: true } });
  }
  // ssn values through the repository (its own writes), to look them up through GraphQL.
  await people.upsert([
    { tenant_id: 'north', id: 'n2', email: 'bea@example.com', ssn: '111-22-3333', note: null },
  ]);
}, 60_000);

afterAll(async () => {
  await db?.close();
});

describe('@lookup', () => {
  it('hands the resolver the index column and indexes, never the value; finds the row', async () => {
    seen.length = 0;
    const { body } = await run(
      'query($e: String!) { byEmail(email: $e) { id email } }',
      { e: `  ${CANARY.toUpperCase()} ` },
      'north',
    );
    expect(body).toEqual({ data: { byEmail: { id: 'n1', email: CANARY } } });
    const args = seen[0] as { email: Indexes };
    expect(args.email.column).toBe('email_bidx_v1');
    expect(args.email.indexes).toHaveLength(1);
    expect(Object.isFrozen(args.email)).toBe(true);
  });

  it('writes store the same index the repository computes: its findBy finds GraphQL writes', async () => {
    const found = await people.findBy('north', 'email', CANARY);
    expect(found.map((p) => p.id)).toEqual(['n1']);
    const [cols] = await people.writeIndexes([{ tenant: 'north', field: 'email', value: CANARY }]);
    const stored = (await rowsOf("id = 'n1'"))[0] as { email_bidx_v1: string };
    expect(cols).toEqual({ email_bidx_v1: stored.email_bidx_v1 });
  });

  it('re-checks every row the resolver returns: other tenants and other values are dropped', async () => {
    expect((await rowsOf()).length).toBe(4);
    const { body } = await run(
      'query($e: String!) { everyone(email: $e) { id tenant_id } }',
      { e: CANARY },
      'south',
    );
    expect(body).toEqual({ data: { everyone: [{ id: 's1', tenant_id: 'south' }] } });
    const none = await run(
      'query($e: String!) { everyone(email: $e) { id } }',
      { e: 'nobody@example.com' },
      'north',
    );
    expect(none.body).toEqual({ data: { everyone: [] } });
  });

  it('a list argument matches any of its values; null passes through', async () => {
    const { body } = await run(
      'query($e: [String!]) { anyOf(emails: $e) { id } }',
      { e: ['BEA@example.com', CANARY, 'nobody@example.com'] },
      'north',
    );
    expect(body).toEqual({ data: { anyOf: [{ id: 'n1' }, { id: 'n2' }] } });
    const nothing = await run('{ anyOf(emails: null) { id } }', {}, 'north');
    expect(nothing.body).toEqual({ data: { anyOf: [] } });
  });

  it('needs the scopes of the field it matches (no oracle): FORBIDDEN, the resolver not called', async () => {
    const before = resolverCalls;
    const denied = await run('{ bySsn(ssn: "111-22-3333") { id } }', {}, 'north');
    expect(denied.body.data).toBeNull(); // [Person!]! is non-null: the error nulls data
    expect(denied.body.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      field: 'Query.bySsn',
    });
    expect(resolverCalls).toBe(before);
    const allowed = await run(
      '{ bySsn(ssn: "111-22-3333") { id ssn } }',
      {},
      'north',
      'pii:read_ssn',
    );
    expect(allowed.body).toEqual({ data: { bySsn: [{ id: 'n2', ssn: '111-22-3333' }] } });
  });

  it('rejectDeniedOperations refuses an operation passing a lookup the caller may not make', async () => {
    const strict = makeYoga({ ...options(), rejectDeniedOperations: true });
    const ask = async (query: string, scopes = ''): Promise<Body> => {
      const res = await strict.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-tenant': 'north', 'x-scopes': scopes },
        body: JSON.stringify({ query }),
      });
      return (await res.json()) as Body;
    };
    const before = resolverCalls;
    const denied = await ask('{ byEmail(email: "bea@example.com") { id } bySsn(ssn: "1") { id } }');
    expect(denied).not.toHaveProperty('data'); // refused before execution, not field by field
    expect(denied.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      field: 'Query.bySsn',
    });
    await new Promise((r) => setTimeout(r, 100)); // a resolver started would have run by now
    expect(resolverCalls).toBe(before); // not even byEmail ran
    const granted = await ask('{ bySsn(ssn: "111-22-3333") { id } }', 'pii:read_ssn');
    expect(granted).toEqual({ data: { bySsn: [{ id: 'n2' }] } });
    const open = await ask('{ byEmail(email: "bea@example.com") { id } }');
    expect(open).toEqual({ data: { byEmail: { id: 'n2' } } });
  });

  it('no tenant: LOOKUP_ERROR, the resolver not called', async () => {
    const before = resolverCalls;
    const { body, text } = await run(
      'query($e: String!) { byEmail(email: $e) { id } }',
      { e: CANARY },
      '',
    );
    expect(body.errors?.[0]?.extensions).toMatchObject({
      code: 'LOOKUP_ERROR',
      field: 'Query.byEmail',
      argument: 'email',
      reason: 'ERR_INVALID_CONTEXT',
    });
    expect(text.toLowerCase()).not.toContain('canary');
    expect(resolverCalls).toBe(before);
  });

  it('a damaged candidate fails the lookup (DECRYPTION_ERROR): it may be the row asked for', async () => {
    const row = (await rowsOf("id = 'n2'"))[0] as { email: string };
    const moved = (await rowsOf("id = 's1'"))[0] as { email: string };
    await sql.query("UPDATE gqll_people SET email = $1 WHERE id = 'n2'", [moved.email]);
    try {
      const { body, text } = await run(
        'query($e: String!) { everyone(email: $e) { id } }',
        { e: CANARY },
        'north',
      );
      expect(body.data).toBeNull();
      expect(body.errors?.[0]?.extensions).toMatchObject({
        code: 'DECRYPTION_ERROR',
        field: 'Query.everyone',
      });
      expect(text).not.toContain('fs1:');
    } finally {
      await sql.query("UPDATE gqll_people SET email = $1 WHERE id = 'n2'", [row.email]);
    }
  });

  it("a shredded tenant's indexes cannot be computed: LOOKUP_ERROR ERR_KEY_SHREDDED", async () => {
    await admin.shredTenant('doomed');
    // A client started after the shred (running ones drop the key through key events, or
    // when their cache expires).
    const fresh = clientOf();
    yoga = makeYoga(
      options(
        fresh,
        createPostgresRepository({ sql, fs: fresh, model: Person, blindIndex: { indexer } }),
      ),
    );
    const before = resolverCalls;
    const { body } = await run(
      'query($e: String!) { byEmail(email: $e) { id } }',
      { e: 'dora@example.com' },
      'doomed',
    );
    expect(body.errors?.[0]?.extensions).toMatchObject({
      code: 'LOOKUP_ERROR',
      reason: 'ERR_KEY_SHREDDED',
    });
    expect(resolverCalls).toBe(before);
    const write = await run(
      CREATE,
      { input: { tenant_id: 'doomed', id: 'd2', email: 'x@example.com' } },
      'doomed',
    );
    expect(write.body.errors?.[0]?.extensions).toMatchObject({ code: 'ENCRYPTION_ERROR' });
  });

  it('lookup variables are sensitive: their coercion errors are redacted', async () => {
    const q = 'query($e: String!) { byEmail(email: $e) { id } }';
    const schema = fieldsealSchema(baseSchema(), options());
    expect(sensitiveVariables(schema, parse(q))).toEqual(new Set(['e']));
    const { text } = await run(q, { e: { canary: CANARY } }, 'north');
    expect(text).toContain('[REDACTED]');
    expect(text.toLowerCase()).not.toContain('canary');
  });
});

describe('on Apollo Server over HTTP (127.0.0.1)', () => {
  let server: ApolloServer<{ tenant: string; scopes: string[] }>;
  let url: string;
  beforeAll(async () => {
    server = new ApolloServer<{ tenant: string; scopes: string[] }>({
      schema: fieldsealSchema(baseSchema(), options()),
      plugins: [fieldsealApolloPlugin()],
    });
    ({ url } = await startStandaloneServer(server, {
      listen: { port: 0, host: '127.0.0.1' },
      context: async ({ req }) =>
        Promise.resolve({
          tenant: String(req.headers['x-tenant'] ?? ''),
          scopes: String(req.headers['x-scopes'] ?? '')
            .split(',')
            .filter(Boolean),
        }),
    }));
  });
  afterAll(async () => {
    await server?.stop();
  });
  const apollo = async (query: string, variables: object, tenant: string): Promise<string> => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenant': tenant },
      body: JSON.stringify({ query, variables }),
    });
    return res.text();
  };

  it('writes encrypted inputs with their index, finds them by lookup, re-checks, redacts', async () => {
    const email = 'Canary.Apollo@Example.COM';
    const wrote = await apollo(CREATE, { input: { tenant_id: 'north', id: 'a1', email } }, 'north');
    expect(JSON.parse(wrote)).toEqual({ data: { createPerson: true } });
    const stored = (await rowsOf("id = 'a1'"))[0] as Record<string, unknown>;
    expect(stored.email).toMatch(/^fs1:/);
    expect(typeof stored.email_bidx_v1).toBe('string');
    expect(JSON.stringify(stored).toLowerCase()).not.toContain('canary');
    const found = await apollo(
      'query($e: String!) { byEmail(email: $e) { id email } }',
      { e: ' canary.apollo@example.com' },
      'north',
    );
    expect(JSON.parse(found)).toEqual({ data: { byEmail: { id: 'a1', email } } });
    const all = await apollo(
      'query($e: String!) { everyone(email: $e) { id } }',
      { e: email },
      'north',
    );
    expect(JSON.parse(all)).toEqual({ data: { everyone: [{ id: 'a1' }] } });
    const bad = await apollo(
      'query($e: String!) { byEmail(email: $e) { id } }',
      { e: { canary: email } },
      'north',
    );
    expect(bad).toContain('[REDACTED]');
    expect(bad.toLowerCase()).not.toContain('canary');
  });
});

type Extra = Partial<FieldsealGraphQLOptions> | (() => Partial<FieldsealGraphQLOptions>);

describe('setup refuses what would fail open', () => {
  const build = (sdl: string, extra: Partial<FieldsealGraphQLOptions> = {}): GraphQLSchema =>
    fieldsealSchema(createSchema({ typeDefs: `${fieldsealDirectives}\n${sdl}` }), {
      ...options(),
      ...extra,
    });
  const person = 'type Person { id: ID! email: String @encrypted(model: "Person") }';

  it.each([
    [
      'a field without a blind index',
      `${person} type Query { p(note: String @lookup(model: "Person")): Person }`,
      {},
      /has no blind index/,
    ],
    [
      'no index source for the model',
      `${person} type Query { p(email: String @lookup(model: "Person")): Person }`,
      { blindIndexes: {} },
      /options\.blindIndexes/,
    ],
    [
      "another model's source",
      `${person} type Query { p(email: String @lookup(model: "Person")): Person }`,
      () => ({
        blindIndexes: {
          Person: createPostgresRepository({ sql, fs, model: Other, blindIndex: { indexer } }),
        },
      }),
      /indexes another model/,
    ],
    [
      'a field that does not return rows',
      'type Query { p(email: String @lookup(model: "Person")): String }',
      {},
      /returns the rows/,
    ],
    [
      'an input declaring the index column a client could forge',
      `${person} input I { tenant_id: String!, id: ID!, email: String @encrypted(model: "Person"), email_bidx_v1: String }
       type Query { p: Person } type Mutation { m(i: I): Boolean }`,
      {},
      /set by fieldseal, not by the client/,
    ],
    [
      'a blind-indexed @encrypted input without its index source',
      `${person} input I { tenant_id: String!, id: ID!, email: String @encrypted(model: "Person") }
       type Query { p: Person } type Mutation { m(i: I): Boolean }`,
      { blindIndexes: {} },
      /has a blind index: pass options\.blindIndexes\.Person/,
    ],
  ] as [string, string, Extra, RegExp][])('%s', (_what, sdl, extra, message) => {
    const more = typeof extra === 'function' ? extra() : extra;
    expect(() => build(sdl, more)).toThrow(FieldsealSchemaError);
    expect(() => build(sdl, more)).toThrow(message);
  });
});
