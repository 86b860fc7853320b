import { createDecipheriv } from 'node:crypto';
import type { Settled } from '../../index.js';
import {
  AuthenticationFailedError,
  MalformedCiphertextError,
  isFieldsealError,
  type FieldsealError,
} from '../../index.js';
import type { KeyContext } from '../../index.js';
import type { DataKey } from '../../index.js';
import type { KeyProvider } from '../../index.js';
import { mapLimit } from '../../integration/index.js';
import { parseSeedValue } from './parse-seed-value.js';
import { SEED_TAG_LENGTH, type SeedEnvelope } from './seed-format.js';

/**
 * One stored seed value and the encryption context it was written with (pydynox's
 * `EncryptedAttribute(context=...)`, an empty object when none was configured).
 * @example
 * ```ts
 * const item: SeedValueItem = { text: row.ssn, context: { tenant: 'acme-corp', purpose: 'pii' } };
 * ```
 */
export interface SeedValueItem {
  readonly text: string;
  readonly context: KeyContext;
}

/**
 * How {@link openSeedValues} reaches the data keys.
 * @example
 * ```ts
 * const options: OpenSeedValuesOptions = { provider: new AwsKmsKeyProvider({ region }), masterKeyId: 'alias/app' };
 * ```
 */
export interface OpenSeedValuesOptions {
  /** Unwraps the KMS `CiphertextBlob`s; `AwsKmsKeyProvider` for real seed data. */
  readonly provider: KeyProvider;
  /** The KMS key (id, ARN or alias) pydynox was configured with. */
  readonly masterKeyId: string;
  /** Most unwraps in flight at once (default 8). */
  readonly concurrency?: number;
}

const DEFAULT_CONCURRENCY = 8;
// ignoreBOM: keep a leading U+FEFF, as pydynox's `String::from_utf8` does; fatal: no U+FFFD.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

interface Group {
  readonly wrapped: Uint8Array;
  readonly context: KeyContext;
  readonly members: [index: number, env: SeedEnvelope][];
}

/**
 * Open a batch of pydynox `ENC:` values: parse each, unwrap each distinct (wrapped key,
 * context) pair exactly once through `provider.unwrapDataKey(masterKeyId, wrapped, context)`,
 * then AES-256-GCM-decrypt (no AAD, as pydynox) and decode strict UTF-8. Data keys are
 * released and plaintext buffers zeroed as soon as their group is done.
 *
 * pydynox generates a new data key per value, so in real data most values have a pair of their
 * own; the deduplication pays off for repeated values (copied items, a value read twice).
 *
 * Results are in item order. Each failure is the item's own `FieldsealError`:
 * `ERR_MALFORMED_CIPHERTEXT` (parse, or plaintext not UTF-8), `ERR_AUTHENTICATION_FAILED`
 * (tag), or the provider's typed error, shared by every item of the pair (`ERR_KEY_UNWRAP_FAILED`
 * for a wrong context, `ERR_PROVIDER_UNAVAILABLE`, `ERR_ACCESS_DENIED`, `ERR_KEY_SHREDDED`...).
 * No error carries the stored text, the plaintext or key bytes.
 *
 * @throws TypeError for argument mistakes (items not an array, text not a string, context
 *   not a string map, empty masterKeyId, bad concurrency); anything else is per item.
 * @example
 * ```ts
 * const results = await openSeedValues(
 *   [{ text: item.ssn, context: { tenant: 'acme-corp', purpose: 'pii' } }],
 *   { provider, masterKeyId: 'alias/pydynox' },
 * );
 * for (const r of results) if (r.ok) console.log(r.value.length); else console.warn(r.error.code);
 * ```
 */
