import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFieldseal, defineModel, field, type Fieldseal } from '../../src/index.js';
import {
  assertFieldsealClient,
  fieldseal,
  sealedCheckConstraints,
} from '../../src/integrations/prisma/index.js';
import {
  createPostgresRepository,
  PostgresKeyStore,
  type PostgresRepository,
} from '../../src/postgres/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';
import { onOrmBackends, type OrmBackend } from './orm-backends.js';
import { collidingValues, refusal } from './orm-test-helpers.js';
import { Prisma, PRISMA_TABLES, PRISMA_MAJOR, prismaClient, type BasePrisma } from './prisma-db.js';
import { testIndexer } from './repository-backends.js';

/*
 * fieldseal/prisma beyond the repository contract (prisma-contract.test.ts): nested writes and
 * included relations across two sealed models and a plain one, partial selections, lookups
 * with forced blind-index collisions (findFirst and take re-run past false positives), every
 * refusal of what cannot be bound to a record or evaluated on ciphertext, raw queries, the
 * discarded-extension guards (assertFieldsealClient, the CHECK constraints), and canaries.
 */
const CANARY = 'CANARY-prisma-7d0e';

const Customer = defineModel({
  table: 'prisma_customers',
  tenant: 'tenantId',
  key: ['id'],
  fields: {
    tenantId: field.string(),
    id: field.string(),
    name: field.string(),
    email: field
      .string()
      .encrypted({ storage: 'text' })
      .blindIndex({ bits: 16, normalize: ['trim', 'lowercase'] }),
    profile: field.json<{ note: string }>().encrypted({ storage: 'text' }).nullable(),
  },
});

const Order = defineModel({
  table: 'prisma_orders',
  tenant: 'tenantId',
  key: ['id'],
  fields: {
    tenantId: field.string(),
    id: field.string(),
    customerId: field.string(),
    total: field.number(),
    card: field.string().encrypted(),
  },
});

const customer = (tenantId: string, i: number, email = `p${i}@example.com`) => ({
  tenantId,
  id: `${tenantId}-c${i}`,
  name: `name ${i}`,
  email,
  profile: { note: `${CANARY}-profile-${tenantId}-${i}` },
});
const card = (i: number) => `${CANARY}-card-${i}`;

/** The rows of a table as stored. */
async function rawDump(b: OrmBackend, table: string): Promise<string> {
  const { rows } = await b.sql.query(`SELECT * FROM ${table}`);
  return inspect(rows, { depth: 6, maxStringLength: null });
}

