import { defaultFieldResolver, type GraphQLFieldResolver, type GraphQLResolveInfo } from 'graphql';
import type { BlindIndexLookup } from '../../integration/index.js';
import { isFieldsealError } from '../../index.js';
import { ownData } from '../../integration/index.js';
import { modelContext } from './field-resolver.js';
import { decryptionError, forbiddenError, lookupError } from './graphql-errors.js';
import type { LookupArg, LookupSpec } from './lookup-spec.js';
import type { FieldsealGraphQLOptions } from './options.js';
import type { RequestState, RequestStates } from './request-state.js';

type Resolver = GraphQLFieldResolver<unknown, unknown>;
type Args = Record<string, unknown>;

/**
 * What a resolver receives in place of a `@lookup` argument: the index column and the index
 * values to match (`WHERE email_bidx_v1 = ANY($1)`, or a join on a lookup table's
 * identifier column). Never the plaintext: it cannot end up in a WHERE on the encrypted
 * column, nor in a log. The rows the resolver returns are re-checked after decryption.
 * @example
 * ```ts
 * const resolvers = {
 *   Query: {
 *     user: async (_: unknown, { email }: { email: FieldsealLookupValue }, ctx: { tenant: string }) =>
 *       (await sql.query(
 *         `SELECT * FROM users WHERE tenant_id = $1 AND "${email.column}" = ANY($2::text[])`,
 *         [ctx.tenant, email.indexes])).rows[0],
 *   },
 * };
 * ```
 */
export interface FieldsealLookupValue {
  readonly column: string;
  readonly indexes: readonly string[];
}

/** A refusal of the call (internal; it never holds a value). */
class LookupRefusal extends Error {
  constructor(
    readonly argument: string,
    readonly reason: string,
  ) {
    super(`lookup ${argument}: ${reason}`);
  }
}

/** A candidate that did not decrypt: the whole field fails (it may be the row asked for). */
class CandidateFailure extends Error {
  constructor(readonly reason: string) {
    super(`candidate: ${reason}`);
  }
}

interface Check {
  readonly arg: LookupArg;
  readonly tenant: string;
  readonly query: BlindIndexLookup;
}

const codeOf = (err: unknown, fallback: string): string =>
  isFieldsealError(err) ? err.code : fallback;

/**
 * Wrap a resolver with `@lookup` arguments: the caller's scopes are checked, each argument is
 * replaced by its blind indexes ({@link FieldsealLookupValue}) for the request's tenant, the
 * resolver runs, and every row it returns is re-checked: decrypted (one batch with the
 * request's other decryptions) and kept only when it belongs to the tenant and equals a
 * value asked for. An index collision is never returned; a candidate that does not decrypt
 * fails the field (`DECRYPTION_ERROR`), since it may be the row asked for.
 */
export function lookupResolver(
  spec: LookupSpec,
  inner: Resolver | undefined,
  options: FieldsealGraphQLOptions,
  states: RequestStates,
): Resolver {
  const resolve = inner ?? defaultFieldResolver;
  return async (source, args: Args, ctx, info) => {
    const state = states.of(ctx);
    for (const arg of spec.args) {
      if (arg.scopes.some((s) => !state.scopes.has(s))) return forbiddenError(spec.coordinate);
    }
    let next: Args;
    let checks: Check[];
    try {
      ({ next, checks } = await lookups(spec, args, ctx, info, options));
    } catch (err) {
      if (err instanceof LookupRefusal) {
        return lookupError(spec.coordinate, err.argument, err.reason);
      }
      return lookupError(spec.coordinate, '', 'ERR_UNSUPPORTED_VALUE');
    }
    const result: unknown = await resolve(source, next, ctx, info);
    if (checks.length === 0 || result === null || result === undefined) return result;
    if (result instanceof Error) return result;
    try {
      if (Array.isArray(result)) {
        const rows = await Promise.all(result as unknown[]);
        const keep = await Promise.all(rows.map((row) => matches(spec, row, checks, state)));
        return rows.filter((_, i) => keep[i]);
      }
      return (await matches(spec, result, checks, state)) ? result : null;
    } catch (err) {
      return decryptionError(
        spec.coordinate,
        err instanceof CandidateFailure ? err.reason : 'ERR_INVALID_CONTEXT',
      );
    }
  };
}

