import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DataKey,
  EnvSecretSource,
  FieldsealError,
  KeyNotFoundError,
  KeyProvider,
  LocalKeyProvider,
  isFieldsealError,
  type KeyContext,
  type KeyProviderCapabilities,
} from '../../src/index.js';

const CTX: KeyContext = { tenant: 'acme' };
const ALL: KeyProviderCapabilities = { generate: true, wrap: true, unwrap: true };

type Hook<A extends unknown[], R> = (...args: A) => Promise<R>;

/**
 * A provider whose hooks are supplied by each test. Unset hooks behave well: `_wrap` returns
 * a 48-byte opaque blob and `_unwrap` returns a fixed 32-byte key.
 */
class ScriptedProvider extends KeyProvider {
  readonly id: string;
  readonly capabilities: KeyProviderCapabilities;
  readonly seen: { op: string; masterKeyId: string; context: KeyContext }[] = [];
  wrapHook: Hook<[string, Uint8Array, KeyContext], Uint8Array> = () =>
    Promise.resolve(new Uint8Array(48).fill(7));
  unwrapHook: Hook<[string, Uint8Array, KeyContext], Uint8Array> = () =>
    Promise.resolve(Buffer.alloc(32, 9));
  generateHook:
    Hook<[string, KeyContext], { plaintext: Uint8Array; wrapped: Uint8Array }> | undefined;

  constructor(id = 'scripted', capabilities: KeyProviderCapabilities = ALL) {
    super();
    this.id = id;
    this.capabilities = capabilities;
  }

  protected override _generate(
    masterKeyId: string,
    context: KeyContext,
  ): Promise<{ plaintext: Uint8Array; wrapped: Uint8Array }> {
    this.seen.push({ op: 'generate', masterKeyId, context });
    return this.generateHook === undefined
      ? super._generate(masterKeyId, context)
      : this.generateHook(masterKeyId, context);
  }
  protected _wrap(masterKeyId: string, key: Uint8Array, context: KeyContext): Promise<Uint8Array> {
    this.seen.push({ op: 'wrap', masterKeyId, context });
    return this.wrapHook(masterKeyId, key, context);
  }
  protected _unwrap(
    masterKeyId: string,
    wrapped: Uint8Array,
    context: KeyContext,
  ): Promise<Uint8Array> {
    this.seen.push({ op: 'unwrap', masterKeyId, context });
    return this.unwrapHook(masterKeyId, wrapped, context);
  }
}

async function rejection(p: Promise<unknown>): Promise<FieldsealError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a rejection').toBeDefined();
  expect(isFieldsealError(caught), `not a FieldsealError: ${String(caught)}`).toBe(true);
  return caught as FieldsealError;
}

function someKey(): DataKey {
  return DataKey.fromBytes(randomBytes(32));
}

