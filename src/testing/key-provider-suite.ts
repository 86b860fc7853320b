import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { DataKey, type FieldsealErrorCode, type KeyProvider } from '../index.js';
import type { ContractTestFunctions } from './repository-contract.js';
import { assertFieldsealError, assertRejectsWithCode } from './suite-assertions.js';

/**
 * What the setup of {@link runKeyProviderSuite} returns for one case: a fresh provider, two
 * master keys it holds, one it does not, and how to release it.
 * @example
 * ```ts
 * const setup = async (): Promise<KeyProviderSuiteSetup> => ({
 *   provider: new MyKmsKeyProvider({ client }),
 *   masterKeys: ['key-a', 'key-b'],
 *   unknownMasterKey: 'no-such-key',
 *   teardown: async () => client.close(),
 * });
 * ```
 */
export interface KeyProviderSuiteSetup {
  readonly provider: KeyProvider;
  /** Two distinct master keys the provider holds. */
  readonly masterKeys: readonly [string, string];
  /** A master key id the provider does not hold (unknown to the KMS / HSM). */
  readonly unknownMasterKey: string;
  /** The error code an unknown master key gives (default `ERR_KEY_NOT_CONFIGURED`). */
  readonly unknownCode?: FieldsealErrorCode;
  /** Release the provider (called after each case, whether it passed or not). */
  readonly teardown?: () => Promise<void>;
}

/**
 * Register the behaviour every {@link KeyProvider} must have: generate → unwrap and
 * wrap → unwrap round trips of 32-byte keys (calls counted), the encryption context bound
 * (another tenant, an extra or a missing entry refused with `ERR_KEY_UNWRAP_FAILED`), another
 * master key or tampered wrapped bytes refused, an unknown master key refused with a typed
 * error, and no key bytes in `inspect`, JSON or errors. Cases needing a capability the provider
 * lacks (`capabilities.generate`, `wrap`, `unwrap`) pass without checking it. Assertions use
 * `node:assert/strict`; errors are checked by `err.code`.
 * @param test the test functions of your runner (`beforeAll`/`afterAll` are not used)
 * @param name what the suite is run on (in the `describe` title)
 * @param setup called once per case: a fresh provider and the master keys it can use
 * @example
 * ```ts
 * import { afterAll, beforeAll, describe, it } from 'vitest';
 * import { runKeyProviderSuite } from 'fieldseal/testing';
 * runKeyProviderSuite({ describe, it, beforeAll, afterAll }, 'MyKmsKeyProvider', async () => ({
 *   provider: new MyKmsKeyProvider({ client }),
 *   masterKeys: ['key-a', 'key-b'],
 *   unknownMasterKey: 'no-such-key',
 * }));
 * ```
 */
export function runKeyProviderSuite(
  test: ContractTestFunctions,
  name: string,
  setup: () => Promise<KeyProviderSuiteSetup>,
): void {
  const ctx = Object.freeze({ tenant: 'acme', purpose: 'conformance' });

  const withProvider =
    (fn: (s: KeyProviderSuiteSetup) => Promise<void>): (() => Promise<void>) =>
    async () => {
      const s = await setup();
      try {
        await fn(s);
      } finally {
        await s.teardown?.();
      }
    };

  test.describe(`KeyProvider conformance: ${name}`, () => {
    test.it(
      'generate → unwrap gives the same 32-byte key; calls are counted',
      withProvider(async ({ provider, masterKeys: [mk] }) => {
        if (!provider.capabilities.generate || !provider.capabilities.unwrap) return;
        const before = provider.calls;
        const { key, wrapped } = await provider.generateDataKey(mk, ctx);
        const back = await provider.unwrapDataKey(mk, wrapped, ctx);
        try {
          assert.deepEqual(
            Buffer.from(back.exposeBytes()),
            Buffer.from(key.exposeBytes()),
            'the unwrapped key differs from the generated one',
          );
          assert.equal(key.exposeBytes().byteLength, 32, 'the generated key length');
        } finally {
          key.release();
          back.release();
        }
        assert.equal(provider.calls.generate, before.generate + 1, 'calls.generate');
        assert.equal(provider.calls.unwrap, before.unwrap + 1, 'calls.unwrap');
      }),
    );

    test.it(
      'wrap → unwrap of a given key, under each master key, never equal wrapped forms',
      withProvider(async ({ provider, masterKeys }) => {
        if (!provider.capabilities.wrap || !provider.capabilities.unwrap) return;
        const key = DataKey.fromBytes(Buffer.alloc(32, 7));
        try {
          const wrappedA = await provider.wrapDataKey(masterKeys[0], key, ctx);
          const wrappedB = await provider.wrapDataKey(masterKeys[1], key, ctx);
          assert.notDeepEqual(
            Buffer.from(wrappedA),
            Buffer.from(wrappedB),
            'two master keys gave the same wrapped form',
          );
          for (const [mk, w] of [
            [masterKeys[0], wrappedA],
            [masterKeys[1], wrappedB],
          ] as const) {
            const back = await provider.unwrapDataKey(mk, w, ctx);
            assert.deepEqual(
              Buffer.from(back.exposeBytes()),
              Buffer.alloc(32, 7),
              `the key unwrapped under ${mk}`,
            );
            back.release();
          }
        } finally {
          key.release();
        }
      }),
    );

    test.it(
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
          await assertRejectsWithCode(
            provider.unwrapDataKey(mk, wrapped, other),
            'ERR_KEY_UNWRAP_FAILED',
            {},
            `unwrap with the context ${JSON.stringify(other)}`,
          );
        }
      }),
    );

    test.it(
      'another master key, or tampered wrapped bytes → ERR_KEY_UNWRAP_FAILED',
      withProvider(async ({ provider, masterKeys: [a, b] }) => {
        if (!provider.capabilities.generate || !provider.capabilities.unwrap) return;
        const { key, wrapped } = await provider.generateDataKey(a, ctx);
        key.release();
        await assertRejectsWithCode(
          provider.unwrapDataKey(b, wrapped, ctx),
          'ERR_KEY_UNWRAP_FAILED',
          {},
          'unwrap under another master key',
        );
        for (const at of [0, Math.floor(wrapped.length / 2), wrapped.length - 1]) {
          const bad = Uint8Array.from(wrapped);
          bad[at]! ^= 0x01;
          await assertRejectsWithCode(
            provider.unwrapDataKey(a, bad, ctx),
            'ERR_KEY_UNWRAP_FAILED',
            {},
            `unwrap of wrapped bytes tampered at ${at}`,
          );
        }
      }),
    );

    test.it(
      'an unknown master key fails with a typed error naming no key material',
      withProvider(async ({ provider, unknownMasterKey, unknownCode }) => {
        const op = provider.capabilities.generate
          ? provider.generateDataKey(unknownMasterKey, ctx)
          : provider.wrapDataKey(unknownMasterKey, DataKey.fromBytes(Buffer.alloc(32, 1)), ctx);
        const err = await op.then(
          () => undefined,
          (e: unknown) => e,
        );
        assertFieldsealError(
          err,
          unknownCode ?? 'ERR_KEY_NOT_CONFIGURED',
          {},
          'an unknown master key',
        );
      }),
    );

    test.it(
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
          assert.ok(!text.includes(hex), 'the key bytes (hex) were printed');
          assert.ok(!text.includes(b64), 'the key bytes (base64) were printed');
        }
      }),
    );
  });
}
