import { isFieldsealError } from '../errors.js';
import type { ProviderOperation } from '../metrics/metrics-sink.js';
import type { AuditTrail } from './audit-trail.js';
import type { MetricsRecorder } from './metrics.js';

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
): ProviderCallObserver {
  return async <T>(
    info: ProviderCallInfo,
    run: () => Promise<T>,
    dispose: (result: T) => void,
  ): Promise<T> => {
    const started = performance.now();
    const measured = async (): Promise<T> => {
      try {
        const result = await run();
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
