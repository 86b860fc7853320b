import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { generateKeyFile } from '../secrets/file/file-secret-source.js';
import { readConfig, type FieldsealConfig } from './config-file.js';
import { openFromConfig } from './open-from-config.js';

/**
 * What {@link initProject} created.
 * @example
 * ```ts
 * const { configFile, keyFile }: InitReport = await initProject({ configFile: 'fieldseal.config.json', dir: '.fieldseal' });
 * ```
 */
export interface InitReport {
  readonly configFile: string;
  readonly keyFile: string;
  readonly createdKeyFile: boolean;
  readonly database: string;
  readonly schemaApplied: boolean;
}

/**
 * Create a working setup: `fieldseal.config.json` (embedded PGlite in `<dir>/db`, local
 * provider), a new master key file (`<dir>/master.key`, mode 0600, never overwritten) and the
 * migrated schema. Refuses to overwrite an existing configuration file.
 * @example
 * ```ts
 * await initProject({ configFile: 'fieldseal.config.json', dir: '.fieldseal' });
 * ```
 */
export async function initProject(options: {
  readonly configFile: string;
  readonly dir: string;
}): Promise<InitReport> {
  const configFile = resolve(options.configFile);
  if (existsSync(configFile)) {
    throw new Error(`${options.configFile} already exists; remove it or choose another --config`);
  }
  const base = dirname(configFile);
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyFile = join(dir, 'master.key');
  const createdKeyFile = !existsSync(keyFile);
  if (createdKeyFile) generateKeyFile(keyFile);
  const config: FieldsealConfig = {
    version: 1,
    database: { kind: 'pglite', dataDir: relative(base, join(dir, 'db')) || '.' },
    provider: { kind: 'local', keyFile: relative(base, keyFile), masterKeyId: 'master' },
    keyId: 'default',
    cache: { maxAgeSeconds: 300, maxUses: 1_000_000 },
    // Every key operation (the CLI's too) lands in the audit hash chain of the embedded
    // database: `fieldseal audit verify` proves rotations and shreds happened.
    audit: { actor: 'fieldseal-cli' },
  };
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`, { flag: 'wx' });
  const opened = await openFromConfig(readConfig(configFile));
  await opened.close();
  return { configFile, keyFile, createdKeyFile, database: join(dir, 'db'), schemaApplied: true };
}
