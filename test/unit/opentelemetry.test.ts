/**
 * fieldseal/opentelemetry against the real OpenTelemetry SDK (`@opentelemetry/sdk-metrics`):
 * a MeterProvider with a pull reader, collected after real client calls.
 */
import { metrics } from '@opentelemetry/api';
import {
  DataPointType,
  MeterProvider,
  MetricReader,
  type DataPoint,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createFieldseal,
  type EncryptionContext,
  type Fieldseal,
  type FieldsealOptions,
} from '../../src/index.js';
import {
  FIELDSEAL_ATTRIBUTES,
  FIELDSEAL_INSTRUMENTS,
  openTelemetryMetrics,
  type OpenTelemetryMetricsOptions,
} from '../../src/opentelemetry/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';

class PullReader extends MetricReader {
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

const TENANT = 'tenant-7d1f'; // must never show up in any attribute by default
const RECORD = 'record-5be2';

function ctx(field = 'ssn', record = RECORD): EncryptionContext {
  return { tenant: TENANT, table: 'customers', field, record };
}

function setup(options: Omit<OpenTelemetryMetricsOptions, 'meterProvider'> = {}) {
  const reader = new PullReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const telemetry = openTelemetryMetrics({ ...options, meterProvider });
  const collect = async (): Promise<Map<string, MetricData>> => {
    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    const out = new Map<string, MetricData>();
    for (const scope of resourceMetrics.scopeMetrics) {
      expect(scope.scope.name).toBe('fieldseal');
      for (const m of scope.metrics) out.set(m.descriptor.name, m);
    }
    return out;
  };
  return { telemetry, collect, meterProvider };
}

function client(
  provider: MemoryKeyProvider,
  store: MemoryKeyStore,
  extra: Partial<FieldsealOptions>,
): Fieldseal {
  return createFieldseal({
    admin: true,
    provider,
    keys: { mode: 'store', store, masterKeyId: 'master', keyId: 'k' },
    cache: { maxAgeMs: 60_000 },
    fields: { 'customers.phone': { allowPlaintextRead: true } },
    ...extra,
  });
}

/** Sum of a metric's points whose attributes include `match`. */
function sum(m: MetricData | undefined, match: Record<string, string> = {}): number {
  expect(m, 'metric missing').toBeDefined();
  return (m!.dataPoints as DataPoint<unknown>[])
    .filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v))
    .reduce(
      (n, p) => n + (typeof p.value === 'number' ? p.value : (p.value as Histogram).count),
      0,
    );
}

const A = FIELDSEAL_ATTRIBUTES;
const I = FIELDSEAL_INSTRUMENTS;

