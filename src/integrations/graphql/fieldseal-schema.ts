import { mapSchema, MapperKind } from '@graphql-tools/utils';
import { GraphQLSchema, isInterfaceType } from 'graphql';
import { fieldResolver } from './field-resolver.js';
import { fieldSpec, type FieldSpec } from './field-spec.js';
import { argumentsReach, inputEncryptingResolver, inputPlan } from './input-encryption.js';
import { lookupResolver } from './lookup-resolver.js';
import { lookupSpec, withScopes, type LookupSpec } from './lookup-spec.js';
import type { FieldsealGraphQLOptions } from './options.js';
import { FieldsealRuntime, runtimeOf } from './runtime.js';
import { FieldsealSchemaError } from './setup-error.js';

/**
 * A NEW schema whose `@encrypted` fields decrypt their stored values (one batch per request
 * tick), whose `@requiresScope` fields check the request's scopes before anything is read,
 * and whose resolvers receive `@encrypted` input fields and arguments ENCRYPTED with their
 * record's context (one `encryptMany` batch per resolver call; a value that cannot be bound
 * to its record is an `ENCRYPTION_ERROR` and the resolver is not called), and whose `@lookup`
 * arguments reach resolvers as blind indexes, the rows they return re-checked after
 * decryption (collisions dropped). The input schema is not modified. Every graphql-js server accepts the result (Apollo
 * `new ApolloServer({ schema })`, Yoga, NestJS, Mercurius). Fields are declared with the
 * {@link fieldsealDirectives} in SDL, or `extensions.fieldseal` in code-first schemas.
 *
 * Each request's `contextValue` must be an object: the request's batcher and scopes are
 * keyed by it (weakly, inside this schema; no module state).
 * @throws FieldsealSchemaError naming `Type.field` for a configuration mistake (unknown model,
 *   `@encrypted` or `MASK` on a non-null field without `allowNonNull`, no `context` or
 *   `scopes` function where one is needed); KeyNotConfiguredError when `fs` was not created
 *   with a model the schema names.
 * @example
 * ```ts
 * import { ApolloServer } from '@apollo/server';
 * import { makeExecutableSchema } from '@graphql-tools/schema';
 * import { fieldsealApolloPlugin, fieldsealDirectives, fieldsealSchema } from 'fieldseal/graphql';
 *
 * const schema = fieldsealSchema(
 *   makeExecutableSchema({ typeDefs: [fieldsealDirectives, typeDefs], resolvers }),
 *   { fs, models: { User }, scopes: (ctx) => (ctx as { scopes: string[] }).scopes },
 * );
 * const server = new ApolloServer({ schema, plugins: [fieldsealApolloPlugin()] });
 * ```
 */
export function fieldsealSchema(
  schema: GraphQLSchema,
  options: FieldsealGraphQLOptions,
): GraphQLSchema {
  if (!(schema instanceof GraphQLSchema)) throw new TypeError('schema: expected a GraphQLSchema');
  if (typeof options !== 'object' || options === null) throw new TypeError('options: required');
  if (typeof options.fs?.decryptManySettled !== 'function') {
    throw new TypeError('options.fs: expected a Fieldseal client');
  }
  if (runtimeOf(schema) !== undefined) {
    throw new TypeError('schema: already transformed by fieldsealSchema');
  }
  const specs = new Map<string, FieldSpec>();
  const interfaceFields: string[] = [];
  const inputs = inputPlan(schema, options);
  const writes = new Set<string>();
  const lookups = new Map<string, LookupSpec>();
  // Check every field first: a mistake refuses the whole schema, nothing half-transformed.
  mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (config, fieldName, typeName) => {
      const spec = fieldSpec(schema, typeName, fieldName, config, options);
      if (spec !== undefined) specs.set(spec.coordinate, spec);
      const lookup = lookupSpec(schema, typeName, fieldName, config, options);
      if (lookup !== undefined) lookups.set(lookup.coordinate, lookup);
      if (argumentsReach(schema, inputs, typeName, fieldName, config.args, options)) {
        writes.add(`${typeName}.${fieldName}`);
      }
      return config;
    },
    [MapperKind.INTERFACE_FIELD]: (config, fieldName, typeName) => {
      if (fieldSpec(schema, typeName, fieldName, config, options) !== undefined) {
        interfaceFields.push(`${typeName}.${fieldName}`);
      }
      return config;
    },
  });
  checkInterfaces(schema, specs, interfaceFields);
  for (const [coordinate, lookup] of lookups) {
    lookups.set(coordinate, withScopes(lookup, specs.values()));
  }
  const runtime = new FieldsealRuntime(options, specs, lookups);
  const mapped = mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (config, fieldName, typeName) => {
      const coordinate = `${typeName}.${fieldName}`;
      const spec = specs.get(coordinate);
      const lookup = lookups.get(coordinate);
      if (spec === undefined && lookup === undefined && !writes.has(coordinate)) return config;
      const kind = options.parents?.[typeName] ?? 'stored';
      const own =
        spec === undefined
          ? config.resolve
          : fieldResolver(spec, config.resolve, kind, options, runtime.states);
      const read =
        lookup === undefined ? own : lookupResolver(lookup, own, options, runtime.states);
      return {
        ...config,
        resolve: writes.has(coordinate)
          ? inputEncryptingResolver(coordinate, read, inputs, options)
          : read,
      };
    },
  });
  return new GraphQLSchema({
    ...mapped.toConfig(),
    extensions: { ...mapped.extensions, ...runtime.extension() },
  });
}

/**
 * An interface field declared `@encrypted` or scoped must be declared so on every object
 * type that implements it: the resolvers live on the object types, and an undeclared one
 * would return the stored value (or skip the scope).
 */
function checkInterfaces(
  schema: GraphQLSchema,
  specs: ReadonlyMap<string, FieldSpec>,
  coordinates: readonly string[],
): void {
  for (const coordinate of coordinates) {
    const [iface, field] = coordinate.split('.') as [string, string];
    const type = schema.getType(iface);
    if (!isInterfaceType(type)) continue;
    for (const impl of schema.getPossibleTypes(type)) {
      if (!specs.has(`${impl.name}.${field}`)) {
        throw new FieldsealSchemaError(
          `${impl.name}.${field}`,
          `implements ${coordinate}, which fieldseal protects: declare it on the object type too`,
        );
      }
    }
  }
}
