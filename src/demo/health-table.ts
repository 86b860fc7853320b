import type { FieldsealStats } from '../metrics/fieldseal-stats.js';
import type { DemoReport } from './run-demo.js';

/** A table to print: headers and rows of cells. */
export interface DemoTable {
  readonly headers: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

const int = (n: number): string => n.toLocaleString('en-US');

/** A duration in milliseconds, readable from microseconds to seconds. */
export function formatMs(ms: number): string {
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(0)} ms`;
}

function providerCalls(s: FieldsealStats): { total: number; text: string } {
  const byOp = { generate: 0, wrap: 0, unwrap: 0 };
  for (const counts of Object.values(s.providerCalls)) {
    byOp.generate += counts.generate;
    byOp.wrap += counts.wrap;
    byOp.unwrap += counts.unwrap;
  }
  const parts = Object.entries(byOp)
    .filter(([, n]) => n > 0)
    .map(([op, n]) => `${n} ${op}${n === 1 ? '' : 's'}`);
  return {
    total: byOp.generate + byOp.wrap + byOp.unwrap,
    text: parts.length === 0 ? 'none' : parts.join(', '),
  };
}

function kmsPerRecord(s: FieldsealStats, records: number): string {
  const calls = providerCalls(s);
  return `${(calls.total / Math.max(1, records)).toFixed(5)} (${calls.text} / ${int(records)} records)`;
}

function hitRate(s: FieldsealStats): string {
  const { hits, misses, hitRate: rate } = s.cache;
  if (rate === null) return 'no lookups';
  return `${(100 * rate).toFixed(1)}% (${int(hits)} hits / ${int(misses)} misses)`;
}

/** p50 / p99 per call: the model repository decrypts a record, or a page, in one batch call. */
function latency(s: FieldsealStats): string {
  const h = s.latency.decryptMany;
  if (h.count === 0) return 'no calls';
  return `${formatMs(h.p50Ms)} / ${formatMs(h.p99Ms)} (${int(h.count)} calls)`;
}

function keyVersions(s: FieldsealStats): string {
  const entries = Object.entries(s.valuesReadByKeyVersion);
  if (entries.length === 0) return 'none';
  return entries.map(([key, n]) => `${key}: ${int(n)}`).join(', ');
}

function plaintext(s: FieldsealStats): string {
  const entries = Object.entries(s.plaintextReads);
  if (entries.length === 0) return '0';
  return entries.map(([field, n]) => `${field}: ${int(n)}`).join(', ');
}

function throttling(s: FieldsealStats): string {
  const n = s.failures.ERR_PROVIDER_UNAVAILABLE ?? 0;
  return n === 0 ? 'none' : `${int(n)} values failed: ERR_PROVIDER_UNAVAILABLE`;
}

/**
 * The health table of per-tenant key management (metric, healthy, warning threshold) filled in
 * from `stats()` of the demo's two reading clients: the one listing every record twice (big
 * batches) and the API one serving single-record reads.
 */
export function healthTable(r: DemoReport): DemoTable {
  const list = r.readStats;
  const api = r.apiStats;
  return {
    headers: [
      'metric',
      `lists (${int(r.recordsListed)} records)`,
      `API (${int(r.singleReads)} single reads)`,
      'healthy',
      'warning',
    ],
    rows: [
      [
        'KMS calls per record read',
        kmsPerRecord(list, r.recordsListed),
        kmsPerRecord(api, r.singleReads),
        '< 0.05',
        '> 0.5 sustained',
      ],
      ['data-key cache hit rate', hitRate(list), hitRate(api), '> 95%', '< 80%'],
      ['decrypt latency added p50 / p99', latency(list), latency(api), '< 5 ms', '> 25 ms'],
      ['KMS throttling', throttling(list), throttling(api), 'none', 'any'],
      [
        'values read per key version',
        keyVersions(list),
        keyVersions(api),
        '1-3 versions',
        'many old ones',
      ],
      [
        'plaintext reads (in migration)',
        plaintext(list),
        plaintext(api),
        '0 after backfill',
        'not falling',
      ],
    ],
  };
}
