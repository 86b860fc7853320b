import type { KeyRef } from '../envelope/key-ref.js';

/**
 * The count of values read under one key. Handed out once per key when the key is loaded and
 * kept with the cached key, so that a warm read counts with one increment and no lookup.
 * @internal
 */
export interface ReadCell {
  n: number;
}

/**
 * Counts values read per key an envelope names, without building a label per value: two
 * nested maps of cells (key id → version for key-store envelopes, provider id → master key id
 * for self-contained ones), turned into `keyId@version` / `providerId:masterKeyId` labels only
 * when a snapshot is taken.
 * @internal
 * @example
 * ```ts
 * const reads = new KeyReadCounter();
 * reads.cell({ kind: 'store', keyId: 'default', version: 2 }).n++;
 * reads.snapshot().byKeyVersion; // { 'default@2': 1 }
 * ```
 */
export class KeyReadCounter {
  readonly #store = new Map<string, Map<number, ReadCell>>();
  readonly #embedded = new Map<string, Map<string, ReadCell>>();

  /** The cell of `ref`'s key (created at 0 the first time). */
  cell(ref: KeyRef): ReadCell {
    return ref.kind === 'store'
      ? cellOf(this.#store, ref.keyId, ref.version)
      : cellOf(this.#embedded, ref.providerId, ref.masterKeyId);
  }

  /** Count `n` values read under `ref` (when no cell is at hand). */
  add(ref: KeyRef, n: number): void {
    this.cell(ref).n += n;
  }

  /** Counts by `keyId@version` (key-store envelopes) and `providerId:masterKeyId` (embedded). */
  snapshot(): { byKeyVersion: Record<string, number>; byMasterKey: Record<string, number> } {
    const byKeyVersion: Record<string, number> = {};
    for (const [keyId, versions] of this.#store) {
      for (const [version, c] of versions) if (c.n > 0) byKeyVersion[`${keyId}@${version}`] = c.n;
    }
    const byMasterKey: Record<string, number> = {};
    for (const [providerId, masters] of this.#embedded) {
      for (const [masterKeyId, c] of masters) {
        if (c.n > 0) byMasterKey[`${providerId}:${masterKeyId}`] = c.n;
      }
    }
    return { byKeyVersion, byMasterKey };
  }
}

function cellOf<K>(outer: Map<string, Map<K, ReadCell>>, a: string, b: K): ReadCell {
  let inner = outer.get(a);
  if (inner === undefined) {
    inner = new Map();
    outer.set(a, inner);
  }
  let cell = inner.get(b);
  if (cell === undefined) {
    cell = { n: 0 };
    inner.set(b, cell);
  }
  return cell;
}
