/**
 * CANARY test for the seed `ENC:` reader: a known plaintext under a known data key and master
 * key goes through every failure path, and every rendering of every error (message, stack,
 * inspect, JSON, cause chain) and of the parsed envelope is searched for the plaintext, the key
 * bytes and the stored text in common encodings. If this fails, find the leak; do not relax it.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DataKey, LocalKeyProvider, SecretKey, type FieldsealError } from '../../src/index.js';
import {
  openSeedValues,
  parseSeedValue,
  type SeedValueItem,
} from '../../src/dynamodb/seed-format/index.js';
import { PII, writeSeedValue } from './seed-enc-fixtures.js';

const CANARY = 'CANARY-SEED-PLAINTEXT-5e1d0c';
const MASTER = Buffer.alloc(32, 0xa7);
const DATA_KEY = Buffer.from(
  'c4a1c4a1c4a1c4a1c4a1c4a1c4a1c4a1c4a1c4a1c4a1c4a1c4a1c4a1c4a1c4a1',
  'hex',
);

function forms(bytes: Buffer | string): string[] {
  const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  return [
    b.toString('hex'),
    b.toString('hex').toUpperCase(),
    b.toString('base64').slice(0, 24),
    b.toString('base64url').slice(0, 24),
    ...(typeof bytes === 'string' ? [bytes] : []),
  ];
}

function rendered(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    parts.push(inspect(e, { depth: Infinity, showHidden: true }));
    if (e instanceof Error) parts.push(String(e), e.message, e.stack ?? '');
    parts.push(JSON.stringify(e) ?? '');
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}

describe('seed ENC: canary', () => {
  it('no error, cause, inspect or JSON rendering carries the value, the key or the stored text', async () => {
    const provider = new LocalKeyProvider({
      id: 'local',
      source: {
        kind: 'test',
        references: () => ['canary'],
        getKey: (reference) => Promise.resolve(new SecretKey(reference, MASTER)),
      },
    });
    const dataKey = DataKey.fromBytes(DATA_KEY);
    const wrapped = await provider.wrapDataKey('canary', dataKey, PII);
    dataKey.release();
    // Random nonces: retry until the text has a '+' or '/', so its URL-safe form differs.
    let good = writeSeedValue(DATA_KEY, wrapped, CANARY);
    while (!/[+/]/.test(good)) good = writeSeedValue(DATA_KEY, wrapped, CANARY);
    const body = Buffer.from(good.slice(4), 'base64');
    const tagFlipped = Buffer.from(body);
    tagFlipped[tagFlipped.length - 1]! ^= 1;
    const wrongKey = writeSeedValue(Buffer.alloc(32, 0x11), wrapped, CANARY);
    const notUtf8 = writeSeedValue(
      DATA_KEY,
      wrapped,
      Buffer.concat([Buffer.from(CANARY), Buffer.from([0xff])]),
    );
    const items: SeedValueItem[] = [
      { text: `ENC:${tagFlipped.toString('base64')}`, context: PII },
      { text: wrongKey, context: PII },
      { text: notUtf8, context: PII },
      { text: good, context: { tenant: 'other' } },
      { text: good.slice(0, -8), context: PII },
      { text: good.replaceAll('+', '-').replaceAll('/', '_'), context: PII },
      { text: `${good}\n`, context: PII },
      {
        text: `ENC:${Buffer.concat([Buffer.from([2]), body.subarray(1)]).toString('base64')}`,
        context: PII,
      },
    ];
    const results = await openSeedValues(items, { provider, masterKeyId: 'canary' });
    const errors = results.map((r) => (r.ok ? undefined : r.error));
    expect(errors.every((e) => e !== undefined)).toBe(true);
    const codes = (errors as FieldsealError[]).map((e) => e.code);
    expect(new Set(codes)).toEqual(
      new Set(['ERR_AUTHENTICATION_FAILED', 'ERR_MALFORMED_CIPHERTEXT', 'ERR_KEY_UNWRAP_FAILED']),
    );

    const secrets = [
      ...forms(CANARY),
      ...forms(DATA_KEY),
      ...forms(MASTER),
      good.slice(4, 40),
      body.toString('hex').slice(0, 40),
    ];
    const everything = [
      ...errors.map(rendered),
      inspect(
        results.filter((r) => !r.ok),
        { depth: Infinity },
      ),
    ].join('\n');
    for (const s of secrets) expect(everything).not.toContain(s);

    // The parsed envelope holds only ciphertext: no plaintext or key in its rendering.
    const env = inspect(parseSeedValue(good), { depth: Infinity, maxArrayLength: Infinity });
    for (const s of [...forms(CANARY), ...forms(DATA_KEY), ...forms(MASTER)]) {
      expect(env).not.toContain(s);
    }

    // Sanity: the right context does open it (the canary is real).
    const [ok] = await openSeedValues([{ text: good, context: PII }], {
      provider,
      masterKeyId: 'canary',
    });
    expect(ok).toEqual({ ok: true, value: CANARY });
  });
});
