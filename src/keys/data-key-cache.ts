import type { DataKey } from './data-key.js';

/**
 * Limits of a {@link DataKeyCache}. `maxAgeMs` is required: a key never lives longer.
 * @example
 * ```ts
 * const cache: DataKeyCacheOptions = { maxAgeMs: 60_000, maxUses: 100_000, maxEntries: 500 };
 * ```
 */
export interface DataKeyCacheOptions {
  /** Maximum age of an entry in milliseconds (0 disables caching, keeping single-flight). */
  readonly maxAgeMs: number;
  /** Maximum values one cached key may encrypt or decrypt before it is reloaded (default 2^32). */
  readonly maxUses?: number;
  /**
   * Maximum number of cached keys; the least recently used is evicted (default 10,000). Size it
   * to the tenants active within `maxAgeMs`: one entry per tenant in store mode, two in embedded
   * mode (the tenant's write key, and the read entry of each data key being read). Each entry
   * holds about 1.3–1.5 KB of JavaScript heap (measured by `bench/memory.js`): with 100,000
   * active tenants in store mode, set `maxEntries: 100_000` and budget about 130 MiB; a smaller
   * cache costs a provider call each time an evicted tenant comes back.
   */
  readonly maxEntries?: number;
  /**
   * How long a caller waits for a key load that another caller started (single flight) before
   * it starts a load of its own, in ms (default 250). A load stuck on a hung provider request
   * then holds up only the callers that were already waiting: once the provider answers
   * again, new calls succeed at once instead of failing with the old request. At most one
   * fresh load per key starts per window.
   */
  readonly maxJoinWaitMs?: number;
}

/**
 * Counters of a cache; never contains key material or key ids.
 * @example
 * ```ts
 * const { hits, misses } = fs.metrics().cache;
 * ```
 */
export interface DataKeyCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
  readonly entries: number;
}

/**
 * A key handed to one caller: the caller owns one reference and must `release()` it.
 * @example
 * ```ts
 * const lease = await cache.acquire(id, 1, load);
 * try { use(lease.key); } finally { lease.key.release(); }
 * ```
 */
export interface CacheLease<X> {
  readonly key: DataKey;
  readonly extra: X;
  readonly hit: boolean;
}

interface Entry {
  readonly key: DataKey;
  readonly extra: unknown;
  readonly createdAt: number;
  uses: number;
  timer: NodeJS.Timeout | undefined;
}

interface Pending {
  joined: number;
  /** Callers that stopped waiting: the reference reserved for each is released on arrival. */
  abandoned: number;
  uses: number;
  /** Set by `purge`: the load still completes for its callers but is not cached. */
  purged: boolean;
  promise: Promise<{ key: DataKey; extra: unknown }>;
}

/**
 * Unwrapped data keys, keyed by a string that identifies the key completely (provider, master
 * key, key id, version, tenant, provider context) and never by connection. Concurrent misses
 * for one id share a single load ("a burst of reads costs one unwrap"). Entries expire after
 * `maxAgeMs` (a timer wipes them even if nobody asks again), after `maxUses`, or by LRU; an
 * evicted key is zeroed as soon as no operation still holds it.
 *
 * @example
 * ```ts
 * const cache = new DataKeyCache({ maxAgeMs: 60_000, maxUses: 100_000, maxEntries: 500 });
 * const lease = await cache.acquire('t:acme|v3', 1, () => loadKey());
 * try { use(lease.key); } finally { lease.key.release(); }
 * ```
 */
export class DataKeyCache {
  readonly #maxAgeMs: number;
  readonly #maxUses: number;
  readonly #maxEntries: number;
  readonly #maxJoinWaitMs: number;
  readonly #entries = new Map<string, Entry>();
  readonly #pending = new Map<string, Pending>();
  #hits = 0;
  #last: Entry | undefined;
  #misses = 0;
  #evictions = 0;
  #caching = true;

