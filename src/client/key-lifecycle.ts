import { isFieldsealError, KeyNotConfiguredError } from '../errors.js';
import type { KeyEventBus } from '../keys/key-events.js';
import type { StoredKeyVersion } from '../keys/key-store.js';
import type { AuditRecordInput, AuditTrail } from './audit-trail.js';
import type { ClientKeys } from './keys/build-keys.js';
import type { KeyResolver } from './keys/key-resolver.js';
import type { TenantKeys } from './keys/tenant-keys.js';
import { KeyAdminAccess } from './key-admin-access.js';
import { shredAuditEvent, shredReceipt, type ShredReceipt } from './shred-receipt.js';
import {
  destroyMasterKeys,
  planDestruction,
  type DestructionPlan,
} from './master-key-destruction.js';

/**
 * The key-administration operations of a client (provision, rotate, rewrap, retire,
 * reinstate, shred, and the check of one version): each checks that the client may perform
 * it and its tenant, runs it on the tenant keys (store mode; embedded mode refuses), records
 * one audit event of its outcome when the client audits, and tells other processes through
 * `keyEvents` when their cached keys must go. The bodies of the matching `Fieldseal` methods,
 * whose TSDoc documents the behaviour.
 * @internal
 */
export class KeyLifecycle {
  readonly #resolver: KeyResolver;
  readonly #tenantKeys: TenantKeys | undefined;
  readonly #keys: ClientKeys;
  readonly #audit: AuditTrail | undefined;
  readonly #keyEvents: KeyEventBus | undefined;

  readonly #fieldMasterKeys: ReadonlySet<string>;
  readonly #access: KeyAdminAccess;

  /**
   * @param fieldMasterKeys - the fields' own master keys: a shred never destroys them.
   * @param access - what key administration the client may perform (`admin`, its mode).
   */
  constructor(
    keys: ClientKeys,
    audit: AuditTrail | undefined,
    keyEvents: KeyEventBus | undefined,
    fieldMasterKeys: ReadonlySet<string> = new Set(),
    access: KeyAdminAccess = new KeyAdminAccess('ReadWrite', undefined),
  ) {
    this.#keys = keys;
    this.#resolver = keys.resolver;
    this.#tenantKeys = keys.tenantKeys;
    this.#audit = audit;
    this.#keyEvents = keyEvents;
    this.#fieldMasterKeys = fieldMasterKeys;
    this.#access = access;
  }

