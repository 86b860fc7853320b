import {
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { ProviderUnavailableError, isFieldsealError } from '../../errors.js';
import type { KeyContext } from '../../envelope/context.js';
import {
  KeyProvider,
  type KeyProviderCapabilities,
  type MasterKeyDestruction,
} from '../key-provider.js';
import {
  KmsClientPool,
  type KmsClientLike,
  type KmsClientSettings,
  type KmsClientSupplier,
} from './kms-client.js';
import { EncryptionContextNames, type EncryptionContextKeys } from './encryption-context-keys.js';
import { classifyKmsFailure, isThrottling, mapKmsFailure } from './kms-error-mapping.js';
import { RetryPolicy, type AwsKmsRetryOptions } from './retry-policy.js';

/**
 * Options of {@link AwsKmsKeyProvider}.
 * @example
 * ```ts
 * const options: AwsKmsKeyProviderOptions = {
 *   region: 'eu-west-1',
 *   retry: { attemptTimeoutMs: 2000 },
 *   deletionWindowDays: 30,
 * };
 * ```
 */
export interface AwsKmsKeyProviderOptions extends KmsClientSettings {
  /**
   * A `KMSClient` for every region, or a supplier of one client per region (the region of a
   * key ARN; `undefined` for key ids and aliases). Set `maxAttempts: 1` on clients you build:
   * the provider retries itself. Default: `new KMSClient({ region, endpoint, maxAttempts: 1 })`.
   */
  readonly client?: KmsClientLike | KmsClientSupplier;
  /** Provider id stored in self-contained envelopes (default `aws-kms`). */
  readonly id?: string;
  /** Retries, backoff and the per-attempt timeout. */
  readonly retry?: AwsKmsRetryOptions;
  /** Waiting period of `scheduleMasterKeyDeletion`, 7 to 30 days (default 30). */
  readonly deletionWindowDays?: number;
  /**
   * Names of the encryption context entries, for key policies and CloudTrail queries written
   * for other names, e.g. `{ tenant: 'tenant_id' }` (default: `tenant`, `key`, `version`).
   * Part of what a wrapped key is bound to: data keys wrapped under one naming only unwrap
   * under the same naming.
   */
  readonly encryptionContextKeys?: EncryptionContextKeys;
}

/**
 * Master keys in AWS KMS, reached through `@aws-sdk/client-kms`: data keys come from
 * `GenerateDataKey` (AES_256), `wrapDataKey` uses `Encrypt`, `unwrapDataKey` uses `Decrypt`
 * with the key id pinned. The provider context (`tenant`, and for key-store keys `key` and
 * `version`) is sent as the KMS encryption context, so key policies and CloudTrail see it and
 * a wrapped key only decrypts under the same context. `encryptionContextKeys` renames its
 * entries (e.g. `tenant_id`) for policies written for other names.
 *
 * Master key ids may be a key id, key ARN, alias name (`alias/fieldseal/acme`) or alias ARN;
 * ARNs are sent to a client for their own region. `scheduleMasterKeyDeletion` (what
 * `shredTenant` calls for per-tenant master keys) is `ScheduleKeyDeletion`, which disables the
 * key at once. Failures are typed and retried as docs/providers.md ("AWS KMS") describes.
 *
 * @example
 * ```ts
 * import { AwsKmsKeyProvider } from 'fieldseal/kms/aws';
 * const provider = new AwsKmsKeyProvider({ region: 'eu-west-1' });
 * const fs = createFieldseal({
 *   provider,
 *   keys: { mode: 'embedded', masterKeyId: (tenant) => `alias/fieldseal/${tenant}` },
 *   cache: { maxAgeMs: 5 * 60_000, maxUses: 1_000_000 },
 * });
 * ```
 */
export class AwsKmsKeyProvider extends KeyProvider {
  readonly id: string;
  readonly capabilities: KeyProviderCapabilities = { generate: true, wrap: true, unwrap: true };
  readonly #clients: KmsClientPool;
  readonly #retry: RetryPolicy;
  readonly #deletionWindowDays: number;
  readonly #contextNames: EncryptionContextNames;

  constructor(options: AwsKmsKeyProviderOptions = {}) {
    super();
    this.#contextNames = new EncryptionContextNames(options.encryptionContextKeys);
    this.id = options.id ?? 'aws-kms';
    this.#clients = new KmsClientPool(options.client, options);
    this.#retry = new RetryPolicy(options.retry);
    const days = options.deletionWindowDays ?? 30;
    if (!Number.isInteger(days) || days < 7 || days > 30) {
      throw new RangeError(`deletionWindowDays: expected an integer from 7 to 30, got ${days}`);
    }
    this.#deletionWindowDays = days;
  }

  protected override async _generate(
    masterKeyId: string,
    context: KeyContext,
  ): Promise<{ plaintext: Uint8Array; wrapped: Uint8Array }> {
    const out = await this.#send('GenerateDataKey', masterKeyId, (client, abortSignal) =>
      client.send(
        new GenerateDataKeyCommand({
          KeyId: masterKeyId,
          KeySpec: 'AES_256',
          EncryptionContext: this.#contextNames.toKms(context),
        }),
        { abortSignal },
      ),
    );
    if (out.Plaintext === undefined || out.CiphertextBlob === undefined) {
      out.Plaintext?.fill(0);
      throw new ProviderUnavailableError('AWS KMS GenerateDataKey returned no data key');
    }
    return { plaintext: out.Plaintext, wrapped: out.CiphertextBlob };
  }

  protected override async _wrap(
    masterKeyId: string,
    key: Uint8Array,
    context: KeyContext,
  ): Promise<Uint8Array> {
    const out = await this.#send('Encrypt', masterKeyId, (client, abortSignal) =>
      client.send(
        new EncryptCommand({
          KeyId: masterKeyId,
          Plaintext: key,
          EncryptionContext: this.#contextNames.toKms(context),
        }),
        { abortSignal },
      ),
    );
    if (out.CiphertextBlob === undefined) {
      throw new ProviderUnavailableError('AWS KMS Encrypt returned no ciphertext');
    }
    return out.CiphertextBlob;
  }

  protected override async _unwrap(
    masterKeyId: string,
    wrapped: Uint8Array,
    context: KeyContext,
  ): Promise<Uint8Array> {
    const out = await this.#send('Decrypt', masterKeyId, (client, abortSignal) =>
      client.send(
        // KeyId pins the master key: a blob of another key is IncorrectKeyException.
        new DecryptCommand({
          KeyId: masterKeyId,
          CiphertextBlob: wrapped,
          EncryptionContext: this.#contextNames.toKms(context),
        }),
        { abortSignal },
      ),
    );
    if (out.Plaintext === undefined) {
      throw new ProviderUnavailableError('AWS KMS Decrypt returned no plaintext');
    }
    return out.Plaintext;
  }

  /**
   * `ScheduleKeyDeletion` with the configured window; the key is disabled at once. A key
   * already pending deletion is reported with its existing date (`DescribeKey`), so a
   * repeated shred succeeds.
   */
  protected override async _destroyMasterKey(masterKeyId: string): Promise<MasterKeyDestruction> {
    try {
      const out = await this.#send('ScheduleKeyDeletion', masterKeyId, (client, abortSignal) =>
        client.send(
          new ScheduleKeyDeletionCommand({
            KeyId: masterKeyId,
            PendingWindowInDays: this.#deletionWindowDays,
          }),
          { abortSignal },
        ),
      );
      return pending(out.DeletionDate);
    } catch (err) {
      if (!isFieldsealError(err) || err.code !== 'ERR_KEY_SHREDDED') throw err;
      const out = await this.#send('DescribeKey', masterKeyId, (client, abortSignal) =>
        client.send(new DescribeKeyCommand({ KeyId: masterKeyId }), { abortSignal }),
      );
      if (out.KeyMetadata?.KeyState !== 'PendingDeletion') throw err;
      return pending(out.KeyMetadata.DeletionDate);
    }
  }

  /** One KMS operation under the retry policy; failures come out as fieldseal errors. */
  #send<T>(
    operation: string,
    masterKeyId: string,
    call: (client: KmsClientLike, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const client = this.#clients.forKey(masterKeyId);
    const details = { keyRef: `${this.id}:${masterKeyId}` };
    return this.#retry.run(
      (signal) => call(client, signal),
      (f) => classifyKmsFailure(f.error, f.timedOut) === 'transient',
      (f) => mapKmsFailure(operation, f.error, f.timedOut, details),
      (f) => {
        if (!f.timedOut && isThrottling(f.error)) this.noteThrottled();
      },
    );
  }
}

function pending(date: Date | undefined): MasterKeyDestruction {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
    throw new ProviderUnavailableError('AWS KMS ScheduleKeyDeletion returned no deletion date');
  }
  return { state: 'pending-deletion', deletionDate: date };
}
