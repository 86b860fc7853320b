import type { GraphQLResolveInfo } from 'graphql';
import type { AnyModel, EncryptionContext, Fieldseal } from '../../index.js';
import type { BlindIndexSource } from '../../integration/index.js';

/**
 * What a caller without the scope gets: `MASK` (the mask value, `null` by default) or
 * `REJECT` (a `FORBIDDEN` error on that field).
 * @example
 * ```ts
 * const onDeny: FieldsealOnDeny = 'MASK';
 * ```
 */
export type FieldsealOnDeny = 'MASK' | 'REJECT';

/**
 * A field's fieldseal settings in a code-first schema: `extensions: { fieldseal: { ... } }` on
 * a `GraphQLObjectType` field (the same as the `@encrypted` / `@requiresScope` directives).
 * `encrypted: true` uses the options' `context` function; `{ model }` binds the field to a
 * model field (`field` defaults to the GraphQL field name).
 * @example
 * ```ts
 * const ssn = {
 *   type: GraphQLString,
 *   extensions: {
 *     fieldseal: {
 *       encrypted: { model: 'User' },
 *       requiresScope: { scope: 'pii:read_ssn', onDeny: 'MASK' },
 *     } satisfies FieldsealFieldExtension,
 *   },
 * };
 * ```
 */
export interface FieldsealFieldExtension {
  /**
   * On an argument: match it against a blind-indexed model field (`@lookup`); the resolver
   * receives the field's blind indexes instead of the value, and its rows are re-checked.
   */
  readonly lookup?: { readonly model: string; readonly field?: string };
  readonly encrypted?:
    true | { readonly model?: string; readonly field?: string; readonly allowNonNull?: boolean };
  readonly requiresScope?: {
    readonly scope: string;
    readonly onDeny?: FieldsealOnDeny;
    readonly mask?: string;
    readonly allowNonNull?: boolean;
  };
}

/**
 * The encryption context of a field not bound to a model, from the resolver's arguments.
 * @example
 * ```ts
 * const context: FieldsealContextFunction = (parent) => ({
 *   tenant: String((parent as { tenant_id: string }).tenant_id),
 *   table: 'notes', field: 'body', record: String((parent as { id: string }).id),
 * });
 * ```
 */
export type FieldsealContextFunction = (
  parent: unknown,
  args: Readonly<Record<string, unknown>>,
  ctx: unknown,
  info: GraphQLResolveInfo,
) => EncryptionContext;

/**
 * Which `@encrypted` input an {@link FieldsealInputContextFunction} is asked about.
 * @example
 * ```ts
 * const input: FieldsealInputRef = { input: 'UserInput.ssn', path: 'input[0].ssn', model: 'User' };
 * ```
 */
export interface FieldsealInputRef {
  /** `Input.field`, or `Type.field(arg:)` for an argument. */
  readonly input: string;
  /** Where the value is in the arguments: `input[0].ssn`, `ssn`. */
  readonly path: string;
  /** The model of `@encrypted(model: ...)`, or `undefined` without one. */
  readonly model: string | undefined;
}

/**
 * The record an `@encrypted` input belongs to, when the object holding it (the input object,
 * or the arguments of a scalar argument) does not carry the model's tenant and key fields,
 * and for `@encrypted` inputs without a model (which must then also return `table` and
 * `field`: the full encryption context). It receives the plain arguments; return the tenant
 * and key of the record the value is written to, never another one. Throwing refuses the
 * call (`ENCRYPTION_ERROR`, `ERR_INVALID_CONTEXT`).
 * @example
 * ```ts
 * const inputContext: FieldsealInputContextFunction = (args, ctx) => ({
 *   tenant: (ctx as { tenant: string }).tenant,
 *   record: String(args.id),
 * });
 * ```
 */
export type FieldsealInputContextFunction = (
  args: Readonly<Record<string, unknown>>,
  ctx: unknown,
  info: GraphQLResolveInfo,
  input: FieldsealInputRef,
) => {
  readonly tenant: string;
  readonly record: string | readonly string[];
  readonly table?: string;
  readonly field?: string;
};

/**
 * A mask computed without decrypting, from the parent's own plain data (a snapshot: the
 * parent's own enumerable data properties, read once).
 * @example
 * ```ts
 * const ssnMask: FieldsealMask = (parent) => `***-**-${String(parent.ssn_last4)}`;
 * ```
 */
export type FieldsealMask = (parent: Readonly<Record<string, unknown>>) => unknown;

/**
 * Options of {@link fieldsealSchema} and the server plugins.
 * @example
 * ```ts
 * const options: FieldsealGraphQLOptions = {
 *   fs,
 *   models: { User },
 *   scopes: (ctx) => (ctx as { scopes: string[] }).scopes,
 *   masks: { 'User.ssn': (parent) => `***-**-${String(parent.ssn_last4)}` },
 * };
 * ```
 */
export interface FieldsealGraphQLOptions {
  /** The client that decrypts (it must be created with the models named here). */
  readonly fs: Fieldseal;
  /** Models by the name `@encrypted(model: "...")` uses. */
  readonly models?: Readonly<Record<string, AnyModel>>;
  /** The context of `@encrypted` fields not bound to a model. */
  readonly context?: FieldsealContextFunction;
  /**
   * The record of `@encrypted` inputs whose holder does not carry the model's tenant and key
   * fields, and of `@encrypted` inputs without a model. Without it such a call is refused.
   */
  readonly inputContext?: FieldsealInputContextFunction;
  /**
   * The blind indexes of each model with `@lookup` arguments or blind-indexed `@encrypted`
   * inputs, by model name: a repository (`createPostgresRepository` implements
   * `BlindIndexSource`). Writes get the index columns next to the envelope.
   */
  readonly blindIndexes?: Readonly<Record<string, BlindIndexSource>>;
  /**
   * The tenant of a `@lookup` (from the authenticated request, typically); without it the
   * arguments must carry the model's tenant field. Throwing refuses the lookup.
   */
  readonly lookupTenant?: (
    args: Readonly<Record<string, unknown>>,
    ctx: unknown,
    info: GraphQLResolveInfo,
  ) => string;
  /** The request's scopes, read once per request (required when any field needs a scope). */
  readonly scopes?: (ctx: unknown) => Iterable<string>;
  /** Masks computed from plain columns, by `Type.field` (a `@requiresScope` with `MASK`). */
  readonly masks?: Readonly<Record<string, FieldsealMask>>;
  /**
   * What the resolvers of each object type return: `'stored'` rows (ciphertext, the default)
   * or records a fieldseal repository already `'decrypted'` (nothing is decrypted again;
   * scopes still apply).
   */
  readonly parents?: Readonly<Record<string, 'stored' | 'decrypted'>>;
  /**
   * Refuse a whole operation that selects a `REJECT` field the caller lacks the scope for,
   * before any resolver runs (the server plugins do it; `@include`/`@skip` are not evaluated,
   * so a conditionally selected field counts as selected). Default `false`: only that field
   * is an error.
   */
  readonly rejectDeniedOperations?: boolean;
}
