import { KeyNotConfiguredError, KeyUnwrapFailedError, ProviderUnavailableError } from '../index.js';
import type { KeyContext } from '../index.js';
import { encodeCanonicalMap } from '../integration/index.js';
import { KeyProvider, type KeyProviderCapabilities, type MasterKeyDestruction } from '../index.js';
import { VaultClient } from './vault-client.js';
import { transitError } from './vault-errors.js';
import type { VaultConnectionOptions } from './vault-options.js';

/**
 * Options of {@link VaultTransitKeyProvider}: the connection, plus the Transit mount, the
 * provider id and the mode whose operations this process may use.
 * @example
 * ```ts
 * const options: VaultTransitKeyProviderOptions = {
 *   address: 'https://vault.internal:8200',
 *   auth: { method: 'token', token: process.env.VAULT_TOKEN! },
 *   mode: 'ReadOnly',
 * };
 * ```
 */
export interface VaultTransitKeyProviderOptions extends VaultConnectionOptions {
  /** Mount path of the Transit engine (default `transit`). */
  readonly mount?: string;
  /** Provider id stored in self-contained envelopes (default `vault-transit`). */
  readonly id?: string;
  /**
   * Operations this process uses, matching its Vault policy: `ReadWrite` (datakey, encrypt,
   * decrypt), `WriteOnly` (datakey and encrypt: cannot unwrap), `ReadOnly` (decrypt only).
   */
  readonly mode?: 'ReadWrite' | 'WriteOnly' | 'ReadOnly';
  /**
   * Before the first use of each transit key, read it (`GET <mount>/keys/<name>`, one call per
   * key per process) and refuse it unless it was created with `derived=true` (default `true`):
   * Vault does not bind the `context` to a non-derived key, so tenants would not be separated.
   * Turn off only if the policy cannot grant `read` on the key and you checked it yourself.
   */
  readonly requireDerived?: boolean;
  /**
   * Let `scheduleMasterKeyDeletion` (crypto-shredding with one transit key per tenant) delete
   * transit keys: it sets `deletion_allowed` and deletes the key and all its versions, at once
   * and for good (default `false`: `canDestroyMasterKeys` is false). Never enable it with one
   * shared transit key: fieldseal only destroys per-tenant master keys, but a policy mistake
   * would erase every tenant.
   */
  readonly allowKeyDeletion?: boolean;
}

/**
 * What `GET /v1/<mount>/keys/<name>` says about a transit key.
 * @example
 * ```ts
 * const info: VaultTransitKeyInfo = await provider.describeKey('fieldseal');
 * if (!info.derived) throw new Error('create the key with derived=true');
 * ```
 */
export interface VaultTransitKeyInfo {
  readonly latestVersion: number;
  readonly minDecryptionVersion: number;
  readonly derived: boolean;
}

const CIPHERTEXT = /^vault:v([1-9][0-9]{0,8}):[A-Za-z0-9+/]+={0,2}$/;

/**
 * The transit key version a wrapped data key was made with (the `N` of `vault:vN:`).
 * @throws KeyUnwrapFailedError when the bytes are not a Vault ciphertext.
 * @example
 * ```ts
 * if (vaultKeyVersion(wrapped) < info.latestVersion) wrapped = await provider.rewrapDataKey(mk, wrapped, ctx);
 * ```
 */
export function vaultKeyVersion(wrapped: Uint8Array): number {
  const m = CIPHERTEXT.exec(Buffer.from(wrapped).toString('utf8'));
  if (m === null) throw new KeyUnwrapFailedError('wrapped data key is not a Vault ciphertext');
  return Number(m[1]);
}

