import { randomBytes } from 'node:crypto';
import {
  createFieldseal,
  defineModel,
  encryptRecords,
  EnvSecretSource,
  field,
  inspectEnvelope,
  LocalKeyProvider,
  decryptRecords,
  type Fieldseal,
  type InferRecord,
} from '../../src/index.js';
import { PostgresKeyStore, type SqlClient } from '../../src/postgres/index.js';

/** The model the backfill tests (and test/fixtures/backfill-worker.mjs) use. */
export const Account = defineModel({
  table: 'accounts',
  tenant: 'tenant',
  key: ['id'],
  fields: {
    tenant: field.string(),
    id: field.bigint(),
    email: field.string().encrypted({ storage: 'text' }),
    secret: field.bytes().encrypted().nullable(),
  },
});
export type AccountRecord = InferRecord<typeof Account>;

export const masterHex = (): string => randomBytes(32).toString('hex');

/** A store-mode client over `sql`, with the same master key as the child workers. */
export function accountClient(sql: SqlClient, hex: string): Fieldseal {
  return createFieldseal({
    admin: true,
    provider: new LocalKeyProvider({
      source: new EnvSecretSource({ keys: { master: 'M' }, env: { M: `hex:${hex}` } }),
    }),
    keys: { mode: 'store', store: new PostgresKeyStore({ sql }), masterKeyId: 'master' },
    cache: { maxAgeMs: 600_000 },
    fields: { ...Account.policies },
  });
}

export function account(tenant: string, i: number): AccountRecord {
  return {
    tenant,
    id: BigInt(i),
    email: `user${i}@${tenant}.example`,
    secret: i % 7 === 0 ? null : Buffer.from(`sk_${tenant}_${i}`),
  };
}

/** Create `accounts` with a trigger that logs every committed UPDATE into `write_log`. */
export async function createAccounts(sql: SqlClient): Promise<void> {
  await sql.exec(`
    CREATE TABLE accounts (tenant text NOT NULL, id numeric NOT NULL, email text NOT NULL,
                           secret bytea, PRIMARY KEY (tenant, id));
    CREATE TABLE write_log (tenant text NOT NULL, id numeric NOT NULL);
    CREATE FUNCTION accounts_log_write() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO write_log VALUES (NEW.tenant, NEW.id); RETURN NEW; END $$;
    CREATE TRIGGER accounts_log AFTER UPDATE ON accounts
      FOR EACH ROW EXECUTE FUNCTION accounts_log_write();
  `);
}

/** Encrypt and insert records, 2,000 per statement. */
export async function insertAccounts(
  sql: SqlClient,
  fs: Fieldseal,
  records: readonly AccountRecord[],
): Promise<void> {
  for (let i = 0; i < records.length; i += 2000) {
    const rows = await encryptRecords(fs, Account, records.slice(i, i + 2000));
    await sql.query(
      `INSERT INTO accounts (tenant, id, email, secret)
       SELECT * FROM unnest($1::text[], $2::numeric[], $3::text[], $4::bytea[])`,
      [
        rows.map((r) => r.tenant),
        rows.map((r) => r.id.toString()),
        rows.map((r) => r.email),
        rows.map((r) => (r.secret === null ? null : Buffer.from(r.secret))),
      ],
    );
  }
}

/** Every row, decrypted, with the data-key versions of its values. */
export async function readAccounts(
  sql: SqlClient,
  fs: Fieldseal,
): Promise<{ records: AccountRecord[]; versions: Map<number, number> }> {
  const { rows } = await sql.query<{
    tenant: string;
    id: string;
    email: string;
    secret: Uint8Array | null;
  }>('SELECT tenant, id, email, secret FROM accounts ORDER BY tenant, id');
  const versions = new Map<number, number>();
  const count = (stored: string | Uint8Array | null): void => {
    if (stored === null) return;
    const ref = inspectEnvelope(stored)?.keyRef;
    const v = ref?.kind === 'store' ? ref.version : -1;
    versions.set(v, (versions.get(v) ?? 0) + 1);
  };
  const stored = rows.map((r) => {
    count(r.email);
    count(r.secret);
    return {
      tenant: r.tenant,
      id: BigInt(r.id),
      email: r.email,
      secret: r.secret === null ? null : Buffer.from(r.secret),
    };
  });
  return { records: await decryptRecords(fs, Account, stored), versions };
}

/** How many committed UPDATEs each row received, keyed `tenant/id`. */
export async function writesPerRow(sql: SqlClient): Promise<Map<string, number>> {
  const { rows } = await sql.query<{ k: string; n: string | number }>(
    "SELECT tenant || '/' || id::text AS k, count(*) AS n FROM write_log GROUP BY 1",
  );
  return new Map(rows.map((r) => [r.k, Number(r.n)]));
}
