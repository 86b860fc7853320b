import type { ContractJson, RepositoryContractRecord } from './repository-contract-model.js';

/*
 * The records the repository contract writes, and what must never be found in raw storage.
 * Internal to the contract (not exported from `fieldseal/testing`).
 */

/** The marker every encrypted string, bytes and JSON plaintext of a contract record contains. */
export const CANARY = 'Kanarie7q';

/** Marks plaintext the contract writes straight into storage (never a canary). */
export const INJECTED = 'INJECTED-plain';

const pad = (i: number): string => String(i).padStart(3, '0');

/** Emails in several spellings that normalise alike (trim, lowercase, NFC). */
function email(i: number): string {
  const base = `${CANARY}.user${i % 7}@example.com`;
  switch (i % 3) {
    case 0:
      return base;
    case 1:
      return base.toUpperCase();
    default:
      return `  ${base.replace('user', 'User')}\t`;
  }
}

/** Phones (default normalisation: NFC only), some equal only after NFC, some null. */
function phone(i: number): string | null {
  if (i % 4 === 3) return null;
  const values = [
    `${CANARY}+1-555-0100`,
    `${CANARY}+1-555-0101`,
    `${CANARY} caf\u00e9`,
    `${CANARY} cafe\u0301`,
    `${CANARY}+1-555-0100 `,
  ];
  return values[i % values.length]!;
}

const BIN_NUMBERS = [31415.92653, Number.NaN, -0, Number.POSITIVE_INFINITY, -1e-300, 2 ** 53 + 2];
const TEXT_NUMBERS = [27182.81828, Number.NEGATIVE_INFINITY, 0, -1.7976931348623157e308, 0.1];

function json(canary: string, i: number): ContractJson {
  return { canary, n: [i, 1.5, -2e-9], nested: { ok: i % 2 === 0, text: `ünïcødé ✓ ${i}` } };
}

/**
 * Record `i` of `tenant`: its id is unique across tenants; every encrypted string, bytes and
 * JSON value holds {@link CANARY}, no plain value does; the plain `label` holds a marker of
 * its own (`PLAIN-<tenant>-<i>`). Values cycle through edge cases as `i` grows (NaN, -0,
 * ±Infinity, empty strings and bytes, nulls, absent optional fields), so 12 records cover them.
 */
export function contractRecord(tenant: string, i: number): RepositoryContractRecord {
  const canary = `${CANARY}-${tenant}-${i}`;
  return {
    tenantId: tenant,
    id: `${tenant}.r${pad(i)}`,
    label: `PLAIN-${tenant}-${i}`,
    count: i * 1.5 - 3,
    big: 2n ** 70n + BigInt(i),
    flag: i % 2 === 0,
    at: new Date(Date.UTC(2024, 0, 1 + i, 12, 30, 15, 250)),
    raw: Buffer.from([i & 0xff, 0, 255, 7]),
    meta: { tags: ['plain', String(i)] },
    note: i % 3 === 0 ? null : `plain note ${i}`,
    email: email(i),
    phone: phone(i),
    binString: `${canary} ü`,
    binNumber: BIN_NUMBERS[i % BIN_NUMBERS.length]!,
    binBigint: -(271828182845904523536n + BigInt(i)),
    binBoolean: i % 2 === 1,
    binDate: new Date(Date.UTC(1901, 2, 3, 4, 5, 6, 789) + i),
    binBytes: Buffer.concat([Buffer.from(canary), Buffer.from([0, 255, i & 0xff])]),
    binJson: json(canary, i),
    textString: i % 6 === 5 ? '' : `${canary} text`,
    textNumber: TEXT_NUMBERS[i % TEXT_NUMBERS.length]!,
    textBigint: 314159265358979323846n * BigInt(i + 1),
    textBoolean: i % 2 === 0,
    textDate: new Date(Date.UTC(2061, 6, 28, 23, 59, 58, 1) - i * 1000),
    textBytes: i % 6 === 4 ? Buffer.alloc(0) : Buffer.from(`${canary}-bytes`),
    textJson: json(`${canary}-text`, i),
    nullableString: i % 3 === 1 ? null : `${canary}-ssn`,
    nullableDate: i % 3 === 2 ? null : new Date(Date.UTC(1975, 4, 6 + i)),
    ...(i % 4 === 0 ? {} : { optionalJson: json(`${canary}-opt`, i) }),
    ...(i % 4 === 1 ? {} : { optionalBigint: 10n ** 30n + BigInt(i) }),
  };
}

