import type { KeyRef } from '../../envelope/key-ref.js';
import { cacheId, cacheIdParts } from '../../lib/cache-id.js';

/**
 * Cache id of an embedded-mode write key: one data key per (writer, master key, tenant), so two
 * master keys (a tenant's and a field's) never share a data key.
 * @internal
 */
export function writeCacheId(providerId: string, masterKeyId: string, tenant: string): string {
  return cacheId('w', providerId, masterKeyId, tenant);
}

/**
 * Cache id of the key an envelope names, for `tenant`: equal ids mean one key. The tenant is
 * part of every id, so a key admitted for one tenant never serves another.
 * @internal
 */
export function readCacheId(ref: KeyRef, tenant: string): string {
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

/** Where the tenant sits in each kind of id (see {@link writeCacheId}, {@link readCacheId}). */
const TENANT_AT: Readonly<Record<string, number>> = { w: 3, e: 3, s: 2 };

/**
 * Whether a cache id (of any kind above) holds a key of `tenant`: what a purge of the tenant
 * evicts.
 * @internal
 */
export function cacheIdOfTenant(id: string, tenant: string): boolean {
  const parts = cacheIdParts(id);
  const at = TENANT_AT[parts[0] ?? ''];
  return at !== undefined && parts[at] === tenant;
}
