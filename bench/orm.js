// fieldseal ORM benchmark (issues #15, #16): insert + select of 10,000 records (6 columns, 3 of
// them encrypted) through Kysely, Drizzle and Prisma on embedded PGlite (and TypeORM on the
// PostgreSQL server when FIELDSEAL_BENCH_PG_URL or FIELDSEAL_TEST_PG_URL is set), three ways on the same ORM and
// database: plaintext columns (the baseline), hand-written raw node:crypto AES-256-GCM (a fresh
// 12-byte IV, the record's tenant/table/field/id as AAD, iv‖ct‖tag in a BYTEA), and
// fieldseal/kysely, fieldseal/drizzle or fieldseal/prisma (its client generated from
// bench/prisma/schema.prisma by `npm run bench`). It reports the process CPU each way (PGlite runs in
// this process, so the database's CPU is in every figure) and the CPU fieldseal adds per record
// against the CPU raw AES-GCM adds: target ≤ 1.3×. Called at the end of bench/run.js; also runs
// alone: `npm run build && node bench/orm.js`. Exits non-zero (BenchFailure) on a wrong value.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpuUsage, hrtime } from 'node:process';
import { pathToFileURL } from 'node:url';

import { PGlite } from '@electric-sql/pglite';
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/pglite';
import { customType, pgTable, text } from 'drizzle-orm/pg-core';
import { Kysely } from 'kysely';
import { PrismaPGlite } from 'pglite-prisma-adapter';

import { createFieldseal, defineModel, field } from '../dist/index.js';
import { sealed, sealTable } from '../dist/integrations/drizzle/index.js';
import { pgliteDialect, withFieldseal } from '../dist/integrations/kysely/index.js';
import { fieldseal } from '../dist/integrations/prisma/index.js';
import { MemoryKeyProvider, MemoryKeyStore } from '../dist/testing/index.js';
import { check, fmtRatio, median, table } from './harness.js';

const RECORDS = Math.max(1000, Number(process.env.BENCH_ORM_RECORDS ?? 10_000));
const TENANTS = 10;
const PER_STATEMENT = 1000;
const ROUNDS = Math.max(3, Number(process.env.BENCH_ORM_ROUNDS ?? 3));
const TARGET = 1.3;
const ENCRYPTED = ['email', 'phone', 'ssn'];
const WAYS = ['plain', 'raw', 'rawSized', 'fieldseal'];

const Person = defineModel({
  table: 'people_fs',
  tenant: 'tenant_id',
  key: ['id'],
  fields: {
    tenant_id: field.string(),
    id: field.string(),
    name: field.string(),
    email: field.string().encrypted(),
    phone: field.string().encrypted(),
    ssn: field.string().encrypted(),
  },
});

function records() {
  return Array.from({ length: RECORDS }, (_, i) => ({
    tenant_id: `tenant-${String(i % TENANTS).padStart(3, '0')}`,
    id: `person-${String(i).padStart(6, '0')}`,
    name: `Person ${i}`,
    email: `person${i}@example.com`,
    phone: `+1 555 ${String(i).padStart(7, '0')}`,
    ssn: `${String(100 + (i % 800)).padStart(3, '0')}-${String(i % 100).padStart(2, '0')}-${String(i).padStart(4, '0').slice(-4)}`,
  }));
}

// --- raw AES-256-GCM, as an application would write it by hand --------------------------
const RAW_KEY = randomBytes(32);
const aadOf = (r, f) => Buffer.from(`${r.tenant_id}|people_raw|${f}|${r.id}`, 'utf8');
function rawSeal(r, f, size = 0) {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', RAW_KEY, iv, { authTagLength: 16 });
  c.setAAD(aadOf(r, f));
  const ct = Buffer.concat([c.update(r[f], 'utf8'), c.final()]);
  const sealed = Buffer.concat([iv, ct, c.getAuthTag()]);
  // The diagnostic variant stores as many bytes as fieldseal's envelope: a zero-filled tail
  // after the tag, and the tag's end in the last byte's place is found by the value's length.
  if (sealed.length >= size) return sealed;
  const out = Buffer.alloc(size);
  sealed.copy(out);
  out[size - 1] = sealed.length;
  return out;
}
function rawOpen(r, f, stored, sized) {
  const all = Buffer.from(stored);
  const b = sized ? all.subarray(0, all[all.length - 1]) : all;
  const d = createDecipheriv('aes-256-gcm', RAW_KEY, b.subarray(0, 12), { authTagLength: 16 });
  d.setAAD(aadOf(r, f));
  d.setAuthTag(b.subarray(b.length - 16));
  return Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]).toString('utf8');
}
/** fieldseal's envelope length for these values (a diagnostic baseline stores as many bytes). */
let ENVELOPE_BYTES = 0;
const rawRow = (sized) => (r) => {
  const size = sized ? ENVELOPE_BYTES : 0;
  return {
    ...r,
    email: rawSeal(r, 'email', size),
    phone: rawSeal(r, 'phone', size),
    ssn: rawSeal(r, 'ssn', size),
  };
};
const rawBack = (sized) => (row) => ({
  ...row,
  email: rawOpen(row, 'email', row.email, sized),
  phone: rawOpen(row, 'phone', row.phone, sized),
  ssn: rawOpen(row, 'ssn', row.ssn, sized),
});

