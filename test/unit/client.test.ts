import { describe, expect, it } from 'vitest';
import {
  BatchError,
  createFieldseal,
  inspectEnvelope,
  isFieldsealError,
  sensitive,
  type EncryptionContext,
  type Fieldseal,
  type FieldsealError,
  type FieldsealOptions,
  type FieldValue,
  type KeyProviderCapabilities,
} from '../../src/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';

const CACHE = { maxAgeMs: 60_000 };
const ZERO_CALLS = { generate: 0, wrap: 0, unwrap: 0 };

function ctx(tenant = 'acme', field = 'ssn', record = 'cus_1'): EncryptionContext {
  return { tenant, table: 'customers', field, record };
}

function embedded(
  provider: MemoryKeyProvider = new MemoryKeyProvider(),
  extra: Partial<FieldsealOptions> = {},
): Fieldseal {
  return createFieldseal({
    admin: true,
    provider,
    keys: { mode: 'embedded', masterKeyId: 'master' },
    cache: CACHE,
    ...extra,
  });
}

function stored(
  provider: MemoryKeyProvider,
  store: MemoryKeyStore,
  extra: Partial<FieldsealOptions> = {},
): Fieldseal {
  return createFieldseal({
    admin: true,
    provider,
    keys: { mode: 'store', store, masterKeyId: 'master', keyId: 'k' },
    cache: CACHE,
    ...extra,
  });
}

