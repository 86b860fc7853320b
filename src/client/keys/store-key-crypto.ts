import {
  KeyCommitmentMismatchError,
  KeyNotConfiguredError,
  KeyNotFoundError,
  KeyShreddedError,
} from '../../errors.js';
import type { DataKey } from '../../keys/data-key.js';
import { checkStoreKeyCommitment, storeKeyCommitment } from '../../keys/key-commitment.js';
import type { KeyStore, StoredKeyVersion } from '../../keys/key-store.js';
import { releaseGenerated, releaseKey, type KeySourceParts } from './key-source.js';
import { storeContext } from './provider-context.js';

/**
 * The provider side of key-store versions: a new version's data key generated and wrapped by
 * the writer, and a stored row unwrapped exactly as every read, write, rewrap and check of it
 * must be (right row, live, configured provider, accepted master key, key commitment). Every
 * call is observed (metrics, audit).
 * @internal
 */
export class StoreKeyCrypto {
  readonly #parts: KeySourceParts;
  readonly #store: KeyStore;

  constructor(parts: KeySourceParts, store: KeyStore) {
    this.#parts = parts;
    this.#store = store;
  }

  /** A new key-store data key, generated and wrapped by the writer under `master`. */
  generate(
    tenant: string,
    keyId: string,
    version: number,
    master: string,
  ): Promise<{ key: DataKey; wrapped: Uint8Array }> {
    const provider = this.#parts.writer;
    return this.#parts.observe(
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

  /**
   * Unwrap one stored version. Retired rows are unwrapped (rewrap and checks need them): a
   * read refuses them before calling this.
   * @throws KeyNotFoundError (another key's row), KeyShreddedError, KeyNotConfiguredError (no
   *   such provider, master key not accepted), KeyCommitmentMismatchError, provider errors.
   */
  async unwrap(
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
    const provider = this.#parts.providers.get(row.providerId);
    if (provider === undefined) {
      throw new KeyNotConfiguredError('no configured key provider matches the key-store row', {
        details: { keyRef },
      });
    }
    // A row re-pointed at another master key (database write access) is refused before the
    // provider sees it; rewrap's source rows go through here too.
    this.#parts.policy.checkAccepted(row.providerId, row.masterKeyId, tenant);
    const key = await this.#parts.observe(
      {
        operation: 'unwrap',
        providerId: provider.id,
        masterKeyId: row.masterKeyId,
        tenant,
        keyId,
        version,
      },
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
        await this.#store.setCommitment?.(row, storeKeyCommitment(key, ref)).catch(() => false);
      }
    } catch (err) {
      key.release();
      throw err;
    }
    return key;
  }
}
