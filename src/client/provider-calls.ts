import { isFieldsealError, ProviderUnavailableError } from '../errors.js';
import type { ProviderOperation } from '../metrics/metrics-sink.js';
import type { AuditTrail } from './audit-trail.js';
import type { MetricsRecorder } from './metrics.js';

/** The default bound of one key-provider call, retries included (`providerTimeoutMs`). */
export const DEFAULT_PROVIDER_TIMEOUT_MS = 10_000;

/**
 * `run()`, or `ERR_PROVIDER_UNAVAILABLE` once `timeoutMs` have passed without an answer: a
 * provider (a custom one, a hung connection) can never leave an operation pending forever. A
 * result that arrives after the deadline is disposed of (its key zeroed), never used.
 * @internal
 */
export async function withDeadline<T>(
  run: () => Promise<T>,
  timeoutMs: number,
  dispose: (result: T) => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let late = false;
  const call = Promise.resolve().then(run);
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      late = true;
      reject(
        new ProviderUnavailableError(
          `the key provider did not answer within ${timeoutMs} ms (providerTimeoutMs)`,
        ),
      );
    }, timeoutMs);
  });
  call.then(
    (result) => {
      if (late) dispose(result);
    },
    () => undefined,
  );
  try {
    return await Promise.race([call, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What a key-provider call is about: ids only, never key bytes. `keyId` and `version` are
 * known for key-store keys, absent for self-contained (embedded) data keys.
 * @internal
 */
export interface ProviderCallInfo {
  readonly operation: ProviderOperation;
  readonly providerId: string;
  readonly masterKeyId: string;
  readonly tenant: string;
  readonly keyId?: string;
  readonly version?: number;
}

/**
 * Runs one provider call and accounts for it: `run` makes the call; `dispose` releases its
 * result if the call cannot be kept (its audit record failed).
 * @internal
 */
export type ProviderCallObserver = <T>(
  info: ProviderCallInfo,
  run: () => Promise<T>,
  dispose: (result: T) => void,
) => Promise<T>;

/**
 * The observer of one client: every provider call is timed and counted (stats and metrics
 * sink) and, when the client has an audit trail, recorded as exactly one audit event with
 * its outcome and error code before its result is used. Provider calls only happen on
 * data-key cache misses, so none of this runs on the warm path.
 * @internal
 */
export function providerCallObserver(
  metrics: MetricsRecorder,
  audit: AuditTrail | undefined,
  timeoutMs: number = DEFAULT_PROVIDER_TIMEOUT_MS,
): ProviderCallObserver {
  return async <T>(
    info: ProviderCallInfo,
    run: () => Promise<T>,
    dispose: (result: T) => void,
  ): Promise<T> => {
    const started = performance.now();
    const measured = async (): Promise<T> => {
      try {
        const result = await withDeadline(run, timeoutMs, dispose);
        account(metrics, info, started, false, undefined);
        return result;
      } catch (err) {
        account(metrics, info, started, true, err);
        throw err;
      }
    };
    if (audit === undefined) return measured();
    const base = {
      operation: info.operation,
      tenant: info.tenant,
      ...(info.keyId === undefined ? {} : { keyId: info.keyId }),
      ...(info.version === undefined ? {} : { version: info.version }),
      providerId: info.providerId,
      masterKeyId: info.masterKeyId,
    };
    return audit.around(
      measured,
      () => ({ ...base, outcome: 'success' }),
      (errorCode) => ({
        ...base,
        outcome: 'failure',
        ...(errorCode === undefined ? {} : { errorCode }),
      }),
      {
        message:
          'the audit record of a key-provider call could not be written, so its result was discarded',
        dispose,
      },
    );
  };
}

function account(
  metrics: MetricsRecorder,
  info: ProviderCallInfo,
  started: number,
  failed: boolean,
  err: unknown,
): void {
  const seconds = (performance.now() - started) / 1000;
  metrics.providerCall({
    providerId: info.providerId,
    operation: info.operation,
    seconds,
    tenant: info.tenant,
    outcome: failed ? 'failure' : 'success',
    ...(isFieldsealError(err) ? { errorCode: err.code } : {}),
  });
}
