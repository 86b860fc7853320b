import {
  KeyNotConfiguredError,
  KeyNotFoundError,
  KeyRetiredError,
  KeyShreddedError,
} from '../../errors.js';
import { encodeHeaderPrefix, type KeyRef } from '../../envelope/key-ref.js';
import type { CacheLease } from '../../keys/data-key-cache.js';
import type { DataKey } from '../../keys/data-key.js';
import type { KeyStore, StoredKeyVersion } from '../../keys/key-store.js';
import type { FieldKey } from '../field-key.js';
import { ActiveVersions } from './active-versions.js';
import { readCacheId } from './cache-ids.js';
import { leaseEmbeddedRead } from './embedded-reads.js';
import type { KeySource, KeySourceParts, ReadKeyExtra, WriteKeyExtra } from './key-source.js';
import { isShredded } from './shred-state.js';
import type { StoreKeyCrypto } from './store-key-crypto.js';

/**
 * Data keys of `keys.mode: 'store'`: versioned per-tenant keys in a key store, envelopes
 * naming `keyId@version`. The write key is the active version's read entry, so a tenant both
 * written and read occupies one cache entry. Embedded envelopes are still read, unless the
 * store says the tenant was shredded.
 * @internal
 */
export class StoreKeySource implements KeySource {
  readonly keyId: string;
  readonly #parts: KeySourceParts;
  readonly #store: KeyStore;
  readonly #crypto: StoreKeyCrypto;
  readonly #active: ActiveVersions;

  constructor(parts: KeySourceParts, store: KeyStore, keyId: string, crypto: StoreKeyCrypto) {
    this.#parts = parts;
    this.#store = store;
    this.keyId = keyId;
    this.#crypto = crypto;
    this.#active = new ActiveVersions(store, keyId, parts.cache, parts.generations);
    // A key id the envelope header cannot hold fails at construction, not at the first write.
    encodeHeaderPrefix({ kind: 'store', keyId, version: 1 });
  }

  peekWrite(
    tenant: string,
    uses: number,
    field: FieldKey | undefined,
  ): CacheLease<WriteKeyExtra> | undefined {
    if (field !== undefined) refuseFieldKey(field);
    const version = this.#active.peek(tenant);
    if (version === undefined) return undefined;
    return this.#parts.cache.tryAcquire(
      readCacheId({ kind: 'store', keyId: this.keyId, version }, tenant),
      uses,
    );
  }

  async forWrite(
    tenant: string,
    uses: number,
    field: FieldKey | undefined,
    gen: number,
  ): Promise<CacheLease<WriteKeyExtra>> {
    if (field !== undefined) refuseFieldKey(field);
    const active = await this.#active.load(tenant);
    return this.#lease(tenant, this.keyId, active.version, uses, gen, active.row);
  }

  forRead(
    ref: KeyRef,
    tenant: string,
    uses: number,
    gen: number,
    field: FieldKey | undefined,
  ): Promise<CacheLease<ReadKeyExtra>> {
    if (ref.kind === 'store') return this.#lease(tenant, ref.keyId, ref.version, uses, gen);
    // A store-mode client knows which tenants were shredded: their self-contained envelopes
    // (written before a move to store mode, or by an embedded ingest service) die with them.
    return leaseEmbeddedRead(this.#parts, ref, tenant, uses, gen, field, async () => {
      if (await isShredded(this.#store, tenant, this.keyId)) {
        throw new KeyShreddedError('tenant has been shredded', {
          details: { keyRef: `${ref.providerId}:${ref.masterKeyId}` },
        });
      }
    });
  }

  async isCurrent(ref: KeyRef, tenant: string): Promise<boolean> {
    if (ref.kind !== 'store') return false;
    // Asked of every store reference (whatever its key id), so a tenant that was shredded or
    // never provisioned fails here, before anything is opened.
    const { version } = await this.#parts.generations.retryStale(() => this.#active.load(tenant));
    return ref.keyId === this.keyId && ref.version === version;
  }

  forget(tenant?: string): void {
    this.#active.forget(tenant);
  }

  setCaching(enabled: boolean): void {
    this.#active.setCaching(enabled);
  }

  /**
   * After a rotation by this process: the active version is read again, and a version it
   * created (`mine`) becomes its write key at once (others move within their cache age) --
   * unless the tenant was purged since `mine.gen` (a shred racing the rotation): then nothing
   * of it is cached.
   */
  rotated(
    tenant: string,
    mine?: { readonly version: number; readonly key: DataKey; readonly gen: number },
  ): void {
    if (mine !== undefined && this.#parts.generations.generation(tenant) === mine.gen) {
      const ref: KeyRef = { kind: 'store', keyId: this.keyId, version: mine.version };
      this.#parts.cache.insert(readCacheId(ref, tenant), mine.key, {
        prefix: encodeHeaderPrefix(ref),
        reads: this.#parts.keyReads?.cell(ref),
      });
    }
    this.#active.dropVersion(tenant);
  }

  /** Lease a key-store version through its (single) cache entry. */
  #lease(
    tenant: string,
    keyId: string,
    version: number,
    uses: number,
    gen: number,
    known?: StoredKeyVersion,
  ): Promise<CacheLease<WriteKeyExtra>> {
    const ref: KeyRef = { kind: 'store', keyId, version };
    return this.#parts.cache.acquire(readCacheId(ref, tenant), uses, async () => {
      const row = known ?? (await this.#store.getVersion(tenant, keyId, version));
      if (row === undefined) {
        throw new KeyNotFoundError('key version not found for this tenant', {
          details: { keyRef: `${keyId}@${version}` },
        });
      }
      // Checked here, not in StoreKeyCrypto.unwrap: rewrap must still unwrap retired rows.
      if (row.state === 'retired') {
        throw new KeyRetiredError(undefined, { details: { keyRef: `${keyId}@${version}` } });
      }
      const key = await this.#crypto.unwrap(row, tenant, keyId, version);
      // Loaded across a purge (a shred while the row or the unwrap was in flight): not cached.
      this.#parts.generations.assertCurrent(tenant, gen, key);
      return {
        key,
        extra: { prefix: encodeHeaderPrefix(ref), reads: this.#parts.keyReads?.cell(ref) },
      };
    });
  }
}

/** Defence in depth: `createFieldseal` already refuses field master keys in store mode. */
/**
 * A field's own master key or key context cannot choose a store-mode data key (they are per
 * tenant and key id, shared by every field): the client refuses such policies at construction,
 * and this is the write path's last check. A key context naming only the tenant is no choice.
 */
function refuseFieldKey(field: FieldKey): void {
  if (field.masterKeyId !== undefined || field.context !== undefined) {
    throw new KeyNotConfiguredError(
      'a field master key or key context needs keys.mode "embedded" (store-mode data keys are per tenant and key id)',
    );
  }
}
