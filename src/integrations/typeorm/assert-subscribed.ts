import type { DataSource } from 'typeorm';
import { KeyNotConfiguredError } from '../../index.js';
import { hasSealedColumns } from './entity-binding.js';
import { FieldsealSubscriberBase } from './subscriber.js';

/**
 * Check that a data source encrypts what it should: a fieldseal subscriber is registered
 * (a subscriber TypeORM never registered is silently never called), every entity with sealed
 * columns is listed by exactly one, and each listed entity matches its model. Call it once after
 * `initialize()`, at start-up.
 * @throws KeyNotConfiguredError when no fieldseal subscriber is registered or an entity with
 *   sealed columns is listed by none (or by two); TypeError when the data source is not
 *   initialised or an entity does not match its model (naming the column).
 * @example
 * ```ts
 * import { assertFieldsealSubscribed } from 'fieldseal/typeorm';
 *
 * await dataSource.initialize();
 * assertFieldsealSubscribed(dataSource);   // throws ERR_KEY_NOT_CONFIGURED without the subscriber
 * ```
 */
export function assertFieldsealSubscribed(dataSource: DataSource): void {
  if (typeof dataSource !== 'object' || dataSource === null || !dataSource.isInitialized) {
    throw new TypeError('assertFieldsealSubscribed: call it with a DataSource after initialize()');
  }
  const subscribers = dataSource.subscribers.filter(
    (s): s is FieldsealSubscriberBase => s instanceof FieldsealSubscriberBase,
  );
  if (subscribers.length === 0) {
    throw new KeyNotConfiguredError(
      'no fieldseal subscriber is registered with this DataSource: pass subscribers: [fieldsealSubscriber({ fs, entities })] to it',
    );
  }
  const bindings = subscribers.map((s) => s.bindings(dataSource));
  for (const metadata of dataSource.entityMetadatas) {
    if (!hasSealedColumns(metadata)) continue;
    const listed = bindings.filter((b) => b.has(metadata)).length;
    if (listed !== 1) {
      throw new KeyNotConfiguredError(
        `entity ${metadata.name} has sealed columns and is listed by ${listed === 0 ? 'no' : 'more than one'} fieldseal subscriber: list it once in fieldsealSubscriber({ entities })`,
        { details: { field: metadata.tableName } },
      );
    }
  }
}
