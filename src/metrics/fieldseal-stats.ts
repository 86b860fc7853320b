import type { FieldsealErrorCode } from '../errors.js';
import type { ProviderCallCounts } from '../kms/key-provider.js';
import type { LatencySnapshot } from './latency-histogram.js';

/**
 * Data-key cache figures of one client, with the hit rate the health checks look at.
 * @example
 * ```ts
 * const { hitRate } = fs.stats().cache;
 * if (hitRate !== null && hitRate < 0.8) warn('data-key cache hit rate below 80%');
 * ```
 */
export interface CacheStats {
  /** Key lookups served from the cache (or by joining a load already in flight). */
  readonly hits: number;
  /** Key lookups that had to load the key (each costs a provider call). */
  readonly misses: number;
  /** `hits / (hits + misses)`, or `null` before the first lookup. */
  readonly hitRate: number | null;
  readonly evictions: number;
  readonly entries: number;
}

/**
 * The key-event bus as one client sees it (`stats().keyEvents`): whether shreds and
 * retirements published by other processes can reach it now, and how often that was lost.
 * `state` is `none` without a bus, `unmonitored` for a bus that reports no connection state,
 * `connected` while the bus reports no loss (including while it first connects), and
 * `disconnected` from a reported loss until the bus is back: meanwhile the client caches no
 * key-store keys (every call reloads from the key store).
 * @example
 * ```ts
 * const { state, disconnects } = fs.stats().keyEvents;
 * if (state === 'disconnected') warn(`key events lost (${disconnects} times since start)`);
 * ```
 */
export interface KeyEventsStats {
  readonly state: 'none' | 'unmonitored' | 'connected' | 'disconnected';
  /** How many times the bus reported a loss since the client was created. */
  readonly disconnects: number;
  /** When the last loss was reported (ISO 8601), if ever. */
  readonly lastDisconnectAt?: string;
  /** When the bus last reported it was back after a loss (ISO 8601), if ever. */
  readonly lastReconnectAt?: string;
}

/**
 * A snapshot of one client's health figures (the "health" table of per-tenant key
 * management): provider calls, cache hit rate, added latency, values per key version,
 * plaintext still read in migration, failures. Counts, durations, error codes, `table.field`
 * names, key ids and versions, provider and master-key ids only: never a value, a key, a
 * record id or any other context value, and no tenant id.
 * @example
 * ```ts
 * const s = fs.stats();
 * console.log(s.cache.hitRate, s.latency.decrypt.p99Ms, s.valuesReadByKeyVersion['default@1']);
 * ```
 */
export interface FieldsealStats {
  /** Values this client encrypted and decrypted successfully (plaintext reads excluded). */
  readonly values: { readonly encrypted: number; readonly decrypted: number };
  /**
   * Calls this client made to each provider, by provider id then operation (failed calls
   * included). Unlike `metrics().providerCalls`, a provider shared by several clients is
   * counted per client.
   */
  readonly providerCalls: Readonly<Record<string, Readonly<ProviderCallCounts>>>;
  readonly cache: CacheStats;
  /**
   * Latency added per call, for calls that succeeded, from entry to return (key loads on
   * cache misses included). `encrypt` / `decrypt`: one sample per single-value call.
   * `encryptMany` / `decryptMany`: one sample per batch, whatever its size; its values are
   * in `values`, so `meanMs × count / values` is the mean cost per value of batches.
   */
  readonly latency: {
    readonly encrypt: LatencySnapshot;
    readonly decrypt: LatencySnapshot;
    readonly encryptMany: LatencySnapshot;
    readonly decryptMany: LatencySnapshot;
  };
  /**
   * Values decrypted from key-store envelopes, by `keyId@version` (summed over tenants): the
   * versions a backfill still has to move values off before they can be retired.
   */
  readonly valuesReadByKeyVersion: Readonly<Record<string, number>>;
  /**
   * Values decrypted from self-contained (embedded) envelopes, by `providerId:masterKeyId`.
   * Each such envelope carries its own data key, so there are no versions to count: they are
   * counted by the master key that wraps their data key, which is what a master-key rotation
   * still has to re-encrypt. With one master key per tenant these ids can name tenants.
   */
  readonly valuesReadByMasterKey: Readonly<Record<string, number>>;
  /** Legacy plaintext returned by fields in migration, by `table.field`. */
  readonly plaintextReads: Readonly<Record<string, number>>;
  /** Failed values (each failed item of a batch counts) by error code. */
  readonly failures: Readonly<Partial<Record<FieldsealErrorCode, number>>>;
  /** The key-event bus: connected or not, and how often it was lost. */
  readonly keyEvents: KeyEventsStats;
  /**
   * Throttling answers the client's providers received (AWS `ThrottlingException`, HTTP 429),
   * each attempt counted, retried or not, by provider id. These are the providers' own
   * counters: a provider shared by several clients is counted in each.
   */
  readonly throttling: {
    readonly events: number;
    readonly byProvider: Readonly<Record<string, number>>;
  };
  /**
   * Key-store data-key versions per tenant among the keys in the cache now, that is the
   * versions each tenant read or wrote within the cache's `maxAgeMs`: tenants counted by how
   * many versions they use (`{ '1': 950, '2': 48, '4': 2 }`), never named. More than a few
   * versions in use means old values are still read: backfill them and retire the versions.
   * Embedded envelopes have no versions and are not counted.
   */
  readonly keyVersions: {
    readonly tenants: number;
    readonly maxPerTenant: number;
    readonly tenantsByVersionCount: Readonly<Record<string, number>>;
  };
}
