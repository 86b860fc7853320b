import { randomBytes } from 'node:crypto';
import { KeyNotConfiguredError, ProviderUnavailableError } from '../errors.js';
import type { KeyContext } from '../envelope/context.js';
import type { MasterKeyDestruction } from '../kms/key-provider.js';
import { LocalKeyProvider } from '../kms/local/local-key-provider.js';
import { SecretKey, type SecretSource } from '../secrets/secret-source.js';

/**
 * A fault to inject into the next provider calls.
 * @example
 * ```ts
 * provider.injectFault('timeout', 2);
 * ```
 */
export type InjectedFault = 'unavailable' | 'timeout';

class MemorySecretSource implements SecretSource {
  readonly kind = 'memory';
  readonly keys = new Map<string, SecretKey>();
  references(): readonly string[] {
    return [...this.keys.keys()];
  }
  getKey(reference: string): Promise<SecretKey> {
    const key = this.keys.get(reference);
    return key === undefined
      ? Promise.reject(
          new KeyNotConfiguredError(`no master key "${reference}"`, { details: { reference } }),
        )
      : Promise.resolve(key);
  }
}

/**
 * An in-memory key provider for your tests: random master keys created on demand, destroyed
 * on demand (to test shredding), and faults on demand (to test that your code fails closed).
 * It is a real provider (XAES-256-GCM wrapping, context bound), not a pass-through, so tests
 * need no opt-out from encryption.
 *
 * @example
 * ```ts
 * import { MemoryKeyProvider } from 'fieldseal/testing';
 * const provider = new MemoryKeyProvider({ masterKeys: ['master'] });
 * provider.injectFault('unavailable', 1); // next call fails with ERR_PROVIDER_UNAVAILABLE
 * ```
 */
export class MemoryKeyProvider extends LocalKeyProvider {
  readonly #source: MemorySecretSource;
  #fault: InjectedFault | undefined;
  #faultsLeft = 0;
  #latencyMs = 0;

  readonly #deletionWindowDays: number | undefined;

  /**
   * @param options.deletionWindowDays behave like a KMS with a waiting period:
   *   `scheduleMasterKeyDeletion` disables the key at once and reports `pending-deletion`.
   */
  constructor(
    options: { masterKeys?: readonly string[]; id?: string; deletionWindowDays?: number } = {},
  ) {
    const source = new MemorySecretSource();
    super({ source, id: options.id ?? 'memory' });
    this.#source = source;
    this.#deletionWindowDays = options.deletionWindowDays;
    for (const id of options.masterKeys ?? ['master']) this.createMasterKey(id);
  }

  /** Create (or replace) a random master key. */
  createMasterKey(id: string): void {
    const bytes = randomBytes(32);
    this.#source.keys.set(id, new SecretKey(id, bytes));
    bytes.fill(0);
  }

  /** Destroy a master key: every data key wrapped under it becomes unrecoverable. */
  destroyMasterKey(id: string): void {
    this.#source.keys.get(id)?.wipe();
    this.#source.keys.delete(id);
  }

  /** Whether a master key exists (and is usable). */
  hasMasterKey(id: string): boolean {
    return this.#source.keys.has(id);
  }

  protected override async _destroyMasterKey(masterKeyId: string): Promise<MasterKeyDestruction> {
    await this.#before();
    this.destroyMasterKey(masterKeyId);
    const days = this.#deletionWindowDays;
    return days === undefined
      ? { state: 'destroyed' }
      : { state: 'pending-deletion', deletionDate: new Date(Date.now() + days * 86_400_000) };
  }

  /** Make the next `times` calls fail (`Infinity` for an outage). */
  injectFault(fault: InjectedFault, times = 1): void {
    this.#fault = fault;
    this.#faultsLeft = times;
  }

  /** Delay every call by `ms` (to test timeouts and single-flight). */
  setLatency(ms: number): void {
    this.#latencyMs = ms;
  }

  protected override async _wrap(
    masterKeyId: string,
    key: Uint8Array,
    context: KeyContext,
  ): Promise<Uint8Array> {
    await this.#before();
    return super._wrap(masterKeyId, key, context);
  }

  protected override async _unwrap(
    masterKeyId: string,
    wrapped: Uint8Array,
    context: KeyContext,
  ): Promise<Uint8Array> {
    await this.#before();
    return super._unwrap(masterKeyId, wrapped, context);
  }

  async #before(): Promise<void> {
    if (this.#latencyMs > 0) await new Promise((r) => setTimeout(r, this.#latencyMs));
    if (this.#faultsLeft > 0) {
      this.#faultsLeft--;
      if (this.#fault === 'timeout') throw new ProviderUnavailableError('injected timeout');
      throw new Error('injected outage');
    }
  }
}
