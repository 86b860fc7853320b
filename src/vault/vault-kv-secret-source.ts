import { KeyNotConfiguredError, ProviderUnavailableError } from '../index.js';
import { RedactedObject } from '../integration/index.js';
import { VaultClient } from './vault-client.js';
import { kvError } from './vault-errors.js';
import type { VaultConnectionOptions } from './vault-options.js';
import { SecretKey, type KeyEncoding, type SecretSource } from '../index.js';
import { checkKeyEncoding, decodeKeyText } from '../integration/index.js';

/**
 * Where one key lives in KV v2: the secret's path below the mount and the field of
 * `data.data` holding the key text (default: the source's `field`).
 * @example
 * ```ts
 * const location: VaultKvKeyLocation = { path: 'fieldseal/keys/email', field: 'value' };
 * ```
 */
export interface VaultKvKeyLocation {
  readonly path: string;
  readonly field?: string;
  /** Encoding of this key's text (default: the source's `encoding`), e.g. `'utf8'`. */
  readonly encoding?: KeyEncoding;
}

/**
 * Options of {@link VaultKvSecretSource}.
 * @example
 * ```ts
 * const options: VaultKvSecretSourceOptions = {
 *   address: 'https://vault.internal:8200',
 *   auth: { method: 'approle', roleId, secretId },
 *   keys: { email: 'fieldseal/keys/email', phone: { path: 'fieldseal/keys/phone', field: 'k' } },
 * };
 * ```
 */
export interface VaultKvSecretSourceOptions extends VaultConnectionOptions {
  /** Reference name → secret path (below the mount) or a {@link VaultKvKeyLocation}. */
  readonly keys: Readonly<Record<string, string | VaultKvKeyLocation>>;
  /** Mount path of the KV v2 engine (default `secret`). */
  readonly mount?: string;
  /** Field of `data.data` holding the key text (default `key`). */
  readonly field?: string;
  /** Encoding of values without a `base64:` / `hex:` prefix (every key without its own). */
  readonly encoding?: KeyEncoding;
  /**
   * Lease assumed when Vault returns none (`lease_duration: 0`, the KV v2 default), in
   * milliseconds (default 300,000). Keys are cached for 80% of the lease.
   */
  readonly defaultLeaseMs?: number;
}

/** Share of the lease a key is cached for. */
const CACHE_SHARE = 0.8;

interface Cached {
  readonly key: SecretKey;
  readonly until: number;
}

/**
 * Keys from HashiCorp Vault KV v2 (`GET /v1/<mount>/data/<path>`, the key text in
 * `data.data.<field>`), for the GraphQL seed's production setup. Every key gets the same
 * validation as {@link EnvSecretSource}: exactly 32 bytes, an explicit `base64:` / `hex:`
 * prefix or `encoding`; errors name the reference and the path, never the value.
 *
 * Call `init()` at start-up: it reads and validates every configured key, so a wrong key stops
 * the process before it serves a request. Keys are cached for 80% of the Vault lease
 * (`lease_duration`, or `defaultLeaseMs` when KV returns none) and re-read after, with one
 * request in flight per reference. Token / AppRole auth, renewal, namespaces, timeouts and
 * retries are those of {@link VaultConnectionOptions}.
 *
 * @example
 * ```ts
 * const source = new VaultKvSecretSource({
 *   address: 'https://vault.internal:8200',
 *   auth: { method: 'approle', roleId, secretId },
 *   keys: { master: 'fieldseal/master' },
 * });
 * await source.init();
 * const provider = new LocalKeyProvider({ source });
 * ```
 */
export class VaultKvSecretSource extends RedactedObject implements SecretSource {
  readonly kind = 'vault-kv';
  readonly #client: VaultClient;
  readonly #mount: string;
  readonly #locations = new Map<
    string,
    { path: string; field: string; encoding: KeyEncoding | undefined }
  >();
  readonly #leaseMs: number;
  readonly #cache = new Map<string, Cached>();
  readonly #loading = new Map<string, Promise<SecretKey>>();

