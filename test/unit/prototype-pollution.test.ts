// Issue #11, defect 5: field policies were looked up in plain objects, so a polluted
// Object.prototype turned on plaintext reads (or any other setting) for every field without a
// policy of its own, and records lent inherited properties to fields they did not have.
import { afterEach, describe, expect, it } from 'vitest';
import { createFieldseal, type EncryptionContext, type Fieldseal } from '../../src/index.js';
import { rejectionCode } from './rejection-code.js';
import { defineModel } from '../../src/model/define-model.js';
import { field } from '../../src/model/field.js';
import { decryptRecord, encryptRecord } from '../../src/model/record-codec.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';

const polluted: string[] = [];

function pollute(key: string, value: unknown): void {
  Object.defineProperty(Object.prototype, key, {
    value,
    configurable: true,
    enumerable: false,
    writable: true,
  });
  polluted.push(key);
}

afterEach(() => {
  for (const key of polluted.splice(0)) {
    delete (Object.prototype as Record<string, unknown>)[key];
  }
});

const Customer = defineModel({
  table: 'customers',
  tenant: 'tenantId',
  key: ['id'],
  fields: {
    id: field.string(),
    tenantId: field.string(),
    email: field.string().encrypted(),
    note: field.string().encrypted().optional(),
  },
});

function client(fields: Record<string, object> = {}): Fieldseal {
  return createFieldseal({
    provider: new MemoryKeyProvider(),
    keys: { mode: 'embedded', masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
    fields: { ...Customer.policies, ...fields },
  });
}

const ctx: EncryptionContext = { tenant: 'acme', table: 'customers', field: 'ssn', record: 'r' };

describe('a polluted Object.prototype changes no policy and no record', () => {
  it('allowPlaintextRead on Object.prototype does not open plaintext reads', async () => {
    const fs = client();
    pollute('allowPlaintextRead', true);
    expect(await rejectionCode(fs.decrypt('521-44-8790', ctx))).toBe(
      'ERR_PLAINTEXT_IN_ENCRYPTED_FIELD',
    );
    expect(fs.fieldPolicy('customers', 'ssn').allowPlaintextRead).toBeUndefined();
    expect(fs.metrics().plaintextReads).toEqual({});
  });

  it('a polluted "table.field" key lends no policy to a field', async () => {
    pollute('customers.ssn', { allowPlaintextRead: true });
    const fs = client();
    expect(await rejectionCode(fs.decrypt('521-44-8790', ctx))).toBe(
      'ERR_PLAINTEXT_IN_ENCRYPTED_FIELD',
    );
  });

  it('a polluted mode neither forbids nor widens a field', async () => {
    const fs = client({ 'customers.card': { mode: 'WriteOnly' } });
    pollute('mode', 'ReadOnly');
    const stored = await fs.encrypt('v', ctx);
    expect(await fs.decrypt(stored, ctx)).toBe('v');
    const card = { ...ctx, field: 'card' };
    const sealed = await fs.encrypt('4111', card);
    expect(await rejectionCode(fs.decrypt(sealed, card))).toBe('ERR_MODE_FORBIDDEN');
  });

  it('a polluted pad or masterKeyId is not picked up by a policy', async () => {
    const fs = client();
    pollute('masterKeyId', 'attacker-key');
    pollute('pad', 'bucket-4096');
    const stored = await fs.encrypt('v', ctx);
    expect(stored.length).toBeLessThan(400);
    expect(await fs.decrypt(stored, ctx)).toBe('v');
  });

  it('a record never takes an inherited value for a field it lacks', async () => {
    const fs = client();
    pollute('note', 'from the prototype');
    const row = await encryptRecord(fs, Customer, { id: 'c1', tenantId: 'acme', email: 'a@x' });
    expect(Object.hasOwn(row, 'note')).toBe(false);
    const back = await decryptRecord(fs, Customer, row);
    expect(Object.hasOwn(back, 'note')).toBe(false);
    expect(back.email).toBe('a@x');
  });

  it('records with getters are refused instead of read twice', async () => {
    const fs = client();
    const record = { id: 'c1', tenantId: 'acme' } as Record<string, unknown>;
    Object.defineProperty(record, 'email', { get: () => 'a@x', enumerable: true });
    await expect(encryptRecord(fs, Customer, record as never)).rejects.toThrow(/getter/);
  });
});
