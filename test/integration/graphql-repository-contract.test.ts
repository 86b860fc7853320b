import { GraphQLScalarType, Kind, type GraphQLSchema } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, it, vi } from 'vitest';
import {
  AuthenticationFailedError,
  BatchError,
  KeyShreddedError,
  PlaintextInEncryptedFieldError,
  WrongKeyError,
} from '../../src/errors.js';
import type { Fieldseal } from '../../src/index.js';
import { schemaOf, type FieldSchema } from '../../src/integration/index.js';
import { fieldsealDirectives, useFieldseal } from '../../src/integrations/graphql/index.js';
import { createPostgresRepository, type SqlClient } from '../../src/postgres/index.js';
import {
  RepositoryContractModel,
  runRepositoryContract,
  type RepositoryContractRecord,
  type RepositoryUnderTest,
} from '../../src/testing/index.js';
import { postgresBackend } from './postgres-contract-backend.js';
import { onBothBackends } from './repository-backends.js';

/* graphql 16 has no `exports` map: see graphql-servers.test.ts (one copy of graphql). */
vi.mock('graphql', async () => {
  const { createRequire } = await import('node:module');
  return createRequire(import.meta.url)('graphql') as object;
});

/*
 * The repository contract (fieldseal/testing) through fieldseal/graphql: every record is
 * written by a mutation whose @encrypted inputs arrive at the resolver encrypted (with their
 * blind-index columns), read back by queries whose @encrypted fields decrypt, and found by
 * @lookup arguments, on the contract's PostgreSQL table (PGlite and the server). The
 * contract's canary checks then hold for the GraphQL layer: raw storage holds no plaintext,
 * moved or injected values and shredded tenants are refused, and the whole GraphQL response of
 * a refusal (carried in the error message below) holds no injected plaintext.
 */
const model = RepositoryContractModel;
const plan = schemaOf(model);

const scalar = (name: string, out: (v: unknown) => unknown, parse: (v: unknown) => unknown) =>
  new GraphQLScalarType({
    name,
    serialize: out,
    parseValue: parse,
    parseLiteral: (ast) => (ast.kind === Kind.STRING ? parse(ast.value) : undefined),
  });
const scalars = {
  BigInt: scalar(
    'BigInt',
    (v) => (typeof v === 'bigint' || typeof v === 'string' ? String(v) : undefined),
    (v) => BigInt(v as string),
  ),
  DateTime: scalar(
    'DateTime',
    (v) => (v instanceof Date ? v.toISOString() : undefined),
    (v) => new Date(v as string),
  ),
  Bytes: scalar(
    'Bytes',
    (v) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : undefined),
    (v) => Buffer.from(v as string, 'base64'),
  ),
  // Every double, NaN, ±Infinity and -0 included (GraphQL's Float and JSON have none of them).
  Double: scalar(
    'Double',
    (v) => (typeof v === 'number' ? (Object.is(v, -0) ? '-0' : String(v)) : undefined),
    (v) => Number(v),
  ),
  JSON: scalar(
    'JSON',
    (v) => v,
    (v) => v,
  ),
};
const GRAPHQL_TYPE = {
  string: 'String',
  number: 'Double',
  bigint: 'BigInt',
  boolean: 'Boolean',
  date: 'DateTime',
  bytes: 'Bytes',
  json: 'JSON',
} as const;

const decl = (f: FieldSchema): string =>
  `${f.name}: ${GRAPHQL_TYPE[f.kind]}${f.encryption ? ' @encrypted(model: "R")' : ''}`;
const fieldsOf = plan.fields.map(decl).join('\n    ');
const typeDefs = `${fieldsealDirectives}
  scalar BigInt
  scalar DateTime
  scalar Bytes
  scalar JSON
  scalar Double
  type Record {
    ${fieldsOf}
  }
  input RecordInput {
    ${fieldsOf}
  }
  type Query {
    get(tenantId: String!, id: ID!): Record
    all(tenantId: String!): [Record!]!
    findByEmail(tenantId: String!, email: String! @lookup(model: "R")): [Record!]!
    findByPhone(tenantId: String!, phone: String! @lookup(model: "R")): [Record!]!
  }
  type Mutation { insert(records: [RecordInput!]!): Int }
`;
const SELECTION = `{ ${plan.fields.map((f) => f.name).join(' ')} }`;

