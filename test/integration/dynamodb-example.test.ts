import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { available } from '../requirements-available.js';

/* examples/dynamodb/run.mjs and libraries.mjs must keep working: they start DynamoDB Local. */
const EXAMPLE = fileURLToPath(new URL('../../examples/dynamodb/run.mjs', import.meta.url));
const LIBRARIES = fileURLToPath(new URL('../../examples/dynamodb/libraries.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe.skipIf(!available('java'))('examples/dynamodb', () => {
  it('runs: reads back, stores no plaintext, refuses a copied ciphertext', () => {
    const r = spawnSync(process.execPath, [EXAMPLE], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('acme has 2 customers:');
    expect(r.stdout).toMatch(/c1\s+pro\s+ada@acme\.example\s+ssn=521-44-8790/);
    expect(r.stdout).toContain('Plaintext anywhere in the raw item? no');
    expect(r.stdout).toContain('findBy email "  ADA@acme.example": c1 (ada@acme.example)');
    expect(r.stdout).toContain("acme's data keys live in DynamoDB, wrapped: v1 active");
    expect(r.stdout).toMatch(
      /copied ciphertext from acme\/c1 to globex\/c1: refused with ERR_\w+ \(customers\.ssn\)/,
    );
  }, 120_000);

  it('libraries.mjs: ElectroDB and dynamodb-toolbox unchanged on the sealed document client', () => {
    const r = spawnSync(process.execPath, [LIBRARIES], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/n1\s+migraine, prescribed rest/);
    expect(r.stdout).toMatch(/n2\s+follow-up in one week/);
    expect(r.stdout).toContain("dynamodb-toolbox reads globex's profile p1: ssn=078-05-1120");
    const held = r.stdout.split('What the tables hold:')[1] ?? '';
    expect(held).toMatch(/notes\s+\$note_1#id_n1\s+fs1:/);
    expect(held).toMatch(/profiles P#p1\s+<\d+ bytes: f5 01/);
    expect(held).toContain('plaintext anywhere in notes? no');
    expect(held).toContain('plaintext anywhere in profiles? no');
    expect(held.split('A filter on')[0]).not.toMatch(/migraine|follow-up|078-05/);
    expect(r.stdout).toContain('refused: ERR_UNSUPPORTED_OPTION (notes.body)');
  }, 120_000);
});
