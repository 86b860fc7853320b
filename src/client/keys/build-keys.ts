import { KeyNotConfiguredError } from '../../errors.js';
import type { DataKeyCache } from '../../keys/data-key-cache.js';
import type { KeyProvider } from '../../kms/key-provider.js';
import type { KeyReadCounter } from '../../metrics/key-read-counter.js';
import type { KeysConfig } from '../options.js';
import type { ProviderCallObserver } from '../provider-calls.js';
import { EmbeddedKeySource } from './embedded-key-source.js';
import { KeyResolver } from './key-resolver.js';
import type { KeySourceParts } from './key-source.js';
import { MasterKeyPolicy } from './master-key-policy.js';
import { PurgeGenerations } from './purge-generations.js';
import { StoreKeyCrypto } from './store-key-crypto.js';
import { StoreKeySource } from './store-key-source.js';
import { TenantKeys } from './tenant-keys.js';

const DEFAULT_KEY_ID = 'default';

/** Without an observer a provider call is just made. */
const UNOBSERVED: ProviderCallObserver = (_info, run) => run();

/**
 * A client's key handling, built once from its key configuration: the hot-path resolver over
 * the key source of the configured mode, the master-key policy, and (store mode only) the
 * tenant key lifecycle.
 * @internal
 */
export interface ClientKeys {
  readonly resolver: KeyResolver;
  readonly policy: MasterKeyPolicy;
  /** The configured providers by id. */
  readonly providers: ReadonlyMap<string, KeyProvider>;
  /** `undefined` in embedded mode: it has no key store, so no tenant key lifecycle. */
  readonly tenantKeys: TenantKeys | undefined;
}

/**
 * Check a key configuration and build the client's key handling. The key mode is decided
 * here, once: nothing downstream asks it again.
 * @param hooks.observe - runs every provider call (metrics, audit); the default just makes it.
 * @param hooks.keyReads - where the cells of values read per key come from.
 * @param hooks.fieldMasterKeys - the fields' own master keys (embedded mode): reads accept them.
 * @throws KeyNotConfiguredError without a provider, a usable `masterKeyId` or a known mode;
 *   TypeError for a malformed `acceptMasterKeyIds`.
 * @internal
 */
export function buildKeys(
  config: KeysConfig,
  providers: readonly KeyProvider[],
  cache: DataKeyCache,
  hooks: {
    readonly observe?: ProviderCallObserver;
    readonly keyReads?: KeyReadCounter;
    readonly fieldMasterKeys?: ReadonlySet<string>;
  } = {},
): ClientKeys {
  const writer = providers[0];
  if (writer === undefined) {
    throw new KeyNotConfiguredError('createFieldseal needs at least one key provider');
  }
  const policy = new MasterKeyPolicy(config, hooks.fieldMasterKeys);
  const generations = new PurgeGenerations();
  const parts: KeySourceParts = {
    cache,
    generations,
    policy,
    writer,
    providers: new Map(providers.map((p) => [p.id, p])),
    observe: hooks.observe ?? UNOBSERVED,
    keyReads: hooks.keyReads,
  };
  if (config.mode === 'store') {
    const crypto = new StoreKeyCrypto(parts, config.store);
    const source = new StoreKeySource(parts, config.store, config.keyId ?? DEFAULT_KEY_ID, crypto);
    const resolver = new KeyResolver(source, generations, cache);
    const tenantKeys = new TenantKeys(parts, config.store, source, crypto, resolver);
    return { resolver, policy, providers: parts.providers, tenantKeys };
  }
  if (config.mode !== 'embedded') {
    // Fail closed: an unknown mode must not silently become one of the two.
    throw new KeyNotConfiguredError('keys.mode must be "embedded" or "store"');
  }
  const resolver = new KeyResolver(new EmbeddedKeySource(parts), generations, cache);
  return { resolver, policy, providers: parts.providers, tenantKeys: undefined };
}
