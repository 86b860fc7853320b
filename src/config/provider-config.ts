import { KeyNotConfiguredError } from '../errors.js';
import type { KeyProvider } from '../kms/key-provider.js';
import { LocalKeyProvider } from '../kms/local/local-key-provider.js';
import { object, path, text } from './config-values.js';
import { keyFileSource } from './key-file.js';

/**
 * The `provider` of `fieldseal.config.json`. Secrets never go in the file: only the names of
 * the environment variables (or files) that hold them. The KMS/HSM SDKs are loaded only when
 * their kind is configured.
 * @example
 * ```json
 * { "kind": "aws-kms", "masterKeyId": "alias/fieldseal", "region": "eu-west-1" }
 * { "kind": "vault-transit", "masterKeyId": "fieldseal", "address": "https://vault:8200", "tokenEnv": "VAULT_TOKEN" }
 * { "kind": "pkcs11", "masterKeyId": "fieldseal-master", "tokenLabel": "prod", "pinEnv": "FIELDSEAL_HSM_PIN" }
 * ```
 */
export type ProviderConfig =
  | { readonly kind: 'local'; readonly keyFile: string; readonly masterKeyId: string }
  | {
      readonly kind: 'aws-kms';
      readonly masterKeyId: string;
      readonly region?: string;
      readonly endpoint?: string;
      /** Names of the KMS encryption context entries, e.g. `{ "tenant": "tenant_id" }`. */
      readonly encryptionContextKeys?: {
        readonly tenant?: string;
        readonly key?: string;
        readonly version?: string;
      };
    }
  | {
      readonly kind: 'vault-transit';
      readonly masterKeyId: string;
      readonly address: string;
      /** Environment variable holding a Vault token (token auth). */
      readonly tokenEnv?: string;
      /** Environment variables holding an AppRole role id and secret id. */
      readonly approle?: { readonly roleIdEnv: string; readonly secretIdEnv: string };
      readonly namespace?: string;
      readonly mount?: string;
    }
  | {
      readonly kind: 'pkcs11';
      readonly masterKeyId: string;
      readonly tokenLabel: string;
      /** Environment variable holding the token user PIN. */
      readonly pinEnv: string;
      readonly library?: string;
    };

/** Validate `config.provider`. @internal */
export function validateProviderConfig(raw: unknown, baseDir: string): ProviderConfig {
  const p = object(raw, 'config.provider');
  const masterKeyId = text(p.masterKeyId, 'config.provider.masterKeyId');
  switch (p.kind) {
    case 'local':
      return {
        kind: 'local',
        masterKeyId,
        keyFile: path(p.keyFile, 'config.provider.keyFile', baseDir),
      };
    case 'aws-kms':
      return {
        kind: 'aws-kms',
        masterKeyId,
        ...opt(p, 'region'),
        ...opt(p, 'endpoint'),
        ...contextKeys(p.encryptionContextKeys),
      };
    case 'vault-transit': {
      const approle =
        p.approle === undefined
          ? undefined
          : (() => {
              const a = object(p.approle, 'config.provider.approle');
              return {
                roleIdEnv: text(a.roleIdEnv, 'config.provider.approle.roleIdEnv'),
                secretIdEnv: text(a.secretIdEnv, 'config.provider.approle.secretIdEnv'),
              };
            })();
      if ((p.tokenEnv === undefined) === (approle === undefined)) {
        throw new TypeError('config.provider: expected exactly one of tokenEnv and approle');
      }
      return {
        kind: 'vault-transit',
        masterKeyId,
        address: text(p.address, 'config.provider.address'),
        ...opt(p, 'tokenEnv'),
        ...(approle === undefined ? {} : { approle }),
        ...opt(p, 'namespace'),
        ...opt(p, 'mount'),
      };
    }
    case 'pkcs11':
      return {
        kind: 'pkcs11',
        masterKeyId,
        tokenLabel: text(p.tokenLabel, 'config.provider.tokenLabel'),
        pinEnv: text(p.pinEnv, 'config.provider.pinEnv'),
        ...opt(p, 'library'),
      };
    default:
      throw new TypeError(
        'config.provider.kind: expected "local", "aws-kms", "vault-transit" or "pkcs11"',
      );
  }
}

