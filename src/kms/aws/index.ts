/**
 * AWS KMS key provider: `GenerateDataKey` / `Encrypt` / `Decrypt` through
 * `@aws-sdk/client-kms` (an optional peer dependency, imported only here), with the
 * encryption context passed through, typed errors, bounded retries and per-tenant master keys.
 * See docs/providers.md ("AWS KMS") for the IAM policies per mode, costs and failure behaviour.
 *
 * @example
 * ```ts
 * import { AwsKmsKeyProvider, tenantMasterKeyAlias } from 'fieldseal/kms/aws';
 * const provider = new AwsKmsKeyProvider({ region: 'eu-west-1' });
 * const masterKeyId = (tenant: string) => tenantMasterKeyAlias(tenant);
 * ```
 * @module
 */
export { AwsKmsKeyProvider, type AwsKmsKeyProviderOptions } from './aws-kms-key-provider.js';
export type { EncryptionContextKeys } from './encryption-context-keys.js';
export type {
  AwsSdkClientLike,
  KmsClientLike,
  KmsClientSettings,
  KmsClientSupplier,
} from './kms-client.js';
export type { AwsKmsRetryOptions } from './retry-policy.js';
export { AwsKmsCallError } from './kms-error-mapping.js';
export {
  importTenantMasterKey,
  type ImportTenantMasterKeyOptions,
} from './imported-tenant-master-key.js';
export {
  createTenantMasterKey,
  tenantMasterKeyAlias,
  type CreateTenantMasterKeyOptions,
  type TenantMasterKey,
} from './tenant-master-key.js';
