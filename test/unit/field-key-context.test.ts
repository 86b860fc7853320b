import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createFieldseal,
  decryptRecord,
  defineModel,
  encryptRecord,
  field,
  type EncryptedFieldOptions,
  type FieldPolicy,
  type FieldsealOptions,
} from '../../src/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';
import { checkKeyContext, fieldKeyOf } from '../../src/client/field-key.js';
import { wrappedOf } from './wrapped-key.js';

// A field's key context (`FieldPolicy.keyContext`, `.encrypted({ keyContext })`): static
// entries sent to the key provider with the tenant, so a KMS records them (CloudTrail) and key
// policies can require them. The AWS KMS version, with the loopback KMS's trail and IAM
// conditions, is test/seeds/seed-000-encrypted-attribute.test.ts.

const ctx = (tenant: string, f: string, record = 'r1') => ({
  tenant,
  table: 'users',
  field: f,
  record,
});

/** A `users` model whose only encrypted field is `ssn`, encrypted with `options`. */
const usersWithSsn = (options: EncryptedFieldOptions = {}) =>
  defineModel({
    table: 'users',
    tenant: 'tenantId',
    key: ['id'],
    fields: {
      id: field.string(),
      tenantId: field.string(),
      ssn: field.string().encrypted(options),
    },
  });

/** One provider (one master key) shared by every client of a test: writers and readers. */
let shared = new MemoryKeyProvider({ masterKeys: ['master'] });
beforeEach(() => {
  shared = new MemoryKeyProvider({ masterKeys: ['master'] });
});

