import { createHash } from 'node:crypto';
import type { KeyContext } from '../envelope/context.js';
import { cacheId } from '../lib/cache-id.js';
import { ownData } from '../lib/own-data.js';

/**
 * What decides a field's data keys besides the tenant, prepared once per field when the client
 * is built: its own master key (`FieldPolicy.masterKeyId`) and the static entries it adds to
 * the provider context (`FieldPolicy.keyContext`). A field with neither has none, and takes
 * the unchanged path. @internal
 */
export interface FieldKey {
  /** The field's own master key, or `undefined`: the tenant's. */
  readonly masterKeyId: string | undefined;
  /** The static provider-context entries, without `tenant` (frozen), or `undefined`. */
  readonly context: KeyContext | undefined;
  /** The tenant the key context names (`keyContext.tenant`), if it names one. */
  readonly tenant: string | undefined;
  /**
   * A short digest of {@link context}'s canonical form: part of every cache id of its keys
   * (short, so that a large context does not multiply the memory of every id).
   */
  readonly contextId: string | undefined;
  /** Equal ids: one data key per tenant (batches group writes by it). */
  readonly id: string;
}

/**
 * Names the key-store context uses, and which a field may therefore never set: a data key's
 * provider context must mean one thing. `__proto__` cannot be an entry of a plain object copy
 * (an assignment to it sets the prototype), so a provider could silently lose it.
 */
const RESERVED = new Set(['key', 'version', '__proto__']);
const MAX_ENTRIES = 16;
/** UTF-8 bytes: what providers limit (the canonical context allows 255 per name). */
const MAX_NAME = 128;
const MAX_VALUE = 1024;

/**
 * Check a field's `keyContext` (read once, own enumerable data properties only) and return a
 * frozen, null-prototype copy with its names sorted: 1 to 16 entries; names of 1-128 UTF-8
 * bytes, well-formed, distinct without regard to case (KMS policy conditions ignore case), not
 * starting with `aws` (AWS reserves those) and none of `key`, `version` (the key-store
 * context's) or `__proto__`; values non-empty, well-formed strings of at most 1024 UTF-8
 * bytes. `tenant` may be given: the field's values then belong to that tenant only.
 * @throws TypeError naming `where` and the entry.
 * @internal
 */
export function checkKeyContext(value: unknown, where: string): KeyContext {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${where}: expected an object of strings`);
  }
  const own = ownData(
    value,
    (why, key) => {
      throw new TypeError(`${where}.${key}: ${why} properties are not read; pass plain data`);
    },
    // A hidden entry would be silently left out of what the provider binds: refuse it.
    { symbols: 'refuse', hidden: 'refuse' },
  );
  const names = Object.keys(own).sort();
  if (names.length === 0 || names.length > MAX_ENTRIES) {
    throw new TypeError(`${where}: expected 1 to ${MAX_ENTRIES} entries`);
  }
  const lower = new Set<string>();
  const out = Object.create(null) as Record<string, string>;
  for (const name of names) {
    const entry = own[name];
    if (name.length === 0 || Buffer.byteLength(name, 'utf8') > MAX_NAME || !name.isWellFormed()) {
      throw new TypeError(
        `${where}: entry names are 1 to ${MAX_NAME} UTF-8 bytes of well-formed Unicode`,
      );
    }
    if (/^aws/i.test(name)) {
      throw new TypeError(`${where}.${name}: names starting with "aws" are reserved by AWS`);
    }
    const lowered = name.toLowerCase();
    if (RESERVED.has(lowered) || (lowered === 'tenant' && name !== 'tenant')) {
      throw new TypeError(
        `${where}.${name}: reserved (key and version are the key store's; the tenant is "tenant")`,
      );
    }
    if (lower.has(lowered)) {
      throw new TypeError(`${where}.${name}: two entries differ only in letter case`);
    }
    lower.add(lowered);
    if (
      typeof entry !== 'string' ||
      entry.length === 0 ||
      Buffer.byteLength(entry, 'utf8') > MAX_VALUE
    ) {
      throw new TypeError(
        `${where}.${name}: expected a non-empty string of at most ${MAX_VALUE} UTF-8 bytes`,
      );
    }
    if (!entry.isWellFormed()) {
      throw new TypeError(`${where}.${name}: expected well-formed Unicode`);
    }
    out[name] = entry;
  }
  return Object.freeze(out);
}

/**
 * The {@link FieldKey} of a field's checked policy, or `undefined` when it has neither a master
 * key nor a key context.
 * @internal
 */
export function fieldKeyOf(
  masterKeyId: string | undefined,
  keyContext: KeyContext | undefined,
): FieldKey | undefined {
  if (masterKeyId === undefined && keyContext === undefined) return undefined;
  let context: KeyContext | undefined;
  let contextId: string | undefined;
  let tenant: string | undefined;
  if (keyContext !== undefined) {
    const rest = Object.create(null) as Record<string, string>;
    const parts: string[] = [];
    for (const [name, value] of Object.entries(keyContext)) {
      if (name === 'tenant') {
        tenant = value;
        continue;
      }
      rest[name] = value;
      parts.push(name, value);
    }
    if (parts.length > 0) {
      context = Object.freeze(rest);
      // Names are sorted and the parts length-prefixed, so equal digests mean equal contexts.
      contextId = createHash('sha256')
        .update(cacheId(...parts))
        .digest('base64url');
    }
  }
  return Object.freeze({
    masterKeyId,
    context,
    tenant,
    contextId,
    id: cacheId(masterKeyId ?? '', contextId ?? ''),
  });
}