/** Records `from` ..< `to` of `tenant`. */
export function contractRecords(
  tenant: string,
  from: number,
  to: number,
): RepositoryContractRecord[] {
  return Array.from({ length: to - from }, (_, k) => contractRecord(tenant, from + k));
}

/**
 * What the raw rows must not contain for `record`: {@link CANARY} (in any case) and the long
 * numbers and dates of its encrypted number, bigint and date fields.
 */
export function forbiddenTexts(record: RepositoryContractRecord): string[] {
  const texts = [CANARY, CANARY.toLowerCase(), CANARY.toUpperCase()];
  for (const n of [record.binNumber, record.textNumber]) {
    if (Number.isFinite(n) && Math.abs(n) >= 1000 && Math.abs(n) < 1e15) texts.push(String(n));
  }
  for (const b of [record.binBigint, record.textBigint, record.optionalBigint]) {
    if (b !== undefined) texts.push(String(b < 0n ? -b : b));
  }
  for (const d of [record.binDate, record.textDate, record.nullableDate]) {
    if (d !== null) texts.push(d.toISOString(), String(d.getTime()));
  }
  return texts;
}

/**
 * Every string in raw storage, flattened: strings, numbers, bigints and booleans as text,
 * dates as ISO and epoch milliseconds, byte strings as latin1 (ASCII survives), object keys
 * and values, array items, whatever the driver returns (rows, DynamoDB AttributeValue maps).
 */
export function storedText(value: unknown): string {
  const parts: string[] = [];
  const seen = new Set<object>();
  const walk = (v: unknown): void => {
    if (v === null || v === undefined) return;
    if (typeof v === 'string') parts.push(v);
    else if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') {
      parts.push(String(v));
    } else if (v instanceof Date) parts.push(v.toISOString(), String(v.getTime()));
    else if (v instanceof Uint8Array) parts.push(Buffer.from(v).toString('latin1'));
    else if (v instanceof ArrayBuffer) parts.push(Buffer.from(v).toString('latin1'));
    else if (typeof v === 'object') {
      if (seen.has(v)) return;
      seen.add(v);
      if (v instanceof Map) {
        for (const [k, x] of v) {
          walk(k);
          walk(x);
        }
      } else if (Symbol.iterator in v) {
        for (const x of v as Iterable<unknown>) walk(x);
      } else {
        for (const [k, x] of Object.entries(v)) {
          parts.push(k);
          walk(x);
        }
      }
    }
  };
  walk(value);
  return parts.join('\n');
}

/**
 * A record in a form `assert.deepStrictEqual` compares by value: keys sorted, absent and
 * `undefined` alike, byte strings by content whatever their class (`Buffer` / `Uint8Array`),
 * dates by time. NaN equals NaN; -0 differs from 0.
 */
export function comparable(record: unknown): unknown {
  if (record instanceof Uint8Array) return { bytes: Buffer.from(record).toString('hex') };
  if (record instanceof Date) return { date: record.getTime() };
  if (Array.isArray(record)) return record.map(comparable);
  if (typeof record === 'object' && record !== null) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(record).sort()) {
      const v = (record as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = comparable(v);
    }
    return out;
  }
  return record;
}

/** Records sorted by id, comparable. */
export function comparableSet(records: readonly RepositoryContractRecord[]): unknown[] {
  return [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(comparable);
}
