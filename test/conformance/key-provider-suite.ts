import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DataKey, type KeyProvider } from '../../src/index.js';

/**
 * The behaviour every KeyProvider must have, run against each implementation (local, memory,
 * AWS KMS through its loopback server, Vault Transit, PKCS#11 on SoftHSM2, multi-provider,
 * public-key). `setup` returns a fresh provider and two master key ids it can use; `canary`
 * checks need nothing from the implementation.
 *
 * @param name what the suite is run on
 * @param setup called once per test
 */
export function keyProviderConformance(
  name: string,
  setup: () => Promise<{
    provider: KeyProvider;
    /** Two distinct master keys the provider holds. */
    masterKeys: readonly [string, string];
    /** A master key id the provider does not hold (unknown to the KMS / HSM). */
    unknownMasterKey: string;
    /** The error code an unknown master key gives (default ERR_KEY_NOT_CONFIGURED). */
    unknownCode?: string;
    teardown?: () => Promise<void>;
  }>,
): void {
  const ctx = Object.freeze({ tenant: 'acme', purpose: 'conformance' });

  const withProvider =
    (fn: (s: Awaited<ReturnType<typeof setup>>) => Promise<void>): (() => Promise<void>) =>
    async () => {
      const s = await setup();
      try {
        await fn(s);
      } finally {
        await s.teardown?.();
      }
    };

  describe(`KeyProvider conformance: ${name}`, () => {
    it(
      'generate → unwrap gives the same 32-byte key; calls are counted',
      withProvider(async ({ provider, masterKeys: [mk] }) => {
        if (!provider.capabilities.generate || !provider.capabilities.unwrap) return;
        const before = provider.calls;
        const { key, wrapped } = await provider.generateDataKey(mk, ctx);
        const back = await provider.unwrapDataKey(mk, wrapped, ctx);
        try {
          expect(Buffer.from(back.exposeBytes())).toEqual(Buffer.from(key.exposeBytes()));
          expect(key.exposeBytes().byteLength).toBe(32);
        } finally {
          key.release();
          back.release();
        }
        expect(provider.calls.generate).toBe(before.generate + 1);
        expect(provider.calls.unwrap).toBe(before.unwrap + 1);
      }),
    );

    it(
      'wrap → unwrap of a given key, under each master key, never equal wrapped forms',
      withProvider(async ({ provider, masterKeys }) => {
        if (!provider.capabilities.wrap || !provider.capabilities.unwrap) return;
        const key = DataKey.fromBytes(Buffer.alloc(32, 7));
        try {
          const wrappedA = await provider.wrapDataKey(masterKeys[0], key, ctx);
          const wrappedB = await provider.wrapDataKey(masterKeys[1], key, ctx);
          expect(Buffer.from(wrappedA)).not.toEqual(Buffer.from(wrappedB));
          for (const [mk, w] of [
            [masterKeys[0], wrappedA],
            [masterKeys[1], wrappedB],
          ] as const) {
            const back = await provider.unwrapDataKey(mk, w, ctx);
            expect(Buffer.from(back.exposeBytes())).toEqual(Buffer.alloc(32, 7));
            back.release();
          }
        } finally {
          key.release();
        }
      }),
    );

    it(
      'the context is bound: another tenant, an extra or a missing entry → ERR_KEY_UNWRAP_FAILED',
      withProvider(async ({ provider, masterKeys: [mk] }) => {
        if (!provider.capabilities.generate || !provider.capabilities.unwrap) return;
        const { key, wrapped } = await provider.generateDataKey(mk, ctx);
        key.release();
        for (const other of [
          { ...ctx, tenant: 'globex' },
          { ...ctx, extra: 'x' },
          { tenant: 'acme' },
        ]) {
          await expect(provider.unwrapDataKey(mk, wrapped, other)).rejects.toMatchObject({
            code: 'ERR_KEY_UNWRAP_FAILED',
          });
        }
      }),
    );

    it(
      'another master key, or tampered wrapped bytes → ERR_KEY_UNWRAP_FAILED',
      withProvider(async ({ provider, masterKeys: [a, b] }) => {
        if (!provider.capabilities.generate || !provider.capabilities.unwrap) return;
        const { key, wrapped } = await provider.generateDataKey(a, ctx);
        key.release();
        await expect(provider.unwrapDataKey(b, wrapped, ctx)).rejects.toMatchObject({
          code: 'ERR_KEY_UNWRAP_FAILED',
        });
        for (const at of [0, Math.floor(wrapped.length / 2), wrapped.length - 1]) {
          const bad = Uint8Array.from(wrapped);
          bad[at]! ^= 0x01;
          await expect(provider.unwrapDataKey(a, bad, ctx)).rejects.toMatchObject({
            code: 'ERR_KEY_UNWRAP_FAILED',
          });
        }
      }),
    );

    it(
      'an unknown master key fails with a typed error naming no key material',
      withProvider(async ({ provider, unknownMasterKey, unknownCode }) => {
        const op = provider.capabilities.generate
          ? provider.generateDataKey(unknownMasterKey, ctx)
          : provider.wrapDataKey(unknownMasterKey, DataKey.fromBytes(Buffer.alloc(32, 1)), ctx);
        const err = await op.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toMatchObject({ code: unknownCode ?? 'ERR_KEY_NOT_CONFIGURED' });
      }),
    );

    it(
      'no key bytes in inspect, JSON or errors',
      withProvider(async ({ provider, masterKeys: [mk] }) => {
        if (!provider.capabilities.generate) return;
        const { key, wrapped } = await provider.generateDataKey(mk, ctx);
        const hex = Buffer.from(key.exposeBytes()).toString('hex');
        const b64 = Buffer.from(key.exposeBytes()).toString('base64');
        key.release();
        const seen = [inspect(provider, { depth: 8 }), JSON.stringify(provider) ?? ''];
        if (provider.capabilities.unwrap) {
          const bad = Uint8Array.from(wrapped);
          bad[bad.length - 1]! ^= 1;
          const err = await provider.unwrapDataKey(mk, bad, ctx).catch((e: unknown) => e);
          seen.push(inspect(err, { depth: 8 }), JSON.stringify(err));
        }
        for (const text of seen) {
          expect(text).not.toContain(hex);
          expect(text).not.toContain(b64);
        }
      }),
    );
  });
}