describe('KeyProvider base class: postconditions on what hooks return', () => {
  it('a well-behaved provider round-trips and counts its calls', async () => {
    const p = new ScriptedProvider();
    const gen = await p.generateDataKey('mk', CTX);
    expect(gen.wrapped).toEqual(new Uint8Array(48).fill(7));
    expect(gen.key.destroyed).toBe(false);
    const k = await p.unwrapDataKey('mk', gen.wrapped, CTX);
    expect(k.exposeBytes().equals(Buffer.alloc(32, 9))).toBe(true);
    await p.wrapDataKey('mk', k, CTX);
    expect(p.calls).toEqual({ generate: 1, wrap: 1, unwrap: 1 });
    gen.key.release();
    k.release();
  });

  it('_unwrap returning 31 or 33 bytes -> ERR_INVALID_KEY_MATERIAL, and the bytes are wiped', async () => {
    for (const n of [0, 31, 33]) {
      const p = new ScriptedProvider();
      const returned = Buffer.alloc(n, 0xab);
      p.unwrapHook = () => Promise.resolve(returned);
      const err = await rejection(p.unwrapDataKey('mk', new Uint8Array(48), CTX));
      expect(err.code).toBe('ERR_INVALID_KEY_MATERIAL');
      expect(returned.every((b) => b === 0)).toBe(true);
    }
  });

  it('_unwrap returning 32 bytes hands back a copy and wipes what the hook returned', async () => {
    const p = new ScriptedProvider();
    const returned = Buffer.alloc(32, 0x5a);
    p.unwrapHook = () => Promise.resolve(returned);
    const key = await p.unwrapDataKey('mk', new Uint8Array(48), CTX);
    expect(returned.every((b) => b === 0)).toBe(true);
    expect(key.exposeBytes().equals(Buffer.alloc(32, 0x5a))).toBe(true);
    key.release();
  });

  it('_unwrap resolving to something that is not bytes -> ERR_INVALID_KEY_MATERIAL', async () => {
    // A buggy plug-in (e.g. returning the base64 text of the key, or nothing) must still
    // produce a FieldsealError, not a TypeError from the wiping code.
    for (const bad of ['x'.repeat(32), undefined, null, Array.from({ length: 32 }, () => 1)]) {
      const p = new ScriptedProvider();
      p.unwrapHook = () => Promise.resolve(bad as unknown as Uint8Array);
      const err = await rejection(p.unwrapDataKey('mk', new Uint8Array(48), CTX));
      expect(err.code).toBe('ERR_INVALID_KEY_MATERIAL');
    }
  });

  it('_generate resolving to something malformed -> ERR_INVALID_KEY_MATERIAL', async () => {
    const shapes: unknown[] = [
      undefined,
      { plaintext: 'k'.repeat(32), wrapped: new Uint8Array(48) },
      { wrapped: new Uint8Array(48) },
    ];
    for (const bad of shapes) {
      const p = new ScriptedProvider();
      p.generateHook = () => Promise.resolve(bad as { plaintext: Uint8Array; wrapped: Uint8Array });
      const err = await rejection(p.generateDataKey('mk', CTX));
      expect(err.code).toBe('ERR_INVALID_KEY_MATERIAL');
    }
  });

  it('_generate returning a 31-byte plaintext -> ERR_INVALID_KEY_MATERIAL, plaintext wiped', async () => {
    const p = new ScriptedProvider();
    const plaintext = Buffer.alloc(31, 0xcd);
    p.generateHook = () => Promise.resolve({ plaintext, wrapped: new Uint8Array(48) });
    const err = await rejection(p.generateDataKey('mk', CTX));
    expect(err.code).toBe('ERR_INVALID_KEY_MATERIAL');
    expect(plaintext.every((b) => b === 0)).toBe(true);
  });

  it('_generate: the plaintext the hook returned is wiped after a success too', async () => {
    const p = new ScriptedProvider();
    const plaintext = Buffer.alloc(32, 0x11);
    const wrapped = new Uint8Array(40).fill(3);
    p.generateHook = () => Promise.resolve({ plaintext, wrapped });
    const gen = await p.generateDataKey('mk', CTX);
    expect(plaintext.every((b) => b === 0)).toBe(true);
    expect(gen.key.exposeBytes().equals(Buffer.alloc(32, 0x11))).toBe(true);
    // The wrapped bytes are a copy: the provider cannot change them afterwards.
    wrapped.fill(0);
    expect(gen.wrapped).toEqual(new Uint8Array(40).fill(3));
    gen.key.release();
  });

  for (const [name, len] of [
    ['empty', 0],
    ['4000-byte', 4000],
    ['2049-byte', 2049],
  ] as const) {
    it(`_wrap returning a ${name} wrapped key -> ERR_INVALID_KEY_MATERIAL (generate and wrap)`, async () => {
      const p = new ScriptedProvider();
      p.wrapHook = () => Promise.resolve(new Uint8Array(len));
      expect((await rejection(p.generateDataKey('mk', CTX))).code).toBe('ERR_INVALID_KEY_MATERIAL');
      const key = someKey();
      expect((await rejection(p.wrapDataKey('mk', key, CTX))).code).toBe(
        'ERR_INVALID_KEY_MATERIAL',
      );
      // The caller's key is untouched by the failed wrap.
      expect(key.destroyed).toBe(false);
      key.release();
    });
  }

  it('_wrap returning exactly 2048 bytes (the limit) is accepted', async () => {
    const p = new ScriptedProvider();
    p.wrapHook = () => Promise.resolve(new Uint8Array(2048).fill(1));
    const gen = await p.generateDataKey('mk', CTX);
    expect(gen.wrapped.byteLength).toBe(2048);
    gen.key.release();
  });

  it('_generate returning a bad wrapped length -> ERR_INVALID_KEY_MATERIAL, plaintext wiped', async () => {
    for (const len of [0, 4000]) {
      const p = new ScriptedProvider();
      const plaintext = Buffer.alloc(32, 0xee);
      p.generateHook = () => Promise.resolve({ plaintext, wrapped: new Uint8Array(len) });
      expect((await rejection(p.generateDataKey('mk', CTX))).code).toBe('ERR_INVALID_KEY_MATERIAL');
      expect(plaintext.every((b) => b === 0)).toBe(true);
    }
  });

  it('unwrapDataKey rejects an empty or oversized wrapped key before calling the hook', async () => {
    for (const len of [0, 4000]) {
      const p = new ScriptedProvider();
      const err = await rejection(p.unwrapDataKey('mk', new Uint8Array(len), CTX));
      expect(err.code).toBe('ERR_INVALID_KEY_MATERIAL');
      expect(p.seen).toEqual([]);
      expect(p.calls.unwrap).toBe(0);
    }
  });

  it('_wrap gets a copy of the key bytes that is wiped after the call', async () => {
    const p = new ScriptedProvider();
    let kept: Uint8Array | undefined;
    p.wrapHook = (_m, key) => {
      kept = key;
      return Promise.resolve(new Uint8Array(48));
    };
    const key = DataKey.fromBytes(Buffer.alloc(32, 0x42));
    await p.wrapDataKey('mk', key, CTX);
    expect(kept).toBeDefined();
    expect(kept!.every((b) => b === 0)).toBe(true);
    // ...while the caller's key is intact.
    expect(key.exposeBytes().equals(Buffer.alloc(32, 0x42))).toBe(true);
    key.release();
  });

  it('_unwrap gets a copy of the wrapped bytes: mutating it does not touch the caller', async () => {
    const p = new ScriptedProvider();
    p.unwrapHook = (_m, wrapped) => {
      wrapped.fill(0xff);
      return Promise.resolve(Buffer.alloc(32, 1));
    };
    const wrapped = new Uint8Array(48).fill(5);
    const key = await p.unwrapDataKey('mk', wrapped, CTX);
    expect(wrapped).toEqual(new Uint8Array(48).fill(5));
    key.release();
  });
});

