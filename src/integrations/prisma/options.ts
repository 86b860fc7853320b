import type { AnyModel, Fieldseal } from '../../index.js';
import type { BlindIndexSource } from '../../integration/index.js';

/**
 * One Prisma model sealed by fieldseal: the fieldseal model whose fields it stores (same field
 * names), and for blind-indexed fields the source of their indexes (the model's
 * `createPostgresRepository`, which keeps the tenants' index secrets).
 * @example
 * ```ts
 * const customer: SealedPrismaModel = { model: Customer, blindIndexes: customerIndexes };
 * ```
 */
export interface SealedPrismaModel {
  readonly model: AnyModel;
  readonly blindIndexes?: BlindIndexSource;
}

/**
 * Options of {@link fieldseal}: the client, and the sealed Prisma models by Prisma model name
 * (a fieldseal model alone when it has no blind index). Configuration lives here, in
 * TypeScript, never in schema comments.
 * @example
 * ```ts
 * const options: FieldsealPrismaOptions = {
 *   fs,
 *   models: { Customer: { model: Customer, blindIndexes: customerIndexes }, Order },
 * };
 * ```
 */
export interface FieldsealPrismaOptions {
  readonly fs: Fieldseal;
  readonly models: Readonly<Record<string, AnyModel | SealedPrismaModel>>;
}