onOrmBackends(
  (name, backend) => {
    describe(`fieldseal/prisma on ${name}`, () => {
      let b: OrmBackend;
      let fs: Fieldseal;
      let base: BasePrisma;
      let customers: PostgresRepository<typeof Customer>;
      const sealedClient = () =>
        base.$extends(
          fieldseal({
            fs,
            models: { Customer: { model: Customer, blindIndexes: customers }, Order },
          }),
        );
      let prisma: ReturnType<typeof sealedClient>;

      beforeAll(async () => {
        b = backend();
        fs = createFieldseal({
          provider: new MemoryKeyProvider(),
          keys: {
            mode: 'store',
            store: new PostgresKeyStore({ sql: b.sql }),
            masterKeyId: 'master',
          },
          cache: { maxAgeMs: 60_000 },
          models: [Customer, Order],
          admin: true,
        });
        for (const t of ['acme', 'globex', 'tx-tenant']) await fs.provisionTenant(t);
        await b.sql.exec(PRISMA_TABLES);
        customers = createPostgresRepository({
          sql: b.sql,
          fs,
          model: Customer,
          blindIndex: { indexer: await testIndexer() },
        });
        await customers.createTable();
        base = prismaClient(b);
        prisma = sealedClient();
      });
      afterAll(async () => {
        await base.$disconnect();
        fs.close();
      });

      it('nested creates seal each record with its own context; includes decrypt at every depth', async () => {
        const created = await prisma.customer.create({
          data: {
            ...customer('acme', 1),
            orders: {
              create: [
                { id: 'acme-o1', total: 10, card: card(1) as never },
                { id: 'acme-o2', total: 20, card: card(2) as never },
              ],
            },
            tags: { create: { label: 'vip' } },
          },
          include: { orders: { orderBy: { id: 'asc' } }, tags: { select: { label: true } } },
        });
        expect(created).toMatchObject({
          email: 'p1@example.com',
          profile: customer('acme', 1).profile,
          orders: [
            { id: 'acme-o1', card: card(1), total: 10 },
            { id: 'acme-o2', card: card(2), total: 20 },
          ],
          tags: [{ label: 'vip' }],
        });
        for (const table of ['prisma_customers', 'prisma_orders']) {
          const dump = await rawDump(b, table);
          expect(dump).not.toContain(CANARY);
          expect(dump).not.toContain('p1@example.com');
        }
        // Each value is bound to its own record: an order's card moved to the other order fails.
        const { rows } = await b.sql.query<{ card: Uint8Array }>(
          "SELECT card FROM prisma_orders WHERE id = 'acme-o1'",
        );
        await b.sql.query("UPDATE prisma_orders SET card = $1 WHERE id = 'acme-o2'", [
          rows[0]!.card,
        ]);
        const moved = await prisma.order
          .findUnique({ where: { tenantId_id: { tenantId: 'acme', id: 'acme-o2' } } })
          .then(
            () => undefined,
            (err: unknown) => err,
          );
        expect(moved).toMatchObject({
          code: 'ERR_BATCH_FAILED',
          failures: [{ error: { details: { field: 'prisma_orders.card' } } }],
        });
        // delete returns the deleted record, decrypted after the delete ran: the call fails on
        // the value that does not decrypt, and the record is gone (docs/prisma.md says so).
        await expect(
          prisma.order.delete({ where: { tenantId_id: { tenantId: 'acme', id: 'acme-o2' } } }),
        ).rejects.toMatchObject({ code: 'ERR_BATCH_FAILED' });
        expect(await prisma.order.count({ where: { tenantId: 'acme', id: 'acme-o2' } })).toBe(0);
        // From the other side of the relation, through select.
        const order = await prisma.order.findFirst({
          where: { tenantId: 'acme', id: 'acme-o1' },
          select: { card: true, customer: { select: { email: true, profile: true } } },
        });
        expect(order).toEqual({
          card: card(1),
          customer: { email: 'p1@example.com', profile: customer('acme', 1).profile },
        });
      });

      it('a selection without the tenant or key gets them added, and removed from the rows', async () => {
        await prisma.customer.createMany({ data: [customer('acme', 2), customer('globex', 2)] });
        const rows = await prisma.customer.findMany({
          where: { tenantId: { in: ['acme', 'globex'] }, name: 'name 2' },
          select: { email: true },
          orderBy: { tenantId: 'asc' },
        });
        expect(rows).toEqual([{ email: 'p2@example.com' }, { email: 'p2@example.com' }]);
        const omitted = await prisma.customer.findMany({
          where: { tenantId: 'acme', name: 'name 2' },
          omit: { tenantId: true, id: true, profile: true },
        });
        expect(omitted).toEqual([
          { name: 'name 2', email: 'p2@example.com', email_bidx_v1: expect.any(String) as string },
        ]);
      });

      it('equals, in and OR of lookups are index queries, re-checked: collisions never leak', async () => {
        const [a, z] = await collidingValues(customers, 'acme', 'email');
        // `a` sorts first and collides with `z`: a bounded find must look past it.
        await prisma.customer.createMany({
          data: [customer('acme', 100, a), customer('acme', 101, z), customer('globex', 100, z)],
        });
        const ids = (rows: readonly { id: string }[]) => rows.map((r) => r.id);
        expect(
          ids(await prisma.customer.findMany({ where: { tenantId: 'acme', email: z } })),
        ).toEqual(['acme-c101']);
        expect(
          ids(
            await prisma.customer.findMany({
              where: { tenantId: 'acme', email: { equals: ` ${z.toUpperCase()}` } },
            }),
          ),
        ).toEqual(['acme-c101']);
        expect(
          ids(
            await prisma.customer.findMany({
              where: { tenantId: 'acme', email: { in: [a, 'absent@example.com'] } },
            }),
          ),
        ).toEqual(['acme-c100']);
        expect(
          ids(
            await prisma.customer.findMany({
              where: { tenantId: 'acme', OR: [{ email: a }, { email: 'p1@example.com' }] },
              orderBy: { id: 'asc' },
            }),
          ),
        ).toEqual(['acme-c1', 'acme-c100']);
        const first = await prisma.customer.findFirst({
          where: { tenantId: 'acme', email: z },
          orderBy: { id: 'asc' },
        });
        expect(first?.id).toBe('acme-c101');
        const firstOrThrow = await prisma.customer.findFirstOrThrow({
          where: { tenantId: 'acme', email: z },
          orderBy: { id: 'asc' },
          select: { name: true },
        });
        expect(firstOrThrow).toEqual({ name: 'name 101' });
        const page = await prisma.customer.findMany({
          where: { tenantId: 'acme', email: z },
          orderBy: { id: 'asc' },
          take: 1,
        });
        expect(ids(page)).toEqual(['acme-c101']);
        await expect(
          prisma.customer.findFirstOrThrow({
            where: { tenantId: 'acme', email: 'absent@example.com' },
          }),
        ).rejects.toMatchObject({ code: 'P2025' });
        expect(
          await prisma.customer.findUnique({
            where: { tenantId_id: { tenantId: 'acme', id: 'acme-c100' }, email: z },
          }),
        ).toBeNull();
      });

      it('update and upsert by key re-seal the values and their indexes; writes without a key are refused', async () => {
        await prisma.customer.create({ data: customer('acme', 3) });
        const key = { tenantId_id: { tenantId: 'acme', id: 'acme-c3' } };
        const updated = await prisma.customer.update({
          where: key,
          data: { email: { set: 'new3@example.com' }, profile: { note: 'moved' } },
        });
        expect(updated).toMatchObject({ email: 'new3@example.com', profile: { note: 'moved' } });
        const found = await prisma.customer.findMany({
          where: { tenantId: 'acme', email: 'new3@example.com' },
        });
        expect(found.map((r) => r.id)).toEqual(['acme-c3']);
        expect(
          await prisma.customer.findMany({ where: { tenantId: 'acme', email: 'p3@example.com' } }),
        ).toEqual([]);
        const upserted = await prisma.customer.upsert({
          where: { tenantId_id: { tenantId: 'acme', id: 'acme-c4' } },
          create: customer('acme', 4),
          update: { email: 'never@example.com' },
        });
        expect(upserted.email).toBe('p4@example.com');
        const again = await prisma.customer.upsert({
          where: { tenantId_id: { tenantId: 'acme', id: 'acme-c4' } },
          create: customer('acme', 4),
          update: { email: 'upserted@example.com' },
        });
        expect(again.email).toBe('upserted@example.com');
        // The record is named by its own key, never by a relation filter's fields.
        const o7 = { tenantId_id: { tenantId: 'acme', id: 'acme-o7' } };
        await prisma.order.create({
          data: {
            tenantId: 'acme',
            id: 'acme-o7',
            customerId: 'acme-c3',
            total: 7,
            card: card(7) as never,
          },
        });
        await prisma.order.update({
          where: { ...o7, customer: { tenantId: 'acme', id: 'acme-c3' } },
          data: { card: card(77) as never },
        });
        expect((await prisma.order.findUnique({ where: o7 }))?.card).toBe(card(77));
        const refused = [
          prisma.customer.updateMany({
            where: { tenantId: 'acme' },
            data: { email: 'x@example.com' },
          }),
          prisma.order.update({ where: { ...o7, id: 'other' }, data: { card: card(8) as never } }),
          prisma.customer.update({
            where: { tenantId_id: key.tenantId_id },
            data: { id: 'other' },
          }),
          prisma.customer.update({
            where: { tenantId_id: key.tenantId_id },
            data: { email_bidx_v1: 'x' },
          }),
          prisma.order.update({
            where: { tenantId_id: { tenantId: 'acme', id: 'acme-o1' } },
            data: {
              card: { set: `${CANARY}-nested` as never },
              customer: { update: { email: 'n@example.com' } },
            },
          }),
          prisma.customer.update({
            where: { tenantId_id: key.tenantId_id },
            data: {
              orders: { updateMany: { where: {}, data: { card: `${CANARY}-many` as never } } },
            },
          }),
          prisma.customer.upsert({
            where: { tenantId_id: { tenantId: 'acme', id: 'acme-c5' } },
            create: {
              ...customer('acme', 5),
              orders: { create: { total: 1, card: 'c' as never } as never },
            },
            update: {},
          }),
        ];
        const fields = [];
        for (const [i, attempt] of refused.entries()) {
          const got = await refusal(attempt).catch((err: Error) => {
            throw new Error(`case ${i}: ${err.message}`);
          });
          expect(got.code).toBe('ERR_UNSUPPORTED_OPTION');
          expect(got.message).not.toContain(CANARY);
          fields.push(got.field);
        }
        expect(fields).toEqual([
          'Customer.email',
          'Order.card',
          'Customer.id',
          'Customer.email_bidx_v1',
          'Customer.email',
          'Order.card',
          'Order.id',
        ]);
      });

      it('refuses every filter, order, cursor and aggregate an encrypted field cannot answer', async () => {
        const where = { tenantId: 'acme' };
        const cases: [Promise<unknown>, string][] = [
          [
            prisma.customer.findMany({ where: { ...where, email: { contains: 'x' } } }),
            'Customer.email',
          ],
          [
            prisma.customer.findMany({ where: { ...where, email: { startsWith: 'x' } } }),
            'Customer.email',
          ],
          [prisma.customer.findMany({ where: { email: 'x@example.com' } }), 'Customer.email'],
          [
            prisma.customer.findMany({ where: { ...where, NOT: { email: 'x' } } }),
            'Customer.email',
          ],
          [
            prisma.customer.findMany({ where: { ...where, OR: [{ email: 'x' }, { name: 'y' }] } }),
            'Customer.email',
          ],
          [
            prisma.customer.findMany({ where: { ...where, profile: { equals: {} } } }),
            'Customer.profile',
          ],
          [prisma.customer.findMany({ where, orderBy: { email: 'asc' } }), 'Customer.email'],
          [
            prisma.order.findMany({ where, orderBy: { customer: { email: 'desc' } } }),
            'Customer.email',
          ],
          [
            prisma.order.findMany({ where, orderBy: [{ id: 'asc' }, { card: 'asc' }] }),
            'Order.card',
          ],
          [prisma.customer.findMany({ where, distinct: ['email'] }), 'Customer.email'],
          [
            prisma.customer.findMany({ where: { ...where, email: 'x' }, skip: 1 }),
            'Customer.email',
          ],
          [
            prisma.order.findMany({ where: { ...where, customer: { email: 'x' } } }),
            'Customer.email',
          ],
          [
            prisma.customer.findMany({
              where: { ...where, orders: { some: { card: 'x' as never } } },
            }),
            'Order.card',
          ],
          [
            prisma.customer.findMany({
              where,
              include: { orders: { where: { card: 'x' as never } } },
            }),
            'Order.card',
          ],
          [prisma.customer.count({ where: { ...where, email: 'x' } }), 'Customer.email'],
          [prisma.customer.deleteMany({ where: { ...where, email: 'x' } }), 'Customer.email'],
          [
            prisma.customer.delete({
              where: { tenantId_id: { tenantId: 'acme', id: 'acme-c1' }, email: 'x' },
            }),
            'Customer.email',
          ],
          [prisma.order.aggregate({ where, _max: { card: true } }), 'Order.card'],
          [prisma.customer.groupBy({ by: ['email'], where }), 'Customer.email'],
        ];
        for (const [attempt, field] of cases) {
          const got = await refusal(attempt);
          expect(got, field).toMatchObject({ code: 'ERR_UNSUPPORTED_OPTION', field });
        }
        // What can be answered is answered: null tests, counts, plain filters.
        expect(
          await prisma.customer.count({ where: { ...where, profile: { not: Prisma.DbNull } } }),
        ).toBeGreaterThan(0);
        expect(await prisma.order.aggregate({ where, _count: { card: true } })).toMatchObject({
          _count: { card: 2 },
        });
      });

      it('creates refuse records without their tenant or key, and values of the wrong kind', async () => {
        const cases: [Promise<unknown>, string, string][] = [
          [
            prisma.customer.create({ data: { ...customer('acme', 6), email: 42 as never } }),
            'ERR_UNSUPPORTED_VALUE',
            'prisma_customers.email',
          ],
          [
            prisma.customer.create({ data: { ...customer('acme', 7), email: null as never } }),
            'ERR_UNSUPPORTED_VALUE',
            'prisma_customers.email',
          ],
          [
            prisma.customer.create({
              data: {
                ...customer('acme', 8),
                orders: { create: { id: undefined as never, total: 1, card: card(8) as never } },
              },
            }),
            'ERR_UNSUPPORTED_OPTION',
            'Order.id',
          ],
        ];
        for (const [attempt, code, fieldName] of cases) {
          const got = await refusal(attempt);
          expect(got).toMatchObject({ code });
          expect(got.field ?? got.message).toContain(fieldName);
          expect(got.message).not.toContain(CANARY);
        }
        expect(
          await prisma.customer.findMany({
            where: { tenantId: 'acme', name: { in: ['name 6', 'name 7', 'name 8'] } },
          }),
        ).toEqual([]);
      });

      it('raw queries run; a raw row holding an envelope is refused, never returned', async () => {
        expect(await prisma.$queryRaw`SELECT count(*)::int AS n FROM prisma_customers`).toEqual([
          { n: expect.any(Number) as number },
        ]);
        const got = await refusal(prisma.$queryRaw`SELECT email FROM prisma_customers`);
        expect(got.code).toBe('ERR_UNSUPPORTED_OPTION');
        await expect(
          prisma.$queryRawUnsafe('SELECT card FROM prisma_orders'),
        ).rejects.toMatchObject({
          code: 'ERR_UNSUPPORTED_OPTION',
        });
      });

      it('assertFieldsealClient tells the extended client (and its transactions) from the original', async () => {
        assertFieldsealClient(prisma);
        expect(() => assertFieldsealClient(base)).toThrow(
          expect.objectContaining({ code: 'ERR_KEY_NOT_CONFIGURED' }),
        );
        expect(() => assertFieldsealClient({ $fieldseal: () => ({}) })).toThrow();
        const write = () =>
          prisma.$transaction(async (tx) => {
            assertFieldsealClient(tx);
            await tx.customer.create({ data: customer('tx-tenant', 1) });
          });
        if (b.kind === 'pglite') {
          // A tenant's first blind-indexed record creates its index secret: never inside an ORM
          // transaction on PGlite (it could roll back while fieldseal kept using the secret).
          await expect(write()).rejects.toMatchObject({ code: 'ERR_KEY_STORE_UNAVAILABLE' });
          await prisma.customer.create({ data: customer('tx-tenant', 0) });
        }
        await write();
        const found = await prisma.customer.findMany({
          where: { tenantId: 'tx-tenant', email: 'p1@example.com' },
        });
        expect(found.map((r) => r.id)).toEqual(['tx-tenant-c1']);
        expect(prisma.$fieldseal()).toEqual({ sealedModels: ['Customer', 'Order'] });
      });

      it('the CHECK constraints refuse plaintext written around the extension, without echoing it', async () => {
        for (const statement of sealedCheckConstraints(Customer, { json: ['profile'] })) {
          await b.sql.exec(statement);
        }
        for (const data of [
          { ...customer('acme', 9), email: `${CANARY}@example.com` },
          { ...customer('acme', 9), profile: { note: CANARY } },
        ]) {
          // The client the `$extends` left as it was writes what it is given: the database refuses.
          const err: unknown = await base.customer.create({ data }).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(Error);
          expect(inspect(err, { depth: 8 })).not.toContain(CANARY);
        }
        // The extended client writes and reads through the domains.
        await prisma.customer.create({ data: customer('acme', 9) });
        const read = await prisma.customer.findMany({
          where: { tenantId: 'acme', email: 'p9@example.com' },
        });
        expect(read).toMatchObject([{ id: 'acme-c9', profile: customer('acme', 9).profile }]);
      });

      it('a second review: hostile arguments, deep relation filters, relinks, the fluent API', async () => {
        await prisma.customer.create({
          data: {
            ...customer('acme', 300),
            orders: { create: { id: 'acme-o300', total: 1, card: card(300) as never } },
          },
        });
        await prisma.customer.create({
          data: {
            ...customer('globex', 300),
            orders: { create: { id: 'globex-o300', total: 1, card: card(301) as never } },
          },
        });
        const acme300 = { tenantId_id: { tenantId: 'acme', id: 'acme-c300' } };
        const parsed = (json: string) => JSON.parse(json) as never;
        const cases: [Promise<unknown>, string][] = [
          // An own __proto__ key (JSON.parse makes one) or a toJSON would make Prisma send
          // other data than what fieldseal read.
          [
            prisma.customer.create({
              data: parsed(
                `{"tenantId":"acme","id":"acme-c301","name":"n","__proto__":{"email":"${CANARY}@x"}}`,
              ),
            }),
            '?.?',
          ],
          [
            prisma.customer.update({
              where: acme300,
              data: parsed(`{"__proto__":{"email":"${CANARY}"}}`),
            }),
            '?.?',
          ],
          [
            prisma.customer.findMany({
              where: parsed(`{"tenantId":"acme","__proto__":{"email":{"contains":"${CANARY}"}}}`),
            }),
            '?.?',
          ],
          [
            prisma.customer.create({
              data: {
                ...customer('acme', 302),
                email: 'decoy@x',
                toJSON: () => customer('acme', 302),
              } as never,
            }),
            '?.?',
          ],
          // Filters on encrypted fields two relations deep, and in AND / OR inside a relation.
          [
            prisma.customer.findMany({
              where: {
                tenantId: 'acme',
                orders: { some: { customer: { email: 'p1@example.com' } } },
              },
            }),
            'Customer.email',
          ],
          [
            prisma.customer.findMany({
              where: {
                tenantId: 'acme',
                orders: { none: { AND: [{ card: Buffer.from(CANARY) }] } },
              },
            }),
            'Order.card',
          ],
          [
            prisma.order.findMany({
              where: {
                tenantId: 'acme',
                customer: { is: { orders: { some: { card: 'x' as never } } } },
              },
            }),
            'Order.card',
          ],
          // A caller's condition on an index column (it escaped the re-check of an OR branch).
          [
            prisma.customer.findMany({
              where: {
                tenantId: 'acme',
                OR: [{ email: 'a@x' }, { email: 'b@x', email_bidx_v1: 'i' }],
              },
            }),
            'Customer.email_bidx_v1',
          ],
          // Relinking moves a sealed record's tenant through the foreign key.
          [
            prisma.order.update({
              where: { tenantId_id: { tenantId: 'acme', id: 'acme-o300' } },
              data: {
                customer: { connect: { tenantId_id: { tenantId: 'globex', id: 'globex-c300' } } },
              },
            }),
            'Order.customer',
          ],
          [
            prisma.customer.update({
              where: acme300,
              data: {
                orders: { connect: { tenantId_id: { tenantId: 'globex', id: 'globex-o300' } } },
              },
            }),
            'Customer.orders',
          ],
          // Ordering by an aggregate of ciphertext; a field reference to ciphertext.
          [
            prisma.order.groupBy({
              by: ['tenantId'],
              _min: { total: true },
              orderBy: { _min: { card: 'asc' } },
            } as never),
            'Order.card',
          ],
          [
            prisma.customer.findMany({
              where: { tenantId: 'acme', name: { equals: prisma.customer.fields.email } },
            }),
            'Customer.email',
          ],
          // The fluent API: Prisma unpacks the related rows before the extension sees them.
          [prisma.customer.findUnique({ where: acme300 }).orders(), 'Customer.orders'],
        ];
        for (const [i, [attempt, fieldName]] of cases.entries()) {
          const got = await refusal(attempt).catch((err: Error) => {
            throw new Error(`case ${i}: ${err.message}`);
          });
          expect(got, `case ${i}`).toMatchObject({
            code: 'ERR_UNSUPPORTED_OPTION',
            field: fieldName,
          });
          expect(got.message).not.toContain(CANARY);
        }
        for (const table of ['prisma_customers', 'prisma_orders']) {
          expect(await rawDump(b, table)).not.toContain(CANARY);
        }
        const orders = await b.sql.query<{ tenantId: string }>(
          "SELECT \"tenantId\" FROM prisma_orders WHERE id IN ('acme-o300', 'globex-o300') ORDER BY id",
        );
        expect(orders.rows).toEqual([{ tenantId: 'acme' }, { tenantId: 'globex' }]);
        // What the fluent API would give is read through an include.
        const withOrders = await prisma.customer.findUnique({
          where: acme300,
          include: { orders: true },
        });
        expect(withOrders?.orders.map((o) => o.card)).toEqual([card(300)]);
      });

      it('setup refuses a configuration the Prisma schema does not fit', () => {
        const bad = (models: Parameters<typeof fieldseal>[0]['models']) => () =>
          base.$extends(fieldseal({ fs, models }));
        const Wrong = defineModel({
          table: 'prisma_orders',
          tenant: 'tenantId',
          key: ['id'],
          fields: {
            tenantId: field.string(),
            id: field.string(),
            customerId: field.string(),
            total: field.number().encrypted(),
            card: field.string().encrypted(),
          },
        });
        const fsWrong = createFieldseal({
          provider: new MemoryKeyProvider(),
          keys: {
            mode: 'store',
            store: new PostgresKeyStore({ sql: b.sql }),
            masterKeyId: 'master',
          },
          cache: { maxAgeMs: 60_000 },
          models: [Wrong],
        });
        expect(bad({ Nope: Order })).toThrow(/no such model/);
        expect(bad({ Customer })).toThrow(/blindIndexes/);
        expect(bad({ Order: Customer })).toThrow(/Order\.name: the Prisma model has no such field/);
        expect(() => base.$extends(fieldseal({ fs: fsWrong, models: { Order: Wrong } }))).toThrow(
          /Order\.total: an encrypted field is stored in a String, Bytes or Json column, not Int/,
        );
        expect(
          bad({
            Customer: {
              model: Customer,
              blindIndexes: createPostgresRepository({ sql: b.sql, fs, model: Order }),
            },
          }),
        ).toThrow(/another model/);
      });
    });
  },
  // Prisma 6 (prisma6-*.test.ts) on the server only: no PGlite adapter speaks its bytes arguments.
  { pglite: PRISMA_MAJOR === 7 },
);
