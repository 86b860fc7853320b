import { describe, expect, expectTypeOf, it } from 'vitest';
import { createFieldseal, type FieldPolicy } from '../../src/index.js';
import { defineModel } from '../../src/model/define-model.js';
import { field } from '../../src/model/field.js';
import type { InferRecord, InferStored, InferStoredInput } from '../../src/model/model-types.js';
import {
  decryptRecord,
  decryptRecordsSettled,
  encryptRecord,
  encryptRecords,
  type SettledRecord,
} from '../../src/model/record-codec.js';
import { defineModelFromSeedShape } from '../../src/model/seed-shape.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';

// Checked by `npm run typecheck` (tsc over test/); the runtime part only proves the models
// are valid definitions.

const Customer = defineModel({
  table: 'customers',
  tenant: 'tenantId',
  key: ['id'],
  fields: {
    id: field.string(),
    tenantId: field.string(),
    plan: field.string().indexed(),
    email: field.string().encrypted({ pad: 'bucket-32' }),
    ssn: field.string().encrypted({ mode: 'WriteOnly' }).nullable(),
    dob: field.date().encrypted(),
    balance: field.bigint().encrypted({ storage: 'text' }),
    notes: field
      .json<{ vip: boolean }>()
      .encrypted({ context: { purpose: 'crm' } })
      .optional(),
    avatar: field.bytes().optional(),
    score: field.number().nullable(),
    active: field.boolean(),
  },
});

type CustomerRecord = InferRecord<typeof Customer>;
type CustomerRow = InferStored<typeof Customer>;

const valid: CustomerRecord = {
  id: 'cus_1',
  tenantId: 'acme',
  plan: 'pro',
  email: 'a@example.com',
  ssn: null,
  dob: new Date(0),
  balance: 10n,
  score: null,
  active: true,
};

