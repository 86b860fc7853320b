import { PGlite } from '@electric-sql/pglite';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { postgresAuditSink } from '../../src/postgres/audit/postgres-audit-sink.js';
import { readConfig } from '../../src/config/config-file.js';
import { fromPGlite, type SqlClient } from '../../src/postgres/index.js';
import { FileSecretSource, generateKeyFile } from '../../src/secrets/file/file-secret-source.js';
import { VECTOR_EVENTS, VECTOR_HASHES } from '../unit/audit-chain-vectors.js';

/** `fieldseal audit verify` as users run it: the built CLI (dist/) on an `init`ed project. */
const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
let dir: string;

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Open the project's embedded database while no CLI process runs. */
async function withDatabase(fn: (sql: SqlClient) => Promise<unknown>): Promise<void> {
  const config = readConfig(join(dir, 'fieldseal.config.json'));
  if (config.database.kind !== 'pglite') throw new Error('expected an embedded database');
  const db = await PGlite.create(config.database.dataDir);
  try {
    await fn(fromPGlite(db));
  } finally {
    await db.close();
  }
}

const HEAD = `5:${VECTOR_HASHES[4]}`;

describe('fieldseal audit verify', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fieldseal-audit-cli-'));
    const init = run('init');
    expect(init.code, init.err).toBe(0);
    await withDatabase((sql) => postgresAuditSink(sql).appendMany(VECTOR_EVENTS));
  });

  it('an intact chain: exit 0, the head to publish, as a table and as JSON', () => {
    const table = run('audit', 'verify');
    expect(table.code, table.err).toBe(0);
    expect(table.out).toMatch(/result\s+ok/);
    expect(table.out).toMatch(/rows verified\s+5/);
    expect(table.out).toContain(HEAD);
    for (const args of [
      ['--json', 'audit', 'verify'],
      ['audit', 'verify', '--json'],
    ]) {
      const json = run(...args);
      expect(json.code, json.err).toBe(0);
      expect(JSON.parse(json.out)).toMatchObject({
        ok: true,
        rows: 5,
        head: { seq: 5, hash: VECTOR_HASHES[4] },
      });
    }
  });

  it('anchors: a published head passes, a different one fails; a malformed one is a usage error', () => {
    expect(run('audit', 'verify', '--anchor', HEAD, '--anchor', `1:${VECTOR_HASHES[0]}`).code).toBe(
      0,
    );
    const wrong = run('audit', 'verify', '--anchor', `5:${'ab'.repeat(32)}`);
    expect(wrong.code).toBe(1);
    expect(wrong.out).toMatch(/reason\s+anchor-mismatch/);
    const bad = run('audit', 'verify', '--anchor', '5:xyz');
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('--anchor');
  });

  it('a tampered row: exit 1 and the row named, as a table and as JSON', async () => {
    await withDatabase((sql) =>
      sql.query("UPDATE fieldseal_audit SET actor = 'mallory' WHERE seq = 3"),
    );
    const table = run('audit', 'verify');
    expect(table.code).toBe(1);
    expect(table.out).toMatch(/result\s+BROKEN/);
    expect(table.out).toMatch(/first broken row\s+3/);
    expect(table.out).toMatch(/reason\s+modified/);
    expect(table.out).not.toContain('mallory'); // seqs only, never field contents
    const json = run('--json', 'audit', 'verify');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({
      ok: false,
      rows: 2,
      firstBroken: { seq: 3, reason: 'modified' },
    });
  });

  it('a keyed chain verifies with --key-file, and not without it', async () => {
    const keyFile = join(dir, 'audit.key');
    generateKeyFile(keyFile);
    const key = { source: new FileSecretSource({ keys: { audit: keyFile } }), reference: 'audit' };
    await withDatabase(async (sql) => {
      await sql.exec(`TRUNCATE fieldseal_audit;
        UPDATE fieldseal_audit_head SET seq = 0, hash = decode(repeat('00', 32), 'hex');`);
      await postgresAuditSink(sql, { key }).appendMany(VECTOR_EVENTS);
    });
    const keyed = run('audit', 'verify', '--key-file', keyFile);
    expect(keyed.code, keyed.out + keyed.err).toBe(0);
    const unkeyed = run('--json', 'audit', 'verify');
    expect(unkeyed.code).toBe(1);
    expect(JSON.parse(unkeyed.out)).toMatchObject({ firstBroken: { seq: 1, reason: 'modified' } });
    const missing = run('audit', 'verify', '--key-file', join(dir, 'nope.key'));
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('ERR_KEY_NOT_CONFIGURED');
  });
});