// --- one measured pass: insert every record, then select every tenant ---------------------
async function measure(pass) {
  const wall = hrtime.bigint();
  const cpu = cpuUsage();
  const got = await pass();
  const used = cpuUsage(cpu);
  return {
    cpuMs: (used.user + used.system) / 1000,
    wallMs: Number(hrtime.bigint() - wall) / 1e6,
    got,
  };
}

function verify(all, got, label) {
  check(got.length === all.length, `${label}: selected ${got.length} of ${all.length} records`);
  const byId = new Map(got.map((r) => [r.id, r]));
  for (const want of [all[0], all[all.length >> 1], all[all.length - 1]]) {
    const r = byId.get(want.id);
    for (const f of ['name', ...ENCRYPTED])
      check(r?.[f] === want[f], `${label}: ${want.id}.${f} differs`);
  }
}

const chunks = (all) =>
  Array.from({ length: Math.ceil(all.length / PER_STATEMENT) }, (_, i) =>
    all.slice(i * PER_STATEMENT, (i + 1) * PER_STATEMENT),
  );
const tenants = () =>
  Array.from({ length: TENANTS }, (_, i) => `tenant-${String(i).padStart(3, '0')}`);

async function setup() {
  const pglite = await PGlite.create();
  await pglite.exec(`
    CREATE TABLE people_plain (tenant_id text NOT NULL, id text NOT NULL, name text NOT NULL, email text NOT NULL, phone text NOT NULL, ssn text NOT NULL, PRIMARY KEY (tenant_id, id));
    CREATE TABLE people_raw (tenant_id text NOT NULL, id text NOT NULL, name text NOT NULL, email bytea NOT NULL, phone bytea NOT NULL, ssn bytea NOT NULL, PRIMARY KEY (tenant_id, id));
    CREATE TABLE people_fs (tenant_id text NOT NULL, id text NOT NULL, name text NOT NULL, email bytea NOT NULL, phone bytea NOT NULL, ssn bytea NOT NULL, PRIMARY KEY (tenant_id, id));`);
  const fs = createFieldseal({
    provider: new MemoryKeyProvider(),
    keys: { mode: 'store', store: new MemoryKeyStore(), masterKeyId: 'master' },
    cache: { maxAgeMs: 3_600_000 },
    models: [Person],
    admin: true,
  });
  for (const t of tenants()) await fs.provisionTenant(t);
  const sample = records()[0];
  const envelope = await fs.encryptToBytes(sample.email, {
    tenant: sample.tenant_id,
    table: 'people_fs',
    field: 'email',
    record: sample.id,
  });
  ENVELOPE_BYTES = envelope.length;
  return { pglite, fs };
}

function kyselyPasses({ pglite, fs }, all) {
  const plain = new Kysely({ dialect: pgliteDialect(pglite) });
  const sealedDb = new Kysely(withFieldseal(pgliteDialect(pglite), { fs, models: [Person] }));
  const run = (db, tableName, toRow, fromRow) => async () => {
    await db.deleteFrom(tableName).execute();
    for (const chunk of chunks(all))
      await db.insertInto(tableName).values(chunk.map(toRow)).execute();
    const out = [];
    for (const t of tenants())
      out.push(
        ...(await db.selectFrom(tableName).selectAll().where('tenant_id', '=', t).execute()).map(
          fromRow,
        ),
      );
    return out;
  };
  return {
    plain: run(
      plain,
      'people_plain',
      (r) => r,
      (r) => r,
    ),
    raw: run(plain, 'people_raw', rawRow(false), rawBack(false)),
    rawSized: run(plain, 'people_raw', rawRow(true), rawBack(true)),
    fieldseal: run(
      sealedDb,
      'people_fs',
      (r) => r,
      (r) => r,
    ),
    close: async () => {
      await plain.destroy();
      await sealedDb.destroy();
    },
  };
}

