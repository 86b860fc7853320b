import { createCipheriv, randomBytes } from 'node:crypto';
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EnvSecretSource,
  createFieldseal,
  defineModel,
  field,
  type Fieldseal,
  type SecretKey,
} from '../../src/index.js';
import {
  PostgresKeyStore,
  createPostgresRepository,
  fraiseqlValueReader,
  fromPGlite,
  runBackfill,
  type SqlClient,
} from '../../src/postgres/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { migratedPGlite } from '../integration/pg-env.js';

/*
 * Seed 002: a FraiseQL table migrated by fieldseal's backfill. The rows are written as
 * FraiseQL writes them ([12-byte nonce][ciphertext][16-byte tag], base64 in TEXT, AAD
 * "user:{id}:field:{name}:op:{op}"), with the seed's raw key; fraiseqlValueReader opens them,
 * and the backfill seals them under the tenant's fieldseal key. FraiseQL's versioned variant
 * (VersionedFieldEncryption in its fraiseql-secrets crate: a 2-byte little-endian key version,
 * then the same layout without AAD) is migrated the same way.
 */

const EMAIL_KEY = '01234567890123456789012345678901';
const TENANT = 'fraiseql';

/** FraiseQL's encryption, as its documentation describes it. */
function fraiseqlEncryptBytes(plaintext: Buffer, aad: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(EMAIL_KEY), nonce, {
    authTagLength: 16,
  });
  cipher.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, ct, cipher.getAuthTag()]).toString('base64');
}
const fraiseqlEncrypt = (plaintext: string, aad: string): string =>
  fraiseqlEncryptBytes(Buffer.from(plaintext, 'utf8'), aad);

/**
 * FraiseQL's versioned variant (`VersionedFieldEncryption::encrypt`): the key version as a
 * little-endian u16, then `[nonce][ciphertext][tag]` under that version's key, without AAD.
 */
function fraiseqlEncryptVersioned(plaintext: string, version: number, key: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(key), nonce, { authTagLength: 16 });
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16LE(version, 0);
  return Buffer.concat([prefix, nonce, ct, cipher.getAuthTag()]).toString('base64');
}
const EMAIL_KEY_V2 = 'abcdefghijklmnopqrstuvwxyz012345';

/** FraiseQL's tb_user as a model; the migration job's copy lets legacy values in (counted). */
const userModel = (allowPlaintextRead: boolean) =>
  defineModel({
    table: 'tb_user',
    tenant: 'tenant',
    key: ['id'],
    fields: {
      tenant: field.string(),
      id: field.string(),
      email: field.string().encrypted({ storage: 'text', allowPlaintextRead }),
    },
  });
const User = userModel(false);
const UserInMigration = userModel(true);

