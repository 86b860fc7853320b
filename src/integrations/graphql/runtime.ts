import type { GraphQLSchema } from 'graphql';
import type { FieldSpec } from './field-spec.js';
import type { LookupSpec } from './lookup-spec.js';
import type { FieldsealGraphQLOptions } from './options.js';
import { RequestStates } from './request-state.js';

/** The key under which a transformed schema carries its runtime, in its `extensions`. */
const KEY = 'fieldsealRuntime';

/**
 * What a transformed schema owns: its options, the checked field settings by `Type.field`,
 * and its per-request states. The server plugins find it on the schema they execute.
 */
export class FieldsealRuntime {
  readonly options: FieldsealGraphQLOptions;
  readonly specs: ReadonlyMap<string, FieldSpec>;
  /** The checked `@lookup` arguments by `Type.field`, with the scopes each needs. */
  readonly lookups: ReadonlyMap<string, LookupSpec>;
  readonly states: RequestStates;

  constructor(
    options: FieldsealGraphQLOptions,
    specs: ReadonlyMap<string, FieldSpec>,
    lookups: ReadonlyMap<string, LookupSpec>,
  ) {
    this.options = options;
    this.specs = specs;
    this.lookups = lookups;
    this.states = new RequestStates(options);
  }

  /** The schema extensions that attach this runtime. */
  extension(): Record<string, unknown> {
    return { [KEY]: this };
  }
}

/** The runtime of a schema made by `fieldsealSchema`, or `undefined`. */
export function runtimeOf(schema: GraphQLSchema): FieldsealRuntime | undefined {
  const r = (schema.extensions as Record<string, unknown>)[KEY];
  return r instanceof FieldsealRuntime ? r : undefined;
}
