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
`;

describe('fieldseal backfill CLI on embedded PGlite', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fieldseal-backfill-cli-'));
    expect(run(['init']).code).toBe(0);
    writeFileSync(join(dir, 'models.mjs'), MODELS);
    node(`
      import { openFromConfig, readConfig, encryptRecords } from '${DIST}index.js';
      import { Contact } from './models.mjs';
      const o = await openFromConfig(readConfig('fieldseal.config.json'), { fields: { ...Contact.policies }, admin: ['provision', 'rotate'] });
      await o.sql.exec('CREATE TABLE contacts (tenant text, id double precision, email text, PRIMARY KEY (tenant, id))');
      await o.fs.provisionTenant('acme');
      const records = Array.from({ length: 300 }, (_, i) => ({ tenant: 'acme', id: i, email: 'c' + i + '@acme.example' }));
      for (const r of await encryptRecords(o.fs, Contact, records)) {
        await o.sql.query('INSERT INTO contacts VALUES ($1, $2, $3)', [r.tenant, r.id, r.email]);
      }
      await o.fs.rotateTenantKey('acme');
      o.fs.close(); await o.close();
    `);
  });

  it('counts usage, backfills with progress, reports status, then retires the old version', () => {
    const before = run(['keys', 'usage', 'acme', '--models', 'models.mjs', '--model', 'contacts']);
    expect(before.code, before.err).toBe(0);
    expect(before.out).toMatch(/contacts\.email\s+default@1\s+300/);

    const refused = run([
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
    ]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('ERR_KEY_VERSION_IN_USE');

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
    const retire = run([
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
    ]);
    expect(retire.code, retire.err).toBe(0);
    expect(retire.out).toMatch(/acme\s+1/);
    expect(run(['keys', 'list', 'acme']).out).toMatch(/default\s+1\s+retired/);
  });
});
