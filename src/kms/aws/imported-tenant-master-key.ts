import { constants, createPublicKey, publicEncrypt, type KeyObject } from 'node:crypto';
import { GetParametersForImportCommand, ImportKeyMaterialCommand } from '@aws-sdk/client-kms';
import {
  InvalidKeyMaterialError,
  ProviderUnavailableError,
  isFieldsealError,
} from '../../errors.js';
import { mapKmsFailure } from './kms-error-mapping.js';
import {
  abandonNewKey,
  aliasNewKey,
  createTenantKey,
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
  if (!Object.hasOwn(BITS, spec)) {
    throw new TypeError('wrappingKeySpec: expected RSA_2048, RSA_3072 or RSA_4096');
  }
  const validTo = checkValidTo(options.validTo);
  const material = copyMaterial(options.keyMaterial);
  if (material === undefined) {
    throw new InvalidKeyMaterialError('keyMaterial: expected a Uint8Array of exactly 32 bytes', {
      details: { keyRef: alias },
    });
  }
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
      const wrappingKey = checkedWrappingKey(params, keyId, BITS[spec], details);
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
    } catch (err) {
      const error = isFieldsealError(err) ? err : mapKmsFailure(operation, err, false, details);
      throw await abandonNewKey(client, keyId, error);
    }
    await aliasNewKey(client, alias, keyId, details);
    return Object.freeze({ keyId, arn, alias });
  } finally {
    material.fill(0);
  }
}

const BITS = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 } as const;
const DAY_MS = 86_400_000;

/** `validTo` read once (the Date's own time value): in the future, at most 365 days ahead. */
function checkValidTo(validTo: unknown): Date | undefined {
  if (validTo === undefined) return undefined;
  let ms: number;
  try {
    ms = Date.prototype.getTime.call(validTo);
  } catch {
    throw new TypeError('validTo: expected a Date');
  }
  const now = Date.now();
  if (Number.isNaN(ms) || ms <= now || ms > now + 365 * DAY_MS) {
    throw new TypeError('validTo: expected a date in the next 365 days (the range KMS accepts)');
  }
  return new Date(ms);
}

const TYPED_ARRAY = Object.getPrototypeOf(Uint8Array.prototype) as object;
/** The intrinsic getters, called on the caller's object: they read internal slots only. */
const typedArrayName = intrinsicGetter<string | undefined>(Symbol.toStringTag);
const typedArrayLength = intrinsicGetter<number>('byteLength');

function intrinsicGetter<T>(name: PropertyKey): (this: unknown) => T {
  const descriptor = Reflect.getOwnPropertyDescriptor(TYPED_ARRAY, name);
  return descriptor?.get as (this: unknown) => T;
}

/**
 * A private copy of the caller's material, read through the typed array's internal slots only
 * (no getter, `valueOf` or `length` of the caller's object runs; a Proxy is refused), or
 * `undefined` when it is not a Uint8Array of exactly 32 bytes.
 */
function copyMaterial(given: unknown): Buffer | undefined {
  try {
    if (typedArrayName.call(given) !== 'Uint8Array') return undefined;
    if (typedArrayLength.call(given) !== 32) return undefined;
  } catch {
    return undefined;
  }
  const copy = Buffer.alloc(32);
  Uint8Array.prototype.set.call(copy, given as Uint8Array);
  return copy;
}

/**
 * The RSA public key GetParametersForImport returned, checked: an import token, the key this
 * import is for, and an RSA key of the size asked for (a weaker key would expose the material).
 */
function checkedWrappingKey(
  params: { KeyId?: string; PublicKey?: Uint8Array; ImportToken?: Uint8Array },
  keyId: string,
  bits: number,
  details: { keyRef: string },
): KeyObject {
  const refuse = (why: string): ProviderUnavailableError =>
    new ProviderUnavailableError(`AWS KMS GetParametersForImport returned ${why}`, { details });
  if (params.PublicKey === undefined || params.ImportToken === undefined) {
    throw refuse('no public key or import token');
  }
  if (params.KeyId !== undefined && params.KeyId !== keyId && !params.KeyId.endsWith(`/${keyId}`)) {
    throw refuse('the parameters of another key');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(params.PublicKey), format: 'der', type: 'spki' });
  } catch {
    throw refuse('a public key that cannot be read');
  }
  if (key.asymmetricKeyType !== 'rsa' || key.asymmetricKeyDetails?.modulusLength !== bits) {
    throw refuse(`a wrapping key that is not RSA-${bits}`);
  }
  return key;
}