/** The arguments the resolver receives, and the re-check of each lookup. */
async function lookups(
  spec: LookupSpec,
  args: Args,
  ctx: unknown,
  info: GraphQLResolveInfo,
  options: FieldsealGraphQLOptions,
): Promise<{ next: Args; checks: Check[] }> {
  const holder = ownData(args, () => {
    throw new LookupRefusal('', 'ERR_UNSUPPORTED_VALUE');
  });
  const next: Args = { ...holder };
  const checks: Check[] = [];
  for (const arg of spec.args) {
    const raw = holder[arg.name];
    if (raw === undefined || raw === null) continue;
    const values = arg.list ? (Array.isArray(raw) ? (raw as unknown[]) : [raw]) : [raw];
    if (!values.every((v): v is string => typeof v === 'string')) {
      throw new LookupRefusal(arg.name, 'ERR_UNSUPPORTED_VALUE');
    }
    const tenant = tenantOf(arg, holder, ctx, info, options);
    let query: BlindIndexLookup;
    try {
      query = await arg.source.lookupIndexes(tenant, arg.model.field.name, values);
    } catch (err) {
      throw new LookupRefusal(arg.name, codeOf(err, 'ERR_UNSUPPORTED_VALUE'));
    }
    next[arg.name] = Object.freeze({
      column: query.column,
      indexes: Object.freeze([...query.indexes]),
    } satisfies FieldsealLookupValue);
    checks.push({ arg, tenant, query });
  }
  return { next, checks };
}

/** The tenant of a lookup: `options.lookupTenant`, else the arguments' tenant field. */
function tenantOf(
  arg: LookupArg,
  holder: Readonly<Args>,
  ctx: unknown,
  info: GraphQLResolveInfo,
  options: FieldsealGraphQLOptions,
): string {
  let tenant: unknown;
  if (typeof options.lookupTenant === 'function') {
    try {
      tenant = options.lookupTenant(holder, ctx, info);
    } catch {
      tenant = undefined;
    }
  } else {
    tenant = holder[arg.model.schema.tenant];
  }
  if (typeof tenant !== 'string' || tenant === '') {
    throw new LookupRefusal(arg.name, 'ERR_INVALID_CONTEXT');
  }
  return tenant;
}

/** Whether one returned row belongs to the tenant and equals a value of every lookup. */
async function matches(
  spec: LookupSpec,
  row: unknown,
  checks: readonly Check[],
  state: RequestState,
): Promise<boolean> {
  if (row === null || row === undefined) return false; // a null item of a list: not a row
  if (typeof row !== 'object') throw new CandidateFailure('ERR_INVALID_CONTEXT');
  const snap = ownData(row, () => {
    throw new CandidateFailure('ERR_UNSUPPORTED_VALUE');
  });
  for (const { arg, tenant, query } of checks) {
    const { schema, field } = arg.model;
    if (snap[schema.tenant] !== tenant) return false;
    const stored = snap[field.name];
    if (stored === null || stored === undefined) return false;
    let value: unknown = stored;
    if (spec.parents === 'stored') {
      if (typeof stored !== 'string' && !(stored instanceof Uint8Array)) {
        throw new CandidateFailure('ERR_MALFORMED_CIPHERTEXT');
      }
      // Fills the request's row cache: the row's own encrypted fields reuse this scope.
      const context = modelContext(arg.model, row, state);
      const outcome = await state.batcher.load({ stored, context });
      if (!outcome.ok) throw new CandidateFailure(outcome.reason);
      value = outcome.value;
    }
    if (!query.matches(value)) return false;
  }
  return true;
}
