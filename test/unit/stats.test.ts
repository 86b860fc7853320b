import { describe, expect, it } from 'vitest';
import type { MetricsSink, ProviderCallRecord } from '../../src/metrics/metrics-sink.js';
import {
  createFieldseal,
  type EncryptionContext,
  type Fieldseal,
  type FieldsealOptions,
} from '../../src/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';

const CACHE = { maxAgeMs: 60_000 };

function ctx(tenant = 'acme', record = 'r1', field = 'ssn'): EncryptionContext {
  return { tenant, table: 'customers', field, record };
}

function embedded(provider: MemoryKeyProvider, extra: Partial<FieldsealOptions> = {}): Fieldseal {
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

/** A sink recording every call it gets. */
function recordingSink() {
  const completed: [string, number, number][] = [];
  const failed: [string, string, string | undefined][] = [];
  const providerCalls: ProviderCallRecord[] = [];
  const sink: MetricsSink = {
    operationCompleted: (op, seconds, values) => completed.push([op, seconds, values]),
    operationFailed: (op, code, field) => failed.push([op, code, field]),
    providerCalled: (call) => providerCalls.push(call),
  };
  return { sink, completed, failed, providerCalls };
}

describe('stats()', () => {
  it('provider calls of this client only, per provider and operation; cache hit rate', async () => {
    const provider = new MemoryKeyProvider();
    const writer = embedded(provider);
    const values = await writer.encryptMany(
      Array.from({ length: 20 }, (_, i) => ({ value: i, context: ctx('acme', `r${i}`) })),
    );
    const reader = embedded(provider);
    expect(reader.stats().cache.hitRate).toBeNull();
    for (let i = 0; i < 20; i++) await reader.decrypt(values[i]!, ctx('acme', `r${i}`));
    const s = reader.stats();
    // The shared provider says 1 generate (the writer's); this client made one unwrap only.
    expect(reader.metrics().providerCalls.memory).toEqual({ generate: 1, wrap: 0, unwrap: 1 });
    expect(s.providerCalls).toEqual({ memory: { generate: 0, wrap: 0, unwrap: 1 } });
    expect(writer.stats().providerCalls).toEqual({ memory: { generate: 1, wrap: 0, unwrap: 0 } });
    expect(s.cache).toEqual({ hits: 19, misses: 1, hitRate: 0.95, evictions: 0, entries: 1 });
    expect(s.values).toEqual({ encrypted: 0, decrypted: 20 });
    expect(writer.stats().values).toEqual({ encrypted: 20, decrypted: 0 });
  });

  it('latency: one sample per single call and per batch, successes only', async () => {
    const provider = new MemoryKeyProvider();
    const fs = embedded(provider);
    provider.setLatency(30); // the cold first call carries a 30 ms key load
    const first = await fs.encrypt('a', ctx());
    provider.setLatency(0);
    for (let i = 0; i < 99; i++) await fs.encrypt('b', ctx());
    const many = await fs.encryptMany([1, 2, 3].map((v) => ({ value: v, context: ctx() })));
    await fs.encryptManyToBytes([{ value: 4, context: ctx() }]);
    await fs.decrypt(first, ctx());
    await fs.decryptMany(many.map((s) => ({ stored: s, context: ctx() })));
    await fs.decryptManySettled(
      many.map((s) => ({ stored: s, context: { ...ctx(), record: 'x' } })),
    );
    await expect(fs.decrypt(first, { ...ctx(), record: 'other' })).rejects.toThrow();
    await expect(fs.decryptMany([{ stored: first, context: ctx('acme', 'x') }])).rejects.toThrow();
    const { latency } = fs.stats();
    expect(latency.encrypt.count).toBe(100);
    expect(latency.encrypt.maxMs).toBeGreaterThanOrEqual(29);
    expect(latency.encrypt.p50Ms).toBeLessThan(5);
    expect(latency.encrypt.p99Ms).toBeLessThanOrEqual(latency.encrypt.maxMs);
    expect(latency.encrypt.meanMs).toBeGreaterThan(0.29);
    expect(latency.encryptMany.count).toBe(2);
    expect(latency.decrypt.count).toBe(1); // the failed decrypt is not a latency sample
    // decryptMany (success) + decryptManySettled (returned, even with failed items); the
    // decryptMany that threw is not a sample.
    expect(latency.decryptMany.count).toBe(2);
  });

  it('values read per key version (store) and per master key (embedded)', async () => {
    const provider = new MemoryKeyProvider();
    const store = new MemoryKeyStore();
    const fs = stored(provider, store);
    await fs.provisionTenant('acme');
    await fs.provisionTenant('globex');
    const v1 = await fs.encrypt('one', ctx());
    const g1 = await fs.encrypt('g', ctx('globex'));
    await fs.rotateTenantKey('acme');
    const v2 = await fs.encryptMany([1, 2, 3].map((v) => ({ value: v, context: ctx() })));
    await fs.decrypt(v1, ctx());
    await fs.decrypt(g1, ctx('globex'));
    await fs.decryptMany(v2.map((s) => ({ stored: s, context: ctx() })));
    await expect(fs.decrypt(v1, ctx('acme', 'moved'))).rejects.toThrow(); // not counted
    const embeddedValue = await embedded(provider).encrypt('e', ctx());
    await fs.decrypt(embeddedValue, ctx()); // a store client reads self-contained envelopes too
    const s = fs.stats();
    expect(s.valuesReadByKeyVersion).toEqual({ 'k@1': 2, 'k@2': 3 });
    expect(s.valuesReadByMasterKey).toEqual({ 'memory:master': 1 });
    expect(s.values.decrypted).toBe(6);
  });

  it('plaintext reads by field and failures by code; metrics() keeps its shape', async () => {
    const fs = embedded(new MemoryKeyProvider(), {
      fields: { 'customers.phone': { allowPlaintextRead: true } },
    });
    const phone = ctx('acme', 'r1', 'phone');
    expect(await fs.decrypt('555-0100', phone)).toBe('555-0100');
    expect(await fs.decryptMany([{ stored: '555-0101', context: phone }])).toEqual(['555-0101']);
    await expect(fs.decrypt('555-0100', ctx())).rejects.toThrow();
    const s = fs.stats();
    expect(s.plaintextReads).toEqual({ 'customers.phone': 2 });
    expect(s.failures).toEqual({ ERR_PLAINTEXT_IN_ENCRYPTED_FIELD: 1 });
    expect(s.values.decrypted).toBe(0);
    const m = fs.metrics();
    expect(Object.keys(m).sort()).toEqual(
      ['cache', 'decrypted', 'encrypted', 'failures', 'plaintextReads', 'providerCalls'].sort(),
    );
    expect(m.plaintextReads).toEqual(s.plaintextReads);
  });
});

describe('telemetry option (MetricsSink)', () => {
  it('gets every successful call, every failed value with its field, every provider call', async () => {
    const { sink, completed, failed, providerCalls } = recordingSink();
    const provider = new MemoryKeyProvider();
    const fs = embedded(provider, { telemetry: sink });
    const a = await fs.encrypt('a', ctx());
    await fs.encryptMany([1, 2].map((v) => ({ value: v, context: ctx() })));
    await fs.decrypt(a, ctx());
    await expect(fs.decrypt(a, ctx('acme', 'moved'))).rejects.toThrow();
    await expect(
      fs.encryptMany([
        { value: 1, context: ctx() },
        { value: undefined as never, context: ctx() },
      ]),
    ).rejects.toThrow();
    const reader = embedded(provider, { telemetry: sink });
    provider.injectFault('timeout', 1);
    await expect(reader.decrypt(a, ctx())).rejects.toThrow();
    expect(completed.map(([op, , n]) => `${op}:${n}`)).toEqual([
      'encrypt:1',
      'encryptMany:2',
      'decrypt:1',
    ]);
    for (const [, seconds] of completed) expect(seconds).toBeGreaterThan(0);
    expect(failed).toEqual([
      ['decrypt', 'ERR_AUTHENTICATION_FAILED', 'customers.ssn'],
      ['encryptMany', 'ERR_UNSUPPORTED_VALUE', 'customers.ssn'],
      ['decrypt', 'ERR_PROVIDER_UNAVAILABLE', 'customers.ssn'],
    ]);
    // A refused context is not trusted for a field name.
    await expect(fs.encrypt('a', { ...ctx(), record: 42 as never })).rejects.toThrow();
    expect(failed.at(-1)).toEqual(['encrypt', 'ERR_INVALID_CONTEXT', undefined]);
    expect(providerCalls.map((c) => [c.operation, c.outcome, c.errorCode, c.tenant])).toEqual([
      ['generate', 'success', undefined, 'acme'],
      ['unwrap', 'failure', 'ERR_PROVIDER_UNAVAILABLE', 'acme'],
    ]);
  });

  it('a throwing sink never fails an operation; attach/detach follow the client', async () => {
    let attached = 0;
    let detached = 0;
    const boom = (): never => {
      throw new Error('metrics backend down');
    };
    const sink: MetricsSink = {
      attach: (read) => {
        attached++;
        expect(read().values.encrypted).toBe(0);
        return () => {
          detached++;
        };
      },
      operationCompleted: boom,
      operationFailed: boom,
      providerCalled: boom,
    };
    const fs = embedded(new MemoryKeyProvider(), { telemetry: sink });
    expect(attached).toBe(1);
    const s = await fs.encrypt('a', ctx());
    expect(await fs.decrypt(s, ctx())).toBe('a');
    await expect(fs.decrypt(s, ctx('acme', 'moved'))).rejects.toMatchObject({
      code: 'ERR_AUTHENTICATION_FAILED',
    });
    fs.close();
    fs.close();
    expect(detached).toBe(1);
    expect(() => embedded(new MemoryKeyProvider(), { telemetry: { attach: boom } })).not.toThrow();
    expect(() => embedded(new MemoryKeyProvider(), { telemetry: 'otel' as never })).toThrow(
      TypeError,
    );
  });
});
