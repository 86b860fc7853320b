import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * The crypto of the loopback Vault's Transit engine: AES-256-GCM with a 12-byte nonce and a
 * 16-byte tag, `vault:vN:base64(nonce | ciphertext | tag)` ciphertexts, and for derived keys
 * HKDF-SHA256 (RFC 5869) of the version key with the request `context` as info. Errors carry
 * Vault's own messages.
 */

/** An error the loopback answers with `{"errors": [...]}` and `status`. */
export class VaultError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
  ) {
    super(errors.join('; '));
  }
}

/** One transit key: its versions (index = version - 1) and policy. */
export interface TransitKey {
  versions: Buffer[];
  minDecryptionVersion: number;
  derived: boolean;
  deletionAllowed?: boolean;
}
export function contextOf(key: TransitKey, body: Record<string, unknown>): Buffer | undefined {
  if (!key.derived) return undefined;
  if (body.context === undefined || body.context === '') {
    throw new VaultError(400, [
      "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key",
    ]);
  }
  return strictBase64(body.context, 'context');
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function strictBase64(value: unknown, name: string): Buffer {
  if (typeof value !== 'string' || !B64.test(value)) {
    throw new VaultError(400, [`failed to base64-decode ${name}`]);
  }
  return Buffer.from(value, 'base64');
}

/** HKDF-SHA256 (RFC 5869) of the version key with the context as info, for derived keys. */
function keyFor(key: TransitKey, version: number, context: Buffer | undefined): Buffer {
  const material = key.versions[version - 1]!;
  if (context === undefined) return material;
  return Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), context, 32));
}

export function seal(
  key: TransitKey,
  version: number,
  context: Buffer | undefined,
  pt: Buffer,
): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFor(key, version, context), nonce, {
    authTagLength: 16,
  });
  const ct = Buffer.concat([cipher.update(pt), cipher.final()]);
  return `vault:v${version}:${Buffer.concat([nonce, ct, cipher.getAuthTag()]).toString('base64')}`;
}

export function open(key: TransitKey, context: Buffer | undefined, ciphertext: unknown): Buffer {
  if (typeof ciphertext !== 'string' || !ciphertext.startsWith('vault:')) {
    throw new VaultError(400, ['invalid ciphertext: no prefix']);
  }
  const m = /^vault:v(\d+):(.*)$/s.exec(ciphertext);
  if (m === null) throw new VaultError(400, ['invalid ciphertext: wrong number of fields']);
  const version = Number(m[1]);
  if (!Number.isInteger(version) || version < 1) {
    throw new VaultError(400, ['invalid ciphertext: version number could not be decoded']);
  }
  if (version > key.versions.length) {
    throw new VaultError(400, ['invalid ciphertext: version is too new']);
  }
  if (version < key.minDecryptionVersion) {
    throw new VaultError(400, [
      'ciphertext or signature version is disallowed by policy (too old)',
    ]);
  }
  const raw = strictBase64(m[2], 'ciphertext');
  if (raw.byteLength < 12 + 16) throw new VaultError(400, ['invalid ciphertext: too short']);
  try {
    const decipher = createDecipheriv(
      'aes-256-gcm',
      keyFor(key, version, context),
      raw.subarray(0, 12),
      {
        authTagLength: 16,
      },
    );
    decipher.setAuthTag(raw.subarray(raw.byteLength - 16));
    return Buffer.concat([
      decipher.update(raw.subarray(12, raw.byteLength - 16)),
      decipher.final(),
    ]);
  } catch {
    throw new VaultError(400, ['cipher: message authentication failed']);
  }
}
