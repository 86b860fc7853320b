// Issue #11, defect 1: a key load (active-version lookup, row fetch, unwrap) in flight while
// shredTenant ran used to answer after the purge and cache the shredded key again, so the
// process kept encrypting and decrypting the tenant for its whole cache lifetime. Here shreds
// race thousands of reads and writes on two clients (one shreds, one hears it through a key
// event bus), with artificial latency in the key store and the provider; no operation may
// succeed once the shred has resolved, and every later operation fails with ERR_KEY_SHREDDED.
import { describe, expect, it } from 'vitest';
import {
  createFieldseal,
  isFieldsealError,
  type Fieldseal,
  type KeyEventBus,
  type KeyStore,
} from '../../src/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { onEveryKeyStore } from './repository-backends.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const jitter = (max: number): Promise<void> => sleep(Math.floor(Math.random() * (max + 1)));

/** Every key-store call waits before it is made and before its reply is seen. */
function slowStore(inner: KeyStore, maxMs: number): KeyStore {
  return new Proxy(inner, {
    get(target, name, receiver) {
      const v: unknown = Reflect.get(target, name, receiver);
      if (typeof v !== 'function') return v;
      return async (...args: unknown[]) => {
        await jitter(maxMs);
        const out: unknown = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        await jitter(maxMs);
        return out;
      };
    },
  });
}

/** The bus of two "processes" in one test: events reach every subscriber synchronously. */
function memoryBus(): KeyEventBus {
  const subscribers = new Set<(tenant: string, kind: 'shred' | 'keys-changed') => void>();
  const publish = (tenant: string, kind: 'shred' | 'keys-changed'): Promise<void> => {
    for (const s of subscribers) s(tenant, kind);
    return Promise.resolve();
  };
  return {
    publishShred: (tenant) => publish(tenant, 'shred'),
    publishKeysChanged: (tenant) => publish(tenant, 'keys-changed'),
    subscribe(onEvent) {
      subscribers.add(onEvent);
      return () => subscribers.delete(onEvent);
    },
  };
}

interface RoundResult {
  readonly successesAfterShred: number;
  readonly freshSuccesses: number;
  readonly operations: number;
  readonly unexpectedCodes: string[];
}

const ALLOWED_FAILURES = new Set(['ERR_KEY_SHREDDED', 'ERR_KEY_NOT_FOUND']);

async function raceOneTenant(a: Fieldseal, b: Fieldseal, tenant: string): Promise<RoundResult> {
  const ctx = (record: string) => ({ tenant, table: 'users', field: 'ssn', record });
  await a.provisionTenant(tenant);
  const stored = await Promise.all(
    Array.from({ length: 10 }, (_, i) => a.encrypt(`v${i}`, ctx(`r${i}`))),
  );
  let shredDone = false;
  let successesAfterShred = 0;
  const unexpectedCodes: string[] = [];
  const track = async (op: Promise<unknown>): Promise<void> => {
    try {
      await op;
      if (shredDone) successesAfterShred++;
    } catch (err) {
      const code = isFieldsealError(err) ? err.code : String(err);
      if (!ALLOWED_FAILURES.has(code)) unexpectedCodes.push(code);
    }
  };
  const one = (): Promise<void> => {
    const client = Math.random() < 0.5 ? a : b;
    // Cold loads in flight are the point: drop cached keys now and then.
    if (Math.random() < 0.2) client.clearCache();
    const i = Math.floor(Math.random() * stored.length);
    return track(
      Math.random() < 0.5
        ? client.encrypt(`w${i}`, ctx(`r${i}`))
        : client.decrypt(stored[i]!, ctx(`r${i}`)),
    );
  };
  const ops: Promise<void>[] = [];
  const shred = (async () => {
    await jitter(8);
    await a.shredTenant(tenant);
    shredDone = true;
  })();
  // Operations start before, during and after the shred.
  for (let wave = 0; wave < 12; wave++) {
    for (let k = 0; k < 15; k++) ops.push(one());
    await jitter(2);
  }
  await shred;
  await Promise.all(ops);
  // Whatever was in flight has settled: every new operation on either client must fail.
  let freshSuccesses = 0;
  await Promise.all(
    Array.from({ length: 40 }, async (_, k) => {
      const client = k % 2 === 0 ? a : b;
      const i = k % stored.length;
      try {
        await (k % 4 < 2
          ? client.encrypt('late', ctx(`r${i}`))
          : client.decrypt(stored[i]!, ctx(`r${i}`)));
        freshSuccesses++;
      } catch (err) {
        expect(isFieldsealError(err) && err.code).toBe('ERR_KEY_SHREDDED');
      }
    }),
  );
  return { successesAfterShred, freshSuccesses, operations: ops.length + 40, unexpectedCodes };
}

function raceSuite(name: string, makeStore: () => KeyStore, rounds: number): void {
  it(`${name}: shreds racing reads and writes leave 0 successes after the shred resolved`, async () => {
    const store = slowStore(makeStore(), 3);
    const provider = new MemoryKeyProvider();
    provider.setLatency(1);
    const bus = memoryBus();
    const options = {
      admin: true,
      provider,
      keys: { mode: 'store' as const, store, masterKeyId: 'master', keyId: 'k' },
      cache: { maxAgeMs: 60_000 },
      keyEvents: bus,
    };
    const a = createFieldseal(options);
    const b = createFieldseal(options);
    let operations = 0;
    let late = 0;
    let fresh = 0;
    const codes: string[] = [];
    const prefix = `race-${Math.random().toString(36).slice(2, 8)}`;
    for (let r = 0; r < rounds; r++) {
      const result = await raceOneTenant(a, b, `${prefix}-${r}`);
      operations += result.operations;
      late += result.successesAfterShred;
      fresh += result.freshSuccesses;
      codes.push(...result.unexpectedCodes);
    }
    a.close();
    b.close();
    console.log(
      `${name}: ${rounds} shreds raced ${operations} reads and writes: ${late} successes after the shred resolved, ${fresh} later successes`,
    );
    expect(codes).toEqual([]);
    expect(late).toBe(0);
    expect(fresh).toBe(0);
  });
}

describe('shreds racing key loads', () => {
  onEveryKeyStore((name, store) => raceSuite(name, store, name === 'the memory store' ? 15 : 8));
});
