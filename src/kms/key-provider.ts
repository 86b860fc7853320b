import {
  InvalidKeyMaterialError,
  ModeForbiddenError,
  ProviderUnavailableError,
  isFieldsealError,
} from '../errors.js';
import type { KeyContext } from '../envelope/context.js';
import { DATA_KEY_LENGTH, MAX_WRAPPED_KEY_BYTES } from '../envelope/format.js';
import { randomBytesPooled } from '../crypto/random.js';
import { DataKey } from '../keys/data-key.js';

/**
 * What a provider can do; a WriteOnly deployment may hold a provider that cannot unwrap.
 * @example
 * ```ts
 * if (!provider.capabilities.unwrap) console.log('write-only provider');
 * ```
 */
export interface KeyProviderCapabilities {
  readonly generate: boolean;
  readonly wrap: boolean;
  readonly unwrap: boolean;
}

/**
 * A fresh data key and its wrapped form. The caller owns (and must release) `key`.
 * @example
 * ```ts
 * const { key, wrapped } = await provider.generateDataKey('master', { tenant: 'acme' });
 * key.release();
 * ```
 */
export interface GeneratedDataKey {
  readonly key: DataKey;
  readonly wrapped: Uint8Array;
}

/**
 * Counts of provider calls, for metrics and for tests that prove caching works.
 * @example
 * ```ts
 * expect(provider.calls.unwrap).toBe(1);
 * ```
 */
export interface ProviderCallCounts {
  generate: number;
  wrap: number;
  unwrap: number;
}

/**
 * What {@link KeyProvider.scheduleMasterKeyDeletion} did: the master key is gone now, or it is
 * disabled and scheduled for deletion after the provider's waiting period (AWS KMS: 7–30 days).
 * @example
 * ```ts
 * const { state, deletionDate }: MasterKeyDestruction = await provider.scheduleMasterKeyDeletion('tenant-acme');
 * ```
 */
export interface MasterKeyDestruction {
  readonly state: 'destroyed' | 'pending-deletion';
  /** When a pending deletion becomes final. */
  readonly deletionDate?: Date;
}

const ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * A master-key holder (KMS, HSM, local key): generates, wraps and unwraps 256-bit data keys,
 * always under an encryption context that it must bind (AWS KMS encryption context, GCM AAD,
 * Vault derivation context...).
 *
 * Public methods check the preconditions (capability, ids, a frozen string-map context) and
 * the postconditions (exactly 32 key bytes, wrapped length in range), wipe the raw key bytes
 * an implementation returns, and turn any foreign exception into
 * `ERR_PROVIDER_UNAVAILABLE` with the original as `cause`. Implementations only write the
 * `_generate` / `_wrap` / `_unwrap` hooks, so they cannot skip the checks.
 *
 * @example
 * ```ts
 * class MyProvider extends KeyProvider {
 *   readonly id = 'my-kms';
 *   readonly capabilities = { generate: true, wrap: true, unwrap: true };
 *   protected async _wrap(masterKeyId: string, key: Uint8Array, ctx: KeyContext) { ... }
 *   protected async _unwrap(masterKeyId: string, wrapped: Uint8Array, ctx: KeyContext) { ... }
 * }
 * ```
 */
export abstract class KeyProvider {
  /** Short identifier stored in self-contained envelopes (`[a-z0-9._-]`, ≤ 64 chars). */
  abstract readonly id: string;
  abstract readonly capabilities: KeyProviderCapabilities;
  readonly #calls: ProviderCallCounts = { generate: 0, wrap: 0, unwrap: 0 };
  #throttles = 0;

  /** Calls made through this provider so far (a copy). */
  get calls(): Readonly<ProviderCallCounts> {
    return { ...this.#calls };
  }

  /**
   * Throttling answers this provider received so far (AWS `ThrottlingException`, HTTP 429),
   * counting each attempt, retried or not: the health figure "KMS request throttling".
   * @example
   * ```ts
   * if (provider.throttles > 0) warn('the KMS is throttling: raise the request quota');
   * ```
   */
  get throttles(): number {
    return this.#throttles;
  }

  /** Implementations call this once per throttling answer they receive. */
  protected noteThrottled(): void {
    this.#throttles++;
  }

  /**
   * Generate a data key wrapped under `masterKeyId` with `context` bound.
   * @throws ModeForbiddenError when the provider cannot generate; ProviderUnavailableError.
   */
  async generateDataKey(masterKeyId: string, context: KeyContext): Promise<GeneratedDataKey> {
    this.#check('generate', masterKeyId);
    const ctx = freezeContext(context);
    this.#calls.generate++;
    const raw: unknown = await this.#call(() => this._generate(masterKeyId, ctx));
    const plaintext = (raw as { plaintext?: unknown } | null | undefined)?.plaintext;
    const wrapped = (raw as { wrapped?: unknown } | null | undefined)?.wrapped;
    try {
      checkKeyBytes(plaintext);
      checkWrapped(wrapped);
      return { key: DataKey.fromBytes(plaintext), wrapped: Uint8Array.from(wrapped) };
    } finally {
      wipe(plaintext);
    }
  }

  /**
   * Wrap an existing data key (re-wrap under another master key, multi-provider copies).
   * @throws ModeForbiddenError when the provider cannot wrap; ProviderUnavailableError.
   */
  async wrapDataKey(masterKeyId: string, key: DataKey, context: KeyContext): Promise<Uint8Array> {
    this.#check('wrap', masterKeyId);
    const ctx = freezeContext(context);
    this.#calls.wrap++;
    const copy = Buffer.from(key.exposeBytes());
    try {
      const wrapped: unknown = await this.#call(() => this._wrap(masterKeyId, copy, ctx));
      checkWrapped(wrapped);
      return Uint8Array.from(wrapped);
    } finally {
      copy.fill(0);
    }
  }

  /**
   * Unwrap a data key. The returned holder belongs to the caller (release it).
   * @throws ModeForbiddenError when the provider cannot unwrap; KeyUnwrapFailedError when the
   *   wrapped key, master key or context do not match; ProviderUnavailableError.
   */
  async unwrapDataKey(
    masterKeyId: string,
    wrapped: Uint8Array,
    context: KeyContext,
  ): Promise<DataKey> {
    this.#check('unwrap', masterKeyId);
    checkWrapped(wrapped);
    const ctx = freezeContext(context);
    this.#calls.unwrap++;
    const raw: unknown = await this.#call(() =>
      this._unwrap(masterKeyId, Uint8Array.from(wrapped), ctx),
    );
    try {
      checkKeyBytes(raw);
      return DataKey.fromBytes(raw);
    } finally {
      wipe(raw);
    }
  }

