import { defineModel, type ModelDefinition } from './define-model.js';
import { field, type EncryptedFieldOptions, type FieldBuilder, type StorageKind } from './field.js';
import type { AnyField, AnyModel, Model } from './model-types.js';

/**
 * Attribute types of the seed shape (DynamoDB's): `S` → `string`, `N` → `number`,
 * `B` → `Uint8Array`, `BOOL` → `boolean`.
 * @example
 * ```ts
 * const type: SeedAttributeType = 'S';
 * ```
 */
export type SeedAttributeType = 'S' | 'N' | 'B' | 'BOOL';

/**
 * The `encryption` of a seed attribute: `v: 1`, any {@link EncryptedFieldOptions} (`mode`,
 * `context`, `pad`, `storage`, `masterKeyId`...), and the seed's KMS key choice: `keyId` (a key
 * id, alias name, key ARN or alias ARN) becomes the field's `masterKeyId`; `region` is only
 * accepted with an ARN `keyId` naming the same region (an ARN carries the account, which a
 * region alone cannot supply).
 * @example
 * ```ts
 * const encryption: SeedEncryption = {
 *   v: 1,
 *   keyId: 'arn:aws:kms:eu-west-1:111122223333:alias/payments',
 *   region: 'eu-west-1',
 *   mode: 'WriteOnly',
 * };
 * ```
 */
export type SeedEncryption = { readonly v: 1 } & EncryptedFieldOptions & {
    /** pydynox's `key_id`: mapped to `masterKeyId` (give one or the other). */
    readonly keyId?: string;
    /** pydynox's `region`: only with an ARN `keyId` of that region. */
    readonly region?: string;
  };

/**
 * One attribute of the seed shape. `encryption: { v: 1 }` encrypts it (further options may be
 * given next to `v`: see {@link SeedEncryption}); `roles` marks the key attributes.
 * @example
 * ```ts
 * const secret: SeedAttribute = { attribute: 'secret', type: 'S', encryption: { v: 1 } };
 * ```
 */
export interface SeedAttribute {
  readonly attribute: string;
  readonly type: SeedAttributeType;
  readonly roles?: readonly ('pk' | 'sk')[];
  readonly encryption?: SeedEncryption;
}

/**
 * The TheoryDB-style model definition accepted by {@link defineModelFromSeedShape}.
 * @example
 * ```ts
 * const shape = {
 *   name: 'Credential',
 *   table: { name: 'credentials' },
 *   keys: { partition: { attribute: 'PK', type: 'S' }, sort: { attribute: 'SK', type: 'S' } },
 *   attributes: [
 *     { attribute: 'PK', type: 'S', roles: ['pk'] },
 *     { attribute: 'SK', type: 'S', roles: ['sk'] },
 *     { attribute: 'tenant', type: 'S' },
 *     { attribute: 'secret', type: 'S', encryption: { v: 1 } },
 *   ],
 *   tenant: 'tenant',
 * } as const satisfies SeedShapeDefinition;
 * ```
 */
export interface SeedShapeDefinition {
  readonly name: string;
  readonly table: { readonly name: string };
  readonly keys: {
    readonly partition: { readonly attribute: string; readonly type: SeedAttributeType };
    readonly sort?: { readonly attribute: string; readonly type: SeedAttributeType };
  };
  readonly attributes: readonly SeedAttribute[];
  /** The attribute holding the tenant id (required: the seed shape has no tenant role). */
  readonly tenant?: string;
}

interface SeedValueTypes {
  S: string;
  N: number;
  B: Uint8Array;
  BOOL: boolean;
}

type SeedField<A extends SeedAttribute> = A extends { readonly encryption: infer E }
  ? FieldBuilder<
      SeedValueTypes[A['type']],
      E extends { readonly storage: infer St extends StorageKind } ? St : 'binary'
    >
  : FieldBuilder<SeedValueTypes[A['type']]>;

/**
 * The `fields` a seed-shape definition maps to.
 * @example
 * ```ts
 * type F = SeedFields<typeof shape.attributes>; // { PK: FieldBuilder<string>; ... }
 * ```
 */
export type SeedFields<Attributes extends readonly SeedAttribute[]> = {
  readonly [A in Attributes[number] as A['attribute']]: SeedField<A>;
};

const BUILDERS: Readonly<Record<SeedAttributeType, () => FieldBuilder<unknown>>> = {
  S: field.string,
  N: field.number,
  B: field.bytes,
  BOOL: field.boolean,
};

/**
 * Define a model from the seed's TheoryDB-style shape. The mapping, in one line: each
 * attribute becomes a field (`S` string, `N` number, `B` bytes, `BOOL` boolean; encrypted
 * with `encryption: { v: 1 }`, its `keyId` becoming the field's `masterKeyId`),
 * `keys.partition` then `keys.sort` become the key, `table.name` the table and `tenant` names
 * the tenant attribute. Every attribute is required.
 * @throws TypeError when `tenant` is missing, a key attribute is not listed with the same
 *   type, `roles` disagree with `keys`, an attribute is listed twice, `encryption.v` is not 1,
 *   `encryption.region` comes without an ARN `keyId` of that region, both `keyId` and
 *   `masterKeyId` are given, or {@link defineModel} refuses the result (e.g. a `B` or
 *   encrypted key attribute, a bad `masterKeyId`).
 * @example
 * ```ts
 * const Credential = defineModelFromSeedShape({
 *   name: 'Credential',
 *   table: { name: 'credentials_contract' },
 *   keys: { partition: { attribute: 'PK', type: 'S' }, sort: { attribute: 'SK', type: 'S' } },
 *   attributes: [
 *     { attribute: 'PK', type: 'S', roles: ['pk'] },
 *     { attribute: 'SK', type: 'S', roles: ['sk'] },
 *     { attribute: 'tenantId', type: 'S' },
 *     { attribute: 'secret', type: 'S', encryption: { v: 1 } },
 *   ],
 *   tenant: 'tenantId',
 * });
 * ```
 */
