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
let err = '';

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
    err = r.stderr;
  });

  it('shows its progress as it runs: one line per phase on standard error, none on standard output', () => {
    const phases = err.split('\n').filter((l) => /^\[\d\/7\]/.test(l));
    expect(phases).toHaveLength(7);
    expect(phases[0]).toMatch(/^\[1\/7\]\s+0\.\d s\s+master key file/);
    expect(phases[6]).toMatch(/^\[7\/7\]\s+[\d.]+ s\s+attacks/);
    expect(out).not.toMatch(/^\[\d\/7\]/m);
  });

  it('explains the health figures past their thresholds, one line each', () => {
    const notes = out.slice(out.indexOf('Reading the figures:')).split('\n').slice(1);
    expect(notes.find((l) => l.startsWith('- Cache hit rate:'))).toContain(
      'cold clients miss once per data key (the first read of each tenant key)',
    );
    expect(notes.find((l) => l.startsWith('- Latency:'))).toContain(
      'p50 / p99 are per batch call, not per value',
    );
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
