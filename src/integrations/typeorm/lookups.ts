import {
  FindOperator,
  In,
  type FindManyOptions,
  type ObjectLiteral,
  type Repository,
} from 'typeorm';
import { KeyNotConfiguredError } from '../../index.js';
import { ownData } from '../../integration/index.js';
import { refuse, type EntityBinding } from './entity-binding.js';
import { bindingIn } from './subscriber.js';

/*
 * Blind-index lookups for TypeORM: find operators that only `findSealed` understands (passed to
 * a plain `find`, the sealed column's transformer refuses them), turned into conditions on the
 * index column and re-checked against the decrypted values.
 */

/** The values each lookup operator asks for (a snapshot taken when it is made). */
const lookups = new WeakMap<object, readonly string[]>();

function lookupOperator(kind: 'equal' | 'in', values: readonly string[]): FindOperator<string> {
  if (values.length === 0 || values.length > 1000 || values.some((v) => typeof v !== 'string')) {
    throw new TypeError('SealedIn: expected 1 to 1,000 strings');
  }
  const snapshot = Object.freeze([...values]);
  const operator =
    kind === 'equal'
      ? new FindOperator<string>('equal', snapshot[0]!)
      : (In([...snapshot]) as FindOperator<string>);
  lookups.set(operator, snapshot);
  return operator;
}

/**
 * "This blind-indexed sealed property equals `value`", for {@link findSealed}: it queries the
 * index column and re-checks each row after decryption. A plain `find` given it is refused.
 * @throws TypeError when `value` is not a string.
 * @example
 * ```ts
 * const found = await findSealed(customers, {
 *   where: { tenantId: 'acme', email: SealedEqual('ada@example.com') },
 * });
 * ```
 */
export function SealedEqual(value: string): FindOperator<string> {
  if (typeof value !== 'string') throw new TypeError('SealedEqual: expected a string');
  return lookupOperator('equal', [value]);
}

/**
 * "This blind-indexed sealed property is one of `values`" (1 to 1,000), for {@link findSealed}.
 * @throws TypeError when `values` is not 1 to 1,000 strings.
 * @example
 * ```ts
 * const found = await findSealed(customers, {
 *   where: { tenantId: 'acme', email: SealedIn(['ada@example.com', 'grace@example.com']) },
 * });
 * ```
 */
export function SealedIn(values: readonly string[]): FindOperator<string> {
  if (!Array.isArray(values)) throw new TypeError('SealedIn: expected 1 to 1,000 strings');
  return lookupOperator('in', values);
}

function bindingOf(repository: Repository<ObjectLiteral>): EntityBinding {
  const binding = bindingIn(repository.manager.connection, repository.metadata);
  if (binding === undefined) {
    throw new KeyNotConfiguredError(
      `entity ${repository.metadata.name} is not listed by a fieldseal subscriber of its DataSource`,
      { details: { field: repository.metadata.tableName } },
    );
  }
  return binding;
}

const noPlainData = (table: string) => (): never =>
  refuse(table, '?', 'find options must be plain data');

/**
 * `repository.find(options)` where the `where` may hold {@link SealedEqual} / {@link SealedIn}
 * on blind-indexed sealed properties (next to the tenant, given as a plain string): each
 * becomes a condition on its index column, and the rows found are re-checked against their
 * decrypted values, so a false positive of the index is never returned. `skip` / `take` are
 * applied after the re-check. Options without a lookup are passed to `find` as they are.
 * @throws UnsupportedOptionError naming `table.column` for a lookup without the tenant, on a
 *   property that is not blind-indexed, in an array of `where` (OR), a plain value compared to a
 *   sealed property, a filter on an index column, `order` on a sealed property, or a `select`
 *   leaving out the looked-up property, tenant or key.
 * @example
 * ```ts
 * import { findSealed, SealedEqual } from 'fieldseal/typeorm';
 *
 * const [ada] = await findSealed(dataSource.getRepository(Customer), {
 *   where: { tenantId: 'acme', email: SealedEqual('ada@example.com') },
 * });
 * ```
 */
