import { MAX_MASTER_KEY_ID_BYTES } from '../envelope/format.js';

/**
 * Check a field's `masterKeyId`: a non-empty string that fits the envelope header's master
 * key id (docs/format.md §3: at most 255 UTF-8 bytes), so a bad id is refused when the field
 * is defined, not at its first write.
 * @throws TypeError naming `name`.
 * @internal
 */
export function checkFieldMasterKeyId(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${name}: expected a non-empty string, got ${describe(value)}`);
  }
  if (Buffer.from(value, 'utf8').toString('utf8') !== value) {
    // A lone surrogate would be written as U+FFFD in the header: values nobody could read.
    throw new TypeError(`${name}: expected well-formed Unicode`);
  }
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_MASTER_KEY_ID_BYTES) {
    throw new TypeError(
      `${name}: expected at most ${MAX_MASTER_KEY_ID_BYTES} UTF-8 bytes (the envelope header's limit), got ${bytes}`,
    );
  }
}

function describe(value: unknown): string {
  return typeof value === 'string' ? 'an empty string' : typeof value;
}

/**
 * Whether `value` can be a master key id in an envelope header (non-empty, well-formed, at
 * most 255 UTF-8 bytes): the write path's last check, whatever the configuration said.
 * @internal
 */
export function isHeaderMasterKeyId(value: string): boolean {
  try {
    checkFieldMasterKeyId(value, 'masterKeyId');
    return true;
  } catch {
    return false;
  }
}