function setup(
  fields: Record<string, FieldPolicy> = { 'users.ssn': { keyContext: { purpose: 'pii' } } },
  extra: Partial<FieldsealOptions> = {},
) {
  const provider = shared;
  vi.restoreAllMocks();
  const generate = vi.spyOn(provider, 'generateDataKey');
  const unwrap = vi.spyOn(provider, 'unwrapDataKey');
  const fs = createFieldseal({
    provider,
    keys: { mode: 'embedded', masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
    fields,
    ...extra,
  });
  return { provider, fs, generate, unwrap };
}

describe('a field key context (embedded mode)', () => {
  it("sends the field's entries to the provider with the tenant; other fields send the tenant only", async () => {
    const { fs, generate } = setup();
    const ssn = await fs.encrypt('123-45-6789', ctx('acme', 'ssn'));
    const email = await fs.encrypt('a@example.com', ctx('acme', 'email'));
    expect(generate.mock.calls).toEqual([
      ['master', { purpose: 'pii', tenant: 'acme' }],
      ['master', { tenant: 'acme' }],
    ]);
    // Two data keys: a key bound to one context never serves another.
    expect(wrappedOf(ssn)).not.toBe(wrappedOf(email));
    expect(await fs.decrypt(ssn, ctx('acme', 'ssn'))).toBe('123-45-6789');
    expect(await fs.decrypt(email, ctx('acme', 'email'))).toBe('a@example.com');
  });

  it('unwraps under the same context, once per cache lifetime', async () => {
    const { fs: writer } = setup();
    const stored = await writer.encrypt('123-45-6789', ctx('acme', 'ssn'));
    const { fs: reader, unwrap } = setup();
    expect(await reader.decrypt(stored, ctx('acme', 'ssn'))).toBe('123-45-6789');
    expect(await reader.decrypt(stored, ctx('acme', 'ssn'))).toBe('123-45-6789');
    expect(unwrap).toHaveBeenCalledTimes(1);
    expect(unwrap.mock.calls[0]![2]).toEqual({ purpose: 'pii', tenant: 'acme' });
  });

  it('a client without the key context (or with another) cannot unwrap: a typed error, never plaintext', async () => {
    const { fs: writer } = setup();
    const stored = await writer.encrypt('123-45-6789', ctx('acme', 'ssn'));
    const variants: Record<string, FieldPolicy>[] = [
      {},
      { 'users.ssn': { keyContext: { purpose: 'billing' } } },
    ];
    for (const fields of variants) {
      const { fs: reader } = setup(fields);
      const err = await reader.decrypt(stored, ctx('acme', 'ssn')).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
      expect(String((err as Error).message)).not.toContain('123-45-6789');
    }
  });

  it('a key unwrapped for one key context is never served from the cache to another', async () => {
    // Same client, same tenant, same wrapped key: the value written to ssn is presented as a
    // value of email (no key context). The cached key must not be reused: the provider is
    // asked under email's context, and refuses.
    const { fs, unwrap } = setup();
    const stored = await fs.encrypt('123-45-6789', ctx('acme', 'ssn'));
    await expect(fs.decrypt(stored, ctx('acme', 'email'))).rejects.toMatchObject({
      code: 'ERR_KEY_UNWRAP_FAILED',
    });
    expect(unwrap.mock.calls.map((c) => c[2])).toEqual([{ tenant: 'acme' }]);
  });

  it('a warm tenant key never serves a field with a key context, nor the other way round', async () => {
    const { fs, generate } = setup();
    // The tenant key first, warm; then the field's, twice (the second from the cache).
    const email = await fs.encrypt('a@example.com', ctx('acme', 'email'));
    const ssn1 = await fs.encrypt('1', ctx('acme', 'ssn'));
    const ssn2 = await fs.encrypt('2', ctx('acme', 'ssn'));
    expect(generate).toHaveBeenCalledTimes(2);
    expect(wrappedOf(ssn1)).not.toBe(wrappedOf(email));
    expect(wrappedOf(ssn2)).toBe(wrappedOf(ssn1));
    // The tenant's value presented as the field's: its cached key is not reused, the provider
    // is asked under the field's context and refuses.
    await expect(fs.decrypt(email, ctx('acme', 'ssn'))).rejects.toMatchObject({
      code: 'ERR_KEY_UNWRAP_FAILED',
    });
  });

  it('two fields with different key contexts in one batch get one data key each', async () => {
    const fields = {
      'users.ssn': { keyContext: { purpose: 'pii' } },
      'users.dob': { keyContext: { purpose: 'kyc' } },
    };
    const { fs: writer, generate } = setup(fields);
    const items = [
      { value: 's', context: ctx('acme', 'ssn') },
      { value: 'd', context: ctx('acme', 'dob') },
    ];
    const sealed = await writer.encryptMany(items);
    expect(generate.mock.calls.map((c) => c[1])).toEqual([
      { purpose: 'pii', tenant: 'acme' },
      { purpose: 'kyc', tenant: 'acme' },
    ]);
    const { fs: reader } = setup(fields);
    expect(
      await reader.decryptMany(sealed.map((stored, i) => ({ stored, context: items[i]!.context }))),
    ).toEqual(['s', 'd']);
  });

  it('encryptMany costs one generate per (tenant, key context) and keeps the order', async () => {
    const { fs, generate } = setup();
    const items = ['acme', 'acme', 'globex', 'acme'].flatMap((t, i) => [
      { value: `ssn-${i}`, context: ctx(t, 'ssn', `r${i}`) },
      { value: `mail-${i}`, context: ctx(t, 'email', `r${i}`) },
    ]);
    const sealed = await fs.encryptMany(items);
    expect(generate).toHaveBeenCalledTimes(4);
    expect(
      await fs.decryptMany(sealed.map((stored, i) => ({ stored, context: items[i]!.context }))),
    ).toEqual(items.map((it) => it.value));
  });

  it('the reader of a batch unwraps once per (tenant, key context)', async () => {
    const { fs } = setup();
    const items = [1, 2, 3].flatMap((i) => [
      { value: `ssn-${i}`, context: ctx('acme', 'ssn', `r${i}`) },
      { value: `mail-${i}`, context: ctx('acme', 'email', `r${i}`) },
    ]);
    const sealed = await fs.encryptMany(items);
    const { fs: reader, unwrap } = setup();
    await reader.decryptMany(sealed.map((stored, i) => ({ stored, context: items[i]!.context })));
    expect(unwrap.mock.calls.map((c) => c[2])).toEqual(
      expect.arrayContaining([{ purpose: 'pii', tenant: 'acme' }, { tenant: 'acme' }]),
    );
    expect(unwrap).toHaveBeenCalledTimes(2);
  });
});

describe('a key context naming a tenant', () => {
  const fields = { 'users.ssn': { keyContext: { tenant: 'acme-corp', purpose: 'pii' } } };

  it("accepts that tenant's values and refuses every other tenant before any provider call", async () => {
    const { fs, generate, unwrap } = setup(fields);
    const stored = await fs.encrypt('123-45-6789', ctx('acme-corp', 'ssn'));
    expect(generate.mock.calls).toEqual([['master', { purpose: 'pii', tenant: 'acme-corp' }]]);
    expect(await fs.decrypt(stored, ctx('acme-corp', 'ssn'))).toBe('123-45-6789');
    generate.mockClear();
    await expect(fs.encrypt('x', ctx('globex', 'ssn'))).rejects.toMatchObject({
      code: 'ERR_INVALID_CONTEXT',
      details: { field: 'users.ssn' },
    });
    await expect(fs.decrypt(stored, ctx('globex', 'ssn'))).rejects.toMatchObject({
      code: 'ERR_INVALID_CONTEXT',
    });
    const settled = await fs.decryptManySettled([
      { stored, context: ctx('acme-corp', 'ssn') },
      { stored, context: ctx('globex', 'ssn') },
    ]);
    expect(settled.map((s) => s.ok)).toEqual([true, false]);
    expect(generate).not.toHaveBeenCalled();
    expect(unwrap).not.toHaveBeenCalled();
  });

  it('a tenant alone shares the tenant key (the provider context is the same)', async () => {
    const { fs, generate } = setup({ 'users.ssn': { keyContext: { tenant: 'acme' } } });
    const ssn = await fs.encrypt('1', ctx('acme', 'ssn'));
    const email = await fs.encrypt('2', ctx('acme', 'email'));
    expect(generate).toHaveBeenCalledTimes(1);
    expect(wrappedOf(ssn)).toBe(wrappedOf(email));
    await expect(fs.encrypt('3', ctx('globex', 'ssn'))).rejects.toMatchObject({
      code: 'ERR_INVALID_CONTEXT',
    });
  });

  it('store mode accepts a tenant alone, and enforces it', async () => {
    const provider = new MemoryKeyProvider({ masterKeys: ['master'] });
    const store = new MemoryKeyStore();
    const fs = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store, masterKeyId: 'master', keyId: 'k1' },
      cache: { maxAgeMs: 60_000 },
      fields: { 'users.ssn': { keyContext: { tenant: 'acme' } } },
    });
    await fs.provisionTenant('acme');
    await fs.provisionTenant('globex');
    const stored = await fs.encrypt('1', ctx('acme', 'ssn'));
    expect(await fs.decrypt(stored, ctx('acme', 'ssn'))).toBe('1');
    await expect(fs.encrypt('2', ctx('globex', 'ssn'))).rejects.toMatchObject({
      code: 'ERR_INVALID_CONTEXT',
    });
  });
});

