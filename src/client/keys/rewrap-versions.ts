import type { KeyProvider } from '../../kms/key-provider.js';
import type { KeyStore } from '../../keys/key-store.js';
import type { ProviderCallObserver } from '../provider-calls.js';
import { storeContext } from './provider-context.js';
import type { StoreKeyCrypto } from './store-key-crypto.js';

/** What a rewrap did, and the provider and master key it wrapped under. @internal */
export interface RewrapOutcome {
  rewrapped: { keyId: string; version: number }[];
  skipped: { keyId: string; version: number }[];
  providerId: string;
  masterKeyId: string;
}

/** The wrapped bytes are not secret: nothing to release when a wrap resolves too late. */
const keepBytes = (): void => undefined;

/**
 * Re-wrap every live version of the tenant's keys (every key id) under `master` with
 * `provider`: the data keys, and so every stored value, stay as they are; only the wrapped
 * copies in the key store change, each by compare-and-set. Each source row is unwrapped with
 * every check of a read (accepted master key, commitment); shredded rows and rows changed
 * meanwhile are reported as skipped. The caller has checked that reads accept `master`.
 * @internal
 */
export async function rewrapVersions(
  deps: {
    readonly store: KeyStore;
    readonly crypto: StoreKeyCrypto;
    readonly observe: ProviderCallObserver;
  },
  tenant: string,
  provider: KeyProvider,
  master: string,
): Promise<RewrapOutcome> {
  const { store, crypto, observe } = deps;
  const rewrapped: { keyId: string; version: number }[] = [];
  const skipped: { keyId: string; version: number }[] = [];
  for (const row of await store.listVersions(tenant)) {
    const id = { keyId: row.keyId, version: row.version };
    if (row.state === 'shredded') {
      skipped.push(id);
      continue;
    }
    const key = await crypto.unwrap(row, tenant, row.keyId, row.version);
    try {
      const wrapped = await observe(
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
      const ok = await store.rewrapVersion(row, {
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
