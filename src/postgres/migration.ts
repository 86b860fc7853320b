/**
 * One schema change of fieldseal's PostgreSQL schema: applied once, in version order, recorded
 * in `fieldseal_migrations`. Each feature keeps its migrations next to its code
 * (key-store-schema.ts, audit/audit-schema.ts, backfill/backfill-schema.ts); versions are one
 * sequence over all of them. Append only: a released migration is never edited.
 * @internal
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}