describe('KeyProvider base class: foreign exceptions', () => {
  const ops: [string, (p: ScriptedProvider) => Promise<unknown>][] = [
    ['generateDataKey', (p) => p.generateDataKey('mk', CTX)],
    ['wrapDataKey', (p) => p.wrapDataKey('mk', someKey(), CTX)],
    ['unwrapDataKey', (p) => p.unwrapDataKey('mk', new Uint8Array(48), CTX)],
  ];

  for (const [name, call] of ops) {
    it(`${name}: a plain Error becomes ERR_PROVIDER_UNAVAILABLE with cause`, async () => {
      const p = new ScriptedProvider('kms-x');
      const boom = new Error('socket hang up');
      p.wrapHook = () => Promise.reject(boom);
      p.unwrapHook = () => Promise.reject(boom);
      const err = await rejection(call(p));
      expect(err.code).toBe('ERR_PROVIDER_UNAVAILABLE');
      expect(err.cause).toBe(boom);
      expect(err.message).toContain('kms-x');
    });

    it(`${name}: a synchronous throw and a thrown non-Error are wrapped too`, async () => {
      const p = new ScriptedProvider();
      p.wrapHook = () => {
        throw new RangeError('sync');
      };
      p.unwrapHook = () => {
        throw new RangeError('sync');
      };
      const err = await rejection(call(p));
      expect(err.code).toBe('ERR_PROVIDER_UNAVAILABLE');
      expect(err.cause).toBeInstanceOf(RangeError);

      const q = new ScriptedProvider();
      q.wrapHook = () => Promise.reject('a string'); // eslint-disable-line @typescript-eslint/prefer-promise-reject-errors
      q.unwrapHook = () => Promise.reject('a string'); // eslint-disable-line @typescript-eslint/prefer-promise-reject-errors
      const err2 = await rejection(call(q));
      expect(err2.code).toBe('ERR_PROVIDER_UNAVAILABLE');
      expect(err2.cause).toBe('a string');
    });

    it(`${name}: a FieldsealError from the hook passes through unchanged`, async () => {
      const p = new ScriptedProvider();
      const own = new KeyNotFoundError('no such master key');
      p.wrapHook = () => Promise.reject(own);
      p.unwrapHook = () => Promise.reject(own);
      const err = await rejection(call(p));
      expect(err).toBe(own);
    });
  }
});

