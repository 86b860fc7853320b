import { onPrisma6 } from './prisma6-suite.js';

/* The repository contract through fieldseal/prisma on Prisma 6.16: see prisma6-suite.ts. */
await onPrisma6('the repository contract', () => import('./prisma-contract.test.js'));
