import { FieldsealError, isFieldsealError, type ErrorDetails } from '../errors.js';

type ErrorClass = new (
  message?: string,
  options?: { cause?: unknown; details?: ErrorDetails },
) => FieldsealError;

/**
 * The same error naming `field` (`table.field`) in its details: the error itself when it
 * already does, otherwise a new error of the same class, code and message with the original
 * as its `cause`. Messages are fieldseal's fixed strings, so no value is ever added. An error
 * whose class cannot be rebuilt so (a `BatchError`, a `KeyVersionInUseError` with its `uses`)
 * is returned as it is: never a base-class copy, whose `code` would promise a class it is not.
 *
 * @example
 * ```ts
 * try {
 *   await fs.decrypt(stored, context);
 * } catch (err) {
 *   if (isFieldsealError(err)) throw withField(err, 'customers.email');
 *   throw err;
 * }
 * ```
 */
export function withField(error: FieldsealError, field: string): FieldsealError {
  if (error.details.field === field) return error;
  const details: ErrorDetails = { ...error.details, field };
  const options = { cause: error, details };
  const ctor: unknown = error.constructor;
  // Most subclasses take (message, options); check the result rather than trust that.
  const rebuildable = error.code !== 'ERR_BATCH_FAILED' && error.code !== 'ERR_KEY_VERSION_IN_USE';
  if (rebuildable && typeof ctor === 'function' && ctor !== FieldsealError) {
    try {
      const copy: unknown = Reflect.construct(ctor as ErrorClass, [error.message, options]);
      if (
        isFieldsealError(copy) &&
        copy.code === error.code &&
        copy.message === error.message &&
        copy.details.field === field
      ) {
        return copy;
      }
    } catch {
      // keep the error as it is
    }
  }
  return error;
}
