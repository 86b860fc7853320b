import { timingSafeEqual } from 'node:crypto';

/**
 * Constant-time equality for MACs and commitments: lengths are checked first (lengths are
 * public), then `timingSafeEqual` compares the bytes.
 *
 * @example
 * ```ts
 * if (!constantTimeEqual(expectedMac, receivedMac)) throw new Error('MAC mismatch');
 * ```
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  return timingSafeEqual(a, b);
}
