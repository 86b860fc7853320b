import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EnvSecretSource,
  LocalKeyProvider,
  createBlindIndexer,
  createFieldseal,
  defineModel,
  field,
  type Fieldseal,
} from '../../src/index.js';
import { createPostgresRepository, fromPGlite, type SqlClient } from '../../src/postgres/index.js';
import { VaultKvSecretSource } from '../../src/vault/index.js';
import { startVaultServer, type LoopbackVault } from '../loopback/vault-server.js';

/*
 * Seed 002 (FraiseQL field-level encryption), written in fieldseal the way a FraiseQL user
 * would: the seed's own raw 32-character keys, one named key per field, a users table on
 * PostgreSQL (PGlite) holding only ciphertext, an HMAC column for lookups. Each `it` is named
 * after the sentence of the seed it proves. docs/seeds.md maps the rest of the seed.
 */

// The seed's example keys, exactly as its documentation sets them.
const SEED_ENV = {
  FIELD_ENCRYPTION_KEY_EMAIL: '01234567890123456789012345678901',
  FIELD_ENCRYPTION_KEY_PHONE: 'abcdefghijklmnopqrstuvwxyz012345',
  FIELDSEAL_BLIND_INDEX_KEY: 'base64:' + Buffer.alloc(32, 7).toString('base64'),
};

// The seed is single-tenant; fieldseal models name a tenant column (seed 001's single-tenant
// models are not in yet), so every row carries the one tenant.
const TENANT = 'fraiseql';

const User = defineModel({
  table: 'tb_user',
  tenant: 'tenant',
  key: ['id'],
  fields: {
    tenant: field.string(),
    id: field.string(),
    identifier: field.string(),
    name: field.string(),
    email: field
      .string()
      .encrypted({ masterKeyId: 'email' })
      .blindIndex({ bits: 32, normalize: ['trim', 'lowercase'] }),
    phone: field.string().encrypted({ masterKeyId: 'phone' }).nullable(),
    ssn: field.string().encrypted({ masterKeyId: 'email' }).nullable(),
  },
});

function keySource(env: Record<string, string | undefined> = SEED_ENV): EnvSecretSource {
  return new EnvSecretSource({
    keys: {
      email: { variable: 'FIELD_ENCRYPTION_KEY_EMAIL', encoding: 'utf8' },
      phone: { variable: 'FIELD_ENCRYPTION_KEY_PHONE', encoding: 'utf8' },
    },
    env,
  });
}

