import { BatchError } from '../errors.js';
import type { EncryptionContext } from '../envelope/context.js';
import { toText } from '../envelope/encoding.js';
import type { FieldValue } from '../envelope/plaintext.js';
import type { DataKeyCache } from '../keys/data-key-cache.js';
import type { KeyProvider } from '../kms/key-provider.js';
import type { StoredKeyVersion } from '../keys/key-store.js';
import { checkVersionNumber, MAX_KEY_VERSION } from '../keys/version-number.js';
import type { FieldsealStats } from '../metrics/fieldseal-stats.js';
import type { ValueOperation } from '../metrics/metrics-sink.js';
import { AuditTrail, type AuditRecordInput } from './audit-trail.js';
import type { BatchOperations } from './batch-operations.js';
import { assembleClient } from './client-setup.js';
import { linkKeyEvents } from './key-event-link.js';
import type { FieldRules } from './field-rules.js';
import type { DecryptItem, EncryptItem, EncryptOptions, Reencrypted, Settled } from './items.js';
import type { KeyLifecycle } from './key-lifecycle.js';
import type { KeyResolver } from './keys/key-resolver.js';
import { versionsPerTenant } from './keys/cache-ids.js';
import type { FieldsealMetrics, MetricsRecorder } from './metrics.js';
import type { FieldPolicy, FieldsealOptions, Mode } from './options.js';
import type { Reencryption } from './reencryption.js';
import type { ShredReceipt } from './shred-receipt.js';
import type { ValueCodec } from './value-codec.js';

