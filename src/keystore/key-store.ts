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
  /** Any version, including decrypt-only and shredded ones. */
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
   * Crypto-shred a tenant: mark every version of every key id `shredded` and destroy its
   * wrapped bytes. Returns the versions shredded by this call.
   */
  shredTenant(tenant: string): Promise<readonly { keyId: string; version: number }[]>;
  /** Every version of the tenant (all key ids), newest first within a key id. */
  listVersions(tenant: string): Promise<StoredKeyVersion[]>;
  /**
   * Replace a version's wrapped key (master-key rotation, provider move) only if it is still
   * wrapped exactly as `expected` says; the data key itself is unchanged.
   * @returns false when the row changed meanwhile (or is shredded).
   */
  rewrapVersion(expected: StoredKeyVersion, next: KeyWrapping): Promise<boolean>;
}

/**
 * Lifecycle state of a data-key version: exactly one `active` per tenant and key id, older
 * ones `decrypt-only`, destroyed ones `shredded`.
 * @example
 * ```ts
 * const readable = (s: KeyVersionState) => s !== 'shredded';
 * ```
 */
export type KeyVersionState = 'active' | 'decrypt-only' | 'shredded';

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
}

/**
 * A version to add with {@link KeyStore.createVersion}.
 * @example
 * ```ts
 * await store.createVersion({ tenant, keyId, version: 1, providerId: 'local', masterKeyId: 'master', wrapped }, null);
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
