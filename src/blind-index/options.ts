import { InvalidKeyMaterialError } from '../errors.js';

/**
 * Options of blind indexes and their validation. Every bad option is a `RangeError` (or a
 * `TypeError` for a wrong type) naming the option, never a value.
 */

/**
 * A normalisation step applied to a value before it is indexed. Steps always run in the
 * order `trim`, `lowercase`, `nfc`, whatever order they are listed in.
 * - `trim`: remove leading and trailing white space (`String#trim`).
 * - `lowercase`: locale-independent `String#toLowerCase`.
 * - `nfc`: Unicode Normalization Form C, so composed and decomposed `é` index alike.
 *
 * @example
 * ```ts
 * const emailSteps: readonly BlindIndexNormalization[] = ['trim', 'lowercase', 'nfc'];
 * ```
 */
export type BlindIndexNormalization = 'trim' | 'lowercase' | 'nfc';

/**
 * Where an indexed value lives. The index key is derived from exactly these three names and
 * the index version (and, when given, `options.tenantSecret`), so indexes never compare across
 * tenants, tables or fields. Any other property (such as an encryption context's `record`) is
 * ignored: an index must not depend on the row, or equal values in two rows would not match.
 *
 * @example
 * ```ts
 * const where: BlindIndexContext = { tenant: 'acme', table: 'customers', field: 'email' };
 * ```
 */
export interface BlindIndexContext {
  readonly tenant: string;
  readonly table: string;
  readonly field: string;
}

/**
 * Per-call options of a blind index. Writers and readers of one column must use the same
 * `normalize` and `bits`: a different setting silently produces different indexes.
 *
 * @example
 * ```ts
 * const emailIndex: BlindIndexOptions = { normalize: ['trim', 'lowercase', 'nfc'], bits: 32 };
 * ```
 */
export interface BlindIndexOptions {
  /** Normalisation steps; default `['nfc']`. `[]` indexes the exact code points. */
  readonly normalize?: readonly BlindIndexNormalization[];
  /**
   * Length of the truncated HMAC-SHA256 in bits: a multiple of 8 from 16 to 256; default 32.
   * Shorter indexes collide more (more false positives to filter, less leakage). See
   * docs/blind-index.md.
   */
  readonly bits?: number;
  /** Index key version (1..65535); default 1. Bump it to rotate the index key. */
  readonly version?: number;
  /**
   * A per-tenant secret (16 to 64 bytes) mixed into the index key next to the root key, for
   * the tenant named in `where`. The PostgreSQL repository keeps one per tenant and index
   * version, sealed under the tenant's data key, so crypto-shredding the tenant makes its
   * indexes impossible to recompute even for the holder of the root key
   * (docs/blind-index.md, "Shredding"). Different secret, different index.
   */
  readonly tenantSecret?: Uint8Array;
}

/** Shortest and longest accepted {@link BlindIndexOptions.tenantSecret} in bytes. */
export const MIN_TENANT_SECRET_BYTES = 16;
export const MAX_TENANT_SECRET_BYTES = 64;

/** Default truncation length in bits. */
export const DEFAULT_BITS = 32;
/** Shortest and longest accepted truncation lengths in bits. */
export const MIN_BITS = 16;
export const MAX_BITS = 256;
/** Default index key version. */
export const DEFAULT_VERSION = 1;
/** Largest index key version. */
export const MAX_VERSION = 65535;

const STEPS: readonly BlindIndexNormalization[] = ['trim', 'lowercase', 'nfc'];
const DEFAULT_STEPS = { trim: false, lowercase: false, nfc: true } as const;

/**
 * A blind index's options, validated and defaulted: its normalisation steps, output bits,
 * key version and tenant secret (from {@link IndexedField.resolved}).
 * @example
 * ```ts
 * const { bits, version } = indexedField(config, 'email').resolved;
 * ```
 */
