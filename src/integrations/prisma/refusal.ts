import { UnsupportedOptionError } from '../../index.js';

/*
 * The typed refusal of every part of a Prisma query fieldseal cannot bind to a record. All
 * internal.
 */

/**
 * Refuse a query: `ERR_UNSUPPORTED_OPTION` with `details.field` = `Model.field`.
 * @internal
 */
export function refuse(model: string, field: string, why: string): never {
  throw new UnsupportedOptionError(`field ${model}.${field}: ${why}`, {
    details: { field: `${model}.${field}` },
  });
}