  /** Whether this provider can destroy (or schedule the deletion of) its master keys. */
  get canDestroyMasterKeys(): boolean {
    return this._destroyMasterKey !== KeyProvider.prototype._destroyMasterKey;
  }

  /**
   * Destroy a master key, or disable it and schedule its deletion where the provider has a
   * waiting period: every data key wrapped under it becomes unrecoverable. Used by
   * `shredTenant` for per-tenant master keys. Irreversible once final.
   * @throws ModeForbiddenError when the provider cannot destroy keys; ProviderUnavailableError.
   * @example
   * ```ts
   * if (provider.canDestroyMasterKeys) await provider.scheduleMasterKeyDeletion('tenant-acme');
   * ```
   */
  async scheduleMasterKeyDeletion(masterKeyId: string): Promise<MasterKeyDestruction> {
    if (typeof masterKeyId !== 'string' || masterKeyId.length === 0) {
      throw new TypeError('masterKeyId: expected a non-empty string');
    }
    if (!this.canDestroyMasterKeys) {
      throw new ModeForbiddenError(`key provider "${this.id}" cannot destroy master keys`);
    }
    const raw = await this.#call(() => this._destroyMasterKey(masterKeyId));
    const state = (raw as { state?: unknown } | null | undefined)?.state;
    const date = (raw as { deletionDate?: unknown } | null | undefined)?.deletionDate;
    if (state === 'destroyed') return Object.freeze({ state });
    if (state === 'pending-deletion' && date instanceof Date && !Number.isNaN(date.getTime())) {
      return Object.freeze({ state, deletionDate: new Date(date.getTime()) });
    }
    throw new ProviderUnavailableError(
      `key provider "${this.id}" returned an invalid master-key deletion result`,
    );
  }

  /** Destroy hook; providers that can destroy master keys override it. */
  protected _destroyMasterKey(_masterKeyId: string): Promise<MasterKeyDestruction> {
    return Promise.reject(
      new ModeForbiddenError(`key provider "${this.id}" cannot destroy master keys`),
    );
  }

  /** Default generation: 32 bytes from the CSPRNG, then `_wrap`. KMSs override it. */
  protected async _generate(
    masterKeyId: string,
    context: KeyContext,
  ): Promise<{ plaintext: Uint8Array; wrapped: Uint8Array }> {
    const plaintext = randomBytesPooled(DATA_KEY_LENGTH);
    try {
      return { plaintext, wrapped: await this._wrap(masterKeyId, plaintext, context) };
    } catch (err) {
      plaintext.fill(0);
      throw err;
    }
  }
  protected abstract _wrap(
    masterKeyId: string,
    key: Uint8Array,
    context: KeyContext,
  ): Promise<Uint8Array>;
  protected abstract _unwrap(
    masterKeyId: string,
    wrapped: Uint8Array,
    context: KeyContext,
  ): Promise<Uint8Array>;

  #check(op: keyof KeyProviderCapabilities, masterKeyId: string): void {
    if (!ID_PATTERN.test(this.id))
      throw new TypeError(
        `provider id: expected [a-z0-9._-]{1,64}, got ${JSON.stringify(this.id)}`,
      );
    if (!this.capabilities[op]) {
      throw new ModeForbiddenError(`key provider "${this.id}" cannot ${op} data keys`);
    }
    if (typeof masterKeyId !== 'string' || masterKeyId.length === 0) {
      throw new TypeError('masterKeyId: expected a non-empty string');
    }
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isFieldsealError(err)) throw err;
      throw new ProviderUnavailableError(`key provider "${this.id}" failed`, { cause: err });
    }
  }
}

function freezeContext(context: KeyContext): KeyContext {
  if (typeof context !== 'object' || context === null) {
    throw new TypeError('context: expected an object of strings');
  }
  // Null prototype: an entry named `__proto__` is kept as an entry, never lost to a setter.
  const copy = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(context)) {
    if (typeof v !== 'string') throw new TypeError(`context.${k}: expected a string`);
    copy[k] = v;
  }
  return Object.freeze(copy);
}

/** Postconditions run on whatever an implementation returned, typed or not. */
function checkKeyBytes(bytes: unknown): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength !== DATA_KEY_LENGTH) {
    throw new InvalidKeyMaterialError('key provider returned a data key that is not 32 bytes');
  }
}

function checkWrapped(bytes: unknown): asserts bytes is Uint8Array {
  if (
    !(bytes instanceof Uint8Array) ||
    bytes.byteLength < 1 ||
    bytes.byteLength > MAX_WRAPPED_KEY_BYTES
  ) {
    throw new InvalidKeyMaterialError('wrapped data key length is out of range');
  }
}

function wipe(bytes: unknown): void {
  if (bytes instanceof Uint8Array) bytes.fill(0);
}