/**
 * HashiCorp Vault Transit as a key provider, over `fetch` (no SDK).
 *
 * - **generate**: one call to `datakey/plaintext` returns the new key and its wrapped form, so
 *   a WriteOnly service needs no `decrypt` permission (`datakey/wrapped` + `decrypt` would
 *   need both and cost two calls).
 * - **wrap**: `encrypt`; **unwrap**: `decrypt`; the wrapped form is Vault's `vault:vN:...`
 *   ciphertext as UTF-8 bytes.
 * - **per-tenant derivation**: every call sends the provider context (tenant, ...) in its
 *   canonical encoding, base64'd, as Transit's `context`. With a key created `derived=true`,
 *   one transit key serves every tenant with a key derived per context, and a wrapped key moved
 *   to another tenant does not decrypt.
 * - **rotation**: `rewrapDataKey` re-wraps under the latest key version without exposing the
 *   data key; a version below `min_decryption_version` is `ERR_KEY_RETIRED`.
 * - **fail closed on a non-derived key**: Vault ignores the context of a key created without
 *   `derived=true`, so each key is read once per process (`GET keys/:name`) and refused with
 *   `ERR_KEY_NOT_CONFIGURED` unless derived (`requireDerived: false` skips the check).
 *
 * Errors: 403 → `ERR_ACCESS_DENIED`, unknown key → `ERR_KEY_NOT_CONFIGURED`, failed decrypt
 * → `ERR_KEY_UNWRAP_FAILED`, 5xx / 429 / timeouts after 3 attempts →
 * `ERR_PROVIDER_UNAVAILABLE`.
 *
 * @example
 * ```ts
 * const provider = new VaultTransitKeyProvider({
 *   address: 'https://vault.internal:8200',
 *   auth: { method: 'approle', roleId, secretId },
 * });
 * const fs = createFieldseal({ provider, keys: { mode: 'embedded', masterKeyId: 'fieldseal' } });
 * ```
 */
export class VaultTransitKeyProvider extends KeyProvider {
  readonly id: string;
  readonly capabilities: KeyProviderCapabilities;
  readonly #client: VaultClient;
  readonly #mount: string;
  readonly #requireDerived: boolean;
  readonly #allowKeyDeletion: boolean;
  readonly #checked = new Map<string, Promise<void>>();

  constructor(options: VaultTransitKeyProviderOptions) {
    super();
    this.#client = new VaultClient(options, () => this.noteThrottled());
    this.#mount = encodePath(options.mount ?? 'transit');
    this.id = options.id ?? 'vault-transit';
    this.#requireDerived = options.requireDerived ?? true;
    this.#allowKeyDeletion = options.allowKeyDeletion ?? false;
    const mode = options.mode ?? 'ReadWrite';
    this.capabilities = Object.freeze({
      generate: mode !== 'ReadOnly',
      wrap: mode !== 'ReadOnly',
      unwrap: mode !== 'WriteOnly',
    });
  }

