import { getDirective } from '@graphql-tools/utils';
import {
  getNamedType,
  getNullableType,
  isInterfaceType,
  isListType,
  isObjectType,
  isScalarType,
  type GraphQLArgumentConfig,
  type GraphQLFieldConfig,
  type GraphQLSchema,
} from 'graphql';
import type { BlindIndexSource } from '../../integration/index.js';
import { schemaOf } from '../../integration/index.js';
import { binding, type FieldSpec, type ModelBinding } from './field-spec.js';
import type { FieldsealGraphQLOptions } from './options.js';
import { FieldsealSchemaError } from './setup-error.js';

type Raw = Record<string, unknown>;

/** One `@lookup` argument, checked at setup. */
export interface LookupArg {
  /** The argument's name. */
  readonly name: string;
  /** The blind-indexed model field the argument is matched against. */
  readonly model: ModelBinding;
  readonly source: BlindIndexSource;
  /** Whether the argument is a list (`emails: [String!]`: rows equal to any of them). */
  readonly list: boolean;
  /** The scopes a caller needs: those of every object field bound to the same model field. */
  readonly scopes: readonly string[];
}

/** The `@lookup` arguments of one field and what its resolver returns. */
export interface LookupSpec {
  /** `Type.field`. */
  readonly coordinate: string;
  readonly args: readonly LookupArg[];
  /** Whether the returned rows are stored (decrypted for the re-check) or already decrypted. */
  readonly parents: 'stored' | 'decrypted';
}

/** The `@lookup` settings of an argument (directive or `extensions.fieldseal.lookup`). */
function lookupSettings(schema: GraphQLSchema, arg: GraphQLArgumentConfig): Raw | undefined {
  const directive = getDirective(schema, arg, 'lookup')?.[0] as Raw | undefined;
  if (directive !== undefined) return directive;
  const ext = (arg.extensions as Raw | null | undefined)?.fieldseal as Raw | undefined;
  const lookup = ext?.lookup;
  if (lookup === undefined) return undefined;
  return typeof lookup === 'object' && lookup !== null ? (lookup as Raw) : { invalid: true };
}

/**
 * Read and check the `@lookup` arguments of one field; `undefined` when it has none.
 * @throws FieldsealSchemaError naming `Type.field(arg:)`: an unknown model, a model field
 *   without a blind index, no index source for the model (or one of another model), an
 *   argument that is not a string scalar (or a list of them), a field that does not return
 *   objects.
 */
export function lookupSpec(
  schema: GraphQLSchema,
  typeName: string,
  fieldName: string,
  config: GraphQLFieldConfig<unknown, unknown>,
  options: FieldsealGraphQLOptions,
): LookupSpec | undefined {
  const args: Omit<LookupArg, 'scopes'>[] = [];
  for (const [name, arg] of Object.entries(config.args ?? {})) {
    const raw = lookupSettings(schema, arg);
    if (raw === undefined) continue;
    const coordinate = `${typeName}.${fieldName}(${name}:)`;
    const fail = (why: string): never => {
      throw new FieldsealSchemaError(coordinate, why);
    };
    if (raw.invalid === true || raw.model === undefined || raw.model === null) {
      fail('@lookup needs a model');
    }
    const model = binding(raw, name, options, fail)!;
    if (model.field.encryption?.blindIndex === undefined) {
      fail(`model field ${model.field.qualified} has no blind index (.blindIndex())`);
    }
    const sources = options.blindIndexes ?? {};
    const modelName = raw.model as string;
    const source = Object.hasOwn(sources, modelName) ? sources[modelName] : undefined;
    if (source === undefined || typeof source.lookupIndexes !== 'function') {
      return fail(`pass the index source of model "${modelName}" in options.blindIndexes`);
    }
    if (schemaOf(source.model) !== model.schema) {
      fail(`options.blindIndexes.${modelName} indexes another model`);
    }
    const t = getNullableType(arg.type);
    const list = isListType(t);
    const named = getNamedType(arg.type);
    if (!isScalarType(named) || (list && isListType(getNullableType(t.ofType)))) {
      fail('@lookup needs a scalar argument holding strings, or a list of them');
    }
    args.push({ name, model, source, list });
  }
  if (args.length === 0) return undefined;
  const returned = getNamedType(config.type);
  if (!isObjectType(returned) && !isInterfaceType(returned)) {
    throw new FieldsealSchemaError(
      `${typeName}.${fieldName}`,
      '@lookup arguments need a field that returns the rows (an object type, or a list of them)',
    );
  }
  return {
    coordinate: `${typeName}.${fieldName}`,
    args: args.map((a) => ({ ...a, scopes: [] })),
    parents: options.parents?.[returned.name] ?? 'stored',
  };
}

/**
 * A lookup by a field reveals whether a row holds a value: it needs every scope that reading
 * that model field needs anywhere in the schema (else it would be an oracle for the field).
 */
export function withScopes(spec: LookupSpec, fields: Iterable<FieldSpec>): LookupSpec {
  const all = [...fields];
  return {
    ...spec,
    args: spec.args.map((a) => ({
      ...a,
      scopes: [
        ...new Set(
          all
            .filter(
              (f) =>
                f.scope !== undefined &&
                f.encrypted?.model?.schema === a.model.schema &&
                f.encrypted.model.field === a.model.field,
            )
            .map((f) => f.scope!.scope),
        ),
      ],
    })),
  };
}
