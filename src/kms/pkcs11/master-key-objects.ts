import {
  InvalidKeyMaterialError,
  KeyNotConfiguredError,
  ProviderUnavailableError,
} from '../../errors.js';
import type { Attribute, Handle, Pkcs11Constants, Pkcs11Library } from './pkcs11-binding.js';
import { tokenError } from './pkcs11-errors.js';

/**
 * Master keys as token objects: the template they are generated with, and the lookup by
 * label that every wrap, unwrap and destruction starts with. Looking the key up on every
 * call (instead of caching its handle) means a destroyed or replaced key is never used
 * through a stale handle, which some HSMs reuse.
 * @module
 */

/**
 * One checked-out session and what is needed to call the token on it.
 * @internal
 * @example
 * ```ts
 * const call: TokenCall = { session, lib: lease.lib, k: lease.constants };
 * ```
 */
export interface TokenCall {
  readonly session: Handle;
  readonly lib: Pkcs11Library;
  readonly k: Pkcs11Constants;
}

const MAX_LABEL_BYTES = 255;

/**
 * Check a master key label (`CKA_LABEL`, the master key id).
 * @throws TypeError naming the argument.
 * @internal
 * @example
 * ```ts
 * checkLabel('tenant-acme');
 * ```
 */
export function checkLabel(label: unknown): asserts label is string {
  if (
    typeof label !== 'string' ||
    label.length === 0 ||
    Buffer.byteLength(label) > MAX_LABEL_BYTES ||
    !label.isWellFormed()
  ) {
    throw new TypeError('label: expected a master key label of 1–255 bytes');
  }
}

/**
 * The `C_GenerateKey` template of a master key: AES-256, token object, private, sensitive,
 * non-extractable, encrypt/decrypt only (no wrap/unwrap, so it cannot export other keys).
 * @internal
 * @example
 * ```ts
 * const template = masterKeyTemplate(k, 'tenant-acme');
 * lib.C_GenerateKey(session, { mechanism: k.CKM_AES_KEY_GEN }, template);
 * ```
 */
export function masterKeyTemplate(k: Pkcs11Constants, label: string): Attribute[] {
  return [
    { type: k.CKA_CLASS, value: k.CKO_SECRET_KEY },
    { type: k.CKA_KEY_TYPE, value: k.CKK_AES },
    { type: k.CKA_VALUE_LEN, value: 32 },
    { type: k.CKA_TOKEN, value: true },
    { type: k.CKA_PRIVATE, value: true },
    { type: k.CKA_SENSITIVE, value: true },
    { type: k.CKA_EXTRACTABLE, value: false },
    { type: k.CKA_ENCRYPT, value: true },
    { type: k.CKA_DECRYPT, value: true },
    { type: k.CKA_WRAP, value: false },
    { type: k.CKA_UNWRAP, value: false },
    { type: k.CKA_LABEL, value: label },
  ];
}

/**
 * Find the one secret-key object labelled `label`. With `usable` it must be a sensitive,
 * non-extractable AES-256 key allowed to encrypt and decrypt (a key that could leave the
 * token is refused rather than used); without, any secret key with the label (destruction).
 * The strict search runs first, so the common case costs one search.
 * @returns the handle, or `undefined` when no object has the label.
 * @throws InvalidKeyMaterialError when only a non-conforming key has the label;
 *   ProviderUnavailableError when two keys have it (refusing to guess) or the token fails.
 * @internal
 * @example
 * ```ts
 * const handle = findMasterKey(call, 'tenant-acme', true, 'pkcs11:tenant-acme');
 * ```
 */
export function findMasterKey(
  call: TokenCall,
  label: string,
  usable: boolean,
  keyRef: string,
): Handle | undefined {
  const found = search(call, label, usable, keyRef);
  if (found.length > 1) {
    throw new ProviderUnavailableError(
      `${found.length} PKCS#11 keys are labelled "${label}": refusing to guess`,
      { details: { keyRef } },
    );
  }
  if (found.length === 1 || !usable) return found[0];
  if (search(call, label, false, keyRef).length === 0) return undefined;
  throw new InvalidKeyMaterialError(
    `PKCS#11 object "${label}" is not a sensitive, non-extractable AES-256 encrypt/decrypt key`,
    { details: { keyRef } },
  );
}

/**
 * {@link findMasterKey} for a key that must exist.
 * @throws KeyNotConfiguredError (`ERR_KEY_NOT_CONFIGURED`) when no object has the label.
 * @internal
 * @example
 * ```ts
 * const handle = requireMasterKey(call, 'tenant-acme', 'fieldseal', 'pkcs11:tenant-acme');
 * ```
 */
export function requireMasterKey(
  call: TokenCall,
  label: string,
  tokenLabel: string,
  keyRef: string,
): Handle {
  const handle = findMasterKey(call, label, true, keyRef);
  if (handle === undefined) throw notConfigured(label, tokenLabel, keyRef);
  return handle;
}

/**
 * The error of a label no key object has.
 * @internal
 * @example
 * ```ts
 * throw notConfigured('tenant-acme', 'fieldseal', 'pkcs11:tenant-acme');
 * ```
 */
export function notConfigured(
  label: string,
  tokenLabel: string,
  keyRef: string,
): KeyNotConfiguredError {
  return new KeyNotConfiguredError(
    `no master key labelled "${label}" on PKCS#11 token "${tokenLabel}"`,
    { details: { keyRef } },
  );
}

function search({ session, lib, k }: TokenCall, label: string, strict: boolean, keyRef: string) {
  const template: Attribute[] = [
    { type: k.CKA_CLASS, value: k.CKO_SECRET_KEY },
    { type: k.CKA_TOKEN, value: true },
    { type: k.CKA_LABEL, value: label },
  ];
  if (strict) {
    template.push(
      { type: k.CKA_KEY_TYPE, value: k.CKK_AES },
      { type: k.CKA_VALUE_LEN, value: 32 },
      { type: k.CKA_SENSITIVE, value: true },
      { type: k.CKA_EXTRACTABLE, value: false },
      // A public object of the same label would be usable without the PIN.
      { type: k.CKA_PRIVATE, value: true },
      { type: k.CKA_ENCRYPT, value: true },
      { type: k.CKA_DECRYPT, value: true },
    );
  }
  try {
    lib.C_FindObjectsInit(session, template);
  } catch (err) {
    throw tokenError('C_FindObjectsInit', err, keyRef);
  }
  try {
    return lib.C_FindObjects(session, 2);
  } catch (err) {
    throw tokenError('C_FindObjects', err, keyRef);
  } finally {
    try {
      lib.C_FindObjectsFinal(session);
    } catch {
      // A session left mid-search fails its next call and is then discarded by the pool.
    }
  }
}
