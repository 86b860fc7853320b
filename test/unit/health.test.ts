import { describe, expect, it } from 'vitest';
import {
  createFieldseal,
  evaluateHealth,
  readStatsSnapshot,
  type EncryptionContext,
  type FieldsealStats,
  type HealthFinding,
} from '../../src/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';

const ctx = (tenant: string, record = 'r1'): EncryptionContext => ({
  tenant,
  table: 'customers',
  field: 'email',
  record,
});

const empty = {
  count: 0,
  p50Ms: 0,
  p99Ms: 0,
  maxMs: 0,
  meanMs: 0,
};

/** Stats with only the figures the health table reads set. */
function stats(o: {
  providerCalls?: number;
  calls?: number;
  hits?: number;
  misses?: number;
  p99?: number;
  throttles?: number;
  versions?: number;
}): FieldsealStats {
  const calls = o.calls ?? 0;
  return {
    values: { encrypted: 0, decrypted: 0 },
    providerCalls: { kms: { generate: 0, wrap: 0, unwrap: o.providerCalls ?? 0 } },
    cache: {
      hits: o.hits ?? 0,
      misses: o.misses ?? 0,
      hitRate: null,
      evictions: 0,
      entries: 0,
    },
    latency: {
      encrypt: empty,
      decrypt: { ...empty, count: calls, p99Ms: o.p99 ?? 0 },
      encryptMany: empty,
      decryptMany: empty,
    },
    valuesReadByKeyVersion: {},
    valuesReadByMasterKey: {},
    plaintextReads: {},
    failures: {},
    keyEvents: { state: 'none', disconnects: 0 },
    throttling: { events: o.throttles ?? 0, byProvider: { kms: o.throttles ?? 0 } },
    keyVersions:
      o.versions === undefined
        ? { tenants: 0, maxPerTenant: 0, tenantsByVersionCount: {} }
        : { tenants: 1, maxPerTenant: o.versions, tenantsByVersionCount: { [o.versions]: 1 } },
  };
}

function finding(s: FieldsealStats, metric: HealthFinding['metric']): HealthFinding {
  const f = evaluateHealth(s).findings.find((x) => x.metric === metric);
  expect(f).toBeDefined();
  return f!;
}

describe("evaluateHealth: the key-management guide's health table", () => {
  it('KMS calls per request: < 0.05 healthy, > 0.5 warning, between watch', () => {
    const at = (provider: number) =>
      finding(stats({ providerCalls: provider, calls: 1000 }), 'kms-calls-per-request');
    expect(at(49)).toMatchObject({ status: 'healthy', value: 0.049 });
    expect(at(50).status).toBe('watch');
    expect(at(500).status).toBe('watch');
    expect(at(501)).toMatchObject({ status: 'warning', healthy: '< 0.05', warning: '> 0.5' });
    expect(at(501).mitigation).toMatch(/cache\.maxAgeMs/);
  });

  it('cache hit rate: > 95% healthy, < 80% warning', () => {
    const at = (hits: number) =>
      finding(stats({ hits, misses: 1000 - hits }), 'cache-hit-rate').status;
    expect(at(951)).toBe('healthy');
    expect(at(950)).toBe('watch');
    expect(at(800)).toBe('watch');
    expect(at(799)).toBe('warning');
    expect(finding(stats({ hits: 951, misses: 49 }), 'cache-hit-rate').display).toBe('95.1%');
  });

  it('decrypt p99 added: < 5 ms healthy, > 25 ms warning; the worse of single and batch', () => {
    const at = (p99: number) => finding(stats({ calls: 1, p99 }), 'decrypt-p99-added-ms').status;
    expect(at(4.9)).toBe('healthy');
    expect(at(5)).toBe('watch');
    expect(at(25)).toBe('watch');
    expect(at(25.1)).toBe('warning');
    const s = stats({ calls: 1, p99: 1 });
    const both = {
      ...s,
      latency: { ...s.latency, decryptMany: { ...empty, count: 3, p99Ms: 30 } },
    };
    expect(finding(both, 'decrypt-p99-added-ms')).toMatchObject({ status: 'warning', value: 30 });
  });

  it('KMS request throttling: none healthy, any warning', () => {
    expect(finding(stats({}), 'kms-throttling').status).toBe('healthy');
    expect(finding(stats({ throttles: 1 }), 'kms-throttling')).toMatchObject({
      status: 'warning',
      display: '1 event',
    });
    expect(finding(stats({ throttles: 1 }), 'kms-throttling').mitigation).toMatch(/quota/);
  });

  it('key versions per tenant: 1–3 healthy, more warning', () => {
    expect(finding(stats({ versions: 3 }), 'key-versions-per-tenant').status).toBe('healthy');
    const many = finding(stats({ versions: 4 }), 'key-versions-per-tenant');
    expect(many.status).toBe('warning');
    expect(many.mitigation).toMatch(/backfill run.*backfill retire/);
  });

  it('rates need minSamples before they are judged; no data is not a warning', () => {
    const cold = stats({ providerCalls: 5, calls: 5, hits: 0, misses: 5 });
    const report = evaluateHealth(cold);
    expect(report.findings.map((f) => f.status)).toEqual([
      'no-data',
      'no-data',
      'healthy',
      'healthy',
      'no-data',
    ]);
    expect(report.status).toBe('healthy');
    expect(evaluateHealth(cold, { minSamples: 5 }).status).toBe('warning');
    expect(() => evaluateHealth(cold, { minSamples: 0 })).toThrow(RangeError);
  });

  it('the report is the worst finding', () => {
    expect(evaluateHealth(stats({ calls: 100, p99: 10 })).status).toBe('watch');
    expect(evaluateHealth(stats({ calls: 100, p99: 10, throttles: 2 })).status).toBe('warning');
  });
});

