import {
  KeyCommitmentMismatchError,
  KeyNotConfiguredError,
  KeyNotFoundError,
  KeyRetiredError,
  KeyShreddedError,
} from '../errors.js';
import { encodeHeaderPrefix, type KeyRef } from '../envelope/key-ref.js';
import type { CacheLease, DataKeyCache } from '../keys/data-key-cache.js';
import type { DataKey } from '../keys/data-key.js';
import { checkStoreKeyCommitment, storeKeyCommitment } from '../keys/key-commitment.js';
import type { KeyProvider } from '../kms/key-provider.js';
import type { KeyStore, StoredKeyVersion } from '../keys/key-store.js';
import { cacheIdOfTenant, readCacheId, writeCacheId } from './keys/cache-ids.js';
import { MasterKeyPolicy } from './keys/master-key-policy.js';
import { embeddedContext, storeContext } from './keys/provider-context.js';
import { PurgeGenerations, StaleKeyLoad } from './keys/purge-generations.js';
import { isHeaderMasterKeyId } from './field-master-key.js';
import type { KeysConfig } from './options.js';
import type { KeyReadCounter, ReadCell } from '../metrics/key-read-counter.js';
import type { ProviderCallInfo, ProviderCallObserver } from './provider-calls.js';

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

const DEFAULT_KEY_ID = 'default';

/** Without an observer a provider call is just made. */
const UNOBSERVED: ProviderCallObserver = (_info, run) => run();
const releaseKey = (key: DataKey): void => key.release();
const releaseGenerated = (g: { key: DataKey }): void => g.key.release();
const keepBytes = (): void => undefined;

/**
 * Finds data keys for writes (the tenant's current key) and reads (the key an envelope
 * names), through the cache, so that each distinct key costs one provider call per cache
 * lifetime however many values use it.
 * @internal
 */
export class KeyResolver {
  readonly #config: KeysConfig;
  readonly #cache: DataKeyCache;
  readonly #providers: ReadonlyMap<string, KeyProvider>;
  readonly #writer: KeyProvider;
  readonly #keyId: string;
  readonly #active = new Map<string, { version: number; at: number }>();
  readonly #activeLoads = new Map<string, Promise<StoredKeyVersion>>();
  readonly #observe: ProviderCallObserver;
  readonly #keyReads: KeyReadCounter | undefined;
  readonly #policy: MasterKeyPolicy;
  readonly #generations = new PurgeGenerations();
  #caching = true;

