// fieldseal/graphql, end to end, in the shape of FraiseQL's field-encryption guide: a GraphQL
// Yoga server on node:http over a `tb_user` base table whose `email`, `phone` and `ssn`
// columns hold fieldseal envelopes (TEXT), a `v_user` view the queries read, and a
// `fn_create_user` function that receives ciphertext only (it refuses anything else). Clients
// send and receive plaintext; `ssn` needs the `pii:read_ssn` scope; `user(email:)` finds a
// user through the email's blind index (the seed's lookup table) and `usersByEmail` through
// its index column (the seed's HMAC column), both re-checked after decryption.
//
// Embedded PostgreSQL (PGlite, in memory, or in FIELDSEAL_EXAMPLE_PGLITE_DIR) by default; the
// PostgreSQL server when DATABASE_URL is set. The master key and the blind-index key are files in .fieldseal/example-graphql/
// (created on first run, mode 0600). From the repository root:
//   npm run example:graphql          (PORT=4000 by default; PORT=0 picks a free port)
// Requests carry the tenant in `x-tenant` (default `acme`) and scopes in `x-scopes`, as an
// authenticated gateway would set them.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { createSchema, createYoga } from 'graphql-yoga';
import { responsePathAsArray } from 'graphql';
import {
  createBlindIndexer,
  createFieldseal,
  defineModel,
  field,
  FileSecretSource,
  generateKeyFile,
  LocalKeyProvider,
} from 'fieldseal';
import { fieldsealDirectives, useFieldseal } from 'fieldseal/graphql';
import {
  createPostgresRepository,
  fromPGlite,
  fromPgPool,
  migrate,
  PostgresKeyStore,
} from 'fieldseal/postgres';

const dir = resolve(process.env.FIELDSEAL_EXAMPLE_DIR ?? '.fieldseal/example-graphql');
const keyFile = (name) => {
  const path = join(dir, `${name}.key`);
  if (!existsSync(path)) generateKeyFile(path);
  return path;
};
const keys = new FileSecretSource({
  keys: { master: keyFile('master'), 'blind-index': keyFile('blind-index') },
});

// The database: the server when DATABASE_URL is set, else PGlite in memory.
let sql;
let close;
if (process.env.DATABASE_URL) {
  const pg = (await import('pg')).default;
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
  sql = fromPgPool(pool);
  close = () => pool.end();
} else {
  // In memory, or kept in the directory FIELDSEAL_EXAMPLE_PGLITE_DIR names.
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(process.env.FIELDSEAL_EXAMPLE_PGLITE_DIR);
  sql = fromPGlite(db);
  close = () => db.close();
}
await migrate(sql); // fieldseal's own tables: the tenants' wrapped data keys, ...

await sql.exec(`
  CREATE TABLE IF NOT EXISTS tb_user (
    pk_user BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT UNIQUE NOT NULL,  -- made by the application: it is part of each value's context
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,      -- fieldseal envelope (fs1:...)
    phone TEXT,               -- fieldseal envelope
    ssn TEXT,                 -- fieldseal envelope
    email_bidx_v1 TEXT        -- the email's blind index (the seed's email_hmac)
  );
  CREATE INDEX IF NOT EXISTS idx_tb_user_email_bidx ON tb_user (tenant_id, email_bidx_v1);
  CREATE TABLE IF NOT EXISTS tb_user_email_lookup (
    pk_user_email_lookup BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    identifier TEXT NOT NULL, -- the email's blind index (not unique: indexes may collide)
    fk_user BIGINT NOT NULL REFERENCES tb_user (pk_user)
  );
  CREATE INDEX IF NOT EXISTS idx_tb_user_email_lookup ON tb_user_email_lookup (identifier);
  CREATE OR REPLACE VIEW v_user AS
    SELECT u.pk_user, u.id, u.tenant_id, u.name, u.email, u.phone, u.ssn FROM tb_user u;
  CREATE OR REPLACE FUNCTION fn_create_user(
    p_tenant TEXT, p_id TEXT, p_name TEXT, p_email TEXT, p_phone TEXT, p_ssn TEXT,
    p_email_index TEXT
  ) RETURNS TEXT LANGUAGE plpgsql AS $$
  DECLARE v_pk BIGINT;
  BEGIN
    -- Defence in depth: encrypted columns take envelopes only, never plaintext.
    IF p_email NOT LIKE 'fs1:%' OR p_phone NOT LIKE 'fs1:%' OR p_ssn NOT LIKE 'fs1:%'
       OR p_email IS NULL OR p_email_index IS NULL THEN
      RAISE EXCEPTION 'fn_create_user: encrypted columns take fieldseal envelopes only';
    END IF;
    INSERT INTO tb_user (id, tenant_id, name, email, phone, ssn, email_bidx_v1)
      VALUES (p_id, p_tenant, p_name, p_email, p_phone, p_ssn, p_email_index)
      RETURNING pk_user INTO v_pk;
    INSERT INTO tb_user_email_lookup (identifier, fk_user) VALUES (p_email_index, v_pk);
    RETURN p_id;
  END $$;
`);

