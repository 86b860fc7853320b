import { ModeForbiddenError } from '../errors.js';
import type { KeyAdminOperation, Mode } from './options.js';

const ADMIN_OPERATIONS: readonly KeyAdminOperation[] = [
  'provision',
  'rotate',
  'rewrap',
  'retire',
  'reinstate',
  'shred',
];

/**
 * The key administration a client may perform: the operations its `admin` option gives it,
 * within what its mode allows. Checked before any store or provider call.
 * @internal
 */
export class KeyAdminAccess {
  readonly #admin: ReadonlySet<KeyAdminOperation>;
  readonly #mode: Mode;

  /**
   * @param admin - the `admin` option: `true` is every operation, absent/`false` none.
   * @throws TypeError for anything else but a list of known operations.
   */
  constructor(mode: Mode, admin: unknown) {
    this.#mode = mode;
    this.#admin = adminOperations(admin);
  }

  /**
   * Refuse a key-administration operation the client was not given (`admin`), or that its mode
   * rules out (creating or re-wrapping a key wraps; re-wrapping also unwraps).
   * @throws ModeForbiddenError
   */
  allow(operation: KeyAdminOperation, method: string): void {
    if (!this.#admin.has(operation)) {
      throw new ModeForbiddenError(
        `${method} is key administration this client was not given: create the administering client with admin: ['${operation}'] (or admin: true); see docs/modes.md`,
      );
    }
    const wraps = operation === 'provision' || operation === 'rotate' || operation === 'rewrap';
    if (
      (wraps && this.#mode === 'ReadOnly') ||
      (operation === 'rewrap' && this.#mode !== 'ReadWrite')
    ) {
      throw new ModeForbiddenError(
        `${method} is forbidden in mode ${this.#mode}: it ${operation === 'rewrap' ? 'unwraps and wraps' : 'wraps'} data keys (see docs/modes.md)`,
      );
    }
  }
}

/** The `admin` option as a set, checked: `true` is every operation, absent/`false` none. */
function adminOperations(admin: unknown): ReadonlySet<KeyAdminOperation> {
  if (admin === undefined || admin === false) return new Set();
  if (admin === true) return new Set(ADMIN_OPERATIONS);
  if (!Array.isArray(admin)) {
    throw new TypeError('admin: expected true, false or a list of key-administration operations');
  }
  const out = new Set<KeyAdminOperation>();
  for (const op of admin as readonly unknown[]) {
    if (!ADMIN_OPERATIONS.includes(op as KeyAdminOperation)) {
      throw new TypeError(`admin: unknown key-administration operation ${String(op)}`);
    }
    out.add(op as KeyAdminOperation);
  }
  return out;
}
