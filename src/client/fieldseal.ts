import {
  BatchError,
  KeyNotConfiguredError,
  type BatchFailure,
  type FieldsealError,
  isFieldsealError,
} from '../errors.js';
import type { EncryptionContext } from '../envelope/context.js';
import { toText } from '../envelope/encoding.js';
import { inspectEnvelope } from '../envelope/inspect-envelope.js';
import { openValue, sealValue } from '../envelope/envelope.js';
import { wipeEncoded, type FieldValue } from '../envelope/plaintext.js';
import { DataKeyCache, type CacheLease } from '../keys/data-key-cache.js';
import type { KeyProvider } from '../kms/key-provider.js';
import type { KeyEventBus } from '../keys/key-events.js';
import type { StoredKeyVersion } from '../keystore/key-store.js';
import { mapLimit } from '../lib/map-limit.js';
import type { FieldsealStats } from '../metrics/fieldseal-stats.js';
import type { ValueOperation } from '../metrics/metrics-sink.js';
import { AuditTrail, type AuditRecordInput } from './audit-trail.js';
import { FieldRules, type PreparedEnvelope, type PreparedWrite } from './field-rules.js';
import type { DecryptItem, EncryptItem, EncryptOptions, Settled } from './items.js';
import { KeyResolver, type WriteKeyExtra } from './key-resolver.js';
import {
  destroyMasterKeys,
  planDestruction,
  type DestructionPlan,
  type MasterKeyOutcome,
} from './master-key-destruction.js';
import { MetricsRecorder, type FieldsealMetrics } from './metrics.js';
import type { FieldPolicy, FieldsealOptions, Mode } from './options.js';
import { providerCallObserver } from './provider-calls.js';

const DEFAULT_BATCH_KEY_CONCURRENCY = 16;

/**
 * What {@link Fieldseal.shredTenant} destroyed: the proof of erasure to keep in an audit log.
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
  readonly shreddedAt: Date;
}

/**
 * A field-encryption client bound at construction to its key provider(s), key configuration
 * and data-key cache. There is no way to construct one without a key, and no switch that
 * turns encryption off: every failure is a typed {@link FieldsealError}, never plaintext.
 *
 * @example
 * ```ts
 * const fs = createFieldseal({
 *   provider: new LocalKeyProvider({ source: new EnvSecretSource({ keys: { master: 'FIELDSEAL_MASTER_KEY' } }) }),
 *   keys: { mode: 'embedded', masterKeyId: 'master' },
 *   cache: { maxAgeMs: 5 * 60_000 },
 * });
 * const ctx = { tenant: 'acme', table: 'customers', field: 'ssn', record: 'cus_42' };
 * const stored = await fs.encrypt('123-45-6789', ctx);        // 'fs1:9QEBAg...'
 * const ssn = await fs.decrypt<string>(stored, ctx);           // '123-45-6789'
 * ```
 */
export class Fieldseal {
  readonly #rules: FieldRules;
  readonly #loadConcurrency: number;
  readonly #keyEvents: KeyEventBus | undefined;
  readonly #unsubscribe: (() => void) | undefined;
  readonly #cache: DataKeyCache;
  readonly #resolver: KeyResolver;
  readonly #providers: readonly KeyProvider[];
  readonly #metrics: MetricsRecorder;
  readonly #audit: AuditTrail | undefined;
  #detachTelemetry: (() => void) | undefined;

