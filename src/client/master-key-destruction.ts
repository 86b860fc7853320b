import { isFieldsealError, KeyNotConfiguredError, ModeForbiddenError } from '../errors.js';
import type { StoredKeyVersion } from '../keys/key-store.js';
import type { KeyProvider } from '../kms/key-provider.js';

/**
 * What a shred did to one master key of the tenant: destroyed, scheduled for deletion after
 * the provider's waiting period, kept (shared master key, provider that cannot destroy keys,
 * or `destroyMasterKeys: false`), or failed (the data keys are shredded all the same).
 * @example
 * ```ts
 * const pending = receipt.masterKeys.filter((m: MasterKeyOutcome) => m.state === 'pending-deletion');
 * ```
 */
export interface MasterKeyOutcome {
  readonly providerId: string;
  readonly masterKeyId: string;
  readonly state: 'destroyed' | 'pending-deletion' | 'kept' | 'failed';
  readonly deletionDate?: Date;
  /** Why a key was kept, or the error code when it failed. */
  readonly reason?: string;
}

const NO_FIELD_KEYS: ReadonlySet<string> = new Set();

/** The decision taken before the shred: which master keys to destroy. @internal */
export interface DestructionPlan {
  readonly destroy: readonly { provider: KeyProvider; masterKeyId: string }[];
  readonly kept: readonly MasterKeyOutcome[];
}

/**
 * Decide, before anything is shredded, which of the tenant's master keys to destroy: only
 * `dedicatedKey`, the tenant's own key (`undefined` unless the configuration declares
 * dedicated master keys), and only where a version of the tenant was wrapped under it.
 * Shredded versions count too, so a shred whose key destruction failed can be run again.
 * `explicit` true: every key must be destroyable, or the shred is refused (nothing changes);
 * `undefined`: destroy what can be; false: keep them.
 * `fieldKeys` are the master keys of fields (`FieldPolicy.masterKeyId`): shared by every
 * tenant, so never destroyed, whatever the configuration says. (Today they cannot meet a
 * shred at all: shreds need store mode, which refuses field master keys; this holds should
 * that change.)
 * @internal
 */
export function planDestruction(
  rows: readonly StoredKeyVersion[],
  dedicatedKey: string | undefined,
  providerOf: (id: string) => KeyProvider | undefined,
  explicit: boolean | undefined,
  fieldKeys: ReadonlySet<string> = NO_FIELD_KEYS,
): DestructionPlan {
  const keys = new Map<string, { providerId: string; masterKeyId: string }>();
  for (const r of rows) {
    keys.set(`${r.providerId}\u0000${r.masterKeyId}`, {
      providerId: r.providerId,
      masterKeyId: r.masterKeyId,
    });
  }
  const destroy: { provider: KeyProvider; masterKeyId: string }[] = [];
  const kept: MasterKeyOutcome[] = [];
  for (const k of keys.values()) {
    const provider = providerOf(k.providerId);
    const reason =
      explicit === false
        ? 'destroyMasterKeys: false'
        : fieldKeys.has(k.masterKeyId)
          ? "a field's master key (FieldPolicy.masterKeyId), shared by every tenant"
          : dedicatedKey === undefined
            ? 'not declared dedicated to this tenant (keys.dedicatedMasterKeys)'
            : k.masterKeyId !== dedicatedKey
              ? "not the tenant's own master key (it may protect other tenants)"
              : provider === undefined
                ? 'its provider is not configured in this client'
                : !provider.canDestroyMasterKeys
                  ? 'the provider cannot destroy master keys'
                  : undefined;
    if (reason === undefined) destroy.push({ provider: provider!, masterKeyId: k.masterKeyId });
    else if (explicit === true) {
      throw dedicatedKey !== undefined && provider !== undefined
        ? new ModeForbiddenError(`cannot destroy the tenant's master key: ${reason}`)
        : new KeyNotConfiguredError(`cannot destroy the tenant's master key: ${reason}`);
    } else kept.push({ ...k, state: 'kept', reason });
  }
  return { destroy, kept };
}

/** Destroy the planned master keys; each failure is reported, none stops the others. @internal */
export async function destroyMasterKeys(plan: DestructionPlan): Promise<MasterKeyOutcome[]> {
  const out: MasterKeyOutcome[] = [...plan.kept];
  for (const { provider, masterKeyId } of plan.destroy) {
    const id = { providerId: provider.id, masterKeyId };
    try {
      const r = await provider.scheduleMasterKeyDeletion(masterKeyId);
      out.push(
        r.deletionDate === undefined
          ? { ...id, state: r.state }
          : { ...id, state: r.state, deletionDate: r.deletionDate },
      );
    } catch (err) {
      // A key the provider no longer knows was destroyed earlier (a retried shred).
      if (isFieldsealError(err) && err.code === 'ERR_KEY_NOT_CONFIGURED') {
        out.push({ ...id, state: 'destroyed', reason: 'already gone at the provider' });
        continue;
      }
      out.push({
        ...id,
        state: 'failed',
        reason: isFieldsealError(err) ? err.code : 'ERR_PROVIDER_UNAVAILABLE',
      });
    }
  }
  return out.map((o) => Object.freeze(o));
}