export type { ShredReceipt } from './shred-receipt.js';

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
  readonly #batch: BatchOperations;
  readonly #keys: KeyLifecycle;
  readonly #codec: ValueCodec;
  readonly #reencryption: Reencryption;
  readonly #unsubscribe: (() => void) | undefined;
  readonly #cache: DataKeyCache;
  readonly #resolver: KeyResolver;
  readonly #providers: readonly KeyProvider[];
  readonly #metrics: MetricsRecorder;
  readonly #audit: AuditTrail | undefined;
  #detachTelemetry: (() => void) | undefined;

  /** @internal Use {@link createFieldseal}. */
  constructor(options: FieldsealOptions) {
    const parts = assembleClient(options);
    this.#rules = parts.rules;
    this.#cache = parts.cache;
    this.#resolver = parts.resolver;
    this.#providers = parts.providers;
    this.#metrics = parts.metrics;
    this.#audit = parts.audit;
    this.#batch = parts.batch;
    this.#keys = parts.keys;
    this.#codec = parts.codec;
    this.#reencryption = parts.reencryption;
    // Events purge tenants; a lost bus stops caching until it is back (nothing missed then
    // can keep a shredded key alive here).
    const audit = this.#audit;
    this.#unsubscribe =
      parts.keyEvents === undefined
        ? undefined
        : linkKeyEvents(
            parts.keyEvents,
            {
              purgeTenant: (tenant) => {
                this.#resolver.purgeTenant(tenant);
              },
              purgeAll: () => {
                this.#resolver.purgeAll();
              },
              setCaching: (enabled) => {
                this.#resolver.setCaching(enabled);
              },
              recordBusState: (state, at) => {
                this.#metrics.keyEventBusState(state, at);
              },
            },
            audit === undefined
              ? {}
              : {
                  recordAudit: (event) =>
                    audit.record(event, 'the key-event bus state could not be audited'),
                },
          );
    try {
      this.#detachTelemetry = parts.telemetry?.attach?.(() => this.stats());
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
      const sealed = this.#codec.seal(value, context, options?.pad);
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
      const sealed = this.#codec.seal(value, context, options?.pad);
      const out = sealed instanceof Promise ? await sealed : sealed;
      this.#metrics.completed('encrypt', started, 1);
      return out;
    } catch (err) {
      throw this.#failed(err, 'encrypt', context);
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
      const opened = this.#codec.open<T>(item, started);
      return opened instanceof Promise ? await opened : opened;
    } catch (err) {
      throw this.#failed(err, 'decrypt', context);
    }
  }

  /**
   * Encrypt many values (any tenants) with one key lookup per tenant. All or nothing: if any
   * item fails, a {@link BatchError} lists the failed indexes and codes and no output is given.
   */
  async encryptMany(items: readonly EncryptItem[]): Promise<string[]> {
    return this.#batch.encryptMany(items);
  }

  /**
   * Binary form of {@link Fieldseal.encryptMany}. Values are grouped by tenant in chunks of at
   * most `cache.maxUses`, and each chunk costs at most one key fetch.
   */
  async encryptManyToBytes(items: readonly EncryptItem[]): Promise<Buffer[]> {
    return this.#batch.encryptManyToBytes(items);
  }

  /**
   * Decrypt many values with one key lookup per distinct key. All or nothing: if any item
   * fails, a {@link BatchError} lists the failed indexes and codes and no value is returned,
   * so a half-decrypted batch can never pass for a whole one.
   */
  async decryptMany<T = FieldValue>(items: readonly DecryptItem[]): Promise<T[]> {
    return this.#batch.decryptMany<T>(items);
  }

  /**
   * Like {@link Fieldseal.decryptMany}, but reports each item's own outcome (its latency is
   * recorded as a `decryptMany` call, whatever its items' outcomes).
   */
  async decryptManySettled<T = FieldValue>(items: readonly DecryptItem[]): Promise<Settled<T>[]> {
    return this.#batch.decryptManySettled<T>(items);
  }

  /**
   * Open fieldseal's sealed per-tenant blind-index secrets: key material, not values, so not
   * governed by the value modes (a WriteOnly ingest client must compute the indexes of what it
   * writes). Refuses every other context with `ERR_INVALID_CONTEXT`.
   * @internal
   */
  async openIndexSecrets(items: readonly DecryptItem[]): Promise<Settled<unknown>[]> {
    return this.#batch.openKeyMaterial(items);
  }

  /**
   * Create version 1 of the tenant's data key in the key store (no-op returning the active
   * version if one exists). Only for `keys.mode: 'store'`.
   */
  async provisionTenant(tenant: string): Promise<Omit<StoredKeyVersion, 'wrapped'>> {
    return this.#keys.provision(tenant);
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
    return this.#keys.rotate(tenant);
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
    return this.#keys.rewrap(tenant, target);
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
    return this.#keys.retire(tenant, below);
  }

  /**
   * Check that this client can read values sealed under one stored data-key version of the
   * tenant (store mode): the version is unwrapped exactly as a read would unwrap it (accepted
   * master key, configured provider, the commitment stored with the version) and released at
   * once, never cached or used. Retired versions are checked too (a reinstatement needs them);
   * `fieldseal doctor` runs this on a sample of every tenant's versions. Not key
   * administration: it needs no `admin`. The provider call is audited like any other.
   * @throws KeyNotFoundError when the tenant has no such version; KeyShreddedError when it was
   *   shredded; KeyUnwrapFailedError / KeyCommitmentMismatchError when the configured master
   *   key is not the one the version was wrapped under; KeyNotConfiguredError when its master
   *   key is not accepted (or in embedded mode); AccessDeniedError, ProviderUnavailableError,
   *   KeyStoreUnavailableError; TypeError / RangeError for a bad tenant or version.
   * @example
   * ```ts
   * for (const v of await store.listVersions('acme')) {
   *   if (v.state !== 'shredded') await fs.checkKeyVersion('acme', v.version);
   * }
   * ```
   */
  async checkKeyVersion(tenant: string, version: number): Promise<void> {
    if (typeof tenant !== 'string' || tenant.length === 0) {
      throw new TypeError('tenant: expected a non-empty string');
    }
    checkVersionNumber('version', version, 1, MAX_KEY_VERSION);
    return this.#keys.checkVersion(tenant, version);
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
    return this.#keys.reinstate(tenant, version);
  }

  /**
   * Crypto-shred a tenant (store mode): every data-key version is marked `shredded` and its
   * wrapped bytes are destroyed in the key store, and this process's cached keys of the tenant
   * are zeroed at once. From then on every read and write of the tenant fails with
   * `ERR_KEY_SHREDDED`; other tenants are untouched. Other processes stop at once when the
   * clients share a `keyEvents` bus (e.g. `postgresKeyEvents(pool)`), otherwise within their cache's
   * `maxAgeMs`. See docs/threat-model.md for what
   * shredding does and does not erase.
   *
   * **Master keys**: when the configuration declares one master key per tenant
   * (`masterKeyId: (tenant) => ...` with `dedicatedMasterKeys: true`), the tenant's own master
   * key is then destroyed at its provider, or disabled and scheduled for deletion where the
   * provider has a waiting period (`receipt.masterKeys` says which, for every master key the
   * tenant's versions name). Any other key is kept: it may protect other tenants.
   * `destroyMasterKeys: true` makes destruction a requirement: if the key cannot be destroyed,
   * nothing is shredded and the call fails; `false` keeps it. A failed destruction is reported
   * as `state: 'failed'` (the data keys are gone all the same); run the shred again to finish.
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
    return this.#keys.shred(tenant, options);
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
    return this.#reencryption.reencrypt(stored, context);
  }

  /**
   * {@link Fieldseal.reencrypt} for a batch, each item reporting its own outcome: every
   * envelope is parsed once and opened in groups of one key, each distinct key is asked once
   * whether it is the tenant's current one, and the values that must move are sealed again in
   * one write batch (one key fetch per tenant). What a backfill or a write-back calls per chunk.
   * @example
   * ```ts
   * const out = await fs.reencryptManySettled(rows.map((r) => ({ stored: r.ssn, context: contextOf(r) })));
   * for (const [i, r] of out.entries()) if (r.ok && r.value.changed) await save(rows[i], r.value.stored);
   * ```
   */
  async reencryptManySettled(items: readonly DecryptItem[]): Promise<Settled<Reencrypted>[]> {
    if (!Array.isArray(items)) throw new TypeError('items: expected an array');
    return this.#batch.reencryptManySettled(items);
  }

  /**
   * {@link Fieldseal.reencryptManySettled}, all or nothing.
   * @throws BatchError listing `{ index, error }` for every item that failed.
   * @example
   * ```ts
   * const out = await fs.reencryptMany(items); // [{ stored, changed }, ...]
   * ```
   */
  async reencryptMany(items: readonly DecryptItem[]): Promise<Reencrypted[]> {
    const settled = await this.reencryptManySettled(items);
    const failures = settled.flatMap((r, index) => (r.ok ? [] : [{ index, error: r.error }]));
    if (failures.length > 0) throw new BatchError(failures);
    return settled.map((r) => (r as { value: Reencrypted }).value);
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

  /** The key id new envelopes name in store mode (`undefined` in embedded mode). */
  get keyId(): string | undefined {
    return this.#keys.storeKeyId;
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
    return this.#metrics.stats(
      this.#cache.stats(),
      versionsPerTenant(this.#cache.ids()),
      this.#providers,
    );
  }

  /** Counters: values, failures by code, plaintext reads by field, cache and provider calls. */
  metrics(): FieldsealMetrics {
    return this.#metrics.counters(this.#cache.stats(), this.#providers);
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

  /** Count a failure and make sure it is a FieldsealError (programming errors pass through). */
  #failed(err: unknown, operation: ValueOperation, context: EncryptionContext): unknown {
    return this.#codec.failed(err, operation, context);
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
