/**
 * `fieldseal/typeorm`: field encryption for TypeORM (PostgreSQL). TypeORM's column transformers
 * are synchronous, so a KMS cannot live in one: encrypted properties are {@link SealedColumn}s,
 * whose transformer lets through only what the {@link fieldsealSubscriber} sealed, and the
 * subscriber (async) encrypts on insert and update, batched per operation, and decrypts on load.
 * Blind-index lookups go through {@link findSealed} with {@link SealedEqual} / {@link SealedIn},
 * re-checked after decryption. See docs/typeorm.md.
 * @packageDocumentation
 */
export {
  SealedColumn,
  sealedColumn,
  type SealedColumnKind,
  type SealedColumnOptions,
} from './sealed-column.js';
export {
  fieldsealSubscriber,
  type FieldsealSubscriberClass,
  type FieldsealSubscriberOptions,
  type SealedEntity,
} from './subscriber.js';
export { assertFieldsealSubscribed } from './assert-subscribed.js';
export { findOneSealed, findSealed, SealedEqual, SealedIn } from './lookups.js';
