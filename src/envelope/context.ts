import { InvalidContextError } from '../errors.js';
import type { OwnDataRefusal } from '../lib/own-data.js';

/**
 * The encryption context of one value. It is never stored: its canonical encoding is bound
 * into the GCM additional data, so a value only decrypts under the exact context it was
 * written with. `tenant`, `table` and `field` are required; `record` (the row's key) should
 * be given whenever the row has one, so a value cannot be copied to another row.
 *
 * @example
 * ```ts
 * const context: EncryptionContext = {
 *   tenant: 'acme', table: 'customers', field: 'ssn', record: 'cus_42',
 * };
 * ```
 */
export interface EncryptionContext {
  readonly tenant: string;
  readonly table: string;
  readonly field: string;
  /** The record's key: one string, or the parts of a composite key in order. */
  readonly record?: string | readonly string[];
  /** Further caller-chosen entries (e.g. `purpose: 'pii'`). */
  readonly [extra: string]: string | readonly string[] | undefined;
}

/**
 * Memory for context encodings, which are bound into the AAD and, for the contexts a template
 * builds, kept for the context's lifetime. Not Node's shared pool: `Buffer.allocUnsafe`
 * carves small buffers from one slab that any code can reach (`Buffer.allocUnsafe(1).buffer`)
 * and overwrite, which would change what a kept context binds without changing its entries.
 * These slabs are reachable only through the encodings themselves, which never leave the
 * library.
 */
const SLAB_SIZE = 16 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let slabAt = 0;

/** `size` bytes of private memory (uninitialised: every caller writes all of them). */
function privateBytes(size: number): Buffer {
  if (size > SLAB_SIZE / 4) return Buffer.allocUnsafeSlow(size);
  if (slabAt + size > SLAB_SIZE) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    slabAt = 0;
  }
  const out = slab.subarray(slabAt, slabAt + size);
  // 8-byte aligned starts, as Node's pool keeps them.
  slabAt += (size + 7) & ~7;
  return out;
}

/** A private copy of `bytes` (see {@link privateBytes}). */
function privateCopy(bytes: Uint8Array | readonly number[]): Buffer {
  const out = privateBytes(bytes.length);
  out.set(bytes);
  return out;
}

const MAX_ENTRIES = 64;
const MAX_KEY_BYTES = 255;
const MAX_VALUE_BYTES = 65535;
const MAX_LIST_ITEMS = 64;
const VALUE_STRING = 0x00;
const VALUE_LIST = 0x01;

function invalid(message: string): never {
  throw new InvalidContextError(message);
}

function requireName(ctx: EncryptionContext, name: 'tenant' | 'table' | 'field'): void {
  const v = ctx[name];
  if (typeof v !== 'string' || v.length === 0) {
    invalid(`encryption context needs a non-empty string "${name}"`);
  }
}

const CONTEXT_REFUSALS: Readonly<Record<OwnDataRefusal, string>> = {
  symbol: 'encryption context keys must be strings (symbol keys are not bound)',
  accessor: 'encryption context entries must be data properties, not getters',
  hidden: 'encryption context entries must be enumerable',
};

/**
 * One read of a caller's context: a copy that inherits nothing (see {@link SNAPSHOT}) of its
 * own, enumerable, string-keyed data properties (list values copied too), so that what is
 * validated, what is bound into the AAD and what chooses the field policy are the same
 * entries. Anything that could make two
 * readings differ is refused rather than ignored: a non-plain object (class instance, map,
 * array, `Object.create(defaults)`), accessor properties (getters), symbol keys and
 * non-enumerable properties.
 * @throws InvalidContextError (`ERR_INVALID_CONTEXT`)
 * @internal
 */
export function snapshotContext(ctx: unknown): EncryptionContext {
  return readContext(ctx).context;
}

/** A context read once, and what the ASCII encoding needs of it. */
interface ContextRead {
  readonly context: EncryptionContext;
  /** The keys of its defined entries in byte order, when every one is a string (lists: none). */
  readonly sorted: string[] | undefined;
  /** The encoding's size if every key and value is ASCII. */
  readonly size: number;
}

/**
 * The prototype of every context snapshot: empty, frozen, and without a prototype itself, so a
 * snapshot inherits nothing (no `constructor`, `toString` or polluted `Object.prototype` entry
 * answers a lookup) as with a null prototype, while V8 keeps it a fast object instead of a
 * dictionary (about 150 ns less per context, and faster reads of its entries).
 */
const SNAPSHOT: object = Object.freeze(Object.create(null) as object);

