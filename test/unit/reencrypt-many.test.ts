import { describe, expect, it } from 'vitest';
import { createFieldseal, inspectEnvelope, type DecryptItem } from '../../src/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';

const ctx = (tenant: string, record: string, field = 'ssn') => ({
  tenant,
  table: 'users',
  field,
  record,
});

function setup() {
  const provider = new MemoryKeyProvider();
  const store = new MemoryKeyStore();
  const options = {
    admin: true,
    provider,
    keys: { mode: 'store' as const, store, masterKeyId: 'master', keyId: 'k' },
    cache: { maxAgeMs: 60_000 },
    fields: { 'users.secret': { mode: 'WriteOnly' as const } },
  };
  return { provider, store, options, fs: createFieldseal(options) };
}

describe('reencryptManySettled', () => {
  it('moves only values not under the current key, one key fetch per key, text stays text', async () => {
    const { fs, provider, options } = setup();
    await fs.provisionTenant('acme');
    await fs.provisionTenant('globex');
    const items: DecryptItem[] = [];
    for (let i = 0; i < 20; i++) {
      const tenant = i % 2 === 0 ? 'acme' : 'globex';
      const context = ctx(tenant, `r${i}`);
      const value = `CANARY-${i}`;
      items.push({
        stored:
          i % 4 < 2 ? await fs.encrypt(value, context) : await fs.encryptToBytes(value, context),
        context,
      });
    }
    await fs.rotateTenantKey('acme');
    // A fresh client: every key is cold, so each key costs exactly one unwrap.
    const fresh = createFieldseal(options);
    const before = { ...provider.calls };
    const out = await fresh.reencryptManySettled(items);
    // acme@1 (read), globex@1 (read), acme@2 (write): three unwraps, whatever the batch size.
    expect(provider.calls.unwrap - before.unwrap).toBe(3);
    expect(provider.calls.generate).toBe(before.generate);
    out.forEach((r, i) => {
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      const given = items[i]!.stored;
      expect(typeof r.value.stored).toBe(typeof given);
      if (items[i]!.context.tenant === 'globex') {
        expect(r.value.changed).toBe(false);
        expect(r.value.stored).toBe(given);
      } else {
        expect(r.value.changed).toBe(true);
        expect(inspectEnvelope(r.value.stored)?.keyLabel).toBe('k@2');
      }
    });
    const back = await fresh.decryptMany(
      out.map((r, i) => ({
        stored: (r as { value: { stored: string } }).value.stored,
        context: items[i]!.context,
      })),
    );
    expect(back).toEqual(items.map((_, i) => `CANARY-${i}`));
  });

  it('each item fails on its own: tampered, moved, write-only, shredded', async () => {
    const { fs } = setup();
    await fs.provisionTenant('acme');
    await fs.provisionTenant('globex');
    const good = await fs.encrypt('fine', ctx('acme', 'r1'));
    const tampered = Buffer.from(await fs.encryptToBytes('t', ctx('acme', 'r2')));
    tampered[tampered.length - 1]! ^= 1;
    const moved = await fs.encrypt('m', ctx('acme', 'r3'));
    const secret = await fs.encrypt('s', ctx('acme', 'r4', 'secret'));
    const shredded = await fs.encrypt('x', ctx('globex', 'r5'));
    await fs.shredTenant('globex');
    await fs.rotateTenantKey('acme');
    const out = await fs.reencryptManySettled([
      { stored: good, context: ctx('acme', 'r1') },
      { stored: tampered, context: ctx('acme', 'r2') },
      { stored: moved, context: ctx('acme', 'r9') },
      { stored: secret, context: ctx('acme', 'r4', 'secret') },
      { stored: shredded, context: ctx('globex', 'r5') },
    ]);
    expect(out.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
      'ok',
      'ERR_AUTHENTICATION_FAILED',
      'ERR_AUTHENTICATION_FAILED',
      'ERR_MODE_FORBIDDEN',
      'ERR_KEY_SHREDDED',
    ]);
    expect(JSON.stringify(out)).not.toContain('fine');
    await expect(
      fs.reencryptMany([{ stored: moved, context: ctx('acme', 'r9') }]),
    ).rejects.toMatchObject({
      code: 'ERR_BATCH_FAILED',
    });
  });
});
