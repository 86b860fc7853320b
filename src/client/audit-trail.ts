import type {
  AuditDetailValue,
  AuditEvent,
  AuditOperation,
  AuditSink,
} from '../audit/audit-event.js';
import { validateAuditEvent } from '../audit/audit-event-validation.js';
import { AuditUnavailableError, isFieldsealError } from '../errors.js';

/**
 * An event a module asks the client to record: everything but `at` and `actor`, which the
 * client fills in (the client's configured actor; now).
 * @example
 * ```ts
 * const input: AuditRecordInput = {
 *   operation: 'backfill-start', tenant: 'acme', outcome: 'success',
 *   detail: { table: 'customers', fields: ['ssn', 'email'] },
 * };
 * await fs.recordAudit(input);
 * ```
 */
export type AuditRecordInput = Omit<AuditEvent, 'at' | 'actor'>;

const OPERATIONS: ReadonlySet<string> = new Set<AuditOperation>([
  'generate',
  'unwrap',
  'wrap',
  'provision',
  'rotate',
  'rewrap',
  'retire',
  'reinstate',
  'shred',
  'backfill-start',
  'backfill-stop',
  'key-events-lost',
  'key-events-restored',
]);

/**
 * The client's audit trail: its sinks and actor. Every event is frozen, stamped and handed to
 * every sink, and awaited: when any sink fails, the operation it describes fails with
 * `ERR_AUDIT_UNAVAILABLE` (the sink's error as cause), so no key use goes unaudited. Events
 * carry ids, counts and error codes only; `detail` is checked to hold plain JSON data, so a
 * Buffer (key bytes, wrapped keys) can never be handed to a sink.
 * @internal
 */
export class AuditTrail {
  readonly #sinks: readonly AuditSink[];
  readonly #actor: string;

  private constructor(sinks: readonly AuditSink[], actor: string) {
    this.#sinks = sinks;
    this.#actor = actor;
  }

  /**
   * The trail of a client's `audit` / `actor` options, or `undefined` when `audit` is not set.
   * @throws TypeError when a sink has no `record` method or `actor` is not a non-empty string.
   */
  static from(
    audit: AuditSink | readonly AuditSink[] | undefined,
    actor: unknown,
  ): AuditTrail | undefined {
    if (audit === undefined || audit === null) return undefined;
    const sinks: readonly AuditSink[] = Array.isArray(audit)
      ? [...(audit as readonly AuditSink[])]
      : [audit as AuditSink];
    sinks.forEach((s, i) => {
      if (typeof (s as Partial<AuditSink> | null)?.record !== 'function') {
        throw new TypeError(`audit[${i}]: expected an AuditSink with a record(event) method`);
      }
    });
    if (typeof actor !== 'string' || actor.trim().length === 0) {
      throw new TypeError(
        'actor: expected a non-empty string (who this client acts for) when audit is set',
      );
    }
    return new AuditTrail(Object.freeze(sinks), actor);
  }

  /**
   * Check an event as {@link AuditTrail.record} would, without recording it (for clients
   * without an audit sink, so that a malformed event fails the same way everywhere).
   * @throws TypeError for an unknown operation or outcome, or a `detail` that is not JSON data.
   */
  static check(input: AuditRecordInput): void {
    freezeEvent(input, 'check', new Date());
  }

  /** The actor stamped on every event. */
  get actor(): string {
    return this.#actor;
  }

  /**
   * Record one event in every sink, concurrently, and wait for all of them.
   * @param failureMessage - the message of the `AuditUnavailableError` thrown when a sink
   *   fails (it must say what happened to the operation).
   * @throws AuditUnavailableError when any sink fails (the first failure as cause).
   */
  async record(input: AuditRecordInput, failureMessage: string, at = new Date()): Promise<void> {
    const event = freezeEvent(input, this.#actor, at);
    const results = await Promise.allSettled(this.#sinks.map((s) => s.record(event)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      throw new AuditUnavailableError(failureMessage, { cause: failed.reason });
    }
  }

  /**
   * Record the outcome of `run` as an event built by `describe` (success) or `describeFailure`
   * (failure, with the error's code), then return what `run` returned or rethrow its error.
   * When recording a success fails, `AuditUnavailableError` is thrown with
   * `unrecordedSuccess.message`, after `unrecordedSuccess.dispose` released what `run`
   * returned (a key that must not be used unaudited).
   */
  async around<T>(
    run: () => Promise<T>,
    describe: (result: T) => AuditRecordInput,
    describeFailure: (errorCode: string | undefined) => AuditRecordInput,
    unrecordedSuccess: { readonly message: string; readonly dispose?: (result: T) => void },
  ): Promise<T> {
    let result: T;
    try {
      result = await run();
    } catch (err) {
      const code = isFieldsealError(err) ? err.code : undefined;
      await this.record(
        describeFailure(code),
        'the operation failed and its audit record could not be written',
      );
      throw err;
    }
    try {
      await this.record(describe(result), unrecordedSuccess.message);
    } catch (err) {
      unrecordedSuccess.dispose?.(result);
      throw err;
    }
    return result;
  }
}

function freezeEvent(input: AuditRecordInput, actor: string, at: Date): AuditEvent {
  if (typeof input !== 'object' || input === null) {
    throw new TypeError('audit event: expected an object');
  }
  if (!OPERATIONS.has(input.operation)) {
    throw new TypeError(`operation: expected an AuditOperation, got ${String(input.operation)}`);
  }
  if (input.outcome !== 'success' && input.outcome !== 'failure') {
    throw new TypeError(`outcome: expected 'success' or 'failure', got ${String(input.outcome)}`);
  }
  const event: Record<string, unknown> = { at, actor, operation: input.operation };
  for (const name of ['tenant', 'keyId', 'providerId', 'masterKeyId', 'errorCode'] as const) {
    const v = input[name];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw new TypeError(`${name}: expected a string`);
    event[name] = v;
  }
  if (input.version !== undefined) {
    if (!Number.isInteger(input.version) || input.version < 1) {
      throw new TypeError('version: expected a positive integer');
    }
    event.version = input.version;
  }
  event.outcome = input.outcome;
  if (input.detail !== undefined) event.detail = input.detail;
  // What every sink (the PostgreSQL hash chain first) will accept: checked here, before any
  // sink runs, so a malformed event fails the same way whatever the sinks.
  validateAuditEvent(event as unknown as AuditEvent);
  if (input.detail !== undefined) event.detail = copyDetail(input.detail);
  return Object.freeze(event) as unknown as AuditEvent;
}

/** A deep frozen copy of `detail` (already validated as plain JSON data). */
function copyDetail(value: unknown): AuditDetailValue {
  if (value === null || typeof value !== 'object') return value as AuditDetailValue;
  if (Array.isArray(value)) return Object.freeze(value.map(copyDetail));
  const out: Record<string, AuditDetailValue> = {};
  for (const [k, v] of Object.entries(value)) out[k] = copyDetail(v);
  return Object.freeze(out);
}
