import { isFieldsealError, KeyNotConfiguredError, ModeForbiddenError } from '../errors.js';
import { checkContext, type EncryptionContext } from '../envelope/context.js';
import { inspectEnvelope } from '../envelope/inspect-envelope.js';
import type { KeyEventBus } from '../keys/key-events.js';
import type { KeyStore, StoredKeyVersion } from '../keys/key-store.js';
import type { AuditRecordInput, AuditTrail } from './audit-trail.js';
import type { Fieldseal, ShredReceipt } from './fieldseal.js';
import type { KeyResolver } from './key-resolver.js';
import type { KeyAdminOperation, Mode } from './options.js';
import {
  destroyMasterKeys,
  planDestruction,
  type DestructionPlan,
} from './master-key-destruction.js';

/**
 * The key-lifecycle operations of a client (provision, rotate, rewrap, retire, reinstate,
 * shred): each checks its tenant, changes the key store through the resolver, records one
 * audit event of its outcome when the client audits, and tells other processes through
 * `keyEvents` when their cached keys must go. Also the re-encryption of one value under the
 * current key. The bodies of the matching `Fieldseal` methods, whose TSDoc documents the
 * behaviour.
 * @internal
 */
export class KeyLifecycle {
  readonly #resolver: KeyResolver;
  readonly #audit: AuditTrail | undefined;
  readonly #keyEvents: KeyEventBus | undefined;

  readonly #fieldMasterKeys: ReadonlySet<string>;
  readonly #admin: ReadonlySet<KeyAdminOperation>;
  readonly #mode: Mode;

  /**
   * @param fieldMasterKeys - the fields' own master keys: a shred never destroys them.
   * @param access - the client's mode and the key administration it may perform (`admin`).
   */
  constructor(
    resolver: KeyResolver,
    audit: AuditTrail | undefined,
    keyEvents: KeyEventBus | undefined,
    fieldMasterKeys: ReadonlySet<string> = new Set(),
    access: { readonly mode: Mode; readonly admin: ReadonlySet<KeyAdminOperation> } = {
      mode: 'ReadWrite',
      admin: new Set(),
    },
  ) {
    this.#resolver = resolver;
    this.#audit = audit;
    this.#keyEvents = keyEvents;
    this.#fieldMasterKeys = fieldMasterKeys;
    this.#admin = access.admin;
    this.#mode = access.mode;
  }

  /**
   * Refuse a key-administration operation the client was not given (`admin`), or that its mode
   * rules out (creating or re-wrapping a key wraps; re-wrapping also unwraps), before any
   * store or provider call.
   */
  #allow(operation: KeyAdminOperation, method: string): void {
    if (!this.#admin.has(operation)) {
      throw new ModeForbiddenError(
        `${method} is key administration this client was not given: create the administering client with admin: ['${operation}'] (or admin: true); see docs/modes.md`,
      );
    }
    const wraps = operation === 'provision' || operation === 'rotate' || operation === 'rewrap';
    if (
      (wraps && this.#mode === 'ReadOnly') ||
      (operation === 'rewrap' && this.#mode !== 'ReadWrite')
    ) {
      throw new ModeForbiddenError(
        `${method} is forbidden in mode ${this.#mode}: it ${operation === 'rewrap' ? 'unwraps and wraps' : 'wraps'} data keys (see docs/modes.md)`,
      );
    }
  }

  /** `Fieldseal.provisionTenant`. */
  async provision(tenant: string): Promise<Omit<StoredKeyVersion, 'wrapped'>> {
    this.#allow('provision', 'provisionTenant');
    checkTenant(tenant);
    return withoutWrapped(
      await this.#audited(
        'provision',
        tenant,
        () => this.#resolver.provision(tenant),
        versionFacts,
      ),
    );
  }

  /** `Fieldseal.rotateTenantKey`. */
  async rotate(tenant: string): Promise<Omit<StoredKeyVersion, 'wrapped'>> {
    this.#allow('rotate', 'rotateTenantKey');
    checkTenant(tenant);
    return withoutWrapped(
      await this.#audited('rotate', tenant, () => this.#resolver.rotate(tenant), versionFacts),
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
    this.#allow('rewrap', 'rewrapTenantKeys');
    checkTenant(tenant);
    const { rewrapped, skipped } = await this.#audited(
      'rewrap',
      tenant,
      () => this.#resolver.rewrap(tenant, { ...target }),
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
    this.#allow('retire', 'retireKeyVersions');
    return this.#changeVersions(
      'retire',
      'retireKeyVersions',
      tenant,
      (store, keyId) => store.retireVersions(tenant, keyId, below),
      (versions) => ({ detail: { below, versions } }),
      (retired) => retired.length > 0,
    );
  }

