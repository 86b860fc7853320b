import { describe, expect, it } from 'vitest';
import {
  createFieldseal,
  defineModel,
  field,
  isFieldsealError,
  type AnyModel,
} from '../../src/index.js';
import { modelCodec, schemaOf } from '../../src/integration/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { rejectionCode } from './rejection-code.js';

const Customer = defineModel({
  table: 'customers',
  tenant: 'tenantId',
  key: ['id'],
  fields: {
    id: field.string(),
    tenantId: field.string().indexed(),
    email: field.string().encrypted(),
    visits: field.number().encrypted({ storage: 'text' }).nullable(),
  },
});

function client(models: readonly AnyModel[] = [Customer]) {
  const provider = new MemoryKeyProvider();
  const fs = createFieldseal({
    provider,
    keys: { mode: 'embedded', masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
    models,
  });
  return { fs, provider };
}

describe('fieldseal/integration', () => {
  it('schemaOf describes the model read-only', () => {
    const schema = schemaOf(Customer);
    expect(schema.table).toBe('customers');
    expect(schema.tenant).toBe('tenantId');
    expect(schema.key).toEqual(['id']);
    expect(schema.encrypted.map((f) => [f.name, f.kind, f.encryption?.storage])).toEqual([
      ['email', 'string', 'binary'],
      ['visits', 'number', 'text'],
    ]);
    expect(schema.fields.find((f) => f.name === 'tenantId')?.indexed).toBe(true);
    expect(Object.isFrozen(schema)).toBe(true);
    expect(Object.isFrozen(schema.fields[0])).toBe(true);
    // The names set drives the undeclared-field check: nobody may widen it.
    expect(() => (schema.names as Set<string>).add('password')).toThrow(TypeError);
    expect(() => (schema.names as Set<string>).delete('email')).toThrow(TypeError);
    expect(schema.names.has('password')).toBe(false);
    expect(() => schemaOf({} as typeof Customer)).toThrow(TypeError);
  });

  it('modelCodec refuses a client that does not enforce the model, before any value', () => {
    const Intake = defineModel({
      table: 'intake',
      tenant: 'tenantId',
      key: ['id'],
      fields: {
        id: field.string(),
        tenantId: field.string(),
        ssn: field.string().encrypted({ mode: 'WriteOnly' }),
      },
    });
    // A client that was never told ssn is write-only would decrypt it: refused up front.
    const { fs } = client([Customer]);
    let caught: unknown;
    try {
      modelCodec(fs, Intake);
    } catch (err) {
      caught = err;
    }
    expect(isFieldsealError(caught) && caught.code).toBe('ERR_KEY_NOT_CONFIGURED');
    expect(() => modelCodec(client([Intake]).fs, Intake)).not.toThrow();
  });

  it('modelCodec round-trips records in one batch: one key per tenant', async () => {
    const { fs, provider } = client();
    const codec = modelCodec(fs, Customer);
    const records = Array.from({ length: 50 }, (_, i) => ({
      id: `c${i}`,
      tenantId: i % 2 === 0 ? 'acme' : 'globex',
      email: `CANARY-${i}@example.com`,
      visits: i % 3 === 0 ? null : i,
    }));
    const rows = await codec.encrypt(records);
    expect(JSON.stringify(rows)).not.toContain('CANARY');
    expect(provider.calls.generate + provider.calls.wrap).toBeLessThanOrEqual(2);
    fs.clearCache();
    const before = provider.calls.unwrap + provider.calls.generate;
    expect(await codec.decrypt(rows)).toEqual(records);
    expect(provider.calls.unwrap + provider.calls.generate - before).toBeLessThanOrEqual(2);
  });

  it('a failure names the record index and the field', async () => {
    const { fs } = client();
    const codec = modelCodec(fs, Customer);
    const rows = await codec.encrypt([
      { id: 'c1', tenantId: 'acme', email: 'a@example.com', visits: 1 },
      { id: 'c2', tenantId: 'acme', email: 'b@example.com', visits: 2 },
    ]);
    const moved = [rows[0]!, { ...rows[1]!, email: rows[0]!.email }];
    await expect(rejectionCode(codec.decrypt(moved))).resolves.toBe('ERR_BATCH_FAILED');
    const settled = await codec.decryptSettled(moved);
    expect(settled[0]!.ok).toBe(true);
    expect(settled[1]!.ok).toBe(false);
    if (!settled[1]!.ok) {
      expect(settled[1]!.errors.map((e) => [e.field, e.error.code])).toEqual([
        ['email', 'ERR_AUTHENTICATION_FAILED'],
      ]);
    }
  });
});