describe('key context: validation', () => {
  const build =
    (keyContext: unknown, mode: 'embedded' | 'store' = 'embedded') =>
    () =>
      createFieldseal({
        provider: new MemoryKeyProvider({ masterKeys: ['master'] }),
        keys:
          mode === 'embedded'
            ? { mode: 'embedded', masterKeyId: 'master' }
            : { mode: 'store', store: new MemoryKeyStore(), masterKeyId: 'master', keyId: 'k1' },
        cache: { maxAgeMs: 60_000 },
        fields: { 'users.ssn': { keyContext } as FieldPolicy },
      });

  it.each([
    ['not an object', 'pii', /expected an object of strings/],
    ['an array', ['pii'], /expected an object of strings/],
    ['empty', {}, /1 to 16 entries/],
    [
      'too many entries',
      Object.fromEntries([...Array(17).keys()].map((i) => [`e${i}`, 'v'])),
      /1 to 16/,
    ],
    ['a key-store name', { key: 'k' }, /reserved/],
    ['a key-store name in another case', { Version: '1' }, /reserved/],
    ['tenant in another case', { Tenant: 'acme' }, /reserved/],
    ['an aws name', { 'aws:purpose': 'x' }, /reserved by AWS/],
    ['an AWS name', { AWSx: 'x' }, /reserved by AWS/],
    ['names equal without regard to case', { purpose: 'a', Purpose: 'b' }, /letter case/],
    ['a number', { purpose: 1 }, /non-empty string/],
    ['an empty value', { purpose: '' }, /non-empty string/],
    ['a long value', { purpose: 'x'.repeat(1025) }, /at most 1024/],
    ['a long name', { ['n'.repeat(129)]: 'x' }, /1 to 128 UTF-8 bytes/],
    ['a name of 129 UTF-8 bytes', { ['€'.repeat(43)]: 'x' }, /1 to 128 UTF-8 bytes/],
    ['an empty name', { '': 'x' }, /1 to 128 UTF-8 bytes/],
    ['a name with a lone surrogate', { 'a\ud800': 'x' }, /well-formed/],
    [
      '__proto__ (lost by any plain-object copy)',
      JSON.parse('{"__proto__":"pii"}') as object,
      /reserved/,
    ],
    ['a value of 1025 UTF-8 bytes', { purpose: 'é'.repeat(512) + 'x' }, /at most 1024 UTF-8 bytes/],
    ['a lone surrogate', { purpose: '\ud800' }, /well-formed/],
  ])('refuses %s at createFieldseal', (_, keyContext, message) => {
    expect(build(keyContext)).toThrow(message);
  });

  it('refuses getters and symbols without running them', () => {
    const run = vi.fn(() => 'pii');
    const getter = Object.defineProperty({}, 'purpose', { get: run, enumerable: true });
    expect(build(getter)).toThrow(/accessor properties are not read/);
    expect(run).not.toHaveBeenCalled();
    expect(build({ purpose: 'pii', [Symbol('x')]: 'y' })).toThrow(/symbol/);
    const hidden = Object.defineProperty({ purpose: 'pii' }, 'tenant', { value: 'acme' });
    expect(build(hidden)).toThrow(/hidden/);
  });

  it('store mode refuses entries other than tenant', () => {
    expect(build({ purpose: 'pii' }, 'store')).toThrow(/need keys.mode "embedded"/);
    expect(build({ tenant: 'acme' }, 'store')).not.toThrow();
  });

  it('is read once: changing the object afterwards changes nothing', async () => {
    const keyContext: Record<string, string> = { purpose: 'pii' };
    const { fs, generate } = setup({ 'users.ssn': { keyContext } });
    keyContext.purpose = 'other';
    keyContext.tenant = 'globex';
    await fs.encrypt('1', ctx('acme', 'ssn'));
    expect(generate.mock.calls[0]![1]).toEqual({ purpose: 'pii', tenant: 'acme' });
    expect(fs.fieldPolicy('users', 'ssn').keyContext).toEqual({ purpose: 'pii' });
  });
});

