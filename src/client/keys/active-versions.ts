import type { DataKeyCache } from '../../keys/data-key-cache.js';
import type { KeyStore, StoredKeyVersion } from '../../keys/key-store.js';
import { StaleKeyLoad, type PurgeGenerations } from './purge-generations.js';
import { noActiveKey } from './shred-state.js';

/**
 * The active version of each tenant's key id (store mode), cached like the data keys (same
 * age and entry limits) and loaded single-flight. A reply that arrives after a purge of the
 * tenant (a shred) is never remembered.
 * @internal
 */
export class ActiveVersions {
  readonly #store: KeyStore;
  readonly #keyId: string;
  readonly #cache: DataKeyCache;
  readonly #generations: PurgeGenerations;
  readonly #active = new Map<string, { version: number; at: number }>();
  readonly #loads = new Map<string, Promise<StoredKeyVersion>>();
  #caching = true;

  constructor(store: KeyStore, keyId: string, cache: DataKeyCache, generations: PurgeGenerations) {
    this.#store = store;
    this.#keyId = keyId;
    this.#cache = cache;
    this.#generations = generations;
  }

  /** The tenant's active version if it is cached and fresh (synchronous hot path). */
  peek(tenant: string): number | undefined {
    const active = this.#active.get(tenant);
    if (active === undefined || Date.now() - active.at >= this.#cache.maxAgeMs) return undefined;
    return active.version;
  }

  /**
   * The tenant's active version, with its row when it was read from the store just now.
   * @throws StaleKeyLoad when the tenant was purged while the store answered.
   */
  async load(tenant: string): Promise<{ version: number; row?: StoredKeyVersion }> {
    const gen = this.#generations.generation(tenant);
    const cached = this.peek(tenant);
    if (cached !== undefined) return { version: cached };
    let load = this.#loads.get(tenant);
    if (load === undefined) {
      load = (async () => {
        try {
          const row = await this.#store.getActiveVersion(tenant, this.#keyId);
          if (row === undefined) throw await noActiveKey(this.#store, tenant, this.#keyId);
          // A reply that arrives after a purge of the tenant (a shred) is not remembered.
          if (this.#generations.generation(tenant) !== gen) throw new StaleKeyLoad();
          this.#remember(tenant, row.version);
          return row;
        } finally {
          if (this.#loads.get(tenant) === load) this.#loads.delete(tenant);
        }
      })();
      this.#loads.set(tenant, load);
    }
    const row = await load;
    return { version: row.version, row };
  }

  #remember(tenant: string, version: number): void {
    const cache = this.#cache;
    if (!this.#caching || cache.maxAgeMs <= 0 || cache.maxEntries <= 0) return;
    this.#active.delete(tenant);
    this.#active.set(tenant, { version, at: Date.now() });
    if (this.#active.size > cache.maxEntries) {
      this.#active.delete(this.#active.keys().next().value as string);
    }
  }

  /** Forget the cached version and the load in flight of one tenant, or of every tenant. */
  forget(tenant?: string): void {
    if (tenant === undefined) {
      this.#active.clear();
      this.#loads.clear();
    } else {
      this.#active.delete(tenant);
      this.#loads.delete(tenant);
    }
  }

  /** Forget the cached version of one tenant (a rotation): a load in flight is still joined. */
  dropVersion(tenant: string): void {
    this.#active.delete(tenant);
  }

  /** While the key-event bus is down nothing is cached: every write asks the store. */
  setCaching(enabled: boolean): void {
    this.#caching = enabled;
  }
}
