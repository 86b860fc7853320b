import { isFieldsealError } from '../errors.js';
import { SCHEMA_VERSION, schemaVersion } from '../postgres/migrations.js';
import { readConfig, type FieldsealConfig } from './config-file.js';
import type { DoctorCheck } from './doctor-check.js';
import { checkKeyFile, keyFileSource, octal } from './key-file.js';
import { keyVersionChecks } from './key-version-checks.js';
import { openDatabase } from './open-from-config.js';
import { describe, keyFileFix, providerChecks } from './provider-checks.js';

export type { DoctorCheck };

/**
 * Check a setup without changing it: configuration, master key file (length, and the one
 * permission rule every command applies: no access for group or others), the configured
 * provider (reachable, permitted, key usable: a generate + unwrap round trip), database
 * reachability and schema version, then that the setup can read what exists: a sample of every
 * tenant's stored data-key versions is unwrapped (`Fieldseal.checkKeyVersion`), and each one
 * that fails is named (tenant, version, error code) with its fix. Every check runs even when an
 * earlier one failed, where it can. Never prints a key.
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
      fix:
        isFieldsealError(err) && err.code === 'ERR_CONFIG_NOT_FOUND'
          ? `run \`fieldseal init\` here, or pass --config <file>`
          : `fix the setting named above in ${configFile}`,
    });
    return checks;
  }

  if (config.provider.kind === 'local') {
    const { keyFile } = config.provider;
    try {
      // The same check and read every command does (src/config/key-file.ts): 32 bytes,
      // explicit encoding, no access for group or others.
      const mode = checkKeyFile(keyFile);
      keyFileSource(keyFile, 'k');
      checks.push({
        check: 'master key file',
        ok: true,
        detail: `${keyFile}: 32 bytes, mode ${octal(mode)}`,
      });
    } catch (err) {
      checks.push({
        check: 'master key file',
        ok: false,
        detail: describe(err),
        fix: keyFileFix(err, keyFile),
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
      if (current) checks.push(...(await keyVersionChecks(config, db.sql, configFile)));
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
