// fieldseal/kysely, end to end: ordinary Kysely queries over a `customers` table whose `email`,
// `ssn` and `notes` columns hold fieldseal envelopes. The application writes and reads
// plaintext; the table holds ciphertext; `where('email', '=', ...)` goes through the email's
// blind index and is re-checked after decryption; what cannot be bound to one record is refused.
//
// Embedded PostgreSQL (PGlite, in memory) by default; the PostgreSQL server when DATABASE_URL
// is set. The master key and the blind-index key are files in .fieldseal/example-kysely/
// (created on first run, mode 0600). From the repository root:
//   npm run example:kysely
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
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
import { pgliteDialect, withFieldseal } from 'fieldseal/kysely';
import {
  createPostgresRepository,
  fromPGlite,
  fromPgPool,
  migrate,
  PostgresKeyStore,
} from 'fieldseal/postgres';

const dir = resolve(process.env.FIELDSEAL_EXAMPLE_DIR ?? '.fieldseal/example-kysely');
const keyFile = (name) => {
  const path = join(dir, `${name}.key`);
  if (!existsSync(path)) generateKeyFile(path);
  return path;
};
const keys = new FileSecretSource({
  keys: { master: keyFile('master'), 'blind-index': keyFile('blind-index') },
});

// The database: fieldseal's SQL client (key store, index secrets) and Kysely's dialect over it.
let sql;
let dialect;
let where;
if (process.env.DATABASE_URL) {
  const pg = (await import('pg')).default;
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
  sql = fromPgPool(pool);
  dialect = new PostgresDialect({ pool });
  where = 'the PostgreSQL server';
} else {
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create();
  sql = fromPGlite(db);
  dialect = pgliteDialect(db);
  where = 'PGlite';
}
await migrate(sql); // fieldseal's own tables: the tenants' wrapped data keys, ...

const Customer = defineModel({
  table: 'customers',
  tenant: 'tenant_id',
  key: ['id'],
  fields: {
    tenant_id: field.string(),
    id: field.string(),
    name: field.string(),
    email: field
      .string()
      .encrypted()
      .blindIndex({ normalize: ['trim', 'lowercase', 'nfc'] }),
    ssn: field.string().encrypted({ storage: 'text' }),
    notes: field.json().encrypted().nullable(),
  },
});

const options = {
  provider: new LocalKeyProvider({ source: keys }),
  keys: { mode: 'store', store: new PostgresKeyStore({ sql }), masterKeyId: 'master' },
  cache: { maxAgeMs: 5 * 60_000 },
  models: [Customer],
};
const fs = createFieldseal(options);
const onboarding = createFieldseal({ ...options, admin: ['provision'] });
for (const tenant of ['acme', 'globex']) await onboarding.provisionTenant(tenant); // idempotent

// The repository creates the table and keeps the tenants' blind-index secrets.
const customers = createPostgresRepository({
  sql,
  fs,
  model: Customer,
  blindIndex: { indexer: await createBlindIndexer({ source: keys, reference: 'blind-index' }) },
});
await customers.createTable();

const db = new Kysely(
  withFieldseal(dialect, { fs, models: [Customer], blindIndexes: { customers } }),
);

const tenant = 'acme';
await db.deleteFrom('customers').where('tenant_id', 'in', ['acme', 'globex']).execute();
await db
  .insertInto('customers')
  .values([
    {
      tenant_id: tenant,
      id: 'c1',
      name: 'Ada Lovelace',
      email: 'ada@acme.example',
      ssn: '521-44-8790',
      notes: { vip: true },
    },
    {
      tenant_id: tenant,
      id: 'c2',
      name: 'Alan Turing',
      email: 'alan@acme.example',
      ssn: '078-05-1120',
      notes: null,
    },
    {
      tenant_id: 'globex',
      id: 'c3',
      name: 'Grace Hopper',
      email: 'ada@acme.example',
      ssn: '219-09-9999',
      notes: null,
    },
  ])
  .execute();

const short = (v) =>
  v === null
    ? 'null'
    : typeof v === 'string'
      ? `${v.slice(0, 24)}…`
      : `<${v.length} bytes: f5 01 …>`;
console.log(`What the customers table holds (${where}):`);
// The rows as the database holds them, read with fieldseal's SQL client (no plugin).
const { rows } = await sql.query(
  'select tenant_id, id, email, ssn, notes from customers order by tenant_id, id',
);
for (const r of rows) {
  console.log(
    `  ${r.tenant_id.padEnd(7)} ${r.id}  email=${short(r.email)}  ssn=${short(r.ssn)}  notes=${short(r.notes)}`,
  );
}

console.log('\nKysely reads plaintext:');
const found = await db
  .selectFrom('customers')
  .select(['id', 'name', 'ssn', 'notes'])
  .where('tenant_id', '=', tenant)
  .where('email', '=', ' ADA@acme.example ')
  .execute();
console.log(`  where email = ' ADA@acme.example ' (acme) →`, JSON.stringify(found));

await db
  .updateTable('customers')
  .set({ ssn: '000-00-0000' })
  .where('tenant_id', '=', tenant)
  .where('id', '=', 'c2')
  .execute();
const alan = await db
  .selectFrom('customers')
  .select(['name', 'ssn'])
  .where('tenant_id', '=', tenant)
  .where('id', '=', 'c2')
  .executeTakeFirstOrThrow();
console.log('  after an update by key →', JSON.stringify(alan));

console.log('\nWhat cannot be bound to one record is refused before it runs:');
for (const [what, query] of [
  [
    'like on an encrypted column',
    db
      .selectFrom('customers')
      .select('id')
      .where('tenant_id', '=', tenant)
      .where('ssn', 'like', '521%'),
  ],
  [
    'an update without the record key',
    db.updateTable('customers').set({ ssn: 'x' }).where('tenant_id', '=', tenant),
  ],
  [
    'order by an encrypted column',
    db.selectFrom('customers').select('id').where('tenant_id', '=', tenant).orderBy('email'),
  ],
]) {
  try {
    await query.execute();
    console.log(`  ${what}: ran (unexpected)`);
    process.exitCode = 1;
  } catch (err) {
    if (!isFieldsealError(err)) throw err;
    console.log(`  ${what}: ${err.code} (${err.details.field})`);
  }
}

await db.destroy();
fs.close();
onboarding.close();
