/**
 * `fieldseal demo` (the README quick start) on embedded PGlite: runs the built CLI once and
 * checks what it prints, the health table from `stats()` above all.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
let out = '';

/** The cells of the printed row whose first cell starts with `metric`. */
function row(metric: string): string[] {
  const line = out.split('\n').find((l) => l.startsWith(metric));
  expect(line, `no row "${metric}"`).toBeDefined();
  return line!.split(/\s{2,}/);
}

describe('fieldseal demo', () => {
  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'fieldseal-demo-'));
    const r = spawnSync(process.execPath, [CLI, 'demo', '--dir', join(dir, 'keys')], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    out = r.stdout;
  });

  it('prints the stored rows and every attack refused with its code', () => {
    expect(out).toContain('Wrote 3000 records for 3 tenants');
    for (const code of [
      'ERR_WRONG_KEY',
      'ERR_AUTHENTICATION_FAILED',
      'ERR_PLAINTEXT_IN_ENCRYPTED_FIELD',
    ]) {
      expect(out).toContain(code);
    }
    expect(out).not.toContain('DECRYPTED (this must never happen)');
  });

  it('prints the health table from stats(): provider calls, hit rate, latency, versions, plaintext', () => {
    // Four data keys (three tenants, one of them rotated): four unwraps per cold client.
    const kms = row('KMS calls per record read');
    expect(kms[1]).toBe('0.00067 (4 unwraps / 6,000 records)');
    expect(kms[2]).toBe('0.01333 (4 unwraps / 300 records)');
    expect(row('data-key cache hit rate')[2]).toBe('98.7% (296 hits / 4 misses)');
    const latency = row('decrypt latency added p50 / p99');
    expect(latency[1]).toMatch(/^[\d.]+ (µs|ms) \/ [\d.]+ (µs|ms) \(6 calls\)$/);
    expect(latency[2]).toMatch(/\(300 calls\)$/);
    expect(row('KMS throttling').slice(1, 3)).toEqual(['none', 'none']);
    // The rotated tenant's last 100 records, 2 reads each, all their encrypted fields.
    expect(row('values read per key version')[1]).toMatch(/^default@1: [\d,]+, default@2: [\d,]+$/);
    // 100 legacy phone numbers, listed twice.
    expect(row('plaintext reads (in migration)')[1]).toBe('customers.phone: 200');
    expect(out).toMatch(/decrypted [\d,]+ values with 4 unwraps/);
  });
});
