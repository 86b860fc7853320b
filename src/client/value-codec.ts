import { isFieldsealError } from '../errors.js';
import type { EncryptionContext } from '../envelope/context.js';
import { openValue, sealValue } from '../envelope/envelope.js';
import { wipeEncoded, type FieldValue } from '../envelope/plaintext.js';
import type { CacheLease } from '../keys/data-key-cache.js';
import type { PaddingOption } from '../envelope/plaintext.js';
import type { ValueOperation } from '../metrics/metrics-sink.js';
import type { FieldRules, PreparedEnvelope, PreparedWrite } from './field-rules.js';
import type { KeyResolver } from './keys/key-resolver.js';
import type { ReadKeyExtra, WriteKeyExtra } from './keys/key-source.js';
import type { MetricsRecorder } from './metrics.js';

/**
 * Seal and open single values: the bodies of `Fieldseal.encrypt` / `decrypt` below their
 * latency and failure accounting, shared with re-encryption. Warm keys are used
 * synchronously (no extra promise); a lease is always released and encoded plaintext wiped.
 * @internal
 */
export class ValueCodec {
  readonly #rules: FieldRules;
  readonly #resolver: KeyResolver;
  readonly #metrics: MetricsRecorder;

  constructor(rules: FieldRules, resolver: KeyResolver, metrics: MetricsRecorder) {
    this.#rules = rules;
    this.#resolver = resolver;
    this.#metrics = metrics;
  }

  /**
   * One value sealed under the tenant's write key: synchronously when the key is cached, else
   * once the key is loaded.
   */
  seal(
    value: FieldValue,
    context: EncryptionContext,
    pad: PaddingOption | undefined,
  ): Buffer | Promise<Buffer> {
    const item = this.#rules.prepareWrite(value, context, pad);
    let lease: CacheLease<WriteKeyExtra> | undefined;
    try {
      lease = this.#resolver.peekWrite(item.tenant, 1, item.fieldKey);
    } catch (err) {
      wipeEncoded(item.plaintext);
      throw err;
    }
    if (lease === undefined) return this.#sealCold(item);
    return this.#sealWith(item, lease);
  }

  async #sealCold(item: PreparedWrite): Promise<Buffer> {
    try {
      return await this.#resolver.withWriteKey(item.tenant, 1, item.fieldKey, (lease) =>
        this.#sealWith(item, lease),
      );
    } finally {
      wipeEncoded(item.plaintext);
    }
  }

  /** Seal a prepared value; releases the lease and wipes the encoded plaintext. */
  #sealWith(item: PreparedWrite, lease: CacheLease<WriteKeyExtra>): Buffer {
    try {
      const out = sealValue(lease.key, lease.extra.prefix, item.contextBytes, item.plaintext);
      this.#metrics.encrypted++;
      return out;
    } finally {
      lease.key.release();
      wipeEncoded(item.plaintext);
    }
  }

  /**
   * Open a prepared (already parsed) envelope under the key it names, and count it as one
   * decrypt begun at `started`: synchronously when the key is cached.
   */
  open<T>(item: PreparedEnvelope, started: number): T | Promise<T> {
    const open = (lease: CacheLease<ReadKeyExtra>): T => {
      try {
        const value = openValue(item.env, lease.key, item.contextBytes);
        this.#metrics.decrypted++;
        const cell = lease.extra?.reads;
        if (cell !== undefined) cell.n++;
        else this.#metrics.keyRead(item.env.keyRef, 1);
        this.#metrics.completed('decrypt', started, 1);
        return value as T;
      } finally {
        lease.key.release();
      }
    };
    const warm = this.#resolver.peekRead(item.env.keyRef, item.tenant, 1, item.fieldKey);
    if (warm !== undefined) return open(warm);
    return this.#resolver.withReadKey(item.env.keyRef, item.tenant, 1, item.fieldKey, open);
  }

  /** Count a failure and make sure it is a FieldsealError (programming errors pass through). */
  failed(err: unknown, operation: ValueOperation, context: EncryptionContext): unknown {
    if (isFieldsealError(err)) this.#metrics.fail(err, operation, context);
    return err;
  }
}
