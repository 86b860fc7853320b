import {
  constants,
  generateKeyPairSync,
  privateDecrypt,
  randomBytes,
  randomUUID,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';

/** The loopback KMS's keys and aliases (test/loopback/aws-kms-server.ts), with KMS's errors. */

export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion' | 'PendingImport';
export interface LoopbackKey {
  readonly id: string;
  readonly arn: string;
  /** Empty for an EXTERNAL key until its material is imported. */
  material: Buffer;
  readonly origin: 'AWS_KMS' | 'EXTERNAL';
  /** When imported material expires (seconds since the epoch), for KEY_MATERIAL_EXPIRES. */
  validTo?: number;
  /** The open import (GetParametersForImport) of an EXTERNAL key. */
  importing?: { token: Buffer; privateKey: KeyObject; oaepHash: 'sha1' | 'sha256'; until: number };
  readonly tags: { TagKey: string; TagValue: string }[];
  readonly description: string;
  readonly created: number;
  state: KeyState;
  deletionDate?: number;
}
export type Json = Record<string, unknown>;

/** An error answer: `{"__type": type, "message"}` with the HTTP status. */
export class KmsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const ACCOUNT = '111122223333';

export class LoopbackKeys {
  /** Test hook: the RSA size GetParametersForImport really uses (a KMS answering wrongly). */
  importKeyBits: number | undefined;
  readonly #keys = new Map<string, LoopbackKey>();
  readonly #aliases = new Map<string, string>();
  readonly #region: string;
  readonly #strictRegion: boolean;

  constructor(region: string, strictRegion = false) {
    this.#region = region;
    this.#strictRegion = strictRegion;
  }

  /** Add the replica of a multi-Region key of another Region; returns its ARN here. */
  adoptReplica(primary: LoopbackKey): string {
    if (!primary.id.startsWith('mrk-')) {
      throw new KmsError('UnsupportedOperationException', 'not a multi-Region key');
    }
    const replica: LoopbackKey = {
      ...primary,
      arn: `arn:aws:kms:${this.#region}:${ACCOUNT}:key/${primary.id}`,
      material: Buffer.from(primary.material),
      tags: primary.tags.map((t) => ({ ...t })),
    };
    this.#keys.set(primary.id, replica);
    return replica.arn;
  }

  /** The key whose id a ciphertext blob names, if it exists. */
  byId(id: string): LoopbackKey | undefined {
    return this.#keys.get(id);
  }

  /** CreateKey. */
  create(b: Json): Json {
    const id = b.MultiRegion === true ? `mrk-${randomBytes(16).toString('hex')}` : randomUUID();
    const tags = Array.isArray(b.Tags) ? (b.Tags as { TagKey: string; TagValue: string }[]) : [];
    const origin = b.Origin ?? 'AWS_KMS';
    if (origin !== 'AWS_KMS' && origin !== 'EXTERNAL') {
      throw new KmsError('UnsupportedOperationException', 'this Origin is not supported');
    }
    const key: LoopbackKey = {
      id,
      arn: `arn:aws:kms:${this.#region}:${ACCOUNT}:key/${id}`,
      material: origin === 'EXTERNAL' ? Buffer.alloc(0) : randomBytes(32),
      origin,
      tags: tags.map((t) => ({ TagKey: t.TagKey, TagValue: t.TagValue })),
      description: typeof b.Description === 'string' ? b.Description : '',
      created: Date.now() / 1000,
      state: origin === 'EXTERNAL' ? 'PendingImport' : 'Enabled',
    };
    this.#keys.set(id, key);
    return { KeyMetadata: this.metadata(key) };
  }

  /** CreateAlias: a new alias for a key id or ARN. */
  createAlias(b: Json): Json {
    const name = str(b.AliasName, 'AliasName');
    if (!/^alias\/[a-zA-Z0-9/_-]{1,250}$/.test(name) || name.startsWith('alias/aws/')) {
      throw new KmsError('ValidationException', 'AliasName is not valid');
    }
    if (this.#aliases.has(name)) {
      throw new KmsError('AlreadyExistsException', `An alias with the name ${name} already exists`);
    }
    const target = str(b.TargetKeyId, 'TargetKeyId');
    if (target.includes('alias/')) throw new KmsError('ValidationException', 'target is an alias');
    this.#aliases.set(name, this.resolve(target).id);
    return {};
  }

  /**
   * GetParametersForImport: a fresh RSA wrapping key and import token for an EXTERNAL key
   * (RSAES_OAEP_SHA_1 / RSAES_OAEP_SHA_256, RSA_2048 / RSA_3072 / RSA_4096), valid 24 hours.
   */
  parametersForImport(b: Json): Json {
    const key = this.resolve(str(b.KeyId, 'KeyId'));
    if (key.origin !== 'EXTERNAL') {
      throw new KmsError('UnsupportedOperationException', `${key.arn} origin is not EXTERNAL`);
    }
    if (key.state === 'PendingDeletion') throw pendingDeletion(key);
    const hash = { RSAES_OAEP_SHA_1: 'sha1', RSAES_OAEP_SHA_256: 'sha256' } as const;
    const oaepHash = hash[str(b.WrappingAlgorithm, 'WrappingAlgorithm') as keyof typeof hash];
    const bits = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 }[
      str(b.WrappingKeySpec, 'WrappingKeySpec')
    ];
    if (oaepHash === undefined || bits === undefined) {
      throw new KmsError('ValidationException', 'unsupported wrapping algorithm or key spec');
    }
    const { publicKey, privateKey } = generateKeyPairSync('rsa', {
      modulusLength: this.importKeyBits ?? bits,
    });
    const token = randomBytes(64);
    const until = Math.floor(Date.now() / 1000) + 86_400;
    key.importing = { token, privateKey, oaepHash, until };
    return {
      KeyId: key.arn,
      ImportToken: token.toString('base64'),
      PublicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      ParametersValidTo: until,
    };
  }

  /**
   * ImportKeyMaterial: the 32-byte material wrapped under the open import's public key, with
   * its token. A key that had material before only takes the same material back.
   */
  importKeyMaterial(b: Json): Json {
    const key = this.resolve(str(b.KeyId, 'KeyId'));
    const open = key.importing;
    const token = Buffer.from(str(b.ImportToken, 'ImportToken'), 'base64');
    if (
      open === undefined ||
      open.token.length !== token.length ||
      !timingSafeEqual(open.token, token) ||
      Date.now() / 1000 > open.until
    ) {
      throw new KmsError('InvalidImportTokenException', 'import token is not valid');
    }
    let material: Buffer;
    try {
      material = privateDecrypt(
        {
          key: open.privateKey,
          padding: constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: open.oaepHash,
        },
        Buffer.from(str(b.EncryptedKeyMaterial, 'EncryptedKeyMaterial'), 'base64'),
      );
    } catch {
      throw new KmsError('InvalidCiphertextException', 'EncryptedKeyMaterial is not valid');
    }
    if (material.length !== 32) {
      throw new KmsError('IncorrectKeyMaterialException', 'key material must be 256 bits');
    }
    if (key.material.length > 0 && !key.material.equals(material)) {
      throw new KmsError('IncorrectKeyMaterialException', 'not the key material of this key');
    }
    const model = b.ExpirationModel ?? 'KEY_MATERIAL_EXPIRES';
    const now = Date.now() / 1000;
    if (
      model === 'KEY_MATERIAL_EXPIRES' &&
      (typeof b.ValidTo !== 'number' || b.ValidTo <= now || b.ValidTo > now + 365 * 86_400)
    ) {
      throw new KmsError('ValidationException', 'ValidTo must be in the next 365 days');
    }
    key.material = material;
    if (model === 'KEY_MATERIAL_EXPIRES') key.validTo = b.ValidTo as number;
    else delete key.validTo;
    delete key.importing;
    if (key.state === 'PendingImport') key.state = 'Enabled';
    return { KeyId: key.arn };
  }

  /** What KMS does when imported material expires: the material goes, the key awaits import. */
  expireMaterial(keyId: string): void {
    const key = this.resolve(keyId);
    key.material.fill(0);
    key.material = Buffer.alloc(0);
    key.state = 'PendingImport';
  }

  /** ScheduleKeyDeletion with a 7–30 day window (default 30). */
  scheduleDeletion(b: Json): Json {
    const key = this.resolve(str(b.KeyId, 'KeyId'));
    const days = b.PendingWindowInDays ?? 30;
    if (typeof days !== 'number' || !Number.isInteger(days) || days < 7 || days > 30) {
      throw new KmsError('ValidationException', 'PendingWindowInDays must be 7 to 30');
    }
    if (key.state === 'PendingDeletion') throw pendingDeletion(key);
    key.state = 'PendingDeletion';
    key.deletionDate = Math.floor(Date.now() / 1000) + days * 86_400;
    return {
      KeyId: key.arn,
      DeletionDate: key.deletionDate,
      KeyState: key.state,
      PendingWindowInDays: days,
    };
  }

  /** A key by id, key ARN, alias name or alias ARN; NotFoundException otherwise. */
  resolve(keyId: string): LoopbackKey {
    let id = keyId;
    const arn = /^arn:aws:kms:([a-z0-9-]+):\d{12}:(key|alias)\/(.+)$/.exec(keyId);
    if (arn !== null) {
      if (this.#strictRegion && arn[1] !== this.#region) {
        throw new KmsError('NotFoundException', `Key '${keyId}' does not exist in ${this.#region}`);
      }
      id = arn[2] === 'alias' ? `alias/${arn[3]}` : (arn[3] ?? '');
    }
    if (id.startsWith('alias/')) {
      const target = this.#aliases.get(id);
      if (target === undefined)
        throw new KmsError('NotFoundException', `Alias ${id} is not found.`);
      id = target;
    }
    const key = this.#keys.get(id);
    if (key === undefined) throw new KmsError('NotFoundException', `Key '${keyId}' does not exist`);
    return key;
  }

  /** A key that is enabled (DisabledException / KMSInvalidStateException otherwise). */
  usable(keyId: string): LoopbackKey {
    const key = this.resolve(keyId);
    checkUsable(key);
    return key;
  }

  /** The KeyMetadata structure of DescribeKey and CreateKey. */
  metadata(key: LoopbackKey): Json {
    return {
      AWSAccountId: ACCOUNT,
      KeyId: key.id,
      Arn: key.arn,
      CreationDate: key.created,
      Enabled: key.state === 'Enabled',
      Description: key.description,
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeyState: key.state,
      KeySpec: 'SYMMETRIC_DEFAULT',
      KeyManager: 'CUSTOMER',
      Origin: key.origin,
      ...(key.origin === 'EXTERNAL'
        ? {
            ExpirationModel:
              key.validTo === undefined ? 'KEY_MATERIAL_DOES_NOT_EXPIRE' : 'KEY_MATERIAL_EXPIRES',
            ...(key.validTo === undefined ? {} : { ValidTo: key.validTo }),
          }
        : {}),
      MultiRegion: key.id.startsWith('mrk-'),
      ...(key.deletionDate === undefined ? {} : { DeletionDate: key.deletionDate }),
    };
  }
}

export function checkUsable(key: LoopbackKey): void {
  if (key.state === 'PendingImport') {
    throw new KmsError('KMSInvalidStateException', `${key.arn} is pending import.`);
  }
  if (key.state === 'Disabled') throw new KmsError('DisabledException', `${key.arn} is disabled.`);
  if (key.state === 'PendingDeletion') throw pendingDeletion(key);
}

export function pendingDeletion(key: LoopbackKey): KmsError {
  return new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
}

export function str(v: unknown, name: string): string {
  if (typeof v !== 'string' || v.length === 0) {
    throw new KmsError('ValidationException', `${name} is required`);
  }
  return v;
}
