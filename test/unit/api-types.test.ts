import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  createFieldseal,
  type EncryptionContext,
  type FieldValue,
  type FieldsealError,
  type FieldsealErrorCode,
  type FieldsealOptions,
  type Settled,
} from '../../src/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';

// These assertions are checked by `npm run typecheck` (tsc over test/): a change to the public
// types that breaks them fails CI even though the runtime part below is trivial.
describe('public API types', () => {
  const fs = createFieldseal({
    provider: new MemoryKeyProvider(),
    keys: { mode: 'embedded', masterKeyId: 'master' },
    cache: { maxAgeMs: 1000 },
  });
  const ctx: EncryptionContext = { tenant: 't', table: 'users', field: 'email' };

  it('encrypt returns text, encryptToBytes returns a Buffer, decrypt defaults to FieldValue', async () => {
    const text = fs.encrypt('x', ctx);
    const bytes = fs.encryptToBytes('x', ctx);
    expectTypeOf(text).toEqualTypeOf<Promise<string>>();
    expectTypeOf(bytes).toEqualTypeOf<Promise<Buffer>>();
    const untyped = fs.decrypt(await bytes, ctx);
    const typed = fs.decrypt<string>(await text, ctx);
    expectTypeOf(untyped).toEqualTypeOf<Promise<FieldValue>>();
    expectTypeOf(typed).toEqualTypeOf<Promise<string>>();
    expect([await untyped, await typed]).toEqual(['x', 'x']);
    expectTypeOf(fs.decryptManySettled<number>([])).toEqualTypeOf<Promise<Settled<number>[]>>();
  });

  it('error codes are a closed union', () => {
    expectTypeOf<FieldsealError['code']>().toEqualTypeOf<FieldsealErrorCode>();
    expectTypeOf<'ERR_WRONG_KEY'>().toMatchTypeOf<FieldsealErrorCode>();
    expectTypeOf<'ERR_SOMETHING_ELSE'>().not.toMatchTypeOf<FieldsealErrorCode>();
  });

  it('options require a cache with a maximum age and a context requires tenant, table, field', () => {
    // @ts-expect-error cache is required
    const noCache: FieldsealOptions = {
      provider: new MemoryKeyProvider(),
      keys: { mode: 'embedded', masterKeyId: 'm' },
    };
    // @ts-expect-error maxAgeMs is required
    const noAge: FieldsealOptions['cache'] = { maxUses: 10 };
    // @ts-expect-error field is required
    const noField: EncryptionContext = { tenant: 't', table: 'x' };
    // @ts-expect-error functions are not field values
    const fn: FieldValue = () => 1;
    expectTypeOf([noCache, noAge, noField, fn]).not.toBeNever();
  });
});
