import { statSync } from 'node:fs';
import { InsecureKeyFileError, KeyNotConfiguredError } from '../errors.js';
import { FileSecretSource } from '../secrets/file/file-secret-source.js';

/*
 * The one rule for key files that a configuration or a CLI option names (the local master key,
 * the demo's key, an audit chain key): the file must exist and give its group and others no
 * permission at all (0600 or stricter). Every CLI command and the doctor apply it through
 * here, so the doctor never passes a file a command refuses, nor the reverse.
 * FileSecretSource itself does not apply it: mounted secrets (Kubernetes' defaultMode is 0644)
 * are protected by their mount, which this rule cannot see.
 */

/**
 * The permission bits of a key file, after checking the rule: exists, no group or other bits.
 * Windows has no such bits; there the check is skipped.
 * @throws KeyNotConfiguredError naming the file when it does not exist or cannot be read;
 *   InsecureKeyFileError naming the file and `chmod 600 <file>` when others may read it.
 * @internal
 */
export function checkKeyFile(path: string): number {
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch (cause) {
    const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT';
    throw new KeyNotConfiguredError(
      `key file ${path} ${missing ? 'does not exist' : 'cannot be read'}`,
      { cause, details: { reference: path } },
    );
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new InsecureKeyFileError(
      `key file ${path} has mode ${octal(mode)}: its group or other users may read it; run chmod 600 ${path}`,
      { details: { reference: path } },
    );
  }
  return mode;
}

/**
 * A {@link FileSecretSource} holding the key of `path` under `reference`, once the file passed
 * {@link checkKeyFile}.
 * @throws as {@link checkKeyFile}; InvalidKeyMaterialError for a key that is not 32 bytes.
 * @internal
 */
export function keyFileSource(path: string, reference: string): FileSecretSource {
  checkKeyFile(path);
  return new FileSecretSource({ keys: { [reference]: path } });
}

/** `0644`-style rendering of permission bits. @internal */
export function octal(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}