describe('KeyProvider base class: context handling', () => {
  it('passes a frozen copy of the context to every hook', async () => {
    const p = new ScriptedProvider();
    const ctx = { tenant: 'acme', key: 'default', version: '3' };
    const gen = await p.generateDataKey('mk', ctx);
    await p.wrapDataKey('mk', gen.key, ctx);
    (await p.unwrapDataKey('mk', gen.wrapped, ctx)).release();
    gen.key.release();
    // generate (default) calls wrap internally; every hook saw a frozen copy.
    expect(p.seen.map((s) => s.op)).toEqual(['generate', 'wrap', 'wrap', 'unwrap']);
    for (const s of p.seen) {
      expect(Object.isFrozen(s.context)).toBe(true);
      expect(s.context).not.toBe(ctx);
      expect(s.context).toEqual(ctx);
    }
  });

  it('a hook that mutates the context fails closed and the caller context is unchanged', async () => {
    for (const mutation of [
      (c: KeyContext) => {
        (c as Record<string, string>).tenant = 'evil';
      },
      (c: KeyContext) => {
        (c as Record<string, string>).extra = 'x';
      },
      (c: KeyContext) => {
        delete (c as Record<string, string>).tenant;
      },
    ]) {
      const p = new ScriptedProvider();
      p.unwrapHook = (_m, _w, c) => {
        mutation(c);
        return Promise.resolve(Buffer.alloc(32, 1));
      };
      const ctx = { tenant: 'acme' };
      const err = await rejection(p.unwrapDataKey('mk', new Uint8Array(48), ctx));
      expect(err.code).toBe('ERR_PROVIDER_UNAVAILABLE');
      expect(err.cause).toBeInstanceOf(TypeError);
      expect(ctx).toEqual({ tenant: 'acme' });
    }
  });

  it('rejects a context that is not a string map before calling the hook', async () => {
    for (const ctx of [null, 'acme', { tenant: 1 }, { tenant: 'a', list: ['x'] }]) {
      const p = new ScriptedProvider();
      await expect(
        p.unwrapDataKey('mk', new Uint8Array(48), ctx as unknown as KeyContext),
      ).rejects.toThrow(TypeError);
      expect(p.seen).toEqual([]);
    }
  });

  it('a later change to the caller context does not reach a hook still running', async () => {
    const p = new ScriptedProvider();
    let seenTenant = '';
    p.unwrapHook = async (_m, _w, c) => {
      await new Promise((r) => setTimeout(r, 5));
      seenTenant = c.tenant!;
      return Buffer.alloc(32, 1);
    };
    const ctx: Record<string, string> = { tenant: 'acme' };
    const pending = p.unwrapDataKey('mk', new Uint8Array(48), ctx);
    ctx.tenant = 'other';
    (await pending).release();
    expect(seenTenant).toBe('acme');
  });
});

