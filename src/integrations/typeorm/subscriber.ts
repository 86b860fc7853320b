import {
  EventSubscriber,
  type AfterQueryEvent,
  type BeforeQueryEvent,
  type DataSource,
  type EntityMetadata,
  type EntitySubscriberInterface,
  type EntityTarget,
  type InsertEvent,
  type LoadEvent,
  type ObjectLiteral,
  type QueryRunner,
  type TransactionCommitEvent,
  type TransactionRollbackEvent,
  type UpdateEvent,
} from 'typeorm';

import type { AnyModel, Fieldseal } from '../../index.js';
import type { BlindIndexSource } from '../../integration/index.js';
import {
  bindEntity,
  hasSealedColumns,
  refuse,
  refuseSealedReferences,
  type EntityBinding,
} from './entity-binding.js';
import { openEntities, type ReadJob } from './entity-reads.js';
import { restorePlaintext, sealEntities, type WriteJob } from './entity-writes.js';
import { FlushBatches } from './flush-batches.js';
import { sealedTransformerOf } from './sealed-column.js';
import { RefusedValue, SealedParameter } from './sealed-value.js';
import { refuseUnsafeStatement } from './statement-checks.js';

/**
 * One entity sealed by fieldseal: the entity (its class, `EntitySchema` or name), the
 * fieldseal model whose fields it stores (same property names), and for blind-indexed fields
 * the source of their indexes (the model's `createPostgresRepository`).
 * @example
 * ```ts
 * const customers: SealedEntity = { entity: Customer, model: CustomerModel, blindIndexes: customerIndexes };
 * ```
 */
export interface SealedEntity {
  readonly entity: EntityTarget<ObjectLiteral>;
  readonly model: AnyModel;
  readonly blindIndexes?: BlindIndexSource;
}

/**
 * Options of {@link fieldsealSubscriber}.
 * @example
 * ```ts
 * const options: FieldsealSubscriberOptions = { fs, entities: [{ entity: Customer, model: CustomerModel }] };
 * ```
 */
export interface FieldsealSubscriberOptions {
  readonly fs: Fieldseal;
  readonly entities: readonly SealedEntity[];
}

/**
 * The subscriber class {@link fieldsealSubscriber} returns, registered with TypeORM already.
 * @example
 * ```ts
 * const Subscriber: FieldsealSubscriberClass = fieldsealSubscriber({ fs, entities });
 * new DataSource({ type: 'postgres', entities: [Customer], subscribers: [Subscriber] });
 * ```
 */
export type FieldsealSubscriberClass = new () => EntitySubscriberInterface;

const NONE = Symbol('no binding');
const UNLISTED = Symbol('sealed, listed by no subscriber');

/** Each registered fieldseal subscriber's bindings, for findSealed and the assertion. */
export abstract class FieldsealSubscriberBase implements EntitySubscriberInterface {
  /** The bindings of this subscriber's entities in a data source (checked on first use). */
  abstract bindings(dataSource: DataSource): ReadonlyMap<EntityMetadata, EntityBinding>;
  /** Every entity: the subscriber itself picks the ones it lists. */
  listenTo(): ObjectConstructor {
    return Object;
  }
}

/**
 * A promise TypeORM may never await (it stops at the first failing listener): its rejection is
 * marked handled here, and still reaches TypeORM when it awaits.
 */
function handled(promise: Promise<void>): Promise<void> {
  promise.catch(() => {});
  return promise;
}

