import { describe, expect, expectTypeOf, it } from 'vitest';
import * as exported from '../../src/index.js';
import {
  BatchError,
  FieldsealError,
  isFieldsealError,
  KeyVersionInUseError,
  UnsupportedValueError,
  type AnyFieldsealError,
  type FieldsealErrorCode,
  type FieldsealErrorOf,
} from '../../src/index.js';
import * as errorsEntry from '../../src/errors.js';

/*
 * `switch (err.code)` narrows the error to the class of that code. The type assertions are
 * checked by `npm run typecheck` (tsc over test/); the runtime assertions by vitest.
 */

function describeError(err: unknown): string {
  if (!isFieldsealError(err)) return 'not ours';
  switch (err.code) {
    case 'ERR_BATCH_FAILED':
      expectTypeOf(err).toEqualTypeOf<BatchError>();
      return `batch: items ${err.failures.map((f) => f.index).join(',')}`;
    case 'ERR_KEY_VERSION_IN_USE':
      expectTypeOf(err).toEqualTypeOf<KeyVersionInUseError>();
      return `in use: ${err.uses.map((u) => `${u.table}.${u.column}`).join(',')}`;
    case 'ERR_UNSUPPORTED_VALUE':
      expectTypeOf(err).toEqualTypeOf<UnsupportedValueError>();
      return 'unsupported';
    default:
      expectTypeOf(err).not.toEqualTypeOf<BatchError>();
      return err.code;
  }
}

/** The same narrowing with everything imported from `fieldseal/errors` (src/errors.ts). */
function describeFromErrorsEntry(err: unknown): string {
  if (!errorsEntry.isFieldsealError(err)) return 'not ours';
  switch (err.code) {
    case 'ERR_BATCH_FAILED':
      expectTypeOf(err).toEqualTypeOf<errorsEntry.BatchError>();
      return `batch: items ${err.failures.map((f) => f.index).join(',')}`;
    case 'ERR_KEY_VERSION_IN_USE':
      expectTypeOf(err).toEqualTypeOf<errorsEntry.KeyVersionInUseError>();
      return `in use: ${err.uses.map((u) => `${u.table}.${u.column}`).join(',')}`;
    default:
      expectTypeOf(err).not.toEqualTypeOf<errorsEntry.BatchError>();
      return err.code;
  }
}

describe('fieldseal errors are a union discriminated by code', () => {
  it('switch (err.code) narrows to the class of the code', () => {
    const batch = new BatchError([{ index: 3, error: new UnsupportedValueError() }]);
    const inUse = new KeyVersionInUseError('in use', {
      uses: [{ kind: 'column', table: 'customers', column: 'ssn', key: 'default@1', count: 2 }],
    });
    expect(describeError(batch)).toBe('batch: items 3');
    expect(describeError(inUse)).toBe('in use: customers.ssn');
    expect(describeError(new UnsupportedValueError())).toBe('unsupported');
    expect(describeError(new Error('x'))).toBe('not ours');
  });

  it('fieldseal/errors narrows the same way, with the very same classes as the root', () => {
    const batch = new errorsEntry.BatchError([{ index: 1, error: new UnsupportedValueError() }]);
    expect(describeFromErrorsEntry(batch)).toBe('batch: items 1');
    expect(describeFromErrorsEntry(new UnsupportedValueError())).toBe('ERR_UNSUPPORTED_VALUE');
    expect(describeFromErrorsEntry(new Error('x'))).toBe('not ours');
    expectTypeOf<errorsEntry.FieldsealError>().toEqualTypeOf<AnyFieldsealError>();
    expect(errorsEntry.BatchError).toBe(BatchError);
    expect(errorsEntry.FieldsealError).toBe(FieldsealError);
    for (const [name, value] of Object.entries(errorsEntry)) {
      expect((exported as Record<string, unknown>)[name], name).toBe(value);
    }
  });

  it('every code has a class, and the type of each code is its class', () => {
    expectTypeOf<AnyFieldsealError['code']>().toEqualTypeOf<FieldsealErrorCode>();
    expectTypeOf<FieldsealErrorOf<'ERR_BATCH_FAILED'>>().toEqualTypeOf<BatchError>();
    expectTypeOf<FieldsealError>().toEqualTypeOf<AnyFieldsealError>();
  });

  it('each exported error class has its own code (no two classes share one)', () => {
    const codes = new Map<string, string>();
    for (const [name, value] of Object.entries(exported)) {
      if (typeof value !== 'function' || value === FieldsealError) continue;
      if (!(value.prototype instanceof FieldsealError)) continue;
      const err: unknown =
        value === BatchError
          ? new BatchError([])
          : Reflect.construct(value as new () => unknown, []);
      expect(isFieldsealError(err), name).toBe(true);
      const { code } = err as AnyFieldsealError;
      expect(codes.get(code), `${name} and ${codes.get(code) ?? ''} share ${code}`).toBeUndefined();
      codes.set(code, name);
    }
    expect(codes.size).toBeGreaterThanOrEqual(29);
  });
});
