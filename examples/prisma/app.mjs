// fieldseal/prisma, end to end: a Prisma client extended with fieldseal writes patients and
// their visits (a nested create) with every encrypted field sealed under its record's context,
// reads them back decrypted (an `include` of the visits too), finds a patient by email through
// its blind index (re-checked after decryption), and refuses what it cannot answer on
// ciphertext. The tables hold envelopes; the application sees plaintext.
//
// Embedded PostgreSQL (PGlite, in memory) by default; the PostgreSQL server when DATABASE_URL
// is set. The master key and the blind-index key are files in .fieldseal/example-prisma/
// (created on first run, mode 0600). From the repository root:
//   npm run example:prisma
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import {
  createBlindIndexer,
  createFieldseal,
  defineModel,
  field,
  FileSecretSource,
  generateKeyFile,
  isFieldsealError,
  LocalKeyProvider,
} from 'fieldseal';
import { assertFieldsealClient, fieldseal, sealedCheckConstraints } from 'fieldseal/prisma';
import {
  createPostgresRepository,
  fromPGlite,
  fromPgPool,
  migrate,
  PostgresKeyStore,
  shareTransactions,
} from 'fieldseal/postgres';

const { PrismaClient } = createRequire(import.meta.url)('./generated/index.js');

const dir = resolve(process.env.FIELDSEAL_EXAMPLE_DIR ?? '.fieldseal/example-prisma');
const keyFile = (name) => {
  const path = join(dir, `${name}.key`);
  if (!existsSync(path)) generateKeyFile(path);
  return path;
};
const keys = new FileSecretSource({
  keys: { master: keyFile('master'), 'blind-index': keyFile('blind-index') },
});

// The database: fieldseal's SQL client (key store, index secrets) and Prisma's driver adapter.
let sql;
let adapter;
let where;
if (process.env.DATABASE_URL) {
  const pg = (await import('pg')).default;
  const { PrismaPg } = await import('@prisma/adapter-pg');
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
  sql = fromPgPool(pool);
  // Prisma qualifies table names with a schema: the one this connection works in.
  const { rows } = await pool.query('SELECT current_schema() AS schema');
  adapter = new PrismaPg(pool, { schema: rows[0].schema });
  where = 'the PostgreSQL server';
} else {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PrismaPGlite } = await import('pglite-prisma-adapter');
  const pglite = await PGlite.create();
  sql = fromPGlite(pglite);
  adapter = new PrismaPGlite(shareTransactions(pglite)); // fieldseal reads in Prisma's transactions
  where = 'PGlite';
}
await migrate(sql);

// The models say what is encrypted and how; the Prisma schema declares the same fields.
const Patient = defineModel({
  table: 'prisma_patients',
  tenant: 'clinic',
  key: ['id'],
  fields: {
    clinic: field.string(),
    id: field.string(),
    name: field.string(),
    email: field
      .string()
      .encrypted({ storage: 'text' })
      .blindIndex({ normalize: ['trim', 'lowercase', 'nfc'] }),
    ssn: field.string().encrypted({ storage: 'text' }),
  },
});
const Visit = defineModel({
  table: 'prisma_visits',
  tenant: 'clinic',
  key: ['id'],
  fields: {
    clinic: field.string(),
    id: field.string(),
    patientId: field.string(),
    day: field.string(),
    notes: field.string().encrypted(),
  },
});

const options = {
  provider: new LocalKeyProvider({ source: keys }),
  keys: { mode: 'store', store: new PostgresKeyStore({ sql }), masterKeyId: 'master' },
  cache: { maxAgeMs: 5 * 60_000 },
  models: [Patient, Visit],
};
const fs = createFieldseal(options);
const onboarding = createFieldseal({ ...options, admin: ['provision'] });
for (const clinic of ['north', 'south']) await onboarding.provisionTenant(clinic);

// Tables by SQL (Prisma's migrations need its schema engine), guarded by the database itself:
// a value that is not an envelope is refused even from a client without the extension.
await sql.exec(`
  CREATE TABLE IF NOT EXISTS prisma_patients (
    clinic text NOT NULL, id text NOT NULL, name text NOT NULL, email text NOT NULL,
    email_bidx_v1 text, ssn text NOT NULL, PRIMARY KEY (clinic, id));
  CREATE TABLE IF NOT EXISTS prisma_visits (
    clinic text NOT NULL, id text NOT NULL, "patientId" text NOT NULL, day text NOT NULL,
    notes bytea NOT NULL, PRIMARY KEY (clinic, id),
    FOREIGN KEY (clinic, "patientId") REFERENCES prisma_patients (clinic, id));
  DELETE FROM prisma_visits; DELETE FROM prisma_patients;`);
