import { KeyNotConfiguredError, KeyShreddedError } from '../../errors.js';
import type { KeyStore } from '../../keys/key-store.js';

/**
 * Whether the store holds a shredded version of the tenant (a shred marks every version, so
 * version 1 of `keyId` answers without listing).
 * @internal
 */
export async function isShredded(store: KeyStore, tenant: string, keyId: string): Promise<boolean> {
  const first = await store.getVersion(tenant, keyId, 1);
  if (first !== undefined) return first.state === 'shredded';
  // Versions under an earlier key id only.
  return (await store.listVersions(tenant)).some((v) => v.state === 'shredded');
}

/**
 * Why a tenant has no active version: shredded (its first version says so) or never
 * provisioned.
 * @internal
 */
export async function noActiveKey(store: KeyStore, tenant: string, keyId: string): Promise<Error> {
  const first = await store.getVersion(tenant, keyId, 1);
  return first?.state === 'shredded'
    ? new KeyShreddedError('tenant has been shredded', {
        details: { keyRef: `${keyId}@1` },
      })
    : new KeyNotConfiguredError('tenant has no active data key: it was never provisioned');
}
