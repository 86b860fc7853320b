import { MalformedCiphertextError } from '../errors.js';
import {
  FORMAT_VERSION_1,
  KEYREF_EMBEDDED,
  KEYREF_STORE,
  MAGIC,
  MAX_KEY_ID_BYTES,
  MAX_MASTER_KEY_ID_BYTES,
  MAX_PROVIDER_ID_BYTES,
  MAX_WRAPPED_KEY_BYTES,
  SUITE_XAES256GCM_HKDFSHA256_COMMIT,
} from './format.js';

/**
 * Which data key sealed a value (docs/format.md §3).
 * - `store`: a key id and version resolved through a {@link KeyStore} (compact).
 * - `embedded`: the data key itself, wrapped by a key provider (self-contained).
 * @example
 * ```ts
 * const ref: KeyRef = { kind: 'store', keyId: 'default', version: 3 };
 * ```
 */
export type KeyRef =
  | { readonly kind: 'store'; readonly keyId: string; readonly version: number }
  | {
      readonly kind: 'embedded';
      readonly providerId: string;
      readonly masterKeyId: string;
      readonly wrapped: Uint8Array;
    };

/** Human-readable, non-secret label of a key reference, for errors and audit. @internal */
export function describeKeyRef(ref: KeyRef): string {
  return ref.kind === 'store'
    ? `${ref.keyId}@${ref.version}`
    : `${ref.providerId}:${ref.masterKeyId}`;
}

/**
 * The envelope prefix for a key reference: magic, version, suite, flags, key reference.
 * Identical for every value sealed under one data key, so callers cache it.
 * @throws RangeError when an identifier is out of range.
 * @internal
 */
export function encodeHeaderPrefix(ref: KeyRef): Buffer {
  if (ref.kind === 'store') {
    const id = utf8(ref.keyId, 'keyId', MAX_KEY_ID_BYTES);
    if (!Number.isInteger(ref.version) || ref.version < 1 || ref.version > 0xffffffff) {
      throw new RangeError(`version: expected an integer 1..2^32-1, got ${String(ref.version)}`);
    }
    const out = Buffer.allocUnsafe(4 + 1 + id.byteLength + 4);
    writeStart(out, KEYREF_STORE);
    out[4] = id.byteLength;
    id.copy(out, 5);
    out.writeUInt32BE(ref.version, 5 + id.byteLength);
    return out;
  }
  const provider = utf8(ref.providerId, 'providerId', MAX_PROVIDER_ID_BYTES);
  const master = utf8(ref.masterKeyId, 'masterKeyId', MAX_MASTER_KEY_ID_BYTES);
  const w = ref.wrapped.byteLength;
  if (w < 1 || w > MAX_WRAPPED_KEY_BYTES) {
    throw new RangeError(`wrapped key: expected 1..${MAX_WRAPPED_KEY_BYTES} bytes, got ${w}`);
  }
  const out = Buffer.allocUnsafe(4 + 1 + provider.byteLength + 1 + master.byteLength + 2 + w);
  writeStart(out, KEYREF_EMBEDDED);
  let at = 4;
  out[at++] = provider.byteLength;
  at += provider.copy(out, at);
  out[at++] = master.byteLength;
  at += master.copy(out, at);
  at = out.writeUInt16BE(w, at);
  out.set(ref.wrapped, at);
  return out;
}

function writeStart(out: Buffer, kind: number): void {
  out[0] = MAGIC;
  out[1] = FORMAT_VERSION_1;
  out[2] = SUITE_XAES256GCM_HKDFSHA256_COMMIT;
  out[3] = kind;
}

function utf8(s: string, name: string, max: number): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (typeof s !== 'string' || b.byteLength < 1 || b.byteLength > max) {
    throw new RangeError(`${name}: expected 1..${max} UTF-8 bytes`);
  }
  return b;
}

/**
 * Read the key reference that starts at offset 4 of an envelope.
 * @returns the reference and the offset just past it.
 * @throws MalformedCiphertextError
 * @internal
 */
export function decodeKeyRef(bytes: Buffer, kind: number): [KeyRef, number] {
  let at = 4;
  const need = (n: number): void => {
    if (at + n > bytes.byteLength) throw new MalformedCiphertextError('envelope is truncated');
  };
  if (kind === KEYREF_STORE) {
    need(1);
    const n = bytes[at++]!;
    if (n === 0) throw new MalformedCiphertextError('envelope key id is empty');
    need(n + 4);
    const end = at + n + 4;
    if (sameBytes(lastStore.bytes, bytes, 4, end)) return [lastStore.ref, end];
    const keyId = strictUtf8(bytes, at, at + n);
    at += n;
    const version = bytes.readUInt32BE(at);
    at += 4;
    if (version === 0) throw new MalformedCiphertextError('envelope key version is zero');
    const ref = Object.freeze({ kind: 'store', keyId, version } as const);
    // A copy outside Node's shared pool (which any code can reach and overwrite).
    const known = Buffer.allocUnsafeSlow(end - 4);
    bytes.copy(known, 0, 4, end);
    lastStore = { bytes: known, ref };
    return [ref, at];
  }
  if (kind === KEYREF_EMBEDDED) {
    need(1);
    const p = bytes[at++]!;
    if (p === 0 || p > MAX_PROVIDER_ID_BYTES) {
      throw new MalformedCiphertextError('envelope provider id is out of range');
    }
    need(p + 1);
    const providerId = strictUtf8(bytes, at, at + p);
    at += p;
    const m = bytes[at++]!;
    if (m === 0) throw new MalformedCiphertextError('envelope master key id is empty');
    need(m + 2);
    const masterKeyId = strictUtf8(bytes, at, at + m);
    at += m;
    const w = bytes.readUInt16BE(at);
    at += 2;
    if (w === 0 || w > MAX_WRAPPED_KEY_BYTES) {
      throw new MalformedCiphertextError('envelope wrapped key length is out of range');
    }
    need(w);
    const wrapped = bytes.subarray(at, at + w);
    at += w;
    return [{ kind: 'embedded', providerId, masterKeyId, wrapped }, at];
  }
  throw new MalformedCiphertextError('envelope key reference kind is unknown');
}

/**
 * The last store reference decoded, and its encoded bytes (key id length, key id, version):
 * the values of a table share a handful of key versions, so most envelopes repeat the previous
 * one's reference and get the same frozen object back instead of decoding a new one.
 */
let lastStore: { readonly bytes: Buffer; readonly ref: KeyRef } = {
  bytes: Buffer.alloc(0),
  ref: Object.freeze({ kind: 'store', keyId: '', version: 0 } as const),
};

function sameBytes(known: Buffer, bytes: Buffer, start: number, end: number): boolean {
  if (known.byteLength !== end - start) return false;
  for (let i = 0; i < known.byteLength; i++) if (known[i] !== bytes[start + i]) return false;
  return true;
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function strictUtf8(bytes: Buffer, start: number, end: number): string {
  // Identifiers are nearly always ASCII: decode those without the (slow) fatal TextDecoder.
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (bytes[i]! > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return bytes.toString('latin1', start, end);
  try {
    return decoder.decode(bytes.subarray(start, end));
  } catch {
    throw new MalformedCiphertextError('envelope identifier is not valid UTF-8');
  }
}
