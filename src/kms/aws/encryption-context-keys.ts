import { InvalidContextError } from '../../errors.js';
import type { KeyContext } from '../../envelope/context.js';

/**
 * The names fieldseal's provider context is sent under in the KMS encryption context, for key
 * policies and CloudTrail queries written for other names (the per-tenant key guide's
 * `tenant_id`). Only the names change: the values and what they bind are the same.
 * @example
 * ```ts
 * const names: EncryptionContextKeys = { tenant: 'tenant_id' };
 * // GenerateDataKey / Decrypt then send EncryptionContext: { tenant_id: 'acme', ... }
 * ```
 */
export interface EncryptionContextKeys {
  /** Name of the tenant entry (default `tenant`). */
  readonly tenant?: string;
  /** Name of the key-store key id entry (default `key`). */
  readonly key?: string;
  /** Name of the key-store version entry (default `version`). */
  readonly version?: string;
}

const NAMES = ['tenant', 'key', 'version'] as const;
/** A context key AWS accepts and a policy condition can name (`kms:EncryptionContext:<name>`). */
const NAME = /^[A-Za-z0-9_.:/-]{1,128}$/;

/**
 * Renames the provider context's entries into KMS encryption context names; the identity
 * when nothing is renamed. Built once from the options and frozen.
 * @internal
 */
export class EncryptionContextNames {
  readonly #rename: ReadonlyMap<string, string>;
  /**
   * The lower-cased KMS names of `tenant`, `key` and `version` (renamed or not) → the entry
   * that alone may be sent under each: any other entry (a field's key context) arriving under
   * one would make one context look like another to the KMS and its policies.
   */
  readonly #reserved: ReadonlyMap<string, string>;

  constructor(raw: unknown) {
    const rename = new Map<string, string>();
    if (raw !== undefined) {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        throw new TypeError('encryptionContextKeys: expected { tenant?, key?, version? }');
      }
      const given = raw as Record<string, unknown>;
      for (const own of Object.keys(given)) {
        if (!(NAMES as readonly string[]).includes(own)) {
          throw new TypeError(
            `encryptionContextKeys.${own}: unknown entry (expected tenant, key or version)`,
          );
        }
      }
      for (const name of NAMES) {
        const value = Object.prototype.hasOwnProperty.call(given, name) ? given[name] : undefined;
        if (value === undefined) continue;
        if (typeof value !== 'string' || !NAME.test(value) || value === '__proto__') {
          throw new TypeError(
            `encryptionContextKeys.${name}: expected 1-128 characters of [A-Za-z0-9_.:/-]`,
          );
        }
        if (value.toLowerCase().startsWith('aws')) {
          throw new TypeError(
            `encryptionContextKeys.${name}: names starting with "aws" are reserved by AWS`,
          );
        }
        if (value !== name) rename.set(name, value);
      }
      // AWS compares context names without regard to case in policy conditions and grants.
      const targets = NAMES.map((n) => (rename.get(n) ?? n).toLowerCase());
      if (new Set(targets).size !== targets.length) {
        throw new TypeError(
          'encryptionContextKeys: two entries would be sent under one name (names are compared without regard to case)',
        );
      }
    }
    this.#rename = rename;
    this.#reserved = new Map(NAMES.map((n) => [(rename.get(n) ?? n).toLowerCase(), n]));
  }

  /**
   * The encryption context for `context`: a fresh object with each renamed entry under its
   * configured name. An entry that would land on a name the context already has, or on the
   * name of the tenant, key or version entry, in any letter case, is refused (the context must
   * mean one thing to the KMS and its policies).
   * @throws InvalidContextError on such a collision.
   */
  toKms(context: KeyContext): Record<string, string> {
    const out: Record<string, string> = {};
    const seen = new Set<string>();
    for (const [name, value] of Object.entries(context)) {
      const target = this.#rename.get(name) ?? name;
      if (seen.has(target.toLowerCase())) {
        throw new InvalidContextError(`encryption context entry "${target}" would be sent twice`);
      }
      const owner = this.#reserved.get(target.toLowerCase());
      if (owner !== undefined && owner !== name) {
        throw new InvalidContextError(
          `encryption context entry "${target}" is the name of the ${owner} entry`,
        );
      }
      seen.add(target.toLowerCase());
      Object.defineProperty(out, target, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
}
