// Issue #11, defect 8, client side: while its key-event bus is down a client caches no key
// (every operation reads the key store, which knows about shreds), and says so in stats().
import { describe, expect, it } from 'vitest';
import { createFieldseal, type KeyEventBus, type KeyEventBusState } from '../../src/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';

function controllableBus(): KeyEventBus & { set(state: KeyEventBusState): void } {
  const listeners = new Set<(state: KeyEventBusState, cause?: unknown) => void>();
  return {
    publishShred: () => Promise.resolve(),
    publishKeysChanged: () => Promise.resolve(),
    subscribe: () => () => undefined,
    onConnectionChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    set(state) {
      for (const l of listeners) l(state, new Error('connection terminated'));
    },
  };
}

describe('a client whose key-event bus is down', () => {
  it('purges, stops caching while the bus is down, and caches again once it is back', async () => {
    const provider = new MemoryKeyProvider();
    const store = new MemoryKeyStore();
    const bus = controllableBus();
    const fs = createFieldseal({
      provider,
      keys: { mode: 'store', store, masterKeyId: 'master' },
      cache: { maxAgeMs: 600_000 },
      keyEvents: bus,
      admin: ['provision', 'shred'],
    });
    const ctx = { tenant: 'acme', table: 'users', field: 'ssn', record: 'r1' };
    await fs.provisionTenant('acme');
    const stored = await fs.encrypt('v', ctx);
    await fs.decrypt(stored, ctx);
    const warm = provider.calls.unwrap;
    await fs.decrypt(stored, ctx);
    expect(provider.calls.unwrap).toBe(warm); // cached

    bus.set('disconnected');
    expect(fs.stats().keyEvents).toMatchObject({ state: 'disconnected', disconnects: 1 });
    for (let i = 0; i < 3; i++) await fs.decrypt(stored, ctx);
    expect(provider.calls.unwrap).toBe(warm + 3); // every read went to the store and provider

    // A shred by another process that this one never hears of: reads fail at once.
    const other = createFieldseal({
      provider,
      keys: { mode: 'store', store, masterKeyId: 'master' },
      cache: { maxAgeMs: 600_000 },
      admin: ['shred'],
    });
    await other.shredTenant('acme');
    await expect(fs.decrypt(stored, ctx)).rejects.toMatchObject({ code: 'ERR_KEY_SHREDDED' });

    bus.set('connected');
    expect(fs.stats().keyEvents.state).toBe('connected');
    const ctx2 = { ...ctx, tenant: 'globex' };
    other.close();
    const admin = createFieldseal({
      provider,
      keys: { mode: 'store', store, masterKeyId: 'master' },
      cache: { maxAgeMs: 600_000 },
      admin: ['provision'],
    });
    await admin.provisionTenant('globex');
    const g = await fs.encrypt('g', ctx2);
    await fs.decrypt(g, ctx2);
    const after = provider.calls.unwrap;
    await fs.decrypt(g, ctx2);
    expect(provider.calls.unwrap).toBe(after); // caching again
    fs.close();
  });
});
