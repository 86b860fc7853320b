import { ProviderUnavailableError } from '../../errors.js';
import {
  loadPkcs11Module,
  type Handle,
  type Pkcs11Constants,
  type Pkcs11Library,
} from './pkcs11-binding.js';
import { ckrName, tokenError } from './pkcs11-errors.js';

/**
 * A PKCS#11 library is process-wide state: `C_Initialize` may be called once per process and
 * `C_Finalize` ends every session of every user of the library. So each library path is
 * loaded once, shared by every provider through a reference count, and finalized when the
 * last provider closes.
 * @module
 */

/**
 * A provider's reference to a loaded, initialized library.
 * @internal
 * @example
 * ```ts
 * const lease: LibraryLease = await acquireLibrary(path);
 * lease.release();
 * ```
 */
export interface LibraryLease {
  readonly lib: Pkcs11Library;
  readonly constants: Pkcs11Constants;
  /** Release this reference; the last one finalizes and unloads the library. */
  release(): void;
}

interface Entry {
  refs: number;
  readonly ready: Promise<{ lib: Pkcs11Library; constants: Pkcs11Constants; owned: boolean }>;
}

const libraries = new Map<string, Entry>();

/**
 * Load and initialize the library at `path` (or share the already loaded one).
 * @throws ProviderUnavailableError when pkcs11js is missing, or the library does not load or
 *   initialize (the message names the path and the CKR code).
 * @internal
 * @example
 * ```ts
 * const { lib, constants, release } = await acquireLibrary('/usr/lib/softhsm/libsofthsm2.so');
 * ```
 */
export async function acquireLibrary(path: string): Promise<LibraryLease> {
  let entry = libraries.get(path);
  if (entry === undefined) {
    entry = { refs: 0, ready: initialize(path) };
    libraries.set(path, entry);
  }
  entry.refs++;
  const current = entry;
  let loaded: Awaited<Entry['ready']>;
  try {
    loaded = await current.ready;
  } catch (err) {
    current.refs--;
    if (libraries.get(path) === current) libraries.delete(path);
    throw err;
  }
  let released = false;
  return {
    lib: loaded.lib,
    constants: loaded.constants,
    release: () => {
      if (released) return;
      released = true;
      if (--current.refs > 0) return;
      if (libraries.get(path) === current) libraries.delete(path);
      try {
        if (loaded.owned) loaded.lib.C_Finalize();
        loaded.lib.close();
      } catch {
        // Nothing is left to protect: every session of this process is gone either way.
      }
    },
  };
}

async function initialize(
  path: string,
): Promise<{ lib: Pkcs11Library; constants: Pkcs11Constants; owned: boolean }> {
  const { createLibrary, constants } = await loadPkcs11Module();
  const lib = createLibrary();
  try {
    lib.load(path);
  } catch {
    throw new ProviderUnavailableError(`cannot load the PKCS#11 library ${path}`);
  }
  try {
    // Sessions are used from libuv worker threads (C_EncryptAsync): the library must lock.
    lib.C_Initialize({ flags: constants.CKF_OS_LOCKING_OK });
    return { lib, constants, owned: true };
  } catch (err) {
    // Another module of this process initialized it: share it, leave finalizing to its owner.
    if (ckrName(err) === 'CKR_CRYPTOKI_ALREADY_INITIALIZED')
      return { lib, constants, owned: false };
    try {
      lib.close();
    } catch {
      // The load failed half-way; the initialize error below is the one to report.
    }
    throw tokenError('C_Initialize', err);
  }
}

/**
 * The slot holding the one token whose label is `label` (labels are blank-padded to 32
 * bytes on the token). Slot ids are not stable (SoftHSM2 assigns random ones), labels are.
 * @throws ProviderUnavailableError when no token, or more than one, has the label.
 * @internal
 * @example
 * ```ts
 * const slot = findSlotByTokenLabel(lease.lib, 'fieldseal');
 * ```
 */
export function findSlotByTokenLabel(lib: Pkcs11Library, label: string): Handle {
  let slots: Handle[];
  try {
    slots = lib.C_GetSlotList(true);
  } catch (err) {
    throw tokenError('C_GetSlotList', err);
  }
  const matches: Handle[] = [];
  for (const slot of slots) {
    try {
      if (lib.C_GetTokenInfo(slot).label.replace(/[ \0]+$/, '') === label) matches.push(slot);
    } catch {
      // A token removed while listing is simply not a match.
    }
  }
  const [slot, ...more] = matches;
  if (slot === undefined) {
    throw new ProviderUnavailableError(`no PKCS#11 token labelled "${label}" is present`);
  }
  if (more.length > 0) {
    throw new ProviderUnavailableError(
      `${matches.length} PKCS#11 tokens are labelled "${label}": refusing to guess`,
    );
  }
  return slot;
}