/** The binding of an entity in a data source, from whichever fieldseal subscriber has it. */
export function bindingIn(
  dataSource: DataSource,
  metadata: EntityMetadata,
): EntityBinding | undefined {
  for (const s of dataSource.subscribers) {
    if (s instanceof FieldsealSubscriberBase) {
      const found = s.bindings(dataSource).get(metadata);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/**
 * The TypeORM subscriber that encrypts sealed columns on insert and update (one batch per
 * operation: all entities of a `save([...])` or `insert([...])` in one client call, one key
 * fetch per tenant), gives the entities their plaintext back after the write, and decrypts
 * sealed columns of every loaded entity (relations included), each with its record's
 * context. It refuses, with `ERR_UNSUPPORTED_OPTION` naming `table.column`, what it cannot bind
 * to a record: `repository.update(criteria, partial)` and `QueryBuilder.update().set()` touching
 * a sealed, blind-index, tenant or key column; a `save` changing a record's tenant or key; an
 * insert without the record's tenant and key; a load selecting sealed columns without them.
 *
 * The returned class is decorated (`@EventSubscriber()`) here: put it in the DataSource's
 * `subscribers`, then call {@link assertFieldsealSubscribed}. Sealed columns refuse any value
 * this subscriber did not seal, so a missing subscriber fails every write, never writes plaintext.
 * @throws TypeError (on first use, or from {@link assertFieldsealSubscribed}) naming the first
 *   entity or column that does not match its model.
 * @example
 * ```ts
 * import { assertFieldsealSubscribed, fieldsealSubscriber } from 'fieldseal/typeorm';
 *
 * const dataSource = new DataSource({
 *   type: 'postgres',
 *   url: process.env.DATABASE_URL,
 *   entities: [Customer],
 *   subscribers: [fieldsealSubscriber({ fs, entities: [{ entity: Customer, model: CustomerModel }] })],
 * });
 * await dataSource.initialize();
 * assertFieldsealSubscribed(dataSource);
 * await dataSource.getRepository(Customer).save({ tenantId: 'acme', id: 'c1', ssn: '078-05-1120' });
 * ```
 */
export function fieldsealSubscriber(options: FieldsealSubscriberOptions): FieldsealSubscriberClass {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('fieldsealSubscriber: expected { fs, entities }');
  }
  const { fs } = options;
  if (typeof fs !== 'object' || fs === null || typeof fs.encryptManyToBytes !== 'function') {
    throw new TypeError('fieldsealSubscriber: fs must be a Fieldseal client');
  }
  if (!Array.isArray(options.entities) || options.entities.length === 0) {
    throw new TypeError('fieldsealSubscriber: entities must list at least one sealed entity');
  }
  const entities = options.entities.map((e: unknown) => {
    if (typeof e !== 'object' || e === null) {
      throw new TypeError('fieldsealSubscriber: each entity is { entity, model, blindIndexes? }');
    }
    const { entity, model, blindIndexes } = e as SealedEntity;
    if (entity === undefined || typeof model !== 'object' || model === null) {
      throw new TypeError('fieldsealSubscriber: each entity is { entity, model, blindIndexes? }');
    }
    return Object.freeze({ entity, model, blindIndexes });
  });
  /** Entities written in a query runner's operation and not yet given back their plaintext. */
  const inFlight = new WeakMap<QueryRunner, Set<ObjectLiteral>>();
  /** A write that failed: its entities get their plaintext back (a retry re-seals). */
  const restoreAll = (runner: QueryRunner): void => {
    const set = inFlight.get(runner);
    if (set === undefined) return;
    inFlight.delete(runner);
    for (const entity of set) restorePlaintext(entity);
  };
  const writes = new FlushBatches<WriteJob>(async (jobs) => {
    const errors = await sealEntities(fs, jobs);
    if (errors.some((e) => e !== undefined)) {
      // TypeORM gives up on a write whose listener failed, with no event: once it has released
      // the runner, the other entities of the batch get their plaintext back.
      const runner = jobs[0]!.runner as QueryRunner;
      setImmediate(() => {
        if (runner.isReleased) restoreAll(runner);
      });
    }
    return errors;
  });
  const reads = new FlushBatches<ReadJob>((jobs) => openEntities(fs, jobs));
  const byDataSource = new WeakMap<DataSource, Map<EntityMetadata, EntityBinding>>();
  /** The same bindings by table name, for the statements beforeQuery checks. */
  const byTable = new WeakMap<DataSource, ReadonlyMap<string, EntityBinding>>();
  /** Each entity's binding as events found it (NONE: not sealed or another's; UNLISTED: refused). */
  const resolved = new WeakMap<EntityMetadata, EntityBinding | typeof NONE | typeof UNLISTED>();

  class FieldsealSubscriber extends FieldsealSubscriberBase {
    bindings(dataSource: DataSource): ReadonlyMap<EntityMetadata, EntityBinding> {
      let map = byDataSource.get(dataSource);
      if (map === undefined) {
        map = new Map();
        for (const { entity, model, blindIndexes } of entities) {
          const metadata = dataSource.getMetadata(entity);
          if (map.has(metadata)) {
            throw new TypeError(`fieldsealSubscriber: entity ${metadata.name} is listed twice`);
          }
          map.set(metadata, bindEntity(metadata, model, blindIndexes, fs));
        }
        refuseSealedReferences(dataSource.entityMetadatas);
        byDataSource.set(dataSource, map);
        byTable.set(dataSource, new Map([...map.values()].map((b) => [b.table, b])));
      }
      return map;
    }

    /**
     * This subscriber's binding of an event's entity, or undefined when another handles it or it
     * has no sealed column (worked out once per entity: every event of every entity asks).
     */
    #bindingOf(dataSource: DataSource, metadata: EntityMetadata): EntityBinding | undefined {
      let known = resolved.get(metadata);
      if (known === undefined) {
        const mine = this.bindings(dataSource).get(metadata);
        known =
          mine ??
          (hasSealedColumns(metadata) && bindingIn(dataSource, metadata) === undefined
            ? UNLISTED
            : NONE);
        resolved.set(metadata, known);
      }
      if (known === UNLISTED) {
        const column = metadata.columns.find((c) => sealedTransformerOf(c.transformer));
        refuse(
          metadata.tableName,
          column?.databaseName ?? '?',
          `entity ${metadata.name} has sealed columns but no fieldsealSubscriber lists it`,
        );
      }
      return known === NONE ? undefined : known;
    }

    beforeQuery(event: BeforeQueryEvent): void {
      try {
        this.bindings(event.connection);
        refuseUnsafeStatement(byTable.get(event.connection)!, event.query);
        const { parameters } = event;
        const list: unknown[] = Array.isArray(parameters)
          ? parameters
          : Object.values(parameters ?? {});
        for (const p of list) {
          if (p instanceof RefusedValue) throw p.error();
          // A sealed value left on an entity by a write that failed, carried by another one.
          if (p instanceof SealedParameter && p.sealed.runner !== event.queryRunner) {
            refuse(
              p.sealed.column.split('.')[0]!,
              p.sealed.column.split('.').slice(1).join('.'),
              'a sealed value can only be written by the write it was sealed for',
            );
          }
        }
      } catch (err) {
        // TypeORM reports no failed query for a refusal here: the write's entities get their
        // plaintext back now.
        restoreAll(event.queryRunner);
        throw err;
      }
    }

    beforeInsert(event: InsertEvent<ObjectLiteral>): Promise<void> | undefined {
      const binding = this.#bindingOf(event.connection, event.metadata);
      if (binding === undefined) return undefined;
      return this.#seal(event.queryRunner, event.entity, binding, undefined);
    }

    beforeUpdate(event: UpdateEvent<ObjectLiteral>): Promise<void> | undefined {
      const binding = this.#bindingOf(event.connection, event.metadata);
      if (binding === undefined || event.entity === undefined) return undefined;
      const previous = event.databaseEntity as ObjectLiteral | undefined;
      if (previous === undefined) {
        // repository.update(criteria, partial) / QueryBuilder.update().set(): no record.
        for (const prop of Object.keys(event.entity)) {
          const what = binding.sealed.has(prop)
            ? 'a sealed column'
            : binding.scopeProps.includes(prop)
              ? "a record's tenant or key"
              : [...binding.indexProps.values()].includes(prop)
                ? 'a blind-index column'
                : binding.guardedRelations.has(prop)
                  ? 'a relation joined on a sealed, index, tenant or key column'
                  : undefined;
          if (what !== undefined) {
            refuse(
              binding.table,
              prop,
              `an update by criteria cannot set ${what}: it names no record to bind the value to (load the entity and save it)`,
            );
          }
        }
        return undefined;
      }
      return this.#seal(event.queryRunner, event.entity, binding, previous);
    }

    #seal(
      runner: QueryRunner,
      entity: ObjectLiteral,
      binding: EntityBinding,
      previous: ObjectLiteral | undefined,
    ): Promise<void> {
      let set = inFlight.get(runner);
      if (set === undefined) inFlight.set(runner, (set = new Set()));
      set.add(entity);
      // A write TypeORM gave up on (another listener failed) has released its runner: the
      // entity keeps its plaintext rather than get sealed values nothing will write.
      const pending = () => inFlight.get(runner)?.has(entity) === true && !runner.isReleased;
      return handled(writes.add(runner, { entity, binding, previous, runner, pending }));
    }

    afterInsert(event: InsertEvent<ObjectLiteral>): void {
      this.#restore(event.queryRunner, event.entity);
    }

    afterUpdate(event: UpdateEvent<ObjectLiteral>): void {
      this.#restore(event.queryRunner, event.entity);
    }

    #restore(runner: QueryRunner, entity: ObjectLiteral | undefined): void {
      if (entity === undefined) return;
      inFlight.get(runner)?.delete(entity);
      restorePlaintext(entity);
    }

    afterQuery(event: AfterQueryEvent): void {
      if (!event.success) restoreAll(event.queryRunner);
    }

    afterTransactionRollback(event: TransactionRollbackEvent): void {
      restoreAll(event.queryRunner);
    }

    /** A transaction that committed after a failed write it caught: no entity keeps a placeholder. */
    afterTransactionCommit(event: TransactionCommitEvent): void {
      restoreAll(event.queryRunner);
    }

    afterLoad(entity: ObjectLiteral, event?: LoadEvent<ObjectLiteral>): Promise<void> | undefined {
      if (event === undefined) return undefined;
      const binding = this.#bindingOf(event.connection, event.metadata);
      if (binding === undefined) return undefined;
      return handled(reads.add(event.queryRunner, { entity, binding }));
    }
  }
  EventSubscriber()(FieldsealSubscriber);
  return FieldsealSubscriber;
}
