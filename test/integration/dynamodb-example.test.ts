import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { available } from '../requirements-available.js';

/* examples/dynamodb/run.mjs must keep working: it starts DynamoDB Local itself. */
const EXAMPLE = fileURLToPath(new URL('../../examples/dynamodb/run.mjs', import.meta.url));
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
});
