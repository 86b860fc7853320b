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
import { DataKeyCache } from '../keys/data-key-cache.js';
import type { KeyProvider } from '../kms/key-provider.js';
import type { KeyEventBus } from '../keys/key-events.js';
import type { StoredKeyVersion } from '../keystore/key-store.js';
import { mapLimit } from '../lib/map-limit.js';
import { FieldRules, type PreparedEnvelope, type PreparedWrite } from './field-rules.js';
import type { DecryptItem, EncryptItem, EncryptOptions, Settled } from './items.js';
import { KeyResolver } from './key-resolver.js';
import { MetricsRecorder, type FieldsealMetrics } from './metrics.js';
import type { FieldPolicy, FieldsealOptions, Mode } from './options.js';

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
  readonly #metrics = new MetricsRecorder();

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
    this.#rules = new FieldRules(mode, fields, this.#metrics);
    this.#providers = Array.isArray(provider)
      ? [...(provider as readonly KeyProvider[])]
      : [provider as KeyProvider];
    this.#cache = new DataKeyCache(cache);
    this.#resolver = new KeyResolver(keys, this.#providers, this.#cache);
    this.#keyEvents = options.keyEvents;
    this.#unsubscribe = options.keyEvents?.subscribe((tenant) => {
      this.#resolver.purgeTenant(tenant);
    });
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
    return toText(await this.encryptToBytes(value, context, options));
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
    try {
      const item = this.#rules.prepareWrite(value, context, options?.pad);
      try {
        const lease =
          this.#resolver.peekWrite(item.tenant, 1) ??
          (await this.#resolver.forWrite(item.tenant, 1));
        try {
          const out = sealValue(lease.key, lease.extra.prefix, item.contextBytes, item.plaintext);
          this.#metrics.encrypted++;
          return out;
        } finally {
          lease.key.release();
        }
      } finally {
        wipeEncoded(item.plaintext);
      }
    } catch (err) {
      throw this.#failed(err);
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
    try {
      const item = this.#rules.prepareRead(stored, context);
      if (item.kind === 'plaintext') return item.value as T;
      const lease =
        this.#resolver.peekRead(item.env.keyRef, item.tenant, 1) ??
        (await this.#resolver.forRead(item.env.keyRef, item.tenant, 1));
      try {
        const value = openValue(item.env, lease.key, item.contextBytes);
        this.#metrics.decrypted++;
        return value as T;
      } finally {
        lease.key.release();
      }
    } catch (err) {
      throw this.#failed(err);
    }
  }

  /**
   * Encrypt many values (any tenants) with one key lookup per tenant. All or nothing: if any
   * item fails, a {@link BatchError} lists the failed indexes and codes and no output is given.
   */
  async encryptMany(items: readonly EncryptItem[]): Promise<string[]> {
    return (await this.encryptManyToBytes(items)).map(toText);
  }

  /**
   * Binary form of {@link Fieldseal.encryptMany}. Values are grouped by tenant in chunks of at
   * most `cache.maxUses`, and each chunk costs at most one key fetch.
   */
  async encryptManyToBytes(items: readonly EncryptItem[]): Promise<Buffer[]> {
    const failures: BatchFailure[] = [];
    const prepared: (PreparedWrite | undefined)[] = items.map((it, index) =>
      this.#attempt(index, failures, () => this.#rules.prepareWrite(it.value, it.context, it.pad)),
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
            const sealed = this.#attempt(index, failures, () => {
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
    const settled = await this.decryptManySettled<T>(items);
    const failures: BatchFailure[] = [];
    settled.forEach((s, index) => {
      if (!s.ok) failures.push({ index, error: s.error });
    });
    if (failures.length > 0) throw new BatchError(failures);
    return settled.map((s) => (s as { value: T }).value);
  }

  /** Like {@link Fieldseal.decryptMany}, but reports each item's own outcome. */
  async decryptManySettled<T = FieldValue>(items: readonly DecryptItem[]): Promise<Settled<T>[]> {
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
        results[index] = { ok: false, error: this.#batchFailure(err) };
      }
    });
    await mapLimit(
      [...groups.values()],
      this.#loadConcurrency,
      async ({ ref, tenant, members }) => {
        const lease = await settle(this.#resolver.forRead(ref, tenant, members.length));
        try {
          for (const [index, p] of members) {
            try {
              if (!lease.ok) throw lease.error;
              results[index] = {
                ok: true,
                value: openValue(p.env, lease.value.key, p.contextBytes) as T,
              };
              this.#metrics.decrypted++;
            } catch (err) {
              results[index] = { ok: false, error: this.#batchFailure(err) };
            }
          }
        } finally {
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
    return withoutWrapped(await this.#resolver.provision(tenant));
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
    return withoutWrapped(await this.#resolver.rotate(tenant));
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
    return this.#resolver.rewrap(tenant, { ...target });
  }

  /**
   * Crypto-shred a tenant (store mode): every data-key version is marked `shredded` and its
   * wrapped bytes are destroyed in the key store, and this process's cached keys of the tenant
   * are zeroed at once. From then on every read and write of the tenant fails with
   * `ERR_KEY_SHREDDED`; other tenants are untouched. Other processes stop at once when the
   * clients share a `keyEvents` bus (e.g. `pgKeyEvents(pool)`), otherwise within their cache's
   * `maxAgeMs`. See docs/threat-model.md for what
   * shredding does and does not erase.
   * @returns the erasure receipt: which versions were destroyed, and when.
   * @example
   * ```ts
   * const receipt = await fs.shredTenant('acme');
   * console.log(receipt.versions); // [{ keyId: 'default', version: 1 }, ...]
   * ```
   */
  async shredTenant(tenant: string): Promise<ShredReceipt> {
    if (typeof tenant !== 'string' || tenant.length === 0) {
      throw new TypeError('tenant: expected a non-empty string');
    }
    const versions = await this.#resolver.shred(tenant);
    // The store is the truth; the event only makes other processes forget sooner.
    await this.#keyEvents?.publishShred(tenant);
    return Object.freeze({
      tenant,
      versions: Object.freeze([...versions]),
      shreddedAt: new Date(),
    });
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
    this.clearCache();
  }

  /** Zero and drop every cached data key. The client stays usable (keys reload on demand). */
  clearCache(): number {
    this.#resolver.clear();
    return this.#cache.purge();
  }

  #attempt<T>(index: number, failures: BatchFailure[], fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      failures.push({ index, error: this.#batchFailure(err) });
      return undefined;
    }
  }

  /** A batch item's failure; anything but a FieldsealError is a programming error and aborts. */
  #batchFailure(err: unknown): FieldsealError {
    if (!isFieldsealError(err)) throw err;
    this.#metrics.fail(err.code);
    return err;
  }

  /** Count a failure and make sure it is a FieldsealError (programming errors pass through). */
  #failed(err: unknown): unknown {
    if (isFieldsealError(err)) this.#metrics.fail(err.code);
    return err;
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