  /**
   * Re-wrap a stored wrapped key under the latest version of its transit key (Vault
   * `rewrap`): the data key never leaves Vault, so this works with a policy that allows
   * `rewrap` only.
   * @throws KeyRetiredError below `min_decryption_version`; KeyUnwrapFailedError for a wrong
   *   key, context or tampered bytes; AccessDeniedError; ProviderUnavailableError.
   * @example
   * ```ts
   * const newer = await provider.rewrapDataKey('fieldseal', wrapped, { tenant: 'acme' });
   * ```
   */
  async rewrapDataKey(
    masterKeyId: string,
    wrapped: Uint8Array,
    context: KeyContext,
  ): Promise<Uint8Array> {
    if (typeof masterKeyId !== 'string' || masterKeyId.length === 0) {
      throw new TypeError('masterKeyId: expected a non-empty string');
    }
    const ciphertext = this.#ciphertext(wrapped);
    await this.#checkDerived(masterKeyId);
    try {
      const res = await this.#client.call('POST', this.#path('rewrap', masterKeyId), {
        ciphertext,
        context: vaultContext(context),
      });
      return this.#wrappedOf(res, masterKeyId);
    } catch (err) {
      throw transitError(err, 'rewrap', masterKeyId);
    }
  }

  /**
   * Latest version, `min_decryption_version` and derivation of a transit key.
   * @throws KeyNotConfiguredError for an unknown key; AccessDeniedError; ProviderUnavailableError.
   * @example
   * ```ts
   * const { latestVersion } = await provider.describeKey('fieldseal');
   * ```
   */
  async describeKey(masterKeyId: string): Promise<VaultTransitKeyInfo> {
    try {
      const res = await this.#client.call(
        'GET',
        `${this.#mount}/keys/${encodeURIComponent(masterKeyId)}`,
      );
      const d = (res.data ?? {}) as Record<string, unknown>;
      if (typeof d.latest_version !== 'number' || typeof d.min_decryption_version !== 'number') {
        throw new ProviderUnavailableError('Vault returned an unexpected transit key description');
      }
      return Object.freeze({
        latestVersion: d.latest_version,
        minDecryptionVersion: d.min_decryption_version,
        derived: d.derived === true,
      });
    } catch (err) {
      throw transitError(err, 'describe', masterKeyId);
    }
  }

  /** Only with `allowKeyDeletion: true`. */
  override get canDestroyMasterKeys(): boolean {
    return this.#allowKeyDeletion && super.canDestroyMasterKeys;
  }

  /** `deletion_allowed=true`, then `DELETE <mount>/keys/<name>`: every version is gone. */
  protected override async _destroyMasterKey(masterKeyId: string): Promise<MasterKeyDestruction> {
    const path = `${this.#mount}/keys/${encodeURIComponent(masterKeyId)}`;
    try {
      await this.#client.call('POST', `${path}/config`, { deletion_allowed: true });
      await this.#client.call('DELETE', path);
    } catch (err) {
      throw transitError(err, 'destroy', masterKeyId);
    } finally {
      this.#checked.delete(masterKeyId);
    }
    return { state: 'destroyed' };
  }

  protected override async _generate(
    masterKeyId: string,
    context: KeyContext,
  ): Promise<{ plaintext: Uint8Array; wrapped: Uint8Array }> {
    await this.#checkDerived(masterKeyId);
    try {
      const res = await this.#client.call('POST', this.#path('datakey/plaintext', masterKeyId), {
        context: vaultContext(context),
        bits: 256,
      });
      const wrapped = this.#wrappedOf(res, masterKeyId);
      return { plaintext: plaintextOf(res), wrapped };
    } catch (err) {
      throw transitError(err, 'generate', masterKeyId);
    }
  }

  protected async _wrap(
    masterKeyId: string,
    key: Uint8Array,
    context: KeyContext,
  ): Promise<Uint8Array> {
    await this.#checkDerived(masterKeyId);
    try {
      const res = await this.#client.call('POST', this.#path('encrypt', masterKeyId), {
        plaintext: Buffer.from(key).toString('base64'),
        context: vaultContext(context),
      });
      return this.#wrappedOf(res, masterKeyId);
    } catch (err) {
      throw transitError(err, 'wrap', masterKeyId);
    }
  }

  protected async _unwrap(
    masterKeyId: string,
    wrapped: Uint8Array,
    context: KeyContext,
  ): Promise<Uint8Array> {
    const ciphertext = this.#ciphertext(wrapped);
    await this.#checkDerived(masterKeyId);
    try {
      const res = await this.#client.call('POST', this.#path('decrypt', masterKeyId), {
        ciphertext,
        context: vaultContext(context),
      });
      return plaintextOf(res);
    } catch (err) {
      throw transitError(err, 'unwrap', masterKeyId);
    }
  }

  /** Refuse a non-derived key once per key name; a failed check is tried again next call. */
  #checkDerived(masterKeyId: string): Promise<void> {
    if (!this.#requireDerived) return Promise.resolve();
    let check = this.#checked.get(masterKeyId);
    if (check === undefined) {
      check = this.describeKey(masterKeyId).then((info) => {
        if (!info.derived) {
          throw new KeyNotConfiguredError(
            `Vault transit key "${masterKeyId}" is not derived: create it with derived=true`,
            { details: { keyRef: `vault-transit:${masterKeyId}` } },
          );
        }
      });
      this.#checked.set(masterKeyId, check);
      check.catch(() => this.#checked.delete(masterKeyId));
    }
    return check;
  }

  #path(op: string, masterKeyId: string): string {
    return `${this.#mount}/${op}/${encodeURIComponent(masterKeyId)}`;
  }

  /** Refuse anything that is not a Vault ciphertext before it reaches Vault. */
  #ciphertext(wrapped: Uint8Array): string {
    const text = Buffer.from(wrapped).toString('utf8');
    if (!CIPHERTEXT.test(text)) {
      throw new KeyUnwrapFailedError('wrapped data key is not a Vault transit ciphertext');
    }
    return text;
  }

  #wrappedOf(res: Record<string, unknown>, masterKeyId: string): Uint8Array {
    const ciphertext = (res.data as { ciphertext?: unknown } | undefined)?.ciphertext;
    if (typeof ciphertext !== 'string' || !CIPHERTEXT.test(ciphertext)) {
      throw new ProviderUnavailableError(
        `Vault transit returned no ciphertext for key "${masterKeyId}"`,
      );
    }
    return Buffer.from(ciphertext, 'utf8');
  }
}

/** A mount path (`transit`, `team/transit`) with each segment URL-encoded. */
function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** Transit `context`: the canonical encoding of the provider context (docs/format.md §4). */
function vaultContext(context: KeyContext): string {
  return encodeCanonicalMap(context).toString('base64');
}

function plaintextOf(res: Record<string, unknown>): Buffer {
  const plaintext = (res.data as { plaintext?: unknown } | undefined)?.plaintext;
  if (typeof plaintext !== 'string') {
    throw new ProviderUnavailableError('Vault transit returned no plaintext');
  }
  return Buffer.from(plaintext, 'base64');
}
