import { diffieHellman } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createFieldseal,
  EnvSecretSource,
  generateX25519KeyPair,
  X25519KeyProvider,
  x25519PublicKey,
} from '../../src/index.js';
import { privateFromRaw, publicFromRaw } from '../../src/kms/public-key/x25519.js';
import { runKeyProviderSuite } from '../../src/testing/index.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const pairA = generateX25519KeyPair();
const pairB = generateX25519KeyPair();
const privateKeys = () =>
  new EnvSecretSource({
    keys: { a: 'A', b: 'B' },
    env: { A: `hex:${hex(pairA.privateKey)}`, B: `hex:${hex(pairB.privateKey)}` },
  });

runKeyProviderSuite(
  { describe, it, beforeAll, afterAll },
  'X25519KeyProvider (reader: private keys)',
  () =>
    Promise.resolve({
      provider: new X25519KeyProvider({ publicKeys: {}, privateKeys: privateKeys() }),
      masterKeys: ['a', 'b'] as const,
      unknownMasterKey: 'missing',
    }),
);

runKeyProviderSuite(
  { describe, it, beforeAll, afterAll },
  'X25519KeyProvider (writer: public keys only)',
  () =>
    Promise.resolve({
      provider: new X25519KeyProvider({
        publicKeys: { a: pairA.publicKey, b: pairB.publicKey },
      }),
      masterKeys: ['a', 'b'] as const,
      unknownMasterKey: 'missing',
    }),
);

describe('X25519 primitives (RFC 7748 §6.1 test vector, through node:crypto)', () => {
  it('Alice and Bob agree on the published shared secret', () => {
    const alicePriv = Buffer.from(
      '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
      'hex',
    );
    const bobPriv = Buffer.from(
      '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb',
      'hex',
    );
    expect(hex(x25519PublicKey(alicePriv))).toBe(
      '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    );
    expect(hex(x25519PublicKey(bobPriv))).toBe(
      'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
    );
    const z = diffieHellman({
      privateKey: privateFromRaw(alicePriv),
      publicKey: publicFromRaw(x25519PublicKey(bobPriv)),
    });
    expect(z.toString('hex')).toBe(
      '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
    );
  });

  it('refuses keys of the wrong length', () => {
    expect(() => new X25519KeyProvider({ publicKeys: { a: new Uint8Array(31) } })).toThrow(
      /32 bytes/,
    );
  });
});

describe('write-only ingestion with a public key', () => {
  const ctx = { tenant: 'acme', table: 'events', field: 'payload', record: 'e1' };
  const options = (provider: X25519KeyProvider) => ({
    provider,
    keys: { mode: 'embedded' as const, masterKeyId: (t: string) => (t === 'acme' ? 'a' : 'b') },
    cache: { maxAgeMs: 60_000, maxUses: 1 },
  });

  it('a process with only the public key writes, and cannot decrypt its own writes', async () => {
    const publicOnly = new X25519KeyProvider({ publicKeys: { a: pairA.publicKey } });
    expect(publicOnly.capabilities.unwrap).toBe(false);
    const ingest = createFieldseal({ ...options(publicOnly), mode: 'WriteOnly' });
    const stored = await ingest.encrypt('card 4111 1111 1111 1111', ctx);
    await expect(ingest.decrypt(stored, ctx)).rejects.toMatchObject({ code: 'ERR_MODE_FORBIDDEN' });
    // Even configured ReadWrite, the provider has nothing to unwrap with.
    const sneaky = createFieldseal(options(publicOnly));
    const stored2 = await sneaky.encrypt('card 4111 1111 1111 1111', ctx);
    for (const s of [stored, stored2]) {
      await expect(sneaky.decrypt(s, ctx)).rejects.toMatchObject({ code: 'ERR_MODE_FORBIDDEN' });
    }
    // The reader with the private key reads both.
    const reader = createFieldseal(
      options(new X25519KeyProvider({ publicKeys: {}, privateKeys: privateKeys() })),
    );
    expect(await reader.decrypt(stored, ctx)).toBe('card 4111 1111 1111 1111');
    expect(await reader.decrypt(stored2, ctx)).toBe('card 4111 1111 1111 1111');
    // Another tenant's private key does not open it.
    const wrong = new X25519KeyProvider({
      publicKeys: {},
      privateKeys: new EnvSecretSource({
        keys: { a: 'A' },
        env: { A: `hex:${hex(pairB.privateKey)}` },
      }),
    });
    await expect(createFieldseal(options(wrong)).decrypt(stored, ctx)).rejects.toMatchObject({
      code: 'ERR_KEY_UNWRAP_FAILED',
    });
  });

  it('with maxUses: 1 every value has its own data key (one wrap per value)', async () => {
    const provider = new X25519KeyProvider({ publicKeys: { a: pairA.publicKey } });
    const ingest = createFieldseal({ ...options(provider), mode: 'WriteOnly' });
    await ingest.encryptMany(Array.from({ length: 5 }, () => ({ value: 'x', context: ctx })));
    expect(provider.calls.generate).toBe(5);
  });
});
