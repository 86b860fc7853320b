// fieldseal/typeorm, end to end: an entity whose `email` and `ssn` columns are sealed columns
// (they accept only what the fieldseal subscriber sealed), saved and loaded through an ordinary
// TypeORM repository, and `email` found through its blind index with findSealed, re-checked
// after decryption. The table holds ciphertext; the application sees plaintext.
//
// TypeORM has no driver for embedded PostgreSQL: this example needs the PostgreSQL server in
// DATABASE_URL. The master key and the blind-index key are files in .fieldseal/example-typeorm/
// (created on first run, mode 0600). From the repository root:
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run example:typeorm
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { DataSource, EntitySchema } from 'typeorm';
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
import {
  createPostgresRepository,
  fromPgPool,
  migrate,
  PostgresKeyStore,
} from 'fieldseal/postgres';
import {
  assertFieldsealSubscribed,
  fieldsealSubscriber,
  findSealed,
  sealedColumn,
  SealedEqual,
} from 'fieldseal/typeorm';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error(
    'examples/typeorm needs the PostgreSQL server (TypeORM has no embedded PostgreSQL driver):\n' +
      '  DATABASE_URL=postgres://USER@HOST:5432/DB npm run example:typeorm',
  );
  process.exit(2);
}

const dir = resolve(process.env.FIELDSEAL_EXAMPLE_DIR ?? '.fieldseal/example-typeorm');
const keyFile = (name) => {
  const path = join(dir, `${name}.key`);
  if (!existsSync(path)) generateKeyFile(path);
  return path;
};
const keys = new FileSecretSource({
  keys: { master: keyFile('master'), 'blind-index': keyFile('blind-index') },
});

// fieldseal's own SQL client keeps the tenants' keys and blind-index secrets.
const pool = new pg.Pool({ connectionString: url });
const sql = fromPgPool(pool);
await migrate(sql);

// The model says what is encrypted and how; the entity declares the same columns.
const Patient = defineModel({
  table: 'typeorm_patients',
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
// With decorators: @SealedColumn('bytes') email!: string; @SealedColumn('text') ssn!: string;
const Patients = new EntitySchema({
  name: 'Patient',
  tableName: 'typeorm_patients',
  columns: {
    clinic: { type: 'text', primary: true },
    id: { type: 'text', primary: true },
    name: { type: 'text' },
    email: sealedColumn('bytes'),
    email_bidx_v1: { type: 'text', nullable: true },
    ssn: sealedColumn('text'),
  },
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

const dataSource = new DataSource({
  type: 'postgres',
  url,
  entities: [Patients],
  subscribers: [
    fieldsealSubscriber({
      fs,
      entities: [{ entity: Patients, model: Patient, blindIndexes: repository }],
    }),
  ],
});
await dataSource.initialize();
assertFieldsealSubscribed(dataSource); // at start-up: the subscriber is there, entities match
const patients = dataSource.getRepository(Patients);

await patients.clear();
// One save, one encryption batch (one key fetch per clinic).
await dataSource.transaction((m) =>
  m.getRepository(Patients).save([
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
  ]),
);

const short = (v) =>
  typeof v === 'string' ? `${v.slice(0, 24)}…` : `<${v.length} bytes: f5 01 …>`;
console.log('What the typeorm_patients table holds:');
const { rows } = await sql.query(
  'select clinic, id, email, ssn from typeorm_patients order by clinic, id',
);
for (const r of rows) {
  console.log(`  ${r.clinic.padEnd(6)} ${r.id}  email=${short(r.email)}  ssn=${short(r.ssn)}`);
}

console.log('\nTypeORM reads plaintext:');
const found = await findSealed(patients, {
  select: { clinic: true, id: true, name: true, email: true, ssn: true },
  where: { clinic: 'north', email: SealedEqual(' ADA@north.example ') },
});
console.log(`  email = ' ADA@north.example ' (north) →`, JSON.stringify(found));

console.log('\nA plain value in a sealed column is refused before anything is sent:');
try {
  await patients.update({ clinic: 'north', id: 'p1' }, { ssn: '123-45-6789' });
  console.log('  written (unexpected)');
  process.exitCode = 1;
} catch (err) {
  if (!isFieldsealError(err)) throw err;
  console.log(`  ${err.code}: ${err.message}`);
}

await dataSource.destroy();
fs.close();
onboarding.close();
await pool.end();
