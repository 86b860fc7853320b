import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import type { FieldsealErrorCode, SecretSource } from '../index.js';
import type { ContractTestFunctions } from './repository-contract.js';
import { assertFieldsealError } from './suite-assertions.js';

/**
 * What the setup of {@link runSecretSourceSuite} returns for one case: the source under test,
 * validated the way it validates at start-up, and how to release what the setup made.
 * @example
 * ```ts
 * const made: SecretSourceSuiteSetup = {
 *   source: new MySecretSource({ keys }),
 *   teardown: async () => removeSecrets(keys),
 * };
 * ```
 */
export interface SecretSourceSuiteSetup {
  readonly source: SecretSource;
  /** Release what the setup made (called after each case, whether it passed or not). */
  readonly teardown?: () => Promise<void>;
}

/**
 * Register the behaviour every {@link SecretSource} must have: `base64:` and `hex:` keys decoded
 * to their exact 32 bytes and the references listed; a key of the wrong length, without an
 * explicit encoding or badly encoded refused with `ERR_INVALID_KEY_MATERIAL`, and a configured
 * key missing from the backend with `ERR_KEY_NOT_CONFIGURED`, each naming the reference and
 * never the value; an unknown reference refused; the key value never printed (`inspect`, JSON,
 * `String`) from the source or a key. Assertions use `node:assert/strict`; errors are checked
 * by `err.code` and `err.details.reference`.
 * @param test the test functions of your runner (`beforeAll`/`afterAll` are not used)
 * @param name what the suite is run on (in the `describe` title)
 * @param setup called once per case: store each entry of `secrets` in the backend under its
 *   reference (an `undefined` entry is configured but absent: no variable, no file, no secret)
 *   and return a source configured for exactly those references, validated the way it
 *   validates at start-up (constructor, or `init()` for remote sources). It may reject: the
 *   validation cases expect it to.
 * @example
 * ```ts
 * import { afterAll, beforeAll, describe, it } from 'vitest';
 * import { runSecretSourceSuite } from 'fieldseal/testing';
 * runSecretSourceSuite({ describe, it, beforeAll, afterAll }, 'MySecretSource', async (secrets) => {
 *   const keys: Record<string, string> = {};
 *   for (const [ref, text] of Object.entries(secrets)) {
 *     keys[ref] = `test/${ref}`;
 *     if (text !== undefined) await backend.put(keys[ref], text);
 *   }
 *   const source = new MySecretSource({ keys });
 *   await source.init();
 *   return { source };
 * });
 * ```
 */
export function runSecretSourceSuite(
  test: ContractTestFunctions,
  name: string,
  setup: (secrets: Readonly<Record<string, string | undefined>>) => Promise<SecretSourceSuiteSetup>,
): void {
  /** 32 distinctive bytes and their text forms. */
  const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 11 + 5) & 0xff));
  const B64 = KEY.toString('base64');
  const HEX = KEY.toString('hex');

  async function withSource(
    secrets: Record<string, string | undefined>,
    fn: (source: SecretSource) => Promise<void>,
  ): Promise<void> {
    const { source, teardown } = await setup(secrets);
    try {
      await fn(source);
    } finally {
      await teardown?.();
    }
  }

  /** The setup's error (it must fail), checked to name `reference` and never `secretText`. */
  async function refused(
    secrets: Record<string, string | undefined>,
    code: FieldsealErrorCode,
    reference: string,
    secretText?: string,
  ): Promise<void> {
    const err = await setup(secrets).then(
      async (s) => {
        await s.teardown?.();
        return undefined;
      },
      (e: unknown) => e,
    );
    assertFieldsealError(err, code, { reference }, `the setup with ${reference}`);
    const message = (err as Error).message;
    const printed = [message, JSON.stringify(err), inspect(err, { depth: 10 }), String(err)];
    assert.ok(message.includes(reference), `the message does not name ${reference}: ${message}`);
    if (secretText !== undefined) {
      printed.forEach((p, i) => {
        assert.ok(
          !p.includes(secretText),
          `the value of ${reference} leaked in printed form #${i}`,
        );
      });
    }
  }

  test.describe(`SecretSource conformance: ${name}`, () => {
    test.it(
      'decodes base64: and hex: keys to the exact 32 bytes and lists its references',
      async () => {
        await withSource({ a: `base64:${B64}`, b: `hex:${HEX}\n` }, async (source) => {
          assert.deepEqual([...source.references()].sort(), ['a', 'b'], 'references()');
          for (const ref of ['a', 'b']) {
            const key = await source.getKey(ref);
            assert.equal(key.reference, ref, 'the key reference');
            assert.ok(
              key.use((bytes) => Buffer.from(bytes)).equals(KEY),
              `the bytes of ${ref} differ from the stored key`,
            );
          }
        });
      },
    );

    test.it('refuses a key of the wrong length naming the reference, not the value', async () => {
      const short = KEY.subarray(0, 31).toString('base64');
      await refused({ short: `base64:${short}` }, 'ERR_INVALID_KEY_MATERIAL', 'short', short);
      const long = Buffer.concat([KEY, KEY]).toString('hex');
      await refused({ long: `hex:${long}` }, 'ERR_INVALID_KEY_MATERIAL', 'long', long);
    });

    test.it('refuses text with no explicit encoding and invalid hex or base64', async () => {
      await refused({ raw: B64 }, 'ERR_INVALID_KEY_MATERIAL', 'raw', B64);
      const badHex = `${HEX.slice(0, 62)}zz`;
      await refused({ hex: `hex:${badHex}` }, 'ERR_INVALID_KEY_MATERIAL', 'hex', badHex);
      const badB64 = `${B64.slice(0, 20)}!!${B64.slice(22)}`;
      await refused({ b64: `base64:${badB64}` }, 'ERR_INVALID_KEY_MATERIAL', 'b64', badB64);
    });

    test.it(
      'a configured key that is missing from the backend → ERR_KEY_NOT_CONFIGURED',
      async () => {
        await refused({ ok: `base64:${B64}`, gone: undefined }, 'ERR_KEY_NOT_CONFIGURED', 'gone');
      },
    );

    test.it('an unknown reference → ERR_KEY_NOT_CONFIGURED naming it', async () => {
      await withSource({ a: `base64:${B64}` }, async (source) => {
        const err = await source.getKey('nope').catch((e: unknown) => e);
        assertFieldsealError(
          err,
          'ERR_KEY_NOT_CONFIGURED',
          { reference: 'nope' },
          "getKey('nope')",
        );
      });
    });

    test.it(
      'the key value never shows in inspect, JSON or String of the source or the key',
      async () => {
        await withSource({ a: `base64:${B64}` }, async (source) => {
          const key = await source.getKey('a');
          const printed = [
            inspect(source, { depth: 10, showHidden: true }),
            JSON.stringify(source) ?? '',
            `${source as unknown as string}`,
            inspect(key, { depth: 10, showHidden: true }),
            JSON.stringify(key) ?? '',
            String(key),
            `${key as unknown as string}`,
            JSON.stringify({ key, source }),
          ];
          printed.forEach((p, i) => {
            assert.ok(!p.includes(B64), `the key (base64) shows in printed form #${i}`);
            assert.ok(!p.includes(HEX), `the key (hex) shows in printed form #${i}`);
          });
        });
      },
    );
  });
}
