import { ProviderUnavailableError } from '../../errors.js';

/**
 * The subset of `pkcs11js` that the PKCS#11 provider uses, described structurally (as kysely
 * describes the driver it needs) so that fieldseal has no static dependency on the package:
 * `pkcs11js` is an optional peer dependency, loaded with a dynamic `import()` on first use.
 * @module
 */

/**
 * An object, slot or session handle (pkcs11js returns them as small Buffers).
 * @internal
 * @example
 * ```ts
 * const session: Handle = lib.C_OpenSession(slot, flags);
 * ```
 */
export type Handle = Buffer;

/**
 * One `CK_ATTRIBUTE` of a template.
 * @internal
 * @example
 * ```ts
 * const label: Attribute = { type: k.CKA_LABEL, value: 'tenant-acme' };
 * ```
 */
export interface Attribute {
  readonly type: number;
  readonly value?: number | boolean | string | Buffer;
}

/**
 * `CK_MECHANISM`; GCM parameters follow pkcs11js's `GcmParams`.
 * @internal
 * @example
 * ```ts
 * const keyGen: Mechanism = { mechanism: k.CKM_AES_KEY_GEN };
 * ```
 */
export interface Mechanism {
  readonly mechanism: number;
  readonly parameter?: {
    readonly type: number;
    readonly iv: Buffer;
    readonly ivBits: number;
    readonly aad?: Buffer;
    readonly tagBits?: number;
  };
}

/**
 * The `PKCS11` instance methods fieldseal calls.
 * @internal
 * @example
 * ```ts
 * const lib: Pkcs11Library = (await loadPkcs11Module()).createLibrary();
 * ```
 */
export interface Pkcs11Library {
  load(path: string): void;
  close(): void;
  C_Initialize(options?: { flags?: number }): void;
  C_Finalize(): void;
  C_GetSlotList(tokenPresent?: boolean): Handle[];
  C_GetTokenInfo(slot: Handle): { label: string; flags: number };
  C_OpenSession(slot: Handle, flags: number): Handle;
  C_CloseSession(session: Handle): void;
  C_GetSessionInfo(session: Handle): { state: number };
  C_Login(session: Handle, userType: number, pin?: string): void;
  C_FindObjectsInit(session: Handle, template: Attribute[]): void;
  C_FindObjects(session: Handle, maxObjectCount: number): Handle[];
  C_FindObjectsFinal(session: Handle): void;
  C_GetAttributeValue(
    session: Handle,
    object: Handle,
    template: Attribute[],
  ): { type: number; value?: unknown }[];
  C_GenerateKey(session: Handle, mechanism: Mechanism, template: Attribute[]): Handle;
  C_DestroyObject(session: Handle, object: Handle): void;
  C_EncryptInit(session: Handle, mechanism: Mechanism, key: Handle): void;
  C_EncryptAsync(session: Handle, inData: Buffer, outData: Buffer): Promise<Buffer>;
  C_DecryptInit(session: Handle, mechanism: Mechanism, key: Handle): void;
  C_DecryptAsync(session: Handle, inData: Buffer, outData: Buffer): Promise<Buffer>;
}

/** The constants fieldseal reads from the module (numbers of the PKCS#11 2.40 headers). */
const CONSTANT_NAMES = [
  'CKA_CLASS',
  'CKA_TOKEN',
  'CKA_PRIVATE',
  'CKA_LABEL',
  'CKA_VALUE',
  'CKA_KEY_TYPE',
  'CKA_SENSITIVE',
  'CKA_ENCRYPT',
  'CKA_DECRYPT',
  'CKA_WRAP',
  'CKA_UNWRAP',
  'CKA_VALUE_LEN',
  'CKA_EXTRACTABLE',
  'CKO_SECRET_KEY',
  'CKK_AES',
  'CKM_AES_KEY_GEN',
  'CKM_AES_GCM',
  'CK_PARAMS_AES_GCM_v240',
  'CKF_SERIAL_SESSION',
  'CKF_RW_SESSION',
  'CKF_OS_LOCKING_OK',
  'CKU_USER',
] as const;

/** Constants pkcs11js 2.1 does not export, from the PKCS#11 2.40 `pkcs11t.h`. */
const SPEC_CONSTANTS = { CKS_RW_USER_FUNCTIONS: 3 } as const;

/**
 * Named PKCS#11 constants.
 * @internal
 * @example
 * ```ts
 * const { constants: k }: { constants: Pkcs11Constants } = await loadPkcs11Module();
 * ```
 */
export type Pkcs11Constants = Readonly<
  Record<(typeof CONSTANT_NAMES)[number] | keyof typeof SPEC_CONSTANTS, number>
>;

/**
 * What the provider needs from the loaded module.
 * @internal
 * @example
 * ```ts
 * const { createLibrary, constants }: Pkcs11Module = await loadPkcs11Module();
 * ```
 */
export interface Pkcs11Module {
  readonly createLibrary: () => Pkcs11Library;
  readonly constants: Pkcs11Constants;
}

let loading: Promise<Pkcs11Module> | undefined;

/**
 * Import `pkcs11js` once per process.
 * @throws ProviderUnavailableError when the package is not installed or is not pkcs11js 2.x.
 * @internal
 * @example
 * ```ts
 * const { createLibrary, constants } = await loadPkcs11Module();
 * ```
 */
export function loadPkcs11Module(): Promise<Pkcs11Module> {
  loading ??= importModule();
  return loading;
}

async function importModule(): Promise<Pkcs11Module> {
  let imported: unknown;
  try {
    // A variable specifier keeps bundlers and tsc from resolving the optional peer.
    const name = 'pkcs11js';
    imported = await import(name);
  } catch (cause) {
    loading = undefined;
    throw new ProviderUnavailableError(
      'the PKCS#11 key provider needs the optional peer dependency "pkcs11js" (npm install pkcs11js)',
      { cause },
    );
  }
  const mod = ((imported as { default?: unknown }).default ?? imported) as Record<string, unknown>;
  const constants: Record<string, number> = { ...SPEC_CONSTANTS };
  for (const name of CONSTANT_NAMES) {
    const value = mod[name];
    if (typeof value !== 'number') return incompatible();
    constants[name] = value;
  }
  const Ctor = mod.PKCS11;
  if (typeof Ctor !== 'function') return incompatible();
  return Object.freeze({
    createLibrary: () => new (Ctor as new () => Pkcs11Library)(),
    constants: Object.freeze(constants as Pkcs11Constants),
  });
}

function incompatible(): never {
  loading = undefined;
  throw new ProviderUnavailableError('the installed "pkcs11js" is not a compatible 2.x version');
}
