import { schemaOf } from '../integration/index.js';
import { planBlindIndex } from './blind-index-attributes.js';
import { planLegacy } from './legacy-values.js';
import type { AnyModel } from '../index.js';
import type { Sender } from './batch-requests.js';
import { Repository } from './dynamo-repository.js';
import { optionSnapshot } from './option-snapshot.js';
import type { DynamoRepository, DynamoRepositoryOptions } from './repository-types.js';
import { planIndexes } from './secondary-indexes.js';
import { planKeys } from './table-keys.js';

/**
 * A repository for one model in one DynamoDB table. The table's partition (and sort) key are
 * the model's record key, so the AAD of every encrypted attribute binds the tenant, the
 * model's table name, the attribute name and the item's DynamoDB key: an attribute copied to
 * another item, another attribute or another tenant does not decrypt.
 * @throws TypeError when `keys` name an unknown or encrypted field, or are not the model's key;
 *   when the model has `.blindIndex()` fields and `blindIndex` is missing (or the reverse);
 *   UnsupportedOptionError for an option it does not know.
 * @example
 * ```ts
 * const Customer = defineModel({
 *   table: 'customers', tenant: 'tenantId', key: ['pk', 'sk'],
 *   fields: { pk: field.string(), sk: field.string(), tenantId: field.string(), email: field.string().encrypted() },
 * });
 * const repo = createDynamoRepository({
 *   client: new DynamoDBClient({}), fs, model: Customer, tableName: 'customers',
 *   keys: { partition: 'pk', sort: 'sk' },
 * });
 * ```
 */
export function createDynamoRepository<M extends AnyModel>(
  input: DynamoRepositoryOptions<M>,
): DynamoRepository<M> {
  if (typeof input !== 'object' || input === null) {
    throw new TypeError('createDynamoRepository: expected an options object');
  }
  // Read once; an option it does not know (say `readOnly: true`) must not be silently ignored.
  const options = optionSnapshot('createDynamoRepository options', input, [
    'client',
    'fs',
    'model',
    'tableName',
    'keys',
    'indexes',
    'blindIndex',
    'legacy',
  ]) as unknown as DynamoRepositoryOptions<M>;
  const { client, fs, model, tableName } = options;
  const plan = schemaOf(model);
  const layout = planKeys(plan, options.keys);
  if (typeof tableName !== 'string' || tableName.length < 3) {
    throw new TypeError('tableName: expected a DynamoDB table name (3 or more characters)');
  }
  if (typeof (client as Partial<Sender> | undefined)?.send !== 'function') {
    throw new TypeError('client: expected a DynamoDBClient or DynamoDBDocumentClient');
  }
  const sender = client as unknown as Sender;
  const blindIndex = planBlindIndex(plan, options.blindIndex, client, fs);
  const indexes = planIndexes(plan, options.indexes, blindIndex);
  const legacy = planLegacy(plan, options.legacy);
  return new Repository<M>(sender, fs, model, plan, layout, indexes, tableName, blindIndex, legacy);
}
