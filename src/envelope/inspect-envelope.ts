import { classifyStored } from './encoding.js';
import { parseEnvelope } from './envelope.js';
import { COMMITMENT_LENGTH, NONCE_LENGTH, TAG_LENGTH } from './format.js';
import { describeKeyRef } from './key-ref.js';

/**
 * Public facts about a stored envelope, readable without any key.
 * @example
 * ```ts
 * const info: EnvelopeInfo | undefined = inspectEnvelope(stored);
 * ```
 */
export interface EnvelopeInfo {
  readonly version: 1;
  readonly suite: 'XAES-256-GCM/HKDF-SHA256/commit-256';
  readonly keyRef:
    | { readonly kind: 'store'; readonly keyId: string; readonly version: number }
    | {
        readonly kind: 'embedded';
        readonly providerId: string;
        readonly masterKeyId: string;
        readonly wrappedBytes: number;
      };
  /** `keyId@version` or `provider:masterKeyId`. */
  readonly keyLabel: string;
  readonly padded: boolean;
  /** Total envelope size in bytes (binary form). */
  readonly bytes: number;
  /** Bytes of encrypted plaintext (type tag + value + padding). */
  readonly ciphertextBytes: number;
}

/**
 * Describe a stored value without decrypting it: which key it needs and how big it is. Used by
 * backfills and audits to count values per key version.
 * @returns `undefined` when the value is not an envelope (legacy plaintext).
 * @throws MalformedCiphertextError, UnsupportedFormatError
 * @example
 * ```ts
 * inspectEnvelope(row.ssn)?.keyLabel; // 'default@3'
 * ```
 */
export function inspectEnvelope(stored: string | Uint8Array): EnvelopeInfo | undefined {
  const c = classifyStored(stored);
  if (c.kind === 'plaintext') return undefined;
  const env = parseEnvelope(c.bytes);
  const ref = env.keyRef;
  return {
    version: 1,
    suite: 'XAES-256-GCM/HKDF-SHA256/commit-256',
    keyRef:
      ref.kind === 'store'
        ? { kind: 'store', keyId: ref.keyId, version: ref.version }
        : {
            kind: 'embedded',
            providerId: ref.providerId,
            masterKeyId: ref.masterKeyId,
            wrappedBytes: ref.wrapped.byteLength,
          },
    keyLabel: describeKeyRef(ref),
    padded: env.padded,
    bytes: c.bytes.byteLength,
    ciphertextBytes: c.bytes.byteLength - env.headerLength - TAG_LENGTH,
  };
}

/** @internal Header bytes besides the key reference, for overhead reports. */
export const FIXED_OVERHEAD = 4 + NONCE_LENGTH + COMMITMENT_LENGTH + TAG_LENGTH + 1;
