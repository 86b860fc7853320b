import { KeyNotFoundError, KeyShreddedError, KeyVersionActiveError } from '../errors.js';
import { copyCommitment } from './key-commitment.js';
import type { KeyStore, KeyWrapping, NewKeyVersion, StoredKeyVersion } from './key-store.js';
import { MAX_KEY_VERSION, checkVersionNumber } from './version-number.js';

/**
 * A {@link KeyStore} in process memory, for tests and examples. Rows are frozen copies, and
 * every read returns fresh copies of their bytes; `createVersion`, `retireVersions`,
 * `reinstateVersion` and `setCommitment` are atomic because JavaScript runs each of them
 * without interleaving (none awaits before it has changed the rows).
 *
 * @example
 * ```ts
 * import { MemoryKeyStore } from 'fieldseal/testing';
 * const fs = createFieldseal({ provider, keys: { mode: 'store', store: new MemoryKeyStore() }, cache });
 * ```
 */
export class MemoryKeyStore implements KeyStore {
  readonly #rows = new Map<string, StoredKeyVersion[]>();

  getActiveVersion(tenant: string, keyId: string): Promise<StoredKeyVersion | undefined> {
    return Promise.resolve(copyOut(this.#list(tenant, keyId).find((r) => r.state === 'active')));
  }

  getVersion(
    tenant: string,
    keyId: string,
    version: number,
  ): Promise<StoredKeyVersion | undefined> {
    return Promise.resolve(copyOut(this.#list(tenant, keyId).find((r) => r.version === version)));
  }

  createVersion(
    record: NewKeyVersion,
    expectedActive: number | null,
  ): Promise<StoredKeyVersion | undefined> {
    return settle(() => {
      const commitment =
        record.commitment === undefined
          ? undefined
          : copyCommitment('record.commitment', record.commitment);
      const list = this.#list(record.tenant, record.keyId);
      const active = list.find((r) => r.state === 'active');
      if (
        (active?.version ?? null) !== expectedActive ||
        list.some((r) => r.version === record.version)
      ) {
        return undefined;
      }
      const next = list.map((r) =>
        r === active ? Object.freeze({ ...r, state: 'decrypt-only' as const }) : r,
      );
      const row: StoredKeyVersion = Object.freeze({
        tenant: record.tenant,
        keyId: record.keyId,
        version: record.version,
        state: 'active',
        providerId: record.providerId,
        masterKeyId: record.masterKeyId,
        wrapped: Uint8Array.from(record.wrapped),
        createdAt: new Date(),
        ...(commitment === undefined ? {} : { commitment }),
      });
      next.push(row);
      this.#rows.set(this.#id(record.tenant, record.keyId), next);
      return copyOut(row);
    });
  }

  shredTenant(tenant: string): Promise<readonly { keyId: string; version: number }[]> {
    const done: { keyId: string; version: number }[] = [];
    for (const [id, rows] of this.#rows) {
      if (rows[0]?.tenant !== tenant) continue;
      this.#rows.set(
        id,
        rows.map((r) => {
          if (r.state === 'shredded') return r;
          done.push({ keyId: r.keyId, version: r.version });
          return shreddedRow(r);
        }),
      );
    }
    return Promise.resolve(done);
  }

  listVersions(tenant: string): Promise<StoredKeyVersion[]> {
    const out: StoredKeyVersion[] = [];
    for (const rows of this.#rows.values()) {
      if (rows[0]?.tenant !== tenant) continue;
      out.push(...[...rows].sort((a, b) => b.version - a.version).map((r) => copyOut(r)));
    }
    return Promise.resolve(out);
  }

  rewrapVersion(expected: StoredKeyVersion, next: KeyWrapping): Promise<boolean> {
    const id = this.#id(expected.tenant, expected.keyId);
    const rows = this.#list(expected.tenant, expected.keyId);
    const current = rows.find((r) => r.version === expected.version);
    if (
      current === undefined ||
      current.state === 'shredded' ||
      current.providerId !== expected.providerId ||
      current.masterKeyId !== expected.masterKeyId ||
      !Buffer.from(current.wrapped).equals(Buffer.from(expected.wrapped))
    ) {
      return Promise.resolve(false);
    }
    this.#rows.set(
      id,
      rows.map((r) =>
        r === current
          ? Object.freeze({
              ...r,
              providerId: next.providerId,
              masterKeyId: next.masterKeyId,
              wrapped: Uint8Array.from(next.wrapped),
            })
          : r,
      ),
    );
    return Promise.resolve(true);
  }

  setCommitment(row: StoredKeyVersion, commitment: Uint8Array): Promise<boolean> {
    return settle(() => {
      const value = copyCommitment('commitment', commitment);
      const rows = this.#list(row.tenant, row.keyId);
      const current = rows.find((r) => r.version === row.version);
      if (
        current === undefined ||
        current.commitment !== undefined ||
        current.state === 'shredded' ||
        current.providerId !== row.providerId ||
        current.masterKeyId !== row.masterKeyId ||
        !Buffer.from(current.wrapped).equals(Buffer.from(row.wrapped))
      ) {
        return false;
      }
      this.#rows.set(
        this.#id(row.tenant, row.keyId),
        rows.map((r) => (r === current ? Object.freeze({ ...r, commitment: value }) : r)),
      );
      return true;
    });
  }

  retireVersions(tenant: string, keyId: string, below: number): Promise<number[]> {
    return settle(() => {
      checkVersionNumber('below', below, 1, MAX_KEY_VERSION + 1);
      const rows = this.#list(tenant, keyId);
      const active = rows.find((r) => r.state === 'active');
      if (active !== undefined && active.version < below) {
        throw new KeyVersionActiveError(undefined, {
          details: { keyRef: `${keyId}@${active.version}` },
        });
      }
      const retired: number[] = [];
      const next = rows.map((r) => {
        if (r.state !== 'decrypt-only' || r.version >= below) return r;
        retired.push(r.version);
        return Object.freeze({ ...r, state: 'retired' as const });
      });
      if (retired.length > 0) this.#rows.set(this.#id(tenant, keyId), next);
      return retired.sort((a, b) => a - b);
    });
  }

  reinstateVersion(tenant: string, keyId: string, version: number): Promise<boolean> {
    return settle(() => {
      checkVersionNumber('version', version, 1, MAX_KEY_VERSION);
      const rows = this.#list(tenant, keyId);
      const current = rows.find((r) => r.version === version);
      const keyRef = `${keyId}@${version}`;
      if (current === undefined) {
        throw new KeyNotFoundError('key version not found for this tenant', {
          details: { keyRef },
        });
      }
      if (current.state === 'shredded')
        throw new KeyShreddedError(undefined, { details: { keyRef } });
      if (current.state !== 'retired') return false;
      this.#rows.set(
        this.#id(tenant, keyId),
        rows.map((r) =>
          r === current ? Object.freeze({ ...r, state: 'decrypt-only' as const }) : r,
        ),
      );
      return true;
    });
  }

