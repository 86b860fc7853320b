import {
  isAbstractType,
  Kind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import type { FieldsealRuntime } from './runtime.js';

/** The operation to run: the named one, or the only one. */
function operationOf(
  document: DocumentNode,
  operationName: string | null | undefined,
): OperationDefinitionNode | undefined {
  const ops = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (operationName === undefined || operationName === null) {
    return ops.length === 1 ? ops[0] : undefined;
  }
  return ops.find((o) => o.name?.value === operationName);
}

/**
 * The `Type.field` coordinates of `REJECT` fields the operation selects (through its
 * fragments too) that the caller's scopes do not grant, and of fields whose `@lookup`
 * arguments it passes without the scopes of the matched field (a lookup is never masked),
 * found by walking the selection with `TypeInfo` before any resolver runs. A field selected
 * on an interface or union counts for every possible type. `@include`/`@skip` are not
 * evaluated (a conditional field counts).
 */
export function deniedSelections(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  runtime: Pick<FieldsealRuntime, 'specs' | 'lookups'>,
  scopes: ReadonlySet<string>,
): string[] {
  const { specs, lookups } = runtime;
  const op = operationOf(document, operationName);
  if (op === undefined) return [];
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) {
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  }
  const denied = new Set<string>();
  const pending: (OperationDefinitionNode | FragmentDefinitionNode)[] = [op];
  const walked = new Set<string>();
  while (pending.length > 0) {
    const info = new TypeInfo(schema);
    visit(
      pending.pop()!,
      visitWithTypeInfo(info, {
        Field(node) {
          const parent = info.getParentType();
          if (parent === null || parent === undefined) return;
          const types = isAbstractType(parent) ? schema.getPossibleTypes(parent) : [parent];
          const passed = new Set((node.arguments ?? []).map((a) => a.name.value));
          for (const t of types) {
            const coordinate = `${t.name}.${node.name.value}`;
            const scope = specs.get(coordinate)?.scope;
            if (scope?.onDeny === 'REJECT' && !scopes.has(scope.scope)) denied.add(coordinate);
            const lookup = lookups.get(coordinate);
            const needs = lookup?.args.filter((a) => passed.has(a.name)).flatMap((a) => a.scopes);
            if (needs?.some((s) => !scopes.has(s)) === true) denied.add(coordinate);
          }
        },
        FragmentSpread(node) {
          const name = node.name.value;
          const f = fragments.get(name);
          if (f !== undefined && !walked.has(name)) {
            walked.add(name);
            pending.push(f);
          }
        },
      }),
    );
  }
  return [...denied];
}