/**
 * {@link snapshotContext}, with the keys of the canonical encoding sorted in the same pass:
 * one descriptor read per property (a getter never runs, a Proxy is asked once), the hot path
 * of every encrypt and decrypt.
 */
function readContext(ctx: unknown): ContextRead {
  if (typeof ctx !== 'object' || ctx === null || Array.isArray(ctx)) {
    invalid('encryption context must be an object');
  }
  const proto: unknown = Object.getPrototypeOf(ctx);
  if (proto !== Object.prototype && proto !== null && proto !== SNAPSHOT) {
    invalid('encryption context must be a plain object (no class instance or prototype chain)');
  }
  const out = Object.create(SNAPSHOT) as Record<string, string | readonly string[] | undefined>;
  let sorted: string[] | undefined = [];
  let size = 2;
  let lists = false;
  for (const key of Reflect.ownKeys(ctx)) {
    const d = Reflect.getOwnPropertyDescriptor(ctx, key);
    if (d === undefined) continue;
    if (d.enumerable !== true) invalid(CONTEXT_REFUSALS.hidden);
    if (typeof key === 'symbol') invalid(CONTEXT_REFUSALS.symbol);
    if (!('value' in d)) invalid(CONTEXT_REFUSALS.accessor);
    const value: unknown = d.value;
    if (Array.isArray(value)) {
      // Copied once every property has been read and checked (as the refusals' order wants).
      out[key] = value as unknown[] as string[];
      lists = true;
      sorted = undefined;
      continue;
    }
    out[key] = value as string | undefined;
    if (value === undefined || sorted === undefined) continue;
    if (typeof value !== 'string') {
      sorted = undefined;
      continue;
    }
    size += 4 + key.length + value.length;
    // Insertion sort: a context has a handful of keys, and Array#sort costs ~10x more here.
    let i = sorted.length;
    sorted.push(key);
    while (i > 0 && sorted[i - 1]! > key) {
      sorted[i] = sorted[i - 1]!;
      i--;
    }
    sorted[i] = key;
  }
  if (lists) {
    for (const key in out) {
      const value = out[key];
      if (Array.isArray(value)) out[key] = copyList(value);
    }
  }
  return { context: out as EncryptionContext, sorted, size };
}

/** A copy of a context list, read once by index (a hostile array cannot change under us). */
function copyList(list: readonly unknown[]): readonly string[] {
  const n = list.length;
  if (!Number.isInteger(n) || n < 0 || n > MAX_LIST_ITEMS) {
    invalid('encryption context lists must hold 1..64 strings');
  }
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const item = list[i];
    if (typeof item !== 'string') invalid('encryption context lists must hold strings');
    out.push(item);
  }
  return out;
}

/**
 * A checked context: its snapshot (see {@link snapshotContext}) and the canonical encoding of
 * that snapshot. Every use of a context — AAD, tenant, policy lookup — reads the snapshot.
 * @internal
 */
export interface CheckedContext {
  readonly context: EncryptionContext;
  readonly bytes: Buffer;
  /** `table.field`, when the context came from a {@link ContextTemplate}. */
  readonly qualified?: string;
}

/**
 * Snapshot, validate and encode a context in one step.
 * @throws InvalidContextError (`ERR_INVALID_CONTEXT`)
 * @internal
 */
export function checkContext(ctx: unknown): CheckedContext {
  const { context, sorted, size } = readContext(ctx);
  requireName(context, 'tenant');
  requireName(context, 'table');
  requireName(context, 'field');
  const ascii = sorted === undefined ? undefined : writeAscii(context, sorted, size);
  return { context, bytes: ascii ?? generalEncoding(context) };
}

/** The check a {@link ContextTemplate} made of a context it built; set by the class below. */
let preparedCheck: (ctx: object) => CheckedContext | undefined;

/**
 * A context the library built itself from a {@link ContextTemplate}: frozen, its entries own
 * data properties like any context, inheriting nothing, and its check (snapshot and encoding)
 * made when it was built, held in a private field. Nothing reachable from an instance leads
 * back to this class (its prototype has no `constructor` and no prototype, and the check is
 * read through a function kept in this module), so only this module can make one; a Proxy or
 * look-alike object fails the brand check and is read as any caller's object.
 */
class PreparedContext {
  readonly #checked: CheckedContext;

