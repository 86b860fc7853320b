import { inspect } from 'node:util';
import { PlaintextInEncryptedFieldError } from '../../index.js';

/*
 * What a sealed column's transformer lets through to the database, what it puts in place of
 * anything else, and what it hands TypeORM when it reads. Internal: a user never holds any of
 * them for long.
 */

/**
 * The stored form of a value the subscriber sealed for one column, set on the entity until the
 * write ends. It is live until the entity gets its plaintext back: a transformer passes only a
 * live value of its own column.
 */
export class SealedValue {
  readonly #stored: string | Buffer;
  /** `table.column` it was sealed for. */
  readonly column: string;
  /** The query runner of the write it was sealed for: only its queries may carry it. */
  readonly runner: object;
  #live = true;
  constructor(stored: string | Buffer, column: string, runner: object) {
    this.#stored = stored;
    this.column = column;
    this.runner = runner;
  }
  /** The envelope, as its column stores it. */
  get stored(): string | Buffer {
    return this.#stored;
  }
  get live(): boolean {
    return this.#live;
  }
  /** The write ended (or failed): it may no longer be written. */
  retire(): void {
    this.#live = false;
  }
  /** Nothing: a serialised copy must not carry a placeholder that could be stored as data. */
  toJSON(): undefined {
    return undefined;
  }
  [inspect.custom](): string {
    return 'SealedValue [fieldseal]';
  }
}

/**
 * What a sealed column's transformer hands TypeORM for a {@link SealedValue}: the query
 * parameter. node-postgres sends its envelope (`toPostgres`); the subscriber's `beforeQuery`
 * checks that the query runs for the write the value was sealed for; logs show no envelope.
 */
export class SealedParameter {
  readonly sealed: SealedValue;
  constructor(sealed: SealedValue) {
    this.sealed = sealed;
  }
  toPostgres(): string | Buffer {
    return this.sealed.stored;
  }
  toJSON(): string {
    return '[fieldseal: sealed value]';
  }
  [inspect.custom](): string {
    return 'SealedParameter [fieldseal]';
  }
}

/**
 * What a sealed column's transformer hands TypeORM for a stored envelope: the subscriber's
 * `afterLoad` replaces it with the plaintext. A load that bypasses `afterLoad` (a mapped join,
 * `callListeners(false)`) leaves it in place of the value: neither plaintext nor an envelope a
 * caller could mistake for one, and never accepted back by a write.
 */
export class UnopenedValue {
  readonly #stored: unknown;
  constructor(stored: unknown) {
    this.#stored = stored;
  }
  /** The envelope as the driver returned it. */
  get stored(): unknown {
    return this.#stored;
  }
  /** Nothing: a serialised copy must not carry a placeholder that could be stored as data. */
  toJSON(): undefined {
    return undefined;
  }
  [inspect.custom](): string {
    return 'UnopenedValue [fieldseal: not decrypted]';
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
