// Heap per cached tenant key (issue #17): how much memory the data-key cache holds per active
// tenant at 1,000, 10,000 and 100,000 tenants, so a user can size `cache.maxEntries` (default
// 10,000) and the heap for their number of active tenants. Store mode (one entry per tenant).
// Heap is measured after a full garbage collection, before and after warming every tenant's
// key; the envelopes and contexts of the workload exist before the first measurement.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createFieldseal } from '../dist/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../dist/testing/index.js';
import { check, fmtInt, table } from './harness.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

const SIZES = (process.env.BENCH_MEMORY_TENANTS ?? '1000,10000,100000').split(',').map(Number);

/** Heap, external (Buffers) and resident memory after a full collection. */
function memoryAfterGc() {
  for (let i = 0; i < 3; i++) gc();
  const { heapUsed, external, rss } = process.memoryUsage();
  return { heapUsed, external, rss };
}

export async function runMemoryBenchmarks() {
  const rows = [];
  for (const n of SIZES) {
    const fs = createFieldseal({
      provider: new MemoryKeyProvider(),
      keys: { mode: 'store', store: new MemoryKeyStore(), masterKeyId: 'master' },
      cache: { maxAgeMs: 3_600_000, maxEntries: n },
      admin: true,
    });
    const contexts = [];
    const stored = [];
    for (let i = 0; i < n; i++) {
      const tenant = `tenant-${String(i).padStart(6, '0')}`;
      await fs.provisionTenant(tenant);
      const context = { tenant, table: 'customers', field: 'ssn', record: 'cus_000042' };
      contexts.push(context);
      stored.push(await fs.encryptToBytes('078-05-1120', context));
    }
    fs.clearCache();
    const before = memoryAfterGc();
    for (let i = 0; i < n; i++) await fs.decrypt(stored[i], contexts[i]);
    const after = memoryAfterGc();
    const cache = fs.stats().cache;
    check(cache.entries === n, `memory: expected ${n} cached keys, got ${cache.entries}`);
    const per = (k) => fmtInt((after[k] - before[k]) / n);
    rows.push([
      fmtInt(n),
      fmtInt(cache.entries),
      per('heapUsed'),
      per('external'),
      per('rss'),
      fmtInt((after.rss - before.rss) / 1024 / 1024),
    ]);
    fs.close();
    process.stderr.write('.');
  }
  process.stderr.write('\n');
  console.log(
    '\nMEMORY - held by the data-key cache per active tenant (store mode, after full GC), in bytes;' +
      "\nresident memory includes each key's OpenSSL AES context, outside the JavaScript heap",
  );
  console.log(
    table(['tenants', 'cached keys', 'heap', 'external', 'resident', 'resident MiB in all'], rows, [
      'r',
      'r',
      'r',
      'r',
      'r',
      'r',
    ]),
  );
}