  constructor(options: DataKeyCacheOptions) {
    const { maxAgeMs, maxUses = 2 ** 32, maxEntries = 10_000, maxJoinWaitMs = 250 } = options;
    if (!Number.isInteger(maxJoinWaitMs) || maxJoinWaitMs < 0 || maxJoinWaitMs > 2 ** 31 - 1) {
      throw new RangeError(
        `cache.maxJoinWaitMs: expected 0..2147483647 ms, got ${String(maxJoinWaitMs)}`,
      );
    }
    this.#maxJoinWaitMs = maxJoinWaitMs;
    if (!Number.isFinite(maxAgeMs) || maxAgeMs < 0 || maxAgeMs > 2 ** 31 - 1) {
      throw new RangeError(`cache.maxAgeMs: expected 0..2147483647 ms, got ${String(maxAgeMs)}`);
    }
    if (!Number.isInteger(maxUses) || maxUses < 1) {
      throw new RangeError(`cache.maxUses: expected a positive integer, got ${String(maxUses)}`);
    }
    if (!Number.isInteger(maxEntries) || maxEntries < 0) {
      throw new RangeError(`cache.maxEntries: expected an integer >= 0, got ${String(maxEntries)}`);
    }
    this.#maxAgeMs = maxAgeMs;
    this.#maxUses = maxUses;
    this.#maxEntries = maxEntries;
  }

  /**
   * A leased key for `id`, counting `uses` against the entry's use limit; `load` runs on a
   * miss (once for all concurrent callers) and must return a key with one reference.
   */
  async acquire<X>(
    id: string,
    uses: number,
    load: () => Promise<{ key: DataKey; extra: X }>,
  ): Promise<CacheLease<X>> {
    const hit = this.tryAcquire<X>(id, uses);
    if (hit !== undefined) return hit;
    const pending = this.#pending.get(id);
    // Join a load in flight only while the joint uses stay within the limit; otherwise load a
    // separate key, so concurrency never lets one data key exceed `maxUses`.
    if (pending !== undefined && !pending.purged && pending.uses + uses <= this.#maxUses) {
      pending.joined++;
      pending.uses += uses;
      const joined = await this.#waitBounded(pending);
      if (joined !== undefined) {
        this.#hits++;
        return { key: joined.key, extra: joined.extra as X, hit: true };
      }
      // The load is taking longer than a healthy provider would (a hung request): load anew,
      // and let later callers join this fresher load instead.
    }
    this.#misses++;
    const slot: Pending = {
      joined: 1,
      abandoned: 0,
      uses,
      purged: false,
      promise: Promise.resolve() as never,
    };
    slot.promise = (async () => {
      let loaded: { key: DataKey; extra: unknown };
      try {
        loaded = await load();
      } finally {
        if (this.#pending.get(id) === slot) this.#pending.delete(id);
      }
      // Synchronous from here: every caller still waiting gets its own reference (callers that
      // stopped waiting get none).
      for (let i = 1 + slot.abandoned; i < slot.joined; i++) loaded.key.retain();
      if (!slot.purged && slot.uses < this.#maxUses) {
        this.#store(id, loaded.key.retain(), loaded.extra, slot.uses);
      }
      return loaded;
    })();
    this.#pending.set(id, slot);
    const r = await slot.promise;
    return { key: r.key, extra: r.extra as X, hit: false };
  }

  /**
   * Wait for a load another caller started, at most `maxJoinWaitMs`: its result, or
   * `undefined` when this caller stopped waiting (then no reference is taken for it). A failed
   * load's error is thrown as it is.
   */
  async #waitBounded(pending: Pending): Promise<{ key: DataKey; extra: unknown } | undefined> {
    let timer: NodeJS.Timeout | undefined;
    let waiting = true;
    const outcome = await Promise.race([
      pending.promise.then(
        (r) => ({ ok: true as const, r }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => {
          // Decided synchronously with the load's completion: either it already handed this
          // caller a reference, or it never will.
          if (waiting) {
            waiting = false;
            pending.abandoned++;
          }
          resolve(undefined);
        }, this.#maxJoinWaitMs);
      }),
    ]);
    clearTimeout(timer);
    if (outcome === undefined) return undefined;
    if (!waiting) {
      // The load completed (retaining a reference for this caller) just before the timer
      // marked it abandoned: give that reference back, and load anew.
      if (outcome.ok) outcome.r.key.release();
      return undefined;
    }
    waiting = false;
    if (!outcome.ok) throw outcome.error;
    return outcome.r;
  }