describe('stats(): the figures health needs, from a real client', () => {
  it('key versions per tenant: the versions each tenant used within the cache lifetime', async () => {
    const store = new MemoryKeyStore();
    const fs = createFieldseal({
      admin: true,
      provider: new MemoryKeyProvider(),
      keys: { mode: 'store', store, masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
    });
    const old: string[] = [];
    await fs.provisionTenant('acme-canary-tenant');
    await fs.provisionTenant('globex');
    for (let v = 1; v <= 4; v++) {
      old.push(await fs.encrypt(`value ${v}`, ctx('acme-canary-tenant')));
      if (v < 4) await fs.rotateTenantKey('acme-canary-tenant');
    }
    await fs.encrypt('g', ctx('globex'));
    fs.clearCache();
    for (const stored of old) await fs.decrypt(stored, ctx('acme-canary-tenant'));
    await fs.decrypt(await fs.encrypt('g', ctx('globex')), ctx('globex'));
    const s = fs.stats();
    expect(s.keyVersions).toEqual({
      tenants: 2,
      maxPerTenant: 4,
      tenantsByVersionCount: { '1': 1, '4': 1 },
    });
    expect(JSON.stringify(s)).not.toContain('acme-canary-tenant');
    const report = evaluateHealth(s);
    expect(report.findings.find((f) => f.metric === 'key-versions-per-tenant')?.status).toBe(
      'warning',
    );
    expect(JSON.stringify(report)).not.toContain('acme-canary-tenant');
    fs.clearCache();
    expect(fs.stats().keyVersions.tenants).toBe(0);
  });

  it('throttling by provider id is a plain count even for an id such as constructor', () => {
    const fs = createFieldseal({
      provider: new MemoryKeyProvider({ id: 'constructor' }),
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
    });
    expect(fs.stats().throttling).toEqual({ events: 0, byProvider: { constructor: 0 } });
  });

  it('readStatsSnapshot takes own data properties only: nothing inherited, no getter run', () => {
    const valid = JSON.parse(JSON.stringify(stats({ calls: 100 }))) as Record<string, unknown>;
    expect(readStatsSnapshot(valid).latency.decrypt.count).toBe(100);
    expect(() => readStatsSnapshot(Object.create(valid))).toThrow(/stats\.providerCalls/);
    let ran = false;
    const withGetter = { ...valid };
    Object.defineProperty(withGetter, 'throttling', {
      enumerable: true,
      get: () => {
        ran = true;
        return { events: 0, byProvider: {} };
      },
    });
    expect(() => readStatsSnapshot(withGetter)).toThrow(/stats\.throttling/);
    expect(ran).toBe(false);
    const polluted = JSON.parse(
      JSON.stringify(valid).replace(
        '"providerCalls":{',
        '"providerCalls":{"__proto__":{"generate":1,"wrap":0,"unwrap":0},',
      ),
    ) as unknown;
    const read = readStatsSnapshot(polluted);
    expect(Object.getPrototypeOf(read.providerCalls)).toBe(null);
    expect(evaluateHealth(read).findings[0]?.display).toContain('(1 / 100 calls)');
  });

  it('throttling: none for a provider that never throttles', async () => {
    const fs = createFieldseal({
      provider: new MemoryKeyProvider(),
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
    });
    await fs.encrypt('x', ctx('acme'));
    expect(fs.stats().throttling).toEqual({ events: 0, byProvider: { memory: 0 } });
  });
});
