import { describe, expect, it, vi } from 'vitest';
import {
  createFieldseal,
  decryptRecord,
  defineModel,
  defineModelFromSeedShape,
  encryptRecord,
  encryptRecords,
  field,
  inspectEnvelope,
  type FieldPolicy,
  type FieldsealOptions,
} from '../../src/index.js';
import { planDestruction } from '../../src/client/master-key-destruction.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';
import { wrappedOf } from './wrapped-key.js';

// A field's own master key (`FieldPolicy.masterKeyId`, `.encrypted({ masterKeyId })`) in
// embedded mode, with the in-memory provider. The AWS KMS version (regions, ARNs, disabled
// keys) is test/integration/aws-kms-field-master-key.test.ts.

const PAYMENTS = 'mk-payments';
const ctx = (tenant: string, f: string, record = 'r1') => ({
  tenant,
  table: 'users',
  field: f,
  record,
});

function setup(
  fields: Record<string, FieldPolicy> = { 'users.card': { masterKeyId: PAYMENTS } },
  extra: Partial<FieldsealOptions> = {},
) {
  const provider = new MemoryKeyProvider({ masterKeys: ['master', PAYMENTS] });
  const generate = vi.spyOn(provider, 'generateDataKey');
  const unwrap = vi.spyOn(provider, 'unwrapDataKey');
  const fs = createFieldseal({
    admin: true,
    provider,
    keys: { mode: 'embedded', masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000 },
    fields,
    ...extra,
  });
  const generated = () => generate.mock.calls.map(([mk, c]) => `${mk}/${c.tenant}`);
  return { provider, fs, generate, unwrap, generated };
}

function masterOf(stored: string | Uint8Array): string | undefined {
  const ref = inspectEnvelope(stored)?.keyRef;
  return ref?.kind === 'embedded' ? ref.masterKeyId : undefined;
}

