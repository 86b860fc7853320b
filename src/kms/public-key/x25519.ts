import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { InvalidKeyMaterialError } from '../../errors.js';

/*
 * Raw 32-byte X25519 keys (RFC 7748) to and from node:crypto KeyObjects, through the fixed DER
 * prefixes of PKCS#8 and SPKI for the X25519 OID 1.3.101.110. All internal.
 */

const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/** A private KeyObject from a raw 32-byte scalar. @internal */
export function privateFromRaw(raw: Uint8Array): KeyObject {
  if (raw.byteLength !== 32)
    throw new InvalidKeyMaterialError('X25519 private key must be 32 bytes');
  const der = Buffer.concat([PKCS8_PREFIX, raw]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

/** A public KeyObject from a raw 32-byte u-coordinate. @internal */
export function publicFromRaw(raw: Uint8Array): KeyObject {
  if (raw.byteLength !== 32)
    throw new InvalidKeyMaterialError('X25519 public key must be 32 bytes');
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** The raw 32 bytes of a public KeyObject. @internal */
export function rawPublic(key: KeyObject): Buffer {
  const der = key.export({ format: 'der', type: 'spki' });
  return Buffer.from(der.subarray(der.byteLength - 32));
}

/** A fresh (ephemeral) key pair. @internal */
export function ephemeralPair(): { privateKey: KeyObject; publicRaw: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { privateKey, publicRaw: rawPublic(publicKey) };
}

/**
 * X25519 shared secret; refuses the all-zero output of a low-order public key (RFC 7748 §6.1),
 * which would make the wrapping key independent of the private key.
 * @internal
 */
export function sharedSecret(privateKey: KeyObject, publicKey: KeyObject): Buffer {
  const z = diffieHellman({ privateKey, publicKey });
  let acc = 0;
  for (const b of z) acc |= b;
  if (acc === 0) {
    throw new InvalidKeyMaterialError('X25519 public key is of low order');
  }
  return z;
}

/**
 * A new X25519 key pair for {@link X25519KeyProvider}: keep `privateKey` (32 bytes) in a
 * secret source of the reading side only (e.g. `hex:` in a key file or Vault KV), give
 * `publicKey` (32 bytes) to the writers.
 * @example
 * ```ts
 * const { publicKey, privateKey } = generateX25519KeyPair();
 * writeFileSync('tenant-acme.key', `hex:${Buffer.from(privateKey).toString('hex')}`, { mode: 0o600 });
 * ```
 */
export function generateX25519KeyPair(): { publicKey: Uint8Array; privateKey: Uint8Array } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const raw = Uint8Array.from(der.subarray(der.byteLength - 32));
  der.fill(0);
  return { publicKey: Uint8Array.from(rawPublic(publicKey)), privateKey: raw };
}

/**
 * The public key of a raw X25519 private key.
 * @example
 * ```ts
 * const pub = x25519PublicKey(privateKey); // give this to the ingest service
 * ```
 */
export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  return Uint8Array.from(rawPublic(createPublicKey(privateFromRaw(privateKey))));
}
