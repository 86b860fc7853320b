import { getDirective } from '@graphql-tools/utils';
import {
  getNamedType,
  isInputObjectType,
  TypeInfo,
  typeFromAST,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLArgument,
  type GraphQLInputField,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';

/**
 * Whether an input field or argument is `@encrypted` or a `@lookup` (directive or
 * `extensions.fieldseal`): its value is a plaintext of an encrypted field.
 */
function isEncrypted(schema: GraphQLSchema, node: GraphQLArgument | GraphQLInputField): boolean {
  if (getDirective(schema, node, 'encrypted') !== undefined) return true;
  if (getDirective(schema, node, 'lookup') !== undefined) return true;
  const ext = (node.extensions as Record<string, unknown> | null | undefined)?.fieldseal;
  return typeof ext === 'object' && ext !== null && ('encrypted' in ext || 'lookup' in ext);
}

/** Whether a value of this input type can hold an `@encrypted` input field, at any depth. */
function reaches(schema: GraphQLSchema, type: GraphQLInputType, seen = new Set<string>()): boolean {
  const named = getNamedType(type);
  if (!isInputObjectType(named) || seen.has(named.name)) return false;
  seen.add(named.name);
  return Object.values(named.getFields()).some(
    (f) => isEncrypted(schema, f) || reaches(schema, f.type, seen),
  );
}

/**
 * The names of the variables of `document` whose values reach an `@encrypted` input field or
 * argument: by their declared type, or by where they are used. Coercion errors of these
 * variables echo their values (`Variable "$ssn" got invalid value "521-44-8790"; ...`): the
 * server plugins redact them, and anything else that logs raw variables or those errors
 * (request loggers, tracing, error reporters) must redact the same names.
 * @example
 * ```ts
 * const names = sensitiveVariables(schema, parse(query)); // Set { 'ssn', 'input' }
 * const safe = Object.fromEntries(
 *   Object.entries(variables).map(([k, v]) => [k, names.has(k) ? '[REDACTED]' : v]),
 * );
 * logger.info({ variables: safe });
 * ```
 */
export function sensitiveVariables(schema: GraphQLSchema, document: DocumentNode): Set<string> {
  const out = new Set<string>();
  const info = new TypeInfo(schema);
  // One flag per enclosing argument or input-object field: is any of them encrypted?
  const stack: boolean[] = [];
  const inside = (): boolean => stack.some(Boolean);
  visit(
    document,
    visitWithTypeInfo(info, {
      VariableDefinition(node) {
        const type = typeFromAST(schema, node.type);
        if (type !== undefined && reaches(schema, type as GraphQLInputType)) {
          out.add(node.variable.name.value);
        }
        return false;
      },
      Argument: {
        enter() {
          const arg = info.getArgument();
          stack.push(arg !== null && arg !== undefined && isEncrypted(schema, arg));
        },
        leave() {
          stack.pop();
        },
      },
      ObjectField: {
        enter(node) {
          const parent = info.getParentInputType();
          const named = parent === null ? undefined : getNamedType(parent);
          const f = isInputObjectType(named) ? named.getFields()[node.name.value] : undefined;
          stack.push(f !== undefined && isEncrypted(schema, f));
        },
        leave() {
          stack.pop();
        },
      },
      Variable(node) {
        if (inside()) out.add(node.name.value);
      },
    }),
  );
  return out;
}

const COERCION = /^Variable "\$([_A-Za-z][_0-9A-Za-z]*)" got invalid value/;

/**
 * The message of an error without the value it echoes, when it is a coercion error of a
 * sensitive variable (`names` `undefined`: every variable is sensitive); else `undefined`.
 */
export function redactedMessage(
  message: string,
  names: ReadonlySet<string> | undefined,
): string | undefined {
  const m = COERCION.exec(message);
  if (m === null || (names !== undefined && !names.has(m[1]!))) return undefined;
  return `Variable "$${m[1]!}" got invalid value [REDACTED]; the value reaches an encrypted field`;
}
