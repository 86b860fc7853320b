import { describe, expect, it } from 'vitest';
import { createFieldseal, inspectEnvelope } from '../../src/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';

const ctx = { tenant: 'acme', table: 'customers', field: 'ssn', record: 'cus_1' };

describe('smoke', () => {
  it('round-trips in embedded and store modes', async () => {
    const provider = new MemoryKeyProvider();
    const emb = createFieldseal({ provider, keys: { mode: 'embedded', masterKeyId: 'master' }, cache: { maxAgeMs: 60_000 } });
    const s = await emb.encrypt('123-45-6789', ctx);
    expect(s.startsWith('fs1:')).toBe(true);
    expect(await emb.decrypt(s, ctx)).toBe('123-45-6789');
    const store = new MemoryKeyStore();
    const st = createFieldseal({ provider, keys: { mode: 'store', store, masterKeyId: 'master', keyId: 'k' }, cache: { maxAgeMs: 60_000 } });
    await st.provisionKey('acme');
    const b = await st.encryptToBytes('0123456789abcdef', ctx);
    console.log('store overhead', b.byteLength - 16, inspectEnvelope(b));
    expect(await st.decrypt(b, ctx)).toBe('0123456789abcdef');
    await expect(st.decrypt(b, { ...ctx, record: 'cus_2' })).rejects.toMatchObject({ code: 'ERR_AUTHENTICATION_FAILED' });
    console.log(st.metrics(), emb.metrics());
  });
});
