import type { AuditRecordInput } from './audit-trail.js';
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

/**
 * The frozen receipt of a shred: `embeddedEnvelopes` is `unrecoverable` only when the
 * tenant's dedicated master key (which wraps them) is among the destroyed ones.
 * @internal
 */
export function shredReceipt(
  tenant: string,
  versions: readonly { readonly keyId: string; readonly version: number }[],
  masterKeys: readonly MasterKeyOutcome[],
  dedicatedMasterKey: string | undefined,
  shreddedAt: Date,
): ShredReceipt {
  return Object.freeze({
    tenant,
    versions: Object.freeze(versions.map((v) => Object.freeze(versionId(v)))),
    masterKeys: Object.freeze(masterKeys),
    embeddedEnvelopes: masterKeys.some(
      (m) => m.masterKeyId === dedicatedMasterKey && m.state === 'destroyed',
    )
      ? 'unrecoverable'
      : 'refused',
    shreddedAt,
  });
}

/**
 * The audit event of a successful shred: the erasure receipt in the audit chain (ids, states
 * and dates only).
 * @internal
 */
export function shredAuditEvent(receipt: ShredReceipt): AuditRecordInput {
  return {
    operation: 'shred',
    tenant: receipt.tenant,
    outcome: 'success',
    detail: {
      versions: receipt.versions.map(versionId),
      embeddedEnvelopes: receipt.embeddedEnvelopes,
      masterKeys: receipt.masterKeys.map((m) => ({
        providerId: m.providerId,
        masterKeyId: m.masterKeyId,
        state: m.state,
        ...(m.deletionDate === undefined ? {} : { deletionDate: m.deletionDate.toISOString() }),
        ...(m.reason === undefined ? {} : { reason: m.reason }),
      })),
    },
  };
}

function versionId(v: { readonly keyId: string; readonly version: number }): {
  keyId: string;
  version: number;
} {
  return { keyId: v.keyId, version: v.version };
}
