import { onPrisma6 } from './prisma6-suite.js';

/* The fieldseal/prisma suite (prisma.test.ts) on Prisma 6.16: see prisma6-suite.ts. */
await onPrisma6('the fieldseal/prisma suite', () => import('./prisma.test.js'));
