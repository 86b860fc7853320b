import type { AuditDetailValue } from './audit-event.js';

/*
 * The `detail` of a stored audit row, read as what the database holds rather than as what it
 * parses to. PostgreSQL's `jsonb` keeps numbers as exact decimals (`numeric`), while the chain
 * hashes a number as an IEEE 754 double: `100` and `100.0000000000000001` (or `100.0`) are
 * two different stored values that SQL readers see differently, yet parse to the same double
 * and would hash alike. The sink only ever writes `JSON.stringify` of a double, which `jsonb`
 * stores as the plain decimal of that text, so every number of a row the sink wrote has exactly
 * one stored form. A number in any other form was written around the sink: the row is modified.
 */

/** A number token of JSON text, or a string token (skipped, so digits inside strings are not numbers). */
const TOKENS = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/**
 * The plain decimal form `jsonb` stores for JavaScript's shortest round-trip text of a number
 * (`String(n)`): exponents written out (`1e+21` → `1000000000000000000000`, `1.5e-7` →
 * `0.00000015`), everything else as it is.
 * @example
 * ```ts
 * storedNumberText(1e21); // '1000000000000000000000'
 * storedNumberText(-0); // '0'
 * ```
 */
export function storedNumberText(n: number): string {
  const text = String(n === 0 ? 0 : n);
  const e = text.indexOf('e');
  if (e < 0) return text;
  const negative = text.startsWith('-');
  const mantissa = text.slice(negative ? 1 : 0, e);
  const exponent = Number(text.slice(e + 1));
  const point = mantissa.indexOf('.');
  const digits = mantissa.replace('.', '');
  const intDigits = (point < 0 ? mantissa.length : point) + exponent;
  let plain: string;
  if (intDigits <= 0) plain = `0.${'0'.repeat(-intDigits)}${digits}`;
  else if (intDigits >= digits.length) plain = digits + '0'.repeat(intDigits - digits.length);
  else plain = `${digits.slice(0, intDigits)}.${digits.slice(intDigits)}`;
  return negative ? `-${plain}` : plain;
}

/**
 * Parse a stored `detail` (the text PostgreSQL gives back for a `jsonb` value) and tell whether
 * every number in it is stored exactly as the audit sink writes the double it parses to.
 * `exact: false` means the stored value differs from every value an event can have, though it
 * may parse to one: verification reports the row as modified.
 * @example
 * ```ts
 * parseStoredDetail('{"rows": 100}'); // { value: { rows: 100 }, exact: true }
 * parseStoredDetail('{"rows": 100.0000000000000001}'); // { value: { rows: 100 }, exact: false }
 * ```
 */
export function parseStoredDetail(text: string): { value: AuditDetailValue; exact: boolean } {
  const value = JSON.parse(text) as AuditDetailValue;
  let exact = true;
  for (const [token] of text.matchAll(TOKENS)) {
    if (token.startsWith('"')) continue;
    if (storedNumberText(Number(token)) !== token) {
      exact = false;
      break;
    }
  }
  return { value, exact };
}
