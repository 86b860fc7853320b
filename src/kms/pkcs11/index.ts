/**
 * `fieldseal/kms/pkcs11`: master keys in a PKCS#11 token offering `CKM_AES_GCM` (SoftHSM2,
 * AWS CloudHSM, Thales Luna...). Needs the optional peer dependency `pkcs11js`, loaded on
 * first use.
 * @module
 */
export { Pkcs11KeyProvider } from './pkcs11-key-provider.js';
export type { Pkcs11KeyProviderOptions } from './pkcs11-options.js';
export type { Pkcs11PinSource } from './pin-source.js';
