import { customType } from 'drizzle-orm/pg-core';
import { inspectEnvelope, PlaintextInEncryptedFieldError } from '../../index.js';

/*
 * Column types whose values can only be envelopes: at compile time through a brand (a plain
 * string or byte array is not a `SealedText` / `SealedBytes`), at run time through a check of
 * every value written (one that is not shaped like an envelope is refused, never stored).
 */

declare const SEALED: unique symbol;

/**
 * A text envelope (`fs1:...`) as a `sealed.text()` column holds it: only what `encrypt` of a
 * sealed table returns has this type.
 * @example
 * ```ts
 * const [row] = await customers.encrypt([record]);
 * const stored: SealedText = row.ssn;
 * ```
 */
export type SealedText = string & { readonly [SEALED]: 'text' };

/**
 * A binary envelope as a `sealed.bytes()` column holds it.
 * @example
 * ```ts
 * const [row] = await customers.encrypt([record]);
 * const stored: SealedBytes = row.email;
 * ```
 */
export type SealedBytes = Uint8Array & { readonly [SEALED]: 'bytes' };

/**
 * A value of a sealed column, either form.
 * @example
 * ```ts
 * const isSealed = (v: unknown): v is SealedValue => typeof v === 'string' ? v.startsWith('fs1:') : v instanceof Uint8Array;
 * ```
 */
export type SealedValue = SealedText | SealedBytes;

/** Whether a value is a well-formed envelope (header parsed; nothing is decrypted). */
function isEnvelope(value: unknown): boolean {
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) return false;
  try {
    return inspectEnvelope(value) !== undefined;
  } catch {
    return false;
  }
}
/** Asks a column whether it is sealed, through its public `mapFromDriverValue`. */
const PROBE = Object.freeze({ fieldsealProbe: true });
const IS_TEXT = Object.freeze({ fieldsealSealed: 'text' });
const IS_BYTES = Object.freeze({ fieldsealSealed: 'bytes' });

/**
 * The refusal of a value that is not an envelope, written into a sealed column (a plain value
 * passed from JavaScript, where the types do not stop it). Drizzle calls the conversion on
 * the column, which names it.
 */
function refuse(column: unknown): never {
  const name =
    typeof column === 'object' &&
    column !== null &&
    typeof (column as { name?: unknown }).name === 'string'
      ? (column as { name: string }).name
      : 'of a sealed type';
  throw new PlaintextInEncryptedFieldError(
    `column ${name}: the value is not a fieldseal envelope; encrypt the record with its sealed table's encrypt() first`,
  );
}

const text = customType<{ data: SealedText; driverData: string }>({
  dataType: () => 'text',
  toDriver(this: unknown, value) {
    if (typeof value !== 'string' || !isEnvelope(value)) refuse(this);
    return value;
  },
  fromDriver(value) {
    if ((value as unknown) === PROBE) return IS_TEXT as unknown as SealedText;
    return value as SealedText;
  },
});

const bytes = customType<{ data: SealedBytes; driverData: Uint8Array }>({
  dataType: () => 'bytea',
  toDriver(this: unknown, value) {
    if (!(value instanceof Uint8Array) || !isEnvelope(value)) refuse(this);
    return value;
  },
  fromDriver(value) {
    if ((value as unknown) === PROBE) return IS_BYTES as unknown as SealedBytes;
    return Buffer.from(value) as unknown as SealedBytes;
  },
});

/**
 * Column types for encrypted fields: `sealed.text(name)` (TEXT, the `fs1:` text form, for a
 * field with `storage: 'text'`) and `sealed.bytes(name)` (BYTEA, for the default binary
 * storage). A column of either type accepts only envelopes: inserting a plain value is a
 * compile error, and, from JavaScript, a `TypeError` before anything is sent.
 * @example
 * ```ts
 * import { pgTable, text } from 'drizzle-orm/pg-core';
 * import { sealed } from 'fieldseal/drizzle';
 *
 * export const customers = pgTable('customers', {
 *   tenantId: text('tenantId').notNull(),
 *   id: text('id').primaryKey(),
 *   email: sealed.bytes('email').notNull(),
 *   email_bidx_v1: text('email_bidx_v1'),
 *   ssn: sealed.text('ssn'),
 * });
 * ```
 */
export const sealed = Object.freeze({ text, bytes });

/** Whether a Drizzle column is a sealed one, and which form. @internal */
export function sealedKindOf(column: {
  mapFromDriverValue(value: unknown): unknown;
}): 'text' | 'bytes' | undefined {
  let answer: unknown;
  try {
    answer = column.mapFromDriverValue(PROBE);
  } catch {
    return undefined;
  }
  if (answer === IS_TEXT) return 'text';
  if (answer === IS_BYTES) return 'bytes';
  return undefined;
}
