import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import {
  InvalidKeyMaterialError,
  KeyNotConfiguredError,
  KeyUnwrapFailedError,
  ProviderUnavailableError,
  isFieldsealError,
} from '../../errors.js';
import { encodeCanonicalMap, type KeyContext } from '../../envelope/context.js';
import { MAX_WRAPPED_KEY_BYTES } from '../../envelope/format.js';
import { DataKey } from '../../keys/data-key.js';
import {
  KeyProvider,
  type KeyProviderCapabilities,
  type MasterKeyDestruction,
} from '../key-provider.js';

/**
 * One copy of a data key: wrapped by `provider` under `masterKeyId`.
 * @example
 * ```ts
 * const copy: MultiWrapTarget = { provider: kmsEuWest, masterKeyId: 'alias/fieldseal' };
 * ```
 */
export interface MultiWrapTarget {
  readonly provider: KeyProvider;
  readonly masterKeyId: string;
}

/**
 * Options of {@link MultiKeyProvider}.
 * @example
 * ```ts
 * const options: MultiKeyProviderOptions = {
 *   masterKeys: { 'dr-pair': [{ provider: kmsEu, masterKeyId: 'alias/fs' }, { provider: hsm, masterKeyId: 'fs-master' }] },
 * };
 * ```
 */
export interface MultiKeyProviderOptions {
  /**
   * Logical master key id → the copies to make, in order of preference for unwrapping. Every
   * target's provider must be able to wrap; at least one must be able to unwrap to read.
   */
  readonly masterKeys: Readonly<Record<string, readonly MultiWrapTarget[]>>;
  /** Provider id stored in envelopes and key-store rows (default `multi`). */
  readonly id?: string;
}

const VERSION = 0x01;
const MAC = 32;
const MAC_LABEL = Buffer.from('fieldseal/multi-wrap/v1 mac\0', 'utf8');

/** HMAC-SHA256 under a key derived from the data key, over every copy and the context. */
function mac(
  dataKey: Uint8Array,
  body: Uint8Array,
  masterKeyId: string,
  context: KeyContext,
): Buffer {
  const macKey = Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), MAC_LABEL, 32));
  try {
    return createHmac('sha256', macKey)
      .update(body)
      .update(field16(masterKeyId))
      .update(encodeCanonicalMap(context))
      .digest();
  } finally {
    macKey.fill(0);
  }
}

/**
 * One data key wrapped under several master keys — two regions of a KMS, or a KMS and an HSM —
 * so that any one of them can unwrap it: the disaster-recovery case. The wrapped form (format
 * version 1: `0x01 | count | (u8 id length | provider id | u16 master key id length |
 * master key id | u16 wrapped length | wrapped)* | 32-byte tag`, the tag an HMAC-SHA256 under
 * a key derived (HKDF) from the data key over every copy, the master key id and the context,
 * so a tampered copy is detected even when another copy is the one unwrapped) holds every copy; unwrapping tries them in
 * the configured order and moves on when a provider is unavailable or its master key is gone,
 * so the loss of one region does not stop reads; a copy its provider rejects as tampered
 * (`ERR_KEY_UNWRAP_FAILED`) fails the unwrap at once. A copy that unwraps to a different key than the others is
 * caught by the envelope's key commitment (`ERR_WRONG_KEY`).
 *
 * @example
 * ```ts
 * const provider = new MultiKeyProvider({
 *   masterKeys: { 'dr-pair': [{ provider: awsEu, masterKeyId: 'alias/fs' }, { provider: awsUs, masterKeyId: 'alias/fs' }] },
 * });
 * const fs = createFieldseal({ provider, keys: { mode: 'store', store, masterKeyId: 'dr-pair' }, cache });
 * ```
 */
export class MultiKeyProvider extends KeyProvider {
  readonly id: string;
  readonly capabilities: KeyProviderCapabilities;
  readonly #targets: ReadonlyMap<string, readonly MultiWrapTarget[]>;

  constructor(options: MultiKeyProviderOptions) {
    super();
    this.id = options.id ?? 'multi';
    const targets = new Map<string, readonly MultiWrapTarget[]>();
    let unwrap = true;
    for (const [id, list] of Object.entries(options.masterKeys ?? {})) {
      if (!Array.isArray(list) || list.length === 0) {
        throw new TypeError(`masterKeys.${id}: expected at least one target`);
      }
      for (const t of list as readonly MultiWrapTarget[]) {
        if (!(t.provider instanceof KeyProvider) || !t.provider.capabilities.wrap) {
          throw new TypeError(`masterKeys.${id}: every target needs a provider that can wrap`);
        }
      }
      unwrap &&= (list as readonly MultiWrapTarget[]).some((t) => t.provider.capabilities.unwrap);
      targets.set(id, [...(list as readonly MultiWrapTarget[])]);
    }
    this.#targets = targets;
    this.capabilities = { generate: true, wrap: true, unwrap };
  }

  protected async _wrap(
    masterKeyId: string,
    key: Uint8Array,
    context: KeyContext,
  ): Promise<Uint8Array> {
    const targets = this.#targetsOf(masterKeyId);
    const holder = DataKey.fromBytes(key);
    try {
      const parts: Buffer[] = [Buffer.from([VERSION, targets.length])];
      for (const t of targets) {
        const wrapped = await t.provider.wrapDataKey(t.masterKeyId, holder, context);
        parts.push(field8(t.provider.id), field16(t.masterKeyId), field16(wrapped));
      }
      const body = Buffer.concat(parts);
      const out = Buffer.concat([body, mac(key, body, masterKeyId, context)]);
      if (out.byteLength > MAX_WRAPPED_KEY_BYTES) {
        throw new InvalidKeyMaterialError('the wrapped copies exceed the wrapped-key size limit');
      }
      return out;
    } finally {
      holder.release();
    }
  }

