import type { AuditEvent } from './audit-event.js';

/** Deepest nesting of `detail` arrays and objects (also stops cyclic structures). */
export const MAX_DETAIL_DEPTH = 16;
/** Largest `detail`, as JSON text in UTF-16 code units: detail holds facts, not payloads. */
export const MAX_DETAIL_LENGTH = 16_384;

// PostgreSQL `timestamptz` and ISO-8601 without a sign: years 0001 to 9999.
const MIN_TIME = -62_135_596_800_000; // 0001-01-01T00:00:00.000Z
const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * A string PostgreSQL stores and gives back unchanged: well-formed UTF-16 (no lone surrogate,
 * which UTF-8 cannot carry) and no U+0000 (refused by `text` and `jsonb`).
 */
function checkString(s: string, what: string): void {
  if (!s.isWellFormed()) throw new TypeError(`audit event ${what} contains a lone surrogate`);
  if (s.includes('\u0000')) throw new TypeError(`audit event ${what} contains U+0000`);
}

function checkOptionalString(v: unknown, what: string): void {
  if (v === undefined) return;
  if (typeof v !== 'string') throw new TypeError(`audit event ${what} must be a string`);
  checkString(v, what);
}

function checkDetailValue(v: unknown, path: string, depth: number): void {
  if (v === null || typeof v === 'boolean') return;
  if (typeof v === 'string') return checkString(v, path);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError(`audit event ${path} must be a finite number`);
    return;
  }
  if (typeof v !== 'object') {
    throw new TypeError(`audit event ${path} must be JSON (got ${typeof v})`);
  }
  if (depth >= MAX_DETAIL_DEPTH) {
    throw new TypeError(`audit event ${path} is nested deeper than ${MAX_DETAIL_DEPTH} levels`);
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      if (!(i in v)) throw new TypeError(`audit event ${path}[${i}] is a hole`);
      checkDetailValue(v[i] as unknown, `${path}[${i}]`, depth + 1);
    }
    return;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    throw new TypeError(`audit event ${path} must be a plain object, array or JSON scalar`);
  }
  for (const [k, item] of Object.entries(v)) {
    checkString(k, `${path} key`);
    checkDetailValue(item, `${path}.${k}`, depth + 1);
  }
}

/**
 * Check an audit event before it is hashed and stored, so what is read back hashes to the
 * same bytes: a valid `at` in years 1–9999, strings PostgreSQL keeps as they are, a safe
 * integer `version`, and a `detail` of plain JSON (finite numbers, no `undefined`, `Date`,
 * class instance, hole or cycle) of at most {@link MAX_DETAIL_LENGTH} characters.
 * @throws TypeError / RangeError naming the field (never its content).
 *
 * @example
 * ```ts
 * validateAuditEvent(event); // before hashing, so what is read back hashes to the same bytes
 * ```
 */
export function validateAuditEvent(event: AuditEvent): void {
  if (typeof event !== 'object' || event === null) {
    throw new TypeError('an audit event must be an object');
  }
  if (!(event.at instanceof Date) || Number.isNaN(event.at.getTime())) {
    throw new TypeError('audit event at must be a valid Date');
  }
  const t = event.at.getTime();
  if (t < MIN_TIME || t > MAX_TIME) throw new RangeError('audit event at must be in years 1–9999');
  if (typeof event.actor !== 'string') throw new TypeError('audit event actor must be a string');
  checkString(event.actor, 'actor');
  if (typeof event.operation !== 'string' || (event.operation as string) === '') {
    throw new TypeError('audit event operation must be a non-empty string');
  }
  checkString(event.operation, 'operation');
  if (event.outcome !== 'success' && event.outcome !== 'failure') {
    throw new TypeError("audit event outcome must be 'success' or 'failure'");
  }
  checkOptionalString(event.tenant, 'tenant');
  checkOptionalString(event.keyId, 'keyId');
  checkOptionalString(event.providerId, 'providerId');
  checkOptionalString(event.masterKeyId, 'masterKeyId');
  checkOptionalString(event.errorCode, 'errorCode');
  if (event.version !== undefined && !Number.isSafeInteger(event.version)) {
    throw new RangeError('audit event version must be a safe integer');
  }
  if (event.detail !== undefined) {
    if (typeof event.detail !== 'object' || event.detail === null || Array.isArray(event.detail)) {
      throw new TypeError('audit event detail must be an object');
    }
    checkDetailValue(event.detail, 'detail', 0);
    if (JSON.stringify(event.detail).length > MAX_DETAIL_LENGTH) {
      throw new RangeError(`audit event detail is longer than ${MAX_DETAIL_LENGTH} characters`);
    }
  }
}