export function defineModelFromSeedShape<const D extends SeedShapeDefinition>(
  definition: D,
): Model<D['table']['name'], SeedFields<D['attributes']>> {
  if (typeof definition !== 'object' || definition === null) {
    throw new TypeError('defineModelFromSeedShape: expected { name, table, keys, attributes }');
  }
  const { name, table, keys, attributes, tenant } = definition;
  const tableName: unknown = (table as { name?: unknown } | undefined)?.name;
  const where = `model ${String(tableName)}`;
  if (typeof tenant !== 'string' || tenant.length === 0) {
    throw new TypeError(`${where}: tenant: name the attribute holding the tenant id`);
  }
  if (!Array.isArray(attributes)) throw new TypeError(`${where}: attributes: expected a list`);
  const fields: Record<string, AnyField> = {};
  const byRole = { pk: [] as string[], sk: [] as string[] };
  const types = new Map<string, SeedAttributeType>();
  for (const a of attributes as readonly SeedAttribute[]) {
    const attr: unknown = a?.attribute;
    if (typeof attr !== 'string') throw new TypeError(`${where}: attributes: expected names`);
    if (types.has(attr)) throw new TypeError(`${where}: attribute "${attr}" is listed twice`);
    const make = Object.hasOwn(BUILDERS, a.type) ? BUILDERS[a.type] : undefined;
    if (make === undefined) {
      throw new TypeError(`field ${String(tableName)}.${attr}: type: expected S, N, B or BOOL`);
    }
    types.set(attr, a.type);
    for (const role of a.roles ?? []) {
      if (role !== 'pk' && role !== 'sk') {
        throw new TypeError(`field ${String(tableName)}.${attr}: roles: expected 'pk' or 'sk'`);
      }
      byRole[role].push(attr);
    }
    let builder: AnyField = make();
    if (a.encryption !== undefined) {
      const { v, keyId, region, ...options } = a.encryption;
      const at = `field ${String(tableName)}.${attr}: encryption`;
      if (v !== 1) throw new TypeError(`${at}: expected { v: 1 }`);
      const masterKeyId = seedMasterKey(at, keyId, region, options.masterKeyId);
      builder = make().encrypted(masterKeyId === undefined ? options : { ...options, masterKeyId });
    }
    fields[attr] = builder;
  }
  const key: string[] = [];
  for (const [role, spec] of [
    ['pk', keys?.partition],
    ['sk', keys?.sort],
  ] as const) {
    if (spec === undefined && role === 'sk') {
      if (byRole.sk.length > 0) throw new TypeError(`${where}: an 'sk' role needs keys.sort`);
      continue;
    }
    const attr = spec?.attribute;
    if (typeof attr !== 'string' || types.get(attr) !== spec?.type) {
      throw new TypeError(`${where}: keys: each key must be a listed attribute of the same type`);
    }
    if (byRole[role].some((r) => r !== attr)) {
      throw new TypeError(`${where}: the '${role}' role and keys disagree`);
    }
    key.push(attr);
  }
  // The types were derived above from `D`; the checks are defineModel's.
  const define = defineModel as (d: ModelDefinition) => AnyModel;
  const model = define({ name, table: tableName as string, tenant, key, fields });
  return model as unknown as Model<D['table']['name'], SeedFields<D['attributes']>>;
}

/** A KMS key or alias ARN; group 1 is its region. */
const KMS_ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:(?:key|alias)\//;

/**
 * The field master key of a seed `encryption`: `keyId` as it is (an ARN routes the KMS calls
 * to its region). A region cannot turn a key id or alias name into an ARN: the ARN also needs
 * the account id, so a `region` next to anything but an ARN of that region is refused rather
 * than silently sent to the provider's default region.
 */
function seedMasterKey(
  at: string,
  keyId: unknown,
  region: unknown,
  masterKeyId: string | undefined,
): string | undefined {
  if (keyId === undefined) {
    if (region !== undefined) {
      throw new TypeError(`${at}: region needs a keyId (a KMS key or alias ARN of that region)`);
    }
    return undefined;
  }
  if (typeof keyId !== 'string' || keyId.length === 0) {
    throw new TypeError(`${at}: keyId: expected a non-empty string`);
  }
  if (masterKeyId !== undefined) {
    throw new TypeError(`${at}: give keyId or masterKeyId, not both`);
  }
  if (region === undefined) return keyId;
  if (typeof region !== 'string' || region.length === 0) {
    throw new TypeError(`${at}: region: expected a non-empty string`);
  }
  const arnRegion = KMS_ARN.exec(keyId)?.[1];
  if (arnRegion === undefined) {
    throw new TypeError(
      `${at}: region "${region}" with keyId "${keyId}": give keyId as a key or alias ARN ` +
        `(arn:aws:kms:${region}:<account>:key/<id> or :alias/<name>); the region alone cannot ` +
        'build one, since an ARN also names the account',
    );
  }
  if (arnRegion !== region) {
    throw new TypeError(
      `${at}: region "${region}" disagrees with the region of keyId ("${arnRegion}")`,
    );
  }
  return keyId;
}
