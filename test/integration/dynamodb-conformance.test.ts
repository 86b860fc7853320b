import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import {
  createFieldseal,
  type AnyModel,
  type FieldPolicy,
  type StorageKind,
} from '../../src/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';
import {
  CANARY,
  runDynamoModelSuite,
  type DynamoModelFixture,
} from '../conformance/dynamo-model-suite.js';
import {
  Credential,
  credentialRecord,
  itemChanges,
  itemModel,
  itemRecord,
} from './dynamodb-conformance-fixtures.js';
import { describeDynamo, startDynamoLocal, type DynamoLocal } from './dynamodb-local.js';

/**
 * The DynamoDB model conformance suite over one DynamoDB Local: {DynamoDBClient,
 * DynamoDBDocumentClient} × {storage binary, text} × {partition + sort key, partition key only},
 * plus a model in the seed's shape. Each variant has its own table and key store.
 */

describeDynamo('DynamoDB model conformance (one DynamoDB Local)', () => {
  let local: DynamoLocal;
  const clients: DynamoDBClient[] = [];

  beforeAll(async () => {
    local = await startDynamoLocal();
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await local?.stop();
  });

  const environment = (
    document: boolean,
    storage: StorageKind,
    tableName: string,
    rest: Pick<DynamoModelFixture, 'model' | 'keys' | 'index' | 'record' | 'changes' | 'removable'>,
  ): DynamoModelFixture => {
    const base = local.client();
    clients.push(base);
    const provider = new MemoryKeyProvider();
    const store = new MemoryKeyStore();
    const policies = (rest.model as AnyModel & { policies: Record<string, FieldPolicy> }).policies;
    return {
      client: document ? DynamoDBDocumentClient.from(base) : base,
      tableName,
      storage,
      provider,
      fieldseal: (fields = policies) =>
        createFieldseal({
          provider,
          keys: { mode: 'store', store, masterKeyId: 'master' },
          cache: { maxAgeMs: 60_000 },
          fields: { ...fields },
          admin: ['provision', 'rotate'], // the suite sets up and rotates its tenants
        }),
      ...rest,
    };
  };

  for (const document of [false, true]) {
    for (const storage of ['binary', 'text'] as const) {
      for (const sorted of [true, false]) {
        const clientName = document ? 'DynamoDBDocumentClient' : 'DynamoDBClient';
        const shape = sorted ? 'pk-sk' : 'pk';
        runDynamoModelSuite(`${clientName}, ${storage}, ${shape}`, () =>
          environment(document, storage, `items-${document ? 'doc' : 'low'}-${storage}-${shape}`, {
            model: itemModel(storage, sorted),
            keys: sorted ? { partition: 'pk', sort: 'seq' } : { partition: 'pk' },
            index: { name: 'by-group', partition: 'group', sort: 'seq' },
            record: itemRecord(sorted),
            changes: itemChanges,
            removable: ['notes', 'photo'],
          }),
        );
      }
    }
  }

  runDynamoModelSuite('seed shape (defineModelFromSeedShape), DynamoDBClient, binary, PK+SK', () =>
    environment(false, 'binary', 'credentials-seed', {
      model: Credential,
      keys: { partition: 'PK', sort: 'SK' },
      index: { name: 'by-group', partition: 'group', sort: 'rank' },
      record: credentialRecord,
      changes: { secret: `${CANARY}updated`, pin: 4321, label: 'relabelled', active: false },
      removable: [],
    }),
  );
});
