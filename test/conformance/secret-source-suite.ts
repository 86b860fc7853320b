import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isFieldsealError, type SecretSource } from '../../src/index.js';

/**
 * The behaviour every SecretSource must have, run against each implementation (environment,
 * files, Vault KV v2 through its loopback server). `setup` stores each entry of `secrets` in
 * the backend under its reference (an `undefined` entry is configured but absent: no variable,
 * no file, no secret) and returns a source configured for exactly those references, validated
 * the way the source validates at start-up (constructor, or `init()` for remote sources).
 *
 * @param name what the suite is run on
 * @param setup called once per test; may reject, that is what the validation tests expect
 */
export function secretSourceConformance(
  name: string,
  setup: (secrets: Readonly<Record<string, string | undefined>>) => Promise<{
    source: SecretSource;
    teardown?: () => Promise<void>;
  }>,
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
    code: string,
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
    expect(isFieldsealError(err), 'expected a fieldseal error').toBe(true);
    expect(err).toMatchObject({ code, details: { reference } });
    const printed = [
      (err as Error).message,
      JSON.stringify(err),
      inspect(err, { depth: 10 }),
      String(err),
    ];
    expect((err as Error).message).toContain(reference);
    if (secretText !== undefined) {
      for (const p of printed) expect(p.includes(secretText), `leaked in ${p}`).toBe(false);
    }
  }

  describe(`SecretSource conformance: ${name}`, () => {
    it('decodes base64: and hex: keys to the exact 32 bytes and lists its references', async () => {
      await withSource({ a: `base64:${B64}`, b: `hex:${HEX}\n` }, async (source) => {
        expect([...source.references()].sort()).toEqual(['a', 'b']);
        for (const ref of ['a', 'b']) {
          const key = await source.getKey(ref);
          expect(key.reference).toBe(ref);
          expect(key.use((bytes) => Buffer.from(bytes)).equals(KEY)).toBe(true);
        }
      });
    });

    it('refuses a key of the wrong length naming the reference, not the value', async () => {
      const short = KEY.subarray(0, 31).toString('base64');
      await refused({ short: `base64:${short}` }, 'ERR_INVALID_KEY_MATERIAL', 'short', short);
      const long = Buffer.concat([KEY, KEY]).toString('hex');
      await refused({ long: `hex:${long}` }, 'ERR_INVALID_KEY_MATERIAL', 'long', long);
    });

    it('refuses text with no explicit encoding and invalid hex or base64', async () => {
      await refused({ raw: B64 }, 'ERR_INVALID_KEY_MATERIAL', 'raw', B64);
      const badHex = `${HEX.slice(0, 62)}zz`;
      await refused({ hex: `hex:${badHex}` }, 'ERR_INVALID_KEY_MATERIAL', 'hex', badHex);
      const badB64 = `${B64.slice(0, 20)}!!${B64.slice(22)}`;
      await refused({ b64: `base64:${badB64}` }, 'ERR_INVALID_KEY_MATERIAL', 'b64', badB64);
    });

    it('a configured key that is missing from the backend → ERR_KEY_NOT_CONFIGURED', async () => {
      await refused({ ok: `base64:${B64}`, gone: undefined }, 'ERR_KEY_NOT_CONFIGURED', 'gone');
    });

    it('an unknown reference → ERR_KEY_NOT_CONFIGURED naming it', async () => {
      await withSource({ a: `base64:${B64}` }, async (source) => {
        const err = await source.getKey('nope').catch((e: unknown) => e);
        expect(err).toMatchObject({
          code: 'ERR_KEY_NOT_CONFIGURED',
          details: { reference: 'nope' },
        });
      });
    });

    it('the key value never shows in inspect, JSON or String of the source or the key', async () => {
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
        for (const p of printed) {
          expect(p).not.toContain(B64);
          expect(p).not.toContain(HEX);
        }
      });
    });
  });
}
