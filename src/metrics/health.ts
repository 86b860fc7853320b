import type { FieldsealStats } from './fieldseal-stats.js';

/**
 * One figure of the per-tenant key-management health table, judged against its thresholds.
 * `value` is `null` (and `status` `no-data`) until the client has done enough to judge it.
 * @example
 * ```ts
 * const finding: HealthFinding = evaluateHealth(fs.stats()).findings[0]!;
 * console.log(finding.metric, finding.status, finding.mitigation);
 * ```
 */
export interface HealthFinding {
  readonly metric:
    | 'kms-calls-per-request'
    | 'cache-hit-rate'
    | 'decrypt-p99-added-ms'
    | 'kms-throttling'
    | 'key-versions-per-tenant';
  /** The metric in words, as the guide's table names it. */
  readonly label: string;
  readonly value: number | null;
  /** The value as text (`0.012`, `97.3%`, `3.1 ms`, `2 events`). */
  readonly display: string;
  /** `healthy` inside the healthy range, `warning` past the warning threshold, `watch` between. */
  readonly status: 'healthy' | 'watch' | 'warning' | 'no-data';
  /** The healthy range, e.g. `< 0.05`. */
  readonly healthy: string;
  /** The warning threshold, e.g. `> 0.5`. */
  readonly warning: string;
  /** What to do when it is not healthy (the guide's mitigation, in fieldseal's terms). */
  readonly mitigation: string;
}

/**
 * The verdict of {@link evaluateHealth}: the worst status of its findings (`no-data` counts as
 * healthy) and every finding.
 * @example
 * ```ts
 * const { status, findings } = evaluateHealth(fs.stats());
 * ```
 */
export interface HealthReport {
  readonly status: 'healthy' | 'watch' | 'warning';
  readonly findings: readonly HealthFinding[];
}

/**
 * Options of {@link evaluateHealth}.
 * @example
 * ```ts
 * evaluateHealth(fs.stats(), { minSamples: 1000 });
 * ```
 */
export interface HealthOptions {
  /**
   * Fewest client calls (for KMS calls per request) and cache lookups (for the hit rate) to
   * judge a rate at all (default 20): a process that has just started misses every key once.
   */
  readonly minSamples?: number;
}

/**
 * Judge a client's {@link FieldsealStats} against the per-tenant key-management guide's health
 * table (healthy / warning thresholds and mitigations):
 *
 * | metric | healthy | warning |
 * |---|---|---|
 * | KMS calls per request (provider calls per client call; a batch is one call) | < 0.05 | > 0.5 |
 * | data-key cache hit rate | > 95% | < 80% |
 * | decrypt p99 added (the worse of `decrypt` and `decryptMany`) | < 5 ms | > 25 ms |
 * | KMS request throttling | none | any |
 * | key versions per tenant (in the cache now) | 1–3 | more |
 *
 * A figure between the two thresholds is `watch`. It reads numbers only: no value, key or
 * tenant id is involved.
 * @example
 * ```ts
 * const report = evaluateHealth(fs.stats());
 * for (const f of report.findings) if (f.status === 'warning') log.warn(`${f.label}: ${f.display} — ${f.mitigation}`);
 * ```
 */
export function evaluateHealth(stats: FieldsealStats, options: HealthOptions = {}): HealthReport {
  const minSamples = options.minSamples ?? 20;
  if (!Number.isInteger(minSamples) || minSamples < 1) {
    throw new RangeError(`minSamples: expected a positive integer, got ${String(minSamples)}`);
  }
  const findings = [
    kmsCallsPerRequest(stats, minSamples),
    cacheHitRate(stats, minSamples),
    decryptP99(stats),
    throttling(stats),
    keyVersions(stats),
  ];
  const rank = { 'no-data': 0, healthy: 0, watch: 1, warning: 2 } as const;
  const worst = findings.reduce((w, f) => Math.max(w, rank[f.status]), 0);
  return { status: worst === 2 ? 'warning' : worst === 1 ? 'watch' : 'healthy', findings };
}

