import { FieldsealError, isFieldsealError, type ErrorDetails } from '../errors.js';

type ErrorClass = new (
  message?: string,
  options?: { cause?: unknown; details?: ErrorDetails },
) => FieldsealError;

/**
 * The same error naming `field` (`table.field`) in its details: the error itself when it
 * already does, otherwise a new error of the same class, code and message with the original
 * as its `cause`. Messages are fieldseal's fixed strings, so no value is ever added.
 * @internal
 */
export function withField(error: FieldsealError, field: string): FieldsealError {
  if (error.details.field === field) return error;
  const details: ErrorDetails = { ...error.details, field };
  const options = { cause: error, details };
  const ctor: unknown = error.constructor;
  // Every FieldsealError subclass but BatchError (never a per-value error) takes
  // (message, options); check the result rather than trust that.
  if (typeof ctor === 'function' && ctor !== FieldsealError) {
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
      // fall through to the base class
    }
  }
  return new FieldsealError(error.code, error.message, options);
}
