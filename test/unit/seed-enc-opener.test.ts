/**
 * The batch opener of seed (pydynox) `ENC:` values: frozen vectors through a LocalKeyProvider
 * holding the vectors' master key, one unwrap per distinct (wrapped key, context) pair, key
 * release, per-item errors, and a writer → opener round-trip property.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DataKey, KeyContext } from '../../src/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import {
  openSeedValue,
  openSeedValues,
  type SeedValueItem,
} from '../../src/dynamodb/seed-format/index.js';
import {
  PII,
  seedVectors,
  vectorPlaintext,
  vectorProvider,
  writeSeedValue,
} from './seed-enc-fixtures.js';

const MASTER = seedVectors.masterKey.id;

/** A MemoryKeyProvider that records every DataKey it hands out and the unwraps in flight. */
class RecordingProvider extends MemoryKeyProvider {
  readonly handedOut: DataKey[] = [];
  inFlight = 0;
  maxInFlight = 0;
  override async unwrapDataKey(
    masterKeyId: string,
    wrapped: Uint8Array,
    context: KeyContext,
  ): Promise<DataKey> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const key = await super.unwrapDataKey(masterKeyId, wrapped, context);
      this.handedOut.push(key);
      return key;
    } finally {
      this.inFlight--;
    }
  }
}

/** `count` values under ONE data key (same wrapped key), as copied items would be. */
async function sharedKeyValues(provider: MemoryKeyProvider, context: KeyContext, values: string[]) {
  const { key, wrapped } = await provider.generateDataKey('master', context);
  try {
    return { wrapped, texts: values.map((v) => writeSeedValue(key.exposeBytes(), wrapped, v)) };
  } finally {
    key.release();
  }
}

describe('openSeedValues — frozen vectors', () => {
  it('opens every valid vector in one batch, in order', async () => {
    const provider = vectorProvider();
    const results = await openSeedValues(
      seedVectors.valid.map((v) => ({ text: v.text, context: v.context })),
      { provider, masterKeyId: MASTER },
    );
    results.forEach((r, i) => {
      const v = seedVectors.valid[i]!;
      if (!r.ok) throw new Error(`${v.name}: ${r.error.code}`);
      expect(r.value).toBe(vectorPlaintext(v));
      expect(createHash('sha256').update(r.value, 'utf8').digest('hex')).toBe(v.plaintextSha256);
    });
    expect(provider.calls.unwrap).toBe(seedVectors.valid.length);
  });

  it('keeps a leading byte-order mark, as pydynox (String::from_utf8) does', async () => {
    const v = seedVectors.valid.find((x) => x.name.includes('byte-order mark'))!;
    const value = await openSeedValue(v, { provider: vectorProvider(), masterKeyId: MASTER });
    expect(value.charCodeAt(0)).toBe(0xfeff);
  });

  it('fails every invalid vector with its expected code, per item, next to valid ones', async () => {
    const items: SeedValueItem[] = [];
    for (const v of seedVectors.invalid) {
      items.push({ text: v.text, context: v.openContext ?? v.context });
      items.push({ text: seedVectors.valid[1]!.text, context: seedVectors.valid[1]!.context });
    }
    const results = await openSeedValues(items, {
      provider: vectorProvider(),
      masterKeyId: MASTER,
    });
    seedVectors.invalid.forEach((v, i) => {
      const bad = results[2 * i]!;
      const good = results[2 * i + 1]!;
      expect(bad.ok ? 'ok' : bad.error.code, v.name).toBe(v.code);
      expect(good.ok, `valid neighbour of ${v.name}`).toBe(true);
    });
  });

  it('the vectors do not open under another master key', async () => {
    const provider = new MemoryKeyProvider({ masterKeys: [MASTER] });
    const results = await openSeedValues(seedVectors.valid, { provider, masterKeyId: MASTER });
    expect(results.every((r) => !r.ok && r.error.code === 'ERR_KEY_UNWRAP_FAILED')).toBe(true);
  });
});

