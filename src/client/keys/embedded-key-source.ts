import { KeyNotConfiguredError } from '../../errors.js';
import { encodeHeaderPrefix, type KeyRef } from '../../envelope/key-ref.js';
import type { CacheLease } from '../../keys/data-key-cache.js';
import type { FieldKey } from '../field-key.js';
import { isHeaderMasterKeyId } from '../field-master-key.js';
import { readCacheId, writeCacheId } from './cache-ids.js';
import { leaseEmbeddedRead } from './embedded-reads.js';
import {
  releaseGenerated,
  type KeySource,
  type KeySourceParts,
  type ReadKeyExtra,
  type WriteKeyExtra,
} from './key-source.js';
import { embeddedContext } from './provider-context.js';

/**
 * Data keys of `keys.mode: 'embedded'`: the writer generates one data key per tenant (and per
 * field master key), wrapped under the tenant's master key, and every envelope carries its
 * wrapped key. No key store: envelopes naming one are refused.
 * @internal
 */
export class EmbeddedKeySource implements KeySource {
  readonly keyId = '';
  readonly #parts: KeySourceParts;

  constructor(parts: KeySourceParts) {
    this.#parts = parts;
  }

  peekWrite(
    tenant: string,
    uses: number,
    field: FieldKey | undefined,
  ): CacheLease<WriteKeyExtra> | undefined {
    const { cache, writer, policy } = this.#parts;
    // A field without a master key or key context of its own takes the unchanged path.
    if (field === undefined) {
      return cache.tryAcquire(writeCacheId(writer.id, policy.masterFor(tenant), tenant), uses);
    }
    return cache.tryAcquire(
      writeCacheId(
        writer.id,
        field.masterKeyId ?? policy.masterFor(tenant),
        tenant,
        field.contextId,
      ),
      uses,
    );
  }

  /**
   * @param field - the field's own master key and key context, if it has them: the data key is
   *   then generated under that master key and provider context, and cached per (writer,
   *   master key, tenant, key context) like any other write key, so two master keys or two
   *   key contexts never share a data key.
   */
  async forWrite(
    tenant: string,
    uses: number,
    field: FieldKey | undefined,
    gen: number,
  ): Promise<CacheLease<WriteKeyExtra>> {
    const { cache, writer: provider, policy, generations, observe, keyReads } = this.#parts;
    const master = field?.masterKeyId ?? policy.masterFor(tenant);
    const contextId = field?.contextId;
    // An id the envelope header cannot hold is refused before any (paid) provider call.
    if (!isHeaderMasterKeyId(master)) {
      throw new KeyNotConfiguredError('the master key id does not fit an envelope header');
    }
    return cache.acquire(writeCacheId(provider.id, master, tenant, contextId), uses, async () => {
      const { key, wrapped } = await observe(
        { operation: 'generate', providerId: provider.id, masterKeyId: master, tenant },
        () => provider.generateDataKey(master, embeddedContext(tenant, field?.context)),
        releaseGenerated,
      );
      generations.assertCurrent(tenant, gen, key);
      const ref: KeyRef = {
        kind: 'embedded',
        providerId: provider.id,
        masterKeyId: master,
        wrapped,
      };
      let prefix: Buffer;
      try {
        prefix = encodeHeaderPrefix(ref);
      } catch (err) {
        key.release();
        throw new KeyNotConfiguredError('the master key id does not fit an envelope header', {
          cause: err,
        });
      }
      // A value read back right after it was written must not cost an unwrap -- unless the
      // provider cannot unwrap (public-key, write-only): then the key must not be readable
      // from this process's memory either, beyond the writes it serves.
      if (provider.capabilities.unwrap) {
        cache.insert(readCacheId(ref, tenant, contextId), key, { reads: keyReads?.cell(ref) });
      }
      return { key, extra: { prefix } };
    });
  }

  forRead(
    ref: KeyRef,
    tenant: string,
    uses: number,
    gen: number,
    field: FieldKey | undefined,
  ): Promise<CacheLease<ReadKeyExtra>> {
    if (ref.kind === 'store') {
      return Promise.reject(
        new KeyNotConfiguredError('envelope references a key store and none is configured', {
          details: { keyRef: `${ref.keyId}@${ref.version}` },
        }),
      );
    }
    return leaseEmbeddedRead(this.#parts, ref, tenant, uses, gen, field);
  }

  /** Embedded mode has no versions: every value is sealed again under the current write key. */
  isCurrent(): Promise<boolean> {
    return Promise.resolve(false);
  }

  /** Nothing but keys is cached in embedded mode. */
  forget(): void {}

  setCaching(): void {}
}