describe('KeyProvider base class: capabilities and identifiers', () => {
  it('capabilities.unwrap = false -> ERR_MODE_FORBIDDEN on unwrapDataKey, no hook call', async () => {
    const p = new ScriptedProvider('write-only', { generate: true, wrap: true, unwrap: false });
    const gen = await p.generateDataKey('mk', CTX);
    const err = await rejection(p.unwrapDataKey('mk', gen.wrapped, CTX));
    expect(err.code).toBe('ERR_MODE_FORBIDDEN');
    expect(p.calls.unwrap).toBe(0);
    expect(p.seen.some((s) => s.op === 'unwrap')).toBe(false);
    gen.key.release();
  });

  it('capabilities.generate / wrap = false -> ERR_MODE_FORBIDDEN', async () => {
    const noGen = new ScriptedProvider('p', { generate: false, wrap: true, unwrap: true });
    expect((await rejection(noGen.generateDataKey('mk', CTX))).code).toBe('ERR_MODE_FORBIDDEN');
    expect(noGen.seen).toEqual([]);
    const noWrap = new ScriptedProvider('p', { generate: true, wrap: false, unwrap: true });
    const key = someKey();
    expect((await rejection(noWrap.wrapDataKey('mk', key, CTX))).code).toBe('ERR_MODE_FORBIDDEN');
    expect(noWrap.seen).toEqual([]);
    expect(noWrap.calls).toEqual({ generate: 0, wrap: 0, unwrap: 0 });
    key.release();
  });

  it('an invalid provider id or an empty masterKeyId is rejected before any call', async () => {
    for (const id of ['', 'Upper', 'has space', 'x'.repeat(65), '-lead']) {
      const p = new ScriptedProvider(id);
      await expect(p.generateDataKey('mk', CTX)).rejects.toThrow(TypeError);
      expect(p.seen).toEqual([]);
    }
    const p = new ScriptedProvider();
    await expect(p.unwrapDataKey('', new Uint8Array(48), CTX)).rejects.toThrow(TypeError);
    expect(p.seen).toEqual([]);
  });

  it('`calls` is a snapshot: mutating it changes nothing', async () => {
    const p = new ScriptedProvider();
    const snapshot = p.calls as { generate: number };
    snapshot.generate = 99;
    expect(p.calls.generate).toBe(0);
    (await p.generateDataKey('mk', CTX)).key.release();
    expect(p.calls).toEqual({ generate: 1, wrap: 0, unwrap: 0 });
  });

  it('calls are counted even when the hook fails', async () => {
    const p = new ScriptedProvider();
    p.unwrapHook = () => Promise.reject(new Error('down'));
    await rejection(p.unwrapDataKey('mk', new Uint8Array(48), CTX));
    await rejection(p.unwrapDataKey('mk', new Uint8Array(48), CTX));
    expect(p.calls.unwrap).toBe(2);
  });
});

