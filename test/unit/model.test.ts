import { describe, expect, it } from 'vitest';
import {
  AuthenticationFailedError,
  BatchError,
  createFieldseal,
  isFieldsealError,
  type Fieldseal,
  type FieldsealError,
  type FieldsealOptions,
} from '../../src/index.js';
import { defineModel } from '../../src/model/define-model.js';
import { field } from '../../src/model/field.js';
import type { AnyModel, InferRecord, InferStored } from '../../src/model/model-types.js';
import {
  decryptRecord,
  decryptRecords,
  decryptRecordsSettled,
  encryptRecord,
  encryptRecords,
} from '../../src/model/record-codec.js';
import { defineModelFromSeedShape } from '../../src/model/seed-shape.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../../src/testing/index.js';

const CACHE = { maxAgeMs: 60_000 };

const Customer = defineModel({
  table: 'customers',
  tenant: 'tenantId',
  key: ['id'],
  fields: {
    id: field.string(),
    tenantId: field.string(),
    plan: field.string().indexed(),
    email: field.string().encrypted({ pad: 'bucket-32' }),
    ssn: field.string().encrypted({ mode: 'WriteOnly' }).nullable(),
    dob: field.date().encrypted(),
    balance: field.bigint().encrypted({ storage: 'text' }),
    notes: field
      .json<{ vip: boolean }>()
      .encrypted({ context: { purpose: 'crm' } })
      .optional(),
  },
});

/** Every field kind, all readable; a composite key of string, number and bigint. */
const Profile = defineModel({
  table: 'profiles',
  tenant: 'org',
  key: ['org', 'seq', 'shard'],
  fields: {
    org: field.string(),
    seq: field.number(),
    shard: field.bigint(),
    name: field.string().encrypted(),
    age: field.number().encrypted({ storage: 'text' }),
    wealth: field.bigint().encrypted(),
    verified: field.boolean().encrypted(),
    born: field.date().encrypted({ pad: 'bucket-16' }),
    photo: field.bytes().encrypted(),
    prefs: field.json<{ theme: string; tags: string[] }>().encrypted({ storage: 'text' }),
    nick: field.string().encrypted().nullable(),
    bio: field.string().encrypted().optional(),
    visits: field.number(),
    flags: field.json<string[]>(),
  },
});

type KeyMode = 'embedded' | 'store';

interface Setup {
  readonly provider: MemoryKeyProvider;
  /** A client configured with the given models' policies. */
  readonly client: (models: readonly AnyModel[], extra?: Partial<FieldsealOptions>) => Fieldseal;
  /** Make sure the tenants have keys (store mode); no-op in embedded mode. */
  readonly provision: (fs: Fieldseal, tenants: readonly string[]) => Promise<void>;
}

function setup(mode: KeyMode): Setup {
  const provider = new MemoryKeyProvider();
  const store = new MemoryKeyStore();
  return {
    provider,
    client: (models, extra = {}) =>
      createFieldseal({
        admin: true,
        provider,
        keys:
          mode === 'embedded'
            ? { mode: 'embedded', masterKeyId: 'master' }
            : { mode: 'store', store, masterKeyId: 'master', keyId: 'k' },
        cache: CACHE,
        fields: Object.assign({}, ...models.map((m) => m.policies)) as FieldsealOptions['fields'],
        ...extra,
      }),
    provision: async (fs, tenants) => {
      if (mode === 'store') for (const t of tenants) await fs.provisionTenant(t);
    },
  };
}

async function rejection(p: Promise<unknown>): Promise<FieldsealError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(isFieldsealError(caught), `expected a FieldsealError, got ${String(caught)}`).toBe(true);
  return caught as FieldsealError;
}

function customer(i: number, tenantId = 'acme'): InferRecord<typeof Customer> {
  return {
    id: `cus_${i}`,
    tenantId,
    plan: i % 2 === 0 ? 'pro' : 'free',
    email: `user${i}@example.com`,
    ssn: i % 3 === 0 ? null : `521-44-${String(8790 + i).padStart(4, '0')}`,
    dob: new Date(Date.UTC(1980, 0, 1 + i)),
    balance: 10n ** 20n + BigInt(i),
    ...(i % 2 === 0 ? { notes: { vip: i % 4 === 0 } } : {}),
  };
}

