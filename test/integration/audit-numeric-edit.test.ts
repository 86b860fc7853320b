import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/audit-event.js';
import { postgresAuditSink } from '../../src/postgres/audit/postgres-audit-sink.js';
import { verifyAuditChain } from '../../src/postgres/audit/verify-audit-chain.js';
import { parseStoredDetail, storedNumberText } from '../../src/audit/stored-detail.js';
import type { SqlClient } from '../../src/postgres/index.js';
import { backends, rolledBack, type FreshDatabase } from './audit-backends.js';

/*
 * Issue #11, defect 6: a `detail` number rewritten in the database as text that parses to the
 * same double (`100` → `100.0000000000000001`) changes what SQL readers see, so verification
 * must report the row as modified: it verifies what is stored, not what it parses to.
 */

/** Numbers whose stored (jsonb) form differs from JSON.stringify's, and ordinary ones. */
const NUMBERS = {
  rows: 100,
  ratio: 1 / 7,
  big: 1e21,
  huge: 1.7976931348623157e308,
  tiny: 1.5e-7,
  smallest: 5e-324,
  negative: -0.125,
  maxSafe: 2 ** 53 - 1,
  zero: 0,
  nested: [1e-7, { x: -2e22 }],
} as const;

const event = (i: number): AuditEvent => ({
  at: new Date(Date.UTC(2025, 5, 1) + i * 1000),
  actor: 'svc-audit',
  operation: 'backfill-stop',
  tenant: 'acme',
  outcome: 'success',
  detail: { i, ...NUMBERS, label: 'rows 100.0 "quoted" 1e2' },
});

/** Same-double edits of row `seq`'s detail, as SQL expressions of the old detail. */
const SAME_DOUBLE_EDITS: Record<string, string> = {
  '100 → 100.0000000000000001': `jsonb_set(detail, '{rows}', '100.0000000000000001'::jsonb)`,
  '100 → 100.0': `jsonb_set(detail, '{rows}', '100.0'::jsonb)`,
  '1/7 with one more digit': `jsonb_set(detail, '{ratio}', to_jsonb(((detail->>'ratio') || '1')::numeric))`,
  '2^53-1 → 2^53-1 + 0.4': `jsonb_set(detail, '{maxSafe}', '9007199254740991.4'::jsonb)`,
  'nested 1e-7 → 0.00000010': `jsonb_set(detail, '{nested,0}', '0.00000010'::jsonb)`,
  '1e21 + 1': `jsonb_set(detail, '{big}', '1000000000000000000001'::jsonb)`,
  '0 → 0.0': `jsonb_set(detail, '{zero}', '0.0'::jsonb)`,
};

describe('stored detail numbers (unit)', () => {
  it('gives the plain decimal jsonb stores for every double', () => {
    expect(storedNumberText(1e21)).toBe('1000000000000000000000');
    expect(storedNumberText(1.5e-7)).toBe('0.00000015');
    expect(storedNumberText(-2e22)).toBe('-20000000000000000000000');
    expect(storedNumberText(1.2345e25)).toBe('12345000000000000000000000');
    expect(storedNumberText(-0)).toBe('0');
    expect(storedNumberText(100)).toBe('100');
    expect(parseStoredDetail('{"a": 100, "b": "100.0"}').exact).toBe(true);
    expect(parseStoredDetail('{"a": 100.0}')).toEqual({ value: { a: 100 }, exact: false });
    expect(parseStoredDetail('[1e2]').exact).toBe(false);
  });
});

for (const backend of backends) {
  describe(`audit verification of same-double detail edits on ${backend.name}`, () => {
    let db: FreshDatabase;
    let sql: SqlClient;
    const ROWS = 20;

    beforeAll(async () => {
      db = await backend.fresh();
      sql = db.sql;
      const sink = postgresAuditSink(sql);
      for (let i = 0; i < ROWS; i++) await sink.append(event(i));
    });
    afterAll(() => db.close());

    it('the untouched chain (numbers jsonb rewrites, such as 1e21 and 5e-324) verifies', async () => {
      const r = await verifyAuditChain(sql);
      expect(r).toMatchObject({ ok: true, rows: ROWS });
    });

    it('a rewrite to the very same stored number is no change and verifies', async () => {
      const r = await rolledBack(sql, async (tx) => {
        await tx.query(
          `UPDATE fieldseal_audit SET detail = jsonb_set(detail, '{rows}', '1e2'::jsonb) WHERE seq = 5`,
        );
        return verifyAuditChain(tx);
      });
      expect(r.ok).toBe(true);
    });

    for (const [what, expression] of Object.entries(SAME_DOUBLE_EDITS)) {
      it(`names the row as modified: ${what}`, async () => {
        for (const seq of [1, 7, ROWS]) {
          const r = await rolledBack(sql, async (tx) => {
            const { rows } = await tx.query<{ before: string; after: string }>(
              `WITH old AS (SELECT detail::text AS before FROM fieldseal_audit WHERE seq = $1)
               UPDATE fieldseal_audit SET detail = ${expression} WHERE seq = $1
               RETURNING (SELECT before FROM old) AS before, detail::text AS after`,
              [seq],
            );
            // SQL readers see a new value; JavaScript parses both to the same numbers.
            expect(rows[0]!.after).not.toBe(rows[0]!.before);
            expect(JSON.parse(rows[0]!.after)).toEqual(JSON.parse(rows[0]!.before));
            return verifyAuditChain(tx);
          });
          expect(r.ok, `${what} at row ${seq}`).toBe(false);
          expect(r.firstBroken).toMatchObject({ seq, reason: 'modified' });
          expect(r.rows).toBe(seq - 1);
        }
      });
    }
  });
}
