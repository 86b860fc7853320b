import type { SqlClient } from './sql-client.js';

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Turn on row-level security for fieldseal's key tables: a row is visible and writable only
 * when `current_setting('app.tenant_id')` names its tenant. Run it once, as the tables'
 * owner, after {@link migrate}; then give the application a non-owner role (or `force: true`,
 * which subjects the owner too) and use `new PostgresKeyStore({ sql, rls: true })`.
 * Idempotent.
 *
 * @example
 * ```ts
 * await enableRowLevelSecurity(sql, { grantTo: 'app_user' });
 * ```
 */
export async function enableRowLevelSecurity(
  sql: SqlClient,
  options: { readonly force?: boolean; readonly grantTo?: string } = {},
): Promise<void> {
  if (options.grantTo !== undefined && !IDENTIFIER.test(options.grantTo)) {
    throw new TypeError('grantTo: expected a lower-case SQL identifier');
  }
  await sql.transaction(async (tx) => {
    for (const table of ['fieldseal_tenants', 'fieldseal_key_versions']) {
      await tx.exec(`
        ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
        ${options.force === true ? `ALTER TABLE ${table} FORCE ROW LEVEL SECURITY;` : ''}
        DROP POLICY IF EXISTS fieldseal_tenant_isolation ON ${table};
        CREATE POLICY fieldseal_tenant_isolation ON ${table}
          USING (tenant_id = current_setting('app.tenant_id', true))
          WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
      `);
      if (options.grantTo !== undefined) {
        await tx.exec(`GRANT SELECT, INSERT, UPDATE ON ${table} TO ${options.grantTo}`);
      }
    }
  });
}
