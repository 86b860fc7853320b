import { KeyNotConfiguredError, KeyNotFoundError, KeyShreddedError } from '../errors.js';
import type { KeyContext } from '../envelope/context.js';
import { encodeHeaderPrefix, type KeyRef } from '../envelope/key-ref.js';
import type { CacheLease, DataKeyCache } from '../keys/data-key-cache.js';
import type { DataKey } from '../keys/data-key.js';
import type { KeyProvider } from '../kms/key-provider.js';
import type { StoredKeyVersion } from '../keystore/key-store.js';
import { cacheId } from '../lib/cache-id.js';
import type { KeysConfig } from './options.js';

/** What an encryption needs besides the key: the cached envelope prefix. @internal */
export interface WriteKeyExtra {
  readonly prefix: Buffer;
}

const DEFAULT_KEY_ID = 'default';

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

  constructor(config: KeysConfig, providers: readonly KeyProvider[], cache: DataKeyCache) {
    const first = providers[0];
    if (first === undefined) {
      throw new KeyNotConfiguredError('createFieldseal needs at least one key provider');
    }
    const master = config.masterKeyId;
    if (!(typeof master === 'string' && master.length > 0) && typeof master !== 'function') {
      throw new KeyNotConfiguredError(
        'keys.masterKeyId must name the master key or map a tenant to its master key',
      );
    }
    this.#config = config;
    this.#cache = cache;
    this.#writer = first;
    this.#providers = new Map(providers.map((p) => [p.id, p]));
    this.#keyId = config.mode === 'store' ? (config.keyId ?? DEFAULT_KEY_ID) : '';
    if (config.mode === 'store')
      encodeHeaderPrefix({ kind: 'store', keyId: this.#keyId, version: 1 });
  }

  /** The cache id of the tenant's write key. */
  #writeId(tenant: string): string {
    const config = this.#config;
    return config.mode === 'embedded'
      ? cacheId('w', this.#writer.id, this.#masterFor(tenant), tenant)
      : cacheId('a', this.#keyId, tenant);
  }

  /** The tenant's write key if it is cached (synchronous hot path), else `undefined`. */
  peekWrite(tenant: string, uses: number): CacheLease<WriteKeyExtra> | undefined {
    return this.#cache.tryAcquire(this.#writeId(tenant), uses);
  }

  /** The key an envelope names if it is cached (synchronous hot path), else `undefined`. */
  peekRead(ref: KeyRef, tenant: string, uses: number): CacheLease<unknown> | undefined {
    return this.#cache.tryAcquire(this.readId(ref, tenant), uses);
  }

  /** The tenant's current write key, leased for `uses` encryptions. */
  forWrite(tenant: string, uses: number): Promise<CacheLease<WriteKeyExtra>> {
    const config = this.#config;
    if (config.mode === 'embedded') {
      const provider = this.#writer;
      const master = this.#masterFor(tenant);
      return this.#cache.acquire(this.#writeId(tenant), uses, async () => {
        const { key, wrapped } = await provider.generateDataKey(master, embeddedContext(tenant));
        const ref: KeyRef = {
          kind: 'embedded',
          providerId: provider.id,
          masterKeyId: master,
          wrapped,
        };
        // A value read back right after it was written must not cost an unwrap.
        this.#cache.insert(this.readId(ref, tenant), key, undefined);
        return { key, extra: { prefix: encodeHeaderPrefix(ref) } };
      });
    }
    const keyId = this.#keyId;
    return this.#cache.acquire(this.#writeId(tenant), uses, async () => {
      const row = await config.store.getActiveVersion(tenant, keyId);
      if (row === undefined) {
        throw new KeyNotConfiguredError(
          'tenant has no active data key: call provisionTenant first',
        );
      }
      const key = await this.#unwrapRow(row, tenant, keyId, row.version);
      const ref: KeyRef = { kind: 'store', keyId, version: row.version };
      this.#cache.insert(this.readId(ref, tenant), key, undefined);
      return { key, extra: { prefix: encodeHeaderPrefix(ref) } };
    });
  }

  /** The key an envelope names, for `tenant`, leased for `uses` decryptions. */
  forRead(ref: KeyRef, tenant: string, uses: number): Promise<CacheLease<unknown>> {
    return this.#cache.acquire(this.readId(ref, tenant), uses, async () => {
      if (ref.kind === 'embedded') {
        const provider = this.#providers.get(ref.providerId);
        if (provider === undefined) {
          throw new KeyNotConfiguredError('no configured key provider matches the envelope', {
            details: { keyRef: `${ref.providerId}:${ref.masterKeyId}` },
          });
        }
        const key = await provider.unwrapDataKey(
          ref.masterKeyId,
          ref.wrapped,
          embeddedContext(tenant),
        );
        return { key, extra: undefined };
      }
      const config = this.#config;
      if (config.mode !== 'store') {
        throw new KeyNotConfiguredError('envelope references a key store and none is configured', {
          details: { keyRef: `${ref.keyId}@${ref.version}` },
        });
      }
      const row = await config.store.getVersion(tenant, ref.keyId, ref.version);
      if (row === undefined) {
        throw new KeyNotFoundError('key version not found for this tenant', {
          details: { keyRef: `${ref.keyId}@${ref.version}` },
        });
      }
      return { key: await this.#unwrapRow(row, tenant, ref.keyId, ref.version), extra: undefined };
    });
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
      const version = 1;
      const generated = await this.#writer.generateDataKey(
        this.#masterFor(tenant),
        storeContext(tenant, keyId, version),
      );
      generated.key.release();
      const row = await config.store.createVersion(
        {
          tenant,
          keyId,
          version,
          providerId: this.#writer.id,
          masterKeyId: this.#masterFor(tenant),
          wrapped: generated.wrapped,
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
    return provider.unwrapDataKey(
      row.masterKeyId,
      row.wrapped,
      storeContext(tenant, keyId, version),
    );
  }

  /** The master key id for `tenant` (per-tenant function or shared id), validated. */
  #masterFor(tenant: string): string {
    const choice = this.#config.masterKeyId;
    const id = typeof choice === 'function' ? choice(tenant) : choice;
    if (typeof id !== 'string' || id.length === 0) {
      throw new KeyNotConfiguredError('no master key is configured for this tenant');
    }
    return id;
  }

  /** Cache id of the key an envelope names, for `tenant`: equal ids mean one key. */
  readId(ref: KeyRef, tenant: string): string {
    return ref.kind === 'embedded'
      ? cacheId(
          'e',
          ref.providerId,
          ref.masterKeyId,
          tenant,
          Buffer.from(ref.wrapped.buffer, ref.wrapped.byteOffset, ref.wrapped.byteLength).toString(
            'base64',
          ),
        )
      : cacheId('s', ref.keyId, tenant, String(ref.version));
  }
}

/** Provider context of a self-contained data key: the tenant. @internal */
export function embeddedContext(tenant: string): KeyContext {
  return { tenant };
}

/** Provider context of a key-store data key: tenant, key id and version. @internal */
export function storeContext(tenant: string, keyId: string, version: number): KeyContext {
  return { tenant, key: keyId, version: String(version) };
}
