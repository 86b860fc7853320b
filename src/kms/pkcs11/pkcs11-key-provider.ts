import { randomBytes } from 'node:crypto';
import { KeyUnwrapFailedError, ProviderUnavailableError } from '../../errors.js';
import type { KeyContext } from '../../envelope/context.js';
import {
  KeyProvider,
  type KeyProviderCapabilities,
  type MasterKeyDestruction,
} from '../key-provider.js';
import { isAvailabilityFailure, tokenError } from './pkcs11-errors.js';
import { acquireLibrary, findSlotByTokenLabel, type LibraryLease } from './pkcs11-library.js';
import {
  checkLabel,
  findMasterKey,
  masterKeyTemplate,
  notConfigured,
  requireMasterKey,
  type TokenCall,
} from './master-key-objects.js';
import type { Pkcs11PinSource } from './pin-source.js';
import { resolveOptions, type Pkcs11KeyProviderOptions } from './pkcs11-options.js';
import { SessionPool } from './session-pool.js';
import {
  decodeWrapped,
  encodeWrapped,
  gcmMechanism,
  IV_LENGTH,
  TAG_LENGTH,
  wrapAad,
} from './wrap-format.js';

interface Connection {
  readonly lease: LibraryLease;
  readonly pool: SessionPool;
}

/**
 * Master keys in a PKCS#11 token offering `CKM_AES_GCM` (SoftHSM2, AWS CloudHSM, Thales
 * Luna...): each master key is a non-extractable, sensitive AES-256 secret-key object whose
 * `CKA_LABEL` is the master key id, and it never leaves the token. Data keys are wrapped with
 * AES-256-GCM inside the token (`C_Encrypt` with `CKM_AES_GCM`), a fresh 96-bit IV per wrap
 * and the provider context bound as GCM additional data (`wrap-format.ts`: 61 bytes).
 *
 * GCM rather than `C_WrapKey` with `CKM_AES_KEY_WRAP`: RFC 3394 / 5649 key wrap has no
 * associated data, so the tenant, key id and version could not be bound to the wrapped key,
 * and wrapping raw bytes with it would need the data key imported as a token object first.
 *
 * The token is found by label; sessions are pooled and logged in with the user PIN, which
 * is read only when a login is needed. pkcs11js runs `C_Encrypt` / `C_Decrypt` on libuv
 * worker threads, so a slow network HSM does not block the event loop. Token failures are
 * `ERR_PROVIDER_UNAVAILABLE` naming the `CKR_*` code; an unknown label is
 * `ERR_KEY_NOT_CONFIGURED`; a wrapped key that does not decrypt is `ERR_KEY_UNWRAP_FAILED`.
 *
 * @example
 * ```ts
 * import { Pkcs11KeyProvider } from 'fieldseal/kms/pkcs11';
 *
 * const provider = new Pkcs11KeyProvider({
 *   tokenLabel: 'fieldseal',
 *   pin: { env: 'FIELDSEAL_HSM_PIN' },
 * });
 * await provider.init(); // fail at start-up, not on the first request
 * await provider.createMasterKey('tenant-acme');
 * const fs = createFieldseal({ provider, keys: { mode: 'embedded', masterKeyId: 'tenant-acme' } });
 * // ...
 * await provider.close();
 * ```
 */
export class Pkcs11KeyProvider extends KeyProvider {
  readonly id: string;
  readonly capabilities: KeyProviderCapabilities = { generate: true, wrap: true, unwrap: true };
  /** The PKCS#11 module path (not a secret). */
  readonly library: string;
  /** The token's label. */
  readonly tokenLabel: string;
  readonly #pin: Pkcs11PinSource;
  readonly #sessions: number;
  #connection: Promise<Connection> | undefined;
  #closed = false;

  /**
   * Check the options; nothing is loaded until {@link Pkcs11KeyProvider.init} or first use.
   * @throws TypeError / RangeError naming the option.
   */
  constructor(options: Pkcs11KeyProviderOptions) {
    super();
    const { library, tokenLabel, pin, sessions, id } = resolveOptions(options);
    this.library = library;
    this.tokenLabel = tokenLabel;
    this.#pin = pin;
    this.#sessions = sessions;
    this.id = id;
  }

  /**
   * Load the module, find the token and log in now, so a wrong path, label or PIN stops the
   * process at start-up.
   * @throws ProviderUnavailableError (the message names the CKR code); KeyNotConfiguredError
   *   when the PIN variable is unset.
   */
  async init(): Promise<void> {
    const { pool } = await this.#connect();
    await pool.use(() => Promise.resolve());
  }

