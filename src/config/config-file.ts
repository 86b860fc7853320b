import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigNotFoundError } from '../errors.js';
import { object, path as pathSetting, text } from './config-values.js';
import { validateProviderConfig, type ProviderConfig } from './provider-config.js';

/**
 * `fieldseal.config.json`: what the CLI (and any script) needs to open a client. Paths are
 * relative to the file. The master key itself never goes in the config: only where it lives.
 * @example
 * ```json
 * {
 *   "version": 1,
 *   "database": { "kind": "pglite", "dataDir": ".fieldseal/db" },
 *   "provider": { "kind": "local", "keyFile": ".fieldseal/master.key", "masterKeyId": "master" },
 *   "keyId": "default",
 *   "cache": { "maxAgeSeconds": 300 }
 * }
 * ```
 */
export interface FieldsealConfig {
  readonly version: 1;
  readonly database:
    | { readonly kind: 'pglite'; readonly dataDir: string }
    | { readonly kind: 'postgres'; readonly url: string };
  /** The key provider (local key file, AWS KMS, Vault Transit or PKCS#11); see docs/cli.md. */
  readonly provider: ProviderConfig;
  readonly keyId: string;
  readonly cache: { readonly maxAgeSeconds: number; readonly maxUses?: number };
  /**
   * Master keys reads accept besides `provider.masterKeyId` (historic keys while key-store rows
   * are rewrapped to a new one): `keys.acceptMasterKeyIds`.
   */
  readonly acceptMasterKeyIds?: readonly string[];
  /**
   * Audit every key operation of the clients this configuration opens (the CLI's included)
   * into the PostgreSQL audit hash chain of the configured database, stamped with `actor`
   * (docs/audit.md). `fieldseal init` turns it on; absent: no audit trail.
   */
  readonly audit?: { readonly actor: string };
}

/**
 * Default name of the configuration file.
 * @example
 * ```ts
 * const config = readConfig(CONFIG_FILE);
 * ```
 */
export const CONFIG_FILE = 'fieldseal.config.json';

/**
 * Read and validate a configuration file; relative paths are resolved against its folder.
 * @throws ConfigNotFoundError (`ERR_CONFIG_NOT_FOUND`, `details.reference` = the path) when
 *   the file is missing or unreadable; TypeError naming the file and the first invalid setting.
 * @example
 * ```ts
 * const config = readConfig('fieldseal.config.json');
 * ```
 */
export function readConfig(path: string): FieldsealConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ConfigNotFoundError(
      `configuration file ${path} ${missing ? 'does not exist' : 'cannot be read'}`,
      { cause, details: { reference: path } },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text) as unknown;
  } catch {
    // The parser's message may quote the file; the path and the fact are enough.
    throw new TypeError(`${path}: not valid JSON`);
  }
  try {
    return validateConfig(raw, dirname(resolve(path)));
  } catch (err) {
    if (err instanceof TypeError) throw new TypeError(`${path}: ${err.message}`);
    throw err;
  }
}

/**
 * Validate a configuration object (see {@link FieldsealConfig}), resolving relative paths
 * against `baseDir`.
 * @example
 * ```ts
 * const config = validateConfig(JSON.parse(text), process.cwd());
 * ```
 */
export function validateConfig(raw: unknown, baseDir: string): FieldsealConfig {
  const o = object(raw, 'config');
  if (o.version !== 1) throw new TypeError('config.version: expected 1');
  const db = object(o.database, 'config.database');
  const database =
    db.kind === 'pglite'
      ? {
          kind: 'pglite' as const,
          dataDir: pathSetting(db.dataDir, 'config.database.dataDir', baseDir),
        }
      : db.kind === 'postgres'
        ? { kind: 'postgres' as const, url: text(db.url, 'config.database.url') }
        : fail('config.database.kind: expected "pglite" or "postgres"');
  const provider = validateProviderConfig(o.provider, baseDir);
  const c = object(o.cache, 'config.cache');
  const maxAgeSeconds = c.maxAgeSeconds;
  if (typeof maxAgeSeconds !== 'number' || !(maxAgeSeconds >= 0 && maxAgeSeconds <= 86_400)) {
    throw new TypeError('config.cache.maxAgeSeconds: expected a number of seconds, 0..86400');
  }
  const maxUses = c.maxUses;
  if (
    maxUses !== undefined &&
    (typeof maxUses !== 'number' || !Number.isInteger(maxUses) || maxUses < 1)
  ) {
    throw new TypeError('config.cache.maxUses: expected a positive integer');
  }
  const accept = o.acceptMasterKeyIds;
  if (
    accept !== undefined &&
    (!Array.isArray(accept) ||
      !accept.every((id): id is string => typeof id === 'string' && id.length > 0))
  ) {
    throw new TypeError('config.acceptMasterKeyIds: expected an array of master key ids');
  }
  let audit: { readonly actor: string } | undefined;
  if (o.audit !== undefined) {
    const a = object(o.audit, 'config.audit');
    audit = Object.freeze({ actor: text(a.actor, 'config.audit.actor') });
  }
  return {
    version: 1,
    database,
    provider,
    keyId: text(o.keyId, 'config.keyId'),
    cache: maxUses === undefined ? { maxAgeSeconds } : { maxAgeSeconds, maxUses },
    ...(accept === undefined ? {} : { acceptMasterKeyIds: Object.freeze([...accept]) }),
    ...(audit === undefined ? {} : { audit }),
  };
}

function fail(message: string): never {
  throw new TypeError(message);
}
