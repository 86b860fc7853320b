import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

/*
 * `fieldseal backfill run|status` and `keys usage|retire` against the built CLI on PGlite.
 * The table is filled through the built package by a small script (the CLI has no insert).
 */

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const DIST = new URL('../../dist/', import.meta.url).href;
let dir: string;

function run(args: string[], cwd = dir) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function node(script: string) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: dir,
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

const MODELS = `
import { defineModel, field } from '${DIST}index.js';
export const Contact = defineModel({
  table: 'contacts', tenant: 'tenant', key: ['id'],
  fields: { tenant: field.string(), id: field.number(), email: field.string().encrypted({ storage: 'text' }) },
});
export const Member = defineModel({
  table: 'members', tenant: 'tenant', key: ['id'],
  fields: { tenant: field.string(), id: field.string(), email: field.string().encrypted().blindIndex() },
});
`;

describe('fieldseal backfill CLI on embedded PGlite', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fieldseal-backfill-cli-'));
    expect(run(['init']).code).toBe(0);
    writeFileSync(join(dir, 'models.mjs'), MODELS);
    node(`
      import { openFromConfig, readConfig } from '${DIST}config/index.js';
      import { encryptRecords, createBlindIndexer, EnvSecretSource } from '${DIST}index.js';
      import { createPostgresRepository } from '${DIST}postgres/index.js';
      import { randomBytes } from 'node:crypto';
      import { Contact, Member } from './models.mjs';
      const o = await openFromConfig(readConfig('fieldseal.config.json'), { fields: { ...Contact.policies, ...Member.policies }, admin: ['provision', 'rotate'] });
      await o.sql.exec('CREATE TABLE contacts (tenant text, id double precision, email text, PRIMARY KEY (tenant, id))');
      await o.fs.provisionTenant('acme');
      const records = Array.from({ length: 300 }, (_, i) => ({ tenant: 'acme', id: i, email: 'c' + i + '@acme.example' }));
      for (const r of await encryptRecords(o.fs, Contact, records)) {
        await o.sql.query('INSERT INTO contacts VALUES ($1, $2, $3)', [r.tenant, r.id, r.email]);
      }
      // A blind-indexed model: the tenant's index secret is sealed under data-key version 1.
      process.env.BI_KEY = 'base64:' + randomBytes(32).toString('base64');
      const indexer = await createBlindIndexer({ source: new EnvSecretSource({ keys: { bi: 'BI_KEY' } }), reference: 'bi' });
      const members = createPostgresRepository({ sql: o.sql, fs: o.fs, model: Member, blindIndex: { indexer } });
      await members.createTable();
      await members.insert([{ tenant: 'acme', id: 'm1', email: 'm1@acme.example' }]);
      await o.fs.rotateTenantKey('acme');
      o.fs.close(); await o.close();
    `);
  });

  const retireArgs = [
    'keys',
    'retire',
    'acme',
    '--below',
    '2',
    '--min-active-age',
    '0',
    '--models',
    'models.mjs',
    '--model',
    'contacts',
  ];

  it('counts usage, backfills with progress, reports status; retire names every remaining use and its fix, until none is left', () => {
    const before = run(['keys', 'usage', 'acme', '--models', 'models.mjs', '--model', 'contacts']);
    expect(before.code, before.err).toBe(0);
    expect(before.out).toMatch(/contacts\.email\s+default@1\s+300/);

    // Refused: the table, the column, the count and the command that fixes each use.
    const refused = run(retireArgs);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('ERR_KEY_VERSION_IN_USE');
    expect(refused.err).toContain('tenant "acme"');
    expect(refused.err).toMatch(
      /contacts\.email: 300 value\(s\) under default@1\s+fix: fieldseal backfill run --models models\.mjs --model contacts/,
    );
    expect(refused.err).toMatch(
      /blind-index secret of index version 1 \(fieldseal_blind_index_secrets\): 1 value\(s\) under default@1\s+fix: fieldseal keys reseal-index-secrets acme/,
    );
    expect(refused.err).not.toContain('@acme.example');

    const bf = run([
      'backfill',
      'run',
      '--models',
      'models.mjs',
      '--model',
      'contacts',
      '--chunk-size',
      '50',
    ]);
    expect(bf.code, bf.err).toBe(0);
    expect(bf.out).toMatch(/contacts\s+complete\s+6\s+300\s+300\s+300/);
    // Not a terminal: progress lines go to stderr, the last one at 100%.
    expect(bf.err).toMatch(/\[#{30}\]\s+100\.0%\s+300\/300 rows/);
    expect(bf.err).not.toContain('@acme.example');

    const status = JSON.parse(run(['--json', 'backfill', 'status', 'contacts']).out) as {
      rowsDone: number;
      finishedAt: string | null;
    }[];
    expect(status[0]).toMatchObject({ rowsDone: 300, rowsWritten: 300 });
    expect(status[0]?.finishedAt).not.toBeNull();

    const after = run(['keys', 'usage', 'acme', '--models', 'models.mjs', '--model', 'contacts']);
    expect(after.out).toMatch(/contacts\.email\s+default@2\s+300/);

    // Every table backfilled: what is left is the blind-index secret, named with its fix
    // (the old code said "run the backfill first" here, a dead end). --json carries the list.
    const left = run(['--json', ...retireArgs]);
    expect(left.code).toBe(1);
    const error = (JSON.parse(left.out) as { error: Record<string, unknown> }).error;
    expect(error).toMatchObject({ code: 'ERR_KEY_VERSION_IN_USE', tenant: 'acme' });
    expect(error.uses).toEqual([
      {
        kind: 'blind-index-secret',
        table: 'fieldseal_blind_index_secrets',
        column: 'sealed',
        indexVersion: 1,
        key: 'default@1',
        count: 1,
        fix: 'fieldseal keys reseal-index-secrets acme',
      },
    ]);
    expect(error.next).toEqual(['fieldseal keys reseal-index-secrets acme']);
    expect(String(error.message)).not.toContain('backfill first');

    const reseal = run(['keys', 'reseal-index-secrets', 'acme']);
    expect(reseal.code, reseal.err).toBe(0);
    expect(reseal.out).toMatch(/secrets checked\s+resealed\s+failed\s*\n[-\s]+\n1\s+1\s+0/);

    const retire = run(retireArgs);
    expect(retire.code, retire.err).toBe(0);
    expect(retire.out).toMatch(/acme\s+1/);
    expect(run(['keys', 'list', 'acme']).out).toMatch(/default\s+1\s+retired/);

    // Retired versions come back with one command (what ERR_KEY_RETIRED's next step names).
    const reinstate = run(['keys', 'reinstate', 'acme', '1']);
    expect(reinstate.code, reinstate.err).toBe(0);
    expect(reinstate.out).toMatch(/acme\s+1\s+reinstated/);
    expect(run(['keys', 'list', 'acme']).out).toMatch(/default\s+1\s+decrypt-only/);
  }, 240_000); // about 15 CLI runs, each opening the embedded database: a hang guard, not a speed goal
});
