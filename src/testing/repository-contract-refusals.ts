import assert from 'node:assert/strict';
import { isFieldsealError, type FieldsealErrorCode } from '../index.js';

/*
 * How the repository contract checks a refusal: by `err.code` (never `instanceof`), through a
 * batch error's per-item failures when a many-record read reports them that way. Internal to
 * the contract (not exported from `fieldseal/testing`).
 */

/** What a refusal must look like. */
export interface Refusal {
  /** The codes accepted (the refusal's, or every failure's of an `ERR_BATCH_FAILED`). */
  readonly codes: readonly FieldsealErrorCode[];
  /** `table.field` the error (or one failure) must name in `details.field`, when given. */
  readonly field?: string;
  /** Text the error must not contain (message, JSON form, stack), when given. */
  readonly secret?: string;
}

/**
 * Await `operation` and assert that it rejected with a fieldseal error as `refusal` says.
 * A single-record operation must reject with one of the codes; a many-record one may instead
 * reject with `ERR_BATCH_FAILED` whose failures all carry one of them.
 */
export async function assertRefused(
  what: string,
  operation: Promise<unknown>,
  refusal: Refusal,
): Promise<void> {
  let outcome: { readonly value: unknown } | { readonly err: unknown };
  try {
    outcome = { value: await operation };
  } catch (err) {
    outcome = { err };
  }
  if (!('err' in outcome)) {
    assert.fail(`${what}: expected a refusal (${refusal.codes.join(' or ')}), but it resolved`);
  }
  const { err } = outcome;
  assert.ok(isFieldsealError(err), `${what}: expected a fieldseal error, got ${String(err)}`);
  const errors =
    err.code === 'ERR_BATCH_FAILED' && !refusal.codes.includes('ERR_BATCH_FAILED')
      ? err.failures.map((f) => f.error)
      : [err];
  assert.ok(errors.length > 0, `${what}: a batch error without failures`);
  for (const e of errors) {
    assert.ok(
      refusal.codes.includes(e.code),
      `${what}: expected ${refusal.codes.join(' or ')}, got ${e.code}${e === err ? '' : ' (in a batch)'}`,
    );
  }
  if (refusal.field !== undefined) {
    assert.ok(
      errors.some((e) => e.details.field === refusal.field),
      `${what}: expected the error to name ${refusal.field}, got ${errors.map((e) => String(e.details.field)).join(', ')}`,
    );
  }
  if (refusal.secret !== undefined) {
    for (const e of [err, ...errors]) {
      for (const text of [e.message, JSON.stringify(e), String(e.stack)]) {
        assert.ok(!text.includes(refusal.secret), `${what}: the error contains the value`);
      }
    }
  }
}
