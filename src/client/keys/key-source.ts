import type { KeyRef } from '../../envelope/key-ref.js';
import type { CacheLease, DataKeyCache } from '../../keys/data-key-cache.js';
import type { DataKey } from '../../keys/data-key.js';
import type { FieldKey } from '../field-key.js';
import type { KeyProvider } from '../../kms/key-provider.js';
import type { KeyReadCounter, ReadCell } from '../../metrics/key-read-counter.js';
import type { ProviderCallObserver } from '../provider-calls.js';
import type { MasterKeyPolicy } from './master-key-policy.js';
import type { PurgeGenerations } from './purge-generations.js';

/**
 * What a read needs besides the key: the counter of values read under it (one cell per
 * `keyId@version` or `providerId:masterKeyId`, found when the key is loaded, so a warm read
 * counts with one increment). @internal
 */
export interface ReadKeyExtra {
  readonly reads?: ReadCell;
}

/** What an encryption needs besides the key: the cached envelope prefix. @internal */
export interface WriteKeyExtra extends ReadKeyExtra {
  readonly prefix: Buffer;
}

/**
 * Where the data keys of one key mode come from (embedded: generated and wrapped per tenant by
 * the provider; store: versioned tenant keys in a key store). The client picks one at
 * construction, so the hot path never asks which mode it is in. Loads go through the shared
 * data-key cache and check the tenant's purge generation `gen` before caching anything.
 * @internal
 */
export interface KeySource {
  /** The key id new envelopes name (store mode); `''` in embedded mode. */
  readonly keyId: string;
  /**
   * The tenant's write key if it is cached (synchronous hot path), else `undefined`.
   * @param field - the field's own master key and key context (embedded mode only), if any.
   */
  peekWrite(
    tenant: string,
    uses: number,
    field: FieldKey | undefined,
  ): CacheLease<WriteKeyExtra> | undefined;
  /** The tenant's current write key, leased for `uses` encryptions. */
  forWrite(
    tenant: string,
    uses: number,
    field: FieldKey | undefined,
    gen: number,
  ): Promise<CacheLease<WriteKeyExtra>>;
  /**
   * The key an envelope names, for `tenant`, leased for `uses` decryptions.
   * @param field - the field's key context, which a self-contained key is unwrapped under.
   */
  forRead(
    ref: KeyRef,
    tenant: string,
    uses: number,
    gen: number,
    field: FieldKey | undefined,
  ): Promise<CacheLease<ReadKeyExtra>>;
  /**
   * Whether a value sealed under `ref` is already under the key new writes of the tenant use,
   * so that re-encrypting it would change nothing (always false in embedded mode).
   */
  isCurrent(ref: KeyRef, tenant: string): Promise<boolean>;
  /** Forget what the source caches besides keys (active versions): of one tenant, or all. */
  forget(tenant?: string): void;
  /** Stop or resume caching what {@link forget} drops (the data-key cache has its own switch). */
  setCaching(enabled: boolean): void;
}

/**
 * What every key source shares with the client: the data-key cache, the purge generations,
 * the master-key policy, the providers and the hooks that observe provider calls and count
 * reads per key.
 * @internal
 */
export interface KeySourceParts {
  readonly cache: DataKeyCache;
  readonly generations: PurgeGenerations;
  readonly policy: MasterKeyPolicy;
  /** The first configured provider: it generates and wraps every new data key. */
  readonly writer: KeyProvider;
  readonly providers: ReadonlyMap<string, KeyProvider>;
  readonly observe: ProviderCallObserver;
  readonly keyReads: KeyReadCounter | undefined;
}

/** Release callbacks for observed provider calls whose result arrives after a timeout. @internal */
export const releaseKey = (key: DataKey): void => key.release();
/** @internal */
export const releaseGenerated = (g: { key: DataKey }): void => g.key.release();
