import type { FieldsealStats } from './fieldseal-stats.js';

/**
 * A {@link FieldsealStats} read back from JSON (what `JSON.stringify(fs.stats())` wrote), with
 * the figures {@link evaluateHealth} reads checked: each must be a finite number ≥ 0. Only
 * those figures are copied; nothing else of the input is kept.
 * @throws TypeError naming the first missing or malformed figure.
 * @example
 * ```ts
 * const stats = readStatsSnapshot(JSON.parse(readFileSync('stats.json', 'utf8')));
 * console.log(evaluateHealth(stats).status);
 * ```
 */
export function readStatsSnapshot(raw: unknown): FieldsealStats {
  const s = record(raw, 'stats');
  const providerCalls = Object.create(null) as Record<
    string,
    { generate: number; wrap: number; unwrap: number }
  >;
  const calls = record(s.providerCalls, 'stats.providerCalls');
  for (const id of Object.keys(calls)) {
    const c = record(calls[id], `stats.providerCalls.${id}`);
    const name = `stats.providerCalls.${id}`;
    Object.defineProperty(providerCalls, id, {
      value: {
        generate: count(c.generate, `${name}.generate`),
        wrap: count(c.wrap, `${name}.wrap`),
        unwrap: count(c.unwrap, `${name}.unwrap`),
      },
      enumerable: true,
    });
  }
  const cache = record(s.cache, 'stats.cache');
  const hits = count(cache.hits, 'stats.cache.hits');
  const misses = count(cache.misses, 'stats.cache.misses');
  const latency = record(s.latency, 'stats.latency');
  const histogram = (name: 'encrypt' | 'decrypt' | 'encryptMany' | 'decryptMany') => {
    const h = record(latency[name], `stats.latency.${name}`);
    const at = `stats.latency.${name}`;
    return {
      count: count(h.count, `${at}.count`),
      p50Ms: count(h.p50Ms, `${at}.p50Ms`),
      p99Ms: count(h.p99Ms, `${at}.p99Ms`),
      maxMs: count(h.maxMs, `${at}.maxMs`),
      meanMs: count(h.meanMs, `${at}.meanMs`),
    };
  };
  const throttling = record(s.throttling, 'stats.throttling');
  const versions = record(s.keyVersions, 'stats.keyVersions');
  return {
    values: { encrypted: 0, decrypted: 0 },
    providerCalls,
    cache: {
      hits,
      misses,
      hitRate: hits + misses === 0 ? null : hits / (hits + misses),
      evictions: 0,
      entries: 0,
    },
    latency: {
      encrypt: histogram('encrypt'),
      decrypt: histogram('decrypt'),
      encryptMany: histogram('encryptMany'),
      decryptMany: histogram('decryptMany'),
    },
    valuesReadByKeyVersion: {},
    valuesReadByMasterKey: {},
    plaintextReads: {},
    failures: {},
    keyEvents: { state: 'none', disconnects: 0 },
    throttling: { events: count(throttling.events, 'stats.throttling.events'), byProvider: {} },
    keyVersions: {
      tenants: count(versions.tenants, 'stats.keyVersions.tenants'),
      maxPerTenant: count(versions.maxPerTenant, 'stats.keyVersions.maxPerTenant'),
      tenantsByVersionCount: {},
    },
  };
}

/**
 * `v`'s own enumerable data properties as a null-prototype object: nothing inherited, no
 * getter run.
 */
function record(v: unknown, name: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new TypeError(
      `${name}: expected an object (write the file with JSON.stringify(fs.stats()) from this fieldseal version)`,
    );
  }
  const out = Object.create(null) as Record<string, unknown>;
  for (const [key, d] of Object.entries(Object.getOwnPropertyDescriptors(v))) {
    if (d.enumerable === true && 'value' in d) out[key] = d.value;
  }
  return out;
}

function count(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new TypeError(`${name}: expected a number >= 0`);
  }
  return v;
}
