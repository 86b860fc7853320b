import { inspect } from 'node:util';
import { PlaintextInEncryptedFieldError } from '../../index.js';

/*
 * What a sealed column's transformer lets through to the database, and what it puts in place of
 * anything else. Internal: a user never holds either for long.
 */

/** The stored form of a value the subscriber sealed, set on the entity until the write ends. */
export class SealedValue {
  readonly #stored: string | Buffer;
  constructor(stored: string | Buffer) {
    this.#stored = stored;
  }
  /** The envelope, as its column stores it. */
  get stored(): string | Buffer {
    return this.#stored;
  }
  toJSON(): string {
    return '[fieldseal: sealed value]';
  }
  [inspect.custom](): string {
    return 'SealedValue [fieldseal]';
  }
}

/**
 * What a sealed column's transformer returns for a value fieldseal did not seal (a plain value
 * written with the subscriber missing or bypassed, or compared in a `where`). It holds nothing of
 * the value: the subscriber's `beforeQuery` refuses the query that carries it, and without the
 * subscriber node-postgres refuses to serialise it (`toPostgres` throws), so it never reaches the
 * database.
 */
export class RefusedValue {
  readonly column: string;
  constructor(column: string) {
    this.column = column;
  }
  /** The typed refusal, naming the column (never the value). */
  error(): PlaintextInEncryptedFieldError {
    return new PlaintextInEncryptedFieldError(
      `column ${this.column}: a value fieldseal did not seal reached a sealed column (register fieldsealSubscriber and check it with assertFieldsealSubscribed; query sealed columns with SealedEqual / SealedIn through findSealed)`,
      { details: { field: this.column } },
    );
  }
  toPostgres(): never {
    throw this.error();
  }
  toJSON(): string {
    return '[fieldseal: refused value]';
  }
  [inspect.custom](): string {
    return 'RefusedValue [fieldseal]';
  }
}
