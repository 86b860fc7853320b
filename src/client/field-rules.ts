import {
  InvalidContextError,
  ModeForbiddenError,
  PlaintextInEncryptedFieldError,
} from '../errors.js';
import {
  checkedContext,
  type CheckedContext,
  type EncryptionContext,
} from '../envelope/context.js';
import { classifyStored } from '../envelope/encoding.js';
import { parseEnvelope, type ParsedEnvelope } from '../envelope/envelope.js';
import {
  bucketSize,
  encodePlaintext,
  type EncodedPlaintext,
  type PaddingOption,
} from '../envelope/plaintext.js';
import { ownData } from '../lib/own-data.js';
import { checkKeyContext, fieldKeyOf, type FieldKey } from './field-key.js';
import { checkFieldMasterKeyId } from './field-master-key.js';
import type { MetricsRecorder } from './metrics.js';
import type { FieldPolicy, KeysConfig, Mode } from './options.js';

/**
 * The context table and field under which per-tenant blind-index secrets are sealed (fixed:
 * changing them would make every stored secret unopenable). Reserved: no application table
 * should be called this. @internal
 */
export const INDEX_SECRET_TABLE = 'fieldseal_blind_index_secrets';
/** @internal */
export const INDEX_SECRET_FIELD = 'secret';

/** A value checked, encoded and ready to seal once its tenant's key is known. @internal */
export interface PreparedWrite {
  readonly tenant: string;
  readonly contextBytes: Buffer;
  readonly plaintext: EncodedPlaintext;
  /** The field's own master key and key context, or `undefined`: the tenant's key. */
  readonly fieldKey: FieldKey | undefined;
}

/** A stored value checked and parsed, waiting for the key it names. @internal */
export interface PreparedEnvelope {
  readonly kind: 'envelope';
  readonly tenant: string;
  readonly env: ParsedEnvelope;
  readonly contextBytes: Buffer;
  /** The field's key context (the provider context its data keys are bound to), if any. */
  readonly fieldKey: FieldKey | undefined;
}

/** @internal */
export type PreparedRead =
  { readonly kind: 'plaintext'; readonly value: unknown } | PreparedEnvelope;

/** Null-prototype: a polluted `Object.prototype` can never lend a policy a setting. */
const EMPTY_POLICY: FieldPolicy = Object.freeze(Object.create(null) as FieldPolicy);

const POLICY_KEYS: ReadonlySet<string> = new Set([
  'mode',
  'allowPlaintextRead',
  'pad',
  'masterKeyId',
  'keyContext',
]);

/**
 * A frozen, null-prototype copy of a caller's policy (own enumerable data properties, read
 * once), so that neither the caller nor a polluted prototype can change it after the checks.
 */
function snapshotPolicy(name: string, policy: unknown): FieldPolicy {
  if (typeof policy !== 'object' || policy === null || Array.isArray(policy)) {
    throw new TypeError(`fields["${name}"]: expected an object`);
  }
  const out = ownData(policy, (_why, key) => {
    throw new TypeError(`fields["${name}"].${key}: expected a data property`);
  });
  for (const key in out) {
    if (!POLICY_KEYS.has(key)) throw new TypeError(`fields["${name}"]: unknown option "${key}"`);
    if (out[key] === undefined) delete out[key];
  }
  // The caller's object is read once, here: the policy keeps a checked, frozen copy.
  if (out.keyContext !== undefined) {
    out.keyContext = checkKeyContext(out.keyContext, `fields["${name}"].keyContext`);
  }
  return Object.freeze(out);
}

/**
 * Everything decided before a key is touched: context validation, the client's and the
 * field's mode, value encoding, legacy-plaintext handling. No I/O happens here, so every
 * refusal costs no provider call.
 * @internal
 */
export class FieldRules {
  readonly mode: Mode;
  /** The master keys fields name (`FieldPolicy.masterKeyId`): shared by every tenant. */
  readonly fieldMasterKeys: ReadonlySet<string>;
  readonly #fields: ReadonlyMap<string, FieldPolicy>;
  /** The data-key settings of the policies that have any (master key, key context). */
  readonly #fieldKeys: ReadonlyMap<FieldPolicy, FieldKey>;
  readonly #hasPolicies: boolean;
  readonly #metrics: MetricsRecorder;

  /** @param keysMode - `keys.mode`: field master keys exist only in embedded mode. */
  constructor(
    mode: Mode,
    fields: Readonly<Record<string, FieldPolicy>>,
    metrics: MetricsRecorder,
    keysMode: KeysConfig['mode'],
  ) {
    checkMode(mode, 'mode');
    const fieldMasterKeys = new Set<string>();
    // Copies, frozen and null-prototype, in a Map: a caller keeping (or fieldPolicy()
    // returning) a policy object cannot change a checked policy afterwards, and no lookup
    // keyed by table and field names can reach Object.prototype.
    const policies = new Map<string, FieldPolicy>();
    const fieldKeys = new Map<FieldPolicy, FieldKey>();
    for (const [name, given] of Object.entries(fields)) {
      const policy = snapshotPolicy(name, given);
      policies.set(name, policy);
      // Exactly one dot: otherwise "a.b" + "c" and "a" + "b.c" would share a policy.
      if (!/^[^.]+\.[^.]+$/.test(name)) {
        throw new TypeError(`fields["${name}"]: expected a "table.field" key with exactly one dot`);
      }
      if (policy.mode !== undefined) checkMode(policy.mode, `fields["${name}"].mode`);
      bucketSize(policy.pad);
      if (policy.masterKeyId !== undefined) {
        checkFieldMasterKeyId(policy.masterKeyId, `fields["${name}"].masterKeyId`);
        if (keysMode !== 'embedded') {
          throw new TypeError(
            `fields["${name}"].masterKeyId: a field master key needs keys.mode "embedded" (in store mode data keys are per tenant and key id, wrapped under keys.masterKeyId, so a field cannot choose its own)`,
          );
        }
        fieldMasterKeys.add(policy.masterKeyId);
      }
      const fieldKey = fieldKeyOf(policy.masterKeyId, policy.keyContext);
      if (fieldKey !== undefined) {
        if (fieldKey.context !== undefined && keysMode !== 'embedded') {
          throw new TypeError(
            `fields["${name}"].keyContext: entries other than tenant need keys.mode "embedded" (a key-store data key serves every field of its tenant, so it cannot be bound to one field's context)`,
          );
        }
        fieldKeys.set(policy, fieldKey);
      }
    }
    this.mode = mode;
    this.fieldMasterKeys = fieldMasterKeys;
    this.#fields = policies;
    this.#fieldKeys = fieldKeys;
    this.#hasPolicies = policies.size > 0;
    this.#metrics = metrics;
  }

