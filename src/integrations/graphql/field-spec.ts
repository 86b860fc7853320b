import { getDirective } from '@graphql-tools/utils';
import { isNonNullType, type GraphQLFieldConfig, type GraphQLSchema } from 'graphql';
import type { FieldSchema, ModelSchema } from '../../integration/index.js';
import { assertRegistered, schemaOf } from '../../integration/index.js';
import type { FieldsealGraphQLOptions, FieldsealMask, FieldsealOnDeny } from './options.js';
import { FieldsealSchemaError } from './setup-error.js';

/** A field bound to a model field: the context comes from the parent row. */
export interface ModelBinding {
  readonly schema: ModelSchema;
  readonly field: FieldSchema;
}

/** The checked fieldseal settings of one GraphQL field. */
export interface FieldSpec {
  /** `Type.field`, as errors name it. */
  readonly coordinate: string;
  /** Present when the field is `@encrypted`; `model` absent means the context function. */
  readonly encrypted: { readonly model: ModelBinding | undefined } | undefined;
  readonly scope:
    | {
        readonly scope: string;
        readonly onDeny: FieldsealOnDeny;
        readonly mask: string | undefined;
        readonly maskFn: FieldsealMask | undefined;
      }
    | undefined;
}

type Raw = Record<string, unknown>;

/** The field's settings from its directives, or else from `extensions.fieldseal`. */
function rawSettings(
  schema: GraphQLSchema,
  config: GraphQLFieldConfig<unknown, unknown>,
): { encrypted: Raw | undefined; scope: Raw | undefined } {
  const encrypted = getDirective(schema, config, 'encrypted')?.[0] as Raw | undefined;
  const scope = getDirective(schema, config, 'requiresScope')?.[0] as Raw | undefined;
  const ext = (config.extensions as Raw | null | undefined)?.fieldseal as Raw | undefined;
  return {
    encrypted: encrypted ?? (ext?.encrypted === true ? {} : (ext?.encrypted as Raw | undefined)),
    scope: scope ?? (ext?.requiresScope as Raw | undefined),
  };
}

/**
 * Read and check one field's settings; `undefined` when fieldseal has nothing to do with it.
 * @throws FieldsealSchemaError naming `Type.field` for any configuration mistake.
 */
export function fieldSpec(
  schema: GraphQLSchema,
  typeName: string,
  fieldName: string,
  config: GraphQLFieldConfig<unknown, unknown>,
  options: FieldsealGraphQLOptions,
): FieldSpec | undefined {
  const coordinate = `${typeName}.${fieldName}`;
  const fail = (why: string): never => {
    throw new FieldsealSchemaError(coordinate, why);
  };
  const raw = rawSettings(schema, config);
  const maskFn = options.masks?.[coordinate];
  if (raw.encrypted === undefined && raw.scope === undefined) {
    if (maskFn !== undefined) fail('a mask is configured but the field requires no scope');
    return undefined;
  }
  const nonNull = isNonNullType(config.type);
  let encrypted: FieldSpec['encrypted'];
  if (raw.encrypted !== undefined) {
    if (typeof raw.encrypted !== 'object' || raw.encrypted === null) fail('invalid @encrypted');
    if (nonNull && raw.encrypted.allowNonNull !== true) {
      fail('@encrypted on a non-null field nulls the parent on failure; set allowNonNull: true');
    }
    encrypted = { model: binding(raw.encrypted, fieldName, options, fail) };
    if (encrypted.model === undefined && typeof options.context !== 'function') {
      fail('@encrypted without a model needs the options.context function');
    }
  }
  let scope: FieldSpec['scope'];
  if (raw.scope !== undefined) {
    const { scope: name, onDeny = 'REJECT', mask, allowNonNull } = raw.scope;
    if (typeof name !== 'string' || name === '') fail('requiresScope needs a scope name');
    if (onDeny !== 'MASK' && onDeny !== 'REJECT') fail('onDeny must be MASK or REJECT');
    if (mask !== undefined && mask !== null && typeof mask !== 'string') fail('mask: a string');
    if (typeof options.scopes !== 'function')
      fail('requiresScope needs the options.scopes function');
    if (maskFn !== undefined && typeof maskFn !== 'function') fail('masks: expected a function');
    if (onDeny === 'REJECT' && (maskFn !== undefined || typeof mask === 'string')) {
      fail('a mask is configured but onDeny is REJECT');
    }
    if (maskFn !== undefined && typeof mask === 'string') fail('both a mask and masks[field]');
    if (onDeny === 'MASK' && nonNull && allowNonNull !== true) {
      fail('onDeny: MASK on a non-null field nulls the parent; set allowNonNull: true');
    }
    scope = {
      scope: name as string,
      onDeny: onDeny as FieldsealOnDeny,
      mask: typeof mask === 'string' ? mask : undefined,
      maskFn,
    };
  } else if (maskFn !== undefined) {
    fail('a mask is configured but the field requires no scope');
  }
  return Object.freeze({ coordinate, encrypted, scope });
}

/**
 * The model field an `@encrypted` declaration binds (`field` defaults to `fieldName`), or
 * `undefined` without a model.
 * @throws via `fail` for an unknown model or a model field that is not encrypted.
 */
export function binding(
  raw: Raw,
  fieldName: string,
  options: FieldsealGraphQLOptions,
  fail: (why: string) => never,
): ModelBinding | undefined {
  const { model: modelName, field = fieldName } = raw;
  if (modelName === undefined || modelName === null) {
    if (raw.field !== undefined && raw.field !== null) fail('@encrypted field needs a model');
    return undefined;
  }
  if (typeof modelName !== 'string' || typeof field !== 'string') fail('model/field: strings');
  const models = options.models ?? {};
  const model = Object.hasOwn(models, modelName) ? models[modelName] : undefined;
  if (model === undefined) fail(`unknown model "${String(modelName)}" (pass it in options.models)`);
  const schema = schemaOf(model);
  const f = schema.fields.find((x) => x.name === field);
  if (f?.encryption === undefined) {
    fail(`model field ${schema.table}.${String(field)} is not an encrypted field of the model`);
  }
  // The client must enforce the model's policies (a WriteOnly field is never read, ...).
  assertRegistered(options.fs, schema);
  return { schema, field: f };
}
