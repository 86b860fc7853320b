import { createCipheriv, createDecipheriv, createPublicKey, hkdfSync } from 'node:crypto';
import { KeyNotConfiguredError, KeyUnwrapFailedError } from '../../errors.js';
import { encodeCanonicalMap, type KeyContext } from '../../envelope/context.js';
import { fillRandom } from '../../crypto/random.js';
import type { SecretSource } from '../../secrets/secret-source.js';
import { KeyProvider, type KeyProviderCapabilities } from '../key-provider.js';
import { ephemeralPair, privateFromRaw, publicFromRaw, rawPublic, sharedSecret } from './x25519.js';

/**
 * Options of {@link X25519KeyProvider}.
 * @example
 * ```ts
 * const writer: X25519KeyProviderOptions = { publicKeys: { 'tenant-acme': acmePublicKey } };
 * const reader: X25519KeyProviderOptions = { publicKeys: {}, privateKeys: new FileSecretSource({ keys: { 'tenant-acme': 'acme.key' } }) };
 * ```
 */
export interface X25519KeyProviderOptions {
  /** Raw 32-byte public keys by master key id (writers need these only). */
  readonly publicKeys: Readonly<Record<string, Uint8Array>>;
  /**
   * Where the raw 32-byte private keys are, by the same master key ids. Absent: the provider
   * cannot unwrap at all (`capabilities.unwrap` is false) — a true write-only deployment.
   */
  readonly privateKeys?: SecretSource;
  /** Provider id stored in self-contained envelopes (default `x25519`). */
  readonly id?: string;
}

const VERSION = 0x01;
const NONCE = 12;
const TAG = 16;
/** version (1) | ephemeral public key (32) | nonce (12) | wrapped key (32) | tag (16) = 93. */
const WRAPPED_LENGTH = 1 + 32 + NONCE + 32 + TAG;
const LABEL = Buffer.from('fieldseal/x25519-wrap/v1\0', 'utf8');

/**
 * Data keys wrapped to a public key (X25519 ECDH with an ephemeral key per wrap, HKDF-SHA256,
 * AES-256-GCM with the master key id and the context as AAD): an ingest service configured
 * with public keys only can generate and wrap data keys but has no way to unwrap one, so what
 * it wrote cannot be read back from its key store or its envelopes — only by a process holding
 * the private key (from a `SecretSource`: a key file, Vault KV, ...).
 *
 * Write-only holds from the moment a data key leaves the process's memory: a writer still
 * encrypts with the data key it generated while that key is cached (`cache.maxAgeMs`,
 * `maxUses`). Use `cache: { maxAgeMs, maxUses: 1 }` on the ingest side if even its memory must
 * never hold a key that decrypts more than one value. Use embedded mode (each envelope carries
 * its wrapped key); in store mode a writer could not load the active version it did not create.
 *
 * @example
 * ```ts
 * const ingest = createFieldseal({
 *   provider: new X25519KeyProvider({ publicKeys: { 'tenant-acme': acmePublicKey } }),
 *   keys: { mode: 'embedded', masterKeyId: (tenant) => `tenant-${tenant}` },
 *   cache: { maxAgeMs: 60_000, maxUses: 1 },
 *   mode: 'WriteOnly',
 * });
 * ```
 */
export class X25519KeyProvider extends KeyProvider {
  readonly id: string;
  readonly capabilities: KeyProviderCapabilities;
  readonly #publicKeys: ReadonlyMap<string, Buffer>;
  readonly #privateKeys: SecretSource | undefined;

  constructor(options: X25519KeyProviderOptions) {
    super();
    this.id = options.id ?? 'x25519';
    const keys = new Map<string, Buffer>();
    for (const [id, raw] of Object.entries(options.publicKeys ?? {})) {
      publicFromRaw(raw); // validates length and encoding now, not on the first write
      keys.set(id, Buffer.from(raw));
    }
    this.#publicKeys = keys;
    this.#privateKeys = options.privateKeys;
    this.capabilities = {
      generate: true,
      wrap: true,
      unwrap: options.privateKeys !== undefined,
    };
  }

