import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal, KeyShreddedError, type StoredKeyVersion } from '../../src/index.js';
import type { KeyStore } from '../../src/keys/key-store.js';
import { guardKeyStore } from '../../src/keys/guarded-key-store.js';
import { MemoryKeyProvider, MemoryKeyStore, runKeyStoreSuite } from '../../src/testing/index.js';

// The guard keeps the whole contract of a well-behaved store.
runKeyStoreSuite({ describe, it, beforeAll, afterAll }, 'guarded MemoryKeyStore', () =>
  guardKeyStore(new MemoryKeyStore()),
);

const CANARY = 'CANARY-8c1f';
const ctx = (tenant: string) => ({ tenant, table: 'users', field: 'email', record: 'u1' });

/** A legitimate row of tenant `acme`, key id `k`, version 1. */
function goodRow(overrides: Record<string, unknown> = {}): StoredKeyVersion {
  return {
    tenant: 'acme',
    keyId: 'k',
    version: 1,
    state: 'active',
    providerId: 'memory',
    masterKeyId: 'master',
    wrapped: new Uint8Array(73).fill(7),
    createdAt: new Date(0),
    ...overrides,
  } as unknown as StoredKeyVersion;
}

/**
 * A custom store whose every method does `behave()`: return what it gives, or throw.
 * `setCommitment` only when asked for.
 */
function hostileStore(behave: () => unknown, withCommitment = false): KeyStore {
  const run = (): Promise<never> => Promise.resolve().then(() => behave() as never);
  const store: KeyStore = {
    getActiveVersion: run,
    getVersion: run,
    createVersion: run,
    shredTenant: run,
    listVersions: run,
    rewrapVersion: run,
    retireVersions: run,
    reinstateVersion: run,
  };
  return withCommitment ? { ...store, setCommitment: run } : store;
}

/** Every method of the guard, called for tenant acme, key id k, version 1. */
function everyCall(store: KeyStore): [string, () => Promise<unknown>][] {
  const row = goodRow();
  return [
    ['getActiveVersion', () => store.getActiveVersion('acme', 'k')],
    ['getVersion', () => store.getVersion('acme', 'k', 1)],
    [
      'createVersion',
      () =>
        store.createVersion(
          {
            tenant: 'acme',
            keyId: 'k',
            version: 1,
            providerId: 'memory',
            masterKeyId: 'master',
            wrapped: row.wrapped,
          },
          null,
        ),
    ],
    ['shredTenant', () => store.shredTenant('acme')],
    ['listVersions', () => store.listVersions('acme')],
    ['rewrapVersion', () => store.rewrapVersion(row, row)],
    ['retireVersions', () => store.retireVersions('acme', 'k', 2)],
    ['reinstateVersion', () => store.reinstateVersion('acme', 'k', 1)],
  ];
}

async function failure(call: () => Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await call();
  } catch (err) {
    return err as Error & Record<string, unknown>;
  }
  throw new Error('expected a failure');
}

