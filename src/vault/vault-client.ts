import { AccessDeniedError, KeyNotConfiguredError, ProviderUnavailableError } from '../index.js';
import { RedactedObject } from '../integration/index.js';
import type { VaultAuth, VaultConnectionOptions } from './vault-options.js';

/**
 * A non-transient, non-2xx answer from Vault: its status and the `errors` strings of its
 * `{"errors": [...]}` body. Callers map it to a typed fieldseal error; it never leaves the
 * package as it is.
 * @internal
 */
export class VaultHttpError extends Error {
  readonly status: number;
  readonly errors: readonly string[];
  constructor(status: number, path: string, errors: readonly string[]) {
    super(`Vault answered HTTP ${status} on ${path}`);
    this.name = 'VaultHttpError';
    this.status = status;
    this.errors = errors;
  }
  /** Whether one of Vault's error strings contains `text` (case-insensitive). */
  says(text: string): boolean {
    const t = text.toLowerCase();
    return this.errors.some((e) => e.toLowerCase().includes(t));
  }
}

type Json = Record<string, unknown>;
/** Renew (or log in again) once this share of a token's lease has passed. */
const RENEW_AT = 0.8;

/**
 * Vault over `fetch`: the token (login, renewal before expiry, one re-login after a 403 for
 * AppRole), the namespace header, a timeout per call and retries with exponential backoff on
 * 5xx / 429 / network errors / timeouts only.
 * @internal
 */
export class VaultClient extends RedactedObject {
  readonly #address: string;
  readonly #auth: VaultAuth;
  readonly #namespace: string | undefined;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #backoffMs: number;
  readonly #fetch: typeof fetch;
  readonly now: () => number;
  #token: string | undefined;
  #renewable = false;
  #renewAt: number | undefined;
  #expiresAt: number | undefined;
  #refreshing: Promise<string> | undefined;
  readonly #onThrottled: (() => void) | undefined;