/** The Customer model's readable fields only (ssn is WriteOnly). */
const Contact = defineModel({
  table: 'contacts',
  tenant: 'tenantId',
  key: ['id'],
  fields: {
    id: field.string(),
    tenantId: field.string(),
    email: field.string().encrypted({ pad: 'bucket-32' }),
    phone: field.string().encrypted().nullable(),
  },
});

function contact(i: number, tenantId: string): InferRecord<typeof Contact> {
  return {
    id: `c_${i}`,
    tenantId,
    email: `c${i}@${tenantId}.example`,
    phone: i % 5 === 0 ? null : `+1555${i}`,
  };
}

const profile: InferRecord<typeof Profile> = {
  org: 'acme',
  seq: 7,
  shard: 3n,
  name: 'Ada Lovelace',
  age: 36.5,
  wealth: -(2n ** 70n),
  verified: true,
  born: new Date('1815-12-10T00:00:00.000Z'),
  photo: new Uint8Array([0, 1, 2, 255]),
  prefs: { theme: 'dark', tags: ['a', 'ü'] },
  nick: null,
  visits: 12,
  flags: ['beta'],
};

describe.each<KeyMode>(['embedded', 'store'])('typed models, %s keys', (mode) => {
  it('round-trips a record with every field kind; stored types follow the storage', async () => {
    const { client, provision } = setup(mode);
    const fs = client([Profile]);
    await provision(fs, ['acme']);
    const row = await encryptRecord(fs, Profile, profile);
    for (const name of ['name', 'wealth', 'verified', 'born', 'photo'] as const) {
      expect(Buffer.isBuffer(row[name]), name).toBe(true);
    }
    expect(row.age).toMatch(/^fs1:/);
    expect(row.prefs).toMatch(/^fs1:/);
    expect(row.nick).toBeNull(); // presence is visible
    expect('bio' in row).toBe(false);
    expect([row.org, row.seq, row.shard, row.visits, row.flags]).toEqual([
      'acme',
      7,
      3n,
      12,
      ['beta'],
    ]);
    expect(await decryptRecord(fs, Profile, row)).toEqual(profile);
    const withBio = { ...profile, nick: 'ada', bio: 'Analyst' };
    const back = await decryptRecord(fs, Profile, await encryptRecord(fs, Profile, withBio));
    expect(back).toEqual(withBio);
    expect(back.photo).toBeInstanceOf(Uint8Array);
    expect(back.born).toBeInstanceOf(Date);
    expect(typeof back.wealth).toBe('bigint');
  });

  it('binds { tenant, table, field, record, ...context }: the client decrypts with exactly that', async () => {
    const { client, provision } = setup(mode);
    const fs = client([Profile, Customer]);
    await provision(fs, ['acme']);
    const row = await encryptRecord(fs, Profile, profile);
    const ctx = { tenant: 'acme', table: 'profiles', field: 'name', record: ['acme', '7', '3'] };
    expect(await fs.decrypt(row.name, ctx)).toBe('Ada Lovelace');
    expect((await rejection(fs.decrypt(row.name, { ...ctx, record: 'acme' }))).code).toBe(
      'ERR_AUTHENTICATION_FAILED',
    );
    const c = await encryptRecord(fs, Customer, customer(2));
    const notesCtx = { tenant: 'acme', table: 'customers', field: 'notes', record: 'cus_2' };
    expect(await fs.decrypt(c.notes!, { ...notesCtx, purpose: 'crm' })).toEqual({ vip: false });
    expect((await rejection(fs.decrypt(c.notes!, notesCtx))).code).toBe(
      'ERR_AUTHENTICATION_FAILED',
    );
  });

  it('a value copied to another record, field or tenant does not decrypt', async () => {
    const { client, provision } = setup(mode);
    const fs = client([Contact]);
    await provision(fs, ['acme', 'globex']);
    const [a, b, g] = await encryptRecords(fs, Contact, [
      contact(1, 'acme'),
      contact(2, 'acme'),
      contact(3, 'globex'),
    ]);
    expect(await decryptRecord(fs, Contact, a!)).toEqual(contact(1, 'acme'));

    const otherRecord = await rejection(decryptRecord(fs, Contact, { ...b!, email: a!.email }));
    expect(otherRecord.code).toBe('ERR_AUTHENTICATION_FAILED');
    expect(otherRecord.details.field).toBe('contacts.email');
    // Same class and code as the client's error, which stays reachable as the cause.
    expect(otherRecord).toBeInstanceOf(AuthenticationFailedError);
    expect((otherRecord.cause as FieldsealError).code).toBe('ERR_AUTHENTICATION_FAILED');

    const otherField = await rejection(decryptRecord(fs, Contact, { ...a!, phone: a!.email }));
    expect(otherField.code).toBe('ERR_AUTHENTICATION_FAILED');
    expect(otherField.details.field).toBe('contacts.phone');

    // Same record id, another tenant: a key-level refusal (see docs/threat-model.md).
    const otherTenant = await rejection(
      decryptRecord(fs, Contact, { ...g!, id: a!.id, email: a!.email }),
    );
    expect(otherTenant.code).toBe(mode === 'embedded' ? 'ERR_KEY_UNWRAP_FAILED' : 'ERR_WRONG_KEY');
    expect(otherTenant.details.field).toBe('contacts.email');
  });

  it('a batch over 3 tenants x 200 records costs at most one unwrap per tenant', async () => {
    const { client, provision, provider } = setup(mode);
    const writer = client([Contact]);
    const tenants = ['t1', 't2', 't3'];
    await provision(writer, tenants);
    const records = tenants.flatMap((t) => Array.from({ length: 200 }, (_, i) => contact(i, t)));
    const before = provider.calls;
    const rows = await encryptRecords(writer, Contact, records);
    const written = provider.calls;
    expect(written.generate - before.generate).toBeLessThanOrEqual(3);
    expect(written.unwrap - before.unwrap).toBeLessThanOrEqual(3);

    const reader = client([Contact]); // cold cache
    const back = await decryptRecords(reader, Contact, rows);
    expect(back).toEqual(records);
    expect(provider.calls.unwrap - written.unwrap).toBe(3); // one per tenant, cold cache
    expect(provider.calls.generate).toBe(written.generate);
  });

  it('a tampered value in record 17 -> BatchError naming index 17 and the field; settled form', async () => {
    const { client, provision } = setup(mode);
    const fs = client([Contact]);
    const tenants = ['t1', 't2', 't3'];
    await provision(fs, tenants);
    const records = Array.from({ length: 60 }, (_, i) => contact(i, tenants[i % 3]!));
    const rows = await encryptRecords(fs, Contact, records);
    const tampered = Buffer.from(rows[17]!.email);
    tampered[tampered.length - 1]! ^= 1;
    rows[17] = { ...rows[17]!, email: tampered };

    const err = (await rejection(decryptRecords(fs, Contact, rows))) as BatchError;
    expect(err).toBeInstanceOf(BatchError);
    expect(err.code).toBe('ERR_BATCH_FAILED');
    expect(err.failures.map((f) => [f.index, f.error.code, f.error.details.field])).toEqual([
      [17, 'ERR_AUTHENTICATION_FAILED', 'contacts.email'],
    ]);
    const json = JSON.stringify(err) + JSON.stringify(err.failures[0]!.error);
    expect(json).not.toContain('example');
    expect(json).not.toContain('+1555');

    const settled = await decryptRecordsSettled(fs, Contact, rows);
    expect(settled).toHaveLength(60);
    settled.forEach((r, i) => {
      if (i === 17) {
        expect(r.ok).toBe(false);
        if (!r.ok) {
          expect(r.errors.map((e) => [e.field, e.error.code])).toEqual([
            ['email', 'ERR_AUTHENTICATION_FAILED'],
          ]);
          expect('record' in r).toBe(false); // never a half-decrypted record
        }
      } else {
        expect(r).toEqual({ ok: true, record: records[i] });
      }
    });
  });

  it('WriteOnly field: encryptRecord works, decryptRecord fails with ERR_MODE_FORBIDDEN', async () => {
    const { client, provision } = setup(mode);
    const fs = client([Customer]);
    await provision(fs, ['acme']);
    const row: InferStored<typeof Customer> = await encryptRecord(fs, Customer, customer(1));
    expect(Buffer.isBuffer(row.ssn)).toBe(true);
    const err = await rejection(decryptRecord(fs, Customer, row));
    expect(err.code).toBe('ERR_MODE_FORBIDDEN');
    expect(err.details.field).toBe('customers.ssn');
    // A null WriteOnly value is not a value: the rest of the record reads.
    const noSsn = await encryptRecord(fs, Customer, customer(3));
    expect(noSsn.ssn).toBeNull();
    expect(await decryptRecord(fs, Customer, noSsn)).toEqual(customer(3));
  });
});