  prepareWrite(
    value: unknown,
    context: EncryptionContext,
    pad: PaddingOption | undefined,
  ): PreparedWrite {
    // One snapshot of the context, validated first: the AAD, the tenant and the policy all
    // come from it, and nothing below may stringify an unchecked value.
    const checked = checkedContext(context);
    const { context: ctx, bytes: contextBytes } = checked;
    const policy = this.#policy(checked);
    if (!allows(this.mode, 'write') || !allows(policy.mode, 'write')) {
      throw new ModeForbiddenError('encryption is forbidden in this mode', {
        details: fieldOf(ctx),
      });
    }
    const fieldKey = this.#fieldKey(policy, ctx);
    const plaintext = encodePlaintext(value, bucketSize(pad ?? policy.pad));
    return { tenant: ctx.tenant, contextBytes, plaintext, fieldKey };
  }

  /**
   * @param keyMaterial - open key material, not a value: only fieldseal's sealed blind-index
   *   secrets (their fixed table and field), and not governed by the value modes (a WriteOnly
   *   ingest client needs its tenants' index secrets to write indexed fields).
   */
  prepareRead(
    stored: string | Uint8Array,
    context: EncryptionContext,
    keyMaterial = false,
  ): PreparedRead {
    const checked = checkedContext(context);
    const { context: ctx, bytes: contextBytes } = checked;
    if (keyMaterial) {
      if (ctx.table !== INDEX_SECRET_TABLE || ctx.field !== INDEX_SECRET_FIELD) {
        throw new InvalidContextError('only blind-index secrets are opened as key material');
      }
      const classified = classifyStored(stored);
      if (classified.kind === 'plaintext') {
        throw new PlaintextInEncryptedFieldError(undefined, {
          details: { field: `${INDEX_SECRET_TABLE}.${INDEX_SECRET_FIELD}` },
        });
      }
      return {
        kind: 'envelope',
        tenant: ctx.tenant,
        env: parseEnvelope(classified.bytes),
        contextBytes,
        fieldKey: undefined,
      };
    }
    const policy = this.#policy(checked);
    if (!allows(this.mode, 'read') || !allows(policy.mode, 'read')) {
      throw new ModeForbiddenError('decryption is forbidden in this mode', {
        details: fieldOf(ctx),
      });
    }
    const fieldKey = this.#fieldKey(policy, ctx);
    const classified = classifyStored(stored);
    if (classified.kind === 'plaintext') {
      const { field } = fieldOf(ctx);
      if (policy.allowPlaintextRead !== true) {
        throw new PlaintextInEncryptedFieldError(undefined, { details: { field } });
      }
      this.#metrics.plaintextRead(field);
      return { kind: 'plaintext', value: stored };
    }
    return {
      kind: 'envelope',
      tenant: ctx.tenant,
      env: parseEnvelope(classified.bytes),
      contextBytes,
      fieldKey,
    };
  }

  /**
   * The field's data-key settings, refusing a tenant its key context does not name (before
   * any key is asked for: such a value is never sealed or opened).
   */
  #fieldKey(policy: FieldPolicy, ctx: EncryptionContext): FieldKey | undefined {
    if (policy.masterKeyId === undefined && policy.keyContext === undefined) return undefined;
    const fieldKey = this.#fieldKeys.get(policy);
    if (fieldKey?.tenant !== undefined && fieldKey.tenant !== ctx.tenant) {
      throw new InvalidContextError("the field's keyContext names another tenant", {
        details: fieldOf(ctx),
      });
    }
    return fieldKey;
  }

  /** The configured policy of `table.field` (an empty frozen object when none). */
  policyOf(table: string, field: string): FieldPolicy {
    return this.#fields.get(`${table}.${field}`) ?? EMPTY_POLICY;
  }

  /** Policy of a checked context. */
  #policy(checked: CheckedContext): FieldPolicy {
    if (!this.#hasPolicies) return EMPTY_POLICY;
    const { context, qualified } = checked;
    return this.#fields.get(qualified ?? `${context.table}.${context.field}`) ?? EMPTY_POLICY;
  }
}

function allows(mode: Mode | undefined, op: 'read' | 'write'): boolean {
  if (mode === undefined || mode === 'ReadWrite') return true;
  return op === 'write' ? mode === 'WriteOnly' : mode === 'ReadOnly';
}

function checkMode(mode: unknown, name: string): void {
  if (mode !== 'ReadWrite' && mode !== 'WriteOnly' && mode !== 'ReadOnly') {
    throw new TypeError(
      `${name}: expected 'ReadWrite', 'WriteOnly' or 'ReadOnly', got ${String(mode)}`,
    );
  }
}

function fieldOf(context: EncryptionContext): { field: string } {
  return { field: `${context.table}.${context.field}` };
}
