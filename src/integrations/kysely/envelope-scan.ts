import { UnsupportedOptionError } from '../../index.js';

/*
 * Refusing values of a result that hold fieldseal envelopes the plugin cannot attribute (a raw
 * `sql` query, an expression). All internal.
 */

/**
 * Refuse a row's output that holds an envelope the plugin did not read itself.
 * @throws UnsupportedOptionError naming the output column.
 */
export function refuseUnattributed(column: string): never {
  throw new UnsupportedOptionError(
    `result column ${column}: holds an encrypted value fieldseal cannot attribute to a record and field (raw SQL or an expression): select the column itself through the query builder`,
    { details: { field: `?.${column}` } },
  );
}
