import type { FieldsealErrorCode } from '../errors.js';
import type { DataKeyCacheStats } from '../keys/data-key-cache.js';
import type { ProviderCallCounts } from '../kms/key-provider.js';

/**
 * Counters of one client. Only counts and names of fields and error codes: never a value,
 * a context value, a key or a key id.
 * @example
 * ```ts
 * const m = fs.metrics();
 * gauge('fieldseal_plaintext_left', m.plaintextReads['customers.ssn'] ?? 0);
 * ```
 */
export interface FieldsealMetrics {
  readonly encrypted: number;
  readonly decrypted: number;
  /** Failures by error code. */
  readonly failures: Readonly<Partial<Record<FieldsealErrorCode, number>>>;
  /** Legacy plaintext values returned by fields in migration, by `table.field`. */
  readonly plaintextReads: Readonly<Record<string, number>>;
  readonly cache: DataKeyCacheStats;
  /** Calls made to each provider, by provider id. */
  readonly providerCalls: Readonly<Record<string, Readonly<ProviderCallCounts>>>;
}

/** Mutable counters behind {@link FieldsealMetrics}. @internal */
export class MetricsRecorder {
  encrypted = 0;
  decrypted = 0;
  readonly failures: Partial<Record<FieldsealErrorCode, number>> = {};
  readonly plaintextReads: Record<string, number> = {};

  fail(code: FieldsealErrorCode): void {
    this.failures[code] = (this.failures[code] ?? 0) + 1;
  }

  plaintextRead(field: string): void {
    this.plaintextReads[field] = (this.plaintextReads[field] ?? 0) + 1;
  }
}
