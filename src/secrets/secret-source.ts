import { InvalidKeyMaterialError, KeyNotConfiguredError } from '../errors.js';
import { RedactedObject } from '../keys/redacted.js';

/**
 * A named 32-byte secret (a master key or a per-field key) in a holder that prints as
 * `[REDACTED]` and can be wiped.
 *
 * @example
 * ```ts
 * const key = await source.getKey('master');
 * key.use((bytes) => doSomething(bytes)); // bytes valid only inside the callback
 * ```
 */
export class SecretKey extends RedactedObject {
  #bytes: Buffer;
  /** The reference the key was loaded under (a name, never the value). */
  readonly reference: string;

  constructor(reference: string, bytes: Uint8Array) {
    super();
    this.reference = reference;
    this.#bytes = Buffer.from(bytes);
  }

  /** Run `fn` with the key bytes; they must not escape the callback. */
  use<T>(fn: (bytes: Buffer) => T): T {
    if (this.#bytes.byteLength === 0) throw new KeyNotConfiguredError('secret key has been wiped');
    return fn(this.#bytes);
  }

  /** Zero the key. Later `use` calls fail with `ERR_KEY_NOT_CONFIGURED`. */
  wipe(): void {
    this.#bytes.fill(0);
    this.#bytes = Buffer.alloc(0);
  }
}

/**
 * Where named secrets come from (environment, files, Vault KV...). Sources validate every key
 * they were configured with when they are constructed (or, for remote sources, on `init`),
 * so a wrong key refuses to start the process instead of failing on the first request.
 *
 * @example
 * ```ts
 * const source: SecretSource = new EnvSecretSource({ keys: { master: 'FIELDSEAL_MASTER_KEY' } });
 * const master = await source.getKey('master');
 * ```
 */
export interface SecretSource {
  /** Kind of source (`env`, `file`, ...), for errors and audit. */
  readonly kind: string;
  /** Names this source can resolve. */
  references(): readonly string[];
  /**
   * The 32-byte key stored under `reference`.
   * @throws KeyNotConfiguredError when the reference is unknown.
   */
  getKey(reference: string): Promise<SecretKey>;
}

/**
 * How secret text without a `base64:` / `hex:` prefix is decoded. `'utf8'` takes the text
 * itself as the key (the GraphQL seed's raw 32-character keys): it must be exactly 32 bytes
 * of UTF-8, and a prefix is then part of the key, never read as one. Give it per key where
 * the source allows, so one raw key does not make every other key's text a guess.
 * @example
 * ```ts
 * new EnvSecretSource({ keys: { master: 'MASTER_KEY_HEX' }, encoding: 'hex' });
 * new EnvSecretSource({ keys: { email: { variable: 'FIELD_ENCRYPTION_KEY_EMAIL', encoding: 'utf8' } } });
 * ```
 */
export type KeyEncoding = 'base64' | 'hex' | 'utf8';

const KEY_ENCODINGS: readonly string[] = ['base64', 'hex', 'utf8'];

/**
 * Check an `encoding` option read from a caller's object: `undefined` or one of
 * {@link KeyEncoding} (plus the names in `extra`), so a typo such as `'utf-8'` is refused when
 * the source is built instead of making every key fail later.
 * @throws TypeError naming `name`.
 * @example
 * ```ts
 * const encoding = checkKeyEncoding(options.encoding, 'keys.email.encoding'); // 'utf8' | ...
 * ```
 */
export function checkKeyEncoding(value: unknown, name: string): KeyEncoding | undefined;
export function checkKeyEncoding<E extends string>(
  value: unknown,
  name: string,
  extra: readonly E[],
): KeyEncoding | E | undefined;
export function checkKeyEncoding(
  value: unknown,
  name: string,
  extra: readonly string[] = [],
): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && (KEY_ENCODINGS.includes(value) || extra.includes(value))) {
    return value;
  }
  const allowed = [...KEY_ENCODINGS, ...extra].map((e) => `'${e}'`).join(', ');
  throw new TypeError(`${name}: expected one of ${allowed}, got ${describeValue(value)}`);
}

