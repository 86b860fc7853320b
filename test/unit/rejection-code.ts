import { expect } from 'vitest';
import { isFieldsealError } from '../../src/index.js';

/**
 * The `code` of the FieldsealError `p` rejects with (anything else thrown fails the test), or
 * `'resolved'` when it does not reject.
 */
export async function rejectionCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(isFieldsealError(err), String(err)).toBe(true);
    return (err as { code: string }).code;
  }
  return 'resolved';
}