describe('a field master key (embedded mode)', () => {
  it("wraps the field's data keys under its own master key; other fields keep the client's", async () => {
    const { fs, generate } = setup();
    const card = await fs.encrypt('4111 1111 1111 1111', ctx('acme', 'card'));
    const ssn = await fs.encrypt('123-45-6789', ctx('acme', 'ssn'));
    expect(masterOf(card)).toBe(PAYMENTS);
    expect(masterOf(ssn)).toBe('master');
    expect(inspectEnvelope(card)?.keyLabel).toBe(`memory:${PAYMENTS}`);
    // The provider context of an embedded key is unchanged: the tenant only.
    expect(generate.mock.calls).toEqual([
      [PAYMENTS, { tenant: 'acme' }],
      ['master', { tenant: 'acme' }],
    ]);
    expect(await fs.decrypt(card, ctx('acme', 'card'))).toBe('4111 1111 1111 1111');
    expect(await fs.decrypt(ssn, ctx('acme', 'ssn'))).toBe('123-45-6789');
  });

  it('caches write keys per (provider, master key, tenant): no data key is shared across master keys', async () => {
    const { fs, generated } = setup();
    // The tenant's own write key is cached first: the field must still not use it.
    const s1 = await fs.encrypt('c', ctx('acme', 'ssn'));
    const a1 = await fs.encrypt('a', ctx('acme', 'card'));
    const a2 = await fs.encrypt('b', ctx('acme', 'card', 'r2')); // warm: no provider call
    const g1 = await fs.encrypt('d', ctx('globex', 'card'));
    expect(generated()).toEqual(['master/acme', `${PAYMENTS}/acme`, `${PAYMENTS}/globex`]);
    expect([a1, a2, g1].map(masterOf)).toEqual([PAYMENTS, PAYMENTS, PAYMENTS]);
    expect(masterOf(s1)).toBe('master');
    expect(wrappedOf(a1)).toBe(wrappedOf(a2));
    expect(new Set([wrappedOf(a1), wrappedOf(s1), wrappedOf(g1)]).size).toBe(3);
  });

  it('a field key equal to the tenant master key shares its data key (same master key)', async () => {
    const { fs, generated } = setup({ 'users.card': { masterKeyId: 'master' } });
    const card = await fs.encrypt('a', ctx('acme', 'card'));
    const ssn = await fs.encrypt('b', ctx('acme', 'ssn'));
    expect(generated()).toEqual(['master/acme']);
    expect(wrappedOf(card)).toBe(wrappedOf(ssn));
  });

  it('encryptMany costs one generate per (master key, tenant) and keeps the order', async () => {
    const { fs, generated } = setup();
    const items = ['acme', 'globex', 'acme', 'globex', 'acme'].flatMap((tenant, i) => [
      { value: `card-${i}`, context: ctx(tenant, 'card', `r${i}`) },
      { value: `ssn-${i}`, context: ctx(tenant, 'ssn', `r${i}`) },
    ]);
    const out = await fs.encryptMany(items);
    expect([...generated()].sort()).toEqual(
      [`${PAYMENTS}/acme`, `${PAYMENTS}/globex`, 'master/acme', 'master/globex'].sort(),
    );
    out.forEach((stored, i) => {
      expect(masterOf(stored)).toBe(items[i]!.context.field === 'card' ? PAYMENTS : 'master');
    });
    expect(
      await fs.decryptMany(out.map((stored, i) => ({ stored, context: items[i]!.context }))),
    ).toEqual(items.map((it) => it.value));
    // A second batch is served from the cache.
    await fs.encryptMany(items);
    expect(generated()).toHaveLength(4);
  });

  it('reads accept the field master key only where the configuration names it', async () => {
    const { fs, provider } = setup();
    const card = await fs.encrypt('4111', ctx('acme', 'card'));
    const unwrap = vi.spyOn(provider, 'unwrapDataKey');
    // A client without the field policy (another service) refuses the key, before any call...
    const bare = { provider, keys: { mode: 'embedded', masterKeyId: 'master' } as const };
    const stranger = createFieldseal({ ...bare, cache: { maxAgeMs: 60_000 } });
    await expect(stranger.decrypt(card, ctx('acme', 'card'))).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
      details: { keyRef: `memory:${PAYMENTS}` },
    });
    expect(unwrap).not.toHaveBeenCalled();
    // ...and reads it with the policy (a fresh client: no write key in its cache), or with
    // the key listed in acceptMasterKeyIds.
    const withPolicy = createFieldseal({
      admin: true,
      ...bare,
      cache: { maxAgeMs: 60_000 },
      fields: { 'users.card': { masterKeyId: PAYMENTS } },
    });
    expect(await withPolicy.decrypt(card, ctx('acme', 'card'))).toBe('4111');
    const listed = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'embedded', masterKeyId: 'master', acceptMasterKeyIds: [PAYMENTS] },
      cache: { maxAgeMs: 60_000 },
    });
    expect(await listed.decrypt(card, ctx('acme', 'card'))).toBe('4111');
    expect(unwrap.mock.calls.map(([mk, , c]) => [mk, c])).toEqual([
      [PAYMENTS, { tenant: 'acme' }],
      [PAYMENTS, { tenant: 'acme' }],
    ]);
  });

  it('a lost field master key fails that field only, with a typed error', async () => {
    const { fs, provider } = setup();
    const card = await fs.encrypt('4111', ctx('acme', 'card'));
    fs.clearCache();
    provider.destroyMasterKey(PAYMENTS);
    await expect(fs.encrypt('4111', ctx('acme', 'card'))).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
    const settled = await fs.decryptManySettled([
      { stored: card, context: ctx('acme', 'card') },
      { stored: await fs.encrypt('x', ctx('acme', 'ssn')), context: ctx('acme', 'ssn') },
    ]);
    expect(settled[0]).toMatchObject({ ok: false, error: { code: 'ERR_KEY_NOT_CONFIGURED' } });
    expect(settled[1]).toEqual({ ok: true, value: 'x' });
  });

  it('reencrypt moves a value written under the tenant key to the field key', async () => {
    const { provider } = setup();
    const before = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
    });
    const old = await before.encrypt('4111', ctx('acme', 'card'));
    const fs = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
      fields: { 'users.card': { masterKeyId: PAYMENTS } },
    });
    const { stored, changed } = await fs.reencrypt(old, ctx('acme', 'card'));
    expect(changed).toBe(true);
    expect(masterOf(old)).toBe('master');
    expect(masterOf(stored)).toBe(PAYMENTS);
    expect(await fs.decrypt(stored, ctx('acme', 'card'))).toBe('4111');
  });

  it('works with a per-tenant master key function: only the field is pinned', async () => {
    const provider = new MemoryKeyProvider({ masterKeys: ['mk-acme', PAYMENTS] });
    const fs = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'embedded', masterKeyId: (t) => `mk-${t}` },
      cache: { maxAgeMs: 60_000 },
      fields: { 'users.card': { masterKeyId: PAYMENTS } },
    });
    expect(masterOf(await fs.encrypt('a', ctx('acme', 'card')))).toBe(PAYMENTS);
    expect(masterOf(await fs.encrypt('b', ctx('acme', 'ssn')))).toBe('mk-acme');
    // Another tenant with no master key of its own can still write the pinned field.
    expect(masterOf(await fs.encrypt('c', ctx('nokey', 'card')))).toBe(PAYMENTS);
    await expect(fs.encrypt('d', ctx('nokey', 'ssn'))).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
  });
});