  protected async _wrap(
    masterKeyId: string,
    key: Uint8Array,
    context: KeyContext,
  ): Promise<Uint8Array> {
    const recipientRaw = await this.#recipient(masterKeyId);
    const recipient = publicFromRaw(recipientRaw);
    const eph = ephemeralPair();
    const kek = deriveKek(
      sharedSecret(eph.privateKey, recipient),
      eph.publicRaw,
      recipientRaw,
      masterKeyId,
    );
    const out = Buffer.allocUnsafe(WRAPPED_LENGTH);
    out[0] = VERSION;
    eph.publicRaw.copy(out, 1);
    fillRandom(out, 33, NONCE);
    try {
      const cipher = createCipheriv('aes-256-gcm', kek, out.subarray(33, 33 + NONCE), {
        authTagLength: TAG,
      });
      cipher.setAAD(aad(masterKeyId, context));
      const ct = Buffer.concat([cipher.update(key), cipher.final()]);
      ct.copy(out, 33 + NONCE);
      ct.fill(0);
      cipher.getAuthTag().copy(out, WRAPPED_LENGTH - TAG);
      return out;
    } finally {
      kek.fill(0);
    }
  }

  protected async _unwrap(
    masterKeyId: string,
    wrapped: Uint8Array,
    context: KeyContext,
  ): Promise<Uint8Array> {
    const source = this.#privateKeys;
    if (source === undefined) {
      throw new KeyNotConfiguredError('this provider holds public keys only: it cannot unwrap');
    }
    if (wrapped.byteLength !== WRAPPED_LENGTH || wrapped[0] !== VERSION) {
      throw new KeyUnwrapFailedError('wrapped data key is not in the x25519 provider format');
    }
    const secret = await source.getKey(masterKeyId);
    const bytes = Buffer.from(wrapped);
    try {
      const { privateKey, recipientRaw } = secret.use((raw) => {
        const priv = privateFromRaw(raw);
        return { privateKey: priv, recipientRaw: rawPublic(createPublicKey(priv)) };
      });
      const ephRaw = bytes.subarray(1, 33);
      const kek = deriveKek(
        sharedSecret(privateKey, publicFromRaw(ephRaw)),
        ephRaw,
        recipientRaw,
        masterKeyId,
      );
      try {
        const decipher = createDecipheriv('aes-256-gcm', kek, bytes.subarray(33, 33 + NONCE), {
          authTagLength: TAG,
        });
        decipher.setAAD(aad(masterKeyId, context));
        decipher.setAuthTag(bytes.subarray(WRAPPED_LENGTH - TAG));
        return Buffer.concat([
          decipher.update(bytes.subarray(33 + NONCE, WRAPPED_LENGTH - TAG)),
          decipher.final(),
        ]);
      } finally {
        kek.fill(0);
      }
    } catch (cause) {
      throw new KeyUnwrapFailedError(
        'data key does not unwrap under this private key and context',
        {
          cause,
        },
      );
    }
  }

  async #recipient(masterKeyId: string): Promise<Buffer> {
    const known = this.#publicKeys.get(masterKeyId);
    if (known !== undefined) return known;
    // A reading process may hold only private keys: derive the public key from it.
    if (this.#privateKeys !== undefined) {
      const secret = await this.#privateKeys.getKey(masterKeyId);
      return secret.use((raw) => rawPublic(createPublicKey(privateFromRaw(raw))));
    }
    throw new KeyNotConfiguredError(`no public key "${masterKeyId}"`, {
      details: { reference: masterKeyId },
    });
  }
}

function deriveKek(
  shared: Buffer,
  ephRaw: Uint8Array,
  recipientRaw: Uint8Array,
  masterKeyId: string,
): Buffer {
  try {
    const id = Buffer.from(masterKeyId, 'utf8');
    const info = Buffer.concat([LABEL, u16(id.byteLength), id]);
    return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephRaw, recipientRaw]), info, 32));
  } finally {
    shared.fill(0);
  }
}

function aad(masterKeyId: string, context: KeyContext): Buffer {
  const id = Buffer.from(masterKeyId, 'utf8');
  return Buffer.concat([LABEL, u16(id.byteLength), id, encodeCanonicalMap(context)]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}