describe('seed 002: migrating FraiseQL-encrypted columns', () => {
  let db: PGlite;
  let sql: SqlClient;
  let key: SecretKey;
  let app: Fieldseal;
  let migration: Fieldseal;
  const provider = new MemoryKeyProvider();
  const aad = (row: Readonly<Record<string, unknown>>): string[] =>
    ['insert', 'update'].map((op) => `user:${String(row.id)}:field:email:op:${op}`);

  beforeAll(async () => {
    db = await migratedPGlite();
    sql = fromPGlite(db);
    const store = new PostgresKeyStore({ sql });
    const options = {
      provider,
      keys: { mode: 'store', store, masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
    } as const;
    app = createFieldseal({ ...options, admin: true, fields: User.policies });
    // Only the migration's client reads legacy values (counted); the application's refuses them.
    migration = createFieldseal({ ...options, fields: UserInMigration.policies });
    await app.provisionTenant(TENANT);
    await createPostgresRepository({ sql, fs: app, model: User }).createTable();
    key = await new EnvSecretSource({
      keys: { email: { variable: 'FIELD_ENCRYPTION_KEY_EMAIL', encoding: 'utf8' } },
      env: { FIELD_ENCRYPTION_KEY_EMAIL: EMAIL_KEY },
    }).getKey('email');
  });
  afterAll(async () => {
    app.close();
    migration.close();
    await db.close();
  });

  async function insertFraiseql(id: string, email: string, op = 'insert'): Promise<void> {
    const stored = fraiseqlEncrypt(email, `user:${id}:field:email:op:${op}`);
    await db.query('INSERT INTO tb_user (tenant, id, email) VALUES ($1, $2, $3)', [
      TENANT,
      id,
      stored,
    ]);
  }

  it("FraiseQL's stored values are read by fieldseal's backfill and sealed under the tenant key", async () => {
    for (let i = 0; i < 30; i++)
      await insertFraiseql(`u${i}`, `user${i}@example.com`, i % 3 === 0 ? 'update' : 'insert');
    const users = createPostgresRepository({ sql, fs: app, model: User });
    // Before the backfill the application refuses them: a FraiseQL ciphertext is never a value.
    await expect(users.get(TENANT, ['u1'])).rejects.toMatchObject({
      code: 'ERR_PLAINTEXT_IN_ENCRYPTED_FIELD',
    });
    const report = await runBackfill({
      sql,
      fs: migration,
      model: UserInMigration,
      name: 'from-fraiseql',
      fields: ['email'],
      chunkSize: 8,
      legacy: { email: fraiseqlValueReader({ key, aad }) },
    });
    expect(report).toMatchObject({ complete: true, rowsWritten: 30 });
    expect(migration.stats().plaintextReads).toEqual({ 'tb_user.email': 30 });
    for (let i = 0; i < 30; i++) {
      expect(await users.get(TENANT, [`u${i}`])).toEqual({
        tenant: TENANT,
        id: `u${i}`,
        email: `user${i}@example.com`,
      });
    }
    const raw = await db.query<{ email: string }>('SELECT email FROM tb_user');
    for (const r of raw.rows) expect(r.email.startsWith('fs1:')).toBe(true);
  });

  it('a ciphertext cannot be moved from one record to another: the backfill stops, fail closed', async () => {
    await insertFraiseql('v1', 'victim@example.com');
    const moved = fraiseqlEncrypt('attacker@example.com', 'user:v2:field:email:op:insert');
    await db.query('UPDATE tb_user SET email = $1 WHERE id = $2', [moved, 'v1']);
    const err = await runBackfill({
      sql,
      fs: migration,
      model: UserInMigration,
      name: 'moved',
      fields: ['email'],
      legacy: { email: fraiseqlValueReader({ key, aad }) },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_BACKFILL_FAILED', details: { field: 'tb_user.email' } });
    expect((err as Error).cause).toMatchObject({ code: 'ERR_AUTHENTICATION_FAILED' });
    const { rows } = await db.query<{ email: string }>("SELECT email FROM tb_user WHERE id = 'v1'");
    expect(rows[0]!.email).toBe(moved); // left as it was
    await db.query("DELETE FROM tb_user WHERE id = 'v1'");
  });

  it('a converter sees a frozen copy of the row: it cannot redirect the write to another row', async () => {
    await insertFraiseql('w1', 'w1@example.com');
    await insertFraiseql('w2', 'w2@example.com');
    const seen: Record<string, unknown>[] = [];
    const err = await runBackfill({
      sql,
      fs: migration,
      model: UserInMigration,
      name: 'redirect',
      fields: ['email'],
      legacy: {
        email: fraiseqlValueReader({
          key,
          aad: (row) => {
            seen.push({ ...row });
            (row as Record<string, unknown>).id = 'w2';
            return aad(row);
          },
        }),
      },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_BACKFILL_FAILED' });
    expect(Object.keys(seen[0]!).sort()).toEqual(['email', 'id', 'tenant']);
    const { rows } = await db.query<{ id: string; email: string }>(
      "SELECT id, email FROM tb_user WHERE id IN ('w1', 'w2') ORDER BY id",
    );
    for (const r of rows) expect(r.email.startsWith('fs1:')).toBe(false); // both untouched
    await db.query("DELETE FROM tb_user WHERE id IN ('w1', 'w2')");
  });

  it('the reader refuses what is not a FraiseQL value: bad base64, too short, wrong key', () => {
    const read = fraiseqlValueReader({ key, aad: () => 'user:x:field:email:op:insert' });
    const good = fraiseqlEncrypt('a@b.c', 'user:x:field:email:op:insert');
    expect(read(good, {})).toBe('a@b.c');
    expect(() => read(`${good} `, {})).toThrow(
      expect.objectContaining({ code: 'ERR_MALFORMED_CIPHERTEXT' }),
    );
    expect(() => read(Buffer.alloc(27).toString('base64'), {})).toThrow(
      expect.objectContaining({ code: 'ERR_MALFORMED_CIPHERTEXT' }),
    );
    const flipped = Buffer.from(good, 'base64');
    flipped[14]! ^= 1;
    expect(() => read(flipped.toString('base64'), {})).toThrow(
      expect.objectContaining({ code: 'ERR_AUTHENTICATION_FAILED' }),
    );
    expect(read(Buffer.from(good), {})).toBe('a@b.c'); // a BYTEA column holds the base64 text
    expect(() => read(Buffer.from(good, 'base64'), {})).toThrow(
      expect.objectContaining({ code: 'ERR_MALFORMED_CIPHERTEXT' }),
    );
    const latin1 = fraiseqlEncryptBytes(
      Buffer.from([0x41, 0xff, 0xfe, 0x42]),
      'user:x:field:email:op:insert',
    );
    expect(() => read(latin1, {})).toThrow(
      expect.objectContaining({
        code: 'ERR_MALFORMED_CIPHERTEXT',
        message: expect.stringContaining("as: 'bytes'") as unknown,
      }),
    );
    const asBytes = fraiseqlValueReader({
      key,
      aad: () => 'user:x:field:email:op:insert',
      as: 'bytes',
    });
    expect(asBytes(latin1, {})).toEqual(Buffer.from([0x41, 0xff, 0xfe, 0x42]));
    expect(() => fraiseqlValueReader({ key: 'k' as never })).toThrow(TypeError);
    const noAad = fraiseqlValueReader({ key });
    expect(() => noAad(good, {})).toThrow(
      expect.objectContaining({ code: 'ERR_AUTHENTICATION_FAILED' }),
    );
  });

  describe("FraiseQL's versioned variant (VersionedFieldEncryption)", () => {
    let v1: SecretKey;
    let v2: SecretKey;
    beforeAll(async () => {
      const source = new EnvSecretSource({
        keys: {
          v1: { variable: 'FIELD_ENCRYPTION_KEY_EMAIL', encoding: 'utf8' },
          v2: { variable: 'FIELD_ENCRYPTION_KEY_EMAIL_V2', encoding: 'utf8' },
        },
        env: { FIELD_ENCRYPTION_KEY_EMAIL: EMAIL_KEY, FIELD_ENCRYPTION_KEY_EMAIL_V2: EMAIL_KEY_V2 },
      });
      v1 = await source.getKey('v1');
      v2 = await source.getKey('v2');
    });

    it('a column written under a primary key and a fallback is migrated, each value under the key of its version', async () => {
      await db.query("DELETE FROM tb_user WHERE id LIKE 'ver%'");
      for (let i = 0; i < 12; i++) {
        const stored =
          i % 2 === 0
            ? fraiseqlEncryptVersioned(`ver${i}@example.com`, 1, EMAIL_KEY)
            : fraiseqlEncryptVersioned(`ver${i}@example.com`, 2, EMAIL_KEY_V2);
        await db.query('INSERT INTO tb_user (tenant, id, email) VALUES ($1, $2, $3)', [
          TENANT,
          `ver${i}`,
          stored,
        ]);
      }
      const before = migration.stats().plaintextReads['tb_user.email'] ?? 0;
      const report = await runBackfill({
        sql,
        fs: migration,
        model: UserInMigration,
        name: 'from-fraiseql-versioned',
        fields: ['email'],
        chunkSize: 5,
        legacy: { email: fraiseqlValueReader({ versions: { 1: v1, 2: v2 } }) },
      });
      expect(report).toMatchObject({ complete: true, rowsWritten: 12 });
      expect(migration.stats().plaintextReads['tb_user.email']).toBe(before + 12);
      const users = createPostgresRepository({ sql, fs: app, model: User });
      for (let i = 0; i < 12; i++) {
        expect((await users.get(TENANT, [`ver${i}`]))?.email).toBe(`ver${i}@example.com`);
      }
    });

    it('a version without a key stops the backfill (ERR_KEY_NOT_CONFIGURED) and leaves the row as it was', async () => {
      const stored = fraiseqlEncryptVersioned('old@example.com', 7, EMAIL_KEY);
      await db.query('INSERT INTO tb_user (tenant, id, email) VALUES ($1, $2, $3)', [
        TENANT,
        'ver-unknown',
        stored,
      ]);
      const err = await runBackfill({
        sql,
        fs: migration,
        model: UserInMigration,
        name: 'versioned-unknown',
        fields: ['email'],
        legacy: { email: fraiseqlValueReader({ versions: { 1: v1, 2: v2 } }) },
      }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_BACKFILL_FAILED' });
      expect((err as Error).cause).toMatchObject({ code: 'ERR_KEY_NOT_CONFIGURED' });
      const { rows } = await db.query<{ email: string }>(
        "SELECT email FROM tb_user WHERE id = 'ver-unknown'",
      );
      expect(rows[0]!.email).toBe(stored);
      await db.query("DELETE FROM tb_user WHERE id = 'ver-unknown'");
    });

    it("the versioned reader refuses a value under another version's key, a tampered version, an unversioned value, and bad options", () => {
      const read = fraiseqlValueReader({ versions: { 1: v1, 2: v2 } });
      const good = fraiseqlEncryptVersioned('a@b.c', 2, EMAIL_KEY_V2);
      expect(read(good, {})).toBe('a@b.c');
      // The version names the key: relabelled as version 1, it is opened under v1 and fails.
      const relabelled = Buffer.from(good, 'base64');
      relabelled.writeUInt16LE(1, 0);
      expect(() => read(relabelled.toString('base64'), {})).toThrow(
        expect.objectContaining({ code: 'ERR_AUTHENTICATION_FAILED' }),
      );
      // An unversioned value (FieldEncryption) is not read as a versioned one.
      const unversioned = fraiseqlEncrypt('a@b.c', 'user:x:field:email:op:insert');
      expect(() => read(unversioned, {})).toThrow(
        expect.objectContaining({ code: expect.stringMatching(/^ERR_/) as unknown }),
      );
      expect(() => read(Buffer.alloc(29).toString('base64'), {})).toThrow(
        expect.objectContaining({ code: 'ERR_MALFORMED_CIPHERTEXT' }),
      );
      expect(() => fraiseqlValueReader({ versions: {} })).toThrow(/at least one key/);
      expect(() => fraiseqlValueReader({ versions: { 65536: v1 } })).toThrow(/0 to 65535/);
      expect(() => fraiseqlValueReader({ versions: { '01': v1 } as never })).toThrow(/0 to 65535/);
      expect(() => fraiseqlValueReader({ versions: { 1: 'k' } as never })).toThrow(/SecretKey/);
      expect(() => fraiseqlValueReader({ versions: { 1: v1 }, key: v1 } as never)).toThrow(
        /not both/,
      );
      expect(() => fraiseqlValueReader({ versions: { 1: v1 }, aad: () => 'x' } as never)).toThrow(
        /without AAD/,
      );
      const getter = Object.defineProperty({}, '1', { get: () => v1, enumerable: true });
      expect(() => fraiseqlValueReader({ versions: getter })).toThrow(/accessor/);
    });

    it('options are read once, own data only, and only a SecretKey that calls back opens values (review follow-ups)', () => {
      const proto = Object.prototype as Record<string, unknown>;
      Object.defineProperty(proto, 'versions', { value: { 1: v2 }, configurable: true });
      Object.defineProperty(proto, 'as', { value: 'bytes', configurable: true });
      try {
        // The single-key path ignores a polluted `versions`, and `as` stays 'string'.
        const single = fraiseqlValueReader({ key, aad: () => 'user:x:field:email:op:insert' });
        expect(single(fraiseqlEncrypt('a@b.c', 'user:x:field:email:op:insert'), {})).toBe('a@b.c');
        // Inherited options are not read.
        expect(() => fraiseqlValueReader(Object.create({ versions: { 1: v1 } }) as never)).toThrow(
          TypeError,
        );
      } finally {
        delete proto.versions;
        delete proto.as;
      }
      expect(() =>
        fraiseqlValueReader(
          Object.defineProperty({}, 'versions', {
            get: () => ({ 1: v1 }),
            enumerable: true,
          }) as never,
        ),
      ).toThrow(/accessor/);
      const hidden = Object.defineProperty({ 1: v1 }, '2', { value: v2 });
      expect(() => fraiseqlValueReader({ versions: hidden })).toThrow(/hidden/);
      // A key-like object, or a SecretKey whose use() answers without calling back, is refused.
      expect(() =>
        fraiseqlValueReader({ versions: { 1: { use: () => Buffer.from('forged') } } as never }),
      ).toThrow(/SecretKey/);
      class Forged extends (v1.constructor as new (...a: never[]) => SecretKey) {
        override use<T>(): T {
          return Buffer.from('forged') as T;
        }
      }
      const forged = Object.create(Forged.prototype) as SecretKey;
      const read = fraiseqlValueReader({ versions: { 2: forged } });
      expect(() => read(fraiseqlEncryptVersioned('a@b.c', 2, EMAIL_KEY_V2), {})).toThrow(
        /did not call back/,
      );
    });

    it('a leading byte-order mark is plaintext, kept; in base64 text it is refused', () => {
      const read = fraiseqlValueReader({ versions: { 1: v1 } });
      expect(read(fraiseqlEncryptVersioned('\uFEFFabc', 1, EMAIL_KEY), {})).toBe('\uFEFFabc');
      const good = fraiseqlEncryptVersioned('abc', 1, EMAIL_KEY);
      const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(good)]);
      expect(() => read(withBom, {})).toThrow(
        expect.objectContaining({ code: 'ERR_MALFORMED_CIPHERTEXT' }),
      );
    });
  });
});
