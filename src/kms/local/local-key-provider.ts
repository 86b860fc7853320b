import { KeyUnwrapFailedError } from '../../errors.js';
import { encodeCanonicalMap, type KeyContext } from '../../envelope/context.js';
import { fillRandom } from '../../crypto/random.js';
import { XaesRootKey, xaesOpen, xaesSeal } from '../../crypto/xaes-256-gcm.js';
import type { SecretSource } from '../../secrets/secret-source.js';
import { KeyProvider, type KeyProviderCapabilities } from '../key-provider.js';

/**
 * Options of {@link LocalKeyProvider}.
 * @example
 * ```ts
 * const options: LocalKeyProviderOptions = { source: new FileSecretSource({ keys: { master: path } }) };
 * ```
 */
export interface LocalKeyProviderOptions {
  /** Where master keys come from; a master key id is a reference in this source. */
  readonly source: SecretSource;
  /** Provider id stored in self-contained envelopes (default `local`). */
  readonly id?: string;
}

const WRAP_VERSION = 0x01;
const NONCE = 24;
const TAG = 16;
/** Wrapped form: version (1) | nonce (24) | ciphertext (32) | tag (16) = 73 bytes. */
const WRAPPED_LENGTH = 1 + NONCE + 32 + TAG;
const LABEL = Buffer.from('fieldseal/local-wrap/v1\0', 'utf8');

/**
 * Master keys held by the application (from env or files) wrapping data keys with
 * XAES-256-GCM. The AAD binds the master key id and the provider context (tenant, key id,
 * version), so a wrapped key moved to another tenant or version does not unwrap.
 *
 * Suitable for development, tests and small deployments; production master keys belong in a
 * KMS or HSM, where they never enter the process.
 *
 * @example
 * ```ts
 * const provider = new LocalKeyProvider({
 *   source: new EnvSecretSource({ keys: { master: 'FIELDSEAL_MASTER_KEY' } }),
 * });
 * ```
 */
export class LocalKeyProvider extends KeyProvider {
  readonly id: string;
  readonly capabilities: KeyProviderCapabilities = { generate: true, wrap: true, unwrap: true };
  readonly #source: SecretSource;

  constructor(options: LocalKeyProviderOptions) {
    super();
    this.#source = options.source;
    this.id = options.id ?? 'local';
  }

  protected async _wrap(
    masterKeyId: string,
    key: Uint8Array,
    context: KeyContext,
  ): Promise<Uint8Array> {
    const master = await this.#source.getKey(masterKeyId);
    const out = Buffer.allocUnsafe(WRAPPED_LENGTH);
    out[0] = WRAP_VERSION;
    fillRandom(out, 1, NONCE);
    const root = master.use((bytes) => new XaesRootKey(bytes));
    try {
      const { chunks, tag } = xaesSeal(root, out, 1, aad(masterKeyId, context), [key]);
      let at = 1 + NONCE;
      for (const c of chunks) at += c.copy(out, at);
      tag.copy(out, at);
    } finally {
      root.destroy();
    }
    return out;
  }

  protected async _unwrap(
    masterKeyId: string,
    wrapped: Uint8Array,
    context: KeyContext,
  ): Promise<Uint8Array> {
    const master = await this.#source.getKey(masterKeyId);
    if (wrapped.byteLength !== WRAPPED_LENGTH || wrapped[0] !== WRAP_VERSION) {
      throw new KeyUnwrapFailedError('wrapped data key is not in the local provider format');
    }
    const root = master.use((bytes) => new XaesRootKey(bytes));
    try {
      const bytes = Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength);
      return xaesOpen(
        root,
        bytes,
        1,
        aad(masterKeyId, context),
        bytes.subarray(1 + NONCE, WRAPPED_LENGTH - TAG),
        bytes.subarray(WRAPPED_LENGTH - TAG),
      );
    } catch (cause) {
      throw new KeyUnwrapFailedError('data key does not unwrap under this master key and context', {
        cause,
      });
    } finally {
      root.destroy();
    }
  }
}

function aad(masterKeyId: string, context: KeyContext): Buffer[] {
  const id = Buffer.from(masterKeyId, 'utf8');
  const idLen = Buffer.alloc(2);
  idLen.writeUInt16BE(id.byteLength, 0);
  return [LABEL, idLen, id, encodeCanonicalMap(context)];
}