describe('openSeedValues — one unwrap per distinct (wrapped key, context)', () => {
  it('N values under one wrapped key and context cost one unwrap', async () => {
    const provider = new RecordingProvider();
    const { texts } = await sharedKeyValues(provider, PII, ['a', 'b', 'c', 'd', 'e']);
    const results = await openSeedValues(
      texts.map((text) => ({ text, context: PII })),
      { provider, masterKeyId: 'master' },
    );
    expect(results.map((r) => (r.ok ? r.value : r.error.code))).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(provider.calls.unwrap).toBe(1);
  });

  it('context key order does not make a new pair; another context does', async () => {
    const provider = new RecordingProvider();
    const { texts } = await sharedKeyValues(provider, PII, ['x', 'y']);
    const reordered = { purpose: 'pii', tenant: 'acme-corp' };
    const other = { tenant: 'acme-corp', purpose: 'billing' };
    const results = await openSeedValues(
      [
        { text: texts[0]!, context: PII },
        { text: texts[1]!, context: reordered },
        { text: texts[0]!, context: other },
        { text: texts[1]!, context: other },
      ],
      { provider, masterKeyId: 'master' },
    );
    expect(provider.calls.unwrap).toBe(2);
    expect(results[0]).toEqual({ ok: true, value: 'x' });
    expect(results[1]).toEqual({ ok: true, value: 'y' });
    // The failed pair's typed error is shared by its items.
    const [, , a, b] = results;
    expect(a!.ok || a!.error.code).toBe('ERR_KEY_UNWRAP_FAILED');
    expect(!b!.ok && !a!.ok && b!.error === a!.error).toBe(true);
  });

  it('distinct data keys cost one unwrap each; malformed items cost none', async () => {
    const provider = new RecordingProvider();
    const one = await sharedKeyValues(provider, PII, ['1']);
    const two = await sharedKeyValues(provider, PII, ['2', '2b']);
    const results = await openSeedValues(
      [
        { text: one.texts[0]!, context: PII },
        { text: 'ENC:!!', context: PII },
        { text: two.texts[0]!, context: PII },
        { text: two.texts[1]!, context: PII },
        { text: 'plain', context: PII },
      ],
      { provider, masterKeyId: 'master' },
    );
    expect(provider.calls.unwrap).toBe(2);
    expect(results.map((r) => (r.ok ? r.value : r.error.code))).toEqual([
      '1',
      'ERR_MALFORMED_CIPHERTEXT',
      '2',
      '2b',
      'ERR_MALFORMED_CIPHERTEXT',
    ]);
  });

  it('an empty batch makes no call', async () => {
    const provider = new RecordingProvider();
    expect(await openSeedValues([], { provider, masterKeyId: 'master' })).toEqual([]);
    expect(provider.calls.unwrap).toBe(0);
  });

  it('releases every data key it unwrapped, also when a value fails', async () => {
    const provider = new RecordingProvider();
    const { texts } = await sharedKeyValues(provider, PII, ['ok']);
    const body = Buffer.from(texts[0]!.slice(4), 'base64');
    body[body.length - 1]! ^= 1;
    const tampered = `ENC:${body.toString('base64')}`;
    const other = await sharedKeyValues(provider, {}, ['fine']);
    const results = await openSeedValues(
      [
        { text: texts[0]!, context: PII },
        { text: tampered, context: PII },
        { text: other.texts[0]!, context: {} },
      ],
      { provider, masterKeyId: 'master' },
    );
    expect(results.map((r) => (r.ok ? r.value : r.error.code))).toEqual([
      'ok',
      'ERR_AUTHENTICATION_FAILED',
      'fine',
    ]);
    expect(provider.handedOut).toHaveLength(2);
    expect(provider.handedOut.every((k) => k.destroyed)).toBe(true);
  });

  it('keeps at most `concurrency` unwraps in flight', async () => {
    const provider = new RecordingProvider();
    provider.setLatency(5);
    const items: SeedValueItem[] = [];
    for (let i = 0; i < 12; i++) {
      const { texts } = await sharedKeyValues(provider, PII, [`v${i}`]);
      items.push({ text: texts[0]!, context: PII });
    }
    const results = await openSeedValues(items, {
      provider,
      masterKeyId: 'master',
      concurrency: 3,
    });
    expect(results.every((r) => r.ok)).toBe(true);
    expect(provider.calls.unwrap).toBe(12);
    expect(provider.maxInFlight).toBe(3);
  });

  it('a provider outage fails only the pairs it hit, with the provider error', async () => {
    const provider = new RecordingProvider();
    const a = await sharedKeyValues(provider, PII, ['a1', 'a2']);
    const b = await sharedKeyValues(provider, PII, ['b']);
    provider.injectFault('unavailable', 1);
    const results = await openSeedValues(
      [
        { text: a.texts[0]!, context: PII },
        { text: b.texts[0]!, context: PII },
        { text: a.texts[1]!, context: PII },
      ],
      { provider, masterKeyId: 'master', concurrency: 1 },
    );
    expect(results.map((r) => (r.ok ? r.value : r.error.code))).toEqual([
      'ERR_PROVIDER_UNAVAILABLE',
      'b',
      'ERR_PROVIDER_UNAVAILABLE',
    ]);
  });

  it('openSeedValue throws the item error', async () => {
    const provider = new MemoryKeyProvider();
    await expect(
      openSeedValue({ text: 'ENC:AQ==', context: {} }, { provider, masterKeyId: 'master' }),
    ).rejects.toMatchObject({ code: 'ERR_MALFORMED_CIPHERTEXT' });
  });

  it('argument mistakes are TypeErrors, thrown before any call', async () => {
    const provider = new MemoryKeyProvider();
    const ok = { provider, masterKeyId: 'master' };
    const item = { text: 'ENC:', context: {} };
    await expect(openSeedValues('x' as never, ok)).rejects.toThrow(TypeError);
    await expect(openSeedValues([item], { provider, masterKeyId: '' })).rejects.toThrow(TypeError);
    await expect(openSeedValues([item], { ...ok, concurrency: 0 })).rejects.toThrow(TypeError);
    await expect(openSeedValues([{ text: 1, context: {} } as never], ok)).rejects.toThrow(
      /items\[0\]\.text/,
    );
    await expect(
      openSeedValues([item, { text: 'ENC:', context: { n: 1 } } as never], ok),
    ).rejects.toThrow(/items\[1\]\.context\.n/);
    await expect(openSeedValues([null as never], ok)).rejects.toThrow(TypeError);
    expect(provider.calls.unwrap).toBe(0);
  });
});

