// fieldseal GraphQL benchmark (issue #14): the latency a request gains when 100 users × 3
// encrypted fields are decrypted through fieldseal/graphql, against the same query over
// plaintext columns, on GraphQL Yoga over real HTTP on 127.0.0.1, in one process. Called at
// the end of bench/run.js; also runs alone: `npm run build && node bench/graphql.js`.
// Uses only the built public API. Exits non-zero (BenchFailure) on a wrong response.
import { createServer } from 'node:http';
import { hrtime } from 'node:process';
import { pathToFileURL } from 'node:url';

import { createFieldseal, defineModel, field } from '../dist/index.js';
import { fieldsealDirectives, useFieldseal } from '../dist/integrations/graphql/index.js';
import { modelCodec } from '../dist/integration/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../dist/testing/index.js';
import { BenchFailure, check, fmtRatio, median, table } from './harness.js';

const USERS = 100;
const ROUNDS = Math.max(5, Number(process.env.BENCH_GRAPHQL_ROUNDS ?? 7));
const REQUESTS = Math.max(10, Number(process.env.BENCH_GRAPHQL_REQUESTS ?? 40)); // per round

const User = defineModel({
  table: 'users',
  tenant: 'tenant_id',
  key: ['id'],
  fields: {
    tenant_id: field.string(),
    id: field.string(),
    name: field.string(),
    email: field.string().encrypted({ storage: 'text' }),
    phone: field.string().encrypted({ storage: 'text' }),
    ssn: field.string().encrypted({ storage: 'text' }),
  },
});

const typeDefs = (sealed) => `${sealed ? fieldsealDirectives : ''}
  type User {
    id: ID!
    name: String!
    email: String ${sealed ? '@encrypted(model: "User")' : ''}
    phone: String ${sealed ? '@encrypted(model: "User")' : ''}
    ssn: String ${sealed ? '@encrypted(model: "User")' : ''}
  }
  type Query { users: [User!]! }`;

const QUERY = '{ users { id name email phone ssn } }';

async function serve(yoga) {
  const server = createServer(yoga);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return { url: `http://127.0.0.1:${port}/graphql`, close: () => server.close() };
}

async function request(url) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: QUERY }),
  });
  return /** @type {{ data?: { users: Record<string, string>[] }, errors?: unknown[] }} */ (
    await res.json()
  );
}

/** Median milliseconds per request over `REQUESTS` sequential requests. */
async function timeRequests(url) {
  const times = [];
  for (let i = 0; i < REQUESTS; i++) {
    const t0 = hrtime.bigint();
    await request(url);
    times.push(Number(hrtime.bigint() - t0) / 1e6);
  }
  return median(times.sort((a, b) => a - b));
}

export async function runGraphQLBenchmarks() {
  const { createSchema, createYoga } = await import('graphql-yoga');
  const store = new MemoryKeyStore();
  const fs = createFieldseal({
    admin: true,
    provider: new MemoryKeyProvider(),
    keys: { mode: 'store', store, masterKeyId: 'master' },
    cache: { maxAgeMs: 3_600_000 },
    models: [User],
  });
  await fs.provisionTenant('acme');
  const plain = Array.from({ length: USERS }, (_, i) => ({
    tenant_id: 'acme',
    id: `u${i}`,
    name: `user ${i}`,
    email: `user${i}@acme.example`,
    phone: `+1-555-${String(1000 + i)}`,
    ssn: `521-44-${String(1000 + i)}`,
  }));
  const stored = await modelCodec(fs, User).encrypt(plain);

  const plainYoga = createYoga({
    schema: createSchema({
      typeDefs: typeDefs(false),
      resolvers: { Query: { users: () => plain } },
    }),
    logging: false,
  });
  const sealedYoga = createYoga({
    schema: createSchema({
      typeDefs: typeDefs(true),
      resolvers: { Query: { users: () => stored } },
    }),
    plugins: [useFieldseal({ fs, models: { User } })],
    logging: false,
  });
  const servers = [await serve(plainYoga), await serve(sealedYoga)];
  try {
    const [p, s] = await Promise.all(servers.map((x) => request(x.url)));
    check(
      JSON.stringify(p) === JSON.stringify(s),
      'the sealed server answers exactly as the plaintext one',
    );
    check(!JSON.stringify(s).includes('fs1:'), 'no envelope in the response');
    const before = fs.stats().values.decrypted;
    await request(servers[1].url);
    check(
      fs.stats().values.decrypted - before === USERS * 3,
      `${USERS * 3} values decrypted per request`,
    );

    const plainMs = [];
    const sealedMs = [];
    for (let r = 0; r < ROUNDS; r++) {
      // Interleaved, so drift in machine load hits both alike.
      plainMs.push(await timeRequests(servers[0].url));
      sealedMs.push(await timeRequests(servers[1].url));
    }
    plainMs.sort((a, b) => a - b);
    sealedMs.sort((a, b) => a - b);
    const ratios = plainMs.map((_, i) => sealedMs[i] / plainMs[i]).sort((a, b) => a - b);
    const pm = median(plainMs);
    const sm = median(sealedMs);
    console.log(
      `\nGraphQL (Yoga over HTTP on 127.0.0.1): ${USERS} users × 3 fields per request, ` +
        `${ROUNDS} rounds × ${REQUESTS} requests, median per request`,
    );
    console.log(
      table(
        ['query', 'ms / request', 'added ms', 'per value', 'ratio (min–max)'],
        [
          ['plaintext columns', pm.toFixed(2), '—', '—', '1.00x'],
          [
            'fieldseal/graphql',
            sm.toFixed(2),
            (sm - pm).toFixed(2),
            `${(((sm - pm) * 1000) / (USERS * 3)).toFixed(2)} µs`,
            `${fmtRatio(median(ratios))} (${fmtRatio(ratios[0])}–${fmtRatio(ratios.at(-1))})`,
          ],
        ],
        ['l', 'r', 'r', 'r', 'r'],
      ),
    );
  } finally {
    for (const s of servers) s.close();
    fs.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runGraphQLBenchmarks().catch((err) => {
    console.error(err instanceof BenchFailure ? `FAIL: ${err.message}` : err);
    process.exit(1);
  });
}
