import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  postgresAuditSink,
  type PostgresAuditSink,
} from '../../src/postgres/audit/postgres-audit-sink.js';
import type {
  AuditBreak,
  AuditVerifyProgress,
} from '../../src/postgres/audit/audit-verification.js';
import { verifyAuditChain } from '../../src/postgres/audit/verify-audit-chain.js';
import type { AuditHead } from '../../src/audit/chain-encoding.js';
import type { SqlClient } from '../../src/postgres/index.js';
import {
  backends,
  prng,
  rolledBack,
  syntheticEvent,
  type FreshDatabase,
} from './audit-backends.js';

/**
 * Issue #4's acceptance test: modify, delete or reorder any one row of a 10,000-row chain and
 * verification names exactly that row (docs/audit.md#what-verify-reports). Every tampering
 * runs in a transaction that is rolled back, so each case sees the intact chain plus one edit.
 */
const N = 10_000;
const SEED = Number(process.env.FIELDSEAL_AUDIT_SEED ?? Date.now() % 1_000_000);
console.log(`audit tamper positions: FIELDSEAL_AUDIT_SEED=${SEED}`);

/** Edits of one row's stored columns; every one must be reported as `modified` at that row. */
const MODIFICATIONS: Record<string, string> = {
  actor: "actor = actor || 'x'",
  at: "at = at + interval '1 microsecond'",
  'at out of range': "at = 'infinity'",
  operation: "operation = 'shred'",
  tenant: 'tenant = NULL',
  version: 'version = version + 1',
  outcome: "outcome = CASE outcome WHEN 'success' THEN 'failure' ELSE 'success' END",
  'error code': "error_code = 'ERR_NONE'",
  detail: "detail = jsonb_set(detail, '{i}', '-1')",
  // Issue #11 (6): stored text that parses to the same double (`5` → `5.000…`) is an edit.
  'detail number, same double':
    "detail = jsonb_set(detail, '{i}', to_jsonb((detail->>'i')::numeric(30,20)))",
  'detail key order only (not a change)': "detail = detail || '{}'::jsonb",
  hash: 'hash = sha256(hash)',
  prev_hash: 'prev_hash = sha256(prev_hash)',
};