  /** `onThrottled` is called once per HTTP 429 answer (the health figures count them). */
  constructor(options: VaultConnectionOptions, onThrottled?: () => void) {
    super();
    this.#onThrottled = onThrottled;
    let url: URL;
    try {
      url = new URL(options.address);
    } catch {
      throw new TypeError('address: expected an http(s) URL such as https://vault:8200');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`address: expected http: or https:, got ${url.protocol}`);
    }
    this.#address = url.origin;
    this.#auth = checkAuth(options.auth);
    this.#namespace = options.namespace;
    this.#timeoutMs = positive('timeoutMs', options.timeoutMs ?? 5_000);
    this.#maxAttempts = positive('maxAttempts', options.maxAttempts ?? 3);
    this.#backoffMs = options.backoffMs ?? 100;
    this.#fetch = options.fetch ?? fetch;
    this.now = options.now ?? Date.now;
    if (this.#auth.method === 'token') {
      this.#token = this.#auth.token;
      // A renewable token is renewed on first use, which also tells us its lease.
      this.#renewable = this.#auth.renew === true;
      this.#renewAt = this.#renewable ? this.now() : undefined;
    }
  }

  /**
   * An authenticated call; `path` is below `/v1/`. Resolves to the parsed JSON body.
   * @throws VaultHttpError for a definitive non-2xx answer; AccessDeniedError for a 403;
   *   ProviderUnavailableError once the attempts are used up or the body is not JSON.
   */
  async call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: Json): Promise<Json> {
    const token = await this.#currentToken();
    try {
      return await this.#send(method, path, body, token);
    } catch (err) {
      if (!(err instanceof VaultHttpError) || err.status !== 403) throw err;
      if (this.#auth.method === 'approle') {
        // The token may have been revoked or expired early: one fresh login, one more try.
        if (this.#token === token) this.#token = undefined;
        const fresh = await this.#currentToken();
        try {
          return await this.#send(method, path, body, fresh);
        } catch (again) {
          if (again instanceof VaultHttpError && again.status === 403) throw denied(path, again);
          throw again;
        }
      }
      throw denied(path, err);
    }
  }

  async #currentToken(): Promise<string> {
    const now = this.now();
    if (this.#token !== undefined && (this.#renewAt === undefined || now < this.#renewAt)) {
      return this.#token;
    }
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refresh(): Promise<string> {
    const token = this.#token;
    const live = this.#expiresAt === undefined || this.now() < this.#expiresAt;
    if (token !== undefined && this.#renewable && live) {
      try {
        const res = await this.#send('POST', 'auth/token/renew-self', {}, token);
        return this.#adopt(res, token);
      } catch (err) {
        if (this.#auth.method === 'token') {
          // Refused: stop renewing. Transient: try again on the next call. Either way the
          // token is used until Vault itself says it has expired (403).
          if (err instanceof VaultHttpError) {
            this.#renewable = false;
            this.#renewAt = undefined;
          }
          return token;
        }
        // AppRole: Vault unreachable → keep the live token, renew on the next call; renewal
        // refused → a fresh login below.
        if (!(err instanceof VaultHttpError)) return token;
      }
    }
    if (this.#auth.method === 'token') {
      this.#renewAt = undefined;
      return this.#auth.token;
    }
    const mount = this.#auth.mount ?? 'approle';
    const path = `auth/${mount.split('/').map(encodeURIComponent).join('/')}/login`;
    try {
      const res = await this.#send(
        'POST',
        path,
        { role_id: this.#auth.roleId, secret_id: this.#auth.secretId },
        undefined,
      );
      return this.#adopt(res, undefined);
    } catch (err) {
      if (err instanceof VaultHttpError && (err.status === 400 || err.status === 403)) {
        throw new AccessDeniedError('Vault refused the AppRole login', { cause: err });
      }
      throw err;
    }
  }

  /** Take the token and lease of an `auth` answer (login or renew-self). */
  #adopt(res: Json, previous: string | undefined): string {
    const auth = (typeof res.auth === 'object' && res.auth !== null ? res.auth : {}) as {
      client_token?: unknown;
      lease_duration?: unknown;
      renewable?: unknown;
    };
    const token = typeof auth.client_token === 'string' ? auth.client_token : previous;
    if (token === undefined || token === '') {
      throw new ProviderUnavailableError('Vault returned no client token');
    }
    const lease = typeof auth.lease_duration === 'number' ? auth.lease_duration * 1000 : 0;
    const now = this.now();
    this.#token = token;
    this.#renewable = auth.renewable === true;
    this.#expiresAt = lease > 0 ? now + lease : undefined;
    this.#renewAt = lease > 0 ? now + lease * RENEW_AT : undefined;
    return token;
  }

  async #send(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body: Json | undefined,
    token: string | undefined,
  ): Promise<Json> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token !== undefined) headers['x-vault-token'] = token;
    if (this.#namespace !== undefined) headers['x-vault-namespace'] = this.#namespace;
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (!HEADER_SAFE.test(token ?? '') || !HEADER_SAFE.test(this.#namespace ?? '')) {
      // Checked here, not left to fetch: undici's header error quotes the value (the token).
      throw new KeyNotConfiguredError(
        'the Vault token or namespace holds characters a header cannot',
      );
    }
    // Redirects are refused: fetch would resend the token and the body (plaintext data keys,
    // AppRole secret ids) to wherever a redirect points.
    const init = {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'error' as const,
    };
    let last: unknown;
    let lastStatus = '';
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      if (attempt > 1)
        await sleep(this.#backoffMs * 2 ** (attempt - 2) * (0.5 + Math.random() / 2));
      let status: number;
      let text: string;
      try {
        const res = await this.#fetch(`${this.#address}/v1/${path}`, {
          ...init,
          signal: AbortSignal.timeout(this.#timeoutMs),
        });
        status = res.status;
        text = await res.text();
      } catch (err) {
        // Only the kind of failure is kept: a fetch error (or a caller's fetch wrapper) may
        // quote request headers.
        lastStatus = isTimeout(err) ? 'timeout' : 'network error';
        last = new Error(`Vault ${lastStatus}`);
        continue;
      }
      if (status >= 500 || status === 429) {
        if (status === 429) this.#onThrottled?.();
        last = new VaultHttpError(status, path, errorsOf(text));
        lastStatus = `HTTP ${status}`;
        continue;
      }
      if (status < 200 || status >= 300) throw new VaultHttpError(status, path, errorsOf(text));
      let parsed: unknown = {};
      if (text.trim() !== '') {
        try {
          parsed = JSON.parse(text);
        } catch {
          // No cause: V8's SyntaxError quotes the body, which may hold key material.
          throw new ProviderUnavailableError(`Vault returned malformed JSON on ${path}`);
        }
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new ProviderUnavailableError(`Vault returned an unexpected body on ${path}`);
      }
      return parsed as Json;
    }
    throw new ProviderUnavailableError(
      `Vault call ${method} ${path} failed after ${this.#maxAttempts} attempt(s) (${lastStatus})`,
      { cause: last },
    );
  }
}

/** Visible ASCII only: what an HTTP header value may carry. */
const HEADER_SAFE = /^[\x21-\x7e]*$/;

function denied(path: string, cause: VaultHttpError): AccessDeniedError {
  return new AccessDeniedError(`Vault denied access to ${path} (HTTP 403)`, { cause });
}

/** The `errors` strings of a Vault error body (none when it is not the documented shape). */
function errorsOf(text: string): string[] {
  try {
    const body = JSON.parse(text) as { errors?: unknown };
    if (Array.isArray(body.errors)) {
      return body.errors
        .filter((e): e is string => typeof e === 'string')
        .map((e) => e.slice(0, 200));
    }
  } catch {
    // not JSON: no error strings
  }
  return [];
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name}: expected a positive number, got ${value}`);
  }
  return value;
}

function checkAuth(auth: VaultAuth): VaultAuth {
  const a = auth as Partial<Record<string, unknown>> | undefined;
  if (a?.method === 'token' && typeof a.token === 'string' && a.token !== '') return auth;
  if (
    a?.method === 'approle' &&
    typeof a.roleId === 'string' &&
    a.roleId !== '' &&
    typeof a.secretId === 'string' &&
    a.secretId !== ''
  ) {
    return auth;
  }
  throw new TypeError(
    "auth: expected { method: 'token', token } or { method: 'approle', roleId, secretId }",
  );
}
