// fieldseal/drizzle, end to end: a Drizzle schema whose `email` and `ssn` columns are sealed
// columns (they accept fieldseal envelopes only), records encrypted before `insert`, rows
// decrypted after `select`, and `email` found through its blind index, re-checked after
// decryption. The table holds ciphertext; the application sees plaintext.
//
// Embedded PostgreSQL (PGlite, in memory) by default; the PostgreSQL server when DATABASE_URL
// is set. The master key and the blind-index key are files in .fieldseal/example-drizzle/
// (created on first run, mode 0600). From the repository root:
//   npm run example:drizzle
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { and, eq } from 'drizzle-orm';
import { pgTable, text } from 'drizzle-orm/pg-core';
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
import { sealed, sealTable } from 'fieldseal/drizzle';
import {
  createPostgresRepository,
  fromPGlite,
  fromPgPool,
  migrate,
  PostgresKeyStore,
  shareTransactions,
} from 'fieldseal/postgres';

const dir = resolve(process.env.FIELDSEAL_EXAMPLE_DIR ?? '.fieldseal/example-drizzle');
const keyFile = (name) => {
  const path = join(dir, `${name}.key`);
  if (!existsSync(path)) generateKeyFile(path);
  return path;
};
const keys = new FileSecretSource({
  keys: { master: keyFile('master'), 'blind-index': keyFile('blind-index') },
});

// The database: fieldseal's SQL client (key store, index secrets) and Drizzle over it.
let sql;
let db;
let where;
if (process.env.DATABASE_URL) {
  const pg = (await import('pg')).default;
  const { drizzle } = await import('drizzle-orm/node-postgres');
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
  sql = fromPgPool(pool);
  db = drizzle(pool);
  where = 'the PostgreSQL server';
} else {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const pglite = await PGlite.create();
  sql = fromPGlite(pglite);
  db = drizzle(shareTransactions(pglite)); // fieldseal's queries join Drizzle's transactions
  where = 'PGlite';
}
await migrate(sql);

// The model says what is encrypted and how; the Drizzle schema declares the same columns.
const Patient = defineModel({
  table: 'patients',
  tenant: 'clinic',
  key: ['id'],
  fields: {
    clinic: field.string(),
    id: field.string(),
    name: field.string(),
    email: field
      .string()
      .encrypted()
      .blindIndex({ normalize: ['trim', 'lowercase', 'nfc'] }),
    ssn: field.string().encrypted({ storage: 'text' }),
  },
});
const patients = pgTable('patients', {
  clinic: text('clinic').notNull(),
  id: text('id').notNull(),
  name: text('name').notNull(),
  email: sealed.bytes('email').notNull(),
  email_bidx_v1: text('email_bidx_v1'),
  ssn: sealed.text('ssn').notNull(),
});

const options = {
  provider: new LocalKeyProvider({ source: keys }),
  keys: { mode: 'store', store: new PostgresKeyStore({ sql }), masterKeyId: 'master' },
  cache: { maxAgeMs: 5 * 60_000 },
  models: [Patient],
};
const fs = createFieldseal(options);
const onboarding = createFieldseal({ ...options, admin: ['provision'] });
for (const clinic of ['north', 'south']) await onboarding.provisionTenant(clinic);

// The repository creates the table and keeps the clinics' blind-index secrets.
const repository = createPostgresRepository({
  sql,
  fs,
  model: Patient,
  blindIndex: { indexer: await createBlindIndexer({ source: keys, reference: 'blind-index' }) },
});
await repository.createTable();
const sealedPatients = sealTable(fs, patients, Patient, { blindIndexes: repository });

await sql.query(`DELETE FROM patients`);
// Encrypt first (a clinic's first record creates its blind-index secret, which fieldseal never
// writes inside an ORM transaction on PGlite), then insert in one Drizzle transaction.
const sealedRows = await sealedPatients.encrypt([
  {
    clinic: 'north',
    id: 'p1',
    name: 'Ada Lovelace',
    email: 'ada@north.example',
    ssn: '521-44-8790',
  },
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
]);
await db.transaction(async (tx) => {
  await tx.insert(patients).values(sealedRows);
});

const short = (v) =>
  typeof v === 'string' ? `${v.slice(0, 24)}…` : `<${v.length} bytes: f5 01 …>`;
console.log(`What the patients table holds (${where}):`);
const { rows } = await sql.query('select clinic, id, email, ssn from patients order by clinic, id');
for (const r of rows) {
  console.log(`  ${r.clinic.padEnd(6)} ${r.id}  email=${short(r.email)}  ssn=${short(r.ssn)}`);
}

console.log('\nDrizzle reads plaintext:');
const found = await sealedPatients.decrypt(
  db
    .select({
      clinic: patients.clinic,
      id: patients.id,
      name: patients.name,
      email: patients.email,
      ssn: patients.ssn,
    })
    .from(patients)
    .where(
      and(
        eq(patients.clinic, 'north'),
        await sealedPatients.eq(patients.email, ' ADA@north.example ', { tenant: 'north' }),
      ),
    ),
);
console.log(`  email = ' ADA@north.example ' (north) →`, JSON.stringify(found));

console.log('\nA plain value in a sealed column is refused before anything is sent:');
try {
  await db
    .insert(patients)
    .values({ clinic: 'north', id: 'p9', name: 'x', email: Buffer.from('x'), ssn: '123-45-6789' });
  console.log('  written (unexpected)');
  process.exitCode = 1;
} catch (err) {
  if (!isFieldsealError(err)) throw err;
  console.log(`  ${err.code}: ${err.message}`);
}

fs.close();
onboarding.close();
if (process.env.DATABASE_URL) await db.$client.end();
