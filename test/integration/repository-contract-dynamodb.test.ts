import {
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Fieldseal } from '../../src/index.js';
import { createDynamoRepository, type DynamoKeyValue } from '../../src/dynamodb/index.js';
import {
  CONTRACT_INDEXED_FIELDS,
  runRepositoryContract,
  type RepositoryContractRecord,
  type RepositoryContractSetup,
  type RepositoryUnderTest,
  type StoredValueRef,
} from '../../src/testing/index.js';
import { describeDynamo, startDynamoLocal, type DynamoLocal } from './dynamodb-local.js';

/**
 * The repository contract (fieldseal/testing) against the DynamoDB repository
 * (`createDynamoRepository`) on DynamoDB Local: table key `id` (the model's key), one GSI per
 * blind-indexed field, the low-level client for the storage-level operations.
 */

const TABLE = 'contract-records';

describeDynamo('repository contract on DynamoDB Local', () => {
  let local: DynamoLocal;
  let client: DynamoDBClient;

  beforeAll(async () => {
    local = await startDynamoLocal();
    client = local.client();
  });
  afterAll(async () => {
    client?.destroy();
    await local?.stop();
  });

  const open = async ({ model, indexer, fieldseal }: RepositoryContractSetup) => {
    const make = (fs: Fieldseal) =>
      createDynamoRepository({
        client,
        fs,
        model,
        tableName: TABLE,
        keys: { partition: 'id' },
        indexes: Object.fromEntries(
          CONTRACT_INDEXED_FIELDS.map((f) => [`by-${f}`, { blindIndex: f }]),
        ),
        blindIndex: { indexer, secretsTable: 'contract-bidx-secrets' },
      });
    await make(fieldseal()).createTable();
    /** The stored attribute of `at`; throws when the item is absent or not the tenant's. */
    const attribute = async (at: StoredValueRef): Promise<AttributeValue | undefined> => {
      const { Item } = await client.send(
        new GetItemCommand({ TableName: TABLE, Key: { id: { S: at.id } }, ConsistentRead: true }),
      );
      if (Item?.tenantId?.S !== at.tenant) throw new Error(`no item ${at.tenant}/${at.id}`);
      return Item[at.field];
    };
    const set = async (at: StoredValueRef, value: AttributeValue): Promise<void> => {
      await attribute(at);
      await client.send(
        new UpdateItemCommand({
          TableName: TABLE,
          Key: { id: { S: at.id } },
          UpdateExpression: 'SET #f = :v',
          ExpressionAttributeNames: { '#f': at.field },
          ExpressionAttributeValues: { ':v': value },
        }),
      );
    };
    return {
      repository(fs: Fieldseal): RepositoryUnderTest {
        const repo = make(fs);
        return {
          insert: (records) => repo.batchWrite(records),
          get: (tenant, id) => repo.get(tenant, { id }),
          findBy: (tenant, field, value) => repo.findBy(tenant, field, value),
          all: async (tenant) => {
            const out: RepositoryContractRecord[] = [];
            let startKey: Readonly<Record<string, DynamoKeyValue>> | undefined;
            do {
              const page = await repo.scan(tenant, startKey === undefined ? {} : { startKey });
              out.push(...page.items);
              startKey = page.nextKey;
            } while (startKey !== undefined);
            return out;
          },
        };
      },
      rawRows: async () => {
        const items: Record<string, AttributeValue>[] = [];
        let start: Record<string, AttributeValue> | undefined;
        do {
          const page = await client.send(
            new ScanCommand({ TableName: TABLE, ConsistentRead: true, ExclusiveStartKey: start }),
          );
          items.push(...(page.Items ?? []));
          start = page.LastEvaluatedKey;
        } while (start !== undefined);
        return items;
      },
      copyStoredValue: async (from: StoredValueRef, to: StoredValueRef) => {
        const value = await attribute(from);
        if (value === undefined) throw new Error(`no ${from.field} in ${from.id}`);
        await set(to, value);
      },
      writeRawValue: (at: StoredValueRef, value: string | Uint8Array) =>
        set(at, typeof value === 'string' ? { S: value } : { B: value }),
    };
  };

  runRepositoryContract(
    { describe, it, beforeAll, afterAll },
    { name: 'DynamoDB repository on DynamoDB Local', open },
  );
});