/** The kind of a refused option, never its text: a misplaced key could be in it. */
function describeValue(value: unknown): string {
  return typeof value === 'string' ? `a string of ${value.length} characters` : typeof value;
}

const HEX = /^[0-9a-fA-F]*$/;
const B64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Decode secret text into exactly 32 bytes: `base64:<...>` or `hex:<...>`, or text without a
 * prefix under an explicit `encoding`. Surrounding whitespace (a trailing newline in a file)
 * is ignored, except under `'utf8'`, where the text is the key: only one trailing line break
 * is dropped, and the rest (prefix-like text, spaces) is key material.
 * `origin` (e.g. `environment variable X`) is named in errors next to the reference.
 * @throws InvalidKeyMaterialError naming `reference` (never the value).
 *
 * @example
 * ```ts
 * const key = decodeKeyText('BLIND_INDEX_KEY', process.env.BLIND_INDEX_KEY ?? '');
 * // 32 bytes from 'base64:...' or 'hex:...'; an error names BLIND_INDEX_KEY, never the value
 * ```
 */
export function decodeKeyText(
  reference: string,
  text: string,
  encoding?: KeyEncoding,
  origin?: string,
): Buffer {
  const where = origin === undefined ? `key "${reference}"` : `key "${reference}" (${origin})`;
  if (encoding === 'utf8') return decodeUtf8Key(reference, where, text);
  const trimmed = text.trim();
  let enc: KeyEncoding | undefined = encoding;
  let body = trimmed;
  if (trimmed.startsWith('base64:')) {
    enc = 'base64';
    body = trimmed.slice(7);
  } else if (trimmed.startsWith('hex:')) {
    enc = 'hex';
    body = trimmed.slice(4);
  }
  if (enc === undefined) {
    throw new InvalidKeyMaterialError(
      `${where} has no "base64:" or "hex:" prefix and no encoding was given (for a raw 32-character key, set its encoding to 'utf8')`,
      { details: { reference } },
    );
  }
  const valid = enc === 'hex' ? HEX.test(body) && body.length % 2 === 0 : B64.test(body);
  const bytes = valid ? Buffer.from(body, enc === 'hex' ? 'hex' : 'base64') : Buffer.alloc(0);
  if (bytes.byteLength !== 32) {
    const got = valid ? `${bytes.byteLength} bytes` : `invalid ${enc}`;
    bytes.fill(0);
    throw new InvalidKeyMaterialError(
      `${where} must decode to exactly 32 bytes of ${enc} (got ${got})`,
      { details: { reference } },
    );
  }
  return bytes;
}

function decodeUtf8Key(reference: string, where: string, text: string): Buffer {
  const body = text.endsWith('\r\n')
    ? text.slice(0, -2)
    : text.endsWith('\n')
      ? text.slice(0, -1)
      : text;
  const bytes = Buffer.from(body, 'utf8');
  // A lone surrogate would become EF BF BD: refuse text that is not what it will be read as.
  const wellFormed = bytes.toString('utf8') === body;
  if (!wellFormed || bytes.byteLength !== 32) {
    const got = wellFormed ? `${bytes.byteLength} bytes` : 'text that is not well-formed Unicode';
    bytes.fill(0);
    throw new InvalidKeyMaterialError(
      `${where} must be exactly 32 bytes of UTF-8 text (got ${got})`,
      { details: { reference } },
    );
  }
  return bytes;
}

/**
 * Shared implementation of sources that load every key up front.
 * @internal
 */
export abstract class PreloadedSecretSource extends RedactedObject implements SecretSource {
  abstract readonly kind: string;
  readonly #keys = new Map<string, SecretKey>();

  protected load(reference: string, bytes: Buffer): void {
    this.#keys.set(reference, new SecretKey(reference, bytes));
    bytes.fill(0);
  }

  references(): readonly string[] {
    return [...this.#keys.keys()];
  }

  getKey(reference: string): Promise<SecretKey> {
    const key = this.#keys.get(reference);
    if (key === undefined) {
      return Promise.reject(
        new KeyNotConfiguredError(`no key "${reference}" in the ${this.kind} secret source`, {
          details: { reference },
        }),
      );
    }
    return Promise.resolve(key);
  }
}
