import type { AuditSink } from '../audit/audit-event.js';
import type { DataKeyCacheOptions } from '../keys/data-key-cache.js';
import type { MetricsSink } from '../metrics/metrics-sink.js';
import type { KeyProvider } from '../kms/key-provider.js';
import type { KeyStore } from '../keys/key-store.js';
import type { KeyEventBus } from '../keys/key-events.js';
import type { PaddingOption } from '../envelope/plaintext.js';

/**
 * What a client (or one field) may do. `WriteOnly` cannot decrypt and `ReadOnly` cannot
 * encrypt: the forbidden call fails with `ERR_MODE_FORBIDDEN` before any key is touched. See
 * docs/modes.md for the provider permissions each mode needs.
 * @example
 * ```ts
 * const ingest = createFieldseal({ ...options, mode: 'WriteOnly' });
 * ```
 */
export type Mode = 'ReadWrite' | 'WriteOnly' | 'ReadOnly';

/**
 * A key-administration operation: one that creates data keys (`provision`, `rotate`), moves
 * them under another master key (`rewrap`), changes what can be read (`retire`, `reinstate`)
 * or destroys them (`shred`). A client performs one only when its `admin` option names it, so
 * a compromised ingest or read service cannot destroy or replace any tenant's keys. See
 * docs/modes.md for the provider permissions each needs.
 * @example
 * ```ts
 * const ops: KeyAdminOperation[] = ['provision', 'rotate'];
 * const onboarding = createFieldseal({ ...options, admin: ops });
 * ```
 */
export type KeyAdminOperation =
  'provision' | 'rotate' | 'rewrap' | 'retire' | 'reinstate' | 'shred';

/**
 * Per-field settings, keyed `table.field` in {@link FieldsealOptions.fields}.
 * @example
 * ```ts
 * const fields: Record<string, FieldPolicy> = {
 *   'customers.ssn': { pad: 'bucket-16' },
 *   'customers.phone': { allowPlaintextRead: true }, // being migrated
 *   'customers.card': { masterKeyId: 'arn:aws:kms:eu-west-1:111122223333:alias/payments' },
 *   'customers.dob': { keyContext: { purpose: 'pii' } }, // sent to the KMS with the tenant
 * };
 * ```
 */
export interface FieldPolicy {
  /** Narrows the client's mode for this field (a field can never widen it). */
  readonly mode?: Mode;
  /**
   * Migration escape hatch: a value in this field that is not an envelope is returned as it
   * is and counted in `metrics().plaintextReads`, instead of failing with
   * `ERR_PLAINTEXT_IN_ENCRYPTED_FIELD`. Turn it off once the backfill reports zero.
   */
  readonly allowPlaintextRead?: boolean;
  /** Length-hiding padding for every value written to this field. */
  readonly pad?: PaddingOption;
  /**
   * Embedded mode only: the master key that wraps the data keys of this field's values,
   * through the first (writer) provider, instead of `keys.masterKeyId` (for every tenant). A
   * non-empty string of at most 255 UTF-8 bytes, e.g. a KMS key or alias ARN, which routes the
   * calls to the ARN's region. Reads of this client accept it (each envelope names its master
   * key; a client reading such values needs the same policy, or the id in
   * `keys.acceptMasterKeyIds`). Refused in store mode (store data keys are per tenant and key
   * id, not per field).
   */
  readonly masterKeyId?: string;
  /**
   * Static entries added to the provider context of this field's data keys, e.g.
   * `{ purpose: 'pii' }`: with AWS KMS they are sent as encryption context next to `tenant`,
   * so CloudTrail records them and key policies can require them
   * (`kms:EncryptionContext:purpose`). The field then has data keys of its own (one per tenant
   * and master key), and only a client with the same `keyContext` can unwrap them. A
   * `tenant` entry restricts the field to that one tenant: any other is refused with
   * `ERR_INVALID_CONTEXT` before a key is touched. 1 to 16 entries; names distinct without
   * regard to case, not `key`, `version` or starting with `aws`. Entries other than `tenant`
   * need embedded mode (a store key serves every field of its tenant). See docs/models.md
   * ("Key context").
   */
  readonly keyContext?: Readonly<Record<string, string>>;
}

