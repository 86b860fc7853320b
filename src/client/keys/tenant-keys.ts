import { KeyNotConfiguredError, KeyNotFoundError, KeyShreddedError } from '../../errors.js';
import type { KeyProvider } from '../../kms/key-provider.js';
import { storeKeyCommitment } from '../../keys/key-commitment.js';
import type { KeyStore, StoredKeyVersion } from '../../keys/key-store.js';
import type { KeyResolver } from './key-resolver.js';
import type { KeySourceParts } from './key-source.js';
import { noActiveKey } from './shred-state.js';
import type { StoreKeyCrypto } from './store-key-crypto.js';
import type { StoreKeySource } from './store-key-source.js';
import { rewrapVersions, type RewrapOutcome } from './rewrap-versions.js';

/** A version's ids, never its wrapped bytes. @internal */
export interface VersionId {
  keyId: string;
  version: number;
}

/**
 * The lifecycle of a tenant's versioned keys in the key store (store mode): provision,
 * rotate, rewrap, retire, reinstate, shred and the check of one version. Depends on the store
 * and the key source, never on the client facade; purges go through the resolver so that no
 * key of a changed tenant survives in this process.
 * @internal
 */
export class TenantKeys {
  readonly store: KeyStore;
  readonly keyId: string;
  readonly #parts: KeySourceParts;
  readonly #source: StoreKeySource;
  readonly #crypto: StoreKeyCrypto;
  readonly #resolver: KeyResolver;

  constructor(
    parts: KeySourceParts,
    store: KeyStore,
    source: StoreKeySource,
    crypto: StoreKeyCrypto,
    resolver: KeyResolver,
  ) {
    this.#parts = parts;
    this.store = store;
    this.keyId = source.keyId;
    this.#source = source;
    this.#crypto = crypto;
    this.#resolver = resolver;
  }

