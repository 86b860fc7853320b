import {
  defineModel,
  defineModelFromSeedShape,
  field,
  type AnyModel,
  type StorageKind,
} from '../../src/index.js';
import { CANARY, type SuiteRecord } from '../conformance/dynamo-model-suite.js';

/*
 * The models and records of the DynamoDB model conformance suite's fixtures, shared by the
 * repository's run (dynamodb-conformance.test.ts) and the sealed document client's
 * (dynamodb-document-client-conformance.test.ts).
 */

/** Every field kind, plain and encrypted (all encrypted ones with `storage`). */
function itemFields(storage: StorageKind) {
  return {
    pk: field.string(),
    seq: field.number(),
    tenantId: field.string(),
    group: field.string(),
    label: field.string(),
    ratio: field.number(),
    big: field.bigint(),
    active: field.boolean(),
    createdAt: field.date(),
    photo: field.bytes().optional(),
    meta: field.json<{ tags: string[] }>(),
    nickname: field.string().nullable(),
    secret: field.string().encrypted({ storage, pad: 'bucket-32' }),
    amount: field.number().encrypted({ storage }),
    balance: field.bigint().encrypted({ storage }),
    verified: field.boolean().encrypted({ storage }),
    dob: field.date().encrypted({ storage }),
    apiKey: field.bytes().encrypted({ storage }),
    profile: field.json<{ canary: string; n: number[] }>().encrypted({ storage }),
    ssn: field.string().encrypted({ storage }).nullable(),
    notes: field.json<{ canary: string }>().encrypted({ storage }).optional(),
  };
}

export function itemModel(storage: StorageKind, sorted: boolean): AnyModel {
  return sorted
    ? defineModel({
        table: 'items',
        tenant: 'tenantId',
        key: ['pk', 'seq'],
        fields: itemFields(storage),
      })
    : defineModel({ table: 'items', tenant: 'tenantId', key: ['pk'], fields: itemFields(storage) });
}

export const pad = (i: number): string => String(i).padStart(4, '0');

export function itemRecord(sorted: boolean) {
  return (tenant: string, i: number, bucket: string): SuiteRecord => {
    const canary = `${CANARY}${tenant}-${bucket}-${i}`;
    return {
      pk: sorted ? `${tenant}#${bucket}` : `${tenant}#${bucket}#${pad(i)}`,
      seq: i,
      tenantId: tenant,
      group: `${bucket}#g${i % 3}`,
      label: `label ${i} ü`,
      ratio: i / 4 - 1,
      big: 2n ** 70n + BigInt(i),
      active: i % 2 === 0,
      createdAt: new Date(Date.UTC(2025, 0, 1 + i, 12)),
      ...(i % 3 === 0 ? {} : { photo: Buffer.from([i & 0xff, 0, 255]) }),
      meta: { tags: ['plain', String(i)] },
      nickname: i % 4 === 1 ? null : `nick ${i}`,
      secret: `${canary} ü`,
      amount: i === 5 ? Number.NaN : -i / 7,
      balance: -(10n ** 25n) - BigInt(i),
      verified: i % 2 === 1,
      dob: new Date(Date.UTC(1980, 1, 1 + i, 3, 4, 5, 6)),
      apiKey: Buffer.from(`${canary}-key`),
      profile: { canary, n: [i, 1.5] },
      ssn: i % 4 === 1 ? null : `${canary}-ssn`,
      ...(i % 3 === 0 ? {} : { notes: { canary } }),
    };
  };
}

export const itemChanges: SuiteRecord = {
  secret: `${CANARY}updated`,
  balance: 123456789012345678901234567890n,
  ssn: null,
  label: 'relabelled',
  active: false,
  meta: { tags: ['changed'] },
};

/** The seed's shape (defineModelFromSeedShape): S / N / B / BOOL attributes, all required. */
export const Credential = defineModelFromSeedShape({
  name: 'Credential',
  table: { name: 'credentials_contract' },
  keys: { partition: { attribute: 'PK', type: 'S' }, sort: { attribute: 'SK', type: 'S' } },
  attributes: [
    { attribute: 'PK', type: 'S', roles: ['pk'] },
    { attribute: 'SK', type: 'S', roles: ['sk'] },
    { attribute: 'tenantId', type: 'S' },
    { attribute: 'group', type: 'S' },
    { attribute: 'rank', type: 'N' },
    { attribute: 'label', type: 'S' },
    { attribute: 'active', type: 'BOOL' },
    { attribute: 'photo', type: 'B' },
    { attribute: 'secret', type: 'S', encryption: { v: 1 } },
    { attribute: 'pin', type: 'N', encryption: { v: 1 } },
    { attribute: 'flag', type: 'BOOL', encryption: { v: 1 } },
    { attribute: 'blob', type: 'B', encryption: { v: 1 } },
  ],
  tenant: 'tenantId',
});

export const credentialRecord = (tenant: string, i: number, bucket: string): SuiteRecord => {
  const canary = `${CANARY}${tenant}-${bucket}-${i}`;
  return {
    PK: `TENANT#${tenant}#${bucket}`,
    SK: `CRED#${pad(i)}`,
    tenantId: tenant,
    group: `${bucket}#g${i % 3}`,
    rank: i,
    label: `credential ${i}`,
    active: i % 2 === 0,
    photo: Buffer.from([i & 0xff, 1, 2]),
    secret: `${canary} s3cr3t`,
    pin: 1000 + i,
    flag: i % 3 === 0,
    blob: Buffer.from(`${canary}-blob`),
  };
};