describe('field master key: validation', () => {
  const base = {
    provider: new MemoryKeyProvider(),
    cache: { maxAgeMs: 60_000 },
  } as const;

  it('store mode refuses a field master key at createFieldseal', () => {
    expect(() =>
      createFieldseal({
        admin: true,
        ...base,
        keys: { mode: 'store', store: new MemoryKeyStore(), masterKeyId: 'master' },
        fields: { 'users.card': { masterKeyId: PAYMENTS } },
      }),
    ).toThrow(
      new TypeError(
        'fields["users.card"].masterKeyId: a field master key needs keys.mode "embedded" (in store mode data keys are per tenant and key id, wrapped under keys.masterKeyId, so a field cannot choose its own)',
      ),
    );
  });

  it.each([
    ['', /non-empty string, got an empty string/],
    [42, /non-empty string, got number/],
    ['k'.repeat(256), /at most 255 UTF-8 bytes .* got 256/],
    ['é'.repeat(128), /at most 255 UTF-8 bytes .* got 256/],
  ])('createFieldseal refuses masterKeyId %j', (masterKeyId, message) => {
    expect(() =>
      createFieldseal({
        admin: true,
        ...base,
        keys: { mode: 'embedded', masterKeyId: 'master' },
        fields: { 'users.card': { masterKeyId: masterKeyId as string } },
      }),
    ).toThrow(message);
  });

  it('accepts 255 bytes (the envelope limit) and round-trips', async () => {
    const long = `arn:aws:kms:eu-west-1:111122223333:alias/${'p'.repeat(255 - 41)}`;
    expect(Buffer.byteLength(long)).toBe(255);
    const provider = new MemoryKeyProvider({ masterKeys: ['master', long] });
    const fs = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
      fields: { 'users.card': { masterKeyId: long } },
    });
    const stored = await fs.encrypt('x', ctx('acme', 'card'));
    expect(masterOf(stored)).toBe(long);
    expect(await fs.decrypt(stored, ctx('acme', 'card'))).toBe('x');
  });

  it.each([
    ['', /users\.card: masterKeyId: expected a non-empty string/],
    ['k'.repeat(256), /users\.card: masterKeyId: expected at most 255 UTF-8 bytes/],
  ])('defineModel refuses .encrypted({ masterKeyId: %j })', (masterKeyId, message) => {
    expect(() =>
      defineModel({
        table: 'users',
        tenant: 'tenantId',
        key: ['id'],
        fields: {
          id: field.string(),
          tenantId: field.string(),
          card: field.string().encrypted({ masterKeyId }),
        },
      }),
    ).toThrow(message);
  });
});

