/**
 * Shared by the seed `ENC:` tests: the frozen vectors, a LocalKeyProvider holding their master
 * key, and a TypeScript copy of the seed (pydynox) writer for property tests.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { LocalKeyProvider, SecretKey, type KeyContext } from '../../src/index.js';

export interface ValidSeedVector {
  readonly name: string;
  readonly context: Record<string, string>;
  readonly plaintext?: string;
  readonly plaintextRepeat?: { readonly unit: string; readonly count: number };
  readonly plaintextUtf8Bytes: number;
  readonly plaintextSha256: string;
  readonly dataKeyHex: string;
  readonly nonceHex: string;
  readonly wrappedKeyHex: string;
  readonly text: string;
}

export interface InvalidSeedVector {
  readonly name: string;
  readonly context: Record<string, string>;
  readonly openContext?: Record<string, string>;
  readonly text: string;
  readonly code: string;
}

export interface SeedVectors {
  readonly masterKey: { readonly id: string; readonly hex: string };
  readonly valid: readonly ValidSeedVector[];
  readonly invalid: readonly InvalidSeedVector[];
}

export const seedVectors = JSON.parse(
  readFileSync(new URL('../vectors/seed-enc/seed-enc-v1.json', import.meta.url), 'utf8'),
) as SeedVectors;

export function vectorPlaintext(v: ValidSeedVector): string {
  if (v.plaintext !== undefined) return v.plaintext;
  if (v.plaintextRepeat === undefined) throw new Error(`vector ${v.name} has no plaintext`);
  return v.plaintextRepeat.unit.repeat(v.plaintextRepeat.count);
}

/** A LocalKeyProvider whose only master key is the vectors' fixed one. */
export function vectorProvider(): LocalKeyProvider {
  const bytes = Buffer.from(seedVectors.masterKey.hex, 'hex');
  return new LocalKeyProvider({
    source: {
      kind: 'test',
      references: () => [seedVectors.masterKey.id],
      getKey: (reference) => Promise.resolve(new SecretKey(reference, bytes)),
    },
  });
}

/** pydynox's writer: AES-256-GCM (12-byte nonce, no AAD), packed and `ENC:`-base64 encoded. */
export function writeSeedValue(
  dataKey: Uint8Array,
  wrapped: Uint8Array,
  plaintext: string | Uint8Array,
  nonce: Uint8Array = randomBytes(12),
): string {
  const gcm = createCipheriv('aes-256-gcm', dataKey, nonce, { authTagLength: 16 });
  const body = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  const ct = Buffer.concat([gcm.update(body), gcm.final(), gcm.getAuthTag()]);
  const header = Buffer.from([0x01, wrapped.byteLength >>> 8, wrapped.byteLength & 0xff]);
  return `ENC:${Buffer.concat([header, wrapped, nonce, ct]).toString('base64')}`;
}

export const PII: KeyContext = Object.freeze({ tenant: 'acme-corp', purpose: 'pii' });
