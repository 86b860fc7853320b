import { randomBytes } from 'node:crypto';
import type { Fieldseal } from '../client/fieldseal.js';
import { INDEX_SECRET_FIELD, INDEX_SECRET_TABLE } from '../client/field-rules.js';
import type { DecryptItem, EncryptItem } from '../client/items.js';
import { InvalidKeyMaterialError, isFieldsealError, type FieldsealError } from '../errors.js';
import type { EncryptionContext } from '../envelope/context.js';
import { inspectEnvelope } from '../envelope/inspect-envelope.js';
import type { SealedSecret, SealedSecretStorage, SealedSecretId } from './sealed-secret-storage.js';

/*
 * Per-tenant blind-index secrets (internal). The blind indexer's root key is shared by every
 * tenant, so on its own it would let whoever holds it recompute any tenant's indexes forever,
 * shredded or not. Each (tenant, index version) therefore also gets 32 random bytes mixed into
 * its index keys, stored only sealed under the tenant's own data key: when the tenant is
 * crypto-shredded the secret can no longer be opened, and neither can its indexes be
 * recomputed or tested against guesses, even with the root key. Where the sealed text is kept
 * is a SealedSecretStorage (PostgreSQL, DynamoDB); everything else is here, once.
 */

/** Secrets read per page by `reseal`. */
const PAGE = 500;

/** Bytes of a tenant secret. */
const SECRET_BYTES = 32;

/**
 * Fixed context table of sealed secrets, independent of the name of the table (or DynamoDB
 * table) that holds them. Changing it, or any part of {@link contextOf}, would make every
 * stored secret unopenable.
 */
const CONTEXT_TABLE = INDEX_SECRET_TABLE;

/**
 * Opened secrets of one operation; `wipe()` zeroes them when it is done.
 * @example
 * ```ts
 * const opened: SecretSet = await secrets.load(['acme'], [1], { create: true, reseal: true });
 * try {
 *   const secret = opened.get('acme', 1);
 * } finally {
 *   opened.wipe();
 * }
 * ```
 */
export interface SecretSet {
  /** The secret, the error that prevented opening it, or `undefined` when none exists. */
  get(tenant: string, version: number): Buffer | FieldsealError | undefined;
  wipe(): void;
}

/** What {@link TenantSecrets.reseal} did. @internal */
export interface ResealReport {
  readonly checked: number;
  readonly resealed: number;
  readonly failed: number;
}

/** A secret {@link TenantSecrets.reseal} could not reseal (names and a code only). @internal */
export interface ResealFailure {
  readonly tenant: string;
  readonly indexVersion: number;
  readonly code: FieldsealError['code'];
}

const id = (tenant: string, version: number): string => `${version}\u0000${tenant}`;

/** The encryption context that seals the secret of (tenant, version). @internal */
export function contextOf(tenant: string, version: number): EncryptionContext {
  return { tenant, table: CONTEXT_TABLE, field: INDEX_SECRET_FIELD, record: String(version) };
}

/**
 * Sealed per-tenant blind-index secrets over any {@link SealedSecretStorage}.
 * @example
 * ```ts
 * const secrets = new TenantSecrets(storage, fs);
 * const opened = await secrets.load(['acme'], [1], { create: true, reseal: true });
 * try {
 *   const tenantSecret = opened.get('acme', 1); // Buffer | FieldsealError | undefined
 * } finally {
 *   opened.wipe();
 * }
 * ```
 *
 */
export class TenantSecrets {
  constructor(
    private readonly storage: SealedSecretStorage,
    private readonly fs: Fieldseal,
  ) {}

  /** Create the storage's table when it does not exist yet. */
  async createTable(): Promise<void> {
    await this.storage.createTable();
  }

  /**
   * Open the secrets of every (tenant, version) pair. With `create`, missing ones are made
   * first (random, sealed, inserted; concurrent writers agree through the storage's
   * insert-if-absent: the first insert wins and everyone opens the stored one). With `reseal`,
   * secrets sealed under a data-key version that is no longer current are sealed again (see
   * {@link reseal}).
   * @throws only storage errors and programming errors; key errors are per pair in the set.
   */
  async load(
    tenants: readonly string[],
    versions: readonly number[],
    { create, reseal }: { readonly create: boolean; readonly reseal: boolean },
  ): Promise<SecretSet> {
    const ts = [...new Set(tenants)];
    const vs = [...new Set(versions)];
    let rows = await this.#select(ts, vs);
    if (reseal) await this.#reseal(rows);
    if (create) {
      const have = new Set(rows.map((r) => id(r.tenant, r.version)));
      const missing = ts.flatMap((tenant) =>
        vs.filter((v) => !have.has(id(tenant, v))).map((version) => ({ tenant, version })),
      );
      if (missing.length > 0) {
        await this.#create(missing);
        rows = await this.#select(ts, vs);
      }
    }
    return this.#open(rows);
  }

