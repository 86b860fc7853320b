import {
  getNamedType,
  isLeafType,
  isListType,
  type GraphQLFieldResolver,
  type GraphQLOutputType,
} from 'graphql';
import type { EncryptionContext } from '../../index.js';
import {
  absentError,
  asRecord,
  contextOf,
  hasKind,
  kindError,
  ownData,
  scopeOf,
  type ModelSchema,
  type RecordScope,
} from '../../integration/index.js';
import type { DecryptBatcher } from './decrypt-batcher.js';
import type { FieldSpec, ModelBinding } from './field-spec.js';
import { decryptionError, forbiddenError } from './graphql-errors.js';
import type { FieldsealGraphQLOptions } from './options.js';
import type { RequestState, RequestStates } from './request-state.js';

type Resolver = GraphQLFieldResolver<unknown, unknown>;
type Args = Record<string, unknown>;

/** A parent's own plain data, read once; an accessor or a non-object is refused. */
function snapshot(parent: unknown): Readonly<Record<string, unknown>> {
  if (typeof parent !== 'object' || parent === null) throw new TypeError('parent: not an object');
  return ownData(parent, () => {
    throw new TypeError('parent: accessors are not data');
  });
}

/** What the field reads when it has no resolver of its own: the parent's own property. */
const ownProperty =
  (name: string): Resolver =>
  (parent) =>
    snapshot(parent)[name];

/**
 * Wrap one field's resolver: the scope is checked first (a denied field is never fetched nor
 * decrypted), then the stored value and its context are read from the parent and queued on
 * the request's batcher. Failures become `DECRYPTION_ERROR` naming the field and the
 * fieldseal code; the stored value and plaintext never appear in an error.
 */
export function fieldResolver(
  spec: FieldSpec,
  original: Resolver | undefined,
  parentKind: 'stored' | 'decrypted',
  options: FieldsealGraphQLOptions,
  states: RequestStates,
): Resolver {
  const encrypted = spec.encrypted;
  const read = original ?? ownProperty(encrypted?.model?.field.name ?? '');
  return async (parent, args: Args, ctx, info) => {
    const state = states.of(ctx);
    const scope = spec.scope;
    if (scope !== undefined && !state.scopes.has(scope.scope)) {
      if (scope.onDeny === 'REJECT') return forbiddenError(spec.coordinate);
      return scope.maskFn !== undefined ? scope.maskFn(snapshot(parent)) : (scope.mask ?? null);
    }
    const plain = original ?? ownProperty(info.fieldName);
    if (encrypted === undefined) return plain(parent, args, ctx, info);
    const model = encrypted.model;
    if (parentKind === 'decrypted') {
      const value: unknown = await plain(parent, args, ctx, info);
      return stillSealed(model, value)
        ? decryptionError(spec.coordinate, 'ERR_UNSUPPORTED_VALUE')
        : serializable(spec, value, info.returnType);
    }
    let context: EncryptionContext;
    let stored: unknown;
    try {
      context =
        model === undefined
          ? options.context!(parent, args, ctx, info)
          : modelContext(model, parent, state);
      stored = await (model === undefined ? plain : read)(parent, args, ctx, info);
    } catch {
      // The parent cannot bind a context (no tenant, no key, not an object): fail closed.
      return decryptionError(spec.coordinate, 'ERR_INVALID_CONTEXT');
    }
    const value = await decryptOne(spec, model, stored, context, state.batcher);
    return serializable(spec, value, info.returnType);
  };
}

/**
 * A plaintext the field's scalar cannot serialize is an error here, without the value:
 * graphql-js would otherwise report `String cannot represent value: <the plaintext>`.
 */
function serializable(spec: FieldSpec, value: unknown, type: GraphQLOutputType): unknown {
  const named = getNamedType(type);
  if (value instanceof Error || value === null || !isLeafType(named) || isListType(type)) {
    return value;
  }
  try {
    named.serialize(value);
    return value;
  } catch {
    return decryptionError(spec.coordinate, 'ERR_UNSUPPORTED_VALUE');
  }
}

/**
 * A record said to be decrypted that still holds an envelope (`fs1:` text, or bytes where the
 * field is not bytes): a stored row passed by mistake, never sent to the client.
 */
function stillSealed(model: ModelBinding | undefined, value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === 'string' && value.startsWith('fs1:')) return true;
  if (model === undefined) return value instanceof Uint8Array;
  return !hasKind(model.field.kind, value);
}

/**
 * The context of a model-bound value of `parent`: its tenant and key are read once per
 * request and model (cached in the request state), whichever resolver asks first.
 */
export function modelContext(
  model: ModelBinding,
  parent: unknown,
  state: RequestState,
): EncryptionContext {
  const { schema } = model;
  if (typeof parent !== 'object' || parent === null) {
    return contextOf(schema, model.field, scopeOf(schema, asRecord(schema, parent, 'row')));
  }
  let byModel = state.rowScopes.get(parent);
  let scope = byModel?.get(schema);
  if (scope === undefined) {
    scope = scopeOf(schema, asRecord(schema, parent, 'row'));
    if (byModel === undefined)
      state.rowScopes.set(parent, (byModel = new Map<ModelSchema, RecordScope>()));
    byModel.set(schema, scope);
  }
  return contextOf(schema, model.field, scope);
}

async function decryptOne(
  spec: FieldSpec,
  model: ModelBinding | undefined,
  stored: unknown,
  context: EncryptionContext,
  batcher: DecryptBatcher,
): Promise<unknown> {
  if (stored === null || stored === undefined) {
    // SQL has no "absent": a stored NULL of an optional (not nullable) field is the absent
    // value, as the repositories read it.
    const missing = model?.field.optional === true && !model.field.nullable ? undefined : stored;
    const absent = model === undefined ? undefined : absentError(model.field, missing, 'decrypt');
    return absent === undefined ? null : decryptionError(spec.coordinate, absent.code);
  }
  if (typeof stored !== 'string' && !(stored instanceof Uint8Array)) {
    return decryptionError(spec.coordinate, 'ERR_MALFORMED_CIPHERTEXT');
  }
  // fieldseal's own decrypt refuses plaintext unless the field allows plaintext reads.
  const outcome = await batcher.load({ stored, context });
  if (!outcome.ok) return decryptionError(spec.coordinate, outcome.reason);
  if (model !== undefined && !hasKind(model.field.kind, outcome.value)) {
    return decryptionError(spec.coordinate, kindError(model.field, 'decrypt').code);
  }
  return outcome.value;
}
