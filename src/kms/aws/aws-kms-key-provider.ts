import {
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { KeyNotConfiguredError, ProviderUnavailableError, isFieldsealError } from '../../errors.js';
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
  /**
   * Use multi-Region keys through their replica in this Region: every call for a multi-Region
   * key ARN of another Region (`arn:aws:kms:us-east-1:…:key/mrk-…`) goes to this Region, as the
   * ARN of the key's replica here. Values written in one Region are then read in another,
   * next to a replicated table, without calls across Regions. A Region without a replica of
   * the key fails closed (`ERR_KEY_NOT_CONFIGURED`); no call goes to the ARN's own Region.
   * Other ids (single-Region keys, aliases, bare key ids) are not changed.
   */
  readonly replicaRegion?: string;
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
  readonly #replicaRegion: string | undefined;

  constructor(options: AwsKmsKeyProviderOptions = {}) {
    super();
    this.#contextNames = new EncryptionContextNames(options.encryptionContextKeys);
    const replicaRegion = options.replicaRegion;
    if (
      replicaRegion !== undefined &&
      (typeof replicaRegion !== 'string' || !REGION.test(replicaRegion))
    ) {
      throw new TypeError('replicaRegion: expected an AWS Region such as eu-west-1');
    }
    this.#replicaRegion = replicaRegion;
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
    const keyId = this.#keyIdFor(masterKeyId);
    const out = await this.#send('GenerateDataKey', keyId, (client, abortSignal) =>
      client.send(
        new GenerateDataKeyCommand({
          KeyId: keyId,
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
    const keyId = this.#keyIdFor(masterKeyId);
    const out = await this.#send('Encrypt', keyId, (client, abortSignal) =>
      client.send(
        new EncryptCommand({
          KeyId: keyId,
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
    const keyId = this.#keyIdFor(masterKeyId);
    const out = await this.#send('Decrypt', keyId, (client, abortSignal) =>
      client.send(
        // KeyId pins the master key: a blob of another key is IncorrectKeyException.
        new DecryptCommand({
          KeyId: keyId,
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

  /**
   * The key id to send for `masterKeyId`: with `replicaRegion`, a multi-Region key ARN of
   * another Region becomes its replica's ARN in that Region.
   */
  #keyIdFor(masterKeyId: string): string {
    const region = this.#replicaRegion;
    if (region === undefined) return masterKeyId;
    const m = MRK_ARN.exec(masterKeyId);
    if (m === null && /:key\/mrk-/i.test(masterKeyId)) {
      // Not a well-formed multi-Region key ARN: never send it to the Region it names.
      throw new KeyNotConfiguredError(`"${masterKeyId}" is not a multi-Region key ARN`, {
        details: { keyRef: `${this.id}:${masterKeyId}` },
      });
    }
    return m === null ? masterKeyId : `${m[1]}${region}${m[3]}`;
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

/** An AWS Region name (`eu-west-1`, `us-gov-west-1`, `ap-southeast-2`). */
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;
/** A multi-Region key ARN: prefix up to the Region, the Region, the rest (`:acct:key/mrk-…`). */
const MRK_ARN = /^(arn:aws[a-z-]*:kms:)([a-z0-9-]+)(:\d{12}:key\/mrk-[0-9a-fA-F]{32})$/;

function pending(date: Date | undefined): MasterKeyDestruction {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
    throw new ProviderUnavailableError('AWS KMS ScheduleKeyDeletion returned no deletion date');
  }
  return { state: 'pending-deletion', deletionDate: date };
}
