import type { KeyRef } from '../../envelope/key-ref.js';
import { cacheId, cacheIdParts } from '../../lib/cache-id.js';

/**
 * Cache id of an embedded-mode write key: one data key per (writer, master key, tenant, field
 * key context), so two master keys (a tenant's and a field's), or two key contexts, never share
 * a data key.
 * @internal
 */
export function writeCacheId(
  providerId: string,
  masterKeyId: string,
  tenant: string,
  contextId?: string,
): string {
  return contextId === undefined
    ? cacheId('w', providerId, masterKeyId, tenant)
    : cacheId('w', providerId, masterKeyId, tenant, contextId);
}

/**
 * Cache id of the key an envelope names, for `tenant`: equal ids mean one key. The tenant is
 * part of every id, so a key admitted for one tenant never serves another; so is the field's
 * key context (`contextId`) of an embedded key, which was unwrapped under it.
 * @internal
 */
export function readCacheId(ref: KeyRef, tenant: string, contextId?: string): string {
  if (ref.kind === 'store') return storeReadId(ref.keyId, tenant, ref.version);
  const wrapped = Buffer.from(ref.wrapped.buffer, ref.wrapped.byteOffset, ref.wrapped.byteLength);
  const recent = embeddedIds.get(tenant);
  if (recent !== undefined) {
    for (const e of recent) {
      if (
        e.providerId === ref.providerId &&
        e.masterKeyId === ref.masterKeyId &&
        e.contextId === contextId &&
        e.wrapped.equals(wrapped)
      ) {
        return e.id;
      }
    }
  }
  const base64 = wrapped.toString('base64');
  const id =
    contextId === undefined
      ? cacheId('e', ref.providerId, ref.masterKeyId, tenant, base64)
      : cacheId('e', ref.providerId, ref.masterKeyId, tenant, base64, contextId);
  if (interned >= MAX_INTERNED || embeddedCount >= MAX_EMBEDDED) clearInterned();
  const entry = {
    providerId: ref.providerId,
    masterKeyId: ref.masterKeyId,
    contextId,
    wrapped: Buffer.from(wrapped),
    id,
  };
  const list = embeddedIds.get(tenant);
  if (list === undefined) embeddedIds.set(tenant, [entry]);
  else {
    list.unshift(entry);
    if (list.length > RECENT_EMBEDDED) list.pop();
  }
  interned++;
  embeddedCount++;
  return id;
}

/**
 * Embedded-mode read ids, by tenant: the few most recent (wrapped key → id) of each. Building
 * one base64-encodes the wrapped key, and the cache hashes that long id on every lookup; a
 * tenant's values are mostly under its few current data keys, compared here byte for byte
 * (the wrapped key is public: it is in every envelope).
 */
const embeddedIds = new Map<
  string,
  {
    providerId: string;
    masterKeyId: string;
    contextId: string | undefined;
    wrapped: Buffer;
    id: string;
  }[]
>();
const RECENT_EMBEDDED = 4;
/**
 * Embedded entries kept before the tables are dropped: each holds a copy of a wrapped key (up
 * to 2 KiB) and its base64 id, so this bounds them to tens of MB, not hundreds.
 */
const MAX_EMBEDDED = 10_000;
let embeddedCount = 0;

function clearInterned(): void {
  storeIds.clear();
  embeddedIds.clear();
  interned = 0;
  embeddedCount = 0;
}

/**
 * Store-mode read ids, interned: tenant → key id → version → id. Every decrypt and encrypt
 * needs one, and building it (and hashing the new string for the cache's lookup) cost more
 * than the rest of the cache lookup; an interned id is found by strings the caller already
 * holds. Ids are pure functions of their parts, so the table is shared by every client; it is
 * dropped whole when it reaches {@link MAX_INTERNED} ids.
 */
const storeIds = new Map<string, Map<string, Map<number, string>>>();
let interned = 0;
const MAX_INTERNED = 50_000;

function storeReadId(keyId: string, tenant: string, version: number): string {
  let byKey = storeIds.get(tenant);
  let byVersion = byKey?.get(keyId);
  const hit = byVersion?.get(version);
  if (hit !== undefined) return hit;
  const id = cacheId('s', keyId, tenant, String(version));
  if (interned >= MAX_INTERNED) {
    clearInterned();
    byKey = undefined;
    byVersion = undefined;
  }
  if (byKey === undefined) storeIds.set(tenant, (byKey = new Map<string, Map<number, string>>()));
  if (byVersion === undefined) byKey.set(keyId, (byVersion = new Map<number, string>()));
  byVersion.set(version, id);
  interned++;
  return id;
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

/**
 * How many key-store data-key versions each tenant has among cache `ids` (the versions it
 * read or wrote within the cache's lifetime): tenants counted by number of versions, with no
 * tenant id in the result.
 * @internal
 */
export function versionsPerTenant(ids: Iterable<string>): {
  tenants: number;
  maxPerTenant: number;
  tenantsByVersionCount: Record<string, number>;
} {
  const perTenant = new Map<string, number>();
  for (const id of ids) {
    if (!id.startsWith('1:s')) continue;
    const parts = cacheIdParts(id);
    if (parts[0] !== 's' || parts.length !== 4) continue;
    const tenant = parts[2]!;
    perTenant.set(tenant, (perTenant.get(tenant) ?? 0) + 1);
  }
  let maxPerTenant = 0;
  const tenantsByVersionCount: Record<string, number> = {};
  for (const n of perTenant.values()) {
    if (n > maxPerTenant) maxPerTenant = n;
    tenantsByVersionCount[n] = (tenantsByVersionCount[n] ?? 0) + 1;
  }
  return { tenants: perTenant.size, maxPerTenant, tenantsByVersionCount };
}
