import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { SealedSecret, SealedSecretId, SealedSecretStorage } from '../integration/index.js';
import type { ContractTestFunctions } from './repository-contract.js';

/**
 * Register the behaviour every `SealedSecretStorage` (the table tenant blind-index secrets are
 * sealed in) must have: `createTable` idempotent; `select` returning only the stored rows among
 * the requested pairs; `insertIfAbsent` keeping the first row of a (tenant, version), also under
 * concurrent inserts; `replaceIf` as a compare-and-set; `listPage` listing every row once over
 * pages of at most `limit` rows; `erase` deleting one tenant's versions and counting them.
 * Tenants are unique per case, so one table can serve the whole suite; the storage only keeps
 * text, so plain strings stand in for sealed envelopes. Assertions use `node:assert/strict`.
 * @param test the test functions of your runner (`beforeAll`/`afterAll` are not used)
 * @param name what the suite is run on (in the `describe` title)
 * @param factory called once per case: a storage whose table exists
 * @example
 * ```ts
 * import { afterAll, beforeAll, describe, it } from 'vitest';
 * import { runSealedSecretStorageSuite } from 'fieldseal/testing';
 * runSealedSecretStorageSuite({ describe, it, beforeAll, afterAll }, 'MySealedSecretStorage', async () => {
 *   const storage = new MySealedSecretStorage({ db });
 *   await storage.createTable();
 *   return storage;
 * });
 * ```
 */
export function runSealedSecretStorageSuite(
  test: ContractTestFunctions,
  name: string,
  factory: () => SealedSecretStorage | Promise<SealedSecretStorage>,
): void {
  const tenant = (): string => `tenant-${randomUUID()}`;
  const sorted = (rows: readonly SealedSecret[]): SealedSecret[] =>
    [...rows].sort((a, b) => a.tenant.localeCompare(b.tenant) || a.version - b.version);

  test.describe(`SealedSecretStorage conformance: ${name}`, () => {
    test.it('creating the table again is safe', async () => {
      const storage = await factory();
      await storage.createTable();
    });

    test.it('selects only the stored rows among the requested pairs', async () => {
      const storage = await factory();
      const [a, b, c] = [tenant(), tenant(), tenant()];
      assert.deepEqual(await storage.select([a], [1]), [], 'select() before any insert');
      await storage.insertIfAbsent([
        { tenant: a, version: 1, sealed: 'a1' },
        { tenant: a, version: 2, sealed: 'a2' },
        { tenant: b, version: 1, sealed: 'b1' },
        { tenant: c, version: 1, sealed: 'c1' },
      ]);
      assert.deepEqual(
        sorted(await storage.select([a, b], [1, 3])),
        sorted([
          { tenant: a, version: 1, sealed: 'a1' },
          { tenant: b, version: 1, sealed: 'b1' },
        ]),
        'select([a, b], [1, 3])',
      );
      assert.deepEqual(
        await storage.select([a], [2]),
        [{ tenant: a, version: 2, sealed: 'a2' }],
        'select([a], [2])',
      );
    });

    test.it(
      'keeps the first row of a (tenant, version), even under concurrent inserts',
      async () => {
        const storage = await factory();
        const t = tenant();
        await storage.insertIfAbsent([{ tenant: t, version: 1, sealed: 'first' }]);
        await storage.insertIfAbsent([
          { tenant: t, version: 1, sealed: 'second' },
          { tenant: t, version: 2, sealed: 'new' },
        ]);
        assert.deepEqual(
          sorted(await storage.select([t], [1, 2])).map((r) => r.sealed),
          ['first', 'new'],
          'the first row is kept, the new one inserted',
        );
        const r = tenant();
        const candidates = Array.from({ length: 8 }, (_, i) => `racer-${i}`);
        await Promise.all(
          candidates.map((sealed) => storage.insertIfAbsent([{ tenant: r, version: 7, sealed }])),
        );
        const stored = await storage.select([r], [7]);
        assert.equal(stored.length, 1, 'concurrent inserts of one (tenant, version)');
        assert.ok(
          candidates.includes(stored[0]!.sealed),
          `the stored row ${stored[0]!.sealed} is none of the inserted ones`,
        );
      },
    );

    test.it('replaces the sealed text only when it is still the expected one', async () => {
      const storage = await factory();
      const t = tenant();
      assert.equal(await storage.replaceIf(t, 1, 'x', 'y'), false, 'replaceIf() of an absent row');
      await storage.insertIfAbsent([{ tenant: t, version: 1, sealed: 'old' }]);
      assert.equal(await storage.replaceIf(t, 1, 'stale', 'lost'), false, 'a stale expectation');
      assert.equal(await storage.replaceIf(t, 1, 'old', 'new'), true, 'the expected text');
      assert.equal(await storage.replaceIf(t, 1, 'old', 'again'), false, 'a replaced text');
      assert.deepEqual(
        await storage.select([t], [1]),
        [{ tenant: t, version: 1, sealed: 'new' }],
        'the row after replaceIf()',
      );
    });

    test.it('lists every row once over pages', async () => {
      const storage = await factory();
      const mine = new Set([tenant(), tenant(), tenant()]);
      const rows = [...mine].flatMap((t) =>
        [1, 2, 3].map((version) => ({ tenant: t, version, sealed: `${t}/${version}` })),
      );
      await storage.insertIfAbsent(rows);
      const listed: SealedSecret[] = [];
      let after: SealedSecretId | undefined;
      let pages = 0;
      do {
        const page = await storage.listPage(after, 4);
        assert.ok(page.rows.length <= 4, `a page of ${page.rows.length} rows (limit 4)`);
        listed.push(...page.rows);
        after = page.next;
        pages += 1;
      } while (after !== undefined && pages < 1000);
      assert.equal(after, undefined, 'the listing did not end within 1000 pages');
      const keys = listed.map((r) => `${r.tenant}@${r.version}`);
      assert.equal(new Set(keys).size, keys.length, 'a row was listed twice');
      assert.deepEqual(
        sorted(listed.filter((r) => mine.has(r.tenant))),
        sorted(rows),
        'the rows of the case, listed',
      );
    });

    test.it('erases every version of one tenant only, and counts them', async () => {
      const storage = await factory();
      const [a, b] = [tenant(), tenant()];
      await storage.insertIfAbsent(
        [a, b].flatMap((t) => [1, 2, 3].map((version) => ({ tenant: t, version, sealed: 's' }))),
      );
      assert.equal(await storage.erase(a), 3, 'erase() of a tenant with 3 versions');
      assert.equal(await storage.erase(a), 0, 'erase() of an erased tenant');
      assert.deepEqual(
        sorted(await storage.select([a, b], [1, 2, 3])),
        [1, 2, 3].map((version) => ({ tenant: b, version, sealed: 's' })),
        'the rows left after erase()',
      );
    });
  });
}