  protected async _unwrap(
    masterKeyId: string,
    wrapped: Uint8Array,
    context: KeyContext,
  ): Promise<Uint8Array> {
    const targets = this.#targetsOf(masterKeyId);
    if (wrapped.byteLength < MAC + 2) {
      throw new KeyUnwrapFailedError('wrapped data key is not in the multi-provider format');
    }
    const body = Buffer.from(wrapped.subarray(0, wrapped.byteLength - MAC));
    const tag = Buffer.from(wrapped.subarray(wrapped.byteLength - MAC));
    const copies = parse(body);
    // Every copy must name a configured target: ids are not authenticated by themselves, so
    // a renamed copy is treated as tampering, not skipped.
    for (const c of copies) {
      if (!targets.some((t) => t.provider.id === c.providerId && t.masterKeyId === c.masterKeyId)) {
        throw new KeyUnwrapFailedError('a copy of the data key names no configured master key');
      }
    }
    const errors: unknown[] = [];
    for (const t of targets) {
      if (!t.provider.capabilities.unwrap) continue;
      const copy = copies.find(
        (c) => c.providerId === t.provider.id && c.masterKeyId === t.masterKeyId,
      );
      if (copy === undefined) continue;
      try {
        const key = await t.provider.unwrapDataKey(t.masterKeyId, copy.wrapped, context);
        try {
          // The copies not used are authenticated too: the tag covers every byte.
          const expected = mac(key.exposeBytes(), body, masterKeyId, context);
          if (expected.byteLength !== tag.byteLength || !timingSafeEqual(expected, tag)) {
            throw new KeyUnwrapFailedError('the multi-provider wrapped key was modified');
          }
          return Uint8Array.from(key.exposeBytes());
        } finally {
          key.release();
        }
      } catch (err) {
        // A copy that its provider refuses (tampered, wrong context) is a red flag, not an
        // outage: fail closed instead of trying the next copy.
        if (isFieldsealError(err) && err.code === 'ERR_KEY_UNWRAP_FAILED') throw err;
        errors.push(err);
      }
    }
    if (
      errors.length > 0 &&
      errors.every((e) => isFieldsealError(e) && e.code === 'ERR_PROVIDER_UNAVAILABLE')
    ) {
      throw new ProviderUnavailableError('every provider holding a copy of the data key failed', {
        cause: errors[0],
      });
    }
    throw new KeyUnwrapFailedError(
      'no copy of the data key unwraps under the configured master keys',
      {
        cause: errors[0],
      },
    );
  }

  protected override async _destroyMasterKey(masterKeyId: string): Promise<MasterKeyDestruction> {
    // Every copy is attempted, even after a failure, so a retry finishes what is left; a key
    // a provider no longer knows counts as destroyed.
    let latest: Date | undefined;
    let failure: Error | undefined;
    for (const t of this.#targetsOf(masterKeyId)) {
      try {
        const r = await t.provider.scheduleMasterKeyDeletion(t.masterKeyId);
        if (r.deletionDate !== undefined && (latest === undefined || r.deletionDate > latest)) {
          latest = r.deletionDate;
        }
      } catch (err) {
        if (!(isFieldsealError(err) && err.code === 'ERR_KEY_NOT_CONFIGURED')) {
          failure ??=
            err instanceof Error ? err : new ProviderUnavailableError('destruction failed');
        }
      }
    }
    if (failure !== undefined) throw failure;
    return latest === undefined
      ? { state: 'destroyed' }
      : { state: 'pending-deletion', deletionDate: latest };
  }

  /** True when every copy's provider can destroy its master key. */
  override get canDestroyMasterKeys(): boolean {
    return [...this.#targets.values()].every((list) =>
      list.every((t) => t.provider.canDestroyMasterKeys),
    );
  }

  /** Its own throttling answers plus those of every provider it wraps through (each once). */
  override get throttles(): number {
    let n = super.throttles;
    const seen = new Set<KeyProvider>();
    for (const list of this.#targets.values()) {
      for (const { provider } of list) {
        if (seen.has(provider)) continue;
        seen.add(provider);
        n += provider.throttles;
      }
    }
    return n;
  }

  #targetsOf(masterKeyId: string): readonly MultiWrapTarget[] {
    const targets = this.#targets.get(masterKeyId);
    if (targets === undefined) {
      throw new KeyNotConfiguredError(`no multi-provider master key "${masterKeyId}"`, {
        details: { reference: masterKeyId },
      });
    }
    return targets;
  }
}

function field8(text: string): Buffer {
  const b = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from([b.byteLength]), b]);
}

function field16(data: string | Uint8Array): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.byteLength, 0);
  return Buffer.concat([len, b]);
}

function parse(
  wrapped: Uint8Array,
): { providerId: string; masterKeyId: string; wrapped: Uint8Array }[] {
  const b = Buffer.from(wrapped);
  const fail = (): never => {
    throw new KeyUnwrapFailedError('wrapped data key is not in the multi-provider format');
  };
  if (b.byteLength < 2 || b[0] !== VERSION) fail();
  const count = b[1]!;
  let at = 2;
  const take = (n: number): Buffer => {
    if (at + n > b.byteLength) fail();
    const out = b.subarray(at, at + n);
    at += n;
    return out;
  };
  const out = [];
  for (let i = 0; i < count; i++) {
    const providerId = take(take(1)[0]!).toString('utf8');
    const masterKeyId = take(take(2).readUInt16BE(0)).toString('utf8');
    const copy = Uint8Array.from(take(take(2).readUInt16BE(0)));
    out.push({ providerId, masterKeyId, wrapped: copy });
  }
  if (at !== b.byteLength) fail();
  return out;
}
