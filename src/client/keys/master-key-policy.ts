import { KeyNotConfiguredError } from '../../errors.js';
import type { KeysConfig } from '../options.js';

/**
 * Which master keys a client wraps under and which it accepts on read, per tenant: the
 * configured `masterKeyId` (shared or per tenant), the fields' own master keys and
 * `acceptMasterKeyIds`. Stored data (an envelope, a key-store row) names its master key;
 * this policy, not the data, decides whether it may be used.
 * @internal
 */
export class MasterKeyPolicy {
  readonly #choice: KeysConfig['masterKeyId'];
  readonly #accept: KeysConfig['acceptMasterKeyIds'];
  readonly #dedicated: boolean;
  /** Master key ids every tenant's reads accept: a shared `masterKeyId`, field keys, a list. */
  readonly #acceptedForAll: ReadonlySet<string>;

  /**
   * @param fieldMasterKeys - the fields' own master keys (embedded mode): reads accept them.
   * @throws KeyNotConfiguredError without a usable `masterKeyId`; TypeError for a malformed
   *   `acceptMasterKeyIds`.
   */
  constructor(config: KeysConfig, fieldMasterKeys: ReadonlySet<string> = new Set()) {
    const master = config.masterKeyId;
    if (!(typeof master === 'string' && master.length > 0) && typeof master !== 'function') {
      throw new KeyNotConfiguredError(
        'keys.masterKeyId must name the master key or map a tenant to its master key',
      );
    }
    const accept = config.acceptMasterKeyIds;
    const acceptedForAll = new Set<string>(fieldMasterKeys);
    if (typeof master === 'string') acceptedForAll.add(master);
    if (Array.isArray(accept)) {
      for (const id of accept as readonly unknown[]) {
        if (typeof id !== 'string' || id.length === 0) {
          throw new TypeError('keys.acceptMasterKeyIds: expected non-empty strings');
        }
        acceptedForAll.add(id);
      }
    } else if (accept !== undefined && typeof accept !== 'function') {
      throw new TypeError(
        `keys.acceptMasterKeyIds: expected an array of master key ids or a function of the tenant, got ${typeof accept}`,
      );
    }
    this.#acceptedForAll = acceptedForAll;
    this.#choice = master;
    this.#accept = accept;
    this.#dedicated = typeof master === 'function' && config.dedicatedMasterKeys === true;
  }

  /**
   * The master key id for `tenant` (per-tenant function or shared id), validated.
   * @throws KeyNotConfiguredError when the function gives no usable id for the tenant.
   */
  masterFor(tenant: string): string {
    const choice = this.#choice;
    const id = typeof choice === 'function' ? choice(tenant) : choice;
    if (typeof id !== 'string' || id.length === 0) {
      throw new KeyNotConfiguredError('no master key is configured for this tenant');
    }
    return id;
  }

  /**
   * The tenant's own master key id when the configuration declares master keys dedicated to
   * one tenant each (`dedicatedMasterKeys` with a `masterKeyId` function); else `undefined`.
   */
  dedicatedMasterKey(tenant: string): string | undefined {
    return this.#dedicated ? this.masterFor(tenant) : undefined;
  }

  /**
   * Fail closed unless reads of `tenant` accept `masterKeyId`: the configured master key (for
   * that tenant), a field master key, or one of `acceptMasterKeyIds`. Stored data names the
   * master key; without this check it would choose the key it is opened with.
   * @throws KeyNotConfiguredError with `details.keyRef` = `provider:masterKeyId`.
   */
  checkAccepted(providerId: string, masterKeyId: string, tenant: string): void {
    if (this.#acceptedForAll.has(masterKeyId)) return;
    const choice = this.#choice;
    const accept = this.#accept;
    if (typeof choice === 'function' && choice(tenant) === masterKeyId) return;
    if (typeof accept === 'function') {
      const ids = accept(tenant);
      if (Array.isArray(ids) && ids.includes(masterKeyId)) return;
    }
    throw new KeyNotConfiguredError(
      'the master key named by stored data is not one this configuration accepts (keys.masterKeyId, a field master key, keys.acceptMasterKeyIds)',
      { details: { keyRef: `${providerId}:${masterKeyId}` } },
    );
  }
}
