// Issue #11, defect 10: a provider call that never settled left `decrypt` pending forever, and
// after an outage ended new calls joined a key load still stuck on a hung attempt and failed
// seconds later. Every provider call is now bounded by the client (`providerTimeoutMs`), a
// late key is zeroed, and a caller waits for someone else's load at most `maxJoinWaitMs`
// before it starts its own.
import { describe, expect, it } from 'vitest';
import type { DataKey } from '../../src/index.js';
import { createFieldseal, type KeyContext } from '../../src/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';

const ctx = { tenant: 'acme', table: 'users', field: 'ssn', record: 'r1' };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A provider whose next unwraps hang (for `hangMs`, or forever) before answering. */
class HangingProvider extends MemoryKeyProvider {
  hangs = 0;
  hangMs = Infinity;
  readonly returned: DataKey[] = [];
  override async unwrapDataKey(
    masterKeyId: string,
    wrapped: Uint8Array,
    context: KeyContext,
  ): Promise<DataKey> {
    if (this.hangs > 0) {
      this.hangs--;
      if (this.hangMs === Infinity) await new Promise<never>(() => undefined);
      await sleep(this.hangMs);
    }
    const key = await super.unwrapDataKey(masterKeyId, wrapped, context);
    this.returned.push(key);
    return key;
  }
}

describe('provider calls are bounded by the client', () => {
  it('an unwrap that never settles fails with ERR_PROVIDER_UNAVAILABLE after providerTimeoutMs', async () => {
    const provider = new HangingProvider();
    const fs = createFieldseal({
      provider,
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
      providerTimeoutMs: 100,
    });
    const stored = await fs.encrypt('v', ctx);
    fs.clearCache();
    provider.hangs = 1;
    await expect(fs.decrypt(stored, ctx)).rejects.toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
    });
    // The provider works again: the next call succeeds.
    expect(await fs.decrypt(stored, ctx)).toBe('v');
  });

  it('a key that arrives after the deadline is zeroed, never used', async () => {
    const provider = new HangingProvider();
    const fs = createFieldseal({
      provider,
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
      providerTimeoutMs: 50,
    });
    const stored = await fs.encrypt('v', ctx);
    fs.clearCache();
    provider.hangs = 1;
    provider.hangMs = 150;
    await expect(fs.decrypt(stored, ctx)).rejects.toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
    });
    const deadline = Date.now() + 5_000;
    while (provider.returned.length === 0 && Date.now() < deadline) await sleep(10);
    expect(provider.returned).toHaveLength(1);
    expect(provider.returned[0]!.destroyed).toBe(true);
  });

  it('rejects providerTimeoutMs and maxJoinWaitMs out of range', () => {
    const base = {
      provider: new MemoryKeyProvider(),
      keys: { mode: 'embedded' as const, masterKeyId: 'master' },
    };
    expect(() =>
      createFieldseal({ ...base, cache: { maxAgeMs: 1 }, providerTimeoutMs: 0 }),
    ).toThrow(RangeError);
    expect(() => createFieldseal({ ...base, cache: { maxAgeMs: 1, maxJoinWaitMs: -1 } })).toThrow(
      RangeError,
    );
  });
});

describe('a new caller does not join a load stuck on a hung attempt', () => {
  it('after the outage ends, a new call succeeds while the old load still hangs', async () => {
    const provider = new HangingProvider();
    const fs = createFieldseal({
      provider,
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 }, // default maxJoinWaitMs
      providerTimeoutMs: 3_000,
    });
    const stored = await fs.encrypt('v', ctx);
    fs.clearCache();
    provider.hangs = 1; // the request in flight when the outage ends hangs
    provider.hangMs = 2_500;
    let oldSettled = false;
    const old = fs.decrypt(stored, ctx).finally(() => {
      oldSettled = true;
    });
    await sleep(20); // the outage is over: the provider answers new requests at once
    const started = performance.now();
    expect(await fs.decrypt(stored, ctx)).toBe('v');
    const ms = performance.now() - started;
    expect(oldSettled).toBe(false); // it did not wait for the hung load
    console.log(`new call after the outage: ${ms.toFixed(0)} ms (old load still hanging)`);
    expect(await old).toBe('v');
  });

  it('callers arriving together still share one load (single flight)', async () => {
    const provider = new MemoryKeyProvider();
    provider.setLatency(20);
    const fs = createFieldseal({
      provider,
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
    });
    const stored = await fs.encrypt('v', ctx);
    fs.clearCache();
    const before = provider.calls.unwrap;
    const out = await Promise.all(Array.from({ length: 50 }, () => fs.decrypt(stored, ctx)));
    expect(out.every((v) => v === 'v')).toBe(true);
    expect(provider.calls.unwrap - before).toBe(1);
  });
});