describe('seed 002: FraiseQL field-level encryption', () => {
  let db: PGlite;
  let sql: SqlClient;
  let fs: Fieldseal;
  let users: ReturnType<typeof createPostgresRepository<typeof User>>;

  beforeAll(async () => {
    db = new PGlite();
    sql = fromPGlite(db);
    fs = createFieldseal({
      provider: new LocalKeyProvider({ source: keySource() }),
      keys: { mode: 'embedded', masterKeyId: 'email' },
      cache: { maxAgeMs: 60_000 },
      fields: User.policies,
    });
    const indexer = await createBlindIndexer({
      source: new EnvSecretSource({
        keys: { 'blind-index': 'FIELDSEAL_BLIND_INDEX_KEY' },
        env: SEED_ENV,
      }),
      reference: 'blind-index',
    });
    users = createPostgresRepository({ sql, fs, model: User, blindIndex: { indexer } });
    await users.createTable();
  });
  afterAll(async () => {
    fs.close();
    await db.close();
  });

  const alice = {
    tenant: TENANT,
    id: 'a1b2c3d4',
    identifier: 'alice',
    name: 'Alice Smith',
    email: 'alice@example.com',
    phone: null,
    ssn: '123-45-6789',
  };

  it('Clients send plaintext and receive plaintext', async () => {
    await users.insert([alice]);
    expect(await users.get(TENANT, [alice.id])).toEqual(alice);
  });

  it('If you query the base table directly in PostgreSQL, you see only ciphertext', async () => {
    const raw = await db.query<Record<string, unknown>>('SELECT * FROM tb_user');
    const text = JSON.stringify(raw.rows);
    expect(raw.rows).toHaveLength(1);
    for (const secret of [alice.email, alice.ssn, 'alice@', '123-45']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('Alice Smith'); // name is not an encrypted field, as in the seed
  });

  it('Each field uses its own named key: the key name in the environment corresponds to the key_reference', async () => {
    const [row] = await users.listStored(TENANT, { limit: 1 });
    const stored = row as Record<string, unknown>;
    const email = Buffer.from(stored.email as Uint8Array);
    // The envelope names the field's key reference; a client whose source lacks it cannot read.
    expect(email.includes(Buffer.from('email'))).toBe(true);
    const withoutEmailKey = createFieldseal({
      provider: new LocalKeyProvider({
        source: new EnvSecretSource({
          keys: { phone: { variable: 'FIELD_ENCRYPTION_KEY_PHONE', encoding: 'utf8' } },
          env: SEED_ENV,
        }),
      }),
      keys: { mode: 'embedded', masterKeyId: 'phone' },
      cache: { maxAgeMs: 60_000 },
      fields: User.policies,
    });
    await expect(
      withoutEmailKey.decrypt(email, {
        tenant: TENANT,
        table: 'tb_user',
        field: 'email',
        record: alice.id,
      }),
    ).rejects.toMatchObject({ code: 'ERR_KEY_NOT_CONFIGURED' });
    withoutEmailKey.close();
  });

  it('The key must be exactly 32 bytes when interpreted as UTF-8 — the runtime refuses to start if the key length is wrong', () => {
    for (const wrong of ['0123456789012345678901234567890', '012345678901234567890123456789012']) {
      let caught: unknown;
      try {
        keySource({ ...SEED_ENV, FIELD_ENCRYPTION_KEY_EMAIL: wrong });
      } catch (err) {
        caught = err;
      }
      expect(caught).toMatchObject({ code: 'ERR_INVALID_KEY_MATERIAL' });
      expect(String((caught as Error).message)).not.toContain(wrong);
      expect(String((caught as Error).message)).toContain('FIELD_ENCRYPTION_KEY_EMAIL');
    }
  });

  it('Encrypting the same plaintext twice always produces different ciphertexts', async () => {
    const ctx = { tenant: TENANT, table: 'tb_user', field: 'email', record: 'x' };
    const a = await fs.encrypt('alice@example.com', ctx);
    const b = await fs.encrypt('alice@example.com', ctx);
    expect(a).not.toBe(b);
  });

  it('A ciphertext cannot be moved from one record to another and decrypted successfully', async () => {
    await users.insert([{ ...alice, id: 'bob', identifier: 'bob', email: 'bob@example.com' }]);
    const [a] = await db
      .query<{ email: Uint8Array }>("SELECT email FROM tb_user WHERE id = 'a1b2c3d4'")
      .then((r) => r.rows);
    await db.query("UPDATE tb_user SET email = $1 WHERE id = 'bob'", [a!.email]);
    await expect(users.get(TENANT, ['bob'])).rejects.toMatchObject({
      code: 'ERR_AUTHENTICATION_FAILED',
    });
  });

  it('Any modification to the ciphertext causes an explicit failure rather than silently returning garbage', async () => {
    const ctx = { tenant: TENANT, table: 'tb_user', field: 'ssn', record: 'r' };
    const stored = Buffer.from(await fs.encryptToBytes('123-45-6789', ctx));
    for (const at of [stored.length - 1, stored.length - 20]) {
      const flipped = Buffer.from(stored);
      flipped[at]! ^= 1;
      await expect(fs.decrypt(flipped, ctx)).rejects.toMatchObject({
        code: expect.stringMatching(
          /^ERR_(AUTHENTICATION_FAILED|MALFORMED_CIPHERTEXT)$/,
        ) as unknown,
      });
    }
    await expect(fs.decrypt(stored.subarray(0, stored.length - 1), ctx)).rejects.toThrow();
  });

  it('Lookups search on the HMAC column, not the encrypted column', async () => {
    const found = await users.findBy(TENANT, 'email', ' ALICE@example.com');
    expect(found.map((u) => u.id)).toEqual(['a1b2c3d4']);
    const columns = await db.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'tb_user'",
    );
    expect(columns.rows.map((c) => c.column_name)).toContain('email_bidx_v1');
  });
});

describe('seed 002: keys in HashiCorp Vault KV v2', () => {
  let vault: LoopbackVault;
  beforeAll(async () => {
    vault = await startVaultServer();
  });
  afterAll(async () => {
    await vault.close();
  });

  it('vault kv put secret/fraiseql/keys/email value="01234567890123456789012345678901"', async () => {
    vault.putSecret('fraiseql/keys/email', { value: SEED_ENV.FIELD_ENCRYPTION_KEY_EMAIL });
    vault.putSecret('fraiseql/keys/phone', { value: SEED_ENV.FIELD_ENCRYPTION_KEY_PHONE });
    const source = new VaultKvSecretSource({
      address: vault.address,
      auth: { method: 'token', token: vault.createToken() },
      keys: {
        email: { path: 'fraiseql/keys/email', field: 'value', encoding: 'utf8' },
        phone: { path: 'fraiseql/keys/phone', field: 'value', encoding: 'utf8' },
      },
      now: vault.now,
    });
    await source.init(); // every key validated at start-up
    const fromVault = createFieldseal({
      provider: new LocalKeyProvider({ source }),
      keys: { mode: 'embedded', masterKeyId: 'email' },
      cache: { maxAgeMs: 60_000 },
      fields: User.policies,
    });
    const fromEnv = createFieldseal({
      provider: new LocalKeyProvider({ source: keySource() }),
      keys: { mode: 'embedded', masterKeyId: 'email' },
      cache: { maxAgeMs: 60_000 },
      fields: User.policies,
    });
    // The same key bytes, wherever they are kept: a value written with one reads with the other.
    const ctx = { tenant: TENANT, table: 'tb_user', field: 'phone', record: 'r' };
    expect(await fromEnv.decrypt(await fromVault.encrypt('+1 555 0100', ctx), ctx)).toBe(
      '+1 555 0100',
    );
    fromVault.close();
    fromEnv.close();
  });
});