describe('fieldseal/opentelemetry with the OpenTelemetry SDK', () => {
  afterEach(() => {
    metrics.disable();
  });

  it('reports every instrument, matching stats(), with bounded, value-free attributes', async () => {
    const { telemetry, collect } = setup();
    const provider = new MemoryKeyProvider();
    const store = new MemoryKeyStore();
    const fs = client(provider, store, { telemetry });
    await fs.provisionTenant(TENANT);
    const one = await fs.encrypt('521-44-8790', ctx());
    const many = await fs.encryptMany(
      Array.from({ length: 10 }, (_, i) => ({ value: `v${i}`, context: ctx('ssn', `r${i}`) })),
    );
    const reader = client(provider, store, { telemetry });
    expect(await reader.decrypt(one, ctx())).toBe('521-44-8790');
    await reader.decryptMany(many.map((s, i) => ({ stored: s, context: ctx('ssn', `r${i}`) })));
    expect(await reader.decrypt('555-0100', ctx('phone'))).toBe('555-0100');
    await expect(reader.decrypt(one, ctx('ssn', 'moved'))).rejects.toThrow();
    provider.injectFault('timeout', 1);
    reader.clearCache();
    await expect(reader.decrypt(one, ctx())).rejects.toThrow();

    const m = await collect();
    const stats = [fs.stats(), reader.stats()];
    const total = (f: (s: (typeof stats)[number]) => number) => stats.reduce((n, s) => n + f(s), 0);

    // Latency histogram: one point per operation, in seconds, with sub-millisecond buckets.
    const duration = m.get(I.operationDuration)!;
    expect(duration.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(duration.descriptor.unit).toBe('s');
    expect(sum(duration, { [A.operation]: 'encrypt' })).toBe(total((s) => s.latency.encrypt.count));
    expect(sum(duration, { [A.operation]: 'encryptMany' })).toBe(1);
    // Successful decryptions only: the plaintext read and the failures are not latency samples.
    expect(sum(duration, { [A.operation]: 'decrypt' })).toBe(1);
    expect(reader.stats().latency.decrypt.count).toBe(1);
    const firstHistogram = duration.dataPoints[0]!.value as Histogram;
    expect(firstHistogram.buckets.boundaries[0]).toBe(0.000001);
    expect(firstHistogram.sum!).toBeLessThan(5);

    expect(sum(m.get(I.values), { [A.operation]: 'encrypt' })).toBe(11);
    expect(sum(m.get(I.values), { [A.operation]: 'decrypt' })).toBe(11);
    expect(sum(m.get(I.cacheLookups), { [A.cacheResult]: 'hit' })).toBe(total((s) => s.cache.hits));
    expect(sum(m.get(I.cacheLookups), { [A.cacheResult]: 'miss' })).toBe(
      total((s) => s.cache.misses),
    );
    expect(sum(m.get(I.cacheEntries))).toBe(total((s) => s.cache.entries));
    expect(sum(m.get(I.keyReads), { [A.key]: 'k@1' })).toBe(11);
    expect(sum(m.get(I.plaintextReads), { [A.field]: 'customers.phone' })).toBe(1);
    expect(sum(m.get(I.operationFailures), { [A.errorType]: 'ERR_AUTHENTICATION_FAILED' })).toBe(1);
    expect(
      sum(m.get(I.operationFailures), {
        [A.operation]: 'decrypt',
        [A.errorType]: 'ERR_PROVIDER_UNAVAILABLE',
        [A.field]: 'customers.ssn',
      }),
    ).toBe(1);
    const calls = m.get(I.providerCalls);
    expect(sum(calls, { [A.provider]: 'memory', [A.operation]: 'generate' })).toBe(1);
    expect(sum(calls, { [A.operation]: 'unwrap', [A.outcome]: 'success' })).toBe(2);
    expect(
      sum(calls, {
        [A.operation]: 'unwrap',
        [A.outcome]: 'failure',
        [A.errorType]: 'ERR_PROVIDER_UNAVAILABLE',
      }),
    ).toBe(1);
    expect(sum(m.get(I.providerDuration))).toBe(4);

    // No tenant, record or value anywhere in the exported attributes.
    const attributes = JSON.stringify(
      [...m.values()].flatMap((x) =>
        (x.dataPoints as DataPoint<unknown>[]).map((p) => p.attributes),
      ),
    );
    for (const secret of [TENANT, RECORD, '521-44-8790', '555-0100', 'v1']) {
      expect(attributes).not.toContain(secret);
    }
    expect(attributes).not.toContain(A.tenant);
  });

  it('tenant ids only when asked for, on provider calls only; field names are bounded', async () => {
    const { telemetry, collect } = setup({ tenantAttribute: true, maxFieldAttributes: 1 });
    const provider = new MemoryKeyProvider();
    const fs = client(provider, new MemoryKeyStore(), { telemetry });
    await fs.provisionTenant(TENANT);
    const stored = await fs.encrypt('x', ctx());
    await expect(fs.decrypt(stored, ctx('ssn', 'moved'))).rejects.toThrow();
    await expect(fs.decrypt(stored, ctx('email'))).rejects.toThrow();
    const m = await collect();
    expect(sum(m.get(I.providerCalls), { [A.tenant]: TENANT })).toBe(2);
    const failures = m.get(I.operationFailures);
    expect(sum(failures, { [A.field]: 'customers.ssn' })).toBe(1);
    expect(sum(failures, { [A.field]: 'other' })).toBe(1);
    for (const name of [I.operationDuration, I.operationFailures, I.values]) {
      expect(JSON.stringify(m.get(name)!.dataPoints)).not.toContain(TENANT);
    }
    expect(() => openTelemetryMetrics({ maxFieldAttributes: -1 })).toThrow(RangeError);
  });

  it('several clients add up; a closed client keeps its counts (counters never go down)', async () => {
    const { telemetry, collect } = setup();
    const provider = new MemoryKeyProvider();
    const store = new MemoryKeyStore();
    const a = client(provider, store, { telemetry });
    const b = client(provider, store, { telemetry });
    await a.provisionTenant(TENANT);
    await a.encrypt('1', ctx());
    await b.encrypt('2', ctx());
    await b.encrypt('3', ctx());
    let m = await collect();
    expect(sum(m.get(I.values), { [A.operation]: 'encrypt' })).toBe(3);
    expect(sum(m.get(I.cacheEntries))).toBe(2);
    b.close();
    await a.encrypt('4', ctx());
    m = await collect();
    expect(sum(m.get(I.values), { [A.operation]: 'encrypt' })).toBe(4);
    expect(sum(m.get(I.cacheEntries))).toBe(1);
    // After the sink is closed, nothing new is observed (the SDK repeats the last values).
    telemetry.close();
    telemetry.close();
    await a.encrypt('5', ctx());
    m = await collect();
    expect(sum(m.get(I.values), { [A.operation]: 'encrypt' })).toBe(4);
    expect(a.stats().values.encrypted).toBe(3);
  });

  it('uses the global meter provider, and is a no-op without an SDK', async () => {
    // No SDK: every instrument is a no-op and nothing fails.
    const noop = createFieldseal({
      admin: true,
      provider: new MemoryKeyProvider(),
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
      telemetry: openTelemetryMetrics(),
    });
    expect(await noop.decrypt(await noop.encrypt('x', ctx()), ctx())).toBe('x');
    noop.close();

    const reader = new PullReader();
    expect(metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }))).toBe(true);
    const fs = createFieldseal({
      admin: true,
      provider: new MemoryKeyProvider(),
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
      telemetry: openTelemetryMetrics(),
    });
    await fs.encrypt('x', ctx());
    const { resourceMetrics } = await reader.collect();
    const names = resourceMetrics.scopeMetrics.flatMap((s) =>
      s.metrics.map((x) => x.descriptor.name),
    );
    expect(names).toContain(I.operationDuration);
    expect(names).toContain(I.values);
  });
});