const PG_TYPE = {
  string: 'text',
  number: 'double precision',
  bigint: 'numeric',
  boolean: 'boolean',
  date: 'timestamptz',
  bytes: 'bytea',
  json: 'jsonb',
} as const;

/** The SQL type and parameter of one value a resolver received (envelopes as they are). */
function column(f: FieldSchema, v: unknown): [string, unknown] {
  if (f.encryption !== undefined) {
    return [f.encryption.storage === 'text' ? 'text' : 'bytea', v ?? null];
  }
  if (v === null || v === undefined) return [PG_TYPE[f.kind], null];
  if (f.kind === 'bigint') return ['numeric', (v as bigint).toString()];
  if (f.kind === 'date') return ['timestamptz', (v as Date).toISOString()];
  if (f.kind === 'json') return ['jsonb', JSON.stringify(v)];
  return [PG_TYPE[f.kind], v];
}

function baseSchema(sql: SqlClient): GraphQLSchema {
  const rows = async (where: string, params: unknown[]): Promise<unknown[]> =>
    (await sql.query(`SELECT * FROM contract_records WHERE ${where} ORDER BY id`, params)).rows;
  const byIndex = (tenant: string, q: { column: string; indexes: readonly string[] }) =>
    rows(`"tenantId" = $1 AND "${q.column}" = ANY($2::text[])`, [tenant, q.indexes]);
  return createSchema({
    typeDefs,
    resolvers: {
      ...scalars,
      Query: {
        get: async (_: unknown, a: { tenantId: string; id: string }) =>
          (await rows('"tenantId" = $1 AND id = $2', [a.tenantId, a.id]))[0],
        all: (_: unknown, a: { tenantId: string }) => rows('"tenantId" = $1', [a.tenantId]),
        findByEmail: (_: unknown, a: { tenantId: string; email: never }) =>
          byIndex(a.tenantId, a.email),
        findByPhone: (_: unknown, a: { tenantId: string; phone: never }) =>
          byIndex(a.tenantId, a.phone),
      },
      Mutation: {
        insert: async (_: unknown, a: { records: Record<string, unknown>[] }) => {
          for (const r of a.records) {
            const names: string[] = [];
            const values: string[] = [];
            const params: unknown[] = [];
            for (const f of plan.fields) {
              const [type, value] = column(f, r[f.name]);
              params.push(value);
              names.push(`"${f.name}"`);
              values.push(`$${params.length}::${type}`);
            }
            // The blind-index columns fieldseal set next to the envelopes.
            for (const [name, value] of Object.entries(r)) {
              if (!/_bidx_v\d+$/.test(name)) continue;
              params.push(value);
              names.push(`"${name}"`);
              values.push(`$${params.length}::text`);
            }
            await sql.query(
              `INSERT INTO contract_records (${names.join(', ')}) VALUES (${values.join(', ')})`,
              params,
            );
          }
          return a.records.length;
        },
      },
    },
  });
}

/** A record as GraphQL variables carry it. */
function toVariables(record: RepositoryContractRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of plan.fields) {
    const v = (record as Record<string, unknown>)[f.name];
    if (v === undefined) continue;
    out[f.name] =
      v === null
        ? null
        : f.kind === 'bigint'
          ? (v as bigint).toString()
          : f.kind === 'number'
            ? scalars.Double.serialize(v)
            : f.kind === 'date'
              ? (v as Date).toISOString()
              : f.kind === 'bytes'
                ? Buffer.from(v as Uint8Array).toString('base64')
                : v;
  }
  return out;
}

/** A record from a GraphQL response (an optional field stored as NULL is absent). */
function fromResponse(data: Record<string, unknown>): RepositoryContractRecord {
  const out: Record<string, unknown> = {};
  for (const f of plan.fields) {
    const v = data[f.name];
    if (v === null || v === undefined) {
      if (!f.optional) out[f.name] = null;
      continue;
    }
    out[f.name] =
      f.kind === 'bigint'
        ? BigInt(v as string)
        : f.kind === 'number'
          ? Number(v)
          : f.kind === 'date'
            ? new Date(v as string)
            : f.kind === 'bytes'
              ? new Uint8Array(Buffer.from(v as string, 'base64'))
              : v;
  }
  return out as RepositoryContractRecord;
}