  /** @internal Use {@link createFieldseal}. */
  constructor(options: FieldsealOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new KeyNotConfiguredError('createFieldseal needs options with a provider and keys');
    }
    const {
      provider,
      keys,
      cache,
      mode = 'ReadWrite',
      fields = {},
      batchKeyConcurrency = DEFAULT_BATCH_KEY_CONCURRENCY,
    } = options;
    if (!Number.isInteger(batchKeyConcurrency) || batchKeyConcurrency < 1) {
      throw new RangeError(
        `batchKeyConcurrency: expected a positive integer, got ${String(batchKeyConcurrency)}`,
      );
    }
    this.#loadConcurrency = batchKeyConcurrency;
    if (provider === undefined || provider === null) {
      throw new KeyNotConfiguredError('createFieldseal needs a key provider');
    }
    if (keys === undefined || keys === null) {
      throw new KeyNotConfiguredError('createFieldseal needs a keys configuration');
    }
    if (cache === undefined || cache === null) {
      throw new TypeError('cache: expected { maxAgeMs, maxUses?, maxEntries? }');
    }
    const { telemetry } = options;
    if (telemetry !== undefined && (typeof telemetry !== 'object' || telemetry === null)) {
      throw new TypeError('telemetry: expected a MetricsSink object');
    }
    this.#audit = AuditTrail.from(options.audit, options.actor);
    this.#metrics = new MetricsRecorder(telemetry);
    this.#rules = new FieldRules(mode, fields, this.#metrics);
    this.#providers = Array.isArray(provider)
      ? [...(provider as readonly KeyProvider[])]
      : [provider as KeyProvider];
    this.#cache = new DataKeyCache(cache);
    this.#resolver = new KeyResolver(keys, this.#providers, this.#cache, {
      observe: providerCallObserver(this.#metrics, this.#audit),
      keyReads: this.#metrics.keyReads,
    });
    this.#keyEvents = options.keyEvents;
    this.#unsubscribe = options.keyEvents?.subscribe((tenant) => {
      this.#resolver.purgeTenant(tenant);
    });
    try {
      this.#detachTelemetry = telemetry?.attach?.(() => this.stats());
    } catch {
      // Metrics never fail an operation (nor the construction of a client).
    }
  }

  /**
   * Encrypt one value; returns the text form (`fs1:` + base64url) for TEXT columns.
   * @throws ModeForbiddenError, InvalidContextError, UnsupportedValueError, ValueTooLargeError,
   *   KeyNotConfiguredError, ProviderUnavailableError (all `FieldsealError`).
   */
  async encrypt(
    value: FieldValue,
    context: EncryptionContext,
    options?: EncryptOptions,
  ): Promise<string> {
    const started = performance.now();
    try {
      const sealed = this.#encryptOne(value, context, options);
      const out = toText(sealed instanceof Promise ? await sealed : sealed);
      this.#metrics.completed('encrypt', started, 1);
      return out;
    } catch (err) {
      throw this.#failed(err, 'encrypt', context);
    }
  }

  /**
   * Encrypt one value; returns the binary envelope for BYTEA / Binary columns.
   * @throws the same errors as {@link Fieldseal.encrypt}.
   */
  async encryptToBytes(
    value: FieldValue,
    context: EncryptionContext,
    options?: EncryptOptions,
  ): Promise<Buffer> {
    const started = performance.now();
    try {
      const sealed = this.#encryptOne(value, context, options);
      const out = sealed instanceof Promise ? await sealed : sealed;
      this.#metrics.completed('encrypt', started, 1);
      return out;
    } catch (err) {
      throw this.#failed(err, 'encrypt', context);
    }
  }

  /**
   * One value sealed under the tenant's write key: synchronously when the key is cached (the
   * warm path costs no extra promise), else once the key is loaded.
   */
  #encryptOne(
    value: FieldValue,
    context: EncryptionContext,
    options: EncryptOptions | undefined,
  ): Buffer | Promise<Buffer> {
    const item = this.#rules.prepareWrite(value, context, options?.pad);
    let lease: CacheLease<WriteKeyExtra> | undefined;
    try {
      lease = this.#resolver.peekWrite(item.tenant, 1);
    } catch (err) {
      wipeEncoded(item.plaintext);
      throw err;
    }
    if (lease === undefined) return this.#encryptCold(item);
    return this.#seal(item, lease);
  }

  async #encryptCold(item: PreparedWrite): Promise<Buffer> {
    let lease: CacheLease<WriteKeyExtra>;
    try {
      lease = await this.#resolver.forWrite(item.tenant, 1);
    } catch (err) {
      wipeEncoded(item.plaintext);
      throw err;
    }
    return this.#seal(item, lease);
  }

  /** Seal a prepared value; releases the lease and wipes the encoded plaintext. */
  #seal(item: PreparedWrite, lease: CacheLease<WriteKeyExtra>): Buffer {
    try {
      const out = sealValue(lease.key, lease.extra.prefix, item.contextBytes, item.plaintext);
      this.#metrics.encrypted++;
      return out;
    } finally {
      lease.key.release();
      wipeEncoded(item.plaintext);
    }
  }

  /**
   * Decrypt one stored value (text or binary) under the context it must have been written with.
   * @throws ModeForbiddenError, PlaintextInEncryptedFieldError, MalformedCiphertextError,
   *   UnsupportedFormatError, WrongKeyError, AuthenticationFailedError, KeyNotFoundError,
   *   KeyShreddedError, KeyUnwrapFailedError, ProviderUnavailableError.
   */
  async decrypt<T = FieldValue>(
    stored: string | Uint8Array,
    context: EncryptionContext,
  ): Promise<T> {
    const started = performance.now();
    try {
      const item = this.#rules.prepareRead(stored, context);
      if (item.kind === 'plaintext') return item.value as T;
      const lease =
        this.#resolver.peekRead(item.env.keyRef, item.tenant, 1) ??
        (await this.#resolver.forRead(item.env.keyRef, item.tenant, 1));
      try {
        const value = openValue(item.env, lease.key, item.contextBytes);
        this.#metrics.decrypted++;
        const cell = lease.extra?.reads;
        if (cell !== undefined) cell.n++;
        else this.#metrics.keyRead(item.env.keyRef, 1);
        this.#metrics.completed('decrypt', started, 1);
        return value as T;
      } finally {
        lease.key.release();
      }
    } catch (err) {
      throw this.#failed(err, 'decrypt', context);
    }
  }

  /**
   * Encrypt many values (any tenants) with one key lookup per tenant. All or nothing: if any
   * item fails, a {@link BatchError} lists the failed indexes and codes and no output is given.
   */
  async encryptMany(items: readonly EncryptItem[]): Promise<string[]> {
    const started = performance.now();
    const out = (await this.#encryptBatch(items)).map(toText);
    this.#metrics.completed('encryptMany', started, out.length);
    return out;
  }

  /**
   * Binary form of {@link Fieldseal.encryptMany}. Values are grouped by tenant in chunks of at
   * most `cache.maxUses`, and each chunk costs at most one key fetch.
   */
  async encryptManyToBytes(items: readonly EncryptItem[]): Promise<Buffer[]> {
    const started = performance.now();
    const out = await this.#encryptBatch(items);
    this.#metrics.completed('encryptMany', started, out.length);
    return out;
  }

  async #encryptBatch(items: readonly EncryptItem[]): Promise<Buffer[]> {
    const failures: BatchFailure[] = [];
    const prepared: (PreparedWrite | undefined)[] = items.map((it, index) =>
      this.#attempt(index, failures, it.context, () =>
        this.#rules.prepareWrite(it.value, it.context, it.pad),
      ),
    );
    try {
      const chunks: { tenant: string; indexes: number[] }[] = [];
      const current = new Map<string, { tenant: string; indexes: number[] }>();
      prepared.forEach((p, index) => {
        if (p === undefined) return;
        let chunk = current.get(p.tenant);
        if (chunk === undefined || chunk.indexes.length >= this.#cache.maxUses) {
          chunk = { tenant: p.tenant, indexes: [] };
          current.set(p.tenant, chunk);
          chunks.push(chunk);
        }
        chunk.indexes.push(index);
      });
      const out: Buffer[] = [];
      await mapLimit(chunks, this.#loadConcurrency, async ({ tenant, indexes }) => {
        const lease = await settle(this.#resolver.forWrite(tenant, indexes.length));
        try {
          for (const index of indexes) {
            const p = prepared[index]!;
            const sealed = this.#attempt(index, failures, items[index]!.context, () => {
              if (!lease.ok) throw lease.error;
              return sealValue(
                lease.value.key,
                lease.value.extra.prefix,
                p.contextBytes,
                p.plaintext,
              );
            });
            if (sealed !== undefined) out[index] = sealed;
          }
        } finally {
          if (lease.ok) lease.value.key.release();
        }
      });
      if (failures.length > 0) throw new BatchError(failures.sort((a, b) => a.index - b.index));
      this.#metrics.encrypted += out.length;
      return out;
    } finally {
      for (const p of prepared) if (p !== undefined) wipeEncoded(p.plaintext);
    }
  }

  /**
   * Decrypt many values with one key lookup per distinct key. All or nothing: if any item
   * fails, a {@link BatchError} lists the failed indexes and codes and no value is returned,
   * so a half-decrypted batch can never pass for a whole one.
   */
  async decryptMany<T = FieldValue>(items: readonly DecryptItem[]): Promise<T[]> {
    const started = performance.now();
    const settled = await this.#decryptBatch<T>(items);
    const failures: BatchFailure[] = [];
    settled.forEach((s, index) => {
      if (!s.ok) failures.push({ index, error: s.error });
    });
    if (failures.length > 0) throw new BatchError(failures);
    this.#metrics.completed('decryptMany', started, settled.length);
    return settled.map((s) => (s as { value: T }).value);
  }

  /**
   * Like {@link Fieldseal.decryptMany}, but reports each item's own outcome (its latency is
   * recorded as a `decryptMany` call, whatever its items' outcomes).
   */
  async decryptManySettled<T = FieldValue>(items: readonly DecryptItem[]): Promise<Settled<T>[]> {
    const started = performance.now();
    const settled = await this.#decryptBatch<T>(items);
    this.#metrics.completed('decryptMany', started, settled.length);
    return settled;
  }

  async #decryptBatch<T>(items: readonly DecryptItem[]): Promise<Settled<T>[]> {
    const results = new Array<Settled<T>>(items.length);
    const groups = new Map<
      string,
      {
        ref: PreparedEnvelope['env']['keyRef'];
        tenant: string;
        members: [number, PreparedEnvelope][];
      }
    >();
    items.forEach((it, index) => {
      try {
        const p = this.#rules.prepareRead(it.stored, it.context);
        if (p.kind === 'plaintext') {
          results[index] = { ok: true, value: p.value as T };
          return;
        }
        const id = this.#resolver.readId(p.env.keyRef, p.tenant);
        const group = groups.get(id);
        if (group === undefined)
          groups.set(id, { ref: p.env.keyRef, tenant: p.tenant, members: [[index, p]] });
        else group.members.push([index, p]);
      } catch (err) {
        results[index] = { ok: false, error: this.#batchFailure(err, 'decryptMany', it.context) };
      }
    });
    await mapLimit(
      [...groups.values()],
      this.#loadConcurrency,
      async ({ ref, tenant, members }) => {
        const lease = await settle(this.#resolver.forRead(ref, tenant, members.length));
        let opened = 0;
        try {
          for (const [index, p] of members) {
            try {
              if (!lease.ok) throw lease.error;
              results[index] = {
                ok: true,
                value: openValue(p.env, lease.value.key, p.contextBytes) as T,
              };
              opened++;
            } catch (err) {
              results[index] = {
                ok: false,
                error: this.#batchFailure(err, 'decryptMany', items[index]!.context),
              };
            }
          }
        } finally {
          this.#metrics.decrypted += opened;
          const cell = lease.ok ? lease.value.extra?.reads : undefined;
          if (cell !== undefined) cell.n += opened;
          else if (opened > 0) this.#metrics.keyRead(ref, opened);
          if (lease.ok) lease.value.key.release();
        }
      },
    );
    return results;
  }

  /**
   * Create version 1 of the tenant's data key in the key store (no-op returning the active
   * version if one exists). Only for `keys.mode: 'store'`.
   */
  async provisionTenant(tenant: string): Promise<Omit<StoredKeyVersion, 'wrapped'>> {
    if (typeof tenant !== 'string' || tenant.length === 0)
      throw new TypeError('tenant: expected a non-empty string');
    return withoutWrapped(
      await this.#audited(
        'provision',
        tenant,
        () => this.#resolver.provision(tenant),
        versionFacts,
      ),
    );
  }

  /**
   * Rotate the tenant's data key (store mode): a new version is generated, wrapped and made
   * active; older versions stay readable. No row is rewritten: values move to the new version
   * when they are next written, or through {@link Fieldseal.reencrypt}.
   * @throws KeyNotConfiguredError when the tenant was never provisioned.
   * @example
   * ```ts
   * const { version } = await fs.rotateTenantKey('acme'); // 2
   * ```
   */
  async rotateTenantKey(tenant: string): Promise<Omit<StoredKeyVersion, 'wrapped'>> {
    if (typeof tenant !== 'string' || tenant.length === 0) {
      throw new TypeError('tenant: expected a non-empty string');
    }
    return withoutWrapped(
      await this.#audited('rotate', tenant, () => this.#resolver.rotate(tenant), versionFacts),
    );
  }

  /**
   * Master-key rotation or provider move for one tenant (store mode): every live data-key
   * version is unwrapped and wrapped again under `masterKeyId` (default: the configured one for
   * the tenant) by `providerId` (default: the first provider), without touching any stored
   * value — as MongoDB's `rewrapManyDataKey` does. Each row changes by compare-and-set; rows
   * changed meanwhile (or shredded) are reported as skipped.
   * @example
   * ```ts
   * const { rewrapped } = await fs.rewrapTenantKeys('acme', { masterKeyId: 'master-2026' });
   * ```
   */
  async rewrapTenantKeys(
    tenant: string,
    target: { readonly masterKeyId?: string; readonly providerId?: string } = {},
  ): Promise<{
    rewrapped: { keyId: string; version: number }[];
    skipped: { keyId: string; version: number }[];
  }> {
    if (typeof tenant !== 'string' || tenant.length === 0) {
      throw new TypeError('tenant: expected a non-empty string');
    }
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

  /**
   * Retire the tenant's data-key versions below `below` (store mode): set its minimum
   * decryption version, as Vault transit's `min_decryption_version` does. Every `decrypt-only`
   * version under `below` becomes `retired`, and reading a value sealed under one fails with
   * `ERR_KEY_RETIRED`: in this process at once (its cached keys of the tenant are purged), in
   * other processes at once when the clients share a `keyEvents` bus, otherwise within their
   * `cache.maxAgeMs`. Writes are unaffected (the active version is never retired), and the
   * wrapped keys are kept, so {@link Fieldseal.reinstateKeyVersion} undoes it.
   *
   * This retires blindly. Prefer the backfill module's `retireKeyVersion`, which counts the
   * rows still sealed under those versions first and refuses while any remain. And retire a
   * version only once no process can still write with it: a process that has not yet seen a
   * rotation keeps writing under the previous version for up to its `cache.maxAgeMs`.
   * @returns the versions this call retired, ascending (empty when none was left).
   * @throws KeyVersionActiveError (`ERR_KEY_VERSION_ACTIVE`) when the active version is below
   *   `below` (nothing is retired); KeyNotConfiguredError in embedded mode;
   *   KeyStoreUnavailableError; RangeError when `below` is not an integer from 1 to 2^32.
   * @example
   * ```ts
   * await fs.rotateTenantKey('acme'); // version 3 is active
   * // ... once no row is sealed under versions 1 and 2 any more:
   * const retired = await fs.retireKeyVersions('acme', 3); // [1, 2]
   * ```
   */
  async retireKeyVersions(tenant: string, below: number): Promise<number[]> {
    if (typeof tenant !== 'string' || tenant.length === 0) {
      throw new TypeError('tenant: expected a non-empty string');
    }
    const store = this.#resolver.store;
    if (store === undefined) {
      throw new KeyNotConfiguredError('retireKeyVersions needs keys.mode "store"');
    }
    let retired: number[];
    try {
      retired = await this.#audited(
        'retire',
        tenant,
        () => store.retireVersions(tenant, this.#resolver.keyId, below),
        (versions) => ({ detail: { below, versions } }),
      );
    } finally {
      // After the store change (even an uncertain one): cached keys of the tenant, and loads
      // in flight, must not keep decrypting a version that is now retired.
      this.#resolver.purgeTenant(tenant);
    }
    // The store is the truth; the event only makes other processes forget sooner.
    if (retired.length > 0) await this.#keyEvents?.publishKeysChanged(tenant);
    return retired;
  }

  /**
   * Reinstate a retired data-key version of the tenant (store mode): it becomes
   * `decrypt-only` again and the values sealed under it decrypt as before (it never becomes
   * the active version again). Purges this process's cached keys of the tenant and publishes
   * on `keyEvents`, as {@link Fieldseal.retireKeyVersions} does.
   * @returns true when the version was retired and is readable again; false when it already
   *   was readable.
   * @throws KeyNotFoundError when the tenant has no such version; KeyShreddedError when it was
   *   shredded (nothing can bring it back); KeyNotConfiguredError in embedded mode;
   *   KeyStoreUnavailableError; RangeError for a version that is not an integer from 1 to 2^32-1.
   * @example
   * ```ts
   * await fs.reinstateKeyVersion('acme', 2); // true: values under version 2 decrypt again
   * ```
   */
  async reinstateKeyVersion(tenant: string, version: number): Promise<boolean> {
    if (typeof tenant !== 'string' || tenant.length === 0) {
      throw new TypeError('tenant: expected a non-empty string');
    }
    const store = this.#resolver.store;
    if (store === undefined) {
      throw new KeyNotConfiguredError('reinstateKeyVersion needs keys.mode "store"');
    }
    let changed: boolean;
    try {
      changed = await this.#audited(
        'reinstate',
        tenant,
        () => store.reinstateVersion(tenant, this.#resolver.keyId, version),
        (done) => ({ version, detail: { changed: done } }),
      );
    } finally {
      this.#resolver.purgeTenant(tenant);
    }
    if (changed) await this.#keyEvents?.publishKeysChanged(tenant);
    return changed;
  }

  /**
   * Crypto-shred a tenant (store mode): every data-key version is marked `shredded` and its
   * wrapped bytes are destroyed in the key store, and this process's cached keys of the tenant
   * are zeroed at once. From then on every read and write of the tenant fails with
   * `ERR_KEY_SHREDDED`; other tenants are untouched. Other processes stop at once when the
   * clients share a `keyEvents` bus (e.g. `pgKeyEvents(pool)`), otherwise within their cache's
   * `maxAgeMs`. See docs/threat-model.md for what
   * shredding does and does not erase.
   *
   * **Master keys**: with one master key per tenant (`masterKeyId` is a function), the master
   * keys that wrapped the tenant's versions are then destroyed at their provider, or disabled
   * and scheduled for deletion where the provider has a waiting period (`receipt.masterKeys`
   * says which). A shared master key is never destroyed. `destroyMasterKeys: true` makes it a
   * requirement: if a key cannot be destroyed (shared, or the provider cannot), nothing is
   * shredded and the call fails; `false` keeps them. A failed destruction after the shred is
   * reported as `state: 'failed'` (the data keys are gone all the same).
   * @returns the erasure receipt: which versions were destroyed, what happened to the master
   *   keys, and when.
   * @throws KeyNotConfiguredError / ModeForbiddenError (before anything is shredded) when
   *   `destroyMasterKeys: true` cannot be honoured.
   * @example
   * ```ts
   * const receipt = await fs.shredTenant('acme');
   * console.log(receipt.versions); // [{ keyId: 'default', version: 1 }, ...]
   * ```
   */
  async shredTenant(
    tenant: string,
    options: { readonly destroyMasterKeys?: boolean } = {},
  ): Promise<ShredReceipt> {
    if (typeof tenant !== 'string' || tenant.length === 0) {
      throw new TypeError('tenant: expected a non-empty string');
    }
    const audit = this.#audit;
    let versions: readonly { keyId: string; version: number }[];
    let plan: DestructionPlan;
    try {
      // Decide about master keys first: an impossible explicit request changes nothing.
      const store = this.#resolver.store;
      plan = planDestruction(
        store === undefined ? [] : await store.listVersions(tenant),
        this.#resolver.perTenantMasterKeys,
        (id) => this.#resolver.provider(id),
        options.destroyMasterKeys,
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
    const receipt: ShredReceipt = Object.freeze({
      tenant,
      versions: Object.freeze(versions.map((v) => Object.freeze(versionId(v)))),
      masterKeys: Object.freeze(masterKeys),
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

  /**
   * Decrypt a stored value and, if its data key is not the tenant's current one, encrypt it
   * again under the current key (same encoding as given: text stays text). The building block
   * of lazy re-encryption and backfills. In store mode a value already under the active
   * version is returned as it is (after it authenticates); in embedded mode, which has no
   * versions, the value is always sealed again under the current write key.
   * @returns the value to store and whether it changed.
   * @example
   * ```ts
   * const { stored, changed } = await fs.reencrypt(row.ssn, context);
   * if (changed) await db.update(row.id, { ssn: stored });
   * ```
   */
  async reencrypt<S extends string | Uint8Array>(
    stored: S,
    context: EncryptionContext,
  ): Promise<{ stored: S extends string ? string : Buffer; changed: boolean }> {
    type Out = S extends string ? string : Buffer;
    const info = inspectEnvelope(stored);
    if (info?.keyRef.kind === 'store') {
      const current = await this.#resolver.activeVersion(context.tenant);
      if (info.keyRef.keyId === this.#resolver.keyId && info.keyRef.version === current) {
        await this.decrypt(stored, context); // still authenticate what we vouch for
        return { stored: stored as unknown as Out, changed: false };
      }
    }
    const value = await this.decrypt(stored, context);
    const out =
      typeof stored === 'string'
        ? await this.encrypt(value, context)
        : await this.encryptToBytes(value, context);
    return { stored: out as Out, changed: true };
  }

  /**
   * The policy this client enforces for `table.field` (an empty frozen object when none).
   * Model helpers use it to refuse clients that were not configured with a model's policies.
   * @example
   * ```ts
   * fs.fieldPolicy('customers', 'ssn').mode; // 'WriteOnly'
   * ```
   */
  fieldPolicy(table: string, field: string): FieldPolicy {
    return this.#rules.policyOf(table, field);
  }

  /** The client-wide mode. */
  get mode(): Mode {
    return this.#rules.mode;
  }

  /**
   * Record an event of another module (a backfill's start and stop, a key retirement...)
   * through this client's audit sinks, stamped with this client's actor and the current time.
   * Resolves at once when the client has no audit sink (the event is still checked).
   * @throws AuditUnavailableError when a sink fails (its error as cause); TypeError for an
   *   unknown operation or a `detail` that is not plain JSON data.
   * @example
   * ```ts
   * await fs.recordAudit({
   *   operation: 'backfill-start', tenant: 'acme', outcome: 'success',
   *   detail: { table: 'customers', fields: ['ssn'] },
   * });
   * ```
   */
  async recordAudit(event: AuditRecordInput): Promise<void> {
    if (this.#audit === undefined) {
      AuditTrail.check(event);
      return;
    }
    await this.#audit.record(event, 'the audit event could not be recorded');
  }

  /**
   * A snapshot of this client's health figures: provider calls per provider and operation,
   * data-key cache hit rate, latency added (p50 / p99 / max) per call, values decrypted per
   * key version, plaintext still read by fields in migration, failures by code. See
   * docs/metrics.md. Counts, durations and names only: no value, key or tenant id.
   * @example
   * ```ts
   * const s = fs.stats();
   * console.log(`${(100 * (s.cache.hitRate ?? 1)).toFixed(1)}% hits, p99 ${s.latency.decrypt.p99Ms} ms`);
   * ```
   */
  stats(): FieldsealStats {
    return this.#metrics.stats(this.#cache.stats());
  }

  /** Counters: values, failures by code, plaintext reads by field, cache and provider calls. */
  metrics(): FieldsealMetrics {
    const providerCalls: Record<string, ReturnType<() => KeyProvider['calls']>> = {};
    for (const p of this.#providers) providerCalls[p.id] = p.calls;
    return {
      encrypted: this.#metrics.encrypted,
      decrypted: this.#metrics.decrypted,
      failures: { ...this.#metrics.failures },
      plaintextReads: { ...this.#metrics.plaintextReads },
      cache: this.#cache.stats(),
      providerCalls,
    };
  }

  /**
   * Stop listening for key events and zero every cached key. Call it when the client is no
   * longer used.
   * @example
   * ```ts
   * fs.close();
   * ```
   */
  close(): void {
    this.#unsubscribe?.();
    const detach = this.#detachTelemetry;
    this.#detachTelemetry = undefined;
    try {
      detach?.();
    } catch {
      // Metrics never fail an operation.
    }
    this.clearCache();
  }

  /** Zero and drop every cached data key. The client stays usable (keys reload on demand). */
  clearCache(): number {
    this.#resolver.clear();
    return this.#cache.purge();
  }

  /** An item of an `encryptMany` batch: its failure is recorded and `undefined` returned. */
  #attempt<T>(
    index: number,
    failures: BatchFailure[],
    context: EncryptionContext,
    fn: () => T,
  ): T | undefined {
    try {
      return fn();
    } catch (err) {
      failures.push({ index, error: this.#batchFailure(err, 'encryptMany', context) });
      return undefined;
    }
  }

  /** A batch item's failure; anything but a FieldsealError is a programming error and aborts. */
  #batchFailure(
    err: unknown,
    operation: ValueOperation,
    context: EncryptionContext,
  ): FieldsealError {
    if (!isFieldsealError(err)) throw err;
    this.#metrics.fail(err, operation, context);
    return err;
  }

  /** Count a failure and make sure it is a FieldsealError (programming errors pass through). */
  #failed(err: unknown, operation: ValueOperation, context: EncryptionContext): unknown {
    if (isFieldsealError(err)) this.#metrics.fail(err, operation, context);
    return err;
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

/**
 * Create a {@link Fieldseal} client.
 * @throws KeyNotConfiguredError when no provider or key configuration is given (fail closed at
 *   start-up, before any database is touched); TypeError / RangeError for malformed options.
 * @example
 * ```ts
 * const fs = createFieldseal({ provider, keys: { mode: 'embedded', masterKeyId: 'master' }, cache: { maxAgeMs: 60_000 } });
 * ```
 */
export function createFieldseal(options: FieldsealOptions): Fieldseal {
  return new Fieldseal(options);
}

async function settle<T>(
  p: Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, error };
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