type Judged = Pick<HealthFinding, 'value' | 'display' | 'status'>;

function judge(
  value: number | null,
  display: (v: number) => string,
  isHealthy: (v: number) => boolean,
  isWarning: (v: number) => boolean,
): Judged {
  if (value === null) return { value, display: 'no data', status: 'no-data' };
  const status = isWarning(value) ? 'warning' : isHealthy(value) ? 'healthy' : 'watch';
  return { value, display: display(value), status };
}

function kmsCallsPerRequest(s: FieldsealStats, minSamples: number): HealthFinding {
  let provider = 0;
  for (const c of Object.values(s.providerCalls)) provider += c.generate + c.wrap + c.unwrap;
  const l = s.latency;
  const calls = l.encrypt.count + l.decrypt.count + l.encryptMany.count + l.decryptMany.count;
  return {
    metric: 'kms-calls-per-request',
    label: 'KMS calls per request',
    ...judge(
      calls < minSamples ? null : provider / calls,
      (v) => `${v.toFixed(3)} (${provider} / ${calls} calls)`,
      (v) => v < 0.05,
      (v) => v > 0.5,
    ),
    healthy: '< 0.05',
    warning: '> 0.5',
    mitigation:
      'raise cache.maxAgeMs (and maxEntries if keys are evicted); batch values with encryptMany/decryptMany (the cache key already includes the version)',
  };
}

function cacheHitRate(s: FieldsealStats, minSamples: number): HealthFinding {
  const lookups = s.cache.hits + s.cache.misses;
  return {
    metric: 'cache-hit-rate',
    label: 'data-key cache hit rate',
    ...judge(
      lookups < minSamples ? null : s.cache.hits / lookups,
      (v) => `${(100 * v).toFixed(1)}%`,
      (v) => v > 0.95,
      (v) => v < 0.8,
    ),
    healthy: '> 95%',
    warning: '< 80%',
    mitigation:
      'raise cache.maxAgeMs / maxEntries (evictions show a cache too small); pre-warm hot tenants at start-up',
  };
}

function decryptP99(s: FieldsealStats): HealthFinding {
  const samples = [s.latency.decrypt, s.latency.decryptMany].filter((h) => h.count > 0);
  const p99 = samples.length === 0 ? null : Math.max(...samples.map((h) => h.p99Ms));
  return {
    metric: 'decrypt-p99-added-ms',
    label: 'decrypt p99 latency added',
    ...judge(
      p99,
      (v) => `${v < 1 ? v.toFixed(3) : v.toFixed(1)} ms`,
      (v) => v < 5,
      (v) => v > 25,
    ),
    healthy: '< 5 ms',
    warning: '> 25 ms',
    mitigation:
      'keep data keys cached (see the hit rate); use a KMS endpoint in the region of the service',
  };
}

function throttling(s: FieldsealStats): HealthFinding {
  const n = s.throttling.events;
  return {
    metric: 'kms-throttling',
    label: 'KMS request throttling',
    ...judge(
      n,
      (v) => `${v} event${v === 1 ? '' : 's'}`,
      (v) => v === 0,
      (v) => v > 0,
    ),
    healthy: 'none',
    warning: 'any',
    mitigation:
      'request a KMS quota increase; cut calls with a longer cache.maxAgeMs and batches (one data key serves many values)',
  };
}

function keyVersions(s: FieldsealStats): HealthFinding {
  const { tenants, maxPerTenant } = s.keyVersions;
  return {
    metric: 'key-versions-per-tenant',
    label: 'key versions per tenant',
    ...judge(
      tenants === 0 ? null : maxPerTenant,
      (v) => `at most ${v} (${tenants} tenant${tenants === 1 ? '' : 's'})`,
      (v) => v <= 3,
      (v) => v > 3,
    ),
    healthy: '1–3',
    warning: 'more than 3',
    mitigation:
      're-encrypt old values with a backfill (`fieldseal backfill run`), then retire the old versions (`fieldseal backfill retire`)',
  };
}
