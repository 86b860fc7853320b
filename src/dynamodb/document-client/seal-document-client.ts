import { DynamoDBDocumentClient, type TranslateConfig } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AnyModel, Fieldseal } from '../../index.js';
import { planCommand } from './command-sealing.js';
import { registerSealedClient } from './sealed-clients.js';
import { sealedTables, type SealedTableOptions, type SealedTables } from './sealed-tables.js';

/**
 * Options of {@link sealDocumentClient}.
 * @example
 * ```ts
 * const options: SealDocumentClientOptions = { fs, tables: { customers: Customer } };
 * ```
 */
export interface SealDocumentClientOptions {
  readonly fs: Fieldseal;
  /**
   * The fieldseal model of each sealed table's items, by table name; a model with
   * `.blindIndex()` fields is given as `{ model, blindIndex: { indexer } }`.
   */
  readonly tables: Readonly<Record<string, AnyModel | SealedTableOptions>>;
  /** The document client's marshalling options, as `DynamoDBDocumentClient.from` takes them. */
  readonly translateConfig?: TranslateConfig;
}

/** A document client whose middleware stack is its own (the caller's client is left as it was). */
class SealedDocumentClient extends DynamoDBDocumentClient {
  constructor(
    client: DynamoDBClient,
    tables: SealedTables,
    fs: Fieldseal,
    translate?: TranslateConfig,
  ) {
    super(client, translate);
    // DynamoDBDocumentClient shares the base client's stack: never add to the caller's.
    this.middlewareStack = client.middlewareStack.clone();
    // The sealing is the outermost middleware (initialize step, high priority): every other
    // one, the SDK's logger included, sees the sealed input and the output before it is
    // decrypted, so a client's logger never logs plaintext. It reads the document form: the
    // marshalling runs later, in the serialize step.
    type Args = { input: object };
    type Next = (args: Args) => Promise<{ output: object }>;
    // Typed loosely: the stack's overloads are keyed by step, and these are generic.
    const stack = this.middlewareStack as unknown as {
      add(middleware: unknown, options: object): void;
      addRelativeTo(middleware: unknown, options: object): void;
    };
    const sealing = (next: Next, context: { commandName?: string }) => async (args: Args) => {
      const planned = await planCommand(fs, tables, String(context.commandName), args.input);
      if (planned === undefined) return next(args);
      const result = await next({ ...args, input: planned.input });
      return { ...result, output: await planned.open(result.output as Record<string, unknown>) };
    };
    stack.add(sealing, {
      step: 'initialize',
      priority: 'high',
      name: 'fieldsealDocumentSealing',
      override: true,
    });
    // A low-level command has no document marshalling, so a middleware placed relative to it
    // cannot be: the stack is not built and the command never sent, also when another client
    // (DynamoDBDocument.from) shares this stack.
    stack.addRelativeTo((next: Next) => next, {
      relation: 'before',
      toMiddleware: 'DocumentMarshall',
      name: 'fieldsealDocumentCommandsOnly',
      override: true,
    });
    // A low-level command carries attribute values the sealing does not read: only the
    // document commands (lib-dynamodb's) pass.
    const send = this.send.bind(this) as (...a: unknown[]) => unknown;
    this.send = ((command: object, ...rest: unknown[]) => {
      if (typeof command !== 'object' || command === null || !('clientCommand' in command)) {
        throw new TypeError(
          'sealDocumentClient: send the document commands of @aws-sdk/lib-dynamodb (PutCommand, GetCommand, ...), not the low-level ones',
        );
      }
      return send(command, ...rest);
    }) as typeof this.send;
  }
}

/**
 * A new `DynamoDBDocumentClient` over `client` that seals the encrypted attributes of the
 * configured tables' items: Put, BatchWrite and TransactWrite encrypt them (one batch and one
 * key fetch per tenant per request) with the context of each item's table, key and tenant;
 * Get, Query, Scan, BatchGet, TransactGet and `ReturnValues` decrypt them; Update may only
 * `SET #a = :v` an encrypted attribute, with the context of its `Key` (which must hold the
 * tenant). A condition, filter, key condition or projection that needs to read an encrypted
 * attribute, an item without its tenant, a value that is not an envelope, PartiQL and the
 * low-level commands are refused with a typed error before any request. The caller's client
 * and its middleware stack are not changed. Libraries that take a document client (ElectroDB,
 * dynamodb-toolbox) can be given this one.
 * Blind-indexed attributes get their index attributes (`<field>_bidx_v<n>`) with every Put
 * and every Update that sets them; {@link findByBlindIndex} looks values up through them.
 * @throws TypeError for a table that is neither a model nor `{ model, blindIndex }`, or a
 *   blind-indexed model without `blindIndex`; KeyNotConfiguredError when `fs` does not
 *   enforce a model's policies.
 * @example
 * ```ts
 * import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
 * import { PutCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
 * import { sealDocumentClient } from 'fieldseal/dynamodb';
 *
 * const documents = sealDocumentClient(new DynamoDBClient({}), { fs, tables: { customers: Customer } });
 * await documents.send(new PutCommand({ TableName: 'customers', Item: { tenantId: 'acme', id: 'c1', ssn: '078-05-1120' } }));
 * const { Item } = await documents.send(new GetCommand({ TableName: 'customers', Key: { tenantId: 'acme', id: 'c1' } }));
 * ```
 */
export function sealDocumentClient(
  client: DynamoDBClient,
  options: SealDocumentClientOptions,
): DynamoDBDocumentClient {
  const tables = sealedTables(options.fs, client, options.tables);
  const sealed = new SealedDocumentClient(client, tables, options.fs, options.translateConfig);
  registerSealedClient(sealed, {
    fs: options.fs,
    tables,
    plain: DynamoDBDocumentClient.from(client, options.translateConfig),
  });
  return sealed;
}