const User = defineModel({
  table: 'tb_user',
  tenant: 'tenant_id',
  key: ['id'],
  fields: {
    tenant_id: field.string(),
    id: field.string(),
    name: field.string(),
    email: field
      .string()
      .encrypted({ storage: 'text' })
      .blindIndex({ normalize: ['trim', 'lowercase', 'nfc'] }),
    phone: field.string().encrypted({ storage: 'text' }).nullable(),
    ssn: field.string().encrypted({ storage: 'text' }).nullable(),
  },
});

const options = {
  provider: new LocalKeyProvider({ source: keys }),
  keys: { mode: 'store', store: new PostgresKeyStore({ sql }), masterKeyId: 'master' },
  cache: { maxAgeMs: 5 * 60_000 }, // each tenant's data key is unwrapped once per 5 minutes
  models: [User],
};
// The server's client manages no keys: a tenant without a data key is refused, not created.
const fs = createFieldseal(options);
// Onboarding (here, at start) is the only place that may create a tenant's first data key.
const onboarding = createFieldseal({ ...options, admin: ['provision'] });
for (const tenant of ['acme', 'globex']) await onboarding.provisionTenant(tenant); // idempotent
// The repository is used here only for its blind indexes (the secrets table it creates and
// the index of a lookup or a write); the SQL below is the application's own.
const users = createPostgresRepository({
  sql,
  fs,
  model: User,
  blindIndex: { indexer: await createBlindIndexer({ source: keys, reference: 'blind-index' }) },
});
await users.createTable(); // tb_user exists: this adds the tenants' index-secrets table

const typeDefs = /* GraphQL */ `
  ${fieldsealDirectives}
  type User {
    id: ID!
    name: String!
    email: String @encrypted(model: "User")
    phone: String @encrypted(model: "User")
    ssn: String
      @encrypted(model: "User")
      @requiresScope(scope: "pii:read_ssn", onDeny: MASK, mask: "***-**-****")
  }
  input CreateUserInput {
    name: String!
    email: String! @encrypted(model: "User")
    phone: String @encrypted(model: "User")
    ssn: String @encrypted(model: "User")
  }
  type Query {
    users: [User!]!
    "Through the email's lookup table (tb_user_email_lookup)."
    user(email: String! @lookup(model: "User")): User
    "Through the email's index column (tb_user.email_bidx_v1)."
    usersByEmail(emails: [String!]! @lookup(model: "User", field: "email")): [User!]!
  }
  type Mutation {
    createUser(input: CreateUserInput!): User
  }
`;

const byId = async (tenant, id) =>
  (await sql.query('SELECT * FROM v_user WHERE tenant_id = $1 AND id = $2', [tenant, id])).rows[0];

