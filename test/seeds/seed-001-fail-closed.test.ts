import { inspect } from 'node:util';
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createFieldseal,
  defineModelFromSeedShape,
  type Fieldseal,
  type KeyProvider,
} from '../../src/index.js';
import { createPostgresRepository, fromPGlite, type SqlClient } from '../../src/postgres/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { startAwsKmsFixture, type AwsKmsFixture } from '../loopback/aws-kms-fixture.js';
import { migratedPGlite } from '../integration/pg-env.js';

/*
 * Seed 001 (the fail-closed encryption contract), written in fieldseal as a TheoryDB user
 * would: the seed's TypeScript `defineModel` shape (through defineModelFromSeedShape) on
 * PostgreSQL (PGlite), a KMS key through the real AWS SDK (loopback KMS). Each `it` is named
 * after the sentence of the contract it proves.
 *
 * One deviation, documented in docs/seeds.md: fieldseal models name a tenant attribute (the
 * seed's model has none; single-tenant models are not in yet), so the model adds `tenantId`.
 */

const Credential = defineModelFromSeedShape({
  name: 'Credential',
  table: { name: 'credentials_contract' },
  keys: {
    partition: { attribute: 'PK', type: 'S' },
    sort: { attribute: 'SK', type: 'S' },
  },
  attributes: [
    { attribute: 'PK', type: 'S', roles: ['pk'] },
    { attribute: 'SK', type: 'S', roles: ['sk'] },
    { attribute: 'tenantId', type: 'S' },
    { attribute: 'secret', type: 'S', encryption: { v: 1 } },
  ],
  tenant: 'tenantId',
});

const SECRET = 'canary-credential-7f3a';
const record = { PK: 'USER#1', SK: 'CRED#api', tenantId: 'acme', secret: SECRET };

describe('seed 001: the fail-closed encryption contract', () => {
  let db: PGlite;
  let sql: SqlClient;
  let kms: AwsKmsFixture;

  beforeAll(async () => {
    db = await migratedPGlite();
    sql = fromPGlite(db);
    kms = await startAwsKmsFixture();
    await kms.tenants('acme');
  });
  afterAll(async () => {
    await kms.close();
    await db.close();
  });

  const client = (
    provider: KeyProvider = kms.provider(),
    masterKeyId = 'alias/fieldseal/acme',
  ): Fieldseal =>
    createFieldseal({
      provider,
      keys: { mode: 'embedded', masterKeyId },
      cache: { maxAgeMs: 1 },
      fields: Credential.policies,
    });

  it('No KMS key configured + encrypted field write: write fails before touching the database', async () => {
    const noKey = client(new MemoryKeyProvider({ masterKeys: [] }), 'master');
    const repo = createPostgresRepository({ sql, fs: noKey, model: Credential });
    await repo.createTable();
    const err = await repo.insert([record]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_BATCH_FAILED' });
    expect((err as { failures: { error: unknown }[] }).failures[0]?.error).toMatchObject({
      code: 'ERR_KEY_NOT_CONFIGURED',
    });
    const rows = await db.query('SELECT * FROM credentials_contract');
    expect(rows.rows).toHaveLength(0);
  });

  it('On write, fields with the encrypted flag are stored as ciphertext; on read they are decrypted', async () => {
    const repo = createPostgresRepository({ sql, fs: client(), model: Credential });
    await repo.insert([record]);
    expect(
      JSON.stringify((await db.query('SELECT * FROM credentials_contract')).rows),
    ).not.toContain(SECRET);
    expect(await repo.get('acme', ['USER#1', 'CRED#api'])).toEqual(record);
  });

  it('KMS key revoked / inaccessible + encrypted field read: read fails, returning a typed encryption error', async () => {
    kms.kms.setKeyState('alias/fieldseal/acme', 'Disabled');
    try {
      const repo = createPostgresRepository({ sql, fs: client(), model: Credential });
      const err = await repo.get('acme', ['USER#1', 'CRED#api']).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
      expect(inspect(err, { depth: 10 })).not.toContain(SECRET);
    } finally {
      kms.kms.setKeyState('alias/fieldseal/acme', 'Enabled');
    }
  });

  it('Decryption fails (wrong key, corrupted ciphertext): read fails. The plaintext is never inferred or guessed', async () => {
    const { rows } = await db.query<{ secret: Uint8Array }>(
      'SELECT secret FROM credentials_contract',
    );
    const corrupted = Buffer.from(rows[0]!.secret);
    corrupted[corrupted.length - 1]! ^= 1;
    await db.query('UPDATE credentials_contract SET secret = $1', [corrupted]);
    const repo = createPostgresRepository({ sql, fs: client(), model: Credential });
    await expect(repo.get('acme', ['USER#1', 'CRED#api'])).rejects.toMatchObject({
      code: 'ERR_AUTHENTICATION_FAILED',
    });
    await db.query('UPDATE credentials_contract SET secret = $1', [rows[0]!.secret]);
    const otherKey = client(new MemoryKeyProvider({ masterKeys: ['alias/fieldseal/acme'] }));
    await expect(
      createPostgresRepository({ sql, fs: otherKey, model: Credential }).get('acme', [
        'USER#1',
        'CRED#api',
      ]),
    ).rejects.toMatchObject({ code: 'ERR_KEY_NOT_CONFIGURED' }); // another provider's key
  });

  it('Encrypted values are never logged: the redaction layer suppresses them at logging sites', async () => {
    const repo = createPostgresRepository({ sql, fs: client(), model: Credential });
    const read = await repo.get('acme', ['USER#1', 'CRED#api']);
    const { rows } = await db.query('SELECT * FROM credentials_contract');
    for (const printed of [inspect(rows, { depth: 10 }), JSON.stringify(rows)]) {
      expect(printed).not.toContain(SECRET);
    }
    expect(read?.secret).toBe(SECRET); // the caller, and only the caller, holds the value
  });

  it('No global "disable encryption" flag: the test kit needs no opt-out at all', async () => {
    // The seed allows an opt-out per test fixture; fieldseal's test kit is an in-memory key
    // provider that encrypts for real, so tests never turn encryption off.
    const fs = client(new MemoryKeyProvider({ masterKeys: ['master'] }), 'master');
    const repo = createPostgresRepository({ sql, fs, model: Credential });
    await repo.insert([{ ...record, PK: 'USER#2' }]);
    const { rows } = await db.query(
      'SELECT secret FROM credentials_contract WHERE "PK" = \'USER#2\'',
    );
    expect(JSON.stringify(rows)).not.toContain(SECRET);
    // And no option turns it off: FieldsealOptions has no such setting (a compile error).
    const options: Parameters<typeof createFieldseal>[0] = {
      provider: new MemoryKeyProvider(),
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 1 },
      // @ts-expect-error there is no switch to disable encryption
      disableEncryption: true,
    };
    expect(options).toBeDefined();
  });
});