function drizzlePasses({ pglite, fs }, all) {
  const bytea = customType({ dataType: () => 'bytea' });
  const columns = (enc) => ({
    tenant_id: text('tenant_id').notNull(),
    id: text('id').notNull(),
    name: text('name').notNull(),
    email: enc('email').notNull(),
    phone: enc('phone').notNull(),
    ssn: enc('ssn').notNull(),
  });
  const plainT = pgTable('people_plain', columns(text));
  const rawT = pgTable('people_raw', columns(bytea));
  const fsT = pgTable('people_fs', columns(sealed.bytes));
  const people = sealTable(fs, fsT, Person);
  const db = drizzle(pglite);
  const run = (t, toRows, read) => async () => {
    await db.delete(t);
    for (const chunk of chunks(all)) await db.insert(t).values(await toRows(chunk));
    const out = [];
    for (const tenant of tenants())
      out.push(...(await read(db.select().from(t).where(eq(t.tenant_id, tenant)))));
    return out;
  };
  return {
    plain: run(
      plainT,
      (c) => c,
      async (q) => q,
    ),
    raw: run(
      rawT,
      (c) => c.map(rawRow(false)),
      async (q) => (await q).map(rawBack(false)),
    ),
    rawSized: run(
      rawT,
      (c) => c.map(rawRow(true)),
      async (q) => (await q).map(rawBack(true)),
    ),
    fieldseal: run(
      fsT,
      (c) => people.encrypt(c),
      (q) => people.decrypt(q),
    ),
    close: async () => {},
  };
}

function prismaPasses({ pglite, fs }, all) {
  const { PrismaClient } = createRequire(import.meta.url)('./prisma/generated/index.js');
  const base = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  const sealedClient = base.$extends(fieldseal({ fs, models: { PeopleFs: Person } }));
  const run = (delegate, toRow, fromRow) => async () => {
    await delegate.deleteMany({});
    for (const chunk of chunks(all)) await delegate.createMany({ data: chunk.map(toRow) });
    const out = [];
    for (const tenant_id of tenants())
      out.push(...(await delegate.findMany({ where: { tenant_id } })).map(fromRow));
    return out;
  };
  return {
    plain: run(
      base.peoplePlain,
      (r) => r,
      (r) => r,
    ),
    raw: run(base.peopleRaw, rawRow(false), rawBack(false)),
    rawSized: run(base.peopleRaw, rawRow(true), rawBack(true)),
    fieldseal: run(
      sealedClient.peopleFs,
      (r) => r,
      (r) => r,
    ),
    close: () => base.$disconnect(),
  };
}

/**
 * TypeORM has no PGlite driver: its passes run on the PostgreSQL server (FIELDSEAL_BENCH_PG_URL
 * or FIELDSEAL_TEST_PG_URL), in a schema of their own, dropped afterwards. The server's CPU is
 * not in this process's figures, so they measure what the ORM and fieldseal add on the client.
 */