describe('key context: review follow-ups', () => {
  it('a provider keeps a context entry named __proto__ (it never silently disappears)', async () => {
    const provider = new MemoryKeyProvider({ masterKeys: ['master'] });
    const withProto = JSON.parse('{"__proto__":"pii","tenant":"acme"}') as Record<string, string>;
    const { key, wrapped } = await provider.generateDataKey('master', withProto);
    key.release();
    await expect(
      provider.unwrapDataKey('master', wrapped, { tenant: 'acme' }),
    ).rejects.toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
    (await provider.unwrapDataKey('master', wrapped, withProto)).release();
  });

  it('a polluted Object.prototype lends no model field a key context (or master key)', () => {
    const proto = Object.prototype as Record<string, unknown>;
    Object.defineProperty(proto, 'keyContext', {
      value: { tenant: 'evil', purpose: 'attacker' },
      configurable: true,
    });
    Object.defineProperty(proto, 'masterKeyId', { value: 'mk-evil', configurable: true });
    try {
      const User = usersWithSsn();
      expect(Object.hasOwn(User.policies['users.ssn'], 'keyContext')).toBe(false);
      expect(Object.hasOwn(User.policies['users.ssn'], 'masterKeyId')).toBe(false);
    } finally {
      delete proto.keyContext;
      delete proto.masterKeyId;
    }
  });

  it('field options are read once: getters are refused, the model keeps a frozen copy', () => {
    const raw = { purpose: 'pii' };
    const options = Object.defineProperty({}, 'keyContext', { get: () => raw, enumerable: true });
    expect(() => field.string().encrypted(options)).toThrow(/accessor properties are not read/);
    const User = usersWithSsn({ keyContext: raw });
    raw.purpose = 'changed';
    const kept = User.policies['users.ssn'].keyContext!;
    expect(kept).toEqual({ purpose: 'pii' });
    expect(Object.isFrozen(kept)).toBe(true);
  });

  it('cache ids carry a short digest of the key context, however large it is', () => {
    const big = Object.fromEntries(
      [...Array(16).keys()].map((i) => [`${'n'.repeat(120)}${i}`, 'v'.repeat(1024)]),
    );
    const id = fieldKeyOf(undefined, checkKeyContext(big, 'k'))!.contextId!;
    expect(id.length).toBeLessThanOrEqual(43);
    // Equal contexts, whatever their order, share it; different ones do not.
    expect(fieldKeyOf(undefined, checkKeyContext({ a: '1', b: '2' }, 'k'))!.contextId).toBe(
      fieldKeyOf(undefined, checkKeyContext({ b: '2', a: '1' }, 'k'))!.contextId,
    );
    expect(fieldKeyOf(undefined, checkKeyContext({ a: '1', b: '2' }, 'k'))!.contextId).not.toBe(
      fieldKeyOf(undefined, checkKeyContext({ a: '12' }, 'k'))!.contextId,
    );
  });
});

