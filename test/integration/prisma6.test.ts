import { describe, expect, it } from 'vitest';
import { available } from '../requirements-available.js';

/*
 * The fieldseal/prisma suite (prisma.test.ts) on Prisma 6.16 (test/prisma6, on the
 * PostgreSQL server): prisma.test.ts again, with prisma-db.ts loading Prisma 6's
 * generated client and adapter.
 */
if (available('prisma6')) {
  process.env.FIELDSEAL_TEST_PRISMA_MAJOR = '6';
  await import('./prisma.test.js');
  const { PRISMA_CLIENT_VERSION } = await import('./prisma-db.js');
  delete process.env.FIELDSEAL_TEST_PRISMA_MAJOR;
  it('runs on Prisma 6.16', () => {
    expect(PRISMA_CLIENT_VERSION).toMatch(/^6\.16\./);
  });
} else {
  describe.skip('fieldseal/prisma on Prisma 6.16 (npm ci --prefix test/prisma6)', () => {
    it('the fieldseal/prisma suite', () => {});
  });
}