/**
 * How data keys are found.
 * - `embedded`: each envelope carries its data key wrapped under `masterKeyId` by the first
 *   provider (self-contained; no key store). One data key per tenant is cached for writes.
 * - `store`: envelopes carry `keyId` + version; wrapped versions live in `store`
 *   (compact). Versions are created with `provisionTenant` and wrapped under `masterKeyId`.
 * @example
 * ```ts
 * const keys: KeysConfig = { mode: 'store', store, masterKeyId: 'master', keyId: 'k1' };
 * // One master key per tenant instead of one shared master key:
 * const perTenant: KeysConfig = {
 *   mode: 'embedded',
 *   masterKeyId: (tenant) => `alias/fs/${tenant}`,
 *   dedicatedMasterKeys: true, // shredTenant may destroy alias/fs/<tenant>
 * };
 * ```
 */
export type KeysConfig = (
  | { readonly mode: 'embedded'; readonly masterKeyId: MasterKeyChoice }
  | {
      readonly mode: 'store';
      readonly store: KeyStore;
      readonly masterKeyId: MasterKeyChoice;
      /** Key id written into envelopes (default `default`); keep it short. */
      readonly keyId?: string;
    }
) & {
  /**
   * Declare that `masterKeyId(tenant)` gives every tenant a master key of its own, used by no
   * other tenant. Only then does `shredTenant` destroy master keys at the provider (just the
   * tenant's own key, `masterKeyId(tenant)`). A function can map several tenants to one key
   * (`t => t.startsWith('eu-') ? 'alias/eu' : 'alias/us'`), so fieldseal never assumes it.
   */
  readonly dedicatedMasterKeys?: boolean;
  /**
   * Further master key ids that reads accept, besides `masterKeyId` (for the tenant read) and
   * the fields' own master keys: the keys of values and key-store rows written under a
   * previous master key, until `rewrapTenantKeys` (store mode) or a re-encryption (embedded
   * mode) has moved them. A list for every tenant, or a function of the tenant. An envelope or
   * key-store row naming any other master key fails with `ERR_KEY_NOT_CONFIGURED` before any
   * provider call: stored data cannot choose the key it is opened with (docs/threat-model.md).
   * An id is accepted with every configured provider.
   * @example
   * ```ts
   * // Moving from mk-2025 to mk-2026: new keys under mk-2026, old rows still readable.
   * const keys: KeysConfig = { mode: 'store', store, masterKeyId: 'mk-2026', acceptMasterKeyIds: ['mk-2025'] };
   * ```
   */
  readonly acceptMasterKeyIds?: readonly string[] | ((tenant: string) => readonly string[]);
};

/**
 * Which master key wraps a tenant's data keys: one shared master key for every tenant (a
 * string), or one master key per tenant (a function of the tenant id). Per-tenant master keys
 * let a KMS policy, an audit trail and a key deletion address exactly one tenant.
 * @example
 * ```ts
 * const shared: MasterKeyChoice = 'master';
 * const perTenant: MasterKeyChoice = (tenant) => `alias/fieldseal/${tenant}`;
 * ```
 */
export type MasterKeyChoice = string | ((tenant: string) => string);

/**
 * What the client reads of a model (from `defineModel`) passed in
 * {@link FieldsealOptions.models}: its table and its encrypted fields' policies.
 * @example
 * ```ts
 * const source: ModelPolicySource = Customer; // defineModel({ table: 'customers', ... })
 * const fs = createFieldseal({ provider, keys, cache, models: [Customer] });
 * ```
 */
export interface ModelPolicySource {
  readonly table: string;
  readonly policies: Readonly<Record<string, FieldPolicy>>;
}

/**
 * Options of {@link createFieldseal}.
 * @example
 * ```ts
 * const options: FieldsealOptions = {
 *   provider,
 *   keys: { mode: 'embedded', masterKeyId: 'master' },
 *   cache: { maxAgeMs: 300_000, maxUses: 1_000_000, maxEntries: 1000 },
 *   models: [Customer], // registers the policies of Customer's encrypted fields
 * };
 * ```
 */
