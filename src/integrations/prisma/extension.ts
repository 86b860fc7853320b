import type { InternalArgs } from '@prisma/client/runtime/client';
import { holdsEnvelope } from '../../integration/index.js';
import { KeyNotConfiguredError, UnsupportedOptionError } from '../../index.js';
import type { FieldsealPrismaOptions } from './options.js';
import { runOperation, type OperationCall } from './operations.js';
import { bindModels } from './prisma-models.js';

/**
 * What `$fieldseal()` of a sealed client returns: the Prisma models fieldseal seals.
 * @example
 * ```ts
 * const info: FieldsealPrismaInfo = prisma.$fieldseal(); // { sealedModels: ['Customer', 'Order'] }
 * ```
 */
export interface FieldsealPrismaInfo {
  readonly sealedModels: readonly string[];
}

/**
 * The extension's type for `$extends`: it adds `$fieldseal()` to the client (the mark
 * {@link assertFieldsealClient} checks) and changes no model's types.
 * @example
 * ```ts
 * const extension: FieldsealExtension = fieldseal({ fs, models: { Customer } });
 * ```
 */
export type FieldsealExtension = (client: unknown) => {
  $extends: {
    extArgs: InternalArgs<
      NoExtension,
      NoExtension,
      NoExtension,
      { $fieldseal: () => FieldsealPrismaInfo }
    >;
  };
};

/** No result, model or query component (Prisma's own type for it is `{}`). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
type NoExtension = {};

/** Clients fieldseal extended (and their transaction clients carry the same mark). */
const MARK: unique symbol = Symbol('fieldseal.prisma');

/** Raw queries whose rows are checked for envelopes fieldseal cannot attribute. */
const RAW_QUERIES = new Set(['$queryRaw', '$queryRawUnsafe', '$queryRawTyped']);

/**
 * The fieldseal extension of a Prisma 7 client with a driver adapter: every operation of the
 * configured models encrypts the encrypted fields of what it writes (nested writes included,
 * each with its record's context, one batch per operation), decrypts what it returns (included
 * and selected relations too), turns `equals` / `in` / `OR` of them on blind-indexed fields
 * into index queries with a re-check, and refuses with `ERR_UNSUPPORTED_OPTION` whatever it
 * cannot bind to a record or evaluate on ciphertext. Raw queries are not rewritten; a row of
 * one that holds an envelope is refused.
 *
 * `$extends` returns a new client: use it, and check it with {@link assertFieldsealClient}.
 * @throws TypeError at `$extends` naming the first configured model or field that does not
 *   fit the Prisma schema (types other than String, Bytes and Json for encrypted fields
 *   included); KeyNotConfiguredError when `fs` does not enforce a model's policies.
 * @example
 * ```ts
 * import { PrismaClient } from '@prisma/client';
 * import { PrismaPg } from '@prisma/adapter-pg';
 * import { fieldseal, assertFieldsealClient } from 'fieldseal/prisma';
 *
 * const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString }) }).$extends(
 *   fieldseal({ fs, models: { Customer: { model: Customer, blindIndexes: customerIndexes } } }),
 * );
 * assertFieldsealClient(prisma);
 * await prisma.customer.create({ data: { tenantId: 'acme', id: 'c1', email: 'ada@example.com' } });
 * const found = await prisma.customer.findMany({ where: { tenantId: 'acme', email: 'ada@example.com' } });
 * ```
 */
export function fieldseal(options: FieldsealPrismaOptions): FieldsealExtension {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('fieldseal(prisma): expected { fs, models }');
  }
  const { fs } = options;
  return (client: unknown) => {
    const models = bindModels(client, options);
    const info: FieldsealPrismaInfo = Object.freeze({
      sealedModels: Object.freeze([...models.values()].filter((m) => m.sealed).map((m) => m.name)),
    });
    const $fieldseal = Object.assign(() => info, { [MARK]: true });
    return (client as { $extends(ext: unknown): unknown }).$extends({
      name: 'fieldseal',
      client: { $fieldseal },
      query: {
        async $allOperations(call: OperationCall) {
          if (call.model === undefined) {
            const result = await call.query(call.args);
            if (RAW_QUERIES.has(call.operation) && holdsEnvelope(result)) {
              throw new UnsupportedOptionError(
                `${call.operation}: a row holds an encrypted value fieldseal cannot attribute to a record and field: query the model instead`,
                { details: { field: '?.?' } },
              );
            }
            return result;
          }
          return runOperation(fs, models, call);
        },
      },
    }) as ReturnType<FieldsealExtension>;
  };
}

/**
 * Check that `client` is a Prisma client extended with {@link fieldseal} (or a transaction
 * client of one). `$extends` returns a new client and leaves the one it was called on as it
 * was: code that keeps using the original writes plaintext. Call this where the client is
 * made, and in tests of the code that receives it.
 * @throws KeyNotConfiguredError when it is not.
 * @example
 * ```ts
 * const prisma = base.$extends(fieldseal({ fs, models }));
 * assertFieldsealClient(prisma); // passes
 * assertFieldsealClient(base);   // throws ERR_KEY_NOT_CONFIGURED
 * ```
 */
export function assertFieldsealClient(client: unknown): void {
  const mark = (client as { $fieldseal?: unknown } | null | undefined)?.$fieldseal;
  if (typeof mark !== 'function' || (mark as { [MARK]?: unknown })[MARK] !== true) {
    throw new KeyNotConfiguredError(
      'this Prisma client is not extended with fieldseal: use the client $extends(fieldseal(...)) returned, not the one it was called on',
    );
  }
}
