import { ProviderUnavailableError, isFieldsealError, type FieldsealError } from '../../errors.js';
import type { Handle, Pkcs11Constants, Pkcs11Library } from './pkcs11-binding.js';
import { ckrName, isPinFailure, tokenError } from './pkcs11-errors.js';
import { readPin, type Pkcs11PinSource } from './pin-source.js';

/**
 * What a {@link SessionPool} needs: the library, the token's slot, how many sessions at most,
 * and where the user PIN comes from.
 * @internal
 * @example
 * ```ts
 * const options: SessionPoolOptions = { lib, constants, slot, size: 4, pin: { env: 'HSM_PIN' } };
 * ```
 */
export interface SessionPoolOptions {
  readonly lib: Pkcs11Library;
  readonly constants: Pkcs11Constants;
  readonly slot: Handle;
  readonly size: number;
  readonly pin: Pkcs11PinSource;
}

interface Waiter {
  readonly resolve: (session: Handle) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * A small pool of logged-in read/write sessions on one token.
 *
 * A PKCS#11 session runs one cryptographic operation at a time (`C_EncryptInit` then
 * `C_Encrypt`), so each operation checks a session out for its whole Init+Encrypt pair and
 * no two operations ever interleave on a session; the pool only bounds how many run at once.
 * Login state belongs to the application, not the session (PKCS#11 §5.6): the first session
 * logs in, later ones inherit it. The PIN is read for that login and not kept.
 *
 * A session that failed for a reason other than the data (a CKR_* from the token) is closed
 * rather than reused, so a half-finished operation cannot leak into the next one; an idle
 * session the token dropped is found at checkout (`C_GetSessionInfo`) and replaced. A PIN the
 * token rejects latches the pool shut: retrying it would only count towards the token's
 * lock-out.
 * @internal
 * @example
 * ```ts
 * const pool = new SessionPool({ lib, constants, slot, size: 4, pin: { env: 'HSM_PIN' } });
 * const info = await pool.use((session) => Promise.resolve(lib.C_GetSessionInfo(session)));
 * await pool.close();
 * ```
 */
export class SessionPool {
  readonly #o: SessionPoolOptions;
  readonly #idle: Handle[] = [];
  readonly #waiters: Waiter[] = [];
  /** Sessions open or being opened, idle or checked out: `close()` waits for this to be 0. */
  #open = 0;
  #closed = false;
  #drained: (() => void) | undefined;
  #login: Promise<void> | undefined;
  #pinFailure: FieldsealError | undefined;

  constructor(options: SessionPoolOptions) {
    this.#o = options;
  }

  /**
   * Run `fn` on a session checked out for its whole duration.
   * @throws whatever `fn` throws; ProviderUnavailableError when the pool is closed or no
   *   session can be opened or logged in.
   */
  async use<T>(fn: (session: Handle) => Promise<T>): Promise<T> {
    const session = await this.#acquire();
    let reusable = true;
    try {
      return await fn(session);
    } catch (err) {
      // Data failures (unwrap refused, unknown label) leave the session clean; anything else
      // may have left an operation active on it.
      reusable = isFieldsealError(err) && err.code !== 'ERR_PROVIDER_UNAVAILABLE';
      throw err;
    } finally {
      this.#release(session, reusable);
    }
  }

  /**
   * Close every session once the operations (and session openings) under way finish, so the
   * library is never finalized under a running call; later `use` calls fail.
   */
  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w.reject(closedError());
    for (const s of this.#idle.splice(0)) this.#closeSession(s);
    if (this.#open > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
  }

  async #acquire(): Promise<Handle> {
    if (this.#closed) throw closedError();
    if (this.#pinFailure !== undefined) throw this.#pinFailure;
    // An idle session may have been dropped by the token (restart, C_CloseAllSessions) or
    // lost its login: check it (one local call) and replace it rather than fail a request.
    for (let idle = this.#idle.pop(); idle !== undefined; idle = this.#idle.pop()) {
      if (this.#usable(idle)) return idle;
      this.#closeSession(idle);
    }
    if (this.#open < this.#o.size) return this.#openCounted();
    return new Promise<Handle>((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #release(session: Handle, reusable: boolean): void {
    if (this.#closed || !reusable) {
      this.#closeSession(session);
      this.#serveWaiter();
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter.resolve(session);
    else this.#idle.push(session);
  }

  /** A session slot became free: let the longest waiter open a new session in it. */
  #serveWaiter(): void {
    const waiter = this.#waiters.shift();
    if (waiter === undefined) return;
    this.#openCounted().then(waiter.resolve, waiter.reject);
  }

  async #openCounted(): Promise<Handle> {
    this.#open++;
    try {
      return await this.#openSession();
    } catch (err) {
      this.#forget();
      // Everyone waiting would fail the same way; a latched PIN failure fails them at once.
      if (this.#pinFailure !== undefined) {
        for (const w of this.#waiters.splice(0)) w.reject(this.#pinFailure);
      } else {
        this.#serveWaiter();
      }
      throw err;
    }
  }

  async #openSession(): Promise<Handle> {
    const { lib, constants: k, slot } = this.#o;
    let session: Handle;
    try {
      session = lib.C_OpenSession(slot, k.CKF_SERIAL_SESSION | k.CKF_RW_SESSION);
    } catch (err) {
      throw tokenError('C_OpenSession', err);
    }
    try {
      await this.#ensureLoggedIn(session);
      if (this.#closed) throw closedError();
      return session;
    } catch (err) {
      try {
        lib.C_CloseSession(session);
      } catch {
        // Already gone with the token; the login error is the one to report.
      }
      throw err;
    }
  }

  async #ensureLoggedIn(session: Handle): Promise<void> {
    if (this.#loggedIn(session)) return;
    this.#login ??= this.#logIn(session).finally(() => (this.#login = undefined));
    await this.#login;
    if (!this.#loggedIn(session)) {
      throw new ProviderUnavailableError('PKCS#11 session is not logged in as the token user');
    }
  }

  #usable(session: Handle): boolean {
    try {
      return this.#loggedIn(session);
    } catch {
      return false;
    }
  }

  #loggedIn(session: Handle): boolean {
    try {
      return (
        this.#o.lib.C_GetSessionInfo(session).state === this.#o.constants.CKS_RW_USER_FUNCTIONS
      );
    } catch (err) {
      throw tokenError('C_GetSessionInfo', err);
    }
  }

  async #logIn(session: Handle): Promise<void> {
    if (this.#pinFailure !== undefined) throw this.#pinFailure;
    const pin = await readPin(this.#o.pin);
    try {
      this.#o.lib.C_Login(session, this.#o.constants.CKU_USER, pin);
    } catch (err) {
      // Another session of this process logged in between our check and our login.
      if (ckrName(err) === 'CKR_USER_ALREADY_LOGGED_IN') return;
      const error = tokenError('C_Login', err);
      if (isPinFailure(err)) this.#pinFailure = error;
      throw error;
    }
  }

  #closeSession(session: Handle): void {
    try {
      this.#o.lib.C_CloseSession(session);
    } catch {
      // A session the token already dropped is closed enough.
    }
    this.#forget();
  }

  /** One session fewer; the last one lets a pending `close()` finish. */
  #forget(): void {
    if (--this.#open === 0 && this.#closed) this.#drained?.();
  }
}

function closedError(): ProviderUnavailableError {
  return new ProviderUnavailableError('the PKCS#11 key provider is closed');
}
