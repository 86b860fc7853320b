import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidKeyMaterialError, KeyNotConfiguredError } from '../../errors.js';
import {
  PreloadedSecretSource,
  checkKeyEncoding,
  decodeKeyText,
  type KeyEncoding,
} from '../secret-source.js';

/**
 * One key of {@link FileSecretSource} with its own encoding.
 * @example
 * ```ts
 * const email: FileKeyLocation = { path: '/run/secrets/email', encoding: 'utf8' };
 * ```
 */
export interface FileKeyLocation {
  /** File holding the key. */
  readonly path: string;
  /** Encoding of this file (default: the source's `encoding`). */
  readonly encoding?: KeyEncoding | 'raw';
}

/**
 * Options of {@link FileSecretSource}.
 * @example
 * ```ts
 * const options: FileSecretSourceOptions = { keys: { master: '/run/secrets/master' }, encoding: 'raw' };
 * ```
 */
export interface FileSecretSourceOptions {
  /**
   * Reference name → file path, e.g. `{ master: '/run/secrets/fieldseal-master' }`, or a
   * {@link FileKeyLocation} giving that file its own encoding.
   */
  readonly keys: Readonly<Record<string, string | FileKeyLocation>>;
  /**
   * Encoding of file contents without a `base64:` / `hex:` prefix (every key without its
   * own). `'raw'` takes the file's bytes as they are (a 32-byte binary key file); `'utf8'`
   * takes its text (exactly 32 bytes of valid UTF-8, one trailing line break dropped).
   */
  readonly encoding?: KeyEncoding | 'raw';
}

/**
 * Keys from files (Docker / Kubernetes secrets), one file per reference, read and validated
 * in the constructor exactly like {@link EnvSecretSource}.
 *
 * @example
 * ```ts
 * const source = new FileSecretSource({ keys: { master: '/run/secrets/fieldseal-master' } });
 * ```
 */
export class FileSecretSource extends PreloadedSecretSource {
  readonly kind = 'file';

  constructor(options: FileSecretSourceOptions) {
    super();
    const fallback = checkKeyEncoding(options.encoding, 'encoding', ['raw'] as const);
    for (const [reference, location] of Object.entries(options.keys)) {
      const { path, encoding } = readLocation(reference, location, fallback);
      let content: Buffer;
      try {
        content = readFileSync(path);
      } catch (cause) {
        throw new KeyNotConfiguredError(`key "${reference}": file cannot be read`, {
          cause,
          details: { reference },
        });
      }
      if (encoding === 'raw') {
        this.load(reference, decodeRaw(reference, content));
      } else {
        const text = fileText(reference, content, encoding);
        content.fill(0);
        this.load(reference, decodeKeyText(reference, text, encoding));
      }
    }
  }
}

type FileEncoding = KeyEncoding | 'raw';

function readLocation(
  reference: string,
  location: unknown,
  fallback: FileEncoding | undefined,
): { path: string; encoding: FileEncoding | undefined } {
  if (typeof location === 'string' && location !== '')
    return { path: location, encoding: fallback };
  if (typeof location === 'object' && location !== null) {
    const { path, encoding } = location as Record<string, unknown>;
    if (typeof path === 'string' && path !== '') {
      const own = checkKeyEncoding(encoding, `keys.${reference}.encoding`, ['raw'] as const);
      return { path, encoding: own ?? fallback };
    }
  }
  throw new TypeError(`keys.${reference}: expected a file path or { path, encoding? }`);
}

/**
 * The file's text. Under `'utf8'` the bytes must be valid UTF-8: a replacement character
 * would make a key other than the file's bytes.
 */
function fileText(reference: string, content: Buffer, encoding: FileEncoding | undefined): string {
  if (encoding !== 'utf8') return content.toString('utf8');
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(content);
  } catch {
    content.fill(0);
    throw new InvalidKeyMaterialError(`key "${reference}" is not valid UTF-8 text`, {
      details: { reference },
    });
  }
}

function decodeRaw(reference: string, content: Buffer): Buffer {
  if (content.byteLength !== 32) {
    const n = content.byteLength;
    content.fill(0);
    throw new InvalidKeyMaterialError(`key "${reference}" must be exactly 32 bytes (got ${n})`, {
      details: { reference },
    });
  }
  return content;
}

/**
 * Create a new random 32-byte key file (`base64:` text, mode 0600) for
 * {@link FileSecretSource}. Refuses to overwrite an existing file.
 * @throws Error with code `EEXIST` when the file exists.
 * @example
 * ```ts
 * generateKeyFile('.fieldseal/master.key');
 * ```
 */
export function generateKeyFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const bytes = randomBytes(32);
  try {
    writeFileSync(path, `base64:${bytes.toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
  } finally {
    bytes.fill(0);
  }
}