describe('guardKeyStore: errors thrown by a custom store', () => {
  it('a plain Error from any method becomes ERR_KEY_STORE_UNAVAILABLE with it as cause', async () => {
    const thrown = new Error(`connection reset while reading ${CANARY}`);
    const guarded = guardKeyStore(
      hostileStore(() => {
        throw thrown;
      }, true),
    );
    for (const [operation, call] of everyCall(guarded)) {
      const err = await failure(call);
      expect(err).toMatchObject({ code: 'ERR_KEY_STORE_UNAVAILABLE' });
      expect(err.message).toBe(`key store ${operation} failed`);
      expect(err.cause).toBe(thrown);
      expect(JSON.stringify(err)).not.toContain(CANARY);
    }
    const err = await failure(() => guarded.setCommitment!(goodRow(), new Uint8Array(32)));
    expect(err).toMatchObject({ code: 'ERR_KEY_STORE_UNAVAILABLE', cause: thrown });
    expect(err.message).toBe('key store setCommitment failed');
  });

  it('a thrown string, null or a synchronous throw is wrapped too', async () => {
    for (const thrown of [CANARY, null, undefined, 42, { message: CANARY }]) {
      const guarded = guardKeyStore(
        hostileStore(() => {
          // eslint-disable-next-line @typescript-eslint/only-throw-error -- a hostile store
          throw thrown;
        }),
      );
      const err = await failure(() => guarded.getVersion('acme', 'k', 1));
      expect(err).toMatchObject({ code: 'ERR_KEY_STORE_UNAVAILABLE' });
      expect(err.cause).toBe(thrown);
      expect(err.message).not.toContain(CANARY);
    }
    const sync: KeyStore = {
      ...hostileStore(() => undefined),
      getVersion: () => {
        throw new TypeError(CANARY);
      },
    };
    const err = await failure(() => guardKeyStore(sync).getVersion('acme', 'k', 1));
    expect(err).toMatchObject({ code: 'ERR_KEY_STORE_UNAVAILABLE' });
  });

  it('fieldseal errors pass through unchanged', async () => {
    const shredded = new KeyShreddedError(undefined, { details: { keyRef: 'k@1' } });
    const guarded = guardKeyStore(
      hostileStore(() => {
        throw shredded;
      }),
    );
    expect(await failure(() => guarded.reinstateVersion('acme', 'k', 1))).toBe(shredded);
  });

  it('a thrown proxy whose traps throw is still wrapped', async () => {
    const trap = new Proxy(
      {},
      {
        has() {
          throw new Error('trap');
        },
      },
    );
    const guarded = guardKeyStore(
      hostileStore(() => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- a hostile store
        throw trap;
      }),
    );
    const err = await failure(() => guarded.getVersion('acme', 'k', 1));
    expect(err).toMatchObject({ code: 'ERR_KEY_STORE_UNAVAILABLE' });
    expect(err.cause).toBe(trap);
  });
});