  /** `Fieldseal.reinstateKeyVersion`. */
  async reinstate(tenant: string, version: number): Promise<boolean> {
    this.#allow('reinstate', 'reinstateKeyVersion');
    return this.#changeVersions(
      'reinstate',
      'reinstateKeyVersion',
      tenant,
      (store, keyId) => store.reinstateVersion(tenant, keyId, version),
      (done) => ({ version, detail: { changed: done } }),
      (changed) => changed,
    );
  }

  /** `Fieldseal.shredTenant`. */
  async shred(
    tenant: string,
    options: { readonly destroyMasterKeys?: boolean },
  ): Promise<ShredReceipt> {
    this.#allow('shred', 'shredTenant');
    checkTenant(tenant);
    const audit = this.#audit;
    let versions: readonly { keyId: string; version: number }[];
    let plan: DestructionPlan;
    try {
      // Decide about master keys first: an impossible explicit request changes nothing.
      const store = this.#resolver.store;
      plan = planDestruction(
        store === undefined ? [] : await store.listVersions(tenant),
        this.#resolver.dedicatedMasterKey(tenant),
        (id) => this.#resolver.provider(id),
        options.destroyMasterKeys,
        this.#fieldMasterKeys,
      );
      versions = await this.#resolver.shred(tenant);
    } catch (err) {
      await audit?.record(
        failureEvent('shred', tenant, err),
        'the shred failed and its audit record could not be written',
      );
      throw err;
    }
    const shreddedAt = new Date();
    const masterKeys = await destroyMasterKeys(plan);
    const dedicated = this.#resolver.dedicatedMasterKey(tenant);
    const receipt: ShredReceipt = Object.freeze({
      tenant,
      versions: Object.freeze(versions.map((v) => Object.freeze(versionId(v)))),
      masterKeys: Object.freeze(masterKeys),
      embeddedEnvelopes: masterKeys.some(
        (m) => m.masterKeyId === dedicated && m.state === 'destroyed',
      )
        ? 'unrecoverable'
        : 'refused',
      shreddedAt,
    });
    // The store is the truth; the event only makes other processes forget sooner.
    let published: { error: unknown } | undefined;
    try {
      await this.#keyEvents?.publishShred(tenant);
    } catch (error) {
      published = { error };
    }
    // The shred event is the erasure receipt in the audit chain.
    await audit?.record(
      {
        operation: 'shred',
        tenant,
        outcome: 'success',
        detail: {
          versions: receipt.versions.map(versionId),
          embeddedEnvelopes: receipt.embeddedEnvelopes,
          masterKeys: masterKeys.map((m) => ({
            providerId: m.providerId,
            masterKeyId: m.masterKeyId,
            state: m.state,
            ...(m.deletionDate === undefined ? {} : { deletionDate: m.deletionDate.toISOString() }),
            ...(m.reason === undefined ? {} : { reason: m.reason }),
          })),
        },
      },
      'the tenant WAS shredded (its data keys are destroyed), but the audit record of the shred (the erasure receipt) could not be written',
      receipt.shreddedAt,
    );
    if (published !== undefined) throw published.error;
    return receipt;
  }

  /** `Fieldseal.reencrypt`: `client` decrypts the value and, when it must change, seals it. */
  async reencrypt<S extends string | Uint8Array>(
    client: Pick<Fieldseal, 'decrypt' | 'encrypt' | 'encryptToBytes'>,
    stored: S,
    given: EncryptionContext,
  ): Promise<{ stored: S extends string ? string : Buffer; changed: boolean }> {
    type Out = S extends string ? string : Buffer;
    // Checked before anything else (and read once): an odd context is ERR_INVALID_CONTEXT,
    // and never reaches the key store.
    const context = checkContext(given).context;
    const info = inspectEnvelope(stored);
    if (info?.keyRef.kind === 'store') {
      const current = await this.#resolver.activeVersion(context.tenant);
      if (info.keyRef.keyId === this.#resolver.keyId && info.keyRef.version === current) {
        await client.decrypt(stored, context); // still authenticate what we vouch for
        return { stored: stored as unknown as Out, changed: false };
      }
    }
    const value = await client.decrypt(stored, context);
    const out =
      typeof stored === 'string'
        ? await client.encrypt(value, context)
        : await client.encryptToBytes(value, context);
    return { stored: out as Out, changed: true };
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
    change: (store: KeyStore, keyId: string) => Promise<T>,
    facts: (result: T) => Partial<AuditRecordInput>,
    changed: (result: T) => boolean,
  ): Promise<T> {
    checkTenant(tenant);
    const store = this.#resolver.store;
    if (store === undefined) {
      throw new KeyNotConfiguredError(`${method} needs keys.mode "store"`);
    }
    let result: T;
    try {
      result = await this.#audited(
        operation,
        tenant,
        () => change(store, this.#resolver.keyId),
        facts,
      );
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
