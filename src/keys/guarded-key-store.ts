import { types } from 'node:util';
import { KeyStoreUnavailableError, isFieldsealError } from '../errors.js';
import { copyCommitment, STORE_KEY_COMMITMENT_LENGTH } from './key-commitment.js';
import type {
  KeyStore,
  KeyVersionState,
  KeyWrapping,
  NewKeyVersion,
  StoredKeyVersion,
} from './key-store.js';
import { MAX_KEY_VERSION, checkVersionNumber } from './version-number.js';

/** The operations of the {@link KeyStore} contract, as error messages name them. */
type Operation =
  | 'getActiveVersion'
  | 'getVersion'
  | 'createVersion'
  | 'shredTenant'
  | 'listVersions'
  | 'rewrapVersion'
  | 'retireVersions'
  | 'reinstateVersion'
  | 'setCommitment';

const STATES: ReadonlySet<unknown> = new Set<KeyVersionState>([
  'active',
  'decrypt-only',
  'retired',
  'shredded',
]);

/** Every store this module made: guarding one again returns it as it is. */
const guarded = new WeakSet<object>();

/**
 * Wrap a {@link KeyStore} — typically a custom one — so that whatever it does, the client sees
 * only what the contract allows:
 *
 * - anything it throws that is not a fieldseal error (a plain `Error`, a string, a driver
 *   error) becomes `ERR_KEY_STORE_UNAVAILABLE` with a fixed message naming the operation and
 *   the thrown value as `cause`;
 * - every row it returns is validated and snapshotted: its own data properties are read once
 *   (accessors, proxies and missing fields are refused), `tenant` / `keyId` / `providerId` /
 *   `masterKeyId` strings, `version` an integer from 1 to 2^32-1, `state` one of `active`,
 *   `decrypt-only`, `retired`, `shredded`, `wrapped` a `Uint8Array` (non-empty unless
 *   shredded), `createdAt` a valid `Date`, `commitment` absent or 32 bytes. The client gets a
 *   frozen plain object with its own copies of the bytes; a shredded row comes back with no
 *   wrapped bytes and no commitment;
 * - a row of another tenant, key id or version than asked for, a non-active row from
 *   `getActiveVersion`, and results of the wrong type are `ERR_KEY_STORE_UNAVAILABLE`.
 *
 * Error messages are fixed strings: never a value from the store. Arguments are checked as
 * the contract says (RangeError for an out-of-range version bound, TypeError / RangeError for
 * a commitment that is not 32 bytes) before the store is called. The optional `setCommitment`
 * is wrapped only when the store has it. Store-specific methods (`listTenants`,
 * `createTable`…) are not exposed: keep the store itself for those.
 *
 * @throws TypeError when `store` lacks a method of the contract.
 * @example
 * ```ts
 * const store = guardKeyStore(new MyRedisKeyStore(redis));
 * const fs = createFieldseal({ provider, keys: { mode: 'store', store, masterKeyId: 'master' }, cache });
 * // a row with state 'weird' → ERR_KEY_STORE_UNAVAILABLE, never a decryption
 * ```
 */
export function guardKeyStore(store: KeyStore): KeyStore {
  if (typeof store === 'object' && store !== null && guarded.has(store)) return store;
  if (typeof store !== 'object' || store === null) {
    throw new TypeError('guardKeyStore: expected a KeyStore object');
  }
  for (const name of REQUIRED) {
    if (typeof store[name] !== 'function') {
      throw new TypeError(`guardKeyStore: the key store has no ${name} method`);
    }
  }
  const wrapped =
    typeof store.setCommitment === 'function'
      ? new GuardedKeyStoreWithCommitment(store)
      : new GuardedKeyStore(store);
  guarded.add(wrapped);
  return wrapped;
}

const REQUIRED = [
  'getActiveVersion',
  'getVersion',
  'createVersion',
  'shredTenant',
  'listVersions',
  'rewrapVersion',
  'retireVersions',
  'reinstateVersion',
] as const satisfies readonly (keyof KeyStore)[];

/** The guard itself; see {@link guardKeyStore}. */
class GuardedKeyStore implements KeyStore {
  readonly #store: KeyStore;

  constructor(store: KeyStore) {
    this.#store = store;
  }

  getActiveVersion(tenant: string, keyId: string): Promise<StoredKeyVersion | undefined> {
    return this.call('getActiveVersion', [tenant, keyId], (out) => {
      if (out === undefined) return undefined;
      const row = snapshotRow(out);
      expectKey(row, tenant, keyId);
      if (row.state !== 'active') {
        throw new KeyStoreUnavailableError('the key store returned a non-active row as active');
      }
      return row;
    });
  }

  getVersion(
    tenant: string,
    keyId: string,
    version: number,
  ): Promise<StoredKeyVersion | undefined> {
    return this.call('getVersion', [tenant, keyId, version], (out) => {
      if (out === undefined) return undefined;
      const row = snapshotRow(out);
      expectKey(row, tenant, keyId, version);
      return row;
    });
  }

