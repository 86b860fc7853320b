import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type {
  SealedSecret,
  SealedSecretStorage,
  SealedSecretId,
} from '../../src/blind-index/sealed-secret-storage.js';

/**
 * The behaviour every SealedSecretStorage must have, run against each implementation (memory,
 * PGlite, PostgreSQL server, DynamoDB Local). `factory` returns a storage whose table exists;
 * tenants are unique per test so one table can serve the whole suite. The storage only keeps
 * text, so plain strings stand in for sealed envelopes here.
 */
export function runSealedSecretStorageSuite(
  name: string,
  factory: () => SealedSecretStorage | Promise<SealedSecretStorage>,
): void {
  const tenant = (): string => `tenant-${randomUUID()}`;
  const sorted = (rows: readonly SealedSecret[]): SealedSecret[] =>
    [...rows].sort((a, b) => a.tenant.localeCompare(b.tenant) || a.version - b.version);

  describe(`SealedSecretStorage conformance: ${name}`, () => {
    it('creating the table again is safe', async () => {
      const storage = await factory();
      await storage.createTable();
    });

    it('selects only the stored rows among the requested pairs', async () => {
      const storage = await factory();
      const [a, b, c] = [tenant(), tenant(), tenant()];
      expect(await storage.select([a], [1])).toEqual([]);
      await storage.insertIfAbsent([
        { tenant: a, version: 1, sealed: 'a1' },
        { tenant: a, version: 2, sealed: 'a2' },
        { tenant: b, version: 1, sealed: 'b1' },
        { tenant: c, version: 1, sealed: 'c1' },
      ]);
      expect(sorted(await storage.select([a, b], [1, 3]))).toEqual(
        sorted([
          { tenant: a, version: 1, sealed: 'a1' },
          { tenant: b, version: 1, sealed: 'b1' },
        ]),
      );
      expect(await storage.select([a], [2])).toEqual([{ tenant: a, version: 2, sealed: 'a2' }]);
    });

    it('keeps the first row of a (tenant, version), even under concurrent inserts', async () => {
      const storage = await factory();
      const t = tenant();
      await storage.insertIfAbsent([{ tenant: t, version: 1, sealed: 'first' }]);
      await storage.insertIfAbsent([
        { tenant: t, version: 1, sealed: 'second' },
        { tenant: t, version: 2, sealed: 'new' },
      ]);
      expect(sorted(await storage.select([t], [1, 2])).map((r) => r.sealed)).toEqual([
        'first',
        'new',
      ]);
      const r = tenant();
      const candidates = Array.from({ length: 8 }, (_, i) => `racer-${i}`);
      await Promise.all(
        candidates.map((sealed) => storage.insertIfAbsent([{ tenant: r, version: 7, sealed }])),
      );
      const stored = await storage.select([r], [7]);
      expect(stored).toHaveLength(1);
      expect(candidates).toContain(stored[0]!.sealed);
    });

    it('replaces the sealed text only when it is still the expected one', async () => {
      const storage = await factory();
      const t = tenant();
      expect(await storage.replaceIf(t, 1, 'x', 'y')).toBe(false); // absent
      await storage.insertIfAbsent([{ tenant: t, version: 1, sealed: 'old' }]);
      expect(await storage.replaceIf(t, 1, 'stale', 'lost')).toBe(false);
      expect(await storage.replaceIf(t, 1, 'old', 'new')).toBe(true);
      expect(await storage.replaceIf(t, 1, 'old', 'again')).toBe(false);
      expect(await storage.select([t], [1])).toEqual([{ tenant: t, version: 1, sealed: 'new' }]);
    });

    it('lists every row once over pages', async () => {
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
        expect(page.rows.length).toBeLessThanOrEqual(4);
        listed.push(...page.rows);
        after = page.next;
        pages += 1;
      } while (after !== undefined && pages < 1000);
      expect(after).toBeUndefined();
      const keys = listed.map((r) => `${r.tenant}@${r.version}`);
      expect(new Set(keys).size).toBe(keys.length);
      expect(sorted(listed.filter((r) => mine.has(r.tenant)))).toEqual(sorted(rows));
    });

    it('erases every version of one tenant only, and counts them', async () => {
      const storage = await factory();
      const [a, b] = [tenant(), tenant()];
      await storage.insertIfAbsent(
        [a, b].flatMap((t) => [1, 2, 3].map((version) => ({ tenant: t, version, sealed: 's' }))),
      );
      expect(await storage.erase(a)).toBe(3);
      expect(await storage.erase(a)).toBe(0);
      expect(sorted(await storage.select([a, b], [1, 2, 3]))).toEqual(
        [1, 2, 3].map((version) => ({ tenant: b, version, sealed: 's' })),
      );
    });
  });
}