for (const backend of backends) {
  describe(`audit chain tampering, 10,000 rows, on ${backend.name}`, () => {
    let db: FreshDatabase;
    let sql: SqlClient;
    let sink: PostgresAuditSink;
    let head: AuditHead;
    const rand = prng(SEED + (backend.server ? 1 : 0));
    /** First row, last row, and random rows in between. */
    const positions = (count: number) => [
      1,
      N,
      ...Array.from({ length: count }, () => 2 + rand(N - 2)),
    ];

    beforeAll(async () => {
      db = await backend.fresh();
      sql = db.sql;
      sink = postgresAuditSink(sql);
      for (let i = 0; i < 10; i++) await sink.append(syntheticEvent(i)); // one by one
      const rest = Array.from({ length: N - 10 }, (_, i) => syntheticEvent(i + 10));
      const t = performance.now();
      for (let i = 0; i < rest.length; i += 2_500)
        head = await sink.appendMany(rest.slice(i, i + 2_500));
      console.log(
        `${backend.name}: appended ${N} rows in ${(performance.now() - t).toFixed(0)} ms`,
      );
      expect(head.seq).toBe(N);
    });
    afterAll(() => db.close());

    const verifyWith = (tamper: (tx: SqlClient) => Promise<unknown>, anchors: AuditHead[] = []) =>
      rolledBack(sql, async (tx) => {
        await tamper(tx);
        return verifyAuditChain(tx, { anchors });
      });
    const expectBreak = (
      r: { ok: boolean; rows: number; firstBroken?: AuditBreak },
      expected: Partial<AuditBreak> & { seq: number },
    ) => {
      expect(r.ok).toBe(false);
      expect(r.firstBroken).toMatchObject(expected);
      expect(r.rows).toBe(expected.seq - 1); // everything before the named row verified
    };

    it('the intact chain verifies, fast, with progress per page', async () => {
      const progress: AuditVerifyProgress[] = [];
      const t = performance.now();
      const r = await verifyAuditChain(sql, {
        pageSize: 1_000,
        onProgress: (p) => progress.push(p),
      });
      const ms = performance.now() - t;
      console.log(`${backend.name}: verified ${N} rows in ${ms.toFixed(0)} ms`);
      expect(r).toEqual({ ok: true, rows: N, head });
      expect(progress.length).toBeGreaterThanOrEqual(10);
      expect(progress.at(-1)).toEqual({ rows: N, seq: N, headSeq: N });
      expect(progress.map((p) => p.seq)).toEqual(
        [...progress.map((p) => p.seq)].sort((a, b) => a - b),
      );
      expect(ms).toBeLessThan(10_000);
    });

    it('modifying any column of one row names that row as modified', async () => {
      const pos = positions(Object.keys(MODIFICATIONS).length);
      let i = 0;
      for (const [what, set] of Object.entries(MODIFICATIONS)) {
        const seq = pos[i++ % pos.length]!;
        const r = await verifyWith((tx) =>
          tx.query(`UPDATE fieldseal_audit SET ${set} WHERE seq = $1`, [seq]),
        );
        if (what.startsWith('detail key order')) {
          expect(r.ok, what).toBe(true); // jsonb rewrites the same value: nothing changed
          continue;
        }
        expect(r.firstBroken, `${what} of row ${seq}`).toMatchObject({ seq, reason: 'modified' });
        expect(r.rows).toBe(seq - 1);
      }
    });

    it('deleting one row names the missing seq', async () => {
      for (const seq of positions(4)) {
        const r = await verifyWith((tx) =>
          tx.query('DELETE FROM fieldseal_audit WHERE seq = $1', [seq]),
        );
        expectBreak(r, { seq, reason: 'missing' });
      }
    });

    it('deleting the last row and rewinding the head row is invisible without an anchor, named with one', async () => {
      const rewind = async (tx: SqlClient) => {
        const { rows } = await tx.query<{ hash: string }>(
          "SELECT encode(hash, 'hex') AS hash FROM fieldseal_audit WHERE seq = $1",
          [N - 1],
        );
        await tx.query('DELETE FROM fieldseal_audit WHERE seq = $1', [N]);
        await tx.query("UPDATE fieldseal_audit_head SET seq = $1, hash = decode($2, 'hex')", [
          N - 1,
          rows[0]!.hash,
        ]);
      };
      expect((await verifyWith(rewind)).ok).toBe(true); // documented: anchor the head
      expectBreak(await verifyWith(rewind, [head]), { seq: N, reason: 'missing' });
    });

    it('reordering (swapping one row with another) names the first displaced row and where it came from', async () => {
      const candidates: [number, number][] = [
        [1, 2 + rand(N - 2)],
        [N, 2 + rand(N - 3)],
        [1, 2],
        [N - 1, N],
        ...Array.from({ length: 4 }, (): [number, number] => {
          const a = 2 + rand(N - 3);
          return [a, rand(2) === 0 ? a + 1 : 2 + rand(N - 3)];
        }),
      ];
      for (const [a, b] of candidates.filter(([x, y]) => x !== y)) {
        const r = await verifyWith(async (tx) => {
          await tx.query('UPDATE fieldseal_audit SET seq = 9000000000000000000 WHERE seq = $1', [
            a,
          ]);
          await tx.query('UPDATE fieldseal_audit SET seq = $1 WHERE seq = $2', [a, b]);
          await tx.query('UPDATE fieldseal_audit SET seq = $1 WHERE seq = 9000000000000000000', [
            b,
          ]);
        });
        const [lo, hi] = a < b ? [a, b] : [b, a];
        expectBreak(r, { seq: lo, reason: 'reordered', appendedAs: hi });
      }
    });

    it('an appender that bypasses the sink (row after the head) is named', async () => {
      const r = await verifyWith((tx) =>
        tx.query(
          `INSERT INTO fieldseal_audit SELECT $1, at, actor, operation, tenant, key_id, version,
             provider_id, master_key_id, outcome, error_code, detail, hash, hash
           FROM fieldseal_audit WHERE seq = $2`,
          [N + 1, N],
        ),
      );
      expect(r.firstBroken).toMatchObject({ seq: N + 1, reason: 'head-mismatch' });
    });
  });
}