  static {
    preparedCheck = (ctx) => (#checked in ctx ? ctx.#checked : undefined);
  }

  constructor(
    base: Readonly<Record<string, string | readonly string[]>>,
    keys: readonly string[],
    tenant: string,
    record: string | readonly string[],
    bytes: Buffer | undefined,
    qualified: string,
  ) {
    // Plain assignments create own data properties, even for a key named `__proto__`: no
    // setter is inherited (see below).
    const self = this as unknown as Record<string, string | readonly string[]>;
    for (const key of keys) self[key] = base[key]!;
    self.tenant = tenant;
    self.record = record;
    Object.freeze(this);
    const context = this as unknown as EncryptionContext;
    this.#checked = Object.freeze({
      context,
      bytes: bytes ?? checkContext({ ...self }).bytes,
      qualified,
    });
  }
}
delete (PreparedContext.prototype as { constructor?: unknown }).constructor;
Object.setPrototypeOf(PreparedContext.prototype, null);
Object.freeze(PreparedContext.prototype);

/**
 * {@link checkContext}, or the check made when a {@link ContextTemplate} built `ctx`: what
 * every encrypt and decrypt calls first.
 * @throws InvalidContextError (`ERR_INVALID_CONTEXT`)
 * @internal
 */
export function checkedContext(ctx: unknown): CheckedContext {
  if (typeof ctx === 'object' && ctx !== null) {
    const known = preparedCheck(ctx);
    if (known !== undefined) return known;
  }
  return checkContext(ctx);
}

/**
 * Contexts of one field of a model: its fixed entries (`table`, `field` and the field's
 * static context) checked and encoded once, then `tenant` and `record` filled in per value
 * into the encoding {@link checkContext} would give (a property test holds them equal).
 * @internal
 */
export interface ContextTemplate {
  /**
   * The frozen context `{ ...fixed, tenant, record }`, already checked and encoded. Never
   * throws for a tenant or record: one {@link checkContext} would refuse comes back as a plain
   * object, which the client refuses (`ERR_INVALID_CONTEXT`) as one item's failure.
   */
  fill(tenant: string, record: string | readonly string[]): EncryptionContext;
}

/** One entry of a template in canonical order: its encoded bytes, or a slot's key header. */
type TemplatePart =
  | { readonly slot: undefined; readonly bytes: Buffer }
  | { readonly slot: 'tenant' | 'record'; readonly bytes: Buffer };

/**
 * A {@link ContextTemplate} for contexts `{ ...fixed, tenant, record }`.
 * @throws InvalidContextError when the fixed entries (with any tenant and record) could never
 *   form a valid context.
 * @internal
 */
export function contextTemplate(
  fixed: Readonly<Record<string, string | readonly string[]>>,
): ContextTemplate {
  const base = Object.create(null) as Record<string, string | readonly string[]>;
  for (const [key, value] of Object.entries(fixed)) {
    // Absent entries are no entries (as in checkContext); tenant and record are per value.
    if (key === 'tenant' || key === 'record' || value === undefined) continue;
    base[key] = Array.isArray(value) ? Object.freeze([...(value as string[])]) : value;
  }
  Object.freeze(base);
  // Validates the fixed entries as a whole context would, and gives each entry's bytes.
  checkContext({ ...base, tenant: 't', record: 'r' });
  const parts: (TemplatePart & { readonly key: Buffer })[] = Object.keys(base).map((key) => {
    const one = encodeCanonicalMap({ [key]: base[key] });
    return { slot: undefined, bytes: privateCopy(one.subarray(2)), key: keyName(key).bytes };
  });
  for (const slot of ['tenant', 'record'] as const) {
    const header = privateCopy([slot.length, ...Buffer.from(slot, 'ascii'), VALUE_STRING]);
    parts.push({ slot, bytes: header, key: Buffer.from(slot, 'ascii') });
  }
  parts.sort((a, b) => Buffer.compare(a.key, b.key));
  const count = parts.length;
  const fixedSize = 2 + parts.reduce((n, p) => n + p.bytes.byteLength + (p.slot ? 2 : 0), 0);
  const order: readonly TemplatePart[] = parts.map(({ slot, bytes }) => ({ slot, bytes }));
  const baseKeys = Object.keys(base);
  const qualified = `${base.table as string}.${base.field as string}`;

  // Lists, non-ASCII text and out-of-range sizes: the general encoding. A context it refuses
  // is returned as a plain object, so the client refuses it where it would any other (as one
  // item's failure, not the whole batch's).
  const general = (tenant: string, record: string | readonly string[]): EncryptionContext => {
    try {
      const list = Array.isArray(record) ? Object.freeze(copyList(record)) : record;
      return new PreparedContext(
        base,
        baseKeys,
        tenant,
        list,
        undefined,
        qualified,
      ) as unknown as EncryptionContext;
    } catch (err) {
      if (!(err instanceof InvalidContextError)) throw err;
      return { ...base, tenant, record } as EncryptionContext;
    }
  };

  return {
    fill(tenant, record) {
      if (
        typeof tenant !== 'string' ||
        typeof record !== 'string' ||
        tenant.length === 0 ||
        tenant.length > MAX_VALUE_BYTES ||
        record.length > MAX_VALUE_BYTES
      ) {
        return general(tenant, record);
      }
      const out = privateBytes(fixedSize + tenant.length + record.length);
      out[0] = count >>> 8;
      out[1] = count & 0xff;
      let at = 2;
      for (const part of order) {
        // Byte by byte: these parts are a few bytes, and a native copy costs more per call.
        const bytes = part.bytes;
        for (let i = 0; i < bytes.length; i++) out[at + i] = bytes[i]!;
        at += bytes.length;
        if (part.slot === undefined) continue;
        const value = part.slot === 'tenant' ? tenant : record;
        out[at++] = value.length >>> 8;
        out[at++] = value.length & 0xff;
        at = putAscii(out, at, value);
        if (at < 0) return general(tenant, record); // not ASCII: the general encoding
      }
      return new PreparedContext(
        base,
        baseKeys,
        tenant,
        record,
        out,
        qualified,
      ) as unknown as EncryptionContext;
    },
  };
}

