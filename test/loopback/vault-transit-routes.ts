import { randomBytes } from 'node:crypto';
import {
  VaultError,
  contextOf,
  open,
  seal,
  strictBase64,
  type TransitKey,
} from './vault-transit-crypto.js';

/**
 * The loopback Vault's Transit endpoints below `/v1/transit/`: `encrypt`, `decrypt`,
 * `rewrap`, `datakey/plaintext|wrapped` and `keys/:name` (read, create, `rotate`, `config`).
 */
export function transitRoute(
  keys: Map<string, TransitKey>,
  method: string,
  op: string,
  name: string,
  sub: string | undefined,
  body: Record<string, unknown>,
): Record<string, unknown> {
  if (op === 'keys') return keysRoute(keys, method, name, sub, body);
  if (method !== 'POST') throw new VaultError(405, []);
  const key = keys.get(name);
  if (key === undefined) throw new VaultError(400, ['encryption key not found']);
  const context = contextOf(key, body);
  switch (op) {
    case 'encrypt': {
      const plaintext = strictBase64(body.plaintext, 'plaintext');
      return { data: { ciphertext: seal(key, key.versions.length, context, plaintext) } };
    }
    case 'decrypt': {
      return { data: { plaintext: open(key, context, body.ciphertext).toString('base64') } };
    }
    case 'rewrap': {
      const plaintext = open(key, context, body.ciphertext);
      const v = key.versions.length;
      return { data: { ciphertext: seal(key, v, context, plaintext), key_version: v } };
    }
    case 'datakey/plaintext':
    case 'datakey/wrapped': {
      const bits = body.bits ?? 256;
      if (bits !== 256 && bits !== 128 && bits !== 512) throw new VaultError(400, ['invalid bits']);
      const dk = randomBytes(bits / 8);
      const v = key.versions.length;
      const ciphertext = seal(key, v, context, dk);
      const data: Record<string, unknown> = { ciphertext, key_version: v };
      if (op === 'datakey/plaintext') data.plaintext = dk.toString('base64');
      return { data };
    }
    default:
      throw new VaultError(404, []);
  }
}

function keysRoute(
  keys: Map<string, TransitKey>,
  method: string,
  name: string,
  sub: string | undefined,
  body: Record<string, unknown>,
): Record<string, unknown> {
  if (sub === '/rotate' && method === 'POST') {
    existing(keys, name).versions.push(randomBytes(32));
    return {};
  }
  if (sub === '/config' && method === 'POST') {
    const key = existing(keys, name);
    const v = Number(body.min_decryption_version ?? key.minDecryptionVersion);
    if (!Number.isInteger(v) || v < 1 || v > key.versions.length) {
      throw new VaultError(400, ['invalid min_decryption_version']);
    }
    key.minDecryptionVersion = v;
    if (typeof body.deletion_allowed === 'boolean') key.deletionAllowed = body.deletion_allowed;
    return {};
  }
  if (method === 'DELETE') {
    if (existing(keys, name).deletionAllowed !== true) {
      throw new VaultError(400, ['deletion is not allowed for this key']);
    }
    keys.delete(name);
    return {};
  }
  if (method === 'POST') {
    if (!keys.has(name)) {
      keys.set(name, {
        versions: [randomBytes(32)],
        minDecryptionVersion: 1,
        derived: body.derived === true,
      });
    }
    return {};
  }
  const key = keys.get(name);
  if (key === undefined) throw new VaultError(404, []);
  const versions: Record<string, number> = {};
  key.versions.forEach((_, i) => (versions[String(i + 1)] = 1_700_000_000 + i));
  return {
    data: {
      name,
      type: 'aes256-gcm96',
      derived: key.derived,
      kdf: key.derived ? 'hkdf_sha256' : undefined,
      latest_version: key.versions.length,
      min_decryption_version: key.minDecryptionVersion,
      min_encryption_version: 0,
      keys: versions,
    },
  };
}

function existing(keys: Map<string, TransitKey>, name: string): TransitKey {
  const key = keys.get(name);
  if (key === undefined) throw new VaultError(400, ['encryption key not found']);
  return key;
}
