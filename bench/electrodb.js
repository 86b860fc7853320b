// fieldseal sealed document client benchmark (issue #16): ElectroDB batch put and batch get of
// 2,000 items x 3 encrypted string attributes (10 tenants) on DynamoDB Local, through a plain
// DynamoDBDocumentClient and through sealDocumentClient (the same entity, the same table
// layout), interleaved after an untimed warm-up; the time ratio, and key-provider calls per
// 1,000 items read by a cold client. Called by bench/run.js; also runs alone:
// `npm run build && node bench/electrodb.js`. Exits non-zero on a wrong value.
import { pathToFileURL } from 'node:url';

import { Entity } from 'electrodb';

import { createFieldseal, defineModel, field } from '../dist/index.js';
import { sealDocumentClient } from '../dist/dynamodb/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../dist/testing/index.js';
import { startDynamoLocal } from './dynamodb.js';
import { BenchFailure, check, fmtInt, fmtRatio, table } from './harness.js';

const ITEMS = Number(process.env.BENCH_ELECTRODB_ITEMS ?? 2_000);
const TENANTS = 10;
const ROUNDS = 3;

const modelFor = (tableName) =>
  defineModel({
    table: tableName,
    tenant: 'tenantId',
    key: ['pk', 'sk'],
    fields: {
      pk: field.string(),
      sk: field.string(),
      tenantId: field.string(),
      id: field.string(),
      email: field.string().encrypted(),
      phone: field.string().encrypted(),
      address: field.string().encrypted({ storage: 'text' }),
    },
  });

const entityFor = (client, tableName) =>
  new Entity(
    {
      model: { entity: 'profile', version: '1', service: 'bench' },
      attributes: {
        tenantId: { type: 'string', required: true },
        id: { type: 'string', required: true },
        email: { type: 'string', required: true },
        phone: { type: 'string', required: true },
        address: { type: 'string', required: true },
      },
      indexes: {
        primary: {
          pk: { field: 'pk', composite: ['tenantId'] },
          sk: { field: 'sk', composite: ['id'] },
        },
      },
    },
    { client, table: tableName },
  );

const profile = (i) => {
  const tenantId = `t${i % TENANTS}`;
  const n = String(i).padStart(8, '0');
  return {
    tenantId,
    id: `p${n}`,
    email: `user-${n}@${tenantId}.example.com`,
    phone: `+1-555-${n}`,
    address: `${n} Long Street, Springfield ${tenantId}`,
  };
};

async function createTable(ddb, client, TableName) {
  await client.send(
    new ddb.CreateTableCommand({
      TableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
}

/** Put every profile (ElectroDB batches 25 per BatchWrite), then get them back in batches. */
async function pass(entity, records) {
  const t0 = performance.now();
  await entity.put(records).go();
  const t1 = performance.now();
  const got = [];
  for (let at = 0; at < records.length; at += 100) {
    const keys = records.slice(at, at + 100).map(({ tenantId, id }) => ({ tenantId, id }));
    const { data, unprocessed } = await entity.get(keys).go();
    check(unprocessed.length === 0, 'unprocessed keys in a benchmark batch get');
    got.push(...data);
  }
  const t2 = performance.now();
  check(got.length === records.length, `read ${got.length} of ${records.length} profiles`);
  const byId = new Map(got.map((p) => [p.id, p]));
  for (const want of [records[0], records[records.length >> 1], records.at(-1)]) {
    check(byId.get(want.id)?.address === want.address, `${want.id}: wrong address`);
  }
  return { writeMs: t1 - t0, readMs: t2 - t1 };
}

export async function runElectroDbBenchmarks() {
  if (!Number.isInteger(ITEMS) || ITEMS < 1) {
    throw new BenchFailure(`BENCH_ELECTRODB_ITEMS must be a positive integer, got ${ITEMS}`);
  }
  const ddb = await import('@aws-sdk/client-dynamodb');
  const lib = await import('@aws-sdk/lib-dynamodb');
  const local = await startDynamoLocal(ddb.DynamoDBClient, ddb.ListTablesCommand);
  const client = local.client();
  try {
    const Sealed = modelFor('profiles_sealed');
    const provider = new MemoryKeyProvider();
    const store = new MemoryKeyStore();
    const options = {
      provider,
      keys: { mode: 'store', store, masterKeyId: 'master' },
      cache: { maxAgeMs: 3_600_000 },
      models: [Sealed],
    };
    const admin = createFieldseal({ ...options, admin: true });
    for (let t = 0; t < TENANTS; t++) await admin.provisionTenant(`t${t}`);
    await createTable(ddb, client, 'profiles_plain');
    await createTable(ddb, client, 'profiles_sealed');
    const plain = entityFor(lib.DynamoDBDocumentClient.from(client), 'profiles_plain');
    const sealed = entityFor(
      sealDocumentClient(client, { fs: admin, tables: { profiles_sealed: Sealed } }),
      'profiles_sealed',
    );
    const records = Array.from({ length: ITEMS }, (_, i) => profile(i));
    await pass(plain, records);
    await pass(sealed, records);
    const sum = { plain: { writeMs: 0, readMs: 0 }, sealed: { writeMs: 0, readMs: 0 } };
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, entity] of [
        ['plain', plain],
        ['sealed', sealed],
      ]) {
        const m = await pass(entity, records);
        sum[name].writeMs += m.writeMs;
        sum[name].readMs += m.readMs;
      }
    }
    // Key-provider calls of a cold client reading every item.
    const cold = createFieldseal(options);
    const coldEntity = entityFor(
      sealDocumentClient(client, { fs: cold, tables: { profiles_sealed: Sealed } }),
      'profiles_sealed',
    );
    const before = provider.calls.unwrap;
    for (let at = 0; at < records.length; at += 100) {
      const keys = records.slice(at, at + 100).map(({ tenantId, id }) => ({ tenantId, id }));
      await coldEntity.get(keys).go();
    }
    const unwraps = provider.calls.unwrap - before;
    const perSec = (ms) => (ITEMS * ROUNDS * 1000) / ms;
    console.log(
      `\nElectroDB ${'3.9'} on DynamoDB Local: ${fmtInt(ITEMS)} profiles x 3 encrypted attributes, ${TENANTS} tenants, batch put (25 per request) and batch get (100 keys per call), ${ROUNDS} interleaved rounds after a warm-up`,
    );
    console.log(
      table(
        [
          'operation',
          'plain document client items/s',
          'sealDocumentClient items/s',
          'time vs plain',
        ],
        [
          [
            'put',
            fmtInt(perSec(sum.plain.writeMs)),
            fmtInt(perSec(sum.sealed.writeMs)),
            fmtRatio(sum.sealed.writeMs / sum.plain.writeMs),
          ],
          [
            'get',
            fmtInt(perSec(sum.plain.readMs)),
            fmtInt(perSec(sum.sealed.readMs)),
            fmtRatio(sum.sealed.readMs / sum.plain.readMs),
          ],
        ],
        ['l', 'r', 'r', 'r'],
      ),
    );
    console.log(
      `key-provider calls reading with a cold client: ${fmtInt(unwraps)} unwraps for ${fmtInt(ITEMS)} items = ${((unwraps / ITEMS) * 1000).toFixed(1)} per 1,000 items`,
    );
    admin.close();
    cold.close();
  } finally {
    client.destroy();
    await local.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runElectroDbBenchmarks().catch((err) => {
    console.error(err instanceof BenchFailure ? `BENCHMARK FAILED: ${err.message}` : err);
    process.exitCode = 1;
  });
}