  createVersion(
    record: NewKeyVersion,
    expectedActive: number | null,
  ): Promise<StoredKeyVersion | undefined> {
    return settle(() => {
      if (typeof record !== 'object' || record === null) {
        throw new TypeError('record: expected a NewKeyVersion');
      }
      const { tenant, keyId, version, commitment } = record;
      return {
        tenant,
        keyId,
        version,
        commitment:
          commitment === undefined ? undefined : copyCommitment('record.commitment', commitment),
      };
    }).then((asked) =>
      this.call('createVersion', [record, expectedActive], (out) => {
        if (out === undefined) return undefined;
        const row = snapshotRow(out);
        expectKey(row, asked.tenant, asked.keyId, asked.version);
        if (row.state !== 'active') {
          throw new KeyStoreUnavailableError('the key store returned a non-active new version');
        }
        // A store that does not keep commitments returns none (a legacy row); one that returns
        // another than it was given is wrong.
        if (
          row.commitment !== undefined &&
          (asked.commitment === undefined ||
            !Buffer.from(asked.commitment).equals(Buffer.from(row.commitment)))
        ) {
          throw new KeyStoreUnavailableError(
            'the key store returned another commitment than given',
          );
        }
        return row;
      }),
    );
  }

  shredTenant(tenant: string): Promise<readonly { keyId: string; version: number }[]> {
    return this.call('shredTenant', [tenant], (out) =>
      Object.freeze(
        readArray(out).map((item) => {
          if (typeof item !== 'object' || item === null || types.isProxy(item)) {
            throw malformed('shredTenant');
          }
          const keyId = dataProperty(item, 'keyId');
          const version = dataProperty(item, 'version');
          if (typeof keyId !== 'string' || !isVersion(version)) throw malformed('shredTenant');
          return Object.freeze({ keyId, version });
        }),
      ),
    );
  }

  listVersions(tenant: string, keyId?: string): Promise<StoredKeyVersion[]> {
    const args = keyId === undefined ? [tenant] : [tenant, keyId];
    return this.call('listVersions', args, (out) =>
      readArray(out).map((item) => {
        const row = snapshotRow(item);
        expectKey(row, tenant, keyId ?? row.keyId);
        return row;
      }),
    );
  }

  rewrapVersion(expected: StoredKeyVersion, next: KeyWrapping): Promise<boolean> {
    return this.call('rewrapVersion', [expected, next], (out) => boolean('rewrapVersion', out));
  }

  retireVersions(tenant: string, keyId: string, below: number): Promise<number[]> {
    return settle(() => checkVersionNumber('below', below, 1, MAX_KEY_VERSION + 1)).then(() =>
      this.call('retireVersions', [tenant, keyId, below], (out) =>
        readArray(out).map((v) => {
          if (!isVersion(v) || v >= below) throw malformed('retireVersions');
          return v;
        }),
      ),
    );
  }

  reinstateVersion(tenant: string, keyId: string, version: number): Promise<boolean> {
    return settle(() => checkVersionNumber('version', version, 1, MAX_KEY_VERSION)).then(() =>
      this.call('reinstateVersion', [tenant, keyId, version], (out) =>
        boolean('reinstateVersion', out),
      ),
    );
  }

  /** Shows no store, row or key: `GuardedKeyStore {}`. */
  toJSON(): { store: 'guarded' } {
    return { store: 'guarded' };
  }

