import { MAX_WRAPPED_KEY_BYTES } from '../../integration/index.js';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { KeyStoreUnavailableError } from '../../index.js';
import { STORE_KEY_COMMITMENT_LENGTH } from '../../integration/index.js';
import type { KeyVersionState, NewKeyVersion, StoredKeyVersion } from '../../index.js';
import { headKey, isVersionNumber, versionKey } from './item-keys.js';

/*
 * Item shapes of the key-store table (attribute names are part of the stored format):
 *
 *   version item: pk S, sk S, tenant S, keyId S, version N, state S, providerId S,
 *                 masterKeyId S, wrapped B (absent once shredded), createdAt N (epoch ms),
 *                 commitment B (32 bytes; absent on rows created before commitments existed
 *                 until set once, and once shredded)
 *   head item:    pk S, sk S, tenant S, keyId S, active N (the active version)
 */

/**
 * A raw item as the low-level client returns it.
 * @internal
 * @example
 * ```ts
 * const item: Item | undefined = (await client.send(new GetItemCommand(input))).Item;
 * ```
 */
export type Item = Record<string, AttributeValue>;

const STATES: ReadonlySet<string> = new Set<KeyVersionState>([
  'active',
  'decrypt-only',
  'retired',
  'shredded',
]);

/**
 * `ExpressionAttributeNames` for every attribute an expression names (`state` is a DynamoDB
 * reserved word; aliasing all of them keeps expressions uniform).
 * @internal
 * @example
 * ```ts
 * send(new UpdateItemCommand({ ..., ExpressionAttributeNames: names('state') }));
 * ```
 */
export function names(...attributes: string[]): Record<string, string> {
  return Object.fromEntries(attributes.map((a) => [`#${a}`, a]));
}

/**
 * The expression value of a state, for conditions and updates.
 * @internal
 * @example
 * ```ts
 * const values = { ':retired': stateValue('retired') };
 * ```
 */
export function stateValue(state: KeyVersionState): AttributeValue {
  return { S: state };
}

/**
 * The item of a new active version.
 * @internal
 * @example
 * ```ts
 * const Item = newVersionItem(record, new Date());
 * ```
 */
export function newVersionItem(record: NewKeyVersion, createdAt: Date): Item {
  return {
    ...versionKey(record.tenant, record.keyId, record.version),
    tenant: { S: record.tenant },
    keyId: { S: record.keyId },
    version: { N: String(record.version) },
    state: stateValue('active'),
    providerId: { S: record.providerId },
    masterKeyId: { S: record.masterKeyId },
    wrapped: { B: Uint8Array.from(record.wrapped) },
    createdAt: { N: String(createdAt.getTime()) },
    ...(record.commitment === undefined
      ? {}
      : { commitment: { B: Uint8Array.from(record.commitment) } }),
  };
}

/**
 * The head item recording `active` as the active version of a tenant's key id.
 * @internal
 * @example
 * ```ts
 * const Item = headItem('acme', 'default', 1);
 * ```
 */
export function headItem(tenant: string, keyId: string, active: number): Item {
  return {
    ...headKey(tenant, keyId),
    tenant: { S: tenant },
    keyId: { S: keyId },
    active: { N: String(active) },
  };
}

/**
 * The active version a head item records, or `null` (no head, or one without `active`).
 * @internal
 * @example
 * ```ts
 * const active = activeOf(head); // 3
 * ```
 */
export function activeOf(head: Item | undefined): number | null {
  const n = head?.active?.N;
  if (n === undefined) return null;
  const active = Number(n);
  if (!isVersionNumber(active)) throw malformed();
  return active;
}

/**
 * Read a version item back, frozen, with a copy of its wrapped bytes (empty once shredded).
 * Returns undefined when the item belongs to another tenant or key id than asked for — the
 * key encoding makes that impossible, but a store must never hand out another tenant's key.
 * @internal
 * @throws KeyStoreUnavailableError when the item is not a well-formed version item.
 * @example
 * ```ts
 * const row = toStoredVersion(out.Item, tenant, keyId);
 * ```
 */
export function toStoredVersion(
  item: Item,
  tenant: string,
  keyId?: string,
): StoredKeyVersion | undefined {
  const t = item.tenant?.S;
  const k = item.keyId?.S;
  const state = item.state?.S;
  const version = Number(item.version?.N);
  const createdAt = Number(item.createdAt?.N);
  const providerId = item.providerId?.S;
  const masterKeyId = item.masterKeyId?.S;
  const wrapped = item.wrapped?.B;
  const commitment = item.commitment;
  if (
    t === undefined ||
    k === undefined ||
    state === undefined ||
    !STATES.has(state) ||
    !isVersionNumber(version) ||
    !Number.isFinite(createdAt) ||
    providerId === undefined ||
    masterKeyId === undefined ||
    // Live versions hold a wrapped key of a plausible length; shredded ones hold none.
    (state !== 'shredded' &&
      (wrapped === undefined ||
        wrapped.byteLength < 1 ||
        wrapped.byteLength > MAX_WRAPPED_KEY_BYTES)) ||
    (state === 'shredded' && wrapped !== undefined) ||
    // A commitment is 32 bytes; a shredded item's (left by an older release) is ignored.
    (state !== 'shredded' &&
      commitment !== undefined &&
      commitment.B?.byteLength !== STORE_KEY_COMMITMENT_LENGTH)
  ) {
    throw malformed();
  }
  if (t !== tenant || (keyId !== undefined && k !== keyId)) return undefined;
  return Object.freeze({
    tenant: t,
    keyId: k,
    version,
    state: state as KeyVersionState,
    providerId,
    masterKeyId,
    wrapped:
      state === 'shredded' || wrapped === undefined ? new Uint8Array(0) : Uint8Array.from(wrapped),
    createdAt: new Date(createdAt),
    ...(state === 'shredded' || commitment?.B === undefined
      ? {}
      : { commitment: Uint8Array.from(commitment.B) }),
  });
}

function malformed(): KeyStoreUnavailableError {
  return new KeyStoreUnavailableError('DynamoDB key store item is malformed');
}
