import { isFieldsealError } from '../../src/index.js';
import type { BlindIndexSource } from '../../src/integration/index.js';
import { schemaOf } from '../../src/integration/index.js';
import { RepositoryContractModel, type RepositoryContractRecord } from '../../src/testing/index.js';

/*
 * What the ORM integrations' suites share: reading a contract row back as a record, the
 * typed refusal of a call, and two values whose blind indexes collide.
 */

const plan = schemaOf(RepositoryContractModel);

/**
 * A contract row an ORM returned (encrypted columns decrypted) back to the record: index
 * columns dropped, NULL of an optional field absent, numeric and bytes as the record has them.
 */
export function contractRecordOf(row: Record<string, unknown>): RepositoryContractRecord {
  const out: Record<string, unknown> = {};
  for (const f of plan.fields) {
    const value = row[f.name];
    if (value === null && f.optional && !f.nullable) continue;
    out[f.name] = value;
  }
  out.big = BigInt(row.big as string);
  out.count = Number(row.count);
  out.raw = Buffer.from(row.raw as Uint8Array);
  out.binBytes = Buffer.from(out.binBytes as Uint8Array);
  out.textBytes = Buffer.from(out.textBytes as Uint8Array);
  return out as unknown as RepositoryContractRecord;
}

/** The fieldseal error a promise rejects with (anything else is rethrown; resolving fails). */
export async function refusal(
  promise: Promise<unknown>,
): Promise<{ code: string; field?: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    if (!isFieldsealError(err)) throw err;
    return { code: err.code, field: err.details.field, message: err.message };
  }
  throw new Error('expected a refusal, but the call succeeded');
}

/**
 * Two addresses whose 16-bit blind indexes of `field` collide in `tenant` (found among 2,000
 * candidates: the odds of none are below e^-30).
 */
export async function collidingValues(
  source: BlindIndexSource,
  tenant: string,
  field: string,
): Promise<[string, string]> {
  const candidates = Array.from({ length: 2000 }, (_, i) => `c${i}@example.com`);
  const seen = new Map<string, string>();
  for (let at = 0; at < candidates.length; at += 1000) {
    const chunk = candidates.slice(at, at + 1000);
    const written = await source.writeIndexes(chunk.map((value) => ({ tenant, field, value })));
    for (const [i, w] of written.entries()) {
      const index = Object.values(w)[0]!;
      const other = seen.get(index);
      if (other !== undefined) return [other, chunk[i]!];
      seen.set(index, chunk[i]!);
    }
  }
  throw new Error('no collision among 2,000 values: is the index 16 bits?');
}

/**
 * A value whose 16-bit blind index of `field` is the same in tenants `a` and `b` (about one
 * value in 65,536). Searched among at most 2,000,000: among 400,000 there was none with
 * probability e^-6.1 (0.2%), which failed a CI run; now e^-30. The search stops at the first.
 */
export async function crossTenantCollision(
  source: BlindIndexSource,
  a: string,
  b: string,
  field: string,
): Promise<string> {
  for (let at = 0; at < 2_000_000; at += 1000) {
    const values = Array.from({ length: 1000 }, (_, i) => `x${at + i}@example.com`);
    const [ia, ib] = await Promise.all(
      [a, b].map((tenant) =>
        source.writeIndexes(values.map((value) => ({ tenant, field, value }))),
      ),
    );
    const i = values.findIndex((_, j) => Object.values(ia![j]!)[0] === Object.values(ib![j]!)[0]);
    if (i >= 0) return values[i]!;
  }
  throw new Error('no cross-tenant collision among 2,000,000 values: is the index 16 bits?');
}