  /**
   * Generate a master key in the token (`CKM_AES_KEY_GEN`, 256 bits, token object, private,
   * sensitive, non-extractable, encrypt/decrypt only) labelled `label`, for instance one per
   * tenant. Returns `existing` without change when a conforming key already has the label.
   * Two processes creating the same label at once can make two objects; every later use of
   * the label then fails closed (`ERR_PROVIDER_UNAVAILABLE`, ambiguous).
   * @throws InvalidKeyMaterialError when an object with the label exists but is not a
   *   non-extractable AES-256 key; ProviderUnavailableError.
   */
  async createMasterKey(label: string): Promise<'created' | 'existing'> {
    checkLabel(label);
    return this.#withSession((call) => {
      const { session, lib, k } = call;
      if (findMasterKey(call, label, true, this.#ref(label)) !== undefined)
        return Promise.resolve('existing' as const);
      try {
        lib.C_GenerateKey(session, { mechanism: k.CKM_AES_KEY_GEN }, masterKeyTemplate(k, label));
      } catch (err) {
        throw tokenError('C_GenerateKey', err, this.#ref(label));
      }
      return Promise.resolve('created' as const);
    });
  }

  /**
   * Whether the token holds a usable master key (non-extractable AES-256) labelled `label`.
   * @throws InvalidKeyMaterialError when the label names a key that is not one;
   *   ProviderUnavailableError.
   */
  async hasMasterKey(label: string): Promise<boolean> {
    checkLabel(label);
    return this.#withSession((call) =>
      Promise.resolve(findMasterKey(call, label, true, this.#ref(label)) !== undefined),
    );
  }

  /**
   * Close every session once running operations finish, and finalize the module when no
   * other provider of this process uses it. Later calls fail with `ERR_PROVIDER_UNAVAILABLE`.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const connecting = this.#connection;
    this.#connection = undefined;
    if (connecting === undefined) return;
    const connection = await connecting.catch(() => undefined);
    if (connection === undefined) return;
    await connection.pool.close();
    connection.lease.release();
  }

  protected async _wrap(
    masterKeyId: string,
    key: Uint8Array,
    context: KeyContext,
  ): Promise<Uint8Array> {
    const aad = wrapAad(masterKeyId, context);
    return this.#withSession(async (call) => {
      const { session, lib, k } = call;
      const handle = requireMasterKey(call, masterKeyId, this.tokenLabel, this.#ref(masterKeyId));
      const iv = randomBytes(IV_LENGTH);
      try {
        lib.C_EncryptInit(session, gcmMechanism(k, iv, aad), handle);
      } catch (err) {
        throw tokenError('C_EncryptInit', err, this.#ref(masterKeyId));
      }
      const input = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
      let sealed: Buffer;
      try {
        sealed = await lib.C_EncryptAsync(
          session,
          input,
          Buffer.alloc(key.byteLength + TAG_LENGTH),
        );
      } catch (err) {
        throw tokenError('C_Encrypt', err, this.#ref(masterKeyId));
      }
      return encodeWrapped(iv, sealed);
    });
  }

  protected async _unwrap(
    masterKeyId: string,
    wrapped: Uint8Array,
    context: KeyContext,
  ): Promise<Uint8Array> {
    const { iv, sealed } = decodeWrapped(wrapped);
    const aad = wrapAad(masterKeyId, context);
    return this.#withSession(async (call) => {
      const { session, lib, k } = call;
      const handle = requireMasterKey(call, masterKeyId, this.tokenLabel, this.#ref(masterKeyId));
      try {
        lib.C_DecryptInit(session, gcmMechanism(k, iv, aad), handle);
      } catch (err) {
        throw tokenError('C_DecryptInit', err, this.#ref(masterKeyId));
      }
      const out = Buffer.alloc(sealed.byteLength);
      let plain: Buffer;
      try {
        plain = await lib.C_DecryptAsync(session, sealed, out);
      } catch (err) {
        out.fill(0);
        if (isAvailabilityFailure(err)) throw tokenError('C_Decrypt', err, this.#ref(masterKeyId));
        // SoftHSM2 reports a GCM tag mismatch as CKR_GENERAL_ERROR, others as
        // CKR_ENCRYPTED_DATA_INVALID: either way these bytes do not unwrap here.
        throw new KeyUnwrapFailedError(
          'data key does not unwrap under this master key and context',
          { details: { keyRef: this.#ref(masterKeyId) } },
        );
      }
      if (plain.byteLength !== 32) {
        out.fill(0);
        throw new KeyUnwrapFailedError('unwrapped data key is not 32 bytes');
      }
      return plain;
    });
  }

  protected override async _destroyMasterKey(masterKeyId: string): Promise<MasterKeyDestruction> {
    return this.#withSession(({ session, lib, k }) => {
      const ref = this.#ref(masterKeyId);
      const handle = findMasterKey({ session, lib, k }, masterKeyId, false, ref);
      if (handle === undefined) {
        return Promise.reject(notConfigured(masterKeyId, this.tokenLabel, ref));
      }
      try {
        lib.C_DestroyObject(session, handle);
      } catch (err) {
        throw tokenError('C_DestroyObject', err, this.#ref(masterKeyId));
      }
      return Promise.resolve({ state: 'destroyed' as const });
    });
  }

  #connect(): Promise<Connection> {
    if (this.#closed) {
      return Promise.reject(new ProviderUnavailableError('the PKCS#11 key provider is closed'));
    }
    this.#connection ??= this.#open().catch((err: unknown) => {
      this.#connection = undefined;
      throw err;
    });
    return this.#connection;
  }

  async #open(): Promise<Connection> {
    const lease = await acquireLibrary(this.library);
    try {
      const slot = findSlotByTokenLabel(lease.lib, this.tokenLabel);
      const pool = new SessionPool({
        lib: lease.lib,
        constants: lease.constants,
        slot,
        size: this.#sessions,
        pin: this.#pin,
      });
      return { lease, pool };
    } catch (err) {
      lease.release();
      throw err;
    }
  }

  async #withSession<T>(fn: (call: TokenCall) => Promise<T>): Promise<T> {
    const { lease, pool } = await this.#connect();
    return pool.use((session) => fn({ session, lib: lease.lib, k: lease.constants }));
  }

  #ref(label: string): string {
    return `${this.id}:${label}`;
  }
}
