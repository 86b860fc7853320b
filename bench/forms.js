// Issue #17's targets for batches and for the text form (BENCH_PARTS=forms):
// - batches of 100 values of 16 B, per value: decrypt <= 1.3x raw AES-256-GCM, encrypt <= 1.0x;
// - 64 KiB text (`fs1:` + base64url): <= 1.2x raw AES-256-GCM plus base64url encoding (encrypt)
//   or decoding (decrypt) of the same bytes, the baseline a hand-written text column would pay.
// Raw is bench/raw.js (fresh randomBytes(12) IV, iv || ct || tag in one Buffer), awaited once
// per batch like fieldseal's batch call.
import { randomBytes } from 'node:crypto';
import { createFieldseal } from '../dist/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../dist/testing/index.js';
import { calibrateAndMeasure, check, fmtInt, fmtRatio, series, table } from './harness.js';
import { rawDecrypt, rawEncrypt } from './raw.js';

const RUNS = Math.max(5, Number(process.env.BENCH_RUNS ?? 5));
const RUN_MS = Number(process.env.BENCH_RUN_MS ?? 100);
const BATCH = 100;
const RAW_KEY = randomBytes(32);
const RAW_AAD = Buffer.from('tenant-0001|customers|ssn|cus_000042|v1', 'utf8');

const context = (i) => ({
  tenant: 'tenant-0001',
  table: 'customers',
  field: 'ssn',
  record: `cus_${String(i).padStart(6, '0')}`,
});

const measure = (group) => calibrateAndMeasure(group, RUNS, RUN_MS);

export async function runFormBenchmarks() {
  const fs = createFieldseal({
    provider: new MemoryKeyProvider(),
    keys: { mode: 'store', store: new MemoryKeyStore(), masterKeyId: 'master', keyId: 'k1' },
    cache: { maxAgeMs: 3_600_000 },
    admin: ['provision'],
  });
  await fs.provisionTenant('tenant-0001');
  const rows = [];
  const verdict = (name, ours, raw, target, per) => {
    const ratio = ours / raw;
    rows.push([
      name,
      fmtInt(ours / per),
      fmtInt(raw / per),
      fmtRatio(ratio),
      `<= ${target.toFixed(1)}x`,
      ratio <= target ? 'PASS' : 'MISS',
    ]);
  };

  // Batches: the records' contexts exist (as a caller's rows do); the items are built per call.
  const values = Array.from({ length: BATCH }, () => randomBytes(16));
  const contexts = values.map((_, i) => context(i));
  const sealed = await fs.encryptManyToBytes(
    values.map((value, i) => ({ value, context: contexts[i] })),
  );
  const raws = values.map((v) => rawEncrypt(RAW_KEY, RAW_AAD, v));
  const all = (n) => (out) => check(out.length === n, 'a batch lost values');
  const [encMany, rawEncMany] = await measure([
    series(
      'encryptManyToBytes',
      'async',
      () => fs.encryptManyToBytes(values.map((value, i) => ({ value, context: contexts[i] }))),
      all(BATCH),
    ),
    series(
      'raw encrypt x100',
      'async',
      async () => values.map((v) => rawEncrypt(RAW_KEY, RAW_AAD, v)),
      all(BATCH),
    ),
  ]);
  verdict(`encryptMany, ${BATCH} x 16 B, per value`, encMany, rawEncMany, 1.0, BATCH);
  const [decMany, rawDecMany] = await measure([
    series(
      'decryptMany',
      'async',
      () => fs.decryptMany(sealed.map((stored, i) => ({ stored, context: contexts[i] }))),
      (out) => {
        check(
          out.length === BATCH && Buffer.from(out[7]).equals(values[7]),
          'decryptMany: wrong value',
        );
      },
    ),
    series(
      'raw decrypt x100',
      'async',
      async () => raws.map((r) => rawDecrypt(RAW_KEY, RAW_AAD, r, false)),
      all(BATCH),
    ),
  ]);
  verdict(`decryptMany, ${BATCH} x 16 B, per value`, decMany, rawDecMany, 1.3, BATCH);

  // 64 KiB text: fieldseal's `fs1:` text against raw + base64url of the same bytes.
  const big = randomBytes(65536);
  const ctx = context(0);
  const text = await fs.encrypt(big, ctx);
  const rawText = rawEncrypt(RAW_KEY, RAW_AAD, big).toString('base64url');
  const [encText, rawEncText] = await measure([
    series(
      'encrypt text 64 KiB',
      'async',
      () => fs.encrypt(big, ctx),
      (out) => check(out.startsWith('fs1:'), 'not text'),
    ),
    series(
      'raw + base64url',
      'async',
      async () => rawEncrypt(RAW_KEY, RAW_AAD, big).toString('base64url'),
      (out) => check(out.length > 65536, 'short'),
    ),
  ]);
  verdict('encrypt 64 KiB text', encText, rawEncText, 1.2, 1);
  const [decText, rawDecText] = await measure([
    series(
      'decrypt text 64 KiB',
      'async',
      () => fs.decrypt(text, ctx),
      (out) => check(Buffer.from(out).equals(big), 'wrong value'),
    ),
    series(
      'base64url + raw',
      'async',
      async () => rawDecrypt(RAW_KEY, RAW_AAD, Buffer.from(rawText, 'base64url'), false),
      (out) => check(out.equals(big), 'wrong value'),
    ),
  ]);
  verdict('decrypt 64 KiB text', decText, rawDecText, 1.2, 1);
  fs.close();

  console.log(
    `\nBATCHES AND TEXT - ns per value, median of ${RUNS} interleaved runs; raw = bench/raw.js (+ base64url for text)`,
  );
  console.log(
    table(['case', 'fieldseal', 'raw', 'ratio', 'target', 'result'], rows, [
      'l',
      'r',
      'r',
      'r',
      'l',
      'l',
    ]),
  );
}