export async function findSealed<E extends ObjectLiteral>(
  repository: Repository<E>,
  options: FindManyOptions<E>,
): Promise<E[]> {
  const binding = bindingOf(repository);
  const { table, schema } = binding;
  const opts = ownData(options, noPlainData(table));
  if (Array.isArray(opts.where)) {
    for (const branch of opts.where as unknown[]) {
      if (typeof branch === 'object' && branch !== null && lookupsIn(branch).length > 0) {
        refuse(
          table,
          lookupsIn(branch)[0]!,
          'a lookup in an array of where conditions (OR) cannot be re-checked: use SealedIn, or one findSealed per condition',
        );
      }
    }
    return repository.find(options);
  }
  if (typeof opts.where !== 'object' || opts.where === null) return repository.find(options);
  const where = ownData(opts.where, noPlainData(table));
  const found = lookupsIn(where);
  for (const prop of Object.keys(where)) {
    if (binding.sealed.has(prop) && !found.includes(prop)) {
      refuse(
        table,
        prop,
        'a sealed property is compared with SealedEqual / SealedIn on a blind-indexed field, never a plain value',
      );
    }
    if ([...binding.indexProps.values()].includes(prop)) {
      refuse(table, prop, 'filter on the sealed property with SealedEqual / SealedIn instead');
    }
  }
  if (found.length === 0) return repository.find(options);
  refuseOrdering(binding, opts.order);
  refuseSelection(binding, opts.select, found);

  const tenant = where[schema.tenant];
  if (typeof tenant !== 'string') {
    refuse(table, found[0]!, `a lookup needs the tenant: where.${schema.tenant} as a string`);
  }
  const checks: { prop: string; matches(value: unknown): boolean }[] = [];
  for (const prop of found) {
    const field = binding.sealed.get(prop);
    if (field?.encryption?.blindIndex === undefined) {
      refuse(table, prop, 'SealedEqual / SealedIn work on blind-indexed fields only');
    }
    const lookup = await binding.source!.lookupIndexes(
      tenant,
      prop,
      lookups.get(where[prop] as object)!,
    );
    if (lookup.indexes.length === 0) return [];
    delete where[prop];
    where[binding.indexProps.get(lookup.column)!] = In([...lookup.indexes]);
    checks.push({ prop, matches: (v) => lookup.matches(v) });
  }
  const { skip, take } = opts;
  const rows = await repository.find({
    ...opts,
    where,
    skip: undefined,
    take: undefined,
  } as FindManyOptions<E>);
  const kept = rows.filter(
    (row) =>
      (row as ObjectLiteral)[schema.tenant] === tenant &&
      checks.every((c) => c.matches((row as ObjectLiteral)[c.prop])),
  );
  const from = typeof skip === 'number' ? skip : 0;
  return kept.slice(from, typeof take === 'number' ? from + take : undefined);
}

/**
 * {@link findSealed} for the first row (or null).
 * @throws as {@link findSealed}.
 * @example
 * ```ts
 * const ada = await findOneSealed(customers, { where: { tenantId: 'acme', email: SealedEqual('ada@example.com') } });
 * ```
 */
export async function findOneSealed<E extends ObjectLiteral>(
  repository: Repository<E>,
  options: FindManyOptions<E>,
): Promise<E | null> {
  const opts = ownData(options, noPlainData(repository.metadata.tableName));
  const [first] = await findSealed(repository, { ...opts, take: 1 });
  return first ?? null;
}

/** The properties of a `where` object holding a lookup operator. */
function lookupsIn(where: object): string[] {
  return Object.entries(where)
    .filter(([, v]: [string, unknown]) => typeof v === 'object' && v !== null && lookups.has(v))
    .map(([k]) => k);
}

function refuseOrdering(binding: EntityBinding, order: unknown): void {
  if (typeof order !== 'object' || order === null) return;
  for (const prop of Object.keys(order)) {
    if (binding.sealed.has(prop)) {
      refuse(binding.table, prop, 'rows cannot be ordered by a sealed column (its ciphertext)');
    }
  }
}

function refuseSelection(binding: EntityBinding, select: unknown, found: readonly string[]): void {
  if (select === undefined) return;
  const selected = Array.isArray(select)
    ? new Set(select.map(String))
    : new Set(
        Object.entries(ownData(select as object, noPlainData(binding.table)))
          .filter(([, v]) => v === true)
          .map(([k]) => k),
      );
  for (const prop of [...binding.scopeProps, ...found]) {
    if (!selected.has(prop)) {
      refuse(binding.table, found[0]!, `select ${prop} with it: the rows found are re-checked`);
    }
  }
}
