/*
 * Where sealed per-tenant blind-index secrets live (internal plug point). The storage only
 * keeps text: sealing, opening, creating and resealing are done once, in tenant-secrets.ts,
 * for every database. An implementation needs a table keyed by (tenant, version) with a
 * conditional insert and a conditional replace; PostgreSQL and DynamoDB both have them.
 */

/**
 * The key of one secret: a tenant and an index version.
 * @example
 * ```ts
 * const after: SealedSecretId = { tenant: 'acme', version: 1 };
 * const page = await storage.listPage(after, 100);
 * ```
 */
export interface SealedSecretId {
  readonly tenant: string;
  readonly version: number;
}

/**
 * One stored secret: its key and its sealed text (a fieldseal envelope).
 * @example
 * ```ts
 * const row: SealedSecret = { tenant: 'acme', version: 1, sealed: 'fs1:...' };
 * ```
 */
export interface SealedSecret extends SealedSecretId {
  readonly sealed: string;
}

/**
 * One page of {@link SealedSecretStorage.listPage}.
 * @example
 * ```ts
 * let after: SealedSecretId | undefined;
 * do {
 *   const page: SealedSecretPage = await storage.listPage(after, 100);
 *   for (const row of page.rows) console.log(row.tenant, row.version);
 *   after = page.next;
 * } while (after !== undefined);
 * ```
 */
export interface SealedSecretPage {
  readonly rows: readonly SealedSecret[];
  /** Where the next page starts (pass it as `after`), or `undefined` after the last page. */
  readonly next: SealedSecretId | undefined;
}

/**
 * The table of sealed secrets, one row per (tenant, version). Implementations never see a
 * secret in the clear.
 * @example
 * ```ts
 * const storage: SealedSecretStorage = new DynamoSealedSecretStorage(client, 'bi-secrets');
 * const secrets = new TenantSecrets(storage, fs);
 * ```
 *
 */
export interface SealedSecretStorage {
  /** Create the table when it does not exist yet. */
  createTable(): Promise<void>;
  /** The stored rows among every (tenant, version) pair, in any order; absent pairs left out. */
  select(tenants: readonly string[], versions: readonly number[]): Promise<SealedSecret[]>;
  /**
   * Insert each row whose (tenant, version) is not stored yet; a row already stored is kept
   * (the first writer wins, so concurrent writers all end up opening the same secret).
   */
  insertIfAbsent(rows: readonly SealedSecret[]): Promise<void>;
  /**
   * Replace the sealed text of (tenant, version) with `nextSealed` only if it is still
   * `expectedSealed` (compare-and-set); returns whether it was replaced.
   */
  replaceIf(
    tenant: string,
    version: number,
    expectedSealed: string,
    nextSealed: string,
  ): Promise<boolean>;
  /**
   * Up to `limit` rows (possibly fewer, even before the last page) after `after`, or from
   * the start without it; every stored row is listed once over all pages.
   */
  listPage(after: SealedSecretId | undefined, limit: number): Promise<SealedSecretPage>;
  /** Delete every row of `tenant` (all versions); returns how many were deleted. */
  erase(tenant: string): Promise<number>;
}
