/**
 * One data key wrapped under several master keys (disaster recovery).
 * @module
 */
export {
  MultiKeyProvider,
  type MultiKeyProviderOptions,
  type MultiWrapTarget,
} from './multi-key-provider.js';
