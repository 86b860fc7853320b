import { AuditUnavailableError, isFieldsealError } from '../errors.js';
import type { AuditEvent, AuditSink } from './audit-event.js';

/**
 * An {@link AuditSink} that hands every event to `fn` (a log shipper, a queue, a test array).
 * `fn` may be synchronous or return a promise; the operation being audited waits for it. A
 * throw or rejection fails that operation with `ERR_AUDIT_UNAVAILABLE` (the original error as
 * `cause`; a fieldseal error passes through unchanged).
 * @example
 * ```ts
 * const events: AuditEvent[] = [];
 * const fs = createFieldseal({ ...options, audit: callbackAuditSink((e) => events.push(e)) });
 * const shipped = callbackAuditSink(async (e) => { await queue.send(JSON.stringify(e)); });
 * ```
 */
export function callbackAuditSink(fn: (event: AuditEvent) => void | Promise<void>): AuditSink {
  if (typeof fn !== 'function') {
    throw new TypeError(`callbackAuditSink needs a function (got ${typeof fn})`);
  }
  return {
    record: async (event) => {
      try {
        await fn(event);
      } catch (err) {
        if (isFieldsealError(err)) throw err;
        throw new AuditUnavailableError('the audit callback failed', { cause: err });
      }
    },
  };
}
