/**
 * Public-key wrapping for write-only ingestion.
 * @module
 */
export { X25519KeyProvider, type X25519KeyProviderOptions } from './x25519-key-provider.js';
export { generateX25519KeyPair, x25519PublicKey } from './x25519.js';
