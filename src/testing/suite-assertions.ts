import assert from 'node:assert/strict';
import { isFieldsealError, type FieldsealErrorCode } from '../index.js';

/*
 * How the plug-point suites of `fieldseal/testing` check an error: a fieldseal error (by
 * `isFieldsealError`, never `instanceof`) with the expected `err.code` and, when given, the
 * expected `err.details` entries. Internal to the suites (not exported from `fieldseal/testing`).
 */

/** Non-secret detail entries an error must carry (each compared with `===`). */
export type ExpectedDetails = Readonly<Record<string, string | number>>;

/** Assert that `err` is a fieldseal error with `code` and every entry of `details`. */
export function assertFieldsealError(
  err: unknown,
  code: FieldsealErrorCode,
  details: ExpectedDetails = {},
  what = 'the error',
): void {
  assert.ok(
    isFieldsealError(err),
    `${what}: expected a fieldseal error ${code}, got ${String(err)}`,
  );
  assert.equal(err.code, code, `${what}: expected ${code}, got ${err.code}`);
  const actual = err.details as Readonly<Record<string, unknown>>;
  for (const [name, value] of Object.entries(details)) {
    assert.equal(actual[name], value, `${what}: details.${name}`);
  }
}

/** Assert that `operation` rejects with a fieldseal error with `code` and `details`. */
export async function assertRejectsWithCode(
  operation: Promise<unknown>,
  code: FieldsealErrorCode,
  details: ExpectedDetails = {},
  what = 'the operation',
): Promise<void> {
  await assert.rejects(
    operation,
    (err: unknown) => {
      assertFieldsealError(err, code, details, what);
      return true;
    },
    `${what}: expected a rejection with ${code}, but it resolved`,
  );
}
