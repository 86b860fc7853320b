/**
 * `fieldseal/kms/vault`: HashiCorp Vault as a key provider (Transit) and as a secret source
 * (KV v2), over `fetch` with no SDK. See docs/providers.md.
 * @module
 */
export type { VaultAuth, VaultConnectionOptions } from './vault-options.js';
export {
  VaultTransitKeyProvider,
  vaultKeyVersion,
  type VaultTransitKeyInfo,
  type VaultTransitKeyProviderOptions,
} from './vault-transit-key-provider.js';
export {
  VaultKvSecretSource,
  type VaultKvKeyLocation,
  type VaultKvSecretSourceOptions,
} from './vault-kv-secret-source.js';
