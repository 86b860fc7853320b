import { describe, expect, it } from 'vitest';
import { createFieldseal, type FieldsealOptions } from '../../src/index.js';
import { defineModel } from '../../src/model/define-model.js';
import { field } from '../../src/model/field.js';
import { decryptRecord, encryptRecord } from '../../src/model/record-codec.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { rejectionCode } from './rejection-code.js';

const Customer = defineModel({
  table: 'customers',
  tenant: 'tenantId',
  key: ['id'],
  fields: {
    id: field.string(),
    tenantId: field.string(),
    email: field.string().encrypted({ pad: 'bucket-32' }),
    ssn: field.string().encrypted({ mode: 'WriteOnly' }).nullable(),
  },
});

const Order = defineModel({
  table: 'orders',
  tenant: 'tenantId',
  key: ['id'],
  fields: { id: field.string(), tenantId: field.string(), card: field.string().encrypted() },
});

function client(extra: Partial<FieldsealOptions>) {
  return createFieldseal({
    provider: new MemoryKeyProvider(),
    keys: { mode: 'embedded', masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
    ...extra,
  });
}

const record = { id: 'c1', tenantId: 'acme', email: 'a@example.com', ssn: '521-44-8790' };

describe('createFieldseal({ models }) registers models in one step', () => {
  it('a model passed in models is served with its policies (WriteOnly stays write-only)', async () => {
    const fs = client({ models: [Customer, Order] });
    expect(fs.fieldPolicy('customers', 'ssn').mode).toBe('WriteOnly');
    expect(fs.fieldPolicy('customers', 'email').pad).toBe('bucket-32');
    const stored = await encryptRecord(fs, Customer, record);
    expect(stored.email).toBeInstanceOf(Uint8Array); // bytes storage by default
    // The model's WriteOnly field is enforced: its records cannot be read through this client.
    expect(await rejectionCode(decryptRecord(fs, Customer, stored))).toBe('ERR_MODE_FORBIDDEN');
    const order = await encryptRecord(fs, Order, { id: 'o1', tenantId: 'acme', card: '4111' });
    expect((await decryptRecord(fs, Order, order)).card).toBe('4111');
  });

  it('a model in neither models nor fields is refused, as before', async () => {
    const fs = client({ models: [Order] });
    expect(await rejectionCode(encryptRecord(fs, Customer, record))).toBe('ERR_KEY_NOT_CONFIGURED');
  });

  it('fields keeps working, and may repeat a model policy only as the same object', () => {
    expect(() => client({ fields: { ...Customer.policies }, models: [Customer] })).not.toThrow();
    expect(() =>
      client({ fields: { 'customers.email': { pad: 'bucket-16' } }, models: [Customer] }),
    ).toThrow(/"customers\.email" is configured twice \(fields and models\[0\]\)/);
    expect(() => client({ models: [Customer, Customer] })).not.toThrow();
  });

  it('reads each model once, as plain data, and only for its own table', () => {
    let reads = 0;
    const sneaky = Object.defineProperty({ table: 'customers' }, 'policies', {
      enumerable: true,
      get() {
        reads++;
        return Customer.policies;
      },
    });
    expect(() => client({ models: [sneaky as typeof Customer] })).toThrow(/accessor/);
    expect(reads).toBe(0);
    const foreign = { table: 'orders', policies: { 'customers.ssn': { mode: 'ReadWrite' } } };
    expect(() => client({ models: [foreign] as never })).toThrow(/not a field of table orders/);
    expect(() => client({ models: Customer as never })).toThrow(/models: expected an array/);
    expect(() => client({ models: [null] as never })).toThrow(/models\[0\]: expected a model/);
  });
});