export interface ResolvedIndexOptions {
  readonly trim: boolean;
  readonly lowercase: boolean;
  readonly nfc: boolean;
  readonly bits: number;
  readonly version: number;
  readonly tenantSecret: Uint8Array | undefined;
}

/** @internal */
export function isValidBits(bits: unknown): bits is number {
  return (
    typeof bits === 'number' &&
    Number.isInteger(bits) &&
    bits >= MIN_BITS &&
    bits <= MAX_BITS &&
    bits % 8 === 0
  );
}

/** @internal */
export function isValidVersion(version: unknown): version is number {
  return (
    typeof version === 'number' &&
    Number.isInteger(version) &&
    version >= 1 &&
    version <= MAX_VERSION
  );
}

/**
 * Check a blind index key version: an integer from 1 to {@link MAX_VERSION} (65535).
 * @throws RangeError naming `name`, what was expected and what came.
 * @example
 * ```ts
 * const version = checkVersion(options.version); // a RangeError names the argument when out of 1..65535
 * ```
 */
export function checkVersion(version: unknown, name = 'version'): number {
  if (!isValidVersion(version)) {
    throw new RangeError(`blind index ${name} must be an integer from 1 to ${MAX_VERSION}`);
  }
  return version;
}

/**
 * Validate and default per-call options.
 * @throws RangeError / TypeError naming the bad option.
 * @internal
 */
export function resolveOptions(options: BlindIndexOptions | undefined): ResolvedIndexOptions {
  if (options === undefined) {
    return {
      ...DEFAULT_STEPS,
      bits: DEFAULT_BITS,
      version: DEFAULT_VERSION,
      tenantSecret: undefined,
    };
  }
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('blind index options must be an object');
  }
  const bits = options.bits ?? DEFAULT_BITS;
  if (!isValidBits(bits)) {
    throw new RangeError(
      `blind index bits must be a multiple of 8 from ${MIN_BITS} to ${MAX_BITS}`,
    );
  }
  const version = checkVersion(options.version ?? DEFAULT_VERSION);
  const tenantSecret = checkTenantSecret(options.tenantSecret);
  if (options.normalize === undefined) return { ...DEFAULT_STEPS, bits, version, tenantSecret };
  if (!Array.isArray(options.normalize)) {
    throw new TypeError('blind index normalize must be an array of steps');
  }
  const steps = options.normalize as readonly unknown[];
  for (const step of steps) {
    if (!STEPS.includes(step as BlindIndexNormalization)) {
      throw new RangeError('blind index normalize steps must be "trim", "lowercase" or "nfc"');
    }
  }
  return {
    trim: steps.includes('trim'),
    lowercase: steps.includes('lowercase'),
    nfc: steps.includes('nfc'),
    bits,
    version,
    tenantSecret,
  };
}

function checkTenantSecret(secret: unknown): Uint8Array | undefined {
  if (secret === undefined) return undefined;
  if (
    !(secret instanceof Uint8Array) ||
    secret.byteLength < MIN_TENANT_SECRET_BYTES ||
    secret.byteLength > MAX_TENANT_SECRET_BYTES
  ) {
    throw new InvalidKeyMaterialError(
      `blind index tenantSecret must be ${MIN_TENANT_SECRET_BYTES} to ${MAX_TENANT_SECRET_BYTES} bytes`,
    );
  }
  return secret;
}

/**
 * Apply the normalisation steps in their fixed order. NFC runs last because lowercasing can
 * produce a string that is not in NFC.
 *
 * @example
 * ```ts
 * const normalized = normalizeValue('  Alice@Example.COM ', indexedField(config, 'email').resolved);
 * // 'alice@example.com' when the index trims and lowercases (the default is NFC only)
 * ```
 */
export function normalizeValue(value: string, o: ResolvedIndexOptions): string {
  let v = value;
  if (o.trim) v = v.trim();
  if (o.lowercase) v = v.toLowerCase();
  if (o.nfc) v = v.normalize('NFC');
  return v;
}
