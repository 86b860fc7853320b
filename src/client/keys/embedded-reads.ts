import { KeyNotConfiguredError } from '../../errors.js';
import type { KeyRef } from '../../envelope/key-ref.js';
import type { CacheLease } from '../../keys/data-key-cache.js';
import type { FieldKey } from '../field-key.js';
import { readCacheId } from './cache-ids.js';
import { releaseKey, type KeySourceParts, type ReadKeyExtra } from './key-source.js';
import { embeddedContext } from './provider-context.js';

/**
 * Lease the data key a self-contained (embedded) envelope carries, unwrapped once per cache
 * fill. Both key sources read such envelopes (a store-mode client reads those written before a
 * move to the store, or by an embedded ingest service).
 * @param field - the field's key context: the key is unwrapped under it (and cached by it).
 * @param beforeUnwrap - a last refusal before the (paid) provider call, once the master key is
 *   accepted: the store source refuses shredded tenants there.
 * @internal
 */
export function leaseEmbeddedRead(
  parts: KeySourceParts,
  ref: Extract<KeyRef, { kind: 'embedded' }>,
  tenant: string,
  uses: number,
  gen: number,
  field: FieldKey | undefined,
  beforeUnwrap?: () => Promise<void>,
): Promise<CacheLease<ReadKeyExtra>> {
  return parts.cache.acquire(readCacheId(ref, tenant, field?.contextId), uses, async () => {
    const provider = parts.providers.get(ref.providerId);
    if (provider === undefined) {
      throw new KeyNotConfiguredError('no configured key provider matches the envelope', {
        details: { keyRef: `${ref.providerId}:${ref.masterKeyId}` },
      });
    }
    // Once per cache fill: the cache id holds provider, master key and tenant, so a key
    // admitted here never serves an envelope naming another master key or tenant.
    parts.policy.checkAccepted(ref.providerId, ref.masterKeyId, tenant);
    await beforeUnwrap?.();
    const key = await parts.observe(
      {
        operation: 'unwrap',
        providerId: provider.id,
        masterKeyId: ref.masterKeyId,
        tenant,
      },
      () =>
        provider.unwrapDataKey(
          ref.masterKeyId,
          ref.wrapped,
          embeddedContext(tenant, field?.context),
        ),
      releaseKey,
    );
    parts.generations.assertCurrent(tenant, gen, key);
    return { key, extra: { reads: parts.keyReads?.cell(ref) } };
  });
}
