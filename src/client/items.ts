import type { FieldsealError } from '../errors.js';
import type { EncryptionContext } from '../envelope/context.js';
import type { FieldValue, PaddingOption } from '../envelope/plaintext.js';

/**
 * One value to encrypt in a batch.
 * @example
 * ```ts
 * const item: EncryptItem = { value: 'a@example.com', context: { tenant, table: 'users', field: 'email', record: id } };
 * ```
 */
export interface EncryptItem {
  readonly value: FieldValue;
  readonly context: EncryptionContext;
  readonly pad?: PaddingOption;
}

/**
 * One stored value to decrypt in a batch, with the context it must have been written under.
 * @example
 * ```ts
 * const items: DecryptItem[] = rows.map((r) => ({ stored: r.email, context: { tenant, table: 'users', field: 'email', record: r.id } }));
 * ```
 */
export interface DecryptItem {
  readonly stored: string | Uint8Array;
  readonly context: EncryptionContext;
}

/**
 * Per-item outcome of {@link Fieldseal.decryptManySettled}.
 * @example
 * ```ts
 * const emails = (await fs.decryptManySettled<string>(items)).map((r) => (r.ok ? r.value : null));
 * ```
 */
export type Settled<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: FieldsealError };

/**
 * Per-call options of `encrypt`.
 * @example
 * ```ts
 * await fs.encrypt(note, context, { pad: 'bucket-256' });
 * ```
 */
export interface EncryptOptions {
  /** Padding for this value (overrides the field policy). */
  readonly pad?: PaddingOption;
}

/**
 * What {@link Fieldseal.reencryptManySettled} made of one stored value: the value to store
 * (text stays text, bytes stay bytes) and whether it changed (`false`: already under the
 * tenant's current key, returned as given).
 * @example
 * ```ts
 * const out = await fs.reencryptManySettled(items);
 * const toWrite = out.flatMap((r, i) => (r.ok && r.value.changed ? [{ i, stored: r.value.stored }] : []));
 * ```
 */
export interface Reencrypted {
  readonly stored: string | Uint8Array;
  readonly changed: boolean;
}