export async function openSeedValues(
  items: readonly SeedValueItem[],
  options: OpenSeedValuesOptions,
): Promise<Settled<string>[]> {
  const { provider, masterKeyId } = options;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const list: unknown = items; // checked without narrowing `items` to any[]
  if (!Array.isArray(list)) throw new TypeError('items: expected an array');
  if (typeof masterKeyId !== 'string' || masterKeyId.length === 0) {
    throw new TypeError('options.masterKeyId: expected a non-empty string');
  }
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new TypeError(`options.concurrency: expected a positive integer, got ${concurrency}`);
  }
  const results = new Array<Settled<string>>(items.length);
  const groups = new Map<string, Group>();
  items.forEach((item, index) => {
    const context = checkItem(item, index);
    let env: SeedEnvelope;
    try {
      env = parseSeedValue(item.text);
    } catch (err) {
      results[index] = { ok: false, error: err as FieldsealError };
      return;
    }
    const id = groupId(env.wrappedKey, context);
    const group = groups.get(id);
    if (group === undefined) {
      groups.set(id, { wrapped: env.wrappedKey, context, members: [[index, env]] });
    } else group.members.push([index, env]);
  });
  await mapLimit([...groups.values()], concurrency, async (group) => {
    let key: DataKey;
    try {
      key = await provider.unwrapDataKey(masterKeyId, group.wrapped, group.context);
    } catch (err) {
      if (!isFieldsealError(err)) throw err; // a programming error, not a data problem
      for (const [index] of group.members) results[index] = { ok: false, error: err };
      return;
    }
    try {
      for (const [index, env] of group.members) results[index] = decrypt(env, key);
    } finally {
      key.release();
    }
  });
  return results;
}

/**
 * Open one pydynox `ENC:` value (one unwrap). For many values use {@link openSeedValues}.
 * @throws The item's `FieldsealError` (see {@link openSeedValues}); TypeError for argument mistakes.
 * @example
 * ```ts
 * const ssn = await openSeedValue({ text: item.ssn, context: {} }, { provider, masterKeyId });
 * ```
 */
export async function openSeedValue(
  item: SeedValueItem,
  options: OpenSeedValuesOptions,
): Promise<string> {
  const [result] = await openSeedValues([item], options);
  if (result === undefined) throw new TypeError('item: expected one seed value item');
  if (!result.ok) throw result.error;
  return result.value;
}

/** AES-256-GCM with the 12-byte nonce, no AAD (pydynox `Aes256Gcm::decrypt(nonce, ct)`). */
function decrypt(env: SeedEnvelope, key: DataKey): Settled<string> {
  const decipher = createDecipheriv('aes-256-gcm', key.exposeBytes(), env.nonce, {
    authTagLength: SEED_TAG_LENGTH,
  });
  decipher.setAuthTag(env.tag);
  const plain = decipher.update(env.ciphertext);
  try {
    try {
      decipher.final();
    } catch {
      // OpenSSL already released unauthenticated plaintext into `plain`: wiped in finally.
      return { ok: false, error: new AuthenticationFailedError() };
    }
    try {
      return { ok: true, value: UTF8.decode(plain) };
    } catch {
      return {
        ok: false,
        error: new MalformedCiphertextError('seed "ENC:" value plaintext is not valid UTF-8'),
      };
    }
  } finally {
    plain.fill(0);
  }
}

function checkItem(item: SeedValueItem, index: number): KeyContext {
  if (typeof item !== 'object' || item === null) {
    throw new TypeError(`items[${index}]: expected { text, context }`);
  }
  if (typeof item.text !== 'string') {
    throw new TypeError(`items[${index}].text: expected a string, got ${typeof item.text}`);
  }
  const context: unknown = item.context;
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    throw new TypeError(`items[${index}].context: expected an object of strings`);
  }
  for (const [k, v] of Object.entries(context)) {
    if (typeof v !== 'string')
      throw new TypeError(`items[${index}].context.${k}: expected a string`);
  }
  return context as KeyContext;
}

/**
 * The pair's identity: the wrapped key bytes and the context entries in key order (KMS
 * compares encryption contexts as maps, so insertion order does not make a new pair).
 */
function groupId(wrapped: Uint8Array, context: KeyContext): string {
  const entries = Object.entries(context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength).toString('base64')} ${JSON.stringify(entries)}`;
}
