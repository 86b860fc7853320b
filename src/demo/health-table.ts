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

/**
 * One line per health figure saying what it means here, above all why a figure past its
 * warning threshold is expected in this demo (cold clients, per-batch latency).
 */
export function healthNotes(r: DemoReport): string[] {
  const list = r.readStats;
  const api = r.apiStats;
  const keys = providerCalls(list).total;
  const calls = list.latency.decryptMany.count;
  const perCall = calls === 0 ? 0 : Math.round(list.values.decrypted / calls);
  const perValue = perCall === 0 ? 0 : list.latency.decryptMany.p50Ms / perCall;
  const notes = [
    `KMS calls: the list client decrypted ${int(list.values.decrypted)} values with ${keys} unwraps: ` +
      'one per data key (3 tenants, one of them rotated) on a cold client; a batch looks its key ' +
      'up once for all of its values and the cache serves every later read.',
    `Cache hit rate: cold clients miss once per data key (the first read of each tenant key); ` +
      `the list client looks keys up once per batch call (${int(list.cache.hits + list.cache.misses)} ` +
      `lookups for ${int(r.recordsListed)} records), so its ${list.cache.misses} cold misses pull its ` +
      `rate down at no cost; the API client, one lookup per request, shows the warm rate (${(100 * (api.cache.hitRate ?? 0)).toFixed(1)}%).`,
    `Latency: p50 / p99 are per batch call, not per value: a list call decrypts about ` +
      `${int(perCall)} values (${int(Math.round(r.recordsListed / Math.max(1, calls)))} records) and ` +
      `the slowest calls include the cold unwrap; per value that is ${formatMs(perValue)} at p50. ` +
      `The API's calls decrypt one record each.`,
    `Values per key version: ${r.rotated.tenant}'s last ${r.rotated.recordsAfter} records are under ` +
      'its new version, the rest under version 1 until a backfill re-encrypts them.',
    `Plaintext reads: ${r.legacyPhones.rows} ${r.legacyPhones.tenant} phone numbers are legacy ` +
      'plaintext in a field in migration, read twice each; a backfill brings this to 0.',
    `Writing, the writer added ${formatMs(r.writeStats.latency.encryptMany.p50Ms)} per batch at p50 ` +
      `(${r.writeStats.latency.encryptMany.count} batches).`,
  ];
  return notes;
}
