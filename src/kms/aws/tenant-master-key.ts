import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { ProviderUnavailableError } from '../../errors.js';
import type { KmsClientLike } from './kms-client.js';
import { mapKmsFailure } from './kms-error-mapping.js';

/**
 * Options of {@link createTenantMasterKey}.
 * @example
 * ```ts
 * const options: CreateTenantMasterKeyOptions = { client: adminKms, tenant: 'acme' };
 * ```
 */
export interface CreateTenantMasterKeyOptions {
  /** A client with `kms:CreateKey`, `kms:TagResource` and `kms:CreateAlias` (an admin role). */
  readonly client: KmsClientLike;
  /** The tenant id: letters, digits, `_` and `-`, 1 to 128 characters. */
  readonly tenant: string;
  /** Alias prefix: the alias is `alias/<prefix>/<tenant>` (default `fieldseal`). */
  readonly aliasPrefix?: string;
  /** Tag key that carries the tenant id (default `tenant_id`). */
  readonly tagKey?: string;
  /** Key description (default `fieldseal master key of tenant <tenant>`). */
  readonly description?: string;
}

/**
 * The key {@link createTenantMasterKey} made.
 * @example
 * ```ts
 * const { keyId, arn, alias }: TenantMasterKey = await createTenantMasterKey({ client, tenant: 'acme' });
 * ```
 */
export interface TenantMasterKey {
  readonly keyId: string;
  readonly arn: string;
  /** `alias/<prefix>/<tenant>`: use it as the tenant's `masterKeyId`. */
  readonly alias: string;
}

const TENANT = /^[A-Za-z0-9_-]{1,128}$/;
const PREFIX = /^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_-]+)*$/;

/**
 * The alias of a tenant's master key, `alias/<prefix>/<tenant>`: pass
 * `(t) => tenantMasterKeyAlias(t)` as `keys.masterKeyId` for one master key per tenant.
 * @throws TypeError when the tenant or prefix has characters an alias cannot hold.
 * @example
 * ```ts
 * const keys = { mode: 'embedded', masterKeyId: (t: string) => tenantMasterKeyAlias(t) } as const;
 * tenantMasterKeyAlias('acme'); // 'alias/fieldseal/acme'
 * ```
 */
export function tenantMasterKeyAlias(tenant: string, prefix = 'fieldseal'): string {
  if (typeof tenant !== 'string' || !TENANT.test(tenant)) {
    throw new TypeError('tenant: expected 1 to 128 letters, digits, "_" or "-"');
  }
  if (typeof prefix !== 'string' || !PREFIX.test(prefix) || prefix.startsWith('aws')) {
    throw new TypeError('aliasPrefix: expected letters, digits, "_", "-" and "/" (not "aws…")');
  }
  return `alias/${prefix}/${tenant}`;
}

/**
 * Create a tenant's own symmetric KMS key, tagged `tenant_id=<tenant>`, and its alias
 * `alias/<prefix>/<tenant>`. Not retried (a retried CreateKey can leave an orphan key); if
 * the alias cannot be created, the new key is scheduled for deletion (7 days) and the error
 * is thrown, so no unnamed key is left behind.
 * @throws ERR_ACCESS_DENIED, ERR_PROVIDER_UNAVAILABLE (e.g. `AlreadyExistsException` for an
 *   alias that exists), TypeError for an invalid tenant or prefix.
 * @example
 * ```ts
 * import { KMSClient } from '@aws-sdk/client-kms';
 * const admin = new KMSClient({ region: 'eu-west-1' });
 * const { alias } = await createTenantMasterKey({ client: admin, tenant: 'acme' });
 * await fs.provisionTenant('acme'); // fs: admin ['provision'], masterKeyId: (t) => `alias/fieldseal/${t}`
 * ```
 */
export async function createTenantMasterKey(
  options: CreateTenantMasterKeyOptions,
): Promise<TenantMasterKey> {
  const alias = tenantMasterKeyAlias(options.tenant, options.aliasPrefix);
  const { client } = options;
  const details = { keyRef: alias };
  const { keyId, arn } = await createTenantKey(options, 'AWS_KMS', details);
  await aliasNewKey(client, alias, keyId, details);
  return Object.freeze({ keyId, arn, alias });
}

/**
 * `CreateKey` of a tenant's symmetric key, tagged with its tenant id. Not retried (a retried
 * CreateKey can leave an orphan key).
 * @internal
 */
export async function createTenantKey(
  options: CreateTenantMasterKeyOptions,
  origin: 'AWS_KMS' | 'EXTERNAL',
  details: { keyRef: string },
): Promise<{ keyId: string; arn: string }> {
  const { client, tenant } = options;
  const byok = origin === 'EXTERNAL' ? ' (BYOK)' : '';
  let created;
  try {
    created = await client.send(
      new CreateKeyCommand({
        KeyUsage: 'ENCRYPT_DECRYPT',
        KeySpec: 'SYMMETRIC_DEFAULT',
        Origin: origin,
        Description: options.description ?? `fieldseal master key of tenant ${tenant}${byok}`,
        Tags: [{ TagKey: options.tagKey ?? 'tenant_id', TagValue: tenant }],
      }),
    );
  } catch (err) {
    throw mapKmsFailure('CreateKey', err, false, details);
  }
  const keyId = created.KeyMetadata?.KeyId;
  const arn = created.KeyMetadata?.Arn;
  if (keyId === undefined || arn === undefined) {
    throw new ProviderUnavailableError('AWS KMS CreateKey returned no key id', { details });
  }
  return { keyId, arn };
}

/**
 * Name a key just created with its alias. When `CreateAlias` fails, the alias is looked up:
 * if it names this key after all (an answer lost after KMS acted), the key is kept. Otherwise
 * the key is abandoned ({@link abandonNewKey}) and the error thrown.
 * @internal
 */
export async function aliasNewKey(
  client: KmsClientLike,
  alias: string,
  keyId: string,
  details: { keyRef: string },
): Promise<void> {
  try {
    await client.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
  } catch (err) {
    if (await aliasNames(client, alias, keyId)) return;
    throw await abandonNewKey(client, keyId, mapKmsFailure('CreateAlias', err, false, details));
  }
}

async function aliasNames(client: KmsClientLike, alias: string, keyId: string): Promise<boolean> {
  try {
    const out = await client.send(new DescribeKeyCommand({ KeyId: alias }));
    return out.KeyMetadata?.KeyId === keyId;
  } catch {
    return false;
  }
}

/**
 * Schedule the deletion of a key just created whose set-up failed (7 days, the least), so no
 * half-made key is left behind, and return `error` to throw. If the deletion cannot be
 * scheduled either, the error's message says which key is left, for an operator to delete.
 * @internal
 */
export async function abandonNewKey(
  client: KmsClientLike,
  keyId: string,
  error: Error,
): Promise<Error> {
  try {
    await client.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
  } catch {
    error.message += `; the new key ${keyId} could not be scheduled for deletion: schedule it yourself (aws kms schedule-key-deletion --key-id ${keyId})`;
  }
  return error;
}