  /** Provision version 1 of the tenant's data key, or return the active version. */
  async provision(tenant: string): Promise<StoredKeyVersion> {
    const { store, keyId } = this;
    for (let attempt = 0; attempt < 5; attempt++) {
      const active = await store.getActiveVersion(tenant, keyId);
      if (active !== undefined) return active;
      // A shredded tenant stays shredded: its id cannot be provisioned again by accident.
      if ((await store.getVersion(tenant, keyId, 1))?.state === 'shredded') {
        throw new KeyShreddedError('tenant has been shredded');
      }
      const version = 1;
      const master = this.#parts.policy.masterFor(tenant);
      const generated = await this.#crypto.generate(tenant, keyId, version, master);
      let commitment: Uint8Array;
      try {
        commitment = storeKeyCommitment(generated.key, { tenant, keyId, version });
      } finally {
        generated.key.release();
      }
      const row = await store.createVersion(
        {
          tenant,
          keyId,
          version,
          providerId: this.#parts.writer.id,
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

  /**
   * Rotate the tenant's data key: a new version becomes active for writes, older versions stay
   * readable (decrypt-only). Compare-and-set on the active version: when two rotations race,
   * exactly one new version is created and both callers get it.
   */
  async rotate(tenant: string): Promise<StoredKeyVersion> {
    const { store, keyId } = this;
    const gen = this.#parts.generations.generation(tenant);
    const active = await store.getActiveVersion(tenant, keyId);
    if (active === undefined) throw await noActiveKey(store, tenant, keyId);
    const version = active.version + 1;
    if (version > 0xffffffff) throw new RangeError('the tenant key has reached version 2^32-1');
    const master = this.#parts.policy.masterFor(tenant);
    const generated = await this.#crypto.generate(tenant, keyId, version, master);
    try {
      const row = await store.createVersion(
        {
          tenant,
          keyId,
          version,
          providerId: this.#parts.writer.id,
          masterKeyId: master,
          wrapped: generated.wrapped,
          commitment: storeKeyCommitment(generated.key, { tenant, keyId, version }),
        },
        active.version,
      );
      if (row !== undefined) {
        // Not cached when the tenant was purged meanwhile (a shred racing the rotation).
        this.#source.rotated(tenant, { version, key: generated.key, gen });
        return row;
      }
    } finally {
      generated.key.release();
    }
    // Another writer rotated first: theirs is the new version.
    this.#source.rotated(tenant);
    const winner = await store.getActiveVersion(tenant, keyId);
    if (winner === undefined || winner.version <= active.version) {
      throw new KeyNotFoundError('the tenant key changed during rotation; retry');
    }
    return winner;
  }

  /**
   * Re-wrap every live version of the tenant's keys under `masterKeyId` with `providerId` (the
   * writer by default): see {@link rewrapVersions}.
   */
  async rewrap(
    tenant: string,
    target: { readonly masterKeyId?: string; readonly providerId?: string },
  ): Promise<RewrapOutcome> {
    const provider: KeyProvider | undefined =
      target.providerId === undefined
        ? this.#parts.writer
        : this.#parts.providers.get(target.providerId);
    if (provider === undefined) {
      throw new KeyNotConfiguredError('no configured key provider has that id');
    }
    const master = target.masterKeyId ?? this.#parts.policy.masterFor(tenant);
    // Rows wrapped under a key this configuration would refuse on read would be unreadable:
    // refuse before any provider call (list the target in acceptMasterKeyIds to move to it).
    this.#parts.policy.checkAccepted(provider.id, master, tenant);
    return rewrapVersions(
      { store: this.store, crypto: this.#crypto, observe: this.#parts.observe },
      tenant,
      provider,
      master,
    );
  }

  /**
   * Shred a tenant in the key store (every version, wrapped bytes destroyed) and in this
   * process's cache.
   */
  async shred(tenant: string): Promise<readonly VersionId[]> {
    // Purge before and after: no key of this tenant survives in this process either way.
    this.#resolver.purgeTenant(tenant);
    try {
      if ((await this.store.listVersions(tenant)).length === 0) {
        // Never provisioned in the store (embedded envelopes only): a version created and
        // destroyed at once is the tombstone that makes store-mode clients refuse them, and
        // keeps the tenant id from being provisioned again by accident.
        await this.#tombstone(tenant);
      }
      return await this.store.shredTenant(tenant);
    } finally {
      this.#resolver.purgeTenant(tenant);
    }
  }

  async #tombstone(tenant: string): Promise<void> {
    const master = this.#parts.policy.masterFor(tenant);
    const generated = await this.#crypto.generate(tenant, this.keyId, 1, master);
    generated.key.release();
    await this.store.createVersion(
      {
        tenant,
        keyId: this.keyId,
        version: 1,
        providerId: this.#parts.writer.id,
        masterKeyId: master,
        wrapped: generated.wrapped,
      },
      null,
    );
  }

  /** Retire the versions below `below` (this client's key id); see `Fieldseal.retireKeyVersions`. */
  retire(tenant: string, below: number): Promise<number[]> {
    return this.store.retireVersions(tenant, this.keyId, below);
  }

  /** Make a retired version readable again; see `Fieldseal.reinstateKeyVersion`. */
  reinstate(tenant: string, version: number): Promise<boolean> {
    return this.store.reinstateVersion(tenant, this.keyId, version);
  }

  /**
   * Unwrap one stored version of the tenant (this client's key id) exactly as a read would —
   * accepted master key, configured provider, stored commitment — and release it at once,
   * without caching it: proves that values under that version can be read.
   */
  async verifyVersion(tenant: string, version: number): Promise<void> {
    const keyId = this.keyId;
    const row = await this.store.getVersion(tenant, keyId, version);
    if (row === undefined) {
      throw new KeyNotFoundError('the tenant has no such data-key version', {
        details: { keyRef: `${keyId}@${version}` },
      });
    }
    const key = await this.#crypto.unwrap(row, tenant, keyId, version);
    key.release();
  }
}
