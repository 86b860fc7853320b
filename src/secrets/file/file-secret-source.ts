import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidKeyMaterialError, KeyNotConfiguredError } from '../../errors.js';
import { PreloadedSecretSource, decodeKeyText, type KeyEncoding } from '../secret-source.js';

/**
 * Options of {@link FileSecretSource}.
 * @example
 * ```ts
 * const options: FileSecretSourceOptions = { keys: { master: '/run/secrets/master' }, encoding: 'raw' };
 * ```
 */
export interface FileSecretSourceOptions {
  /** Reference name → file path, e.g. `{ master: '/run/secrets/fieldseal-master' }`. */
  readonly keys: Readonly<Record<string, string>>;
  /**
   * Encoding of file contents without a `base64:` / `hex:` prefix. `'raw'` takes the file's
   * bytes as they are (a 32-byte binary key file).
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
    for (const [reference, path] of Object.entries(options.keys)) {
      let content: Buffer;
      try {
        content = readFileSync(path);
      } catch (cause) {
        throw new KeyNotConfiguredError(`key "${reference}": file cannot be read`, {
          cause,
          details: { reference },
        });
      }
      if (options.encoding === 'raw') {
        this.load(reference, decodeRaw(reference, content));
      } else {
        const text = content.toString('utf8');
        content.fill(0);
        this.load(reference, decodeKeyText(reference, text, options.encoding));
      }
    }
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