/**
 * Validate a context and return its canonical encoding (docs/format.md §4):
 * `u16 count`, then for each entry sorted by the UTF-8 bytes of its key:
 * `u8 keyLen | key | u8 kind | value`, where a string value is `u16 len | utf8` and a list is
 * `u8 n | (u16 len | utf8) * n`. Absent (`undefined`) entries are skipped. The context is
 * read once ({@link snapshotContext}).
 *
 * The encoding is injective (every field length-prefixed, kinds tagged) and independent of
 * property order.
 * @throws InvalidContextError (`ERR_INVALID_CONTEXT`)
 * @internal
 */
export function encodeContext(ctx: EncryptionContext): Buffer {
  return checkContext(ctx).bytes;
}

/**
 * The canonical encoding of any string map (the body of {@link encodeContext}); also binds
 * key-provider contexts.
 *
 * @example
 * ```ts
 * const bytes = encodeCanonicalMap({ tenant: 'acme', purpose: 'pii' }); // same bytes for any key order
 * ```
 */
export function encodeCanonicalMap(
  ctx: Readonly<Record<string, string | readonly string[] | undefined>>,
): Buffer {
  return asciiEncoding(ctx) ?? generalEncoding(ctx);
}

/**
 * The same bytes as {@link generalEncoding} for the common case — every key and value an
 * ASCII string (ids and names) — written byte by byte into one buffer. For ASCII, UTF-16
 * order is UTF-8 byte order and string length is byte length. Anything else (non-ASCII,
 * lists, out-of-range sizes) returns `undefined` and takes the general path, which also
 * produces every error.
 */
function asciiEncoding(
  ctx: Readonly<Record<string, string | readonly string[] | undefined>>,
): Buffer | undefined {
  const all = Object.keys(ctx);
  if (all.length > MAX_ENTRIES) return undefined;
  const keys: string[] = [];
  let size = 2;
  for (const key of all) {
    const value = ctx[key];
    if (value === undefined) continue;
    if (typeof value !== 'string') return undefined;
    if (key.length === 0 || key.length > MAX_KEY_BYTES || value.length > MAX_VALUE_BYTES) {
      return undefined;
    }
    size += 4 + key.length + value.length;
    // Insertion sort: a context has a handful of keys, and Array#sort costs ~10x more here.
    let i = keys.length;
    keys.push(key);
    while (i > 0 && keys[i - 1]! > key) {
      keys[i] = keys[i - 1]!;
      i--;
    }
    keys[i] = key;
  }
  return writeAscii(ctx, keys, size);
}

/**
 * Write the encoding of `ctx`, whose defined entries are all strings, keys sorted in `keys`;
 * `undefined` (the general path decides) for non-ASCII text or sizes out of range.
 */