async function typeormPasses({ fs }, all, url) {
  const pg = (await import('pg')).default;
  const { DataSource, EntitySchema } = await import('typeorm');
  const { fieldsealSubscriber, sealedColumn } =
    await import('../dist/integrations/typeorm/index.js');
  const schema = `fieldseal_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Pool({ connectionString: url, max: 1 });
  await admin.query(`CREATE SCHEMA ${schema}`);
  const ddl = (name, type) =>
    `CREATE TABLE ${schema}.${name} (tenant_id text NOT NULL, id text NOT NULL, name text NOT NULL, email ${type} NOT NULL, phone ${type} NOT NULL, ssn ${type} NOT NULL, PRIMARY KEY (tenant_id, id))`;
  await admin.query(ddl('people_plain', 'text'));
  await admin.query(ddl('people_raw', 'bytea'));
  await admin.query(ddl('people_fs', 'bytea'));
  const entity = (name, enc) =>
    new EntitySchema({
      name,
      tableName: name,
      columns: {
        tenant_id: { type: 'text', primary: true },
        id: { type: 'text', primary: true },
        name: { type: 'text' },
        email: enc(),
        phone: enc(),
        ssn: enc(),
      },
    });
  const plainE = entity('people_plain', () => ({ type: 'text' }));
  const rawE = entity('people_raw', () => ({ type: 'bytea' }));
  const fsE = entity('people_fs', () => sealedColumn('bytes'));
  const ds = await new DataSource({
    type: 'postgres',
    url,
    schema,
    extra: { max: 2, options: `-c search_path=${schema}` },
    entities: [plainE, rawE, fsE],
    subscribers: [fieldsealSubscriber({ fs, entities: [{ entity: fsE, model: Person }] })],
  }).initialize();
  const run = (target, toRow, fromRow) => async () => {
    const repo = ds.getRepository(target);
    await repo.clear();
    for (const chunk of chunks(all)) await repo.insert(chunk.map(toRow));
    const out = [];
    for (const tenant_id of tenants())
      out.push(...(await repo.find({ where: { tenant_id } })).map(fromRow));
    return out;
  };
  const copy = (r) => ({ ...r });
  return {
    plain: run(plainE, copy, copy),
    raw: run(rawE, rawRow(false), rawBack(false)),
    rawSized: run(rawE, rawRow(true), rawBack(true)),
    fieldseal: run(fsE, copy, copy),
    close: async () => {
      await ds.destroy();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
  };
}

export async function runOrmBenchmarks() {
  const all = records();
  const env = await setup();
  const rows = [];
  const summary = [];
  const url = process.env.FIELDSEAL_BENCH_PG_URL ?? process.env.FIELDSEAL_TEST_PG_URL;
  const orms = [
    ['Kysely', kyselyPasses],
    ['Drizzle', drizzlePasses],
    ['Prisma', prismaPasses],
  ];
  if (url) orms.push(['TypeORM (server)', (e, a) => typeormPasses(e, a, url)]);
  for (const [orm, make] of orms) {
    const passes = await make(env, all);
    const cpu = Object.fromEntries(WAYS.map((w) => [w, []]));
    const wall = Object.fromEntries(WAYS.map((w) => [w, []]));
    // One warm-up pass each (JIT, PGlite's caches), then interleaved rounds.
    for (const way of WAYS) verify(all, (await measure(passes[way])).got, `${orm} ${way}`);
    for (let round = 0; round < ROUNDS; round++) {
      for (const way of WAYS) {
        const m = await measure(passes[way]);
        verify(all, m.got, `${orm} ${way}`);
        cpu[way].push(m.cpuMs);
        wall[way].push(m.wallMs);
      }
    }
    await passes.close();
    const med = (xs) => median([...xs].sort((a, b) => a - b));
    const perRecordUs = (ms) => (ms * 1000) / RECORDS;
    const addedRaw = med(cpu.raw) - med(cpu.plain);
    const addedFs = med(cpu.fieldseal) - med(cpu.plain);
    const addedSized = med(cpu.rawSized) - med(cpu.plain);
    // Per round, so the spread shows: each round's added CPU against the same round's plain.
    const ratios = cpu.fieldseal
      .map((c, i) => (c - cpu.plain[i]) / Math.max(1e-9, cpu.raw[i] - cpu.plain[i]))
      .sort((a, b) => a - b);
    const ratio = addedFs / addedRaw;
    for (const way of WAYS) {
      rows.push([
        orm,
        way === 'rawSized' ? `raw, ${ENVELOPE_BYTES} B stored` : way,
        `${med(cpu[way]).toFixed(0)} ms`,
        `${perRecordUs(med(cpu[way])).toFixed(1)} µs`,
        `${Math.round((RECORDS * 1000) / med(wall[way])).toLocaleString('en-US')} rec/s`,
      ]);
    }
    summary.push([
      orm,
      `${perRecordUs(addedRaw).toFixed(1)} µs`,
      `${perRecordUs(addedSized).toFixed(1)} µs`,
      `${perRecordUs(addedFs).toFixed(1)} µs`,
      `${fmtRatio(ratio)} (${fmtRatio(ratios[0])}–${fmtRatio(ratios.at(-1))})`,
      ratio <= TARGET ? 'PASS' : 'MISS',
    ]);
  }
  env.fs.close();
  await env.pglite.close();
  console.log(
    `\n== ORMs (issues #15, #16): insert + select of ${RECORDS.toLocaleString('en-US')} records, 3 of 6 columns encrypted, PGlite in process, ${ROUNDS} rounds`,
  );
  if (!url) {
    console.log(
      'TypeORM: not measured (it has no PGlite driver): set FIELDSEAL_BENCH_PG_URL to a PostgreSQL server to include it',
    );
  }
  console.log(
    table(['ORM', 'way', 'CPU (median)', 'CPU per record', 'throughput'], rows, [
      'l',
      'l',
      'r',
      'r',
      'r',
    ]),
  );
  console.log(
    `\nCPU added per record over plaintext columns, fieldseal against raw AES-256-GCM on the same ORM (target ≤ ${TARGET}x):`,
  );
  console.log(
    table(
      [
        'ORM',
        'raw AES-GCM adds',
        `raw, ${ENVELOPE_BYTES} B stored, adds`,
        'fieldseal adds',
        'ratio to raw (min–max per round)',
        '',
      ],
      summary,
      ['l', 'r', 'r', 'r', 'r', 'l'],
    ),
  );
  console.log(
    `(the middle column stores raw AES-GCM zero-filled to the envelope's ${ENVELOPE_BYTES} bytes: the part of the difference that is the database handling bigger values)`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runOrmBenchmarks();
}
