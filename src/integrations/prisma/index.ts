/**
 * `fieldseal/prisma`: a Prisma client extension that encrypts and decrypts the fields of
 * fieldseal models, walks nested writes and included relations, answers blind-index lookups
 * with a re-check, and refuses what it cannot bind to a record. See docs/prisma.md.
 * @packageDocumentation
 */
export {
  assertFieldsealClient,
  fieldseal,
  type FieldsealExtension,
  type FieldsealPrismaInfo,
} from './extension.js';
export type { FieldsealPrismaOptions, SealedPrismaModel } from './options.js';
export { sealedCheckConstraints, type SealedCheckOptions } from './check-constraints.js';
