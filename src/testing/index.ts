/**
 * Test helpers: a real in-memory key provider with fault injection and an in-memory key store.
 * Nothing here turns encryption off.
 *
 * @example
 * ```ts
 * import { MemoryKeyProvider, MemoryKeyStore } from 'fieldseal/testing';
 * ```
 * @module
 */
export { MemoryKeyProvider, type InjectedFault } from './memory-key-provider.js';
export { MemoryKeyStore } from '../keys/memory-key-store.js';