  /** The use limit of one cached key. */
  get maxUses(): number {
    return this.#maxUses;
  }

  /** The age limit of an entry, in milliseconds. */
  get maxAgeMs(): number {
    return this.#maxAgeMs;
  }

  /** The entry limit. */
  get maxEntries(): number {
    return this.#maxEntries;
  }

  /**
   * The cached key for `id` if it is fresh and has `uses` left, synchronously (the hot path of
   * every warm read and write); otherwise `undefined` (and a stale entry is evicted).
   */
  tryAcquire<X>(id: string, uses: number): CacheLease<X> | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    if (this.#fresh(entry) && entry.uses + uses <= this.#maxUses) {
      entry.uses += uses;
      // LRU order: move to the end, but only when not already the most recent entry.
      if (entry !== this.#last) {
        this.#entries.delete(id);
        this.#entries.set(id, entry);
        this.#last = entry;
      }
      this.#hits++;
      return { key: entry.key.retain(), extra: entry.extra as X, hit: true };
    }
    this.#evict(id);
    return undefined;
  }

  /** Seed the cache with a key the caller already holds (adds the cache's own reference). */
  insert(id: string, key: DataKey, extra: unknown): void {
    if (this.#entries.has(id) || this.#pending.has(id)) return;
    this.#store(id, key.retain(), extra, 0);
  }

  /**
   * Evict (and zero) every entry whose id matches; returns how many were evicted. Loads in
   * flight for a matching id still answer their callers but are not cached.
   */
  purge(matches: (id: string) => boolean = () => true): number {
    for (const [id, slot] of this.#pending) {
      if (matches(id)) {
        slot.purged = true;
        this.#pending.delete(id);
      }
    }
    let n = 0;
    for (const id of [...this.#entries.keys()]) {
      if (matches(id)) {
        this.#evict(id);
        n++;
      }
    }
    return n;
  }

  /** The ids of the keys held now (no key material), for figures such as versions per tenant. */
  ids(): IterableIterator<string> {
    return this.#entries.keys();
  }

  stats(): DataKeyCacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      entries: this.#entries.size,
    };
  }

  /**
   * Stop (`false`) or resume (`true`) caching: while stopped, loads still serve their callers
   * (single-flight) but nothing is stored, so every operation reloads its key. For when the
   * key-event bus is down and a shred elsewhere could go unheard.
   */
  setCaching(enabled: boolean): void {
    this.#caching = enabled;
  }

  /** Takes ownership of one reference of `key`. */
  #store(id: string, key: DataKey, extra: unknown, uses: number): void {
    if (!this.#caching || this.#maxAgeMs === 0 || this.#maxEntries === 0) {
      key.release();
      return;
    }
    this.#evict(id);
    const entry: Entry = { key, extra, createdAt: Date.now(), uses, timer: undefined };
    entry.timer = setTimeout(() => {
      if (this.#entries.get(id) === entry) this.#evict(id);
    }, this.#maxAgeMs);
    entry.timer.unref();
    this.#entries.set(id, entry);
    this.#last = entry;
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#evict(oldest);
    }
  }

  #fresh(entry: Entry): boolean {
    return Date.now() - entry.createdAt < this.#maxAgeMs;
  }

  #evict(id: string): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#entries.delete(id);
    if (this.#last === entry) this.#last = undefined;
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    entry.key.release();
    this.#evictions++;
  }
}
