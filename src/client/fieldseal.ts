import {
  BatchError,
  KeyNotConfiguredError,
  ModeForbiddenError,
  PlaintextInEncryptedFieldError,
  type BatchFailure,
  type FieldsealError,
  isFieldsealError,
} from '../errors.js';
import { encodeContext, type EncryptionContext } from '../envelope/context.js';
import { classifyStored, toText } from '../envelope/encoding.js';
import { openValue, parseEnvelope, sealValue, type ParsedEnvelope } from '../envelope/envelope.js';
import {
  bucketSize,
  encodePlaintext,
  wipeEncoded,
  type EncodedPlaintext,
  type FieldValue,
  type PaddingOption,
} from '../envelope/plaintext.js';
import { DataKeyCache } from '../keys/data-key-cache.js';
import type { KeyProvider } from '../kms/key-provider.js';
import type { StoredKeyVersion } from '../keystore/key-store.js';
import { mapLimit } from '../lib/map-limit.js';
import { KeyResolver } from './key-resolver.js';
import { MetricsRecorder, type FieldsealMetrics } from './metrics.js';
import type { FieldPolicy, FieldsealOptions, Mode } from './options.js';

/**
 * One value to encrypt in a batch.
 * @example
 * ```ts
 * const item: EncryptItem = { value: 'a@example.com', context: { tenant, table: 'users', field: 'email', record: id } };
 * ```
 */
export interface EncryptItem {
  readonly value: FieldValue;
  readonly context: EncryptionContext;
  readonly pad?: PaddingOption;
}

/**
 * One stored value to decrypt in a batch, with the context it must have been written under.
 * @example
 * ```ts
 * const items: DecryptItem[] = rows.map((r) => ({ stored: r.email, context: { tenant, table: 'users', field: 'email', record: r.id } }));
 * ```
 */
export interface DecryptItem {
  readonly stored: string | Uint8Array;
  readonly context: EncryptionContext;
}

/**
 * Per-item outcome of {@link Fieldseal.decryptManySettled}.
 * @example
 * ```ts
 * const emails = (await fs.decryptManySettled<string>(items)).map((r) => (r.ok ? r.value : null));
 * ```
 */
export type Settled<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: FieldsealError };

/**
 * Per-call options of `encrypt`.
 * @example
 * ```ts
 * await fs.encrypt(note, context, { pad: 'bucket-256' });
 * ```
 */
export interface EncryptOptions {
  /** Padding for this value (overrides the field policy). */
  readonly pad?: PaddingOption;
}

interface PreparedWrite {
  readonly tenant: string;
  readonly contextBytes: Buffer;
  readonly plaintext: EncodedPlaintext;
}

interface Envelope {
  readonly kind: 'envelope';
  readonly tenant: string;
  readonly env: ParsedEnvelope;
  readonly contextBytes: Buffer;
}

type PreparedRead = { readonly kind: 'plaintext'; readonly value: unknown } | Envelope;

const EMPTY_POLICY: FieldPolicy = Object.freeze({});
const DEFAULT_BATCH_KEY_CONCURRENCY = 16;

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
  readonly mode: Mode;
  readonly #fields: Readonly<Record<string, FieldPolicy>>;
  readonly #hasPolicies: boolean;
  readonly #loadConcurrency: number;
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
    checkMode(mode, 'mode');
    for (const [name, policy] of Object.entries(fields)) {
      // Exactly one dot: otherwise "a.b" + "c" and "a" + "b.c" would share a policy.
      if (!/^[^.]+\.[^.]+$/.test(name)) {
        throw new TypeError(`fields["${name}"]: expected a "table.field" key with exactly one dot`);
      }
      if (policy.mode !== undefined) checkMode(policy.mode, `fields["${name}"].mode`);
      bucketSize(policy.pad);
    }
    this.mode = mode;
    this.#fields = Object.freeze({ ...fields });
    this.#hasPolicies = Object.keys(fields).length > 0;
    this.#providers = Array.isArray(provider)
      ? [...(provider as readonly KeyProvider[])]
      : [provider as KeyProvider];
    this.#cache = new DataKeyCache(cache);
    this.#resolver = new KeyResolver(keys, this.#providers, this.#cache);
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
      const item = this.#prepareWrite(value, context, options?.pad);
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
      const item = this.#prepareRead(stored, context);
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
      this.#attempt(index, failures, () => this.#prepareWrite(it.value, it.context, it.pad)),
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
      { ref: ParsedEnvelope['keyRef']; tenant: string; members: [number, Envelope][] }
    >();
    items.forEach((it, index) => {
      try {
        const p = this.#prepareRead(it.stored, it.context);
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
  async provisionKey(tenant: string): Promise<Omit<StoredKeyVersion, 'wrapped'>> {
    if (typeof tenant !== 'string' || tenant.length === 0)
      throw new TypeError('tenant: expected a non-empty string');
    const row = await this.#resolver.provision(tenant);
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

  /** Zero and drop every cached data key. The client stays usable (keys reload on demand). */
  clearCache(): number {
    return this.#cache.purge();
  }

  /** Policy of a context that `encodeContext` has already validated. */
  #policy(context: EncryptionContext): FieldPolicy {
    if (!this.#hasPolicies) return EMPTY_POLICY;
    return this.#fields[`${context.table}.${context.field}`] ?? EMPTY_POLICY;
  }

  #prepareWrite(
    value: unknown,
    context: EncryptionContext,
    pad: PaddingOption | undefined,
  ): PreparedWrite {
    // Validate the context first: nothing below may stringify an unchecked value.
    const contextBytes = encodeContext(context);
    const policy = this.#policy(context);
    if (!allows(this.mode, 'write') || !allows(policy.mode, 'write')) {
      throw new ModeForbiddenError('encryption is forbidden in this mode', {
        details: fieldOf(context),
      });
    }
    const plaintext = encodePlaintext(value, bucketSize(pad ?? policy.pad));
    return { tenant: context.tenant, contextBytes, plaintext };
  }

  #prepareRead(stored: string | Uint8Array, context: EncryptionContext): PreparedRead {
    const contextBytes = encodeContext(context);
    const policy = this.#policy(context);
    if (!allows(this.mode, 'read') || !allows(policy.mode, 'read')) {
      throw new ModeForbiddenError('decryption is forbidden in this mode', {
        details: fieldOf(context),
      });
    }
    const classified = classifyStored(stored);
    if (classified.kind === 'plaintext') {
      const field = `${context.table}.${context.field}`;
      if (policy.allowPlaintextRead !== true) {
        throw new PlaintextInEncryptedFieldError(undefined, { details: { field } });
      }
      this.#metrics.plaintextRead(field);
      return { kind: 'plaintext', value: stored };
    }
    return {
      kind: 'envelope',
      tenant: context.tenant,
      env: parseEnvelope(classified.bytes),
      contextBytes,
    };
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

function allows(mode: Mode | undefined, op: 'read' | 'write'): boolean {
  if (mode === undefined || mode === 'ReadWrite') return true;
  return op === 'write' ? mode === 'WriteOnly' : mode === 'ReadOnly';
}

function checkMode(mode: unknown, name: string): void {
  if (mode !== 'ReadWrite' && mode !== 'WriteOnly' && mode !== 'ReadOnly') {
    throw new TypeError(
      `${name}: expected 'ReadWrite', 'WriteOnly' or 'ReadOnly', got ${String(mode)}`,
    );
  }
}

function fieldOf(context: EncryptionContext): { field: string } {
  return { field: `${context.table}.${context.field}` };
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