/**
 * The key provider a configuration names, ready to use (PKCS#11: logged in). Call `close`
 * when done (it releases HSM sessions; a no-op for the others).
 * @throws KeyNotConfiguredError when an environment variable the configuration names is unset,
 *   or the local key file does not exist; InsecureKeyFileError when the local key file may be
 *   read by its group or others (`chmod 600` it).
 * @example
 * ```ts
 * const { provider, close } = await providerFromConfig(readConfig('fieldseal.config.json').provider);
 * ```
 */
export async function providerFromConfig(
  config: ProviderConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ provider: KeyProvider; close: () => Promise<void> }> {
  const fromEnv = (name: string): string => {
    const v = env[name];
    if (v === undefined || v.length === 0) {
      throw new KeyNotConfiguredError(`environment variable ${name} is not set`, {
        details: { reference: name },
      });
    }
    return v;
  };
  const none = (): Promise<void> => Promise.resolve();
  switch (config.kind) {
    case 'local':
      return {
        provider: new LocalKeyProvider({
          source: keyFileSource(config.keyFile, config.masterKeyId),
        }),
        close: none,
      };
    case 'aws-kms': {
      const { AwsKmsKeyProvider } = await import('../kms/aws/index.js');
      return {
        provider: new AwsKmsKeyProvider({
          ...(config.region === undefined ? {} : { region: config.region }),
          ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
          ...(config.encryptionContextKeys === undefined
            ? {}
            : { encryptionContextKeys: config.encryptionContextKeys }),
        }),
        close: none,
      };
    }
    case 'vault-transit': {
      const { VaultTransitKeyProvider } = await import('../vault/index.js');
      const auth =
        config.approle === undefined
          ? { method: 'token' as const, token: fromEnv(config.tokenEnv!) }
          : {
              method: 'approle' as const,
              roleId: fromEnv(config.approle.roleIdEnv),
              secretId: fromEnv(config.approle.secretIdEnv),
            };
      return {
        provider: new VaultTransitKeyProvider({
          address: config.address,
          auth,
          ...(config.namespace === undefined ? {} : { namespace: config.namespace }),
          ...(config.mount === undefined ? {} : { mount: config.mount }),
        }),
        close: none,
      };
    }
    case 'pkcs11': {
      const { Pkcs11KeyProvider } = await import('../kms/pkcs11/index.js');
      const pin = fromEnv(config.pinEnv); // fail at start-up, naming the variable
      const provider = new Pkcs11KeyProvider({
        tokenLabel: config.tokenLabel,
        pin: { pin: () => pin },
        ...(config.library === undefined ? {} : { library: config.library }),
      });
      await provider.init();
      return { provider, close: () => provider.close() };
    }
  }
}

function contextKeys(raw: unknown): {
  encryptionContextKeys?: { tenant?: string; key?: string; version?: string };
} {
  if (raw === undefined) return {};
  const name = 'config.provider.encryptionContextKeys';
  const o = object(raw, name);
  for (const k of Object.keys(o)) {
    if (k !== 'tenant' && k !== 'key' && k !== 'version') {
      throw new TypeError(`${name}.${k}: unknown entry (expected tenant, key or version)`);
    }
  }
  const sub = { ...opt(o, 'tenant', name), ...opt(o, 'key', name), ...opt(o, 'version', name) };
  return { encryptionContextKeys: sub };
}

function opt<K extends string>(
  p: Record<string, unknown>,
  key: K,
  prefix = 'config.provider',
): { [P in K]?: string } {
  if (p[key] === undefined) return {};
  return { [key]: text(p[key], `${prefix}.${key}`) } as { [P in K]?: string };
}
