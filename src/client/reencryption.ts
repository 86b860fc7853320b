import { checkedContext, type EncryptionContext } from '../envelope/context.js';
import { toText } from '../envelope/encoding.js';
import type { FieldValue } from '../envelope/plaintext.js';
import type { FieldRules, PreparedRead } from './field-rules.js';
import type { KeyResolver } from './keys/key-resolver.js';
import type { MetricsRecorder } from './metrics.js';
import type { ValueCodec } from './value-codec.js';

/**
 * `Fieldseal.reencrypt`: a stored value moved under the tenant's current key. The envelope is
 * parsed once; that parse gives both the key it names (is it the current one?) and what is
 * opened. Counted as one decrypt and, when the value changes, one encrypt, as the client's
 * own `decrypt` and `encrypt` count them.
 * @internal
 */
export class Reencryption {
  readonly #rules: FieldRules;
  readonly #resolver: KeyResolver;
  readonly #codec: ValueCodec;
  readonly #metrics: MetricsRecorder;

  constructor(
    rules: FieldRules,
    resolver: KeyResolver,
    codec: ValueCodec,
    metrics: MetricsRecorder,
  ) {
    this.#rules = rules;
    this.#resolver = resolver;
    this.#codec = codec;
    this.#metrics = metrics;
  }

  async reencrypt<S extends string | Uint8Array>(
    stored: S,
    given: EncryptionContext,
  ): Promise<{ stored: S extends string ? string : Buffer; changed: boolean }> {
    type Out = S extends string ? string : Buffer;
    // Checked before anything else (and read once): an odd context is ERR_INVALID_CONTEXT,
    // and never reaches the key store.
    const context = checkedContext(given).context;
    const started = performance.now();
    let item: PreparedRead;
    try {
      item = this.#rules.prepareRead(stored, context);
    } catch (err) {
      throw this.#codec.failed(err, 'decrypt', context);
    }
    let value: unknown;
    if (item.kind === 'plaintext') {
      value = item.value;
    } else {
      const current = await this.#resolver.isCurrent(item.env.keyRef, item.tenant);
      try {
        // Opened even when current: we never vouch for what does not authenticate.
        value = await this.#codec.open(item, started);
      } catch (err) {
        throw this.#codec.failed(err, 'decrypt', context);
      }
      if (current) return { stored: stored as unknown as Out, changed: false };
    }
    const sealing = performance.now();
    try {
      const sealed = await this.#codec.seal(value as FieldValue, context, undefined);
      const out = typeof stored === 'string' ? toText(sealed) : sealed;
      this.#metrics.completed('encrypt', sealing, 1);
      return { stored: out as Out, changed: true };
    } catch (err) {
      throw this.#codec.failed(err, 'encrypt', context);
    }
  }
}