  /**
   * @param hooks.observe - runs every provider call (metrics, audit); the default just makes it.
   * @param hooks.keyReads - where the cells of values read per key come from.
   * @param hooks.fieldMasterKeys - the fields' own master keys (embedded mode): reads accept them.
   */
  constructor(
    config: KeysConfig,
    providers: readonly KeyProvider[],
    cache: DataKeyCache,
    hooks: {
      readonly observe?: ProviderCallObserver;
      readonly keyReads?: KeyReadCounter;
      readonly fieldMasterKeys?: ReadonlySet<string>;
    } = {},
  ) {
    this.#observe = hooks.observe ?? UNOBSERVED;
    this.#keyReads = hooks.keyReads;
    const first = providers[0];
    if (first === undefined) {
      throw new KeyNotConfiguredError('createFieldseal needs at least one key provider');
    }
    this.#policy = new MasterKeyPolicy(config, hooks.fieldMasterKeys);
    this.#config = config;
    this.#cache = cache;
    this.#writer = first;
    this.#providers = new Map(providers.map((p) => [p.id, p]));
    this.#keyId = config.mode === 'store' ? (config.keyId ?? DEFAULT_KEY_ID) : '';
    if (config.mode === 'store')
      encodeHeaderPrefix({ kind: 'store', keyId: this.#keyId, version: 1 });
  }

  /** The key id new envelopes name in store mode. */
  get keyId(): string {
    return this.#keyId;
  }

  /**
   * The tenant's own master key id when the configuration declares master keys dedicated to
   * one tenant each (`dedicatedMasterKeys` with a `masterKeyId` function); else `undefined`.
   */
  dedicatedMasterKey(tenant: string): string | undefined {
    return this.#policy.dedicatedMasterKey(tenant);
  }

  /** A configured provider by id. */
  provider(id: string): KeyProvider | undefined {
    return this.#providers.get(id);
  }

  /** The key store in store mode; `undefined` in embedded mode. */
  get store(): KeyStore | undefined {
    return this.#config.mode === 'store' ? this.#config.store : undefined;
  }

  /** The cache id of the tenant's write key in embedded mode. */
  #writeId(tenant: string): string {
    return writeCacheId(this.#writer.id, this.#masterFor(tenant), tenant);
  }

  /**
   * The tenant's write key if it is cached (synchronous hot path), else `undefined`.
   * @param fieldMaster - the field's own master key (embedded mode), if it has one.
   */
  peekWrite(
    tenant: string,
    uses: number,
    fieldMaster?: string,
  ): CacheLease<WriteKeyExtra> | undefined {
    if (this.#config.mode === 'embedded') {
      // A field without a master key of its own takes the unchanged path (no extra work).
      return this.#cache.tryAcquire(
        fieldMaster === undefined
          ? this.#writeId(tenant)
          : writeCacheId(this.#writer.id, fieldMaster, tenant),
        uses,
      );
    }
    if (fieldMaster !== undefined) throw fieldMasterInStoreMode();
    const active = this.#active.get(tenant);
    if (active === undefined || Date.now() - active.at >= this.#cache.maxAgeMs) return undefined;
    return this.#cache.tryAcquire(
      this.readId({ kind: 'store', keyId: this.#keyId, version: active.version }, tenant),
      uses,
    );
  }

  /**
   * Zero and forget every cached key of one tenant in this process (after a shred).
   * @returns how many keys were evicted.
   */
  purgeTenant(tenant: string): number {
    // First: from now on, every load of this tenant begun before is stale (never cached, never
    // used), whatever it is waiting for.
    if (!this.#generations.purgeTenant(tenant)) this.#forgetActive();
    this.#active.delete(tenant);
    this.#activeLoads.delete(tenant);
    return this.#cache.purge((id) => cacheIdOfTenant(id, tenant));
  }

  /**
   * Shred a tenant in the key store (every version, wrapped bytes destroyed) and in this
   * process's cache.
   */
  async shred(tenant: string): Promise<readonly { keyId: string; version: number }[]> {
    const config = this.#config;
    if (config.mode !== 'store') {
      throw new KeyNotConfiguredError(
        'shredTenant needs keys.mode "store" (embedded envelopes carry their own wrapped keys: destroy the tenant master key at the provider instead)',
      );
    }
    // Purge before and after: no key of this tenant survives in this process either way.
    this.purgeTenant(tenant);
    try {
      if ((await config.store.listVersions(tenant)).length === 0) {
        // Never provisioned in the store (embedded envelopes only): a version created and
        // destroyed at once is the tombstone that makes store-mode clients refuse them, and
        // keeps the tenant id from being provisioned again by accident.
        await this.#tombstone(config.store, tenant);
      }
      return await config.store.shredTenant(tenant);
    } finally {
      this.purgeTenant(tenant);
    }
  }

  async #tombstone(store: KeyStore, tenant: string): Promise<void> {
    const master = this.#masterFor(tenant);
    const generated = await this.#generateStoreKey(tenant, this.#keyId, 1, master);
    generated.key.release();
    await store.createVersion(
      {
        tenant,
        keyId: this.#keyId,
        version: 1,
        providerId: this.#writer.id,
        masterKeyId: master,
        wrapped: generated.wrapped,
      },
      null,
    );
  }

  /**
   * Forget cached active versions (with the data-key cache's own purge, which keeps loads in
   * flight from being cached). Keys already leased still serve their operations: a clear is
   * memory hygiene, not a key event (see {@link purgeAll}).
   */
  clear(): void {
    this.#active.clear();
    this.#activeLoads.clear();
  }

  /**
   * Like {@link purgeTenant} for every tenant at once: every load or lease begun before is
   * stale (never cached, never used). For when key events may have been missed.
   */
  purgeAll(): void {
    this.#purgeAll();
    this.#cache.purge();
  }

  /**
   * Stop or resume caching keys and active versions (see `DataKeyCache.setCaching`): while
   * the key-event bus is down, every operation reads the key store, which knows about shreds.
   */
  setCaching(enabled: boolean): void {
    this.#caching = enabled;
    this.#cache.setCaching(enabled);
  }

  #purgeAll(): void {
    this.#generations.purgeAll();
    this.#forgetActive();
  }

  #forgetActive(): void {
    this.#active.clear();
    this.#activeLoads.clear();
  }

  /** The tenant's purge generation (see {@link PurgeGenerations.generation}). */
  generation(tenant: string): number {
    return this.#generations.generation(tenant);
  }

  #assertCurrent(tenant: string, gen: number, key: DataKey): void {
    this.#generations.assertCurrent(tenant, gen, key);
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
    fieldMaster: string | undefined,
    use: (lease: CacheLease<WriteKeyExtra>) => T,
  ): Promise<T> {
    return this.#withCurrent(tenant, (gen) => this.#forWrite(tenant, uses, fieldMaster, gen), use);
  }

  /** {@link withWriteKey} for the key an envelope names, leased for `uses` decryptions. */
  withReadKey<T>(
    ref: KeyRef,
    tenant: string,
    uses: number,
    use: (lease: CacheLease<ReadKeyExtra>) => T,
  ): Promise<T> {
    return this.#withCurrent(tenant, (gen) => this.#forRead(ref, tenant, uses, gen), use);
  }

  #withCurrent<X, T>(
    tenant: string,
    acquire: (gen: number) => Promise<CacheLease<X>>,
    use: (lease: CacheLease<X>) => T,
  ): Promise<T> {
    return this.#generations.withCurrent(tenant, acquire, use);
  }