describe('typed models: registration with the client', () => {
  it('a client without the model policies is refused before any key is touched', async () => {
    const provider = new MemoryKeyProvider();
    const bare = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: CACHE,
    });
    const write = await rejection(encryptRecord(bare, Customer, customer(1)));
    expect(write.code).toBe('ERR_KEY_NOT_CONFIGURED');
    expect(write.message).toBe(
      'model customers.email is not registered with this client: pass models: [Model] to createFieldseal (or fields: { ...Model.policies })',
    );
    expect(write.details.field).toBe('customers.email');
    const registered = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: CACHE,
      fields: { ...Customer.policies },
    });
    const row = await encryptRecord(registered, Customer, customer(1));
    const callsBefore = provider.calls;
    // The WriteOnly field can never be read through a client that does not know it.
    const readOnlySsn = createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: CACHE,
      fields: { ...Customer.policies, 'customers.ssn': {} },
    });
    const read = await rejection(decryptRecord(readOnlySsn, Customer, row));
    expect(read.code).toBe('ERR_KEY_NOT_CONFIGURED');
    expect(read.details.field).toBe('customers.ssn');
    expect((await rejection(decryptRecords(bare, Customer, [row]))).code).toBe(
      'ERR_KEY_NOT_CONFIGURED',
    );
    expect(provider.calls).toEqual(callsBefore);
  });

  it('policies compare by effect (pad 16 = bucket-16), and a differing pad is refused', async () => {
    const Padded = defineModel({
      table: 'notes',
      tenant: 't',
      key: ['id'],
      fields: {
        id: field.string(),
        t: field.string(),
        body: field.string().encrypted({ pad: 'bucket-16', mode: 'ReadWrite' }),
      },
    });
    expect(Padded.policies).toEqual({ 'notes.body': { pad: 'bucket-16', mode: 'ReadWrite' } });
    const make = (fields: FieldsealOptions['fields']): Fieldseal =>
      createFieldseal({
        admin: true,
        provider: new MemoryKeyProvider(),
        keys: { mode: 'embedded', masterKeyId: 'master' },
        cache: CACHE,
        fields,
      });
    const record = { id: 'n1', t: 'acme', body: 'hello' };
    const same = make({ 'notes.body': { pad: 16 } });
    expect(await decryptRecord(same, Padded, await encryptRecord(same, Padded, record))).toEqual(
      record,
    );
    const other = make({ 'notes.body': { pad: 'bucket-32' } });
    expect((await rejection(encryptRecord(other, Padded, record))).code).toBe(
      'ERR_KEY_NOT_CONFIGURED',
    );
    // A model whose encrypted fields use the defaults needs no policies.
    const Plain = defineModel({
      table: 'notes',
      tenant: 't',
      key: ['id'],
      fields: { id: field.string(), t: field.string(), body: field.string().encrypted() },
    });
    expect(Plain.policies).toEqual({ 'notes.body': {} });
    const bare = make(undefined);
    expect(await decryptRecord(bare, Plain, await encryptRecord(bare, Plain, record))).toEqual(
      record,
    );
  });
});