const ERRORS = {
  ERR_AUTHENTICATION_FAILED: AuthenticationFailedError,
  ERR_WRONG_KEY: WrongKeyError,
  ERR_PLAINTEXT_IN_ENCRYPTED_FIELD: PlaintextInEncryptedFieldError,
  ERR_KEY_SHREDDED: KeyShreddedError,
} as const;

interface GqlError {
  readonly message: string;
  readonly extensions?: Record<string, unknown>;
}

/**
 * The GraphQL errors of a response as the fieldseal errors a repository would throw: the
 * code from `extensions.reason`, the field (`Record.binString` → `contract_records.binString`)
 * in `details.field`, and the WHOLE response text as the message, so that the contract's
 * "the error never contains the value" check covers everything the client received. A reason
 * the contract does not expect stays a plain Error (the contract then fails).
 */
function toError(text: string, errors: readonly GqlError[]): Error {
  const mapped = errors.map((e) => {
    const reason = e.extensions?.reason;
    const Class = typeof reason === 'string' ? ERRORS[reason as keyof typeof ERRORS] : undefined;
    if (Class === undefined) return new Error(`GraphQL error: ${text}`);
    const where = typeof e.extensions?.field === 'string' ? e.extensions.field : '';
    const field = where.startsWith('Record.') ? `${plan.table}.${where.slice(7)}` : undefined;
    return new Class(`GraphQL ${reason as string}: ${text}`, {
      details: field === undefined ? {} : { field },
    });
  });
  if (mapped.length === 1) return mapped[0]!;
  const plain = mapped.find((e) => !('code' in e));
  if (plain !== undefined) return plain;
  return new BatchError(mapped.map((error, index) => ({ index, error: error as never })));
}

function graphQLRepository(fs: Fieldseal, sql: SqlClient, source: unknown): RepositoryUnderTest {
  const yoga = createYoga({
    schema: baseSchema(sql),
    plugins: [
      useFieldseal({
        fs,
        models: { R: model },
        blindIndexes: { R: source as never },
      }),
    ],
    context: () => ({}),
    logging: false,
  });
  const call = async (query: string, variables: object): Promise<Record<string, unknown>> => {
    const res = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    const text = await res.text();
    const body = JSON.parse(text) as { data?: Record<string, unknown>; errors?: GqlError[] };
    if (body.errors !== undefined && body.errors.length > 0) throw toError(text, body.errors);
    return body.data!;
  };
  const list = (data: Record<string, unknown>, key: string): RepositoryContractRecord[] =>
    (data[key] as Record<string, unknown>[]).map(fromResponse);
  return {
    insert: async (records) => {
      await call('mutation($r: [RecordInput!]!) { insert(records: $r) }', {
        r: records.map(toVariables),
      });
    },
    get: async (tenant, id) => {
      const data = await call(
        `query($t: String!, $id: ID!) { get(tenantId: $t, id: $id) ${SELECTION} }`,
        { t: tenant, id },
      );
      return data.get === null ? undefined : fromResponse(data.get as Record<string, unknown>);
    },
    findBy: async (tenant, field, value) => {
      const name = field === 'email' ? 'findByEmail' : 'findByPhone';
      const data = await call(
        `query($t: String!, $v: String!) { ${name}(tenantId: $t, ${field}: $v) ${SELECTION} }`,
        { t: tenant, v: value },
      );
      return list(data, name);
    },
    all: async (tenant) =>
      list(
        await call(`query($t: String!) { all(tenantId: $t) ${SELECTION} }`, { t: tenant }),
        'all',
      ),
  };
}

onBothBackends((backend, sql) => {
  const pg = postgresBackend(`fieldseal/graphql (Yoga) on ${backend}`, sql);
  runRepositoryContract(
    { describe, it, beforeAll, afterAll },
    {
      ...pg,
      capabilities: { reencrypt: true },
      async open(setup) {
        const raw = await pg.open(setup);
        return {
          ...raw,
          repository: (fs) =>
            graphQLRepository(
              fs,
              sql(),
              createPostgresRepository({
                sql: sql(),
                fs,
                model,
                blindIndex: { indexer: setup.indexer },
              }),
            ),
        };
      },
    },
  );
});