  /** The active version of the tenant's key id, cached like the keys, single-flight. */
  async #activeVersion(tenant: string): Promise<{ version: number; row?: StoredKeyVersion }> {
    const gen = this.generation(tenant);
    const cached = this.#active.get(tenant);
    if (cached !== undefined && Date.now() - cached.at < this.#cache.maxAgeMs) {
      return { version: cached.version };
    }
    let load = this.#activeLoads.get(tenant);
    if (load === undefined) {
      const store = (this.#config as { store: KeyStore }).store;
      load = (async () => {
        try {
          const row = await store.getActiveVersion(tenant, this.#keyId);
          if (row === undefined) throw await this.#noActiveKey(store, tenant);
          // A reply that arrives after a purge of the tenant (a shred) is not remembered.
          if (this.generation(tenant) !== gen) throw new StaleKeyLoad();
          if (this.#caching && this.#cache.maxAgeMs > 0 && this.#cache.maxEntries > 0) {
            this.#active.delete(tenant);
            this.#active.set(tenant, { version: row.version, at: Date.now() });
            if (this.#active.size > this.#cache.maxEntries) {
              this.#active.delete(this.#active.keys().next().value as string);
            }
          }
          return row;
        } finally {
          if (this.#activeLoads.get(tenant) === load) this.#activeLoads.delete(tenant);
        }
      })();
      this.#activeLoads.set(tenant, load);
    }
    const row = await load;
    return { version: row.version, row };
  }

  /** Whether the store holds a shredded version of the tenant (a shred marks every version). */
  async #isShredded(store: KeyStore, tenant: string): Promise<boolean> {
    const first = await store.getVersion(tenant, this.#keyId, 1);
    if (first !== undefined) return first.state === 'shredded';
    // Versions under an earlier key id only.
    return (await store.listVersions(tenant)).some((v) => v.state === 'shredded');
  }

  /** Why a tenant has no active version: shredded (its first version says so) or never provisioned. */
  async #noActiveKey(store: KeyStore, tenant: string): Promise<Error> {
    const first = await store.getVersion(tenant, this.#keyId, 1);
    return first?.state === 'shredded'
      ? new KeyShreddedError('tenant has been shredded', {
          details: { keyRef: `${this.#keyId}@1` },
        })
      : new KeyNotConfiguredError('tenant has no active data key: it was never provisioned');
  }

  /** Lease a key-store version through its (single) cache entry. */
  #storeLease(
    tenant: string,
    keyId: string,
    version: number,
    uses: number,
    gen: number,
    known?: StoredKeyVersion,
  ): Promise<CacheLease<WriteKeyExtra>> {
    const ref: KeyRef = { kind: 'store', keyId, version };
    return this.#cache.acquire(this.readId(ref, tenant), uses, async () => {
      const store = (this.#config as { store: KeyStore }).store;
      const row = known ?? (await store.getVersion(tenant, keyId, version));
      if (row === undefined) {
        throw new KeyNotFoundError('key version not found for this tenant', {
          details: { keyRef: `${keyId}@${version}` },
        });
      }
      // Checked here, not in #unwrapRow: rewrap must still unwrap (and re-wrap) retired rows.
      if (row.state === 'retired') {
        throw new KeyRetiredError(undefined, { details: { keyRef: `${keyId}@${version}` } });
      }
      const key = await this.#unwrapRow(row, tenant, keyId, version);
      // Loaded across a purge (a shred while the row or the unwrap was in flight): not cached.
      this.#assertCurrent(tenant, gen, key);
      return { key, extra: { prefix: encodeHeaderPrefix(ref), reads: this.#keyReads?.cell(ref) } };
    });
  }

  /** The key an envelope names if it is cached (synchronous hot path), else `undefined`. */
  peekRead(ref: KeyRef, tenant: string, uses: number): CacheLease<ReadKeyExtra> | undefined {
    return this.#cache.tryAcquire(this.readId(ref, tenant), uses);
  }

  /**
   * The tenant's current write key, leased for `uses` encryptions.
   * @param fieldMaster - the field's own master key (embedded mode), if it has one: the data
   *   key is then generated under it, and cached per (writer, master key, tenant) like any
   *   other write key, so two master keys never share a data key.
   */
  async #forWrite(
    tenant: string,
    uses: number,
    fieldMaster: string | undefined,
    gen: number,
  ): Promise<CacheLease<WriteKeyExtra>> {
    const config = this.#config;
    if (config.mode === 'embedded') {
      const provider = this.#writer;
      const master = fieldMaster ?? this.#masterFor(tenant);
      // An id the envelope header cannot hold is refused before any (paid) provider call.
      if (!isHeaderMasterKeyId(master)) {
        throw new KeyNotConfiguredError('the master key id does not fit an envelope header');
      }
      // The same id as #writeId(tenant) when the field has no master key of its own.
      const id = writeCacheId(provider.id, master, tenant);
      return this.#cache.acquire(id, uses, async () => {
        const { key, wrapped } = await this.#observe(
          { operation: 'generate', providerId: provider.id, masterKeyId: master, tenant },
          () => provider.generateDataKey(master, embeddedContext(tenant)),
          releaseGenerated,
        );
        this.#assertCurrent(tenant, gen, key);
        const ref: KeyRef = {
          kind: 'embedded',
          providerId: provider.id,
          masterKeyId: master,
          wrapped,
        };
        // A value read back right after it was written must not cost an unwrap -- unless the
        // provider cannot unwrap (public-key, write-only): then the key must not be readable
        // from this process's memory either, beyond the writes it serves.
        let prefix: Buffer;
        try {
          prefix = encodeHeaderPrefix(ref);
        } catch (err) {
          key.release();
          throw new KeyNotConfiguredError('the master key id does not fit an envelope header', {
            cause: err,
          });
        }
        if (provider.capabilities.unwrap) {
          this.#cache.insert(this.readId(ref, tenant), key, { reads: this.#keyReads?.cell(ref) });
        }
        return { key, extra: { prefix } };
      });
    }
    if (fieldMaster !== undefined) throw fieldMasterInStoreMode();
    // Store mode: the write key is the active version's read entry, so a tenant that is both
    // written and read occupies one cache entry, not two.
    const active = await this.#activeVersion(tenant);
    return this.#storeLease(tenant, this.#keyId, active.version, uses, gen, active.row);
  }

  /** The key an envelope names, for `tenant`, leased for `uses` decryptions. */
  #forRead(
    ref: KeyRef,
    tenant: string,
    uses: number,
    gen: number,
  ): Promise<CacheLease<ReadKeyExtra>> {
    if (ref.kind === 'store') {
      if (this.#config.mode !== 'store') {
        return Promise.reject(
          new KeyNotConfiguredError('envelope references a key store and none is configured', {
            details: { keyRef: `${ref.keyId}@${ref.version}` },
          }),
        );
      }
      return this.#storeLease(tenant, ref.keyId, ref.version, uses, gen);
    }
    return this.#cache.acquire(this.readId(ref, tenant), uses, async () => {
      const provider = this.#providers.get(ref.providerId);
      if (provider === undefined) {
        throw new KeyNotConfiguredError('no configured key provider matches the envelope', {
          details: { keyRef: `${ref.providerId}:${ref.masterKeyId}` },
        });
      }
      // Once per cache fill: the cache id holds provider, master key and tenant, so a key
      // admitted here never serves an envelope naming another master key or tenant.
      this.#checkAccepted(ref.providerId, ref.masterKeyId, tenant);
      // A store-mode client knows which tenants were shredded: their self-contained envelopes
      // (written before a move to store mode, or by an embedded ingest service) die with them.
      if (this.#config.mode === 'store' && (await this.#isShredded(this.#config.store, tenant))) {
        throw new KeyShreddedError('tenant has been shredded', {
          details: { keyRef: `${ref.providerId}:${ref.masterKeyId}` },
        });
      }
      const key = await this.#observe(
        {
          operation: 'unwrap',
          providerId: provider.id,
          masterKeyId: ref.masterKeyId,
          tenant,
        },
        () => provider.unwrapDataKey(ref.masterKeyId, ref.wrapped, embeddedContext(tenant)),
        releaseKey,
      );
      this.#assertCurrent(tenant, gen, key);
      return { key, extra: { reads: this.#keyReads?.cell(ref) } };
    });
  }

  /**
   * Rotate the tenant's data key: a new version becomes active for writes, older versions stay
   * readable (decrypt-only). Compare-and-set on the active version: when two rotations race,
   * exactly one new version is created and both callers get it.
   */
  async rotate(tenant: string): Promise<StoredKeyVersion> {
    const config = this.#config;
    if (config.mode !== 'store') {
      throw new KeyNotConfiguredError('rotateTenantKey needs keys.mode "store"');
    }
    const keyId = this.#keyId;
    const gen = this.generation(tenant);
    const active = await config.store.getActiveVersion(tenant, keyId);
    if (active === undefined) throw await this.#noActiveKey(config.store, tenant);
    const version = active.version + 1;
    if (version > 0xffffffff) throw new RangeError('the tenant key has reached version 2^32-1');
    const master = this.#masterFor(tenant);
    const generated = await this.#generateStoreKey(tenant, keyId, version, master);
    try {
      const row = await config.store.createVersion(
        {
          tenant,
          keyId,
          version,
          providerId: this.#writer.id,
          masterKeyId: master,
          wrapped: generated.wrapped,
          commitment: storeKeyCommitment(generated.key, { tenant, keyId, version }),
        },
        active.version,
      );
      if (row !== undefined) {
        // This process writes under the new version at once; others within their cache age.
        // Not when the tenant was purged meanwhile (a shred racing the rotation).
        const ref: KeyRef = { kind: 'store', keyId, version };
        if (this.generation(tenant) === gen)
          this.#cache.insert(this.readId(ref, tenant), generated.key, {
            prefix: encodeHeaderPrefix(ref),
            reads: this.#keyReads?.cell(ref),
          });
        this.#active.delete(tenant);
        return row;
      }
    } finally {
      generated.key.release();
    }
    // Another writer rotated first: theirs is the new version.
    this.#active.delete(tenant);
    const winner = await config.store.getActiveVersion(tenant, keyId);
    if (winner === undefined || winner.version <= active.version) {
      throw new KeyNotFoundError('the tenant key changed during rotation; retry');
    }
    return winner;
  }

  /**
   * Re-wrap every live version of the tenant's keys under `masterKeyId` with `provider` (the
   * writer by default): the data keys, and so every stored value, stay as they are; only the
   * wrapped copies in the key store change, each by compare-and-set. Also returns the
   * provider and master key ids it wrapped under.
   */
  async rewrap(
    tenant: string,
    target: { masterKeyId?: string; providerId?: string },
  ): Promise<{
    rewrapped: { keyId: string; version: number }[];
    skipped: { keyId: string; version: number }[];
    providerId: string;
    masterKeyId: string;
  }> {
    const config = this.#config;
    if (config.mode !== 'store') {
      throw new KeyNotConfiguredError('rewrapTenantKeys needs keys.mode "store"');
    }
    const provider =
      target.providerId === undefined ? this.#writer : this.#providers.get(target.providerId);
    if (provider === undefined) {
      throw new KeyNotConfiguredError('no configured key provider has that id');
    }
    const master = target.masterKeyId ?? this.#masterFor(tenant);
    // Rows wrapped under a key this configuration would refuse on read would be unreadable:
    // refuse before any provider call (list the target in acceptMasterKeyIds to move to it).
    this.#checkAccepted(provider.id, master, tenant);
    const rewrapped: { keyId: string; version: number }[] = [];
    const skipped: { keyId: string; version: number }[] = [];
    for (const row of await config.store.listVersions(tenant)) {
      const id = { keyId: row.keyId, version: row.version };
      if (row.state === 'shredded') {
        skipped.push(id);
        continue;
      }
      const key = await this.#unwrapRow(row, tenant, row.keyId, row.version);
      try {
        const wrapped = await this.#observe(
          {
            operation: 'wrap',
            providerId: provider.id,
            masterKeyId: master,
            tenant,
            keyId: row.keyId,
            version: row.version,
          },
          () => provider.wrapDataKey(master, key, storeContext(tenant, row.keyId, row.version)),
          keepBytes,
        );
        const ok = await config.store.rewrapVersion(row, {
          providerId: provider.id,
          masterKeyId: master,
          wrapped,
        });
        (ok ? rewrapped : skipped).push(id);
      } finally {
        key.release();
      }
    }
    return { rewrapped, skipped, providerId: provider.id, masterKeyId: master };
  }

  /** The tenant's active version as this process currently writes it. */
  async activeVersion(tenant: string): Promise<number> {
    return (await this.#generations.retryStale(() => this.#activeVersion(tenant))).version;
  }

  /** Provision version 1 of the tenant's data key, or return the active version. */
  async provision(tenant: string): Promise<StoredKeyVersion> {
    const config = this.#config;
    if (config.mode !== 'store') {
      throw new KeyNotConfiguredError('provisionTenant needs keys.mode "store"');
    }
    const keyId = this.#keyId;
    for (let attempt = 0; attempt < 5; attempt++) {
      const active = await config.store.getActiveVersion(tenant, keyId);
      if (active !== undefined) return active;
      // A shredded tenant stays shredded: its id cannot be provisioned again by accident.
      if ((await config.store.getVersion(tenant, keyId, 1))?.state === 'shredded') {
        throw new KeyShreddedError('tenant has been shredded');
      }
      const version = 1;
      const master = this.#masterFor(tenant);
      const generated = await this.#generateStoreKey(tenant, keyId, version, master);
      let commitment: Uint8Array;
      try {
        commitment = storeKeyCommitment(generated.key, { tenant, keyId, version });
      } finally {
        generated.key.release();
      }
      const row = await config.store.createVersion(
        {
          tenant,
          keyId,
          version,
          providerId: this.#writer.id,
          masterKeyId: master,
          wrapped: generated.wrapped,
          commitment,
        },
        null,
      );
      if (row !== undefined) return row;
    }
    throw new KeyNotFoundError(
      'could not provision the tenant key: concurrent writers kept winning',
    );
  }

  async #unwrapRow(
    row: StoredKeyVersion,
    tenant: string,
    keyId: string,
    version: number,
  ): Promise<DataKey> {
    const keyRef = `${keyId}@${version}`;
    // Defence in depth: a store that returned another tenant's or version's row is a bug.
    if (row.tenant !== tenant || row.keyId !== keyId || row.version !== version) {
      throw new KeyNotFoundError('key store returned a row for another key', {
        details: { keyRef },
      });
    }
    if (row.state === 'shredded') throw new KeyShreddedError(undefined, { details: { keyRef } });
    const provider = this.#providers.get(row.providerId);
    if (provider === undefined) {
      throw new KeyNotConfiguredError('no configured key provider matches the key-store row', {
        details: { keyRef },
      });
    }
    // A row re-pointed at another master key (database write access) is refused before the
    // provider sees it; rewrap's source rows go through here too.
    this.#checkAccepted(row.providerId, row.masterKeyId, tenant);
    const info: ProviderCallInfo = {
      operation: 'unwrap',
      providerId: provider.id,
      masterKeyId: row.masterKeyId,
      tenant,
      keyId,
      version,
    };
    const key = await this.#observe(
      info,
      () =>
        provider.unwrapDataKey(row.masterKeyId, row.wrapped, storeContext(tenant, keyId, version)),
      releaseKey,
    );
    // The key the provider returned must be the one the row was created with: a wrong one
    // would seal values no one can read (writes) and fail reads with a misleading error.
    const ref = { tenant, keyId, version };
    try {
      if (row.commitment !== undefined) {
        if (!checkStoreKeyCommitment(key, ref, row.commitment)) {
          throw new KeyCommitmentMismatchError(undefined, { details: { keyRef } });
        }
      } else {
        // A row written before commitments: trust on first use, recorded compare-and-set.
        // Best effort: a read-only database role may not update (a writer completes it).
        const store = (this.#config as { store: KeyStore }).store;
        await store.setCommitment?.(row, storeKeyCommitment(key, ref)).catch(() => false);
      }
    } catch (err) {
      key.release();
      throw err;
    }
    return key;
  }

  /**
   * Unwrap one stored version of the tenant (this client's key id) exactly as a read would —
   * accepted master key, configured provider, stored commitment — and release it at once,
   * without caching it: proves that values under that version can be read.
   */
  async verifyVersion(tenant: string, version: number): Promise<void> {
    const store = this.store;
    if (store === undefined) {
      throw new KeyNotConfiguredError('checkKeyVersion needs keys.mode "store"');
    }
    const keyId = this.#keyId;
    const row = await store.getVersion(tenant, keyId, version);
    if (row === undefined) {
      throw new KeyNotFoundError('the tenant has no such data-key version', {
        details: { keyRef: `${keyId}@${version}` },
      });
    }
    const key = await this.#unwrapRow(row, tenant, keyId, version);
    key.release();
  }

  /** A new key-store data key, generated and wrapped by the writer (observed). */
  #generateStoreKey(
    tenant: string,
    keyId: string,
    version: number,
    master: string,
  ): Promise<{ key: DataKey; wrapped: Uint8Array }> {
    const provider = this.#writer;
    return this.#observe(
      {
        operation: 'generate',
        providerId: provider.id,
        masterKeyId: master,
        tenant,
        keyId,
        version,
      },
      () => provider.generateDataKey(master, storeContext(tenant, keyId, version)),
      releaseGenerated,
    );
  }

  #checkAccepted(providerId: string, masterKeyId: string, tenant: string): void {
    this.#policy.checkAccepted(providerId, masterKeyId, tenant);
  }

  #masterFor(tenant: string): string {
    return this.#policy.masterFor(tenant);
  }

  /** Cache id of the key an envelope names, for `tenant`: equal ids mean one key. */
  readId(ref: KeyRef, tenant: string): string {
    return readCacheId(ref, tenant);
  }
}

/** Defence in depth: `createFieldseal` already refuses field master keys in store mode. */
function fieldMasterInStoreMode(): KeyNotConfiguredError {
  return new KeyNotConfiguredError(
    'a field master key needs keys.mode "embedded" (store-mode data keys are per tenant and key id)',
  );
}

export { embeddedContext, storeContext };