  /**
   * Seal every stored secret whose data-key version is no longer its tenant's current one
   * again under the current one (compare-and-set on the sealed text), so that retiring old
   * data-key versions never strands a tenant's blind indexes. Shredded tenants are skipped.
   * With `tenant`, only that tenant's secrets are checked; `onFailure` hears of each secret
   * that could not be resealed.
   */
  async reseal(
    options: {
      readonly tenant?: string | undefined;
      readonly onFailure?: (failure: ResealFailure) => void;
    } = {},
  ): Promise<ResealReport> {
    const { tenant } = options;
    let checked = 0;
    let resealed = 0;
    const failures: ResealFailure[] = [];
    let after: SealedSecretId | undefined;
    do {
      const page = await this.storage.listPage(after, PAGE);
      const rows = tenant === undefined ? page.rows : page.rows.filter((r) => r.tenant === tenant);
      const done = await this.#reseal(rows);
      checked += rows.length;
      resealed += done.resealed;
      for (const f of done.failures) {
        failures.push(f);
        options.onFailure?.(f);
      }
      after = page.next;
    } while (after !== undefined);
    return { checked, resealed, failed: failures.length };
  }

  /** Delete every secret of `tenant` (all versions); returns how many were deleted. */
  async erase(tenant: string): Promise<number> {
    return this.storage.erase(tenant);
  }

  async #select(tenants: readonly string[], versions: readonly number[]): Promise<SealedSecret[]> {
    if (tenants.length === 0 || versions.length === 0) return [];
    return this.storage.select(tenants, versions);
  }

  async #open(rows: readonly SealedSecret[]): Promise<SecretSet> {
    const items: DecryptItem[] = rows.map((r) => ({
      stored: r.sealed,
      context: contextOf(r.tenant, r.version),
    }));
    // Key material, not values: opened whatever the client's value mode (WriteOnly ingest).
    const opened = items.length > 0 ? await this.fs.openIndexSecrets(items) : [];
    const found = new Map<string, Buffer | FieldsealError>();
    opened.forEach((result, i) => {
      const { tenant, version } = rows[i]!;
      if (!result.ok) {
        found.set(id(tenant, version), result.error);
      } else if (result.value instanceof Uint8Array && result.value.byteLength === SECRET_BYTES) {
        found.set(id(tenant, version), Buffer.from(result.value));
        result.value.fill(0);
      } else {
        found.set(
          id(tenant, version),
          new InvalidKeyMaterialError('blind index tenant secret is not 32 bytes'),
        );
      }
    });
    return {
      get: (tenant, version) => found.get(id(tenant, version)),
      wipe: () => {
        for (const s of found.values()) if (Buffer.isBuffer(s)) s.fill(0);
        found.clear();
      },
    };
  }

  async #reseal(
    rows: readonly SealedSecret[],
  ): Promise<{ resealed: number; failures: ResealFailure[] }> {
    let resealed = 0;
    const failures: ResealFailure[] = [];
    // Re-sealing decrypts through the value path: a client that cannot read and write leaves
    // it to one that can (the secrets still open as key material).
    if (this.fs.mode !== 'ReadWrite') return { resealed, failures };
    for (const r of rows) {
      // Embedded envelopes have no versions (re-encrypting them would change them every time).
      if (inspectEnvelope(r.sealed)?.keyRef.kind !== 'store') continue;
      let out: { stored: string; changed: boolean };
      try {
        out = await this.fs.reencrypt(r.sealed, contextOf(r.tenant, r.version));
      } catch (err) {
        if (!isFieldsealError(err)) throw err;
        // Reported again, per pair, when the secret is opened.
        failures.push({ tenant: r.tenant, indexVersion: r.version, code: err.code });
        continue;
      }
      if (!out.changed) continue;
      if (await this.storage.replaceIf(r.tenant, r.version, r.sealed, out.stored)) resealed += 1;
    }
    return { resealed, failures };
  }

  async #create(missing: readonly SealedSecretId[]): Promise<void> {
    const secrets = missing.map(() => randomBytes(SECRET_BYTES));
    let sealed: string[];
    try {
      const items: EncryptItem[] = missing.map(({ tenant, version }, i) => ({
        value: secrets[i]!,
        context: contextOf(tenant, version),
      }));
      sealed = await this.fs.encryptMany(items);
    } finally {
      for (const s of secrets) s.fill(0);
    }
    await this.storage.insertIfAbsent(
      missing.map(({ tenant, version }, i) => ({ tenant, version, sealed: sealed[i]! })),
    );
  }
}
