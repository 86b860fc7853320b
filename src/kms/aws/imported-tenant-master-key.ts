import { constants, createPublicKey, publicEncrypt } from 'node:crypto';
import {
  CreateAliasCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
} from '@aws-sdk/client-kms';
import {
  InvalidKeyMaterialError,
  ProviderUnavailableError,
  isFieldsealError,
} from '../../errors.js';
import { mapKmsFailure } from './kms-error-mapping.js';
import {
  createTenantKey,
  discardNewKey,
  tenantMasterKeyAlias,
  type CreateTenantMasterKeyOptions,
  type TenantMasterKey,
} from './tenant-master-key.js';

/**
 * Options of {@link importTenantMasterKey}.
 * @example
 * ```ts
 * const options: ImportTenantMasterKeyOptions = { client: adminKms, tenant: 'acme', keyMaterial };
 * ```
 */
export interface ImportTenantMasterKeyOptions extends CreateTenantMasterKeyOptions {
  /**
   * The tenant's own 256-bit key material (BYOK). Copied, wrapped for KMS and the copy zeroed;
   * the caller keeps (and must protect) the original.
   */
  readonly keyMaterial: Uint8Array;
  /** RSA size of KMS's wrapping key (default `RSA_4096`). */
  readonly wrappingKeySpec?: 'RSA_2048' | 'RSA_3072' | 'RSA_4096';
  /**
   * When KMS deletes the imported material (the key then refuses every call until the same
   * material is imported again). Default: never.
   */
  readonly validTo?: Date;
}

/**
 * Create a tenant's KMS key with **imported key material** (BYOK, `Origin: EXTERNAL`): the
 * same key, tag and alias as {@link createTenantMasterKey}, but KMS holds the material you
 * generated. `GetParametersForImport` gives a one-time RSA public key and import token; the
 * material is wrapped with RSAES-OAEP-SHA-256 (node:crypto) and sent with
 * `ImportKeyMaterial`. Not retried; on any failure after `CreateKey` the key is scheduled for
 * deletion (7 days) before the error is thrown. Keep the material somewhere safe: KMS cannot
 * export it, and a key whose material expired or was deleted reads again only after the same
 * material is imported.
 * @throws InvalidKeyMaterialError when `keyMaterial` is not 32 bytes; ERR_ACCESS_DENIED,
 *   ERR_PROVIDER_UNAVAILABLE; TypeError for an invalid tenant, prefix or date.
 * @example
 * ```ts
 * import { randomBytes } from 'node:crypto';
 * const keyMaterial = randomBytes(32); // generated and escrowed by the tenant
 * const { alias } = await importTenantMasterKey({ client: admin, tenant: 'acme', keyMaterial });
 * keyMaterial.fill(0);
 * ```
 */
export async function importTenantMasterKey(
  options: ImportTenantMasterKeyOptions,
): Promise<TenantMasterKey> {
  const alias = tenantMasterKeyAlias(options.tenant, options.aliasPrefix);
  const { client } = options;
  const spec = options.wrappingKeySpec ?? 'RSA_4096';
  if (!['RSA_2048', 'RSA_3072', 'RSA_4096'].includes(spec)) {
    throw new TypeError('wrappingKeySpec: expected RSA_2048, RSA_3072 or RSA_4096');
  }
  const validTo = options.validTo;
  if (validTo !== undefined && (!(validTo instanceof Date) || Number.isNaN(validTo.getTime()))) {
    throw new TypeError('validTo: expected a valid Date');
  }
  const given = options.keyMaterial;
  if (!(given instanceof Uint8Array) || given.byteLength !== 32) {
    throw new InvalidKeyMaterialError('keyMaterial: expected exactly 32 bytes', {
      details: { keyRef: alias },
    });
  }
  const material = Buffer.from(given);
  const details = { keyRef: alias };
  try {
    const { keyId, arn } = await createTenantKey(options, 'EXTERNAL', details);
    let operation = 'GetParametersForImport';
    try {
      const params = await client.send(
        new GetParametersForImportCommand({
          KeyId: keyId,
          WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
          WrappingKeySpec: spec,
        }),
      );
      if (params.PublicKey === undefined || params.ImportToken === undefined) {
        throw new ProviderUnavailableError('AWS KMS returned no import parameters', { details });
      }
      const wrappingKey = createPublicKey({
        key: Buffer.from(params.PublicKey),
        format: 'der',
        type: 'spki',
      });
      const wrapped = publicEncrypt(
        { key: wrappingKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        material,
      );
      operation = 'ImportKeyMaterial';
      await client.send(
        new ImportKeyMaterialCommand({
          KeyId: keyId,
          ImportToken: params.ImportToken,
          EncryptedKeyMaterial: wrapped,
          ...(validTo === undefined
            ? { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' as const }
            : { ExpirationModel: 'KEY_MATERIAL_EXPIRES' as const, ValidTo: validTo }),
        }),
      );
      operation = 'CreateAlias';
      await client.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
    } catch (err) {
      await discardNewKey(client, keyId);
      throw isFieldsealError(err) ? err : mapKmsFailure(operation, err, false, details);
    }
    return Object.freeze({ keyId, arn, alias });
  } finally {
    material.fill(0);
  }
}