  /** Test helper: mark a version shredded and drop its wrapped bytes and commitment. */
  shred(tenant: string, keyId: string, version?: number): void {
    const id = this.#id(tenant, keyId);
    this.#rows.set(
      id,
      this.#list(tenant, keyId).map((r) =>
        version === undefined || r.version === version ? shreddedRow(r) : r,
      ),
    );
  }

  #list(tenant: string, keyId: string): StoredKeyVersion[] {
    return this.#rows.get(this.#id(tenant, keyId)) ?? [];
  }

  #id(tenant: string, keyId: string): string {
    return JSON.stringify([tenant, keyId]);
  }
}

/** A row as shredding leaves it: no wrapped bytes, no commitment. */
function shreddedRow(row: StoredKeyVersion): StoredKeyVersion {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { commitment, ...rest } = row;
  return Object.freeze({ ...rest, state: 'shredded' as const, wrapped: new Uint8Array(0) });
}

/** A stored row as handed out: frozen, with its own copies of the bytes. */
function copyOut(row: StoredKeyVersion): StoredKeyVersion;
function copyOut(row: StoredKeyVersion | undefined): StoredKeyVersion | undefined;
function copyOut(row: StoredKeyVersion | undefined): StoredKeyVersion | undefined {
  if (row === undefined) return undefined;
  return Object.freeze({
    ...row,
    wrapped: Uint8Array.from(row.wrapped),
    ...(row.commitment === undefined ? {} : { commitment: Uint8Array.from(row.commitment) }),
  });
}

/**
 * Run a synchronous store operation now (so it stays atomic and ordered like the other
 * methods) and return its outcome as a promise: a throw becomes a rejection.
 */
function settle<T>(fn: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(fn()));
}