describe('field master key in models', () => {
  const User = defineModel({
    table: 'users',
    tenant: 'tenantId',
    key: ['id'],
    fields: {
      id: field.string(),
      tenantId: field.string(),
      card: field.string().encrypted({ masterKeyId: PAYMENTS, mode: 'ReadWrite' }),
      ssn: field.string().encrypted(),
    },
  });
  const record = { id: 'u1', tenantId: 'acme', card: '4111', ssn: '123-45-6789' };

  it('model.policies carry the master key and records use it', async () => {
    expect(User.policies).toEqual({
      'users.card': { masterKeyId: PAYMENTS, mode: 'ReadWrite' },
      'users.ssn': {},
    });
    const { fs } = setup({ ...User.policies });
    const row = await encryptRecord(fs, User, record);
    expect(masterOf(row.card)).toBe(PAYMENTS);
    expect(masterOf(row.ssn)).toBe('master');
    expect(await decryptRecord(fs, User, row)).toEqual(record);
    const rows = await encryptRecords(fs, User, [record, { ...record, id: 'u2' }]);
    expect(rows.map((r) => masterOf(r.card))).toEqual([PAYMENTS, PAYMENTS]);
  });

  it.each([
    ['without the master key', {}],
    ['with another master key', { masterKeyId: 'mk-other' }],
  ])('a client configured %s is refused (policy mismatch)', async (_, card) => {
    const { fs } = setup({ 'users.card': { mode: 'ReadWrite', ...card }, 'users.ssn': {} });
    await expect(encryptRecord(fs, User, record)).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
      details: { field: 'users.card' },
    });
  });

  it('a field master key on a client but not in the model is a mismatch too', async () => {
    const { fs } = setup({ ...User.policies, 'users.ssn': { masterKeyId: PAYMENTS } });
    await expect(encryptRecord(fs, User, record)).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
      details: { field: 'users.ssn' },
    });
  });
});

