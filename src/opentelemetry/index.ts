/**
 * fieldseal/opentelemetry: fieldseal's metrics as OpenTelemetry instruments on the
 * `fieldseal` meter. Needs `@opentelemetry/api` (an optional peer dependency: the core of
 * fieldseal never imports it); does nothing until the application installs an SDK.
 *
 * @example
 * ```ts
 * import { openTelemetryMetrics } from 'fieldseal/opentelemetry';
 * const fs = createFieldseal({ ...options, telemetry: openTelemetryMetrics() });
 * ```
 * @module
 */
export {
  OpenTelemetryMetrics,
  openTelemetryMetrics,
  type OpenTelemetryMetricsOptions,
} from './open-telemetry-metrics.js';
export { FIELDSEAL_ATTRIBUTES, FIELDSEAL_INSTRUMENTS } from './names.js';
