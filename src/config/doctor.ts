import { statSync } from 'node:fs';
import { isFieldsealError } from '../errors.js';
import { SCHEMA_VERSION, schemaVersion } from '../keystore/postgres/migrations.js';
import { FileSecretSource } from '../secrets/file/file-secret-source.js';
import { readConfig, type FieldsealConfig } from './config-file.js';
import { openDatabase } from './open-from-config.js';
import { providerChecks } from './provider-checks.js';

/**
 * One check of {@link runDoctor}.
 * @example
 * ```ts
 * const failed: DoctorCheck[] = (await runDoctor(CONFIG_FILE)).filter((c) => !c.ok);
 * ```
 */
export interface DoctorCheck {
  readonly check: string;
  readonly ok: boolean;
  /** What was found (never a key or a value). */
  readonly detail: string;
  /** How to fix it, when not ok. */
  readonly fix?: string;
}

/**
 * Check a setup without changing it: configuration, master key file (length, permissions),
 * the configured provider (reachable, permitted, key usable: a generate + unwrap round trip),
 * database reachability and schema version. Every check runs even when
 * an earlier one failed, where it can.
 * @example
 * ```ts
 * const checks = await runDoctor('fieldseal.config.json');
 * if (checks.some((c) => !c.ok)) process.exitCode = 1;
 * ```
 */
export async function runDoctor(configFile: string): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  let config: FieldsealConfig;
  try {
    config = readConfig(configFile);
    checks.push({ check: 'configuration', ok: true, detail: configFile });
  } catch (err) {
    checks.push({
      check: 'configuration',
      ok: false,
      detail: describe(err),
      fix: 'run `fieldseal init`, or fix the setting named above',
    });
    return checks;
  }

  if (config.provider.kind === 'local') {
    const { keyFile } = config.provider;
    try {
      // Reading through the source validates the key (32 bytes, explicit encoding).
      await new FileSecretSource({ keys: { k: keyFile } }).getKey('k');
      const mode = statSync(keyFile).mode & 0o777;
      const privateFile = (mode & 0o077) === 0;
      checks.push({
        check: 'master key file',
        ok: privateFile,
        detail: `32 bytes, mode ${mode.toString(8).padStart(4, '0')}`,
        ...(privateFile ? {} : { fix: `chmod 600 ${keyFile}` }),
      });
    } catch (err) {
      checks.push({
        check: 'master key file',
        ok: false,
        detail: describe(err),
        fix: 'create one with `fieldseal keygen <file>` (exactly 32 bytes, base64: or hex: prefix)',
      });
    }
  }
  checks.push(...(await providerChecks(config)));

  try {
    const db = await openDatabase(config);
    try {
      const version = await schemaVersion(db.sql);
      const current = version === SCHEMA_VERSION;
      checks.push({ check: 'database', ok: true, detail: config.database.kind });
      checks.push({
        check: 'schema version',
        ok: current,
        detail: `${version} (this release expects ${SCHEMA_VERSION})`,
        ...(current ? {} : { fix: 'run `fieldseal init` on a new setup, or `fieldseal migrate`' }),
      });
    } finally {
      await db.close();
    }
  } catch (err) {
    checks.push({
      check: 'database',
      ok: false,
      detail: describe(err),
      fix:
        config.database.kind === 'pglite'
          ? 'close the other process using the embedded database, or check the data directory'
          : 'check that the PostgreSQL server is running and the URL is right',
    });
  }
  return checks;
}

function describe(err: unknown): string {
  if (isFieldsealError(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : 'failed';
}