describe('seed shape: keyId and region', () => {
  const shape = (encryption: Record<string, unknown>) => ({
    name: 'Credential',
    table: { name: 'credentials' },
    keys: { partition: { attribute: 'PK', type: 'S' as const } },
    attributes: [
      { attribute: 'PK', type: 'S' as const, roles: ['pk' as const] },
      { attribute: 'tenant', type: 'S' as const },
      { attribute: 'secret', type: 'S' as const, encryption: { v: 1 as const, ...encryption } },
    ],
    tenant: 'tenant',
  });
  const ARN = 'arn:aws:kms:eu-west-1:111122223333:alias/payments';

  it.each([
    [{ keyId: ARN }, { masterKeyId: ARN }],
    [{ keyId: ARN, region: 'eu-west-1' }, { masterKeyId: ARN }],
    [
      { keyId: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd', region: 'us-east-1' },
      { masterKeyId: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd' },
    ],
    [{ keyId: 'alias/my-app-key' }, { masterKeyId: 'alias/my-app-key' }],
    [{ masterKeyId: ARN }, { masterKeyId: ARN }],
    [
      { keyId: ARN, mode: 'WriteOnly', context: { purpose: 'kyc' } },
      { masterKeyId: ARN, mode: 'WriteOnly' },
    ],
    [{}, {}],
  ])('%j maps to the policy %j', (encryption, policy) => {
    const model = defineModelFromSeedShape(shape(encryption));
    expect(model.policies).toEqual({ 'credentials.secret': policy });
  });

  it('refuses a region with a key id or alias name: an ARN is needed', () => {
    expect(() =>
      defineModelFromSeedShape(shape({ keyId: 'alias/my-app-key', region: 'eu-west-1' })),
    ).toThrow(
      /credentials\.secret: encryption: region "eu-west-1" with keyId "alias\/my-app-key": give keyId as a key or alias ARN .*the region alone cannot build one, since an ARN also names the account/,
    );
  });

  it.each([
    [{ keyId: ARN, region: 'us-east-1' }, /disagrees with the region of keyId \("eu-west-1"\)/],
    [{ region: 'eu-west-1' }, /region needs a keyId/],
    [{ keyId: ARN, masterKeyId: ARN }, /give keyId or masterKeyId, not both/],
    [{ keyId: '' }, /keyId: expected a non-empty string/],
    [{ keyId: 7 }, /keyId: expected a non-empty string/],
    [{ keyId: ARN, region: '' }, /region: expected a non-empty string/],
    [{ keyId: 'k'.repeat(256) }, /masterKeyId: expected at most 255 UTF-8 bytes/],
  ])('refuses %j', (encryption, message) => {
    expect(() => defineModelFromSeedShape(shape(encryption))).toThrow(message);
  });
});

describe('shred never destroys a field master key', () => {
  const row = (masterKeyId: string) => ({
    tenant: 'acme',
    keyId: 'default',
    version: 1,
    state: 'active' as const,
    providerId: 'memory',
    masterKeyId,
    wrapped: new Uint8Array([1]),
    createdAt: new Date(0),
  });

  it('planDestruction keeps a field key even when it is the dedicated tenant key', () => {
    const provider = new MemoryKeyProvider({ masterKeys: ['mk-acme'] });
    const plan = planDestruction(
      [row('mk-acme')],
      'mk-acme',
      () => provider,
      undefined,
      new Set(['mk-acme']),
    );
    expect(plan.destroy).toEqual([]);
    expect(plan.kept).toEqual([
      {
        providerId: 'memory',
        masterKeyId: 'mk-acme',
        state: 'kept',
        reason: "a field's master key (FieldPolicy.masterKeyId), shared by every tenant",
      },
    ]);
    expect(() =>
      planDestruction([row('mk-acme')], 'mk-acme', () => provider, true, new Set(['mk-acme'])),
    ).toThrow(/cannot destroy the tenant's master key: a field's master key/);
  });

  it('an embedded client with dedicated tenant keys and a field key destroys nothing', async () => {
    const provider = new MemoryKeyProvider({ masterKeys: ['mk-acme', PAYMENTS] });
    const destroy = vi.spyOn(provider, 'scheduleMasterKeyDeletion');
    const fs = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'embedded', masterKeyId: (t) => `mk-${t}`, dedicatedMasterKeys: true },
      cache: { maxAgeMs: 60_000 },
      fields: { 'users.card': { masterKeyId: PAYMENTS } },
    });
    const card = await fs.encrypt('4111', ctx('acme', 'card'));
    await expect(fs.shredTenant('acme')).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
    await expect(fs.shredTenant('acme', { destroyMasterKeys: true })).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
    expect(destroy).not.toHaveBeenCalled();
    expect(provider.hasMasterKey(PAYMENTS)).toBe(true);
    fs.clearCache();
    expect(await fs.decrypt(card, ctx('acme', 'card'))).toBe('4111');
  });
});

describe('field master keys: review follow-ups', () => {
  it('a checked policy cannot be changed afterwards through the object given or returned', async () => {
    const policy: FieldPolicy = { masterKeyId: PAYMENTS };
    const { fs } = setup({ 'users.card': policy });
    (policy as { masterKeyId?: string }).masterKeyId = 'evil';
    expect(() => {
      (fs.fieldPolicy('users', 'card') as { allowPlaintextRead?: boolean }).allowPlaintextRead =
        true;
    }).toThrow(TypeError);
    expect(fs.fieldPolicy('users', 'card').masterKeyId).toBe(PAYMENTS);
    expect(masterOf(await fs.encrypt('4111', ctx('acme', 'card')))).toBe(PAYMENTS);
    await expect(fs.decrypt('4111', ctx('acme', 'card'))).rejects.toMatchObject({
      code: 'ERR_PLAINTEXT_IN_ENCRYPTED_FIELD',
    });
  });

  it('refuses master key ids that are not well-formed Unicode (unreadable headers)', () => {
    expect(() => setup({ 'users.card': { masterKeyId: 'mA\uD800' } })).toThrow(/well-formed/);
  });

  it('an id from a masterKeyId function that no header can hold fails before any provider call', async () => {
    const { fs, generate } = setup(
      {},
      { keys: { mode: 'embedded', masterKeyId: () => 'x'.repeat(300) } },
    );
    await expect(fs.encrypt('v', ctx('acme', 'note'))).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
    expect(generate).not.toHaveBeenCalled();
  });
});