  constructor(options: VaultKvSecretSourceOptions) {
    super();
    this.#client = new VaultClient(options);
    this.#mount = options.mount ?? 'secret';
    const fallback = checkKeyEncoding(options.encoding, 'encoding');
    this.#leaseMs = options.defaultLeaseMs ?? 300_000;
    if (!Number.isFinite(this.#leaseMs) || this.#leaseMs <= 0) {
      throw new RangeError(`defaultLeaseMs: expected a positive number, got ${this.#leaseMs}`);
    }
    for (const [reference, location] of Object.entries(options.keys)) {
      const { path, field, encoding } =
        typeof location === 'string'
          ? { path: location }
          : (location as unknown as Record<string, unknown>);
      if (typeof path !== 'string' || path === '') {
        throw new TypeError(`keys.${reference}: expected a non-empty secret path`);
      }
      if (field !== undefined && (typeof field !== 'string' || field === '')) {
        throw new TypeError(`keys.${reference}.field: expected a non-empty string`);
      }
      this.#locations.set(reference, {
        path,
        field: field ?? options.field ?? 'key',
        encoding: checkKeyEncoding(encoding, `keys.${reference}.encoding`) ?? fallback,
      });
    }
  }

  /**
   * Read and validate every configured key (fail at start-up, not on the first request).
   * @throws the first key's error: KeyNotConfiguredError, InvalidKeyMaterialError,
   *   AccessDeniedError or ProviderUnavailableError.
   * @example
   * ```ts
   * await source.init();
   * ```
   */
  async init(): Promise<void> {
    for (const reference of this.#locations.keys()) await this.getKey(reference);
  }

  references(): readonly string[] {
    return [...this.#locations.keys()];
  }

  getKey(reference: string): Promise<SecretKey> {
    const cached = this.#cache.get(reference);
    if (cached !== undefined && this.#client.now() < cached.until) {
      return Promise.resolve(cached.key);
    }
    let loading = this.#loading.get(reference);
    if (loading === undefined) {
      loading = this.#load(reference).finally(() => this.#loading.delete(reference));
      this.#loading.set(reference, loading);
    }
    return loading;
  }

  async #load(reference: string): Promise<SecretKey> {
    const location = this.#locations.get(reference);
    if (location === undefined) {
      throw new KeyNotConfiguredError(`no key "${reference}" in the vault-kv secret source`, {
        details: { reference },
      });
    }
    const { path, field, encoding } = location;
    const where = `Vault KV ${this.#mount}/data/${path}`;
    const urlPath = `${encodePath(this.#mount)}/data/${encodePath(path)}`;
    let res: Record<string, unknown>;
    try {
      res = await this.#client.call('GET', urlPath);
    } catch (err) {
      throw kvError(err, reference, where);
    }
    const data = (res.data as { data?: unknown } | undefined)?.data;
    if (typeof data !== 'object' || data === null) {
      // KV v2 returns data: null for a deleted or destroyed version.
      throw new KeyNotConfiguredError(`key "${reference}": no current version at ${where}`, {
        details: { reference },
      });
    }
    const text = (data as Record<string, unknown>)[field];
    if (typeof text !== 'string' || text === '') {
      throw new KeyNotConfiguredError(`key "${reference}": ${where} has no field "${field}"`, {
        details: { reference },
      });
    }
    const bytes = decodeKeyText(reference, text, encoding, `${where} field ${field}`);
    const lease = typeof res.lease_duration === 'number' ? res.lease_duration * 1000 : 0;
    if (lease < 0) throw new ProviderUnavailableError('Vault returned a negative lease');
    const key = new SecretKey(reference, bytes);
    bytes.fill(0);
    const until = this.#client.now() + (lease > 0 ? lease : this.#leaseMs) * CACHE_SHARE;
    this.#cache.set(reference, { key, until });
    return key;
  }
}

/** A path (`team/secret`, `fieldseal/keys/email`) with each segment URL-encoded. */
function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}