describe('guardKeyStore: rows returned by a custom store', () => {
  it("a row with state 'weird' (or none) is refused, whatever method returns it", async () => {
    for (const state of ['weird', 'ACTIVE', '', undefined, 1, null]) {
      const bad = goodRow({ state });
      const guarded = guardKeyStore(hostileStore(() => bad));
      for (const call of [
        () => guarded.getVersion('acme', 'k', 1),
        () => guarded.getActiveVersion('acme', 'k'),
      ]) {
        const err = await failure(call);
        expect(err).toMatchObject({ code: 'ERR_KEY_STORE_UNAVAILABLE' });
        expect(err.message).toBe('the key store returned a row with an unknown state');
      }
      const list = guardKeyStore(hostileStore(() => [goodRow(), bad]));
      expect(await failure(() => list.listVersions('acme'))).toMatchObject({
        message: 'the key store returned a row with an unknown state',
      });
    }
  });

  it('a client on a store that returns an unknown state refuses to decrypt (ERR_KEY_STORE_UNAVAILABLE)', async () => {
    const inner = new MemoryKeyStore();
    let state: string | undefined;
    // A custom store that reports its own states, e.g. 'archived', which fieldseal never wrote.
    const custom: KeyStore = {
      ...bind(inner),
      getVersion: async (t, k, v) => {
        const row = await inner.getVersion(t, k, v);
        return row === undefined || state === undefined
          ? row
          : ({ ...row, state } as unknown as StoredKeyVersion);
      },
    };
    const options = {
      admin: true,
      provider: new MemoryKeyProvider(),
      keys: { mode: 'store' as const, store: guardKeyStore(custom), masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
    };
    const writer = createFieldseal(options);
    await writer.provisionTenant('acme');
    const stored = await writer.encrypt('ada@example.com', ctx('acme'));
    state = 'archived';
    const cold = createFieldseal(options);
    await expect(cold.decrypt(stored, ctx('acme'))).rejects.toMatchObject({
      code: 'ERR_KEY_STORE_UNAVAILABLE',
      message: 'the key store returned a row with an unknown state',
    });
    state = undefined;
    expect(await createFieldseal(options).decrypt(stored, ctx('acme'))).toBe('ada@example.com');
  });

  it("another tenant's, key id's or version's row is refused", async () => {
    const theirs = goodRow({ tenant: CANARY });
    for (const [returned, call] of [
      [theirs, (s: KeyStore) => s.getVersion('acme', 'k', 1)],
      [theirs, (s: KeyStore) => s.getActiveVersion('acme', 'k')],
      [goodRow({ keyId: 'other' }), (s: KeyStore) => s.getVersion('acme', 'k', 1)],
      [goodRow({ version: 2 }), (s: KeyStore) => s.getVersion('acme', 'k', 1)],
      [[goodRow(), theirs], (s: KeyStore) => s.listVersions('acme')],
      [
        theirs,
        (s: KeyStore) => s.createVersion({ ...goodRow(), wrapped: new Uint8Array(73) }, null),
      ],
    ] as const) {
      const err = await failure(() => call(guardKeyStore(hostileStore(() => returned))));
      expect(err).toMatchObject({
        code: 'ERR_KEY_STORE_UNAVAILABLE',
        message: 'the key store returned a row for another key than asked',
      });
      expect(inspect(err)).not.toContain(CANARY);
      expect(JSON.stringify(err)).not.toContain(CANARY);
    }
  });

  it('getActiveVersion and createVersion must return an active row', async () => {
    const demoted = goodRow({ state: 'decrypt-only' });
    const guarded = guardKeyStore(hostileStore(() => demoted));
    await expect(guarded.getActiveVersion('acme', 'k')).rejects.toMatchObject({
      code: 'ERR_KEY_STORE_UNAVAILABLE',
    });
    await expect(guarded.createVersion(goodRow(), null)).rejects.toMatchObject({
      code: 'ERR_KEY_STORE_UNAVAILABLE',
    });
    // getVersion may return any state.
    expect((await guarded.getVersion('acme', 'k', 1))?.state).toBe('decrypt-only');
  });

  it('accessors are refused without being called; each data property is read once', async () => {
    let calls = 0;
    const withGetter = goodRow();
    Object.defineProperty(withGetter, 'state', {
      enumerable: true,
      get() {
        calls++;
        return calls === 1 ? 'active' : 'weird';
      },
    });
    const inherited = Object.create(goodRow()) as StoredKeyVersion; // every field on the prototype
    class RowWithGetters {
      readonly tenant = 'acme';
      readonly keyId = 'k';
      readonly version = 1;
      readonly providerId = 'memory';
      readonly masterKeyId = 'master';
      readonly wrapped = new Uint8Array(73);
      readonly createdAt = new Date(0);
      get state(): string {
        calls++;
        return 'active';
      }
    }
    for (const row of [withGetter, inherited, new RowWithGetters()]) {
      const guarded = guardKeyStore(hostileStore(() => row));
      await expect(guarded.getVersion('acme', 'k', 1)).rejects.toMatchObject({
        code: 'ERR_KEY_STORE_UNAVAILABLE',
      });
    }
    expect(calls).toBe(0);
    const wrappedGetter = goodRow();
    Object.defineProperty(wrappedGetter, 'wrapped', {
      get() {
        calls++;
        return new Uint8Array(73);
      },
    });
    await expect(
      guardKeyStore(hostileStore(() => wrappedGetter)).getVersion('acme', 'k', 1),
    ).rejects.toMatchObject({ code: 'ERR_KEY_STORE_UNAVAILABLE' });
    expect(calls).toBe(0);
  });

  it('proxies (of rows, arrays or bytes) are refused', async () => {
    let traps = 0;
    const handler: ProxyHandler<object> = {
      get(target, key, receiver) {
        // Resolving a promise with an object looks up its `then`: that is the promise's doing.
        if (key !== 'then') traps++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    };
    const cases: [unknown, (s: KeyStore) => Promise<unknown>][] = [
      [new Proxy(goodRow(), handler), (s) => s.getVersion('acme', 'k', 1)],
      [
        goodRow({ wrapped: new Proxy(new Uint8Array(73), handler) }),
        (s) => s.getVersion('acme', 'k', 1),
      ],
      [
        goodRow({ createdAt: new Proxy(new Date(0), handler) }),
        (s) => s.getVersion('acme', 'k', 1),
      ],
      [new Proxy([goodRow()], handler), (s) => s.listVersions('acme')],
      [new Proxy([1], handler), (s) => s.retireVersions('acme', 'k', 2)],
    ];
    for (const [returned, call] of cases) {
      await expect(call(guardKeyStore(hostileStore(() => returned)))).rejects.toMatchObject({
        code: 'ERR_KEY_STORE_UNAVAILABLE',
      });
    }
    expect(traps).toBe(0);
  });

  it('malformed fields are refused', async () => {
    const bad = [
      { tenant: 1 },
      { keyId: undefined },
      { version: 0 },
      { version: 1.5 },
      { version: '1' },
      { version: 0x100000000 },
      { providerId: null },
      { masterKeyId: 7 },
      { wrapped: undefined },
      { wrapped: [1, 2, 3] },
      { wrapped: new Uint16Array(4) },
      { wrapped: new Uint8Array(0) }, // a live row without wrapped bytes
      { createdAt: '2026-01-01' },
      { createdAt: new Date(Number.NaN) },
      { commitment: new Uint8Array(31) },
      { commitment: new Uint8Array(33) },
      { commitment: 'c'.repeat(32) },
      { commitment: null },
    ];
    for (const overrides of bad) {
      const guarded = guardKeyStore(hostileStore(() => goodRow(overrides)));
      const err = await failure(() =>
        guarded.getVersion('acme', 'k', overrides.version === undefined ? 1 : 1),
      );
      expect(err, JSON.stringify(Object.keys(overrides))).toMatchObject({
        code: 'ERR_KEY_STORE_UNAVAILABLE',
      });
    }
  });

  it('a returned row is a frozen plain snapshot: later changes by the store do not reach it', async () => {
    const row = goodRow({ commitment: new Uint8Array(32).fill(3), extra: CANARY });
    const guarded = guardKeyStore(hostileStore(() => row));
    const got = (await guarded.getVersion('acme', 'k', 1))!;
    expect(Object.isFrozen(got)).toBe(true);
    expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
    expect(got).not.toHaveProperty('extra');
    row.wrapped.fill(0);
    row.commitment!.fill(0);
    row.createdAt.setTime(99);
    expect(got.wrapped[0]).toBe(7);
    expect(got.commitment?.[0]).toBe(3);
    expect(got.createdAt.getTime()).toBe(0);
    // A Buffer (a Uint8Array subclass, as drivers return) is copied into a plain Uint8Array.
    const fromBuffer = await guardKeyStore(
      hostileStore(() => goodRow({ wrapped: Buffer.alloc(5, 1) })),
    ).getVersion('acme', 'k', 1);
    expect(fromBuffer?.wrapped.constructor).toBe(Uint8Array);
  });

  it('a shredded row comes back without wrapped bytes or commitment', async () => {
    const row = goodRow({
      state: 'shredded',
      wrapped: new Uint8Array(73).fill(9),
      commitment: new Uint8Array(32),
    });
    const got = (await guardKeyStore(hostileStore(() => row)).getVersion('acme', 'k', 1))!;
    expect(got.state).toBe('shredded');
    expect(got.wrapped.byteLength).toBe(0);
    expect(got.commitment).toBeUndefined();
    const empty = goodRow({ state: 'shredded', wrapped: new Uint8Array(0) });
    expect((await guardKeyStore(hostileStore(() => empty)).getVersion('acme', 'k', 1))?.state).toBe(
      'shredded',
    );
  });

  it('results of the wrong type are refused', async () => {
    const cases: [unknown, (s: KeyStore) => Promise<unknown>][] = [
      ['true', (s) => s.rewrapVersion(goodRow(), goodRow())],
      [1, (s) => s.reinstateVersion('acme', 'k', 1)],
      [undefined, (s) => s.rewrapVersion(goodRow(), goodRow())],
      [{ length: 0 }, (s) => s.listVersions('acme')],
      [null, (s) => s.listVersions('acme')],
      [[0], (s) => s.retireVersions('acme', 'k', 2)],
      [[2], (s) => s.retireVersions('acme', 'k', 2)], // not below the bound
      [['1'], (s) => s.retireVersions('acme', 'k', 2)],
      [[{ keyId: 'k', version: 0 }], (s) => s.shredTenant('acme')],
      [['k@1'], (s) => s.shredTenant('acme')],
      // eslint-disable-next-line no-sparse-arrays
      [[goodRow(), , goodRow()], (s) => s.listVersions('acme')],
      ['row', (s) => s.getVersion('acme', 'k', 1)],
    ];
    for (const [returned, call] of cases) {
      await expect(call(guardKeyStore(hostileStore(() => returned)))).rejects.toMatchObject({
        code: 'ERR_KEY_STORE_UNAVAILABLE',
      });
    }
    const shredded = await guardKeyStore(
      hostileStore(() => [{ keyId: 'k', version: 1, extra: 1 }]),
    ).shredTenant('acme');
    expect(shredded).toEqual([{ keyId: 'k', version: 1 }]);
    expect(Object.isFrozen(shredded)).toBe(true);
  });

  it('createVersion: a store that drops the commitment is a legacy store; one that changes it is refused', async () => {
    const record = { ...goodRow(), commitment: new Uint8Array(32).fill(1) };
    const dropped = guardKeyStore(hostileStore(() => goodRow()));
    expect((await dropped.createVersion(record, null))?.commitment).toBeUndefined();
    const changed = guardKeyStore(
      hostileStore(() => goodRow({ commitment: new Uint8Array(32).fill(2) })),
    );
    await expect(changed.createVersion(record, null)).rejects.toMatchObject({
      code: 'ERR_KEY_STORE_UNAVAILABLE',
    });
  });
});

describe('guardKeyStore: shape of the guard', () => {
  it('has setCommitment exactly when the store has it; guarding twice changes nothing', () => {
    const without = guardKeyStore(hostileStore(() => undefined));
    expect('setCommitment' in without).toBe(false);
    const withIt = guardKeyStore(new MemoryKeyStore());
    expect('setCommitment' in withIt).toBe(true);
    expect(guardKeyStore(withIt)).toBe(withIt);
  });

  it('refuses a store that lacks a method of the contract', () => {
    const partial: Partial<KeyStore> = hostileStore(() => undefined);
    delete partial.retireVersions;
    expect(() => guardKeyStore(partial as KeyStore)).toThrow(TypeError);
    expect(() => guardKeyStore(null as unknown as KeyStore)).toThrow(TypeError);
  });

  it('checks arguments as the contract says before calling the store', async () => {
    let called = 0;
    const guarded = guardKeyStore(
      hostileStore(() => {
        called++;
        return false;
      }, true),
    );
    await expect(guarded.retireVersions('acme', 'k', 0)).rejects.toThrow(RangeError);
    await expect(guarded.reinstateVersion('acme', 'k', 0x100000000)).rejects.toThrow(RangeError);
    await expect(guarded.setCommitment!(goodRow(), new Uint8Array(31))).rejects.toThrow(RangeError);
    await expect(
      guarded.createVersion({ ...goodRow(), commitment: new Uint8Array(3) }, null),
    ).rejects.toThrow(RangeError);
    expect(called).toBe(0);
  });

  it('uses the method the store has when called (a replaced method is the one used)', async () => {
    const inner = new MemoryKeyStore();
    const guarded = guardKeyStore(inner);
    inner.getVersion = () => Promise.reject(new Error('replaced'));
    await expect(guarded.getVersion('acme', 'k', 1)).rejects.toMatchObject({
      code: 'ERR_KEY_STORE_UNAVAILABLE',
      cause: new Error('replaced'),
    });
  });

  it('inspect and JSON show no store, row or key', async () => {
    const inner = new MemoryKeyStore();
    const guarded = guardKeyStore(inner);
    await guarded.createVersion({ ...goodRow(), tenant: CANARY }, null);
    expect(inspect(guarded, { depth: 5, showHidden: true })).not.toContain(CANARY);
    expect(JSON.stringify(guarded)).toBe('{"store":"guarded"}');
  });
});

/** The methods of a store, bound to it (to build a custom store around a real one). */
function bind(store: MemoryKeyStore): KeyStore {
  return {
    getActiveVersion: (t, k) => store.getActiveVersion(t, k),
    getVersion: (t, k, v) => store.getVersion(t, k, v),
    createVersion: (r, e) => store.createVersion(r, e),
    shredTenant: (t) => store.shredTenant(t),
    listVersions: (t) => store.listVersions(t),
    rewrapVersion: (e, n) => store.rewrapVersion(e, n),
    retireVersions: (t, k, b) => store.retireVersions(t, k, b),
    reinstateVersion: (t, k, v) => store.reinstateVersion(t, k, v),
  };
}