describe('LocalKeyProvider', () => {
  const hexKey = (): string => `hex:${randomBytes(32).toString('hex')}`;
  function provider(env: Record<string, string>, id?: string): LocalKeyProvider {
    const keys = Object.fromEntries(Object.keys(env).map((k) => [k, k]));
    return new LocalKeyProvider({
      source: new EnvSecretSource({ keys, env }),
      ...(id === undefined ? {} : { id }),
    });
  }

  it('generates a 73-byte wrapped key that unwraps to the same key', async () => {
    const p = provider({ master: hexKey() });
    expect(p.id).toBe('local');
    const gen = await p.generateDataKey('master', CTX);
    expect(gen.wrapped.byteLength).toBe(73);
    const back = await p.unwrapDataKey('master', gen.wrapped, CTX);
    expect(back.exposeBytes().equals(gen.key.exposeBytes())).toBe(true);
    expect(back.commitment.equals(gen.key.commitment)).toBe(true);
    expect(p.calls).toEqual({ generate: 1, wrap: 0, unwrap: 1 });
    gen.key.release();
    back.release();
  });

  it('wraps the same key differently each time (random nonce)', async () => {
    const p = provider({ master: hexKey() });
    const key = someKey();
    const a = await p.wrapDataKey('master', key, CTX);
    const b = await p.wrapDataKey('master', key, CTX);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    for (const w of [a, b]) {
      const back = await p.unwrapDataKey('master', w, CTX);
      expect(back.exposeBytes().equals(key.exposeBytes())).toBe(true);
      back.release();
    }
    expect(p.calls).toEqual({ generate: 0, wrap: 2, unwrap: 2 });
    key.release();
  });

  it('another master key (same reference, other bytes) -> ERR_KEY_UNWRAP_FAILED', async () => {
    const a = provider({ master: hexKey() });
    const b = provider({ master: hexKey() });
    const gen = await a.generateDataKey('master', CTX);
    const err = await rejection(b.unwrapDataKey('master', gen.wrapped, CTX));
    expect(err.code).toBe('ERR_KEY_UNWRAP_FAILED');
    gen.key.release();
  });

  it('another master key id of the same provider -> ERR_KEY_UNWRAP_FAILED', async () => {
    const shared = hexKey();
    // Even with identical bytes under both ids, the id is bound into the wrapping.
    const p = provider({ one: shared, two: shared });
    const gen = await p.generateDataKey('one', CTX);
    expect((await rejection(p.unwrapDataKey('two', gen.wrapped, CTX))).code).toBe(
      'ERR_KEY_UNWRAP_FAILED',
    );
    gen.key.release();
  });

  it('another context -> ERR_KEY_UNWRAP_FAILED', async () => {
    const p = provider({ master: hexKey() });
    const ctx = { tenant: 'acme', key: 'default', version: '1' };
    const gen = await p.generateDataKey('master', ctx);
    const others: KeyContext[] = [
      { tenant: 'globex', key: 'default', version: '1' },
      { tenant: 'acme', key: 'default', version: '2' },
      { tenant: 'acme', key: 'other', version: '1' },
      { tenant: 'acme', key: 'default' },
      { tenant: 'acme', key: 'default', version: '1', extra: 'x' },
      {},
    ];
    for (const other of others) {
      const err = await rejection(p.unwrapDataKey('master', gen.wrapped, other));
      expect(err.code).toBe('ERR_KEY_UNWRAP_FAILED');
    }
    // Property order does not matter: the context is canonicalised.
    const same = await p.unwrapDataKey('master', gen.wrapped, {
      version: '1',
      key: 'default',
      tenant: 'acme',
    });
    expect(same.commitment.equals(gen.key.commitment)).toBe(true);
    same.release();
    gen.key.release();
  });

  it('tampered wrapped bytes -> ERR_KEY_UNWRAP_FAILED (every byte position)', async () => {
    const p = provider({ master: hexKey() });
    const gen = await p.generateDataKey('master', CTX);
    for (let i = 0; i < gen.wrapped.byteLength; i++) {
      const bad = Uint8Array.from(gen.wrapped);
      bad[i] = bad[i]! ^ 0x01;
      const err = await rejection(p.unwrapDataKey('master', bad, CTX));
      expect(err.code).toBe('ERR_KEY_UNWRAP_FAILED');
    }
    gen.key.release();
  });

  it('truncated or extended wrapped bytes -> ERR_KEY_UNWRAP_FAILED', async () => {
    const p = provider({ master: hexKey() });
    const gen = await p.generateDataKey('master', CTX);
    const shorter = gen.wrapped.subarray(0, 72);
    const longer = Uint8Array.from([...gen.wrapped, 0]);
    for (const w of [shorter, longer, new Uint8Array(1)]) {
      expect((await rejection(p.unwrapDataKey('master', w, CTX))).code).toBe(
        'ERR_KEY_UNWRAP_FAILED',
      );
    }
    gen.key.release();
  });

  it('an unknown master key id -> ERR_KEY_NOT_CONFIGURED', async () => {
    const p = provider({ master: hexKey() });
    expect((await rejection(p.generateDataKey('missing', CTX))).code).toBe(
      'ERR_KEY_NOT_CONFIGURED',
    );
    const gen = await p.generateDataKey('master', CTX);
    expect((await rejection(p.unwrapDataKey('missing', gen.wrapped, CTX))).code).toBe(
      'ERR_KEY_NOT_CONFIGURED',
    );
    gen.key.release();
  });

  it('uses its configured id', () => {
    expect(provider({ master: hexKey() }, 'local-2').id).toBe('local-2');
  });

  it('unwrap failures keep their cause and never mention key bytes', async () => {
    const text = hexKey();
    const p = provider({ master: text });
    const gen = await p.generateDataKey('master', CTX);
    const err = await rejection(p.unwrapDataKey('master', gen.wrapped, { tenant: 'other' }));
    expect(err).toBeInstanceOf(FieldsealError);
    expect(err.cause).toBeDefined();
    const printed = `${err.message} ${JSON.stringify(err)}`;
    expect(printed.includes(text.slice(4))).toBe(false);
    expect(printed.includes(gen.key.exposeBytes().toString('hex'))).toBe(false);
    gen.key.release();
  });
});