describe('typed models: migration and value checks', () => {
  const Users = defineModel({
    table: 'users',
    tenant: 'tenantId',
    key: ['id'],
    fields: {
      id: field.string(),
      tenantId: field.string(),
      phone: field.string().encrypted({ allowPlaintextRead: true }),
      email: field.string().encrypted(),
      age: field.number().encrypted().nullable(),
    },
  });
  const fs = createFieldseal({
    admin: true,
    provider: new MemoryKeyProvider(),
    keys: { mode: 'embedded', masterKeyId: 'master' },
    cache: CACHE,
    fields: { ...Users.policies },
  });
  const user = { id: 'u1', tenantId: 'acme', phone: '+15550100', email: 'u@x.io', age: 40 };

  it('a migration field returns legacy plaintext and counts it; other fields refuse it', async () => {
    const row = await encryptRecord(fs, Users, user);
    const legacy = { ...row, phone: '+15550100' };
    expect(await decryptRecord(fs, Users, legacy)).toEqual(user);
    expect(fs.metrics().plaintextReads).toEqual({ 'users.phone': 1 });
    const err = await rejection(decryptRecord(fs, Users, { ...row, email: 'u@x.io' }));
    expect(err.code).toBe('ERR_PLAINTEXT_IN_ENCRYPTED_FIELD');
    expect(err.details.field).toBe('users.email');
  });

  it('values of the wrong type or missing values are typed errors naming the field', async () => {
    const wrongType = { ...user, age: '40' } as unknown as typeof user;
    const e1 = await rejection(encryptRecord(fs, Users, wrongType));
    expect([e1.code, e1.details.field]).toEqual(['ERR_UNSUPPORTED_VALUE', 'users.age']);
    expect(e1.message).not.toContain('40');
    const noEmail = { ...user, email: null } as unknown as typeof user;
    const e2 = await rejection(encryptRecord(fs, Users, noEmail));
    expect([e2.code, e2.details.field]).toEqual(['ERR_UNSUPPORTED_VALUE', 'users.email']);

    const rows = await encryptRecords(fs, Users, [user, { ...user, id: 'u2' }]);
    const nulled = { ...rows[1]!, email: null } as unknown as (typeof rows)[number];
    const e3 = (await rejection(decryptRecords(fs, Users, [rows[0]!, nulled]))) as BatchError;
    expect(e3.failures.map((f) => [f.index, f.error.code, f.error.details.field])).toEqual([
      [1, 'ERR_MALFORMED_CIPHERTEXT', 'users.email'],
    ]);
    // A value written outside the model with another type does not pass as the field's type.
    const ctx = { tenant: 'acme', table: 'users', field: 'age', record: 'u1' };
    const asText = { ...rows[0]!, age: await fs.encryptToBytes('forty', ctx) };
    const e4 = await rejection(decryptRecord(fs, Users, asText));
    expect([e4.code, e4.details.field]).toEqual(['ERR_UNSUPPORTED_VALUE', 'users.age']);
  });

  it('encryptRecords reports every failed record and field, in order, and returns nothing', async () => {
    const records = Array.from({ length: 10 }, (_, i) => ({ ...user, id: `u${i}` }));
    records[5] = { ...records[5]!, age: 'x' as unknown as number, email: 1 as unknown as string };
    records[8] = { ...records[8]!, tenantId: '' }; // refused by the client (empty tenant)
    const err = (await rejection(encryptRecords(fs, Users, records))) as BatchError;
    expect(err.failures.map((f) => [f.index, f.error.code, f.error.details.field])).toEqual([
      [5, 'ERR_UNSUPPORTED_VALUE', 'users.email'],
      [5, 'ERR_UNSUPPORTED_VALUE', 'users.age'],
      [8, 'ERR_INVALID_CONTEXT', 'users.phone'],
      [8, 'ERR_INVALID_CONTEXT', 'users.email'],
      [8, 'ERR_INVALID_CONTEXT', 'users.age'],
    ]);
  });

  it('record shape mistakes are TypeErrors, before any key is used', async () => {
    const bad = (r: unknown): Promise<unknown> => encryptRecord(fs, Users, r as typeof user);
    await expect(bad({ ...user, tenantId: 42 })).rejects.toThrow(TypeError);
    await expect(bad({ ...user, id: true })).rejects.toThrow(/key values must be/);
    await expect(bad({ ...user, Phone: 'x' })).rejects.toThrow(/does not declare/);
    await expect(bad(null)).rejects.toThrow(TypeError);
    await expect(encryptRecord(fs, {} as typeof Users, user)).rejects.toThrow(/defineModel/);
  });
});

