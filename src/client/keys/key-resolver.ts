import type { KeyRef } from '../../envelope/key-ref.js';
import type { CacheLease, DataKeyCache } from '../../keys/data-key-cache.js';
import { cacheIdOfTenant, readCacheId } from './cache-ids.js';
import type { KeySource, ReadKeyExtra, WriteKeyExtra } from './key-source.js';
import type { PurgeGenerations } from './purge-generations.js';
import type { FieldKey } from '../field-key.js';

/**
 * The hot path's key lookup: data keys for writes (the tenant's current key) and reads (the
 * key an envelope names), through the cache, so that each distinct key costs one provider
 * call per cache lifetime however many values use it. Mode-free: the {@link KeySource} chosen
 * at construction knows where keys come from; this adds the purge generations, which keep a
 * key loaded across a purge (shred, retirement, key event) from ever being used or cached.
 * @internal
 */
export class KeyResolver {
  readonly #source: KeySource;
  readonly #generations: PurgeGenerations;
  readonly #cache: DataKeyCache;

  constructor(source: KeySource, generations: PurgeGenerations, cache: DataKeyCache) {
    this.#source = source;
    this.#generations = generations;
    this.#cache = cache;
  }

  /** The key id new envelopes name in store mode; `''` in embedded mode. */
  get keyId(): string {
    return this.#source.keyId;
  }

  /**
   * The tenant's write key if it is cached (synchronous hot path), else `undefined`.
   * @param field - the field's own master key and key context (embedded mode), if any.
   */
  peekWrite(tenant: string, uses: number, field?: FieldKey): CacheLease<WriteKeyExtra> | undefined {
    return this.#source.peekWrite(tenant, uses, field);
  }

  /**
   * The key an envelope names if it is cached (synchronous hot path), else `undefined`.
   * @param field - the field's key context, part of a self-contained key's cache id.
   */
  peekRead(
    ref: KeyRef,
    tenant: string,
    uses: number,
    field?: FieldKey,
  ): CacheLease<ReadKeyExtra> | undefined {
    return this.#cache.tryAcquire(readCacheId(ref, tenant, field?.contextId), uses);
  }

  /**
   * Run `use` with the tenant's write key, leased for `uses` encryptions, at a moment when the
   * key is still current: the check and `use` run in one synchronous step, so nothing is ever
   * sealed under a key whose tenant was purged (shredded) while it loaded. `use` owns the lease
   * and must release it.
   */
  withWriteKey<T>(
    tenant: string,
    uses: number,
    field: FieldKey | undefined,
    use: (lease: CacheLease<WriteKeyExtra>) => T,
  ): Promise<T> {
    return this.#generations.withCurrent(
      tenant,
      (gen) => this.#source.forWrite(tenant, uses, field, gen),
      use,
    );
  }

  /** {@link withWriteKey} for the key an envelope names, leased for `uses` decryptions. */
  withReadKey<T>(
    ref: KeyRef,
    tenant: string,
    uses: number,
    field: FieldKey | undefined,
    use: (lease: CacheLease<ReadKeyExtra>) => T,
  ): Promise<T> {
    return this.#generations.withCurrent(
      tenant,
      (gen) => this.#source.forRead(ref, tenant, uses, gen, field),
      use,
    );
  }

  /** Whether a value sealed under `ref` is already under the tenant's current write key. */
  isCurrent(ref: KeyRef, tenant: string): Promise<boolean> {
    return this.#source.isCurrent(ref, tenant);
  }

  /** Cache id of the key an envelope names, for `tenant`: equal ids mean one key. */
  readId(ref: KeyRef, tenant: string, field?: FieldKey): string {
    return readCacheId(ref, tenant, field?.contextId);
  }

  /**
   * Zero and forget every cached key of one tenant in this process (after a shred).
   * @returns how many keys were evicted.
   */
  purgeTenant(tenant: string): number {
    // First: from now on, every load of this tenant begun before is stale (never cached, never
    // used), whatever it is waiting for.
    if (!this.#generations.purgeTenant(tenant)) this.#source.forget();
    this.#source.forget(tenant);
    return this.#cache.purge((id) => cacheIdOfTenant(id, tenant));
  }

  /**
   * Like {@link purgeTenant} for every tenant at once: every load or lease begun before is
   * stale (never cached, never used). For when key events may have been missed.
   */
  purgeAll(): void {
    this.#generations.purgeAll();
    this.#source.forget();
    this.#cache.purge();
  }

  /**
   * Forget cached active versions (with the data-key cache's own purge, which keeps loads in
   * flight from being cached). Keys already leased still serve their operations: a clear is
   * memory hygiene, not a key event (see {@link purgeAll}).
   */
  clear(): void {
    this.#source.forget();
  }

  /**
   * Stop or resume caching keys and active versions (see `DataKeyCache.setCaching`): while
   * the key-event bus is down, every operation reads the key store, which knows about shreds.
   */
  setCaching(enabled: boolean): void {
    this.#source.setCaching(enabled);
    this.#cache.setCaching(enabled);
  }
}