  /**
   * Call the store's `operation` (looked up now, so a method replaced later is the one used)
   * and check its result with `check`; whatever the store throws that is not a fieldseal error
   * becomes `ERR_KEY_STORE_UNAVAILABLE` with it as `cause`.
   */
  protected async call<T>(
    operation: Operation,
    args: readonly unknown[],
    check: (out: unknown) => T,
  ): Promise<T> {
    let out: unknown;
    try {
      const method: unknown = (this.#store as unknown as Record<Operation, unknown>)[operation];
      if (typeof method !== 'function') throw new TypeError('not a function');
      out = await (Reflect.apply(method, this.#store, args) as unknown);
    } catch (err) {
      throw asStoreError(operation, err);
    }
    return check(out);
  }
}

/** The guard of a store that has the optional `setCommitment`. */
class GuardedKeyStoreWithCommitment extends GuardedKeyStore {
  setCommitment(row: StoredKeyVersion, commitment: Uint8Array): Promise<boolean> {
    return settle(() => copyCommitment('commitment', commitment)).then((value) =>
      this.call('setCommitment', [row, value], (out) => boolean('setCommitment', out)),
    );
  }
}

/** A thrown value as the client may see it: fieldseal errors as they are, the rest wrapped. */
function asStoreError(operation: Operation, err: unknown): unknown {
  let typed = false;
  try {
    typed = isFieldsealError(err);
  } catch {
    typed = false; // a hostile object (a proxy whose `has` trap throws) is no fieldseal error
  }
  return typed
    ? err
    : new KeyStoreUnavailableError(`key store ${operation} failed`, { cause: err });
}

/**
 * Validate and copy a row the store returned: own data properties only, each read once.
 * @throws KeyStoreUnavailableError (fixed messages, no value from the row).
 */
function snapshotRow(value: unknown): StoredKeyVersion {
  if (typeof value !== 'object' || value === null || types.isProxy(value)) {
    throw new KeyStoreUnavailableError('the key store returned a row that is not a data object');
  }
  const tenant = dataProperty(value, 'tenant');
  const keyId = dataProperty(value, 'keyId');
  const version = dataProperty(value, 'version');
  const state = dataProperty(value, 'state');
  const providerId = dataProperty(value, 'providerId');
  const masterKeyId = dataProperty(value, 'masterKeyId');
  const wrapped = dataProperty(value, 'wrapped');
  const createdAt = dataProperty(value, 'createdAt');
  const commitment = dataProperty(value, 'commitment');
  if (typeof state !== 'string' || !STATES.has(state)) {
    throw new KeyStoreUnavailableError('the key store returned a row with an unknown state');
  }
  const shredded = state === 'shredded';
  if (
    typeof tenant !== 'string' ||
    typeof keyId !== 'string' ||
    !isVersion(version) ||
    typeof providerId !== 'string' ||
    typeof masterKeyId !== 'string'
  ) {
    throw new KeyStoreUnavailableError('the key store returned a malformed row');
  }
  if (!types.isUint8Array(wrapped)) {
    throw new KeyStoreUnavailableError('the key store returned a row without wrapped bytes');
  }
  // Copied through the typed array's internal slots: no getter or iterator of it runs.
  const bytes = shredded ? new Uint8Array(0) : new Uint8Array(wrapped);
  if (!shredded && bytes.byteLength === 0) {
    throw new KeyStoreUnavailableError('the key store returned a row without wrapped bytes');
  }
  const time = types.isDate(createdAt) ? Date.prototype.getTime.call(createdAt) : Number.NaN;
  if (!Number.isFinite(time)) {
    throw new KeyStoreUnavailableError('the key store returned a row without a valid date');
  }
  let committed: Uint8Array | undefined;
  if (commitment !== undefined) {
    if (!types.isUint8Array(commitment)) {
      throw new KeyStoreUnavailableError('the key store returned a malformed commitment');
    }
    committed = new Uint8Array(commitment);
    if (committed.byteLength !== STORE_KEY_COMMITMENT_LENGTH) {
      throw new KeyStoreUnavailableError('the key store returned a malformed commitment');
    }
  }
  return Object.freeze({
    tenant,
    keyId,
    version,
    state: state as KeyVersionState,
    providerId,
    masterKeyId,
    wrapped: bytes,
    createdAt: new Date(time),
    ...(committed === undefined || shredded ? {} : { commitment: committed }),
  });
}

/** A row must be the one asked for: a store never hands out another tenant's key. */
function expectKey(row: StoredKeyVersion, tenant: string, keyId: string, version?: number): void {
  if (
    row.tenant !== tenant ||
    row.keyId !== keyId ||
    (version !== undefined && row.version !== version)
  ) {
    throw new KeyStoreUnavailableError('the key store returned a row for another key than asked');
  }
}

/**
 * The value of an own data property (`undefined` when absent). An accessor is refused without
 * being called, so a getter can neither run code nor answer differently on a second read.
 */
function dataProperty(target: object, key: string | number): unknown {
  let descriptor: PropertyDescriptor | undefined;
  try {
    descriptor = Object.getOwnPropertyDescriptor(target, key);
  } catch (err) {
    throw new KeyStoreUnavailableError('the key store returned an unreadable value', {
      cause: err,
    });
  }
  if (descriptor === undefined) return undefined;
  if (!('value' in descriptor)) {
    throw new KeyStoreUnavailableError('the key store returned a value with accessor properties');
  }
  return descriptor.value;
}

/** The elements of a real array (no proxy, no holes, no accessors), each read once. */
function readArray(value: unknown): unknown[] {
  if (!Array.isArray(value) || types.isProxy(value)) {
    throw new KeyStoreUnavailableError('the key store returned a result that is not an array');
  }
  const length = dataProperty(value, 'length') as number;
  const out: unknown[] = [];
  for (let i = 0; i < length; i++) {
    if (!Object.hasOwn(value, i)) {
      throw new KeyStoreUnavailableError('the key store returned an array with holes');
    }
    out.push(dataProperty(value, i));
  }
  return out;
}

function isVersion(value: unknown): value is number {
  return (
    typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_KEY_VERSION
  );
}

function boolean(operation: Operation, out: unknown): boolean {
  if (typeof out !== 'boolean') throw malformed(operation);
  return out;
}

function malformed(operation: Operation): KeyStoreUnavailableError {
  return new KeyStoreUnavailableError(`the key store returned an invalid ${operation} result`);
}

/** Run a check now and turn its throw into a rejection (the contract's methods reject). */
function settle<T>(fn: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(fn()));
}