describe('typed models: definition errors', () => {
  const define = defineModel as unknown as (definition: unknown) => AnyModel;
  const base = {
    table: 'customers',
    tenant: 'tenantId',
    key: ['id'],
    fields: { id: field.string(), tenantId: field.string() },
  };
  const cases: [string, unknown, RegExp][] = [
    [
      'encrypted tenant',
      {
        ...base,
        tenant: 'tenantId',
        fields: { id: field.string(), tenantId: field.string().encrypted() },
      },
      /customers\.tenantId: an encrypted field cannot be the tenant/,
    ],
    [
      'encrypted key',
      { ...base, fields: { ...base.fields, id: field.string().encrypted() } },
      /customers\.id: an encrypted field cannot be a key field/,
    ],
    [
      'indexed encrypted field (.indexed() first)',
      { ...base, fields: { ...base.fields, email: field.string().indexed().encrypted() } },
      /customers\.email: an encrypted field cannot be indexed/,
    ],
    [
      'indexed encrypted field (option)',
      {
        ...base,
        fields: { ...base.fields, email: field.string().encrypted({ indexed: true } as object) },
      },
      /customers\.email: an encrypted field cannot be indexed/,
    ],
    ['unknown tenant', { ...base, tenant: 'org' }, /tenant field "org" is not declared/],
    ['unknown key', { ...base, key: ['id', 'nope'] }, /key field "nope" is not declared/],
    ['empty key', { ...base, key: [] }, /key: expected a non-empty list/],
    ['dotted table', { ...base, table: 'crm.customers' }, /table "crm\.customers".*"\."/],
    [
      'dotted field',
      { ...base, fields: { ...base.fields, 'a.b': field.string() } },
      /field "a\.b".*"\."/,
    ],
    [
      'reserved context name',
      {
        ...base,
        fields: { ...base.fields, x: field.string().encrypted({ context: { record: 'r' } }) },
      },
      /customers\.x: context: "record" is reserved/,
    ],
    [
      'non-string context value',
      {
        ...base,
        fields: { ...base.fields, x: field.string().encrypted({ context: { p: 1 } } as object) },
      },
      /customers\.x: context: "p" must be a string/,
    ],
    [
      'nullable key',
      { ...base, fields: { ...base.fields, id: field.string().nullable() } },
      /customers\.id: key fields must be required/,
    ],
    [
      'number tenant',
      { ...base, fields: { ...base.fields, tenantId: field.number() } },
      /customers\.tenantId: the tenant field must be a required field\.string\(\)/,
    ],
    [
      'not a builder',
      { ...base, fields: { ...base.fields, x: 'string' } },
      /customers\.x: expected a field builder/,
    ],
    [
      'bad pad',
      { ...base, fields: { ...base.fields, x: field.string().encrypted({ pad: 1 }) } },
      /customers\.x: pad/,
    ],
    [
      'plaintext reads on a date field',
      {
        ...base,
        fields: { ...base.fields, x: field.date().encrypted({ allowPlaintextRead: true }) },
      },
      /customers\.x: allowPlaintextRead is only for string and bytes fields/,
    ],
    [
      'bad storage',
      {
        ...base,
        fields: { ...base.fields, x: field.string().encrypted({ storage: 'hex' } as object) },
      },
      /customers\.x: storage/,
    ],
  ];
  it.each(cases)('%s -> TypeError naming it', (_name, definition, message) => {
    expect(() => define(definition)).toThrow(TypeError);
    expect(() => define(definition)).toThrow(message);
  });

  it('builders are immutable and refuse a second .encrypted()', () => {
    const s = field.string();
    const e = s.encrypted();
    expect(e).not.toBe(s);
    expect(Object.isFrozen(e)).toBe(true);
    const twice = e as unknown as { encrypted(): unknown };
    expect(() => twice.encrypted()).toThrow(/already encrypted/);
    expect(define(base).policies).toEqual({});
    expect(Object.isFrozen(Customer)).toBe(true);
    expect(Object.isFrozen(Customer.policies)).toBe(true);
  });
});