function writeAscii(
  ctx: Readonly<Record<string, string | readonly string[] | undefined>>,
  keys: readonly string[],
  size: number,
): Buffer | undefined {
  if (keys.length > MAX_ENTRIES) return undefined;
  const out = privateBytes(size);
  out[0] = keys.length >>> 8;
  out[1] = keys.length & 0xff;
  let at = 2;
  for (const key of keys) {
    const value = ctx[key] as string;
    if (key.length === 0 || key.length > MAX_KEY_BYTES || value.length > MAX_VALUE_BYTES) {
      return undefined;
    }
    out[at++] = key.length;
    at = putAscii(out, at, key);
    if (at < 0) return undefined;
    out[at++] = VALUE_STRING;
    out[at++] = value.length >>> 8;
    out[at++] = value.length & 0xff;
    at = putAscii(out, at, value);
    if (at < 0) return undefined;
  }
  return out;
}

function putAscii(out: Buffer, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return -1;
    out[at + i] = c;
  }
  return at + s.length;
}

function generalEncoding(
  ctx: Readonly<Record<string, string | readonly string[] | undefined>>,
): Buffer {
  const entries: Entry[] = [];
  let size = 2;
  let asciiKeys = true;
  for (const key in ctx) {
    if (!Object.prototype.hasOwnProperty.call(ctx, key)) continue;
    const value = ctx[key];
    if (value === undefined) continue;
    const name = keyName(key);
    asciiKeys &&= name.ascii;
    size += 2 + name.bytes.byteLength;
    if (typeof value === 'string') {
      size += 2 + stringSize(value);
    } else if (Array.isArray(value)) {
      const list = value as readonly unknown[];
      if (list.length === 0 || list.length > MAX_LIST_ITEMS) {
        invalid('encryption context lists must hold 1..64 strings');
      }
      size += 1;
      for (const item of list) {
        if (typeof item !== 'string') invalid('encryption context lists must hold strings');
        size += 2 + stringSize(item);
      }
    } else {
      invalid('encryption context values must be strings or lists of strings');
    }
    entries.push({ key, name, value });
  }
  if (entries.length > MAX_ENTRIES) invalid('encryption context has more than 64 entries');
  // For ASCII keys, UTF-16 string order is UTF-8 byte order: no native compare needed.
  entries.sort(
    asciiKeys
      ? (a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
      : (a, b) => Buffer.compare(a.name.bytes, b.name.bytes),
  );
  const out = privateBytes(size);
  out[0] = entries.length >>> 8;
  out[1] = entries.length & 0xff;
  let at = 2;
  for (const { name, value } of entries) {
    out[at++] = name.bytes.byteLength;
    at += name.bytes.copy(out, at);
    if (typeof value === 'string') {
      out[at++] = VALUE_STRING;
      at = writeString(out, at, value);
    } else {
      out[at++] = VALUE_LIST;
      out[at++] = value.length;
      for (const item of value) at = writeString(out, at, item);
    }
  }
  return out;
}

interface KeyName {
  readonly bytes: Buffer;
  readonly ascii: boolean;
}

interface Entry {
  readonly key: string;
  readonly name: KeyName;
  readonly value: string | readonly string[];
}

/** Encoded context keys: a handful of names recur on every call, so keep their bytes. */
const keyNames = new Map<string, KeyName>();
const MAX_CACHED_KEY_NAMES = 256;

function keyName(key: string): KeyName {
  const cached = keyNames.get(key);
  if (cached !== undefined) return cached;
  if (!key.isWellFormed()) invalid('encryption context keys must be well-formed Unicode');
  const bytes = privateCopy(Buffer.from(key, 'utf8'));
  if (bytes.byteLength === 0 || bytes.byteLength > MAX_KEY_BYTES) {
    invalid('encryption context keys must be 1..255 bytes');
  }
  const name = { bytes, ascii: bytes.byteLength === key.length };
  if (keyNames.size < MAX_CACHED_KEY_NAMES) keyNames.set(key, name);
  return name;
}

function stringSize(s: string): number {
  const n = Buffer.byteLength(s, 'utf8');
  if (n > MAX_VALUE_BYTES) invalid('encryption context values must be at most 65535 bytes');
  // Lone surrogates would be replaced by U+FFFD and two contexts would encode alike.
  if (!s.isWellFormed()) invalid('encryption context values must be well-formed Unicode');
  return n;
}

function writeString(out: Buffer, at: number, s: string): number {
  const written = out.write(s, at + 2, 'utf8');
  out[at] = written >>> 8;
  out[at + 1] = written & 0xff;
  return at + 2 + written;
}

/**
 * The context given to a key provider when it wraps or unwraps a data key: the tenant plus,
 * for key-store keys, the key id and version. AWS KMS and Vault see exactly these entries.
 * @example
 * ```ts
 * const ctx: KeyContext = { tenant: 'acme', key: 'default', version: '3' };
 * ```
 */
export type KeyContext = Readonly<Record<string, string>>;
