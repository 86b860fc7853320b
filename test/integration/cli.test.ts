import { spawnSync } from 'node:child_process';
import { PGlite } from '@electric-sql/pglite';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
let dir: string;

function run(args: string[], input?: string, cwd = dir) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, input, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('fieldseal CLI on embedded PGlite', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fieldseal-cli-'));
    const init = run(['init']);
    expect(init.code, init.err).toBe(0);
    expect(init.out).toContain('fieldseal.config.json');
  });

  it('--version prints the installed package version', () => {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    const v = run(['--version']);
    expect(v.code).toBe(0);
    expect(v.out.trim()).toBe(pkg.version);
  });

  it('init refuses to overwrite an existing configuration', () => {
    const again = run(['init']);
    expect(again.code).toBe(1);
    expect(again.err).toContain('already exists');
  });

  it('tenant create / list and keys list, as tables and as JSON', () => {
    expect(run(['tenant', 'create', 'acme', 'globex']).code).toBe(0);
    const list = run(['tenant', 'list']);
    expect(list.out).toMatch(/acme\s+1\s+1/);
    const keys = JSON.parse(run(['--json', 'keys', 'list', 'acme']).out) as Record<
      string,
      unknown
    >[];
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({
      tenant: 'acme',
      version: 1,
      state: 'active',
      wrappedBytes: 73,
    });
    expect(keys[0]).not.toHaveProperty('wrapped');
  });

  it('encrypt / decrypt read the value from stdin; a wrong context fails with a code and no value', () => {
    const ctx = ['--tenant', 'acme', '--table', 'customers', '--field', 'ssn', '--record', 'c1'];
    const enc = run(['encrypt', ...ctx], '521-44-8790\n');
    expect(enc.code, enc.err).toBe(0);
    const stored = enc.out.trim();
    expect(stored).toMatch(/^fs1:/);
    expect(run(['decrypt', ...ctx], stored).out).toBe('521-44-8790\n');
    const wrong = run(
      ['decrypt', '--tenant', 'globex', '--table', 'customers', '--field', 'ssn', '--record', 'c1'],
      stored,
    );
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('ERR_WRONG_KEY');
    expect(wrong.out + wrong.err).not.toContain('521-44-8790');
    const moved = run(
      ['decrypt', '--tenant', 'acme', '--table', 'customers', '--field', 'ssn', '--record', 'c2'],
      stored,
    );
    expect(moved.err).toContain('ERR_AUTHENTICATION_FAILED');
  });

  it('tenant rotate, then shred: refuses without --yes, prints the receipt, and the data is gone', () => {
    expect(run(['tenant', 'create', 'victim']).code).toBe(0);
    const ctx = ['--tenant', 'victim', '--table', 'users', '--field', 'email'];
    const before = run(['encrypt', ...ctx], 'gone@example.com').out.trim();
    const rotated = JSON.parse(run(['--json', 'tenant', 'rotate', 'victim']).out) as {
      version: number;
    };
    expect(rotated.version).toBe(2);
    const refused = run(['shred', 'victim'], '');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('--yes');
    expect(run(['decrypt', ...ctx], before).out).toBe('gone@example.com\n');
    const shred = run(['shred', 'victim', '--yes']);
    expect(shred.code, shred.err).toBe(0);
    expect(shred.out).toMatch(/victim\s+default\s+1/);
    expect(shred.out).toMatch(/victim\s+default\s+2/);
    // The configured local master key is shared by every tenant: kept, and the receipt says why.
    expect(shred.out).toMatch(/local:master\s+kept\s+not declared dedicated/);
    const after = run(['decrypt', ...ctx], before);
    expect(after.code).toBe(1);
    expect(after.err).toContain('ERR_KEY_SHREDDED');
    expect(after.out + after.err).not.toContain('gone@example.com');
  });

  it('the CLI audits itself: the rotation and the shred receipt are in a verified chain', async () => {
    const verify = run(['--json', 'audit', 'verify']);
    expect(verify.code, verify.err).toBe(0);
    const result = JSON.parse(verify.out) as { ok: boolean; rows: number };
    expect(result.ok).toBe(true);
    expect(result.rows).toBeGreaterThan(0);
    const db = await PGlite.create(join(dir, '.fieldseal', 'db'));
    try {
      const rows = await db.query<{ operation: string; actor: string; detail: unknown }>(
        "SELECT operation, actor, detail FROM fieldseal_audit WHERE tenant = 'victim' AND operation IN ('provision', 'rotate', 'shred') ORDER BY seq",
      );
      expect(rows.rows.map((r) => r.operation)).toEqual(['provision', 'rotate', 'shred']);
      expect(rows.rows.every((r) => r.actor === 'fieldseal-cli')).toBe(true);
      expect(rows.rows[2]!.detail).toMatchObject({
        versions: [
          { keyId: 'default', version: 1 },
          { keyId: 'default', version: 2 },
        ],
      });
    } finally {
      await db.close();
    }
  });

  it('doctor passes on a good setup and names the fix on a broken key file', () => {
    const ok = run(['doctor']);
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toContain('provider round trip');
    const other = mkdtempSync(join(tmpdir(), 'fieldseal-cli-bad-'));
    writeFileSync(
      join(other, 'fieldseal.config.json'),
      JSON.stringify({
        version: 1,
        database: { kind: 'pglite', dataDir: 'db' },
        provider: { kind: 'local', keyFile: 'short.key', masterKeyId: 'master' },
        keyId: 'default',
        cache: { maxAgeSeconds: 60 },
      }),
    );
    writeFileSync(join(other, 'short.key'), `hex:${'ab'.repeat(31)}\n`, { mode: 0o600 });
    const bad = run(['doctor'], undefined, other);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/master key file\s+FAIL\s+ERR_INVALID_KEY_MATERIAL/);
    expect(bad.out).toContain('fieldseal keygen');
    expect(bad.out).not.toContain('ab'.repeat(31));
  });

  it('refuses a second process on the same embedded database', async () => {
    const { lockDataDir } = await import('../../src/index.js');
    const release = lockDataDir(join(dir, '.fieldseal', 'db'));
    try {
      // This process holds the lock, so the CLI (another process) must refuse to open.
      const r = run(['tenant', 'list']);
      expect(r.code).toBe(1);
      expect(r.err).toContain('ERR_KEY_STORE_UNAVAILABLE');
    } finally {
      release();
    }
    expect(run(['tenant', 'list']).code).toBe(0);
  });
});
