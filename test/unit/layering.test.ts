import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { importCycles, layeringViolations } from '../boundaries.js';

/**
 * The layering docs/architecture.md promises, checked on the source: backend homes
 * (src/postgres, src/dynamodb, src/vault) and integrations (src/integrations/*) use only what
 * `fieldseal` and `fieldseal/integration` export, no backend imports another, the core imports
 * no backend, and each optional peer is imported only inside its own folder.
 */
describe('layering', () => {
  it('every import respects the seam', () => {
    const violations = layeringViolations();
    const out = process.env.FIELDSEAL_PRINT_LAYERING;
    if (out) writeFileSync(out, violations.join('\n') + '\n');
    expect(violations).toEqual([]);
  }, 60_000);

  it('src/ has no import cycle, type-only imports included', () => {
    expect(importCycles()).toEqual([]);
  }, 60_000);
});
