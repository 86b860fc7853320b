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
 * How raw secret text is decoded when it carries no `base64:` / `hex:` prefix.
 * @example
 * ```ts
 * new EnvSecretSource({ keys: { master: 'MASTER_KEY_HEX' }, encoding: 'hex' });
 * ```
 */
export type KeyEncoding = 'base64' | 'hex';

const HEX = /^[0-9a-fA-F]*$/;
const B64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Decode secret text into exactly 32 bytes: `base64:<...>` or `hex:<...>`, or raw text with
 * an explicit `encoding`. Surrounding whitespace (a trailing newline in a file) is ignored.
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
      `${where} has no "base64:" or "hex:" prefix and no encoding option was given`,
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
