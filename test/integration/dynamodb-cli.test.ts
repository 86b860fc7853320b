import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeDynamo, startDynamoLocal, type DynamoLocal } from './dynamodb-local.js';

/*
 * `fieldseal dynamodb backfill` against the built CLI and DynamoDB Local, with the data keys in
 * a DynamoKeyStore table: seed ENC: values (wrapped by the configured provider) and values
 * under an old key version are rewritten in two resumed runs, with progress and a table.
 */

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const DIST = new URL('../../dist/', import.meta.url).href;
const AWS_ENV = {
  ...process.env,
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_REGION: 'us-east-1',
};
let dir: string;
let local: DynamoLocal;

function run(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: AWS_ENV,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function node(script: string): string {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: dir,
    encoding: 'utf8',
    env: AWS_ENV,
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

const MODELS = `
import { defineModel, field } from '${DIST}index.js';
export const Contact = defineModel({
  table: 'contacts', tenant: 'tenant', key: ['tenant', 'id'],
  fields: { tenant: field.string(), id: field.number(), email: field.string().encrypted(), note: field.string().encrypted({ storage: 'text' }).optional() },
});
`;

const OPEN = (endpoint: string) => `
import { createCipheriv, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
const { PutItemCommand, ScanCommand } = createRequire('${DIST}index.js')('@aws-sdk/client-dynamodb');
import { openDynamoFromConfig, readConfig } from '${DIST}config/index.js';
import { createDynamoRepository, DynamoKeyStore } from '${DIST}dynamodb/index.js';
import { Contact } from './models.mjs';
const config = readConfig('fieldseal.config.json');
const o = await openDynamoFromConfig(config, { fields: { ...Contact.policies }, keyTable: 'keys', admin: ['provision', 'rotate'], endpoint: '${endpoint}' });
const repo = createDynamoRepository({ client: o.client, fs: o.fs, model: Contact, tableName: 'contacts', keys: { partition: 'tenant', sort: 'id' } });
`;

describeDynamo('fieldseal dynamodb backfill (built CLI, DynamoDB Local)', () => {
  beforeAll(async () => {
    local = await startDynamoLocal();
    dir = mkdtempSync(join(tmpdir(), 'fieldseal-dynamodb-cli-'));
    expect(run(['init']).code).toBe(0);
    writeFileSync(join(dir, 'models.mjs'), MODELS);
    node(`${OPEN(local.endpoint)}
      await new DynamoKeyStore({ client: o.client, tableName: 'keys' }).createTable();
      await repo.createTable();
      await o.fs.provisionTenant('acme');
      await repo.batchWrite(Array.from({ length: 40 }, (_, i) => ({ tenant: 'acme', id: i, email: 'c' + i + '@acme.example', note: 'n' + i })));
      await o.fs.rotateTenantKey('acme');
      // 15 items as the seed wrote them: ENC: values under the configured master key
      for (let i = 40; i < 55; i++) {
        const { key, wrapped } = await o.provider.generateDataKey(config.provider.masterKeyId, { app: 'seed' });
        const nonce = randomBytes(12);
        const gcm = createCipheriv('aes-256-gcm', key.exposeBytes(), nonce, { authTagLength: 16 });
        const ct = Buffer.concat([gcm.update('s' + i + '@acme.example'), gcm.final(), gcm.getAuthTag()]);
        key.release();
        const text = 'ENC:' + Buffer.concat([Buffer.from([1, wrapped.length >> 8, wrapped.length & 255]), wrapped, nonce, ct]).toString('base64');
        await o.client.send(new PutItemCommand({ TableName: 'contacts', Item: { tenant: { S: 'acme' }, id: { N: String(i) }, email: { S: text } } }));
      }
      await o.close();
    `);
  }, 120_000);
  afterAll(async () => {
    await local?.stop();
  });

  it('rewrites seed values and old key versions in resumed runs, with progress and a table', () => {
    const common = [
      'dynamodb',
      'backfill',
      '--models',
      'models.mjs',
      '--model',
      'contacts',
      '--table',
      'contacts',
      '--partition',
      'tenant',
      '--sort',
      'id',
      '--key-table',
      'keys',
      '--endpoint',
      local.endpoint,
      '--reencrypt',
      '--legacy-fields',
      'email',
      '--legacy-context',
      '{"app":"seed"}',
      '--page-size',
      '10',
    ];
    const config = JSON.parse(
      spawnSync(
        process.execPath,
        ['-e', "process.stdout.write(require('fs').readFileSync('fieldseal.config.json','utf8'))"],
        {
          cwd: dir,
          encoding: 'utf8',
        },
      ).stdout,
    ) as { provider: { masterKeyId: string } };
    const legacyKey = ['--legacy-key', config.provider.masterKeyId];
    const first = run([...common, ...legacyKey, '--max-pages', '2']);
    expect(first.code, first.err).toBe(2);
    expect(first.err).toMatch(/20 items scanned/);
    expect(first.out).toMatch(/^state\s+scanned\s+rewritten/m);
    expect(first.out).toMatch(/incomplete\s+20\s+20/);
    const resume = /--start-key '([^']+)'/.exec(first.out)?.[1];
    expect(resume).toBeDefined();
    const rest = run([...common, ...legacyKey, '--start-key', resume!, '--json']);
    expect(rest.code, rest.err).toBe(0);
    const report = JSON.parse(rest.out) as {
      done: boolean;
      scanned: number;
      legacyValues: number;
      failed: number;
    };
    expect(report).toMatchObject({ done: true, scanned: 35, failed: 0 });
    const firstLegacy = Number(/incomplete\s+20\s+20\s+(\d+)/.exec(first.out)?.[1]);
    expect(firstLegacy + report.legacyValues).toBe(15);
    // every item now reads without the legacy option, under the active version
    const check = node(`${OPEN(local.endpoint)}
      const { items } = await repo.query('acme', 'acme', { limit: 100 });
      const { inspectEnvelope } = await import('${DIST}index.js');
      const raw = await o.client.send(new ScanCommand({ TableName: 'contacts' }));
      const versions = new Set(raw.Items.map((i) => inspectEnvelope(i.email.B).keyRef.version));
      console.log(JSON.stringify({ n: items.length, s45: items.find((c) => c.id === 45).email, versions: [...versions] }));
      await o.close();
    `);
    expect(JSON.parse(check)).toEqual({ n: 55, s45: 's45@acme.example', versions: [2] });
    // a second run has nothing left to do
    const again = run([...common, ...legacyKey, '--json']);
    expect(again.code, again.err).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ rewritten: 0, done: true });
  }, 120_000);

  it('refuses legacy fields without the seed key, before touching anything', () => {
    const r = run([
      'dynamodb',
      'backfill',
      '--models',
      'models.mjs',
      '--model',
      'contacts',
      '--table',
      'contacts',
      '--partition',
      'tenant',
      '--sort',
      'id',
      '--key-table',
      'keys',
      '--endpoint',
      local.endpoint,
      '--legacy-fields',
      'email',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('--legacy-fields needs --legacy-key');
  });
});
