import type { MasterKeyOutcome } from './master-key-destruction.js';

/**
 * What `Fieldseal.shredTenant` destroyed: the proof of erasure to keep in an audit log.
 * @example
 * ```ts
 * const { tenant, versions, shreddedAt }: ShredReceipt = await fs.shredTenant('acme');
 * ```
 */
export interface ShredReceipt {
  readonly tenant: string;
  readonly versions: readonly { readonly keyId: string; readonly version: number }[];
  /** What happened to each master key that wrapped the tenant's data keys. */
  readonly masterKeys: readonly MasterKeyOutcome[];
  /**
   * The tenant's self-contained (embedded) envelopes, which carry their own wrapped data key:
   * - `unrecoverable`: the tenant's dedicated master key, which wraps them, was destroyed;
   * - `refused`: every store-mode client of this key store refuses them (`ERR_KEY_SHREDDED`),
   *   but their master key still exists (shared, kept, pending deletion or failed): a
   *   process holding it outside those clients, e.g. an embedded-mode client, could open
   *   them until it is destroyed. See docs/threat-model.md.
   */
  readonly embeddedEnvelopes: 'unrecoverable' | 'refused';
  readonly shreddedAt: Date;
}
