/**
 * Where wrapped data-key versions live when envelopes reference keys by id and version
 * (the compact form). Every lookup is scoped by tenant: an implementation must never return
 * a row of another tenant, whatever key id or version is asked for.
 *
 * @example
 * ```ts
 * const store: KeyStore = new MemoryKeyStore();
 * const active = await store.getActiveVersion('acme', 'default');
 * ```
 */
export interface KeyStore {
  /** The version used for new writes, if the tenant's key id has one. */
  getActiveVersion(tenant: string, keyId: string): Promise<StoredKeyVersion | undefined>;
  /** Any version, including decrypt-only, retired and shredded ones. */
  getVersion(tenant: string, keyId: string, version: number): Promise<StoredKeyVersion | undefined>;
  /**
   * Add `version` as the new active version, demoting the previous active one to
   * `decrypt-only`, atomically and only if the active version is still `expectedActive`
   * (`null`: no version yet). Returns the stored row, or `undefined` when another writer won
   * the race (the caller re-reads).
   */
  createVersion(
    record: NewKeyVersion,
    expectedActive: number | null,
  ): Promise<StoredKeyVersion | undefined>;
  /**
   * Crypto-shred a tenant: mark every version of every key id (retired ones included)
   * `shredded` and destroy its wrapped bytes and its commitment. Returns the versions shredded
   * by this call.
   */
  shredTenant(tenant: string): Promise<readonly { keyId: string; version: number }[]>;
  /** Every version of the tenant (all key ids), newest first within a key id. */
  listVersions(tenant: string): Promise<StoredKeyVersion[]>;
  /**
   * Replace a version's wrapped key (master-key rotation, provider move) only if it is still
   * wrapped exactly as `expected` says; the data key itself is unchanged, and so is the row's
   * commitment (kept as it is, present or absent). Retired versions are re-wrapped too, so
   * that reinstating one still works after a master-key rotation.
   * @returns false when the row changed meanwhile (or is shredded).
   */
  rewrapVersion(expected: StoredKeyVersion, next: KeyWrapping): Promise<boolean>;
  /**
   * Set the minimum decryption version of the tenant's key id, as Vault transit's
   * `min_decryption_version` does: every `decrypt-only` version numbered below `below` becomes
   * `retired` (refused for decryption, wrapped bytes kept), in one atomic step. Active,
   * shredded and already retired versions are left alone; the active version is never retired,
   * even by a rotation racing this call. Callers should first prove that no stored value still
   * uses those versions (the backfill module's `retireKeyVersion` counts them).
   * @param below - an integer from 1 to 2^32; 1 retires nothing.
   * @returns the versions this call retired, ascending.
   * @throws KeyVersionActiveError (`ERR_KEY_VERSION_ACTIVE`) when the active version is below
   *   `below`: nothing is retired. RangeError for a `below` out of range.
   */
  retireVersions(tenant: string, keyId: string, below: number): Promise<number[]>;
  /**
   * Make a `retired` version `decrypt-only` again (it never becomes active again).
   * @returns true when the version was retired and is now readable, false when it already was
   *   readable (`decrypt-only` or `active`).
   * @throws KeyNotFoundError when the version does not exist, KeyShreddedError when it was
   *   shredded (its wrapped bytes are gone: nothing can reinstate it).
   */
  reinstateVersion(tenant: string, keyId: string, version: number): Promise<boolean>;
  /**
   * Give a row created before key commitments existed its commitment, once: compare-and-set,
   * only while the row still has no commitment, is not shredded and is wrapped exactly as
   * `row` says (same provider, master key id and wrapped bytes). The client calls it after
   * the first successful unwrap of such a row (trust on first use, docs/format.md §4.5).
   * Optional: a store without it keeps its legacy rows unchecked.
   * @param commitment - 32 bytes (`storeKeyCommitment` of the row's data key).
   * @returns true when this call stored it; false when the row already has one, changed,
   *   was shredded or does not exist (nothing is overwritten).
   * @throws TypeError / RangeError unless `commitment` is a 32-byte `Uint8Array`.
   */
  setCommitment?(row: StoredKeyVersion, commitment: Uint8Array): Promise<boolean>;
}

/**
 * Lifecycle state of a data-key version:
 * - `active`: encrypts new values and decrypts; exactly one per tenant and key id;
 * - `decrypt-only`: an older version, still decrypts;
 * - `retired`: below the minimum decryption version; refuses decryption (`ERR_KEY_RETIRED`)
 *   but keeps its wrapped bytes, so it can be reinstated (and is still re-wrapped);
 * - `shredded`: wrapped bytes destroyed; nothing it protected can be read again.
 *
 * `active` → `decrypt-only` (rotation) ⇄ `retired`; any → `shredded` (shredTenant).
 * @example
 * ```ts
 * const decrypts = (s: KeyVersionState) => s === 'active' || s === 'decrypt-only';
 * ```
 */
export type KeyVersionState = 'active' | 'decrypt-only' | 'retired' | 'shredded';

/**
 * A data-key version as stored: wrapped only, never in plaintext.
 * @example
 * ```ts
 * const row: StoredKeyVersion | undefined = await store.getVersion('acme', 'default', 2);
 * ```
 */
export interface StoredKeyVersion {
  readonly tenant: string;
  readonly keyId: string;
  readonly version: number;
  readonly state: KeyVersionState;
  /** Provider that wrapped the key, and its master key id. */
  readonly providerId: string;
  readonly masterKeyId: string;
  readonly wrapped: Uint8Array;
  readonly createdAt: Date;
  /**
   * 32-byte commitment to the data key (`storeKeyCommitment`, docs/format.md §4.5), checked
   * after every unwrap. Absent on rows created before commitments existed (until
   * {@link KeyStore.setCommitment} gives them one) and on shredded rows.
   */
  readonly commitment?: Uint8Array;
}

/**
 * A version to add with {@link KeyStore.createVersion}; give it its `commitment` (a store
 * refuses one that is not 32 bytes with a RangeError).
 * @example
 * ```ts
 * const commitment = storeKeyCommitment(key, { tenant, keyId, version: 1 });
 * await store.createVersion({ tenant, keyId, version: 1, providerId: 'local', masterKeyId: 'master', wrapped, commitment }, null);
 * ```
 */
export type NewKeyVersion = Omit<StoredKeyVersion, 'state' | 'createdAt'>;

/**
 * How a data-key version is wrapped: by which provider, under which master key, and the
 * wrapped bytes. What {@link KeyStore.rewrapVersion} replaces.
 * @example
 * ```ts
 * const next: KeyWrapping = { providerId: 'local', masterKeyId: 'master-2026', wrapped };
 * ```
 */
export interface KeyWrapping {
  readonly providerId: string;
  readonly masterKeyId: string;
  readonly wrapped: Uint8Array;
}