const resolvers = {
  Query: {
    users: async (_, __, ctx) =>
      (await sql.query('SELECT * FROM v_user WHERE tenant_id = $1 ORDER BY pk_user', [ctx.tenant]))
        .rows,
    // `email` arrives as { column, indexes }: the blind indexes, never the address.
    user: async (_, { email }, ctx) =>
      (
        await sql.query(
          `SELECT v.* FROM v_user v JOIN tb_user_email_lookup l ON l.fk_user = v.pk_user
            WHERE v.tenant_id = $1 AND l.identifier = ANY($2::text[]) ORDER BY v.pk_user LIMIT 1`,
          [ctx.tenant, email.indexes],
        )
      ).rows[0],
    usersByEmail: async (_, { emails }, ctx) =>
      (
        await sql.query(
          `SELECT v.* FROM v_user v JOIN tb_user u ON u.pk_user = v.pk_user
            WHERE v.tenant_id = $1 AND u."${emails.column}" = ANY($2::text[]) ORDER BY v.pk_user`,
          [ctx.tenant, emails.indexes],
        )
      ).rows,
  },
  Mutation: {
    // `input` holds envelopes bound to (tenant, tb_user, field, id) and the email's index.
    createUser: async (_, { input }, ctx, info) => {
      const id = ctx.recordId(info);
      await sql.query('SELECT fn_create_user($1, $2, $3, $4, $5, $6, $7)', [
        ctx.tenant,
        id,
        input.name,
        input.email,
        input.phone ?? null,
        input.ssn ?? null,
        input.email_bidx_v1,
      ]);
      return byId(ctx.tenant, id);
    },
  },
};

const yoga = createYoga({
  schema: createSchema({ typeDefs, resolvers }),
  plugins: [
    useFieldseal({
      fs,
      models: { User },
      blindIndexes: { User: users },
      scopes: (ctx) => ctx.scopes,
      lookupTenant: (_args, ctx) => ctx.tenant,
      // The record a new user's values are bound to: its id, made here before encryption.
      inputContext: (_args, ctx, info) => ({ tenant: ctx.tenant, record: ctx.recordId(info) }),
    }),
  ],
  context: ({ request }) => {
    const ids = new Map();
    return {
      tenant: request.headers.get('x-tenant') || 'acme',
      scopes: (request.headers.get('x-scopes') ?? '').split(/[\s,]+/).filter(Boolean),
      // One new id per mutation field of the request, the same for its values and its row.
      recordId: (info) => {
        const at = responsePathAsArray(info.path).join('.');
        if (!ids.has(at)) ids.set(at, randomUUID());
        return ids.get(at);
      },
    };
  },
  graphiql: false,
  logging: false,
});

// Two users of acme and one of globex, created through the API itself.
const { rows } = await sql.query('SELECT count(*)::int AS n FROM tb_user');
if (rows[0].n === 0) {
  const seed = [
    ['acme', 'Ada Lovelace', 'ada@acme.example', '+44 20 7946 0958', '521-44-8790'],
    ['acme', 'Alan Turing', 'alan@acme.example', '+44 20 7946 0112', '078-05-1120'],
    ['globex', 'Grace Hopper', 'grace@globex.example', '+1 212 555 0147', '219-09-9999'],
  ];
  for (const [tenant, name, email, phone, ssn] of seed) {
    const res = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenant': tenant },
      body: JSON.stringify({
        query: 'mutation($input: CreateUserInput!) { createUser(input: $input) { id } }',
        variables: { input: { name, email, phone, ssn } },
      }),
    });
    const body = await res.json();
    if (body.errors) throw new Error(`seeding failed: ${JSON.stringify(body.errors)}`);
  }
}

const server = createServer(yoga);
const port = Number(process.env.PORT ?? 4000);
server.listen(port, '127.0.0.1', async () => {
  const url = `http://127.0.0.1:${server.address().port}/graphql`;
  const raw = await sql.query('SELECT id, tenant_id, email, ssn FROM tb_user ORDER BY pk_user');
  console.log(`What tb_user holds (${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'}):`);
  for (const r of raw.rows) {
    const cut = (v) => (v === null ? 'NULL' : `${v.slice(0, 30)}…`);
    console.log(
      `  ${r.tenant_id.padEnd(7)} ${r.id.slice(0, 8)}…  email=${cut(r.email)}  ssn=${cut(r.ssn)}`,
    );
  }
  console.log(`fieldseal GraphQL example on ${url}`);
  console.log(
    `try: curl -s ${url} -H 'content-type: application/json' -H 'x-scopes: pii:read_ssn' \\\n` +
      `       -d '{"query":"{ user(email: \\"ADA@acme.example\\") { name email ssn } }"}'`,
  );
});

const stop = () => server.close(() => void close().then(() => process.exit(0)));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
