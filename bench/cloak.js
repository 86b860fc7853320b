// fieldseal against @47ng/cloak, the cipher of prisma-field-encryption (issue #17: "ahead of
// @47ng/cloak at every size in both directions"). Cloak encrypts strings only, with one
// AES-256-GCM key, no AAD, no per-tenant key; prisma-field-encryption calls its synchronous
// functions inside async hooks, so both sides are awaited per call. fieldseal uses its text
// API (the same kind of value: a string in, a string out) in store mode with a warm cache.
import cloak from '@47ng/cloak';
import { createFieldseal } from '../dist/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../dist/testing/index.js';
import { calibrateAndMeasure, check, fmtInt, fmtRatio, series, table } from './harness.js';

// A CommonJS package: its functions through the default export.
const { decryptStringSync, encryptStringSync, generateKey, parseKeySync } = cloak;

const RUNS = Math.max(5, Number(process.env.BENCH_RUNS ?? 5));
const RUN_MS = Number(process.env.BENCH_RUN_MS ?? 100);
const CONTEXT = Object.freeze({
  tenant: 'tenant-0001',
  table: 'customers',
  field: 'notes',
  record: 'cus_000042',
});

function text(n) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-';
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[(i * 7 + 3) % alphabet.length];
  return s;
}

/** Both directions at each size: fieldseal text API vs cloak, PASS when fieldseal is faster. */
export async function runCloakBenchmarks() {
  const fs = createFieldseal({
    provider: new MemoryKeyProvider(),
    keys: { mode: 'store', store: new MemoryKeyStore(), masterKeyId: 'master', keyId: 'k1' },
    cache: { maxAgeMs: 3_600_000 },
    admin: ['provision'],
  });
  await fs.provisionTenant(CONTEXT.tenant);
  const key = parseKeySync(generateKey());
  const rows = [];
  let misses = 0;
  for (const size of [16, 256, 4096, 65536]) {
    const value = text(size);
    const sealed = await fs.encrypt(value, CONTEXT);
    const cloaked = encryptStringSync(value, key);
    check((await fs.decrypt(sealed, CONTEXT)) === value, 'fieldseal: round-trip failed');
    check(decryptStringSync(cloaked, key) === value, 'cloak: round-trip failed');
    const isText = (out) => check(typeof out === 'string', 'expected a string');
    const same = (out) => check(out === value, 'decrypt returned a wrong value');
    for (const [direction, group] of [
      [
        'encrypt',
        [
          series('fieldseal', 'async', () => fs.encrypt(value, CONTEXT), isText),
          series('cloak', 'async', async () => encryptStringSync(value, key), isText),
        ],
      ],
      [
        'decrypt',
        [
          series('fieldseal', 'async', () => fs.decrypt(sealed, CONTEXT), same),
          series('cloak', 'async', async () => decryptStringSync(cloaked, key), same),
        ],
      ],
    ]) {
      await calibrateAndMeasure(group, RUNS, RUN_MS);
      const [ours, theirs] = group;
      const ratio = ours.median / theirs.median;
      const pass = ratio <= 1;
      if (!pass) misses++;
      rows.push([
        direction,
        size >= 1024 ? `${size / 1024} KiB` : `${size} B`,
        fmtInt(ours.median),
        fmtInt(theirs.median),
        fmtRatio(ratio),
        pass ? 'PASS' : 'MISS',
      ]);
    }
    process.stderr.write('.');
  }
  process.stderr.write('\n');
  fs.close();
  console.log(
    `\nCLOAK - fieldseal text API vs @47ng/cloak (prisma-field-encryption's cipher), ns/op, median of ${RUNS} interleaved runs; target: fieldseal <= cloak`,
  );
  console.log(
    table(['direction', 'value', 'fieldseal', 'cloak', 'fs/cloak', 'result'], rows, [
      'l',
      'l',
      'r',
      'r',
      'r',
      'l',
    ]),
  );
  console.log(`${rows.length - misses}/${rows.length} cloak comparisons won`);
}
