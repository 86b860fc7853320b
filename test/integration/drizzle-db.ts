import {
  customType,
  doublePrecision,
  jsonb,
  numeric,
  boolean,
  pgTable,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { sealed } from '../../src/integrations/drizzle/index.js';
import { shareTransactions } from '../../src/postgres/index.js';
import type { OrmBackend } from './orm-backends.js';

/** Any Drizzle PostgreSQL database (node-postgres or PGlite). */
export type DrizzleDb = PgDatabase<PgQueryResultHKT>;

/** A Drizzle database over the backend's database. */
export function drizzleDb(b: OrmBackend): DrizzleDb {
  return b.kind === 'pglite' ? drizzlePglite(shareTransactions(b.db)) : drizzlePg(b.pool());
}

/** BYTEA for a plain byte column (Drizzle's pg-core has no bytea type). */
export const bytea = customType<{ data: Buffer; driverData: Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (v) => Buffer.from(v),
});

/** The repository contract's table (`contract_records`), as a Drizzle schema declares it. */
export const contractRecords = pgTable('contract_records', {
  tenantId: text('tenantId').notNull(),
  id: text('id').notNull(),
  label: text('label').notNull(),
  count: doublePrecision('count').notNull(),
  big: numeric('big').notNull(),
  flag: boolean('flag').notNull(),
  at: timestamp('at', { withTimezone: true }).notNull(),
  raw: bytea('raw').notNull(),
  meta: jsonb('meta').notNull(),
  note: text('note'),
  email: sealed.bytes('email').notNull(),
  phone: sealed.text('phone'),
  email_bidx_v1: text('email_bidx_v1'),
  phone_bidx_v1: text('phone_bidx_v1'),
  binString: sealed.bytes('binString').notNull(),
  binNumber: sealed.bytes('binNumber').notNull(),
  binBigint: sealed.bytes('binBigint').notNull(),
  binBoolean: sealed.bytes('binBoolean').notNull(),
  binDate: sealed.bytes('binDate').notNull(),
  binBytes: sealed.bytes('binBytes').notNull(),
  binJson: sealed.bytes('binJson').notNull(),
  textString: sealed.text('textString').notNull(),
  textNumber: sealed.text('textNumber').notNull(),
  textBigint: sealed.text('textBigint').notNull(),
  textBoolean: sealed.text('textBoolean').notNull(),
  textDate: sealed.text('textDate').notNull(),
  textBytes: sealed.text('textBytes').notNull(),
  textJson: sealed.text('textJson').notNull(),
  nullableString: sealed.bytes('nullableString'),
  nullableDate: sealed.text('nullableDate'),
  optionalJson: sealed.bytes('optionalJson'),
  optionalBigint: sealed.text('optionalBigint'),
});