  /** `Fieldseal.provisionTenant`. */
  async provision(tenant: string): Promise<Omit<StoredKeyVersion, 'wrapped'>> {
    this.#access.allow('provision', 'provisionTenant');
    checkTenant(tenant);
    return withoutWrapped(
      await this.#audited(
        'provision',
        tenant,
        () => this.#inStore('provisionTenant').provision(tenant),
        versionFacts,
      ),
    );
  }

  /** `Fieldseal.rotateTenantKey`. */
  async rotate(tenant: string): Promise<Omit<StoredKeyVersion, 'wrapped'>> {
    this.#access.allow('rotate', 'rotateTenantKey');
    checkTenant(tenant);
    return withoutWrapped(
      await this.#audited(
        'rotate',
        tenant,
        () => this.#inStore('rotateTenantKey').rotate(tenant),
        versionFacts,
      ),
    );
  }

  /** `Fieldseal.rewrapTenantKeys`. */
  async rewrap(
    tenant: string,
    target: { readonly masterKeyId?: string; readonly providerId?: string },
  ): Promise<{
    rewrapped: { keyId: string; version: number }[];
    skipped: { keyId: string; version: number }[];
  }> {
    this.#access.allow('rewrap', 'rewrapTenantKeys');
    checkTenant(tenant);
    const { rewrapped, skipped } = await this.#audited(
      'rewrap',
      tenant,
      () => this.#inStore('rewrapTenantKeys').rewrap(tenant, { ...target }),
      (r) => ({
        providerId: r.providerId,
        masterKeyId: r.masterKeyId,
        detail: { rewrapped: r.rewrapped.map(versionId), skipped: r.skipped.map(versionId) },
      }),
    );
    return { rewrapped, skipped };
  }

  /** `Fieldseal.retireKeyVersions`. */
  async retire(tenant: string, below: number): Promise<number[]> {
    this.#access.allow('retire', 'retireKeyVersions');
    return this.#changeVersions(
      'retire',
      'retireKeyVersions',
      tenant,
      (keys) => keys.retire(tenant, below),
      (versions) => ({ detail: { below, versions } }),
      (retired) => retired.length > 0,
    );
  }

  /** `Fieldseal.reinstateKeyVersion`. */
  async reinstate(tenant: string, version: number): Promise<boolean> {
    this.#access.allow('reinstate', 'reinstateKeyVersion');
    return this.#changeVersions(
      'reinstate',
      'reinstateKeyVersion',
      tenant,
      (keys) => keys.reinstate(tenant, version),
      (done) => ({ version, detail: { changed: done } }),
      (changed) => changed,
    );
  }

  /** `Fieldseal.shredTenant`. */
  async shred(
    tenant: string,
    options: { readonly destroyMasterKeys?: boolean },
  ): Promise<ShredReceipt> {
    this.#access.allow('shred', 'shredTenant');
    checkTenant(tenant);
    const audit = this.#audit;
    let versions: readonly { keyId: string; version: number }[];
    let plan: DestructionPlan;
    try {
      // Decide about master keys first: an impossible explicit request changes nothing.
      const tenantKeys = this.#tenantKeys;
      plan = planDestruction(
        tenantKeys === undefined ? [] : await tenantKeys.store.listVersions(tenant),
        this.#keys.policy.dedicatedMasterKey(tenant),
        (id) => this.#keys.providers.get(id),
        options.destroyMasterKeys,
        this.#fieldMasterKeys,
      );
      versions = await this.#inStore(
        'shredTenant',
        ' (embedded envelopes carry their own wrapped keys: destroy the tenant master key at the provider instead)',
      ).shred(tenant);
    } catch (err) {
      await audit?.record(
        failureEvent('shred', tenant, err),
        'the shred failed and its audit record could not be written',
      );
      throw err;
    }
    const shreddedAt = new Date();
    const masterKeys = await destroyMasterKeys(plan);
    const receipt = shredReceipt(
      tenant,
      versions,
      masterKeys,
      this.#keys.policy.dedicatedMasterKey(tenant),
      shreddedAt,
    );
    // The store is the truth; the event only makes other processes forget sooner.
    let published: { error: unknown } | undefined;
    try {
      await this.#keyEvents?.publishShred(tenant);
    } catch (error) {
      published = { error };
    }
    // The shred event is the erasure receipt in the audit chain.
    await audit?.record(
      shredAuditEvent(receipt),
      'the tenant WAS shredded (its data keys are destroyed), but the audit record of the shred (the erasure receipt) could not be written',
      receipt.shreddedAt,
    );
    if (published !== undefined) throw published.error;
    return receipt;
  }

  /** The key id new envelopes name in store mode; `undefined` in embedded mode. */
  get storeKeyId(): string | undefined {
    return this.#tenantKeys?.keyId;
  }

  /** `Fieldseal.checkKeyVersion` (not key administration: no `admin` needed). */
  checkVersion(tenant: string, version: number): Promise<void> {
    return this.#inStore('checkKeyVersion').verifyVersion(tenant, version);
  }

  /**
   * The tenant keys, or the refusal of `method` in embedded mode (which has no key store).
   * @param why - what the error adds after `needs keys.mode "store"`.
   */
  #inStore(method: string, why = ''): TenantKeys {
    if (this.#tenantKeys === undefined) {
      throw new KeyNotConfiguredError(`${method} needs keys.mode "store"${why}`);
    }
    return this.#tenantKeys;
  }

  /**
   * Change the state of versions of the tenant's key in the store (store mode only), audited;
   * then purge this process's cached keys of the tenant and, when `changed` says anything
   * changed, tell other processes.
   * @param method - the public method's name, for the error in embedded mode.
   */
  async #changeVersions<T>(
    operation: 'retire' | 'reinstate',
    method: string,
    tenant: string,
    change: (keys: TenantKeys) => Promise<T>,
    facts: (result: T) => Partial<AuditRecordInput>,
    changed: (result: T) => boolean,
  ): Promise<T> {
    checkTenant(tenant);
    const keys = this.#inStore(method);
    let result: T;
    try {
      result = await this.#audited(operation, tenant, () => change(keys), facts);
    } finally {
      // After the store change (even an uncertain one): cached keys of the tenant, and loads
      // in flight, must not keep decrypting a version that is now retired.
      this.#resolver.purgeTenant(tenant);
    }
    // The store is the truth; the event only makes other processes forget sooner.
    if (changed(result)) await this.#keyEvents?.publishKeysChanged(tenant);
    return result;
  }

  /**
   * Run a key-lifecycle operation and, when the client audits, record its outcome (one event,
   * `facts` of the result on success, the error code on failure) before returning.
   */
  async #audited<T>(
    operation: 'provision' | 'rotate' | 'rewrap' | 'retire' | 'reinstate',
    tenant: string,
    run: () => Promise<T>,
    facts: (result: T) => Partial<AuditRecordInput>,
  ): Promise<T> {
    const audit = this.#audit;
    if (audit === undefined) return run();
    const keyId = this.#resolver.keyId === '' ? {} : { keyId: this.#resolver.keyId };
    return audit.around(
      run,
      (result) => ({ ...keyId, ...facts(result), operation, tenant, outcome: 'success' }),
      (errorCode) => ({
        ...keyId,
        operation,
        tenant,
        outcome: 'failure',
        ...(errorCode === undefined ? {} : { errorCode }),
      }),
      {
        message: `the ${operation} completed, but its audit record could not be written`,
      },
    );
  }
}

function checkTenant(tenant: string): void {
  if (typeof tenant !== 'string' || tenant.length === 0) {
    throw new TypeError('tenant: expected a non-empty string');
  }
}

/** The audit facts of a key-store version: ids only, never its wrapped bytes. */
function versionFacts(row: StoredKeyVersion): Partial<AuditRecordInput> {
  return {
    keyId: row.keyId,
    version: row.version,
    providerId: row.providerId,
    masterKeyId: row.masterKeyId,
  };
}

function versionId(v: { readonly keyId: string; readonly version: number }): {
  keyId: string;
  version: number;
} {
  return { keyId: v.keyId, version: v.version };
}

function failureEvent(operation: 'shred', tenant: string, err: unknown): AuditRecordInput {
  return {
    operation,
    tenant,
    outcome: 'failure',
    ...(isFieldsealError(err) ? { errorCode: err.code } : {}),
  };
}

function withoutWrapped(row: StoredKeyVersion): Omit<StoredKeyVersion, 'wrapped'> {
  return {
    tenant: row.tenant,
    keyId: row.keyId,
    version: row.version,
    state: row.state,
    providerId: row.providerId,
    masterKeyId: row.masterKeyId,
    createdAt: row.createdAt,
  };
}