export interface FieldsealOptions {
  /**
   * The key provider, or several: the first wraps new keys, any of them can unwrap keys whose
   * envelope or key-store row names its id and a master key the configuration accepts
   * (`keys.masterKeyId`, field master keys, `keys.acceptMasterKeyIds`).
   */
  readonly provider: KeyProvider | readonly KeyProvider[];
  readonly keys: KeysConfig;
  /** Data-key cache limits; `maxAgeMs` is required. */
  readonly cache: DataKeyCacheOptions;
  /**
   * How many key loads (provider calls) a batch runs at once on cache misses (default 16),
   * so a batch over 1,000 tenants does not fire 1,000 KMS requests together.
   */
  readonly batchKeyConcurrency?: number;
  /**
   * The longest one key-provider call (generate, unwrap, wrap; the provider's own retries
   * included) may take before the operation fails with `ERR_PROVIDER_UNAVAILABLE`, in ms
   * (default 10,000). Enforced by the client, so a custom provider or a hung connection never
   * leaves a call pending forever; a key that arrives later is zeroed, never used.
   */
  readonly providerTimeoutMs?: number;
  /**
   * Fleet-wide key events: when set, `shredTenant` publishes the shred and every client
   * subscribed on the bus (in any process) zeroes its cached keys of that tenant at once.
   */
  readonly keyEvents?: KeyEventBus;
  /** Client-wide mode (default `ReadWrite`). */
  readonly mode?: Mode;
  /**
   * Per-field policies keyed `table.field` (exactly one dot, so no two fields can share a
   * policy). Fields whose table or field name contains a dot cannot have a policy and get the
   * strict default: the client's mode, no plaintext reads, no padding.
   */
  readonly fields?: Readonly<Record<string, FieldPolicy>>;
  /**
   * Models (from `defineModel`) whose encrypted fields this client serves: their policies are
   * registered in one step, as if spread into `fields`. A `table.field` both here and in
   * `fields` must be the same policy object, or the client is refused.
   */
  readonly models?: readonly ModelPolicySource[];
  /**
   * Audit sinks: every key-provider call (generate, unwrap, wrap: on cache misses only, never
   * on the warm path), provision, rotation, re-wrap and shred is recorded as one
   * `AuditEvent` in every sink, and awaited. A sink that fails makes the operation fail with
   * `ERR_AUDIT_UNAVAILABLE`: no key use goes unaudited. Requires `actor`.
   */
  readonly audit?: AuditSink | readonly AuditSink[];
  /**
   * Who this client acts for (a service or user id), stamped on every audit event. Required,
   * non-empty, when `audit` is set: construction fails with a TypeError otherwise.
   */
  readonly actor?: string;
  /**
   * Where measurements go besides `stats()`: latency of every call, provider calls, failures
   * with their field. `openTelemetryMetrics()` from `fieldseal/opentelemetry` adapts them to
   * OpenTelemetry; see docs/metrics.md. No sink: nothing but in-process counters.
   */
  readonly telemetry?: MetricsSink;
  /**
   * The key-administration operations this client may perform (`provisionTenant`,
   * `rotateTenantKey`, `rewrapTenantKeys`, `retireKeyVersions`, `reinstateKeyVersion`,
   * `shredTenant`): `true` for all of them, a list for some, absent or `false` for none (the
   * default: the others fail with `ERR_MODE_FORBIDDEN` before touching the key store or a
   * provider). The mode still applies: a `ReadOnly` client never provisions, rotates or
   * rewraps (each wraps a key), and only a `ReadWrite` client rewraps (it also unwraps).
   * Give it to the service or job that administers keys, not to every service.
   * @example
   * ```ts
   * const admin = createFieldseal({ ...options, admin: true });
   * const onboarding = createFieldseal({ ...options, admin: ['provision'] });
   * ```
   */
  readonly admin?: boolean | readonly KeyAdminOperation[];
}
