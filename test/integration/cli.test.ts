import { spawnSync } from 'node:child_process';
import { PGlite } from '@electric-sql/pglite';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal } from '../../src/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';

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

  it('a missing configuration names the file and says to run `fieldseal init`, as text and as JSON', () => {
    const empty = mkdtempSync(join(tmpdir(), 'fieldseal-cli-empty-'));
    const text = run(['tenant', 'list'], undefined, empty);
    expect(text.code).toBe(1);
    expect(text.err).toContain(
      'ERR_CONFIG_NOT_FOUND: configuration file fieldseal.config.json does not exist',
    );
    expect(text.err).toMatch(/next: fieldseal init/);
    expect(text.err).not.toContain('ENOENT');
    const json = run(['--json', 'tenant', 'list'], undefined, empty);
    expect(json.code).toBe(1);
    expect(json.err).toBe('');
    const { error } = JSON.parse(json.out) as {
      error: { code: string; message: string; next: string[] };
    };
    expect(error.code).toBe('ERR_CONFIG_NOT_FOUND');
    expect(error.message).toContain('fieldseal.config.json');
    expect(error.next[0]).toMatch(/^fieldseal init/);
  });

  it('errors name the tenant and give CLI advice; --json applies to usage errors and inspect', () => {
    const ctx = ['--tenant', 'nobody', '--table', 'customers', '--field', 'ssn'];
    const missing = run(['encrypt', ...ctx], 'x');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('ERR_KEY_NOT_CONFIGURED');
    expect(missing.err).toContain('tenant "nobody"');
    expect(missing.err).toContain('next: fieldseal tenant create nobody');
    expect(missing.err).not.toContain('provisionTenant');
    const json = run(['--json', 'encrypt', ...ctx], 'x');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({
      error: { code: 'ERR_KEY_NOT_CONFIGURED', tenant: 'nobody' },
    });

    const usage = run(['--json', 'encrypt', '--table', 't'], 'x');
    expect(usage.code).toBe(1);
    expect(usage.err).toBe('');
    const usageError = (JSON.parse(usage.out) as { error: { code: string; message: string } })
      .error;
    expect(usageError.code).toBe('ERR_USAGE');
    expect(usageError.message).toContain('--tenant');

    const stored = run(
      ['encrypt', '--tenant', 'acme', '--table', 't', '--field', 'f'],
      'secret-value',
    ).out.trim();
    const inspected = run(['--json', 'inspect', stored]);
    expect(inspected.code, inspected.err).toBe(0);
    expect(JSON.parse(inspected.out)).toMatchObject({
      envelope: true,
      formatVersion: 1,
      key: { kind: 'store', label: 'default@1' },
    });
    expect(inspected.out).not.toContain(stored);
    expect(JSON.parse(run(['--json', 'inspect', 'plain']).out)).toEqual({ envelope: false });
  });

  it('one rule for the master key file: every command and the doctor refuse one others may read', () => {
    const keyFile = join(dir, '.fieldseal', 'master.key');
    chmodSync(keyFile, 0o644);
    try {
      const refused = run(['tenant', 'list']);
      expect(refused.code).toBe(1);
      expect(refused.err).toContain('ERR_INSECURE_KEY_FILE');
      expect(refused.err).toContain(keyFile);
      expect(refused.err).toContain(`next: chmod 600 ${keyFile}`);
      const doctor = run(['doctor']);
      expect(doctor.code).toBe(1);
      expect(doctor.out).toMatch(/master key file\s+FAIL\s+ERR_INSECURE_KEY_FILE/);
      expect(doctor.out).toContain(`chmod 600 ${keyFile}`);
    } finally {
      chmodSync(keyFile, 0o600);
    }
    expect(run(['tenant', 'list']).code).toBe(0);
  });

  it('doctor unwraps the stored key versions: a wrong master key names each failing tenant and version', () => {
    const keyFile = join(dir, '.fieldseal', 'master.key');
    const good = run(['doctor']);
    expect(good.code, good.out).toBe(0);
    expect(good.out).toMatch(
      /stored data keys\s+ok\s+\d+ version\(s\) of \d+ tenant\(s\) unwrapped/,
    );
    copyFileSync(keyFile, `${keyFile}.bak`);
    const other = join(dir, 'other.key');
    expect(run(['keygen', other]).code).toBe(0);
    copyFileSync(other, keyFile);
    try {
      const bad = run(['doctor']);
      expect(bad.code).toBe(1);
      // The round trip under a throw-away key still works: only the stored versions prove it.
      expect(bad.out).toMatch(/provider round trip\s+ok/);
      expect(bad.out).toMatch(/stored data keys\s+FAIL/);
      expect(bad.out).toMatch(
        /data key acme default@1\s+FAIL\s+active, wrapped under local:master: ERR_KEY_UNWRAP_FAILED/,
      );
      expect(bad.out).toContain('is not the master key this version was wrapped under');
      const json = JSON.parse(run(['--json', 'doctor']).out) as { check: string; ok: boolean }[];
      expect(json.find((c) => c.check === 'data key globex default@1')?.ok).toBe(false);
    } finally {
      copyFileSync(`${keyFile}.bak`, keyFile);
    }
    expect(run(['doctor']).code).toBe(0);
  });

  it('doctor warns (WARN, exit 0) when a tenant keeps more than 3 readable key versions', () => {
    expect(run(['doctor']).out).toMatch(/key versions per tenant\s+ok\s+at most 1 readable/);
    expect(run(['tenant', 'create', 'versions-t']).code).toBe(0);
    for (let i = 0; i < 3; i++) expect(run(['tenant', 'rotate', 'versions-t']).code).toBe(0);
    const doctor = run(['doctor']);
    expect(doctor.code, doctor.out).toBe(0);
    expect(doctor.out).toMatch(
      /key versions per tenant\s+WARN\s+1 of \d+ tenant\(s\) keep more than 3 readable versions \(at most 4\)/,
    );
    expect(doctor.out).toContain('fieldseal backfill retire');
    const json = JSON.parse(run(['--json', 'doctor']).out) as { check: string; level?: string }[];
    expect(json.find((c) => c.check === 'key versions per tenant')?.level).toBe('warning');
  });

  it("health judges a service's fs.stats() JSON against the health table (exit 1 on a warning)", async () => {
    const fs = createFieldseal({
      provider: new MemoryKeyProvider(),
      keys: { mode: 'embedded', masterKeyId: 'master' },
      cache: { maxAgeMs: 60_000 },
    });
    const c = { tenant: 'acme', table: 't', field: 'f', record: '1' };
    const stored = await fs.encrypt('v', c);
    for (let i = 0; i < 100; i++) await fs.decrypt(stored, c);
    const stats = fs.stats();
    const file = join(dir, 'stats.json');
    writeFileSync(file, JSON.stringify(stats));
    const good = run(['health', file]);
    expect(good.code, good.err).toBe(0);
    expect(good.out).toMatch(/KMS calls per request\s+0\.0\d\d \(\d+ \/ 101 calls\)\s+healthy/);
    expect(good.out).toMatch(/KMS request throttling\s+0 events\s+healthy/);
    expect(good.out).toMatch(/key versions per tenant\s+no data/);

    const throttled = JSON.stringify({ ...stats, throttling: { events: 3, byProvider: {} } });
    const bad = run(['health', '-'], throttled);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(
      /KMS request throttling\s+3 events\s+warning\s+none\s+any\s+request a KMS quota increase/,
    );
    const json = JSON.parse(run(['--json', 'health', '-'], throttled).out) as {
      status: string;
      findings: { metric: string; status: string }[];
    };
    expect(json.status).toBe('warning');
    expect(json.findings.find((f) => f.metric === 'kms-throttling')?.status).toBe('warning');

    const old: Record<string, unknown> = { ...stats };
    delete old.keyVersions;
    const refused = run(['health', '-'], JSON.stringify(old));
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('stats.keyVersions: expected an object');
    expect(run(['health', '-'], 'not json').err).toContain('not JSON');
  });

  it('refuses a second process on the same embedded database', async () => {
    const { lockDataDir } = await import('../../src/config/index.js');
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
