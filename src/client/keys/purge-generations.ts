import { KeyNotFoundError } from '../../errors.js';
import type { DataKey } from '../../keys/data-key.js';

/** How often a key load is started again when the tenant's keys were purged meanwhile. @internal */
export const MAX_STALE_ATTEMPTS = 3;
/**
 * Tenants whose purge generation is tracked; past it, every tenant's generation moves on (the
 * memory of purges stays bounded whatever the number of tenants). @internal
 */
export const MAX_TRACKED_PURGES = 100_000;

/**
 * A key load that finished after the tenant's keys were purged (a shred, a retirement, a key
 * event): its key is released, never cached, and the load starts again from the key store.
 * @internal
 */
export class StaleKeyLoad extends Error {}

/** The error when a tenant's keys kept changing under every attempt of a load. */
function keysChanged(): KeyNotFoundError {
  return new KeyNotFoundError(
    "the tenant's keys changed during every attempt to load them (shred, retirement or key event); retry",
  );
}

/**
 * Purge generations: a counter moved on by every purge, the value it had at each tenant's
 * last purge, and at the last purge of every tenant. A key loaded under an older generation
 * than the tenant's current one is never cached, and never used: a purge (shred) racing a
 * load in flight always wins.
 * @internal
 */
export class PurgeGenerations {
  #purges = 0;
  #clearedAt = 0;
  readonly #purgedAt = new Map<string, number>();

  /**
   * Move the tenant's generation on: every load of it begun before is stale from now on.
   * @returns false when too many tenants were tracked and every tenant's generation moved on
   *   instead (the caller then drops whatever it holds of every tenant).
   */
  purgeTenant(tenant: string): boolean {
    let onlyTenant = true;
    if (this.#purgedAt.size >= MAX_TRACKED_PURGES) {
      this.purgeAll();
      onlyTenant = false;
    }
    this.#purgedAt.set(tenant, ++this.#purges);
    return onlyTenant;
  }

  /** Move every tenant's generation on at once. */
  purgeAll(): void {
    this.#clearedAt = ++this.#purges;
    this.#purgedAt.clear();
  }

  /**
   * The tenant's purge generation: it moves on whenever the tenant's cached keys are purged
   * (shred, retirement, reinstatement, key event). A key loaded under another generation than
   * the current one must not be cached or used.
   */
  generation(tenant: string): number {
    const at = this.#purgedAt.get(tenant);
    return at === undefined || at < this.#clearedAt ? this.#clearedAt : at;
  }

  /** Throws {@link StaleKeyLoad} (releasing `key`) when the tenant was purged since `gen`. */
  assertCurrent(tenant: string, gen: number, key: DataKey): void {
    if (this.generation(tenant) !== gen) {
      key.release();
      throw new StaleKeyLoad();
    }
  }

  /**
   * Run `use` with a key `acquire` leases, at a moment when the tenant's generation is still
   * the one the load began under: the check and `use` run in one synchronous step, so nothing
   * is sealed or opened under a key whose tenant was purged while it loaded. Stale loads are
   * started again, at most {@link MAX_STALE_ATTEMPTS} times. `use` owns the lease.
   * @throws KeyNotFoundError when every attempt was stale.
   */
  async withCurrent<L extends { readonly key: DataKey }, T>(
    tenant: string,
    acquire: (gen: number) => Promise<L>,
    use: (lease: L) => T,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const gen = this.generation(tenant);
      let lease: L | undefined;
      try {
        lease = await acquire(gen);
      } catch (err) {
        if (!(err instanceof StaleKeyLoad)) throw err;
      }
      if (lease !== undefined) {
        if (this.generation(tenant) === gen) return use(lease);
        lease.key.release();
      }
      if (attempt >= MAX_STALE_ATTEMPTS) throw keysChanged();
    }
  }

  /** Run `load` again while it fails with {@link StaleKeyLoad}, at most {@link MAX_STALE_ATTEMPTS} times. */
  async retryStale<T>(load: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await load();
      } catch (err) {
        if (!(err instanceof StaleKeyLoad)) throw err;
        if (attempt >= MAX_STALE_ATTEMPTS) throw keysChanged();
      }
    }
  }
}