describe('openSeedValues — properties', () => {
  it('writer → opener round-trips any string, under any string-map context', async () => {
    const provider = new MemoryKeyProvider();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: 'grapheme', maxLength: 60 }), { minLength: 1, maxLength: 5 }),
        fc.dictionary(
          fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 8 }),
          fc.string({ maxLength: 12 }),
          { maxKeys: 3 },
        ),
        async (values, context) => {
          const { texts } = await sharedKeyValues(provider, context, values);
          const before = provider.calls.unwrap;
          const results = await openSeedValues(
            texts.map((text) => ({ text, context })),
            { provider, masterKeyId: 'master' },
          );
          expect(results).toEqual(values.map((value) => ({ ok: true, value })));
          expect(provider.calls.unwrap - before).toBe(1);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('authentic but invalid UTF-8 (an encoded lone surrogate) is ERR_MALFORMED_CIPHERTEXT', async () => {
    const provider = new MemoryKeyProvider();
    const { key, wrapped } = await provider.generateDataKey('master', {});
    const text = writeSeedValue(key.exposeBytes(), wrapped, Uint8Array.from([0xed, 0xa0, 0x80]));
    key.release();
    const [r] = await openSeedValues([{ text, context: {} }], { provider, masterKeyId: 'master' });
    expect(r).toMatchObject({ ok: false, error: { code: 'ERR_MALFORMED_CIPHERTEXT' } });
  });
});
