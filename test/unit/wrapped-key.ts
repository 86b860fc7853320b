import { parseEnvelope } from '../../src/envelope/envelope.js';

/**
 * The wrapped data key an `fs1:` envelope of embedded mode carries, as hex: equal wrapped keys
 * mean one data key.
 */
export function wrappedOf(stored: string): string {
  const ref = parseEnvelope(Buffer.from(stored.slice('fs1:'.length), 'base64url')).keyRef;
  if (ref.kind !== 'embedded') throw new Error('expected an embedded envelope');
  return Buffer.from(ref.wrapped).toString('hex');
}