describe('typed models: the seed shape', () => {
  const shape = {
    name: 'Credential',
    table: { name: 'credentials_contract' },
    keys: { partition: { attribute: 'PK', type: 'S' }, sort: { attribute: 'SK', type: 'S' } },
    attributes: [
      { attribute: 'PK', type: 'S', roles: ['pk'] },
      { attribute: 'SK', type: 'S', roles: ['sk'] },
      { attribute: 'tenantId', type: 'S' },
      { attribute: 'secret', type: 'S', encryption: { v: 1 } },
      { attribute: 'blob', type: 'B', encryption: { v: 1 } },
      { attribute: 'count', type: 'N', encryption: { v: 1, storage: 'text' } },
      { attribute: 'enabled', type: 'BOOL' },
    ],
    tenant: 'tenantId',
  } as const;

  it('maps S/N/B/BOOL, keys to the record key, and round-trips', async () => {
    const Credential = defineModelFromSeedShape(shape);
    expect([Credential.name, Credential.table, Credential.tenant, Credential.key]).toEqual([
      'Credential',
      'credentials_contract',
      'tenantId',
      ['PK', 'SK'],
    ]);
    const fs = createFieldseal({
      admin: true,
      provider: new MemoryKeyProvider(),
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: CACHE,
      fields: { ...Credential.policies },
    });
    const record = {
      PK: 'TENANT#acme',
      SK: 'CRED#1',
      tenantId: 'acme',
      secret: 's3cr3t',
      blob: new Uint8Array([9, 8, 7]),
      count: 3,
      enabled: true,
    };
    const row = await encryptRecord(fs, Credential, record);
    expect(typeof row.count).toBe('string');
    expect(await decryptRecord(fs, Credential, row)).toEqual(record);
    const ctx = { tenant: 'acme', table: 'credentials_contract', field: 'secret' };
    expect(await fs.decrypt(row.secret, { ...ctx, record: ['TENANT#acme', 'CRED#1'] })).toBe(
      's3cr3t',
    );
  });

  it('refuses a missing tenant, mismatched keys and bad attributes', () => {
    const seed = defineModelFromSeedShape as unknown as (d: unknown) => AnyModel;
    const noTenant = Object.fromEntries(Object.entries(shape).filter(([k]) => k !== 'tenant'));
    expect(() => seed(noTenant)).toThrow(/tenant: name the attribute holding the tenant id/);
    const typeMismatch = {
      ...shape,
      keys: { partition: { attribute: 'PK', type: 'N' } },
      attributes: shape.attributes.filter((a) => a.attribute !== 'SK'),
    };
    expect(() => seed(typeMismatch)).toThrow(/keys: each key must be a listed attribute/);
    const roles = { ...shape, keys: { partition: { attribute: 'SK', type: 'S' } } };
    expect(() => seed(roles)).toThrow(TypeError);
    const binaryKey = {
      ...shape,
      keys: { partition: { attribute: 'b', type: 'B' } },
      attributes: [{ attribute: 'b', type: 'B' }, ...shape.attributes.slice(2)],
    };
    expect(() => seed(binaryKey)).toThrow(/key fields must be required string, number or bigint/);
    const encryptedKey = {
      ...shape,
      attributes: [
        { attribute: 'PK', type: 'S', encryption: { v: 1 } },
        ...shape.attributes.slice(1),
      ],
    };
    expect(() => seed(encryptedKey)).toThrow(/an encrypted field cannot be a key field/);
    const v2 = {
      ...shape,
      attributes: [...shape.attributes, { attribute: 'x', type: 'S', encryption: { v: 2 } }],
    };
    expect(() => seed(v2)).toThrow(/encryption: expected \{ v: 1 \}/);
    const twice = { ...shape, attributes: [...shape.attributes, shape.attributes[2]] };
    expect(() => seed(twice)).toThrow(/listed twice/);
  });
});