async function rejection(p: Promise<unknown>): Promise<FieldsealError> {
  let caught: unknown;
  let resolved: unknown;
  try {
    resolved = await p;
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a rejection, got ${String(resolved)}`).toBeDefined();
  expect(isFieldsealError(caught), `not a FieldsealError: ${String(caught)}`).toBe(true);
  return caught as FieldsealError;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Binary form of a stored value. */
function bin(s: string | Uint8Array): Buffer {
  return typeof s === 'string' ? Buffer.from(s.slice(4), 'base64url') : Buffer.from(s);
}
const text = (b: Uint8Array): string => `fs1:${Buffer.from(b).toString('base64url')}`;

/** The 32-byte key commitment of an envelope (just before the ciphertext). */
function commitment(s: string | Uint8Array): string {
  const info = inspectEnvelope(s)!;
  const headerEnd = info.bytes - info.ciphertextBytes - 16;
  return bin(s)
    .subarray(headerEnd - 32, headerEnd)
    .toString('hex');
}

/** Length of the key-reference prefix (everything before the nonce). */
function prefixLength(s: string | Uint8Array): number {
  const info = inspectEnvelope(s)!;
  return info.bytes - info.ciphertextBytes - 16 - 32 - 24;
}

describe('construction', () => {
  const provider = new MemoryKeyProvider();
  const keys = { mode: 'embedded', masterKeyId: 'master' } as const;

  it('fails with ERR_KEY_NOT_CONFIGURED without provider, keys or master key id', () => {
    const bad: unknown[] = [
      undefined,
      null,
      {},
      { keys, cache: CACHE },
      { provider: null, keys, cache: CACHE },
      { provider: [], keys, cache: CACHE },
      { provider, cache: CACHE },
      { provider, keys: null, cache: CACHE },
      { provider, keys: { mode: 'embedded' }, cache: CACHE },
      { provider, keys: { mode: 'embedded', masterKeyId: '' }, cache: CACHE },
      { provider, keys: { mode: 'store', store: new MemoryKeyStore() }, cache: CACHE },
    ];
    for (const options of bad) {
      const err = thrown(() => createFieldseal(options as FieldsealOptions));
      expect(err).toMatchObject({ code: 'ERR_KEY_NOT_CONFIGURED' });
    }
  });

  it('rejects a bad client or field mode with TypeError', () => {
    for (const mode of ['readwrite', 'Write', '', 1, null]) {
      expect(() =>
        createFieldseal({ provider, keys, cache: CACHE, mode: mode as 'ReadWrite' }),
      ).toThrow(TypeError);
      expect(() =>
        createFieldseal({
          admin: true,
          provider,
          keys,
          cache: CACHE,
          fields: { 'customers.ssn': { mode: mode as 'ReadWrite' } },
        }),
      ).toThrow(TypeError);
    }
  });

  it('requires cache limits and checks them', () => {
    expect(() => createFieldseal({ provider, keys } as unknown as FieldsealOptions)).toThrow(
      TypeError,
    );
    for (const cache of [{ maxAgeMs: -1 }, { maxAgeMs: NaN }, { maxAgeMs: 1, maxUses: 0 }]) {
      expect(() => createFieldseal({ provider, keys, cache })).toThrow(RangeError);
    }
  });

  it('rejects a bad field padding option', () => {
    expect(() =>
      createFieldseal({
        admin: true,
        provider,
        keys,
        cache: CACHE,
        fields: { 'customers.ssn': { pad: 'bucket-1' as 'bucket-16' } },
      }),
    ).toThrow(RangeError);
  });

  it('makes no provider call at construction', () => {
    const p = new MemoryKeyProvider();
    embedded(p);
    stored(p, new MemoryKeyStore());
    expect(p.calls).toEqual(ZERO_CALLS);
  });
});

describe('store mode', () => {
  it('encrypt before provisionTenant -> ERR_KEY_NOT_CONFIGURED with no provider call', async () => {
    const provider = new MemoryKeyProvider();
    const fs = stored(provider, new MemoryKeyStore());
    expect((await rejection(fs.encrypt('x', ctx()))).code).toBe('ERR_KEY_NOT_CONFIGURED');
    expect((await rejection(fs.encryptMany([{ value: 'x', context: ctx() }]))).code).toBe(
      'ERR_BATCH_FAILED',
    );
    expect(provider.calls).toEqual(ZERO_CALLS);
  });

  it('provisionTenant creates version 1 once and round-trips', async () => {
    const provider = new MemoryKeyProvider();
    const fs = stored(provider, new MemoryKeyStore());
    const row = await fs.provisionTenant('acme');
    expect(row).toMatchObject({ tenant: 'acme', keyId: 'k', version: 1, state: 'active' });
    expect('wrapped' in row).toBe(false);
    await fs.provisionTenant('acme');
    expect(provider.calls.generate).toBe(1);
    const v = await fs.encrypt('123-45-6789', ctx());
    expect(inspectEnvelope(v)).toMatchObject({ keyLabel: 'k@1', keyRef: { kind: 'store' } });
    expect(await fs.decrypt(v, ctx())).toBe('123-45-6789');
  });

  it('provisionTenant in embedded mode -> ERR_KEY_NOT_CONFIGURED', async () => {
    expect((await rejection(embedded().provisionTenant('acme'))).code).toBe(
      'ERR_KEY_NOT_CONFIGURED',
    );
  });
});

describe('modes', () => {
  it('WriteOnly client: decrypt -> ERR_MODE_FORBIDDEN with no provider call', async () => {
    const provider = new MemoryKeyProvider();
    const v = await embedded(provider).encrypt('secret', ctx());
    const before = provider.calls;
    const wo = embedded(provider, { mode: 'WriteOnly' });
    expect((await rejection(wo.decrypt(v, ctx()))).code).toBe('ERR_MODE_FORBIDDEN');
    expect((await rejection(wo.decryptMany([{ stored: v, context: ctx() }]))).code).toBe(
      'ERR_BATCH_FAILED',
    );
    const settled = await wo.decryptManySettled([{ stored: v, context: ctx() }]);
    expect(settled[0]).toMatchObject({ ok: false, error: { code: 'ERR_MODE_FORBIDDEN' } });
    // A legacy plaintext is refused as well: a WriteOnly client never reads.
    expect((await rejection(wo.decrypt('legacy', ctx()))).code).toBe('ERR_MODE_FORBIDDEN');
    expect(provider.calls).toEqual(before);
    // It can still write.
    expect(inspectEnvelope(await wo.encrypt('x', ctx()))).toBeDefined();
  });

  it('WriteOnly client in embedded mode works with a provider that cannot unwrap', async () => {
    class GenerateOnly extends MemoryKeyProvider {
      override readonly capabilities: KeyProviderCapabilities = {
        generate: true,
        wrap: true,
        unwrap: false,
      };
    }
    const provider = new GenerateOnly();
    const wo = embedded(provider, { mode: 'WriteOnly' });
    const values = await wo.encryptMany(range(10).map((i) => ({ value: i, context: ctx() })));
    expect(values).toHaveLength(10);
    expect(provider.calls).toEqual({ generate: 1, wrap: 0, unwrap: 0 });
  });

  it('ReadOnly client: encrypt -> ERR_MODE_FORBIDDEN with no provider call', async () => {
    const provider = new MemoryKeyProvider();
    const v = await embedded(provider).encrypt('secret', ctx());
    const ro = embedded(provider, { mode: 'ReadOnly' });
    const before = provider.calls;
    expect((await rejection(ro.encrypt('x', ctx()))).code).toBe('ERR_MODE_FORBIDDEN');
    expect((await rejection(ro.encryptToBytes('x', ctx()))).code).toBe('ERR_MODE_FORBIDDEN');
    const batch = await rejection(ro.encryptMany([{ value: 'x', context: ctx() }]));
    expect((batch as BatchError).failures.map((f) => f.error.code)).toEqual(['ERR_MODE_FORBIDDEN']);
    expect(provider.calls).toEqual(before);
    expect(await ro.decrypt(v, ctx())).toBe('secret');
  });

  it('a field narrows the client mode while other fields keep working', async () => {
    const provider = new MemoryKeyProvider();
    const fs = embedded(provider, {
      fields: {
        'customers.ssn': { mode: 'WriteOnly' },
        'customers.dob': { mode: 'ReadOnly' },
      },
    });
    const ssn = await fs.encrypt('123-45-6789', ctx('acme', 'ssn'));
    const email = await fs.encrypt('a@b.c', ctx('acme', 'email'));
    expect((await rejection(fs.decrypt(ssn, ctx('acme', 'ssn')))).code).toBe('ERR_MODE_FORBIDDEN');
    expect(await fs.decrypt(email, ctx('acme', 'email'))).toBe('a@b.c');
    expect((await rejection(fs.encrypt('2000-01-01', ctx('acme', 'dob')))).code).toBe(
      'ERR_MODE_FORBIDDEN',
    );
    // The same field name in another table is not affected.
    const other = { tenant: 'acme', table: 'employees', field: 'ssn' };
    expect(await fs.decrypt(await fs.encrypt('x', other), other)).toBe('x');
    // In a batch only the forbidden item fails.
    const settled = await fs.decryptManySettled([
      { stored: email, context: ctx('acme', 'email') },
      { stored: ssn, context: ctx('acme', 'ssn') },
    ]);
    expect(settled[0]).toEqual({ ok: true, value: 'a@b.c' });
    expect(settled[1]).toMatchObject({ ok: false, error: { code: 'ERR_MODE_FORBIDDEN' } });
  });

  it('a field can never widen its client mode', async () => {
    const provider = new MemoryKeyProvider();
    const v = await embedded(provider).encrypt('secret', ctx());
    const ro = embedded(provider, {
      mode: 'ReadOnly',
      fields: {
        'customers.ssn': { mode: 'ReadWrite' },
        'customers.email': { mode: 'WriteOnly' },
      },
    });
    expect((await rejection(ro.encrypt('x', ctx('acme', 'ssn')))).code).toBe('ERR_MODE_FORBIDDEN');
    expect((await rejection(ro.encrypt('x', ctx('acme', 'email')))).code).toBe(
      'ERR_MODE_FORBIDDEN',
    );
    expect((await rejection(ro.decrypt(v, ctx('acme', 'email')))).code).toBe('ERR_MODE_FORBIDDEN');
    expect(await ro.decrypt(v, ctx('acme', 'ssn'))).toBe('secret');

    const wo = embedded(provider, {
      mode: 'WriteOnly',
      fields: { 'customers.ssn': { mode: 'ReadWrite' } },
    });
    expect((await rejection(wo.decrypt(v, ctx('acme', 'ssn')))).code).toBe('ERR_MODE_FORBIDDEN');
  });
});

describe('legacy plaintext', () => {
  it('a non-envelope string or bytes in a normal field -> ERR_PLAINTEXT_IN_ENCRYPTED_FIELD', async () => {
    const provider = new MemoryKeyProvider();
    const fs = embedded(provider);
    for (const legacy of [
      '123-45-6789',
      '',
      'FS1:abc',
      ' fs1:abc',
      Buffer.from('123-45-6789'),
      new Uint8Array(0),
      new Uint8Array([1, 2, 3]),
    ]) {
      const err = await rejection(fs.decrypt(legacy, ctx()));
      expect(err.code).toBe('ERR_PLAINTEXT_IN_ENCRYPTED_FIELD');
      expect(err.details.field).toBe('customers.ssn');
      // The plaintext never appears in the error.
      if (typeof legacy === 'string' && legacy.length > 3) {
        expect(JSON.stringify(err).includes(legacy)).toBe(false);
        expect(err.message.includes(legacy)).toBe(false);
      }
    }
    expect(fs.metrics().plaintextReads).toEqual({});
    expect(fs.metrics().failures.ERR_PLAINTEXT_IN_ENCRYPTED_FIELD).toBe(7);
    expect(provider.calls).toEqual(ZERO_CALLS);
  });

  it('allowPlaintextRead returns legacy values as-is and counts them per field', async () => {
    const fs = embedded(new MemoryKeyProvider(), {
      fields: { 'customers.ssn': { allowPlaintextRead: true } },
    });
    expect(await fs.decrypt('123-45-6789', ctx())).toBe('123-45-6789');
    const buf = Buffer.from('legacy bytes');
    expect(await fs.decrypt(buf, ctx())).toBe(buf);
    const settled = await fs.decryptManySettled([{ stored: 'old', context: ctx() }]);
    expect(settled).toEqual([{ ok: true, value: 'old' }]);
    expect(fs.metrics().plaintextReads).toEqual({ 'customers.ssn': 3 });
    // Envelopes in the migration field still decrypt, and are not counted as plaintext.
    const v = await fs.encrypt('new', ctx());
    expect(await fs.decrypt(v, ctx())).toBe('new');
    expect(fs.metrics().plaintextReads).toEqual({ 'customers.ssn': 3 });
    // Other fields still refuse plaintext.
    expect((await rejection(fs.decrypt('x', ctx('acme', 'email')))).code).toBe(
      'ERR_PLAINTEXT_IN_ENCRYPTED_FIELD',
    );
    expect(fs.metrics().plaintextReads).toEqual({ 'customers.ssn': 3 });
  });

  it('a malformed fs1: value is an error even in a migration field', async () => {
    const provider = new MemoryKeyProvider();
    const fs = embedded(provider, { fields: { 'customers.ssn': { allowPlaintextRead: true } } });
    const good = await fs.encrypt('secret', ctx());
    const body = good.slice(4);
    const malformed: (string | Uint8Array)[] = [
      'fs1:',
      'fs1:!!!!',
      `fs1:${body}=`,
      `fs1:${body.replace(/[A-Za-z0-9]/, '+')}`,
      text(Buffer.from([0xf5, 0x01, 0x01])),
      text(Buffer.from('hello')),
      text(bin(good).subarray(0, 40)),
      Buffer.from([0xf5, 0x01, 0x01, 0x02]),
      bin(good).subarray(0, 60),
    ];
    for (const m of malformed) {
      const err = await rejection(fs.decrypt(m, ctx()));
      expect(err.code, String(m)).toBe('ERR_MALFORMED_CIPHERTEXT');
    }
    for (const m of ['fs2:AAAA', 'fs10:xyz']) {
      expect((await rejection(fs.decrypt(m, ctx()))).code).toBe('ERR_UNSUPPORTED_FORMAT');
    }
    expect(fs.metrics().plaintextReads).toEqual({});
  });
});

describe('wrong key, shredding, destroyed master keys, outages', () => {
  it('store mode: another data key under the same keyId/version -> ERR_WRONG_KEY', async () => {
    const providerA = new MemoryKeyProvider();
    const providerB = new MemoryKeyProvider();
    const a = stored(providerA, new MemoryKeyStore());
    const b = stored(providerB, new MemoryKeyStore());
    await a.provisionTenant('acme');
    await b.provisionTenant('acme');
    const v = await a.encrypt('secret', ctx());
    const err = await rejection(b.decrypt(v, ctx()));
    expect(err.code).toBe('ERR_WRONG_KEY');
    // Binary form too, and in a batch.
    expect((await rejection(b.decrypt(bin(v), ctx()))).code).toBe('ERR_WRONG_KEY');
    const settled = await b.decryptManySettled([{ stored: v, context: ctx() }]);
    expect(settled[0]).toMatchObject({ ok: false, error: { code: 'ERR_WRONG_KEY' } });
  });

  it('embedded mode: a valid wrapped key of another data key spliced in -> ERR_WRONG_KEY', async () => {
    const provider = new MemoryKeyProvider();
    const a = await embedded(provider).encryptToBytes('secret', ctx());
    const b = await embedded(provider).encryptToBytes('other', ctx());
    const n = prefixLength(a);
    expect(prefixLength(b)).toBe(n);
    const spliced = Buffer.concat([b.subarray(0, n), a.subarray(n)]);
    expect((await rejection(embedded(provider).decrypt(spliced, ctx()))).code).toBe(
      'ERR_WRONG_KEY',
    );
  });

  it('tampering and context mismatch -> ERR_AUTHENTICATION_FAILED', async () => {
    const fs = embedded();
    const v = await fs.encryptToBytes('secret', ctx());
    const flipped = Buffer.from(v);
    flipped[flipped.length - 1]! ^= 1;
    expect((await rejection(fs.decrypt(flipped, ctx()))).code).toBe('ERR_AUTHENTICATION_FAILED');
    const flippedCt = Buffer.from(v);
    flippedCt[flippedCt.length - 17]! ^= 1;
    expect((await rejection(fs.decrypt(flippedCt, ctx()))).code).toBe('ERR_AUTHENTICATION_FAILED');
    for (const other of [
      ctx('acme', 'ssn', 'cus_2'),
      ctx('acme', 'email'),
      { ...ctx(), table: 'employees' },
      { ...ctx(), purpose: 'x' },
    ]) {
      expect((await rejection(fs.decrypt(v, other))).code).toBe('ERR_AUTHENTICATION_FAILED');
    }
  });

  it('shredded key (store mode) + cleared cache -> ERR_KEY_SHREDDED', async () => {
    const provider = new MemoryKeyProvider();
    const store = new MemoryKeyStore();
    const fs = stored(provider, store);
    await fs.provisionTenant('acme');
    const v = await fs.encrypt('secret', ctx());
    store.shred('acme', 'k');
    expect(fs.clearCache()).toBeGreaterThan(0);
    const err = await rejection(fs.decrypt(v, ctx()));
    expect(err.code).toBe('ERR_KEY_SHREDDED');
    expect(err.details.keyRef).toBe('k@1');
    // A fresh client sees the same, and writes say why they have no key.
    expect((await rejection(stored(provider, store).decrypt(v, ctx()))).code).toBe(
      'ERR_KEY_SHREDDED',
    );
    expect((await rejection(fs.encrypt('new', ctx()))).code).toBe('ERR_KEY_SHREDDED');
  });

  it('shredding one tenant does not affect another', async () => {
    const provider = new MemoryKeyProvider();
    const store = new MemoryKeyStore();
    const fs = stored(provider, store);
    await fs.provisionTenant('acme');
    await fs.provisionTenant('globex');
    const a = await fs.encrypt('a', ctx('acme'));
    const g = await fs.encrypt('g', ctx('globex'));
    store.shred('acme', 'k');
    fs.clearCache();
    expect((await rejection(fs.decrypt(a, ctx('acme')))).code).toBe('ERR_KEY_SHREDDED');
    expect(await fs.decrypt(g, ctx('globex'))).toBe('g');
  });

  it('an unknown key version (store mode) -> ERR_KEY_NOT_FOUND', async () => {
    const provider = new MemoryKeyProvider();
    const fs = stored(provider, new MemoryKeyStore());
    await fs.provisionTenant('acme');
    const v = await fs.encrypt('x', ctx());
    // Another store where the tenant has no key at all.
    expect((await rejection(stored(provider, new MemoryKeyStore()).decrypt(v, ctx()))).code).toBe(
      'ERR_KEY_NOT_FOUND',
    );
  });

  it('destroyed master key + cleared cache -> a key error, never plaintext', async () => {
    for (const mode of ['embedded', 'store'] as const) {
      const provider = new MemoryKeyProvider();
      const fs = mode === 'embedded' ? embedded(provider) : stored(provider, new MemoryKeyStore());
      if (mode === 'store') await fs.provisionTenant('acme');
      const v = await fs.encrypt('secret', ctx());
      provider.destroyMasterKey('master');
      fs.clearCache();
      const err = await rejection(fs.decrypt(v, ctx()));
      expect(['ERR_KEY_NOT_CONFIGURED', 'ERR_KEY_UNWRAP_FAILED']).toContain(err.code);
      // Re-creating a master key under the same id does not bring the data back.
      provider.createMasterKey('master');
      const err2 = await rejection(fs.decrypt(v, ctx()));
      expect(err2.code).toBe('ERR_KEY_UNWRAP_FAILED');
    }
  });

  it('an envelope naming a provider the client does not have -> ERR_KEY_NOT_CONFIGURED', async () => {
    const v = await embedded(new MemoryKeyProvider({ id: 'kms-a' })).encrypt('x', ctx());
    const err = await rejection(embedded(new MemoryKeyProvider({ id: 'kms-b' })).decrypt(v, ctx()));
    expect(err.code).toBe('ERR_KEY_NOT_CONFIGURED');
  });

  it('provider outage with a cold cache -> ERR_PROVIDER_UNAVAILABLE with cause', async () => {
    const provider = new MemoryKeyProvider();
    const fs = embedded(provider);
    const v = await fs.encrypt('secret', ctx());
    fs.clearCache();
    provider.injectFault('unavailable', Infinity);
    const err = await rejection(fs.decrypt(v, ctx()));
    expect(err.code).toBe('ERR_PROVIDER_UNAVAILABLE');
    expect(err.cause).toBeInstanceOf(Error);
    expect((err.cause as Error).message).toBe('injected outage');
    expect((await rejection(fs.encrypt('x', ctx('globex')))).code).toBe('ERR_PROVIDER_UNAVAILABLE');
    const batch = (await rejection(
      fs.decryptMany([
        { stored: v, context: ctx() },
        { stored: v, context: ctx() },
      ]),
    )) as BatchError;
    expect(batch.failures.map((f) => [f.index, f.error.code])).toEqual([
      [0, 'ERR_PROVIDER_UNAVAILABLE'],
      [1, 'ERR_PROVIDER_UNAVAILABLE'],
    ]);
    expect(fs.metrics().failures.ERR_PROVIDER_UNAVAILABLE).toBeGreaterThanOrEqual(2);
    // A failed load is not cached: once the provider is back, the value decrypts.
    provider.injectFault('unavailable', 0);
    expect(await fs.decrypt(v, ctx())).toBe('secret');
  });

  it('store mode outage -> ERR_PROVIDER_UNAVAILABLE for reads and writes', async () => {
    const provider = new MemoryKeyProvider();
    const fs = stored(provider, new MemoryKeyStore());
    await fs.provisionTenant('acme');
    const v = await fs.encrypt('secret', ctx());
    fs.clearCache();
    provider.injectFault('timeout', Infinity);
    expect((await rejection(fs.decrypt(v, ctx()))).code).toBe('ERR_PROVIDER_UNAVAILABLE');
    expect((await rejection(fs.encrypt('x', ctx()))).code).toBe('ERR_PROVIDER_UNAVAILABLE');
  });
});

describe('data-key cache', () => {
  async function valuesFor(provider: MemoryKeyProvider, n: number, tenant = 'acme') {
    const writer = embedded(provider);
    const items = range(n).map((i) => ({ value: `v${i}`, context: ctx(tenant, 'ssn', `r${i}`) }));
    const out = await writer.encryptMany(items);
    return items.map((it, i) => ({ stored: out[i]!, context: it.context, value: it.value }));
  }

  it('1,000 decrypts of one tenant cost exactly one unwrap', async () => {
    const provider = new MemoryKeyProvider();
    const values = await valuesFor(provider, 1000);
    expect(provider.calls).toEqual({ generate: 1, wrap: 0, unwrap: 0 });
    const reader = embedded(provider);
    for (const v of values) expect(await reader.decrypt(v.stored, v.context)).toBe(v.value);
    expect(provider.calls.unwrap).toBe(1);
    const m = reader.metrics();
    expect(m.decrypted).toBe(1000);
    expect(m.cache).toMatchObject({ misses: 1, hits: 999 });
    expect(m.providerCalls.memory).toEqual({ generate: 1, wrap: 0, unwrap: 1 });
  });

  it('a value read back by its writer costs no unwrap', async () => {
    const provider = new MemoryKeyProvider();
    const fs = embedded(provider);
    for (const i of range(20)) expect(await fs.decrypt(await fs.encrypt(i, ctx()), ctx())).toBe(i);
    expect(provider.calls).toEqual({ generate: 1, wrap: 0, unwrap: 0 });
  });

  it('50 concurrent decrypts with a cold cache cost exactly one unwrap (single-flight)', async () => {
    const provider = new MemoryKeyProvider();
    const values = await valuesFor(provider, 50);
    provider.setLatency(20);
    const reader = embedded(provider);
    const out = await Promise.all(values.map((v) => reader.decrypt(v.stored, v.context)));
    expect(out).toEqual(values.map((v) => v.value));
    expect(provider.calls.unwrap).toBe(1);
  });

  it('concurrent encrypts with a cold cache share one generate (single-flight)', async () => {
    const provider = new MemoryKeyProvider();
    provider.setLatency(20);
    const fs = embedded(provider);
    const out = await Promise.all(range(30).map((i) => fs.encrypt(i, ctx())));
    expect(provider.calls.generate).toBe(1);
    expect(new Set(out.map(commitment)).size).toBe(1);
  });

  it('a single-flight failure reaches every waiter and is not cached', async () => {
    const provider = new MemoryKeyProvider();
    const values = await valuesFor(provider, 10);
    provider.setLatency(10);
    provider.injectFault('unavailable', 1);
    const reader = embedded(provider);
    const settled = await Promise.allSettled(
      values.map((v) => reader.decrypt(v.stored, v.context)),
    );
    expect(settled.every((s) => s.status === 'rejected')).toBe(true);
    expect(provider.calls.unwrap).toBe(1);
    expect(await reader.decrypt(values[0]!.stored, values[0]!.context)).toBe('v0');
    expect(provider.calls.unwrap).toBe(2);
  });

  it('maxUses: 25 sequential encrypts with maxUses 10 -> 3 generate calls', async () => {
    const provider = new MemoryKeyProvider();
    const fs = embedded(provider, { cache: { maxAgeMs: 60_000, maxUses: 10 } });
    const out: string[] = [];
    for (const i of range(25)) out.push(await fs.encrypt(i, ctx()));
    expect(provider.calls.generate).toBe(3);
    const perKey = new Map<string, number>();
    for (const v of out) perKey.set(commitment(v), (perKey.get(commitment(v)) ?? 0) + 1);
    expect([...perKey.values()]).toEqual([10, 10, 5]);
  });

  it('maxUses also bounds decrypts', async () => {
    const provider = new MemoryKeyProvider();
    const values = await valuesFor(provider, 25);
    const reader = embedded(provider, { cache: { maxAgeMs: 60_000, maxUses: 10 } });
    for (const v of values) await reader.decrypt(v.stored, v.context);
    expect(provider.calls.unwrap).toBe(3);
  });

  it('maxUses bounds the values one data key seals even for concurrent encrypts', async () => {
    const provider = new MemoryKeyProvider();
    provider.setLatency(5);
    const fs = embedded(provider, { cache: { maxAgeMs: 60_000, maxUses: 10 } });
    const out = await Promise.all(range(25).map((i) => fs.encrypt(i, ctx())));
    const perKey = new Map<string, number>();
    for (const v of out) perKey.set(commitment(v), (perKey.get(commitment(v)) ?? 0) + 1);
    expect(Math.max(...perKey.values())).toBeLessThanOrEqual(10);
  });

  it('maxAgeMs: an expired key is wiped by its timer and reloaded on the next use', async () => {
    const provider = new MemoryKeyProvider();
    const values = await valuesFor(provider, 3);
    const reader = embedded(provider, { cache: { maxAgeMs: 40 } });
    await reader.decrypt(values[0]!.stored, values[0]!.context);
    await reader.decrypt(values[1]!.stored, values[1]!.context);
    expect(provider.calls.unwrap).toBe(1);
    expect(reader.metrics().cache.entries).toBe(1);
    await sleep(120);
    // The timer evicted the key without anyone asking for it.
    expect(reader.metrics().cache.entries).toBe(0);
    expect(await reader.decrypt(values[2]!.stored, values[2]!.context)).toBe('v2');
    expect(provider.calls.unwrap).toBe(2);
  });

  it('maxAgeMs: 0 disables caching but keeps single-flight', async () => {
    const provider = new MemoryKeyProvider();
    const values = await valuesFor(provider, 10);
    const reader = embedded(provider, { cache: { maxAgeMs: 0 } });
    await reader.decrypt(values[0]!.stored, values[0]!.context);
    await reader.decrypt(values[1]!.stored, values[1]!.context);
    expect(provider.calls.unwrap).toBe(2);
    provider.setLatency(10);
    await Promise.all(values.map((v) => reader.decrypt(v.stored, v.context)));
    expect(provider.calls.unwrap).toBe(3);
    expect(reader.metrics().cache.entries).toBe(0);
  });

  it('maxEntries: the least recently used key is evicted', async () => {
    const provider = new MemoryKeyProvider();
    const a = (await valuesFor(provider, 1, 'a'))[0]!;
    const b = (await valuesFor(provider, 1, 'b'))[0]!;
    const c = (await valuesFor(provider, 1, 'c'))[0]!;
    const reader = embedded(provider, { cache: { maxAgeMs: 60_000, maxEntries: 2 } });
    const read = (v: typeof a): Promise<unknown> => reader.decrypt(v.stored, v.context);
    await read(a);
    await read(b);
    expect(provider.calls.unwrap).toBe(2);
    await read(a); // hit: a is now the most recently used
    expect(provider.calls.unwrap).toBe(2);
    await read(c); // evicts b, not a
    expect(provider.calls.unwrap).toBe(3);
    expect(reader.metrics().cache).toMatchObject({ entries: 2, evictions: 1 });
    await read(a);
    expect(provider.calls.unwrap).toBe(3);
    await read(b);
    expect(provider.calls.unwrap).toBe(4);
  });

  it('clearCache drops every key and the client keeps working', async () => {
    const provider = new MemoryKeyProvider();
    const values = await valuesFor(provider, 2);
    const reader = embedded(provider);
    await reader.decrypt(values[0]!.stored, values[0]!.context);
    expect(reader.clearCache()).toBe(1);
    expect(reader.metrics().cache.entries).toBe(0);
    expect(await reader.decrypt(values[1]!.stored, values[1]!.context)).toBe('v1');
    expect(provider.calls.unwrap).toBe(2);
  });

  it('two tenants never share a data key', async () => {
    const provider = new MemoryKeyProvider();
    const fs = embedded(provider);
    const a1 = await fs.encrypt('x', ctx('acme'));
    const a2 = await fs.encrypt('y', ctx('acme'));
    const g1 = await fs.encrypt('x', ctx('globex'));
    expect(provider.calls.generate).toBe(2);
    expect(commitment(a1)).toBe(commitment(a2));
    expect(commitment(a1)).not.toBe(commitment(g1));
    // Same wrapped key within a tenant, different across tenants.
    const n = prefixLength(a1);
    expect(bin(a1).subarray(0, n).equals(bin(a2).subarray(0, n))).toBe(true);
    expect(
      bin(a1)
        .subarray(0, n)
        .equals(bin(g1).subarray(0, prefixLength(g1))),
    ).toBe(false);
    // With both keys cached, a value moved to the other tenant still does not open.
    const moved = await rejection(fs.decrypt(a1, ctx('globex')));
    expect(moved.code).toBe('ERR_KEY_UNWRAP_FAILED');
    expect(await fs.decrypt(g1, ctx('globex'))).toBe('x');
  });

  it('two tenants never share a data key in store mode either', async () => {
    const provider = new MemoryKeyProvider();
    const fs = stored(provider, new MemoryKeyStore());
    await fs.provisionTenant('acme');
    await fs.provisionTenant('globex');
    const a = await fs.encrypt('x', ctx('acme'));
    const g = await fs.encrypt('x', ctx('globex'));
    expect(inspectEnvelope(a)!.keyLabel).toBe(inspectEnvelope(g)!.keyLabel);
    expect(commitment(a)).not.toBe(commitment(g));
    expect((await rejection(fs.decrypt(a, ctx('globex')))).code).toBe('ERR_WRONG_KEY');
  });
});

describe('batches', () => {
  const tenants = ['t1', 't2', 't3'];
  const items = tenants.flatMap((t) =>
    range(100).map((i) => ({ value: `${t}-${i}`, context: ctx(t, 'ssn', `r${i}`) })),
  );

  it('encryptMany over 3 tenants x 100 values: one generate per tenant (embedded)', async () => {
    const provider = new MemoryKeyProvider();
    const fs = embedded(provider);
    const out = await fs.encryptMany(items);
    expect(out).toHaveLength(300);
    expect(provider.calls).toEqual({ generate: 3, wrap: 0, unwrap: 0 });
    expect(new Set(out.map(commitment)).size).toBe(3);
    expect(fs.metrics().encrypted).toBe(300);
    // A cold reader needs one unwrap per tenant for the whole batch.
    const reader = embedded(provider);
    const back = await reader.decryptMany(
      out.map((s, i) => ({ stored: s, context: items[i]!.context })),
    );
    expect(back).toEqual(items.map((it) => it.value));
    expect(provider.calls.unwrap).toBe(3);
  });

  it('encryptMany over 3 tenants x 100 values: one unwrap per tenant (store)', async () => {
    const provider = new MemoryKeyProvider();
    const store = new MemoryKeyStore();
    const fs = stored(provider, store);
    for (const t of tenants) await fs.provisionTenant(t);
    expect(provider.calls).toEqual({ generate: 3, wrap: 0, unwrap: 0 });
    const out = await fs.encryptManyToBytes(items);
    expect(provider.calls.unwrap).toBe(3);
    const back = await fs.decryptMany(
      out.map((s, i) => ({ stored: s, context: items[i]!.context })),
    );
    expect(back).toEqual(items.map((it) => it.value));
    expect(provider.calls.unwrap).toBe(3);
  });

  it('encryptMany with one bad item throws BatchError and returns nothing', async () => {
    const fs = embedded();
    const bad = [
      { value: 'ok', context: ctx() },
      { value: undefined as unknown as FieldValue, context: ctx() },
      { value: 'ok', context: { tenant: 'acme', table: 'customers' } as EncryptionContext },
    ];
    const err = (await rejection(fs.encryptMany(bad))) as BatchError;
    expect(err.code).toBe('ERR_BATCH_FAILED');
    expect(err.failures.map((f) => [f.index, f.error.code])).toEqual([
      [1, 'ERR_UNSUPPORTED_VALUE'],
      [2, 'ERR_INVALID_CONTEXT'],
    ]);
    expect(fs.metrics().encrypted).toBe(0);
  });

  it('decryptMany with one tampered item -> BatchError listing exactly that index', async () => {
    const provider = new MemoryKeyProvider();
    const fs = embedded(provider);
    const out = await fs.encryptManyToBytes(items);
    const batch = out.map((s, i) => ({ stored: s, context: items[i]!.context }));
    const tampered = Buffer.from(out[142]!);
    tampered[tampered.length - 1]! ^= 0x80;
    batch[142] = { stored: tampered, context: items[142]!.context };
    const decryptedBefore = fs.metrics().decrypted;
    const err = (await rejection(fs.decryptMany(batch))) as BatchError;
    expect(err).toBeInstanceOf(BatchError);
    expect(err.code).toBe('ERR_BATCH_FAILED');
    expect(err.failures).toHaveLength(1);
    expect(err.failures[0]!.index).toBe(142);
    expect(err.failures[0]!.error.code).toBe('ERR_AUTHENTICATION_FAILED');
    // The error carries indexes and codes only, never values.
    const json = JSON.stringify(err);
    expect(JSON.parse(json)).toMatchObject({
      code: 'ERR_BATCH_FAILED',
      failures: [{ index: 142, code: 'ERR_AUTHENTICATION_FAILED' }],
    });
    expect(json.includes('t1-0')).toBe(false);
    expect('values' in err).toBe(false);
    expect(fs.metrics().failures.ERR_AUTHENTICATION_FAILED).toBe(1);
    expect(fs.metrics().decrypted - decryptedBefore).toBeLessThanOrEqual(299);
  });

  it('decryptManySettled reports each item', async () => {
    const provider = new MemoryKeyProvider();
    const fs = embedded(provider);
    const [a, b, c] = await fs.encryptMany([
      { value: 'a', context: ctx('t1') },
      { value: 2, context: ctx('t2') },
      { value: true, context: ctx('t1') },
    ]);
    const tampered = bin(c!);
    tampered[tampered.length - 1]! ^= 1;
    const settled = await fs.decryptManySettled([
      { stored: a!, context: ctx('t1') },
      { stored: 'legacy', context: ctx('t1') },
      { stored: b!, context: ctx('t2') },
      { stored: tampered, context: ctx('t1') },
      { stored: a!, context: ctx('t1', 'ssn', 'other-record') },
      { stored: 'fs1:%%', context: ctx('t1') },
      { stored: b!, context: { tenant: 't2' } as EncryptionContext },
    ]);
    expect(settled.map((s) => (s.ok ? { ok: true, value: s.value } : s.error.code))).toEqual([
      { ok: true, value: 'a' },
      'ERR_PLAINTEXT_IN_ENCRYPTED_FIELD',
      { ok: true, value: 2 },
      'ERR_AUTHENTICATION_FAILED',
      'ERR_AUTHENTICATION_FAILED',
      'ERR_MALFORMED_CIPHERTEXT',
      'ERR_INVALID_CONTEXT',
    ]);
  });

  it('a batch of 500 values over 5 keys costs exactly 5 unwraps with a cold cache', async () => {
    const provider = new MemoryKeyProvider();
    const five = ['k1', 'k2', 'k3', 'k4', 'k5'];
    const batchItems = range(500).map((i) => ({
      value: i,
      context: ctx(five[i % 5], 'ssn', `r${i}`),
    }));
    const out = await embedded(provider).encryptMany(batchItems);
    expect(provider.calls.generate).toBe(5);
    const reader = embedded(provider);
    const back = await reader.decryptMany(
      out.map((s, i) => ({ stored: s, context: batchItems[i]!.context })),
    );
    expect(back).toEqual(range(500));
    expect(provider.calls.unwrap).toBe(5);
    expect(reader.metrics().decrypted).toBe(500);
  });

  it('a key evicted while a batch holds it is zeroed only after the batch (decryptMany)', async () => {
    const provider = new MemoryKeyProvider();
    const fs = embedded(provider);
    const out = await fs.encryptMany(items);
    const batch = out.map((s, i) => ({ stored: s, context: items[i]!.context }));
    const unwrapsBefore = provider.calls.unwrap;
    const pending = fs.decryptMany(batch);
    // Synchronously, while the batch holds its leases.
    expect(fs.clearCache()).toBeGreaterThan(0);
    expect(fs.metrics().cache.entries).toBe(0);
    expect(await pending).toEqual(items.map((it) => it.value));
    // The batch used the keys it had leased before the clear.
    expect(provider.calls.unwrap).toBe(unwrapsBefore);
  });

  it('a key evicted while a batch holds it is zeroed only after the batch (encryptMany)', async () => {
    const provider = new MemoryKeyProvider();
    const fs = embedded(provider);
    await fs.encryptMany(items); // warm one write key per tenant
    const pending = fs.encryptMany(items);
    expect(fs.clearCache()).toBeGreaterThan(0);
    const out = await pending;
    expect(provider.calls.generate).toBe(3);
    const reader = embedded(provider);
    expect(
      await reader.decryptMany(out.map((s, i) => ({ stored: s, context: items[i]!.context }))),
    ).toEqual(items.map((it) => it.value));
  });

  it('a key evicted during concurrent single decrypts is not zeroed under them', async () => {
    const provider = new MemoryKeyProvider();
    const fs = embedded(provider);
    const out = await fs.encryptMany(items.slice(0, 50));
    const pending = out.map((s, i) => fs.decrypt(s, items[i]!.context));
    fs.clearCache();
    expect(await Promise.all(pending)).toEqual(items.slice(0, 50).map((it) => it.value));
  });
});

describe('typed values', () => {
  const values: [string, FieldValue, (got: unknown) => void][] = [
    ['string', 'héllo 👋', (g) => expect(g).toBe('héllo 👋')],
    ['empty string', '', (g) => expect(g).toBe('')],
    ['string that looks like an envelope', 'fs1:AAAA', (g) => expect(g).toBe('fs1:AAAA')],
    ['number', 3.25, (g) => expect(g).toBe(3.25)],
    ['-0', -0, (g) => expect(Object.is(g, -0)).toBe(true)],
    ['NaN', NaN, (g) => expect(Number.isNaN(g)).toBe(true)],
    ['Infinity', -Infinity, (g) => expect(g).toBe(-Infinity)],
    ['bigint', -(2n ** 100n) + 1n, (g) => expect(g).toBe(-(2n ** 100n) + 1n)],
    ['bigint 0', 0n, (g) => expect(g).toBe(0n)],
    ['true', true, (g) => expect(g).toBe(true)],
    ['false', false, (g) => expect(g).toBe(false)],
    [
      'Date',
      new Date('2024-02-29T12:34:56.789Z'),
      (g) => {
        expect(g).toBeInstanceOf(Date);
        expect((g as Date).toISOString()).toBe('2024-02-29T12:34:56.789Z');
      },
    ],
    [
      'Uint8Array',
      new Uint8Array([0, 1, 2, 255]),
      (g) => {
        expect(g).toBeInstanceOf(Uint8Array);
        expect(Buffer.isBuffer(g)).toBe(false);
        expect([...(g as Uint8Array)]).toEqual([0, 1, 2, 255]);
      },
    ],
    [
      'empty Uint8Array',
      new Uint8Array(0),
      (g) => {
        expect(Buffer.isBuffer(g)).toBe(false);
        expect((g as Uint8Array).byteLength).toBe(0);
      },
    ],
    [
      'Buffer',
      Buffer.from([9, 8, 7]),
      (g) => {
        expect(Buffer.isBuffer(g)).toBe(true);
        expect((g as Buffer).equals(Buffer.from([9, 8, 7]))).toBe(true);
      },
    ],
    [
      'JSON object',
      { a: 1, b: [true, null, 'x'], c: { d: 'e' } },
      (g) => expect(g).toEqual({ a: 1, b: [true, null, 'x'], c: { d: 'e' } }),
    ],
    ['JSON array', [1, 'two', { three: 3 }], (g) => expect(g).toEqual([1, 'two', { three: 3 }])],
    ['null', null, (g) => expect(g).toBeNull()],
  ];

  for (const [name, value, check] of values) {
    it(`${name} round-trips with its type (text and binary)`, async () => {
      const fs = embedded();
      check(await fs.decrypt(await fs.encrypt(value, ctx()), ctx()));
      check(await fs.decrypt(await fs.encryptToBytes(value, ctx()), ctx()));
      check(
        (await fs.decryptMany([{ stored: await fs.encrypt(value, ctx()), context: ctx() }]))[0],
      );
    });
  }

  it('a decrypted Uint8Array does not expose other memory through .buffer', async () => {
    const fs = embedded();
    const v = await fs.decrypt<Uint8Array>(
      await fs.encrypt(new Uint8Array([1, 2, 3]), ctx()),
      ctx(),
    );
    expect(v.byteLength).toBe(3);
    // Whatever the backing store is, it must not be shared with unrelated data.
    const backing = new Uint8Array(v.buffer);
    expect(backing.byteLength - v.byteLength).toBeLessThanOrEqual(64);
  });

  it('undefined, function, symbol, Invalid Date and other views -> ERR_UNSUPPORTED_VALUE', async () => {
    const fs = embedded();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const bad of [
      undefined,
      () => 1,
      Symbol('s'),
      new Date(NaN),
      new Int16Array(2),
      new DataView(new ArrayBuffer(2)),
      circular,
      { big: 1n },
    ]) {
      const err = await rejection(fs.encrypt(bad as FieldValue, ctx()));
      expect(err.code, String(typeof bad)).toBe('ERR_UNSUPPORTED_VALUE');
    }
  });

  it('a string with a lone surrogate -> ERR_UNSUPPORTED_VALUE', async () => {
    const fs = embedded();
    for (const s of ['\uD800', 'a\uDC00b', 'x\uD83D']) {
      expect((await rejection(fs.encrypt(s, ctx()))).code).toBe('ERR_UNSUPPORTED_VALUE');
    }
    // A proper pair is fine.
    expect(await fs.decrypt(await fs.encrypt('\uD83D\uDE00', ctx()), ctx())).toBe('😀');
  });

  it('a sensitive() wrapper is not silently stored as "[REDACTED]"', async () => {
    const fs = embedded();
    let result: unknown;
    try {
      result = await fs.decrypt(
        await fs.encrypt(sensitive('123-45-6789') as unknown as FieldValue, ctx()),
        ctx(),
      );
    } catch (err) {
      result = err;
    }
    // Either the wrapper is refused, or the real value survives; never silent data loss.
    if (isFieldsealError(result)) expect(result.code).toBe('ERR_UNSUPPORTED_VALUE');
    else expect(result).toBe('123-45-6789');
  });
});

describe('encryption context', () => {
  it('missing tenant/table/field or a non-string value -> ERR_INVALID_CONTEXT', async () => {
    const provider = new MemoryKeyProvider();
    const fs = embedded(provider);
    const v = await fs.encrypt('x', ctx());
    const before = provider.calls;
    const bad: unknown[] = [
      null,
      undefined,
      'acme',
      [],
      { table: 'customers', field: 'ssn' },
      { tenant: 'acme', field: 'ssn' },
      { tenant: 'acme', table: 'customers' },
      { tenant: '', table: 'customers', field: 'ssn' },
      { tenant: 1, table: 'customers', field: 'ssn' },
      { ...ctx(), record: 42 },
      { ...ctx(), record: [] },
      { ...ctx(), record: ['a', 1] },
      { ...ctx(), extra: null },
      { ...ctx(), extra: { nested: 'x' } },
      { ...ctx(), record: 'a\uD800' },
    ];
    for (const c of bad) {
      const e1 = await rejection(fs.encrypt('x', c as EncryptionContext));
      expect(e1.code, JSON.stringify(c)).toBe('ERR_INVALID_CONTEXT');
      const e2 = await rejection(fs.decrypt(v, c as EncryptionContext));
      expect(e2.code, JSON.stringify(c)).toBe('ERR_INVALID_CONTEXT');
    }
    expect(provider.calls).toEqual(before);
  });

  it('a composite record key and extra entries are bound, in any property order', async () => {
    const fs = embedded();
    const c = {
      tenant: 'acme',
      table: 'orders',
      field: 'card',
      record: ['o1', 'l2'],
      purpose: 'pii',
    };
    const v = await fs.encrypt('4111', c);
    expect(
      await fs.decrypt(v, {
        purpose: 'pii',
        record: ['o1', 'l2'],
        field: 'card',
        table: 'orders',
        tenant: 'acme',
      }),
    ).toBe('4111');
    for (const other of [
      { ...c, record: ['l2', 'o1'] },
      { ...c, record: 'o1l2' },
      { ...c, record: ['o1', 'l2', ''] },
    ]) {
      expect((await rejection(fs.decrypt(v, other))).code).toBe('ERR_AUTHENTICATION_FAILED');
    }
  });
});

describe('padding', () => {
  it("pad: 'bucket-32' hides the length of 1- and 30-byte strings", async () => {
    const fs = embedded();
    const one = await fs.encryptToBytes('a', ctx(), { pad: 'bucket-32' });
    const thirty = await fs.encryptToBytes('b'.repeat(30), ctx(), { pad: 'bucket-32' });
    const thirtyOne = await fs.encryptToBytes('c'.repeat(31), ctx(), { pad: 'bucket-32' });
    expect(one.byteLength).toBe(thirty.byteLength);
    expect(thirtyOne.byteLength).toBe(one.byteLength + 32);
    expect(inspectEnvelope(one)).toMatchObject({ padded: true, ciphertextBytes: 32 });
    expect(await fs.decrypt(one, ctx())).toBe('a');
    expect(await fs.decrypt(thirty, ctx())).toBe('b'.repeat(30));
    expect(await fs.decrypt(thirtyOne, ctx())).toBe('c'.repeat(31));
    // Unpadded values differ in length and are reported as such.
    const u1 = await fs.encryptToBytes('a', ctx());
    const u30 = await fs.encryptToBytes('b'.repeat(30), ctx());
    expect(u30.byteLength - u1.byteLength).toBe(29);
    expect(inspectEnvelope(u1)!.padded).toBe(false);
  });

  it('a field policy pads every value; a per-call pad overrides it', async () => {
    const fs = embedded(new MemoryKeyProvider(), {
      fields: { 'customers.ssn': { pad: 'bucket-64' } },
    });
    const a = await fs.encrypt('x', ctx());
    const b = await fs.encrypt('y'.repeat(50), ctx());
    expect(inspectEnvelope(a)).toMatchObject({ padded: true, ciphertextBytes: 64 });
    expect(inspectEnvelope(b)!.bytes).toBe(inspectEnvelope(a)!.bytes);
    const notPadded = await fs.encrypt('x', ctx(), { pad: false });
    expect(inspectEnvelope(notPadded)!.padded).toBe(false);
    const other = await fs.encrypt('x', ctx('acme', 'email'));
    expect(inspectEnvelope(other)!.padded).toBe(false);
    for (const [s, want] of [
      [a, 'x'],
      [b, 'y'.repeat(50)],
      [notPadded, 'x'],
    ] as const) {
      expect(await fs.decrypt(s, ctx())).toBe(want);
    }
  });

  it('padded bytes values come back exactly (no padding bytes leak into the value)', async () => {
    const fs = embedded();
    const bytes = new Uint8Array([0x80, 0, 0, 0x80, 0]);
    const got = await fs.decrypt<Uint8Array>(
      await fs.encrypt(bytes, ctx(), { pad: 'bucket-16' }),
      ctx(),
    );
    expect([...got]).toEqual([0x80, 0, 0, 0x80, 0]);
  });
});

describe('value size', () => {
  it('a 16 MiB Buffer round-trips in binary and text form', async () => {
    const fs = embedded();
    const big = Buffer.alloc(16 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
    big[big.length - 1] = 0x5a;
    const asBytes = await fs.encryptToBytes(big, ctx());
    const back1 = await fs.decrypt<Buffer>(asBytes, ctx());
    expect(Buffer.isBuffer(back1)).toBe(true);
    expect(back1.equals(big)).toBe(true);
    const asText = await fs.encrypt(big, ctx());
    const back2 = await fs.decrypt<Buffer>(asText, ctx());
    expect(back2.equals(big)).toBe(true);
  });

  it('a value over 64 MiB -> ERR_VALUE_TOO_LARGE', async () => {
    const fs = embedded();
    const err = await rejection(fs.encrypt(Buffer.alloc(64 * 1024 * 1024), ctx()));
    expect(err.code).toBe('ERR_VALUE_TOO_LARGE');
  });
});

describe('metrics', () => {
  it('counts values and failures by code, never values', async () => {
    const fs = embedded();
    const v = await fs.encrypt('top-secret-value', ctx());
    await fs.decrypt(v, ctx());
    await rejection(fs.decrypt(v, ctx('acme', 'ssn', 'other')));
    await rejection(fs.decrypt('legacy-cleartext-ssn', ctx()));
    const m = fs.metrics();
    expect(m.encrypted).toBe(1);
    expect(m.decrypted).toBe(1);
    expect(m.failures).toEqual({
      ERR_AUTHENTICATION_FAILED: 1,
      ERR_PLAINTEXT_IN_ENCRYPTED_FIELD: 1,
    });
    const json = JSON.stringify(m);
    for (const s of ['top-secret-value', 'acme', 'cus_1', 'legacy-cleartext-ssn'])
      expect(json.includes(s)).toBe(false);
  });
});

describe('field policy keys', () => {
  it('refuses keys that are not exactly "table.field", so dotted names can never share a policy', () => {
    for (const key of ['ssn', 'a.b.c', '.ssn', 'customers.', 'a..b']) {
      expect(() =>
        createFieldseal({
          admin: true,
          provider: new MemoryKeyProvider(),
          keys: { mode: 'embedded', masterKeyId: 'master' },
          cache: { maxAgeMs: 1000 },
          fields: { [key]: { allowPlaintextRead: true } },
        }),
      ).toThrow(TypeError);
    }
  });

  it('a dotted table name does not pick up the policy of another table', async () => {
    const fs = createFieldseal({
      admin: true,
      provider: new MemoryKeyProvider(),
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 1000 },
      fields: { 'a.b': { allowPlaintextRead: true } },
    });
    await expect(fs.decrypt('legacy', { tenant: 't', table: 'a', field: 'b' })).resolves.toBe(
      'legacy',
    );
    await expect(
      fs.decrypt('legacy', { tenant: 't', table: 'x.a', field: 'b' }),
    ).rejects.toMatchObject({
      code: 'ERR_PLAINTEXT_IN_ENCRYPTED_FIELD',
    });
  });
});

describe('batch key loads are bounded', () => {
  class CountingProvider extends MemoryKeyProvider {
    inFlight = 0;
    maxInFlight = 0;
    protected override async _unwrap(
      masterKeyId: string,
      wrapped: Uint8Array,
      context: Readonly<Record<string, string>>,
    ): Promise<Uint8Array> {
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      try {
        await new Promise((r) => setTimeout(r, 2));
        return await super._unwrap(masterKeyId, wrapped, context);
      } finally {
        this.inFlight--;
      }
    }
  }

  it('a cold batch over 60 tenants runs at most batchKeyConcurrency unwraps at once', async () => {
    const provider = new CountingProvider();
    const store = new MemoryKeyStore();
    const options = {
      admin: true,
      provider,
      keys: { mode: 'store' as const, store, masterKeyId: 'master', keyId: 'k' },
      cache: { maxAgeMs: 60_000 },
    };
    const writer = createFieldseal(options);
    const items = [];
    for (let t = 0; t < 60; t++) {
      await writer.provisionTenant(`t${t}`);
      const context = { tenant: `t${t}`, table: 'users', field: 'email', record: 'r' };
      items.push({ stored: await writer.encrypt(`v${t}`, context), context });
    }
    const reader = createFieldseal({ ...options, batchKeyConcurrency: 4 });
    const before = provider.calls.unwrap;
    provider.maxInFlight = 0;
    const values = await reader.decryptMany(items);
    expect(values).toEqual(items.map((_, t) => `v${t}`));
    expect(provider.calls.unwrap - before).toBe(60);
    expect(provider.maxInFlight).toBeLessThanOrEqual(4);
    expect(provider.maxInFlight).toBeGreaterThan(1);
    expect(() => createFieldseal({ ...options, batchKeyConcurrency: 0 })).toThrow(RangeError);
  });
});

describe('per-tenant master keys', () => {
  it('wraps each tenant under its own master key; destroying one master key loses exactly that tenant', async () => {
    const provider = new MemoryKeyProvider({ masterKeys: ['mk-a', 'mk-b'] });
    const options = {
      admin: true,
      provider,
      keys: { mode: 'embedded' as const, masterKeyId: (tenant: string) => `mk-${tenant}` },
      cache: { maxAgeMs: 60_000 },
    };
    const writer = createFieldseal(options);
    const ctxA = { tenant: 'a', table: 'users', field: 'email', record: '1' };
    const ctxB = { tenant: 'b', table: 'users', field: 'email', record: '1' };
    const a = await writer.encrypt('alice@example.com', ctxA);
    const b = await writer.encrypt('bob@example.com', ctxB);
    expect(inspectEnvelope(a)?.keyLabel).toBe('memory:mk-a');
    expect(inspectEnvelope(b)?.keyLabel).toBe('memory:mk-b');
    provider.destroyMasterKey('mk-a');
    const reader = createFieldseal(options);
    await expect(reader.decrypt(a, ctxA)).rejects.toMatchObject({ code: 'ERR_KEY_NOT_CONFIGURED' });
    await expect(reader.decrypt(b, ctxB)).resolves.toBe('bob@example.com');
  });

  it('store mode records the per-tenant master key on the version row', async () => {
    const provider = new MemoryKeyProvider({ masterKeys: ['mk-a'] });
    const store = new MemoryKeyStore();
    const fs = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store, keyId: 'k', masterKeyId: (t: string) => `mk-${t}` },
      cache: { maxAgeMs: 60_000 },
    });
    expect((await fs.provisionTenant('a')).masterKeyId).toBe('mk-a');
    await expect(fs.provisionTenant('zz')).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
  });

  it('a mapping that yields no master key fails closed', async () => {
    const fs = createFieldseal({
      admin: true,
      provider: new MemoryKeyProvider(),
      keys: { mode: 'embedded', masterKeyId: () => '' },
      cache: { maxAgeMs: 1000 },
    });
    await expect(
      fs.encrypt('x', { tenant: 't', table: 'users', field: 'email' }),
    ).rejects.toMatchObject({ code: 'ERR_KEY_NOT_CONFIGURED' });
  });
});

describe('cache sizing across many tenants', () => {
  it('store mode: writes and reads of 1,000 tenants cost one unwrap per tenant with the default cache', async () => {
    const provider = new MemoryKeyProvider();
    const store = new MemoryKeyStore();
    const options = {
      admin: true,
      provider,
      keys: { mode: 'store' as const, store, masterKeyId: 'master', keyId: 'k' },
      cache: { maxAgeMs: 60_000 },
    };
    const admin = createFieldseal(options);
    const tenants = Array.from({ length: 1000 }, (_, i) => `tenant-${i}`);
    for (const t of tenants) await admin.provisionTenant(t);
    const fs = createFieldseal(options);
    const before = provider.calls.unwrap;
    for (let round = 0; round < 3; round++) {
      const items = tenants.map((t) => ({
        value: `${t}-${round}`,
        context: { tenant: t, table: 'users', field: 'email', record: String(round) },
      }));
      const stored = await fs.encryptMany(items);
      const back = await fs.decryptMany(
        stored.map((s, i) => ({ stored: s, context: items[i]!.context })),
      );
      expect(back).toEqual(items.map((i) => i.value));
    }
    expect(provider.calls.unwrap - before).toBe(1000);
    expect(fs.metrics().cache.entries).toBe(1000);
  });
});
