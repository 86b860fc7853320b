import { describe, expect, it } from 'vitest';
import { available } from '../requirements-available.js';

/*
 * A Prisma test file run again on Prisma 6.16 (test/prisma6, on the PostgreSQL server): with
 * FIELDSEAL_TEST_PRISMA_MAJOR=6 while it loads, prisma-db.ts gives it Prisma 6's generated
 * client and adapter. Skipped loudly without the install (`npm ci --prefix test/prisma6`).
 */
export async function onPrisma6(what: string, load: () => Promise<unknown>): Promise<void> {
  if (!available('prisma6')) {
    describe.skip('fieldseal/prisma on Prisma 6.16 (npm ci --prefix test/prisma6)', () => {
      it(what, () => {});
    });
    return;
  }
  process.env.FIELDSEAL_TEST_PRISMA_MAJOR = '6';
  await load();
  const { PRISMA_CLIENT_VERSION } = await import('./prisma-db.js');
  delete process.env.FIELDSEAL_TEST_PRISMA_MAJOR;
  it('runs on Prisma 6.16', () => {
    expect(PRISMA_CLIENT_VERSION).toMatch(/^6\.16\./);
  });
}