const guarded = await sql.query(
  "SELECT 1 FROM pg_constraint WHERE conname = 'prisma_visits_notes_sealed'",
);
if (guarded.rows.length === 0) {
  const statements = [
    ...sealedCheckConstraints(Patient),
    ...sealedCheckConstraints(Visit, { bytes: 'check' }),
  ];
  for (const statement of statements) await sql.exec(statement);
}

// The repository keeps the clinics' blind-index secrets (its table is created here).
const patientIndexes = createPostgresRepository({
  sql,
  fs,
  model: Patient,
  blindIndex: { indexer: await createBlindIndexer({ source: keys, reference: 'blind-index' }) },
});
await patientIndexes.createTable();

const base = new PrismaClient({ adapter });
const prisma = base.$extends(
  fieldseal({ fs, models: { Patient: { model: Patient, blindIndexes: patientIndexes }, Visit } }),
);
assertFieldsealClient(prisma); // the client $extends returned: not `base`

await prisma.patient.create({
  data: {
    clinic: 'north',
    id: 'p1',
    name: 'Ada Lovelace',
    email: 'ada@north.example',
    ssn: '521-44-8790',
    visits: { create: [{ id: 'v1', day: '2026-12-01', notes: 'migraine, prescribed rest' }] },
  },
});
await prisma.patient.createMany({
  data: [
    {
      clinic: 'north',
      id: 'p2',
      name: 'Alan Turing',
      email: 'alan@north.example',
      ssn: '078-05-1120',
    },
    {
      clinic: 'south',
      id: 'p3',
      name: 'Grace Hopper',
      email: 'ada@north.example',
      ssn: '219-09-9999',
    },
  ],
});

const short = (v) =>
  typeof v === 'string' ? `${v.slice(0, 24)}…` : `<${v.length} bytes: f5 01 …>`;
console.log(`What the tables hold (${where}):`);
const { rows } = await sql.query(
  'select clinic, id, email, ssn from prisma_patients order by clinic, id',
);
for (const r of rows) {
  console.log(`  ${r.clinic.padEnd(6)} ${r.id}  email=${short(r.email)}  ssn=${short(r.ssn)}`);
}
const visits = await sql.query('select clinic, id, notes from prisma_visits');
for (const r of visits.rows)
  console.log(`  ${r.clinic.padEnd(6)} ${r.id}  notes=${short(r.notes)}`);

console.log('\nPrisma reads plaintext:');
const found = await prisma.patient.findMany({
  where: { clinic: 'north', email: ' ADA@north.example ' },
  include: { visits: { select: { day: true, notes: true } } },
});
console.log(`  email = ' ADA@north.example ' (north) →`, JSON.stringify(found));

console.log('\nWhat ciphertext cannot answer is refused, never dropped:');
for (const [what, attempt] of [
  [
    'orderBy ssn',
    () => prisma.patient.findMany({ where: { clinic: 'north' }, orderBy: { ssn: 'asc' } }),
  ],
  [
    'ssn contains',
    () => prisma.patient.findMany({ where: { clinic: 'north', ssn: { contains: '44' } } }),
  ],
  [
    'updateMany of email',
    () =>
      prisma.patient.updateMany({ where: { clinic: 'north' }, data: { email: 'x@north.example' } }),
  ],
]) {
  try {
    await attempt();
    console.log(`  ${what}: answered (unexpected)`);
    process.exitCode = 1;
  } catch (err) {
    if (!isFieldsealError(err)) throw err;
    console.log(`  ${what}: ${err.code}: ${err.message.split(':').slice(0, 2).join(':')}`);
  }
}

console.log('\nThe client $extends left as it was writes plaintext: the database refuses it:');
try {
  await base.patient.create({
    data: { clinic: 'north', id: 'p9', name: 'x', email: 'x@north.example', ssn: '123-45-6789' },
  });
  console.log('  written (unexpected)');
  process.exitCode = 1;
} catch (err) {
  console.log(`  refused by the database (${err.constructor.name})`);
}

await base.$disconnect();
fs.close();
onboarding.close();
