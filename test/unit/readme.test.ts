import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/** The README's usage example is run as written (against the built package), so it stays true. */
describe('README usage example', () => {
  it('runs: prints the decrypted value, then fails with ERR_AUTHENTICATION_FAILED on the moved context', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const usage = readme.slice(readme.indexOf('## Usage'));
    const code = /```ts\n([\s\S]*?)```/.exec(usage)?.[1];
    expect(code).toBeDefined();
    const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
    const js = ts
      .transpileModule(code!, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      })
      .outputText.replace("from 'fieldseal'", `from ${JSON.stringify(dist)}`);
    const file = join(mkdtempSync(join(tmpdir(), 'fieldseal-readme-')), 'usage.mjs');
    writeFileSync(file, js);
    const r = spawnSync(process.execPath, [file], {
      encoding: 'utf8',
      env: { ...process.env, FIELDSEAL_MASTER_KEY: `base64:${randomBytes(32).toString('base64')}` },
    });
    expect(r.stdout).toBe('521-44-8790\n');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('ERR_AUTHENTICATION_FAILED');
  });
});