describe('key context in models', () => {
  const User = defineModel({
    table: 'users',
    tenant: 'tenantId',
    key: ['id'],
    fields: {
      id: field.string(),
      tenantId: field.string(),
      ssn: field.string().encrypted({ keyContext: { purpose: 'pii' }, context: { kind: 'gov' } }),
      email: field.string().encrypted(),
    },
  });
  const record = { id: 'u1', tenantId: 'acme', ssn: '123-45-6789', email: 'a@example.com' };

  it('model.policies carry the key context and records use it', async () => {
    expect(User.policies['users.ssn']).toEqual({ keyContext: { purpose: 'pii' } });
    const { fs, generate } = setup({}, { models: [User] });
    const row = await encryptRecord(fs, User, record);
    expect(generate.mock.calls.map((c) => c[1])).toEqual(
      expect.arrayContaining([{ purpose: 'pii', tenant: 'acme' }, { tenant: 'acme' }]),
    );
    expect(await decryptRecord(fs, User, row)).toEqual(record);
  });

  it.each([
    ['without the key context', {}],
    ['with another key context', { keyContext: { purpose: 'billing' } }],
  ])('a client configured %s is refused (policy mismatch)', async (_, ssn) => {
    const { fs } = setup({ 'users.ssn': ssn, 'users.email': {} });
    await expect(encryptRecord(fs, User, record)).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
      details: { field: 'users.ssn' },
    });
  });

  it('refuses a name in both context and keyContext, and points context.tenant at keyContext', () => {
    const define = (options: EncryptedFieldOptions) => () => usersWithSsn(options);
    expect(define({ context: { purpose: 'a' }, keyContext: { Purpose: 'b' } })).toThrow(
      /in both context and keyContext/,
    );
    expect(define({ context: { tenant: 'acme-corp' } })).toThrow(/keyContext: \{ tenant \}/);
    expect(define({ keyContext: { key: 'x' } })).toThrow(/reserved/);
    expect(define({ keyContext: { tenant: 'acme-corp', purpose: 'pii' } })).not.toThrow();
  });
});
