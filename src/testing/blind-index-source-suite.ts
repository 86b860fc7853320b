import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import type { BlindIndexSource } from '../integration/index.js';
import { schemaOf } from '../integration/index.js';
import type { ContractTestFunctions } from './repository-contract.js';

/**
 * What the setup of {@link runBlindIndexSourceSuite} returns: the source under test (over a
 * model with at least one blind-indexed field and one field without), two tenants whose data
 * keys exist and that have nothing indexed yet, and how to release what the setup made.
 * @example
 * ```ts
 * const made: BlindIndexSourceSuiteSetup = {
 *   source: createPostgresRepository({ sql, fs, model: Person, blindIndex: { indexer } }),
 *   tenants: ['t1', 't2'],
 *   teardown: () => db.close(),
 * };
 * ```
 */
export interface BlindIndexSourceSuiteSetup {
  readonly source: BlindIndexSource;
  readonly tenants: readonly [string, string];
  readonly teardown?: () => Promise<void>;
}

/**
 * Register the behaviour every {@link BlindIndexSource} must have: a tenant with nothing
 * indexed gets no lookup indexes; `writeIndexes` answers each write in order with its index
 * columns, equal for equal values of one tenant and different across tenants; a lookup
 * queries the read column with the written index, collapses duplicates and re-checks
 * (`matches`) by value; bad arguments and fields without a blind index are refused with a
 * `TypeError`; a lookup never prints the values asked for. Assertions use
 * `node:assert/strict`.
 * @param test the test functions of your runner
 * @param name what the suite is run on (in the `describe` title)
 * @param setup called once before the cases
 * @example
 * ```ts
 * import { afterAll, beforeAll, describe, it } from 'vitest';
 * import { runBlindIndexSourceSuite } from 'fieldseal/testing';
 * runBlindIndexSourceSuite({ describe, it, beforeAll, afterAll }, 'my repository', async () => {
 *   for (const t of ['t1', 't2']) await admin.provisionTenant(t);
 *   return { source: myRepository, tenants: ['t1', 't2'] };
 * });
 * ```
 */
export function runBlindIndexSourceSuite(
  test: ContractTestFunctions,
  name: string,
  setup: () => Promise<BlindIndexSourceSuiteSetup>,
): void {
  const it = (title: string, fn: () => Promise<void>): void => test.it(title, fn);
  test.describe(`BlindIndexSource conformance: ${name}`, () => {
    let made: BlindIndexSourceSuiteSetup;
    let indexed: string;
    let plain: string;
    const secret = 'Suite.Value@Example.org';
    test.beforeAll(async () => {
      made = await setup();
      const schema = schemaOf(made.source.model);
      const first = schema.blindIndexed[0];
      const other = schema.fields.find((f) => f.encryption?.blindIndex === undefined);
      assert.ok(first !== undefined, 'the model needs a blind-indexed field');
      assert.ok(other !== undefined, 'the model needs a field without a blind index');
      indexed = first.name;
      plain = other.name;
    });
    test.afterAll(async () => {
      await made?.teardown?.();
    });

    it('a tenant with nothing indexed gets no lookup indexes', async () => {
      const [, fresh] = made.tenants;
      const q = await made.source.lookupIndexes(fresh, indexed, [secret]);
      assert.deepEqual([...q.indexes], []);
      assert.equal(typeof q.column, 'string');
      assert.equal(q.matches(secret), true, 'the re-check works without indexes');
    });

    it('writeIndexes answers each write in order; equal per tenant, different across tenants', async () => {
      const [a, b] = made.tenants;
      const out = await made.source.writeIndexes([
        { tenant: a, field: indexed, value: secret },
        { tenant: b, field: indexed, value: secret },
        { tenant: a, field: indexed, value: 'someone.else@example.org' },
        { tenant: a, field: indexed, value: secret },
      ]);
      assert.equal(out.length, 4);
      const columns = Object.keys(out[0]!);
      assert.ok(columns.length >= 1, 'at least the read version is written');
      const named = made.source.indexColumns(indexed);
      assert.deepEqual([...named.written].sort(), [...columns].sort(), 'indexColumns().written');
      assert.ok(named.written.includes(named.read), 'the read column is written');
      assert.ok(Object.isFrozen(named) && Object.isFrozen(named.written));
      for (const row of out) {
        assert.deepEqual(Object.keys(row), columns);
        for (const c of columns) assert.equal(typeof row[c], 'string');
      }
      for (const c of columns) {
        assert.equal(out[0]![c], out[3]![c], 'equal values of one tenant index alike');
        assert.notEqual(out[0]![c], out[1]![c], 'tenants never share an index');
        assert.notEqual(out[0]![c], out[2]![c]);
      }
      assert.deepEqual(await made.source.writeIndexes([]), []);
    });

    it('a lookup queries the read column with the written index and re-checks by value', async () => {
      const [a] = made.tenants;
      const [written] = await made.source.writeIndexes([
        { tenant: a, field: indexed, value: secret },
      ]);
      const q = await made.source.lookupIndexes(a, indexed, [secret, secret]);
      assert.ok(Object.hasOwn(written!, q.column), 'the read column is a written one');
      assert.equal(q.column, made.source.indexColumns(indexed).read, 'indexColumns().read');
      assert.deepEqual([...q.indexes], [written![q.column]], 'duplicates collapse');
      assert.equal(q.matches(secret), true);
      assert.equal(q.matches('someone.else@example.org'), false);
      assert.equal(q.matches(42), false);
      assert.equal(q.matches(null), false);
      assert.ok(Object.isFrozen(q));
      const printed = `${inspect(q, { depth: 5, showHidden: true })} ${JSON.stringify(q)}`;
      assert.ok(!printed.includes(secret), 'a lookup never prints the values asked for');
      assert.deepEqual([...(await made.source.lookupIndexes(a, indexed, [])).indexes], []);
    });

    it('refuses fields without a blind index and bad arguments with a TypeError', async () => {
      const [a] = made.tenants;
      const bad: (() => Promise<unknown>)[] = [
        () => made.source.lookupIndexes(a, plain, [secret]),
        () => made.source.lookupIndexes(a, 'no_such_field', [secret]),
        () => made.source.lookupIndexes('', indexed, [secret]),
        () => made.source.lookupIndexes(a, indexed, [42 as unknown as string]),
        () => made.source.lookupIndexes(a, indexed, secret as unknown as string[]),
        () =>
          made.source.lookupIndexes(
            a,
            indexed,
            Array.from({ length: 1001 }, () => 'x'),
          ),
        () => made.source.writeIndexes([{ tenant: a, field: plain, value: secret }]),
        () => made.source.writeIndexes([{ tenant: '', field: indexed, value: secret }]),
        () => made.source.writeIndexes([{ tenant: a, field: indexed, value: 7 as never }]),
        () => made.source.writeIndexes([null as never]),
        () =>
          made.source.writeIndexes([
            Object.defineProperty({ tenant: a, field: indexed }, 'value', {
              enumerable: true,
              get: () => secret,
            }) as never,
          ]),
        () => Promise.resolve().then(() => made.source.indexColumns(plain)),
        () => Promise.resolve().then(() => made.source.indexColumns('no_such_field')),
      ];
      for (const [i, call] of bad.entries()) {
        await assert.rejects(call, TypeError, `case ${i} is refused with a TypeError`);
      }
    });
  });
}