describe('model types', () => {
  it('InferRecord: plaintext types, nullable → T | null, optional → T | undefined', () => {
    expectTypeOf<CustomerRecord>().toEqualTypeOf<{
      id: string;
      tenantId: string;
      plan: string;
      email: string;
      ssn: string | null;
      dob: Date;
      balance: bigint;
      score: number | null;
      active: boolean;
      notes?: { vip: boolean } | undefined;
      avatar?: Uint8Array | undefined;
    }>();
  });

  it('InferStored: encrypted fields become Buffer (binary) or string (text)', () => {
    expectTypeOf<CustomerRow>().toEqualTypeOf<{
      id: string;
      tenantId: string;
      plan: string;
      email: Buffer;
      ssn: Buffer | null;
      dob: Buffer;
      balance: string;
      score: number | null;
      active: boolean;
      notes?: Buffer | undefined;
      avatar?: Uint8Array | undefined;
    }>();
    expectTypeOf<InferStoredInput<typeof Customer>['email']>().toEqualTypeOf<string | Uint8Array>();
  });

  it('policies are keyed table.field for the encrypted fields and fit createFieldseal', () => {
    expectTypeOf(Customer.policies).toEqualTypeOf<{
      readonly 'customers.email': FieldPolicy;
      readonly 'customers.ssn': FieldPolicy;
      readonly 'customers.dob': FieldPolicy;
      readonly 'customers.balance': FieldPolicy;
      readonly 'customers.notes': FieldPolicy;
    }>();
    expectTypeOf(Customer.table).toEqualTypeOf<'customers'>();
    const fs = createFieldseal({
      provider: new MemoryKeyProvider(),
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 1000 },
      fields: { ...Customer.policies },
    });
    expect(fs.fieldPolicy('customers', 'ssn').mode).toBe('WriteOnly');
  });

  it('the record functions take and return the inferred types', () => {
    const fs = createFieldseal({
      provider: new MemoryKeyProvider(),
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 1000 },
      fields: { ...Customer.policies },
    });
    const check = (): void => {
      expectTypeOf(encryptRecord(fs, Customer, valid)).toEqualTypeOf<Promise<CustomerRow>>();
      expectTypeOf(encryptRecords(fs, Customer, [valid])).toEqualTypeOf<Promise<CustomerRow[]>>();
      const row = {} as CustomerRow;
      expectTypeOf(decryptRecord(fs, Customer, row)).toEqualTypeOf<Promise<CustomerRecord>>();
      expectTypeOf(decryptRecordsSettled(fs, Customer, [row])).toEqualTypeOf<
        Promise<SettledRecord<CustomerRecord>[]>
      >();
      // @ts-expect-error undeclared fields are refused (and throw a TypeError at run time)
      void encryptRecord(fs, Customer, { ...valid, SSN: '123' });
      // @ts-expect-error a plaintext record is not a stored row
      void decryptRecord(fs, Customer, valid);
      // A driver's Uint8Array and a text column are both accepted for an encrypted field.
      void decryptRecord(fs, Customer, { ...row, email: new Uint8Array(1), dob: 'fs1:AA' });
    };
    expect(typeof check).toBe('function');
  });

  it('wrong record shapes do not compile', () => {
    // @ts-expect-error email is a string
    const wrongType: CustomerRecord = { ...valid, email: 42 };
    // @ts-expect-error dob is required
    const missing: CustomerRecord = { ...valid, dob: undefined };
    const noSsn: Omit<CustomerRecord, 'ssn'> = valid;
    // @ts-expect-error ssn is nullable but not optional
    const withoutSsn: CustomerRecord = noSsn;
    // @ts-expect-error email is not nullable
    const nullEmail: CustomerRecord = { ...valid, email: null };
    // @ts-expect-error a row's encrypted field is not plaintext
    const plainRow: CustomerRow = { ...valid };
    // @ts-expect-error text storage is a string, not a Buffer
    const textAsBuffer: CustomerRow['balance'] = Buffer.alloc(1);
    // @ts-expect-error the json type is inferred
    const wrongJson: CustomerRecord['notes'] = { vip: 'yes' };
    expect([
      wrongType,
      missing,
      withoutSsn,
      nullEmail,
      plainRow,
      textAsBuffer,
      wrongJson,
    ]).toHaveLength(7);
  });

  it('definition mistakes the types can see do not compile', () => {
    const fields = {
      id: field.string(),
      n: field.number(),
      t: field.string(),
      secret: field.string().encrypted(),
      maybe: field.string().nullable(),
    };
    const define = (): void => {
      // @ts-expect-error an encrypted field cannot be the tenant
      defineModel({ table: 'x', tenant: 'secret', key: ['id'], fields });
      // @ts-expect-error a number field cannot be the tenant
      defineModel({ table: 'x', tenant: 'n', key: ['id'], fields });
      // @ts-expect-error an encrypted field cannot be a key field
      defineModel({ table: 'x', tenant: 't', key: ['secret'], fields });
      // @ts-expect-error a nullable field cannot be a key field
      defineModel({ table: 'x', tenant: 't', key: ['maybe'], fields });
      // @ts-expect-error unknown key field
      defineModel({ table: 'x', tenant: 't', key: ['nope'], fields });
      // @ts-expect-error the key list may not be empty
      defineModel({ table: 'x', tenant: 't', key: [], fields });
      // @ts-expect-error encrypted fields cannot be indexed
      field.string().encrypted().indexed();
      // @ts-expect-error a field is encrypted once
      field.string().encrypted().encrypted();
      // @ts-expect-error storage is 'binary' or 'text'
      field.string().encrypted({ storage: 'base64' });
      // Composite keys of strings, numbers and bigints compile.
      defineModel({ table: 'x', tenant: 't', key: ['t', 'n', 'id'], fields });
    };
    expect(typeof define).toBe('function');
  });

  it('the seed shape maps S/N/B/BOOL and keeps the table name', () => {
    const Credential = defineModelFromSeedShape({
      name: 'Credential',
      table: { name: 'credentials_contract' },
      keys: { partition: { attribute: 'PK', type: 'S' }, sort: { attribute: 'SK', type: 'N' } },
      attributes: [
        { attribute: 'PK', type: 'S', roles: ['pk'] },
        { attribute: 'SK', type: 'N', roles: ['sk'] },
        { attribute: 'tenantId', type: 'S' },
        { attribute: 'secret', type: 'S', encryption: { v: 1 } },
        { attribute: 'blob', type: 'B', encryption: { v: 1, storage: 'text' } },
        { attribute: 'enabled', type: 'BOOL' },
      ],
      tenant: 'tenantId',
    });
    expectTypeOf(Credential.table).toEqualTypeOf<'credentials_contract'>();
    expectTypeOf<InferRecord<typeof Credential>>().toEqualTypeOf<{
      PK: string;
      SK: number;
      tenantId: string;
      secret: string;
      blob: Uint8Array;
      enabled: boolean;
    }>();
    expectTypeOf<InferStored<typeof Credential>>().toEqualTypeOf<{
      PK: string;
      SK: number;
      tenantId: string;
      secret: Buffer;
      blob: string;
      enabled: boolean;
    }>();
    expect(Object.keys(Credential.policies)).toEqual([
      'credentials_contract.secret',
      'credentials_contract.blob',
    ]);
  });
});
