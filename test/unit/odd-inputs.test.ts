// Issue #11, defect 7: `reencrypt` with a null, string, array or number context threw
// TypeError or ERR_KEY_NOT_CONFIGURED (it touched the key store before validating), and plain
// objects or arrays carrying a `toJSON` function came back as another type.
import { describe, expect, it } from 'vitest';
import { createFieldseal, type EncryptionContext, type FieldValue } from '../../src/index.js';
import { rejectionCode } from './rejection-code.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';

const ctx: EncryptionContext = { tenant: 'acme', table: 'customers', field: 'ssn', record: 'r' };

describe('odd inputs get the documented error codes', () => {
  it.each([
    ['null', null],
    ['a string', 'acme'],
    ['an array', ['acme']],
    ['a number', 7],
    ['undefined', undefined],
    ['a context without tenant', { table: 'customers', field: 'ssn' }],
  ])(
    'reencrypt with %s as context is ERR_INVALID_CONTEXT before any store call',
    async (_n, bad) => {
      const store = new MemoryKeyStore();
      const provider = new MemoryKeyProvider();
      const fs = createFieldseal({
        admin: true,
        provider,
        keys: { mode: 'store', store, masterKeyId: 'master' },
        cache: { maxAgeMs: 60_000 },
      });
      await fs.provisionTenant('acme');
      const stored = await fs.encrypt('v', ctx);
      let storeCalls = 0;
      for (const m of ['getActiveVersion', 'getVersion'] as const) {
        const original = store[m].bind(store) as (...a: unknown[]) => Promise<unknown>;
        (store as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => {
          storeCalls++;
          return original(...a);
        };
      }
      fs.clearCache();
      expect(await rejectionCode(fs.reencrypt(stored, bad as EncryptionContext))).toBe(
        'ERR_INVALID_CONTEXT',
      );
      expect(storeCalls).toBe(0);
      fs.close();
    },
  );

  it.each([
    ['a plain object with toJSON', { a: 1, toJSON: (): string => 'x' }],
    [
      'an array with toJSON',
      Object.assign([1, 2], { toJSON: (): object => ({ not: 'an array' }) }),
    ],
    ['a nested object with toJSON', { outer: { toJSON: (): number => 42 } }],
  ])(
    '%s is refused with ERR_UNSUPPORTED_VALUE instead of coming back as another type',
    async (_n, v) => {
      const fs = createFieldseal({
        admin: true,
        provider: new MemoryKeyProvider(),
        keys: { mode: 'embedded', masterKeyId: 'master' },
        cache: { maxAgeMs: 60_000 },
      });
      expect(await rejectionCode(fs.encrypt(v as unknown as FieldValue, ctx))).toBe(
        'ERR_UNSUPPORTED_VALUE',
      );
    },
  );

  it('nested Dates still become their ISO strings, as JSON defines', async () => {
    const fs = createFieldseal({
      admin: true,
      provider: new MemoryKeyProvider(),
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
    });
    const at = new Date(0);
    const back = await fs.decrypt(await fs.encrypt({ at }, ctx), ctx);
    expect(back).toEqual({ at: at.toISOString() });
  });
});
