import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/audit-event.js';
import { AUDIT_GENESIS_HASH, encodeChainRecord } from '../../src/audit/chain-encoding.js';
import {
  AUDIT_ROW_COLUMNS,
  chainRecordOfRow,
  type AuditRow,
} from '../../src/postgres/audit/audit-rows.js';
import { postgresAuditSink } from '../../src/postgres/audit/postgres-audit-sink.js';
import { verifyAuditChain } from '../../src/postgres/audit/verify-audit-chain.js';
import { KeyNotConfiguredError } from '../../src/errors.js';
import { fromPGlite, type SqlClient } from '../../src/postgres/index.js';
import { SecretKey, type SecretSource } from '../../src/secrets/secret-source.js';
import {
  VECTOR_EVENTS,
  VECTOR_HASHES,
  VECTOR_KEYED_HASHES,
  VECTOR_KEY_BYTES,
} from '../unit/audit-chain-vectors.js';
import { backends, rolledBack, syntheticEvent, type FreshDatabase } from './audit-backends.js';
import { emptyPGlite } from './pg-env.js';

const storedHashes = async (sql: SqlClient) =>
  (
    await sql.query<{ hash: string }>(
      "SELECT encode(hash, 'hex') AS hash FROM fieldseal_audit ORDER BY seq",
    )
  ).rows.map((r) => r.hash);

/** An attacker without the key who knows the format: edit a row and recompute its SHA-256. */
async function rewriteWithRecomputedHashes(tx: SqlClient, fromSeq: number): Promise<void> {
  const { rows } = await tx.query<AuditRow>(
    `SELECT ${AUDIT_ROW_COLUMNS} FROM fieldseal_audit WHERE seq >= $1 ORDER BY fieldseal_audit.seq`,
    [fromSeq],
  );
  let prev: string | undefined;
  for (const row of rows) {
    const { record } = chainRecordOfRow(row);
    const edited = {
      ...record,
      actor: record.seq === fromSeq ? 'someone-else' : record.actor,
      prevHash: prev ?? record.prevHash,
    };
    const hash = createHash('sha256').update(encodeChainRecord(edited)).digest('hex');
    await tx.query(
      `UPDATE fieldseal_audit SET actor = $2, prev_hash = decode($3, 'hex'), hash = decode($4, 'hex')
       WHERE seq = $1`,
      [record.seq, edited.actor, edited.prevHash, hash],
    );
    await tx.query("UPDATE fieldseal_audit_head SET seq = $1, hash = decode($2, 'hex')", [
      record.seq,
      hash,
    ]);
    prev = hash;
  }
}

for (const backend of backends) {
  describe(`audit hash chain on ${backend.name}`, () => {
    let db: FreshDatabase;
    beforeAll(async () => {
      db = await backend.fresh();
    });
    afterAll(() => db.close());
    /** An empty chain for each test (as migration 2 leaves it). */
    const fresh = async (): Promise<FreshDatabase> => {
      await db.sql.exec(`
        TRUNCATE fieldseal_audit;
        DELETE FROM fieldseal_audit_head;
        INSERT INTO fieldseal_audit_head (seq, hash) VALUES (0, decode(repeat('00', 32), 'hex'));
      `);
      return db;
    };

    it('stores exactly the frozen vector hashes (round trip through the database changes nothing)', async () => {
      const { sql } = await fresh();
      const sink = postgresAuditSink(sql);
      expect(await sink.head()).toEqual({ seq: 0, hash: AUDIT_GENESIS_HASH });
      for (const [i, event] of VECTOR_EVENTS.entries()) {
        expect(await sink.append(event)).toEqual({ seq: i + 1, hash: VECTOR_HASHES[i] });
      }
      expect(await storedHashes(sql)).toEqual(VECTOR_HASHES);
      const head = { seq: 5, hash: VECTOR_HASHES[4]! };
      expect(await sink.head()).toEqual(head);
      expect(await verifyAuditChain(sql)).toEqual({ ok: true, rows: 5, head });
    });

    it('a keyed chain: frozen HMAC hashes; verifies only with its key', async () => {
      const { sql } = await fresh();
      const source: SecretSource = {
        kind: 'test',
        references: () => ['audit'],
        getKey: (ref) =>
          ref === 'audit'
            ? Promise.resolve(new SecretKey('audit', VECTOR_KEY_BYTES))
            : Promise.reject(new KeyNotConfiguredError()),
      };
      const key = { source, reference: 'audit' };
      await postgresAuditSink(sql, { key }).appendMany(VECTOR_EVENTS);
      expect(await storedHashes(sql)).toEqual(VECTOR_KEYED_HASHES);
      expect((await verifyAuditChain(sql, { key })).ok).toBe(true);
      const direct = new SecretKey('audit', VECTOR_KEY_BYTES);
      expect((await verifyAuditChain(sql, { key: direct })).ok).toBe(true);
      for (const wrong of [undefined, new SecretKey('x', new Uint8Array(32))]) {
        const r = await verifyAuditChain(sql, wrong === undefined ? {} : { key: wrong });
        expect(r.firstBroken).toMatchObject({ seq: 1, reason: 'modified' });
        expect(r.firstBroken?.message).toContain('another HMAC key');
      }
      await expect(
        postgresAuditSink(sql, { key: { source, reference: 'nope' } }).append(VECTOR_EVENTS[0]!),
      ).rejects.toMatchObject({ code: 'ERR_KEY_NOT_CONFIGURED' }); // nothing is appended
      expect(await storedHashes(sql)).toHaveLength(5);
    });

    it('what the chain proves: a rewrite with recomputed hashes, unkeyed vs keyed vs anchored', async () => {
      const { sql } = await fresh();
      const events = Array.from({ length: 20 }, (_, i) => syntheticEvent(i));
      const published = await postgresAuditSink(sql).appendMany(events);
      // One row rewritten and rehashed: the break shows at the next row.
      const one = await rolledBack(sql, async (tx) => {
        const { rows } = await tx.query<AuditRow>(
          `SELECT ${AUDIT_ROW_COLUMNS} FROM fieldseal_audit WHERE seq = 7`,
        );
        const { record } = chainRecordOfRow(rows[0]!);
        const hash = createHash('sha256')
          .update(encodeChainRecord({ ...record, actor: 'someone-else' }))
          .digest('hex');
        await tx.query(
          "UPDATE fieldseal_audit SET actor = 'someone-else', hash = decode($1, 'hex') WHERE seq = 7",
          [hash],
        );
        return verifyAuditChain(tx);
      });
      expect(one.firstBroken).toMatchObject({ seq: 8, reason: 'prev-hash-mismatch' });
      // Row 7 and every later hash (and the head row) rewritten: invisible without an anchor...
      const all = await rolledBack(sql, async (tx) => {
        await rewriteWithRecomputedHashes(tx, 7);
        return [await verifyAuditChain(tx), await verifyAuditChain(tx, { anchors: [published] })];
      });
      expect(all[0]).toMatchObject({ ok: true, rows: 20 });
      // ...and named at the anchored row with one.
      expect(all[1]!.firstBroken).toMatchObject({ seq: 20, reason: 'anchor-mismatch' });

      const keyed = await fresh();
      const key = new SecretKey('audit', VECTOR_KEY_BYTES);
      await postgresAuditSink(keyed.sql, { key }).appendMany(events);
      const forged = await rolledBack(keyed.sql, async (tx) => {
        await rewriteWithRecomputedHashes(tx, 7);
        return verifyAuditChain(tx, { key });
      });
      expect(forged.firstBroken).toMatchObject({ seq: 7, reason: 'modified' });
    });

    it('retention: a pruned chain verifies from a trusted checkpoint, and only from the right one', async () => {
      const { sql } = await fresh();
      const sink = postgresAuditSink(sql);
      await sink.appendMany(Array.from({ length: 30 }, (_, i) => syntheticEvent(i)));
      const checkpoint = { seq: 10, hash: (await storedHashes(sql))[9]! };
      await sql.query('DELETE FROM fieldseal_audit WHERE seq <= 10');
      expect((await verifyAuditChain(sql)).firstBroken).toMatchObject({
        seq: 1,
        reason: 'missing',
      });
      const r = await verifyAuditChain(sql, { from: checkpoint });
      expect(r).toMatchObject({ ok: true, rows: 20, head: { seq: 30 } });
      const wrong = await verifyAuditChain(sql, { from: { seq: 10, hash: AUDIT_GENESIS_HASH } });
      expect(wrong.firstBroken).toMatchObject({ seq: 11, reason: 'prev-hash-mismatch' });
      await sink.append(syntheticEvent(30)); // appends continue after pruning
      expect((await verifyAuditChain(sql, { from: checkpoint })).rows).toBe(21);
    });

    it('a missing or altered head row is reported, and appends refuse to fork the chain', async () => {
      const { sql } = await fresh();
      const sink = postgresAuditSink(sql);
      await sink.appendMany(VECTOR_EVENTS);
      const altered = await rolledBack(sql, async (tx) => {
        await tx.query('UPDATE fieldseal_audit_head SET hash = sha256(hash)');
        return verifyAuditChain(tx);
      });
      expect(altered.firstBroken).toMatchObject({ seq: 5, reason: 'head-mismatch' });
      await sql.query('DELETE FROM fieldseal_audit_head');
      expect((await verifyAuditChain(sql)).firstBroken).toMatchObject({ reason: 'head-mismatch' });
      await expect(sink.append(VECTOR_EVENTS[0]!)).rejects.toMatchObject({
        code: 'ERR_AUDIT_UNAVAILABLE',
        message: expect.stringContaining('head row is missing') as unknown,
      });
      await expect(sink.head()).rejects.toMatchObject({ code: 'ERR_AUDIT_UNAVAILABLE' });
    });

    it('invalid events are refused before any write; a batch is all or nothing', async () => {
      const { sql } = await fresh();
      const sink = postgresAuditSink(sql);
      const bad = { ...VECTOR_EVENTS[0]!, detail: { when: new Date() } } as unknown as AuditEvent;
      await expect(sink.append(bad)).rejects.toThrow(TypeError);
      await expect(sink.appendMany([VECTOR_EVENTS[0]!, bad])).rejects.toThrow(TypeError);
      expect(await storedHashes(sql)).toEqual([]);
      expect(await sink.appendMany([])).toEqual({ seq: 0, hash: AUDIT_GENESIS_HASH });
    });

    it('concurrent appends from several clients form one contiguous chain', async () => {
      const { sql, another } = await fresh();
      const clients = [sql, another(), another()];
      const perClient = backend.server ? 60 : 30;
      const t = performance.now();
      await Promise.all(
        clients.flatMap((client, c) => {
          const sink = postgresAuditSink(client);
          // 4 appenders per client, each appending its share one event at a time.
          return Array.from({ length: 4 }, async (_, w) => {
            for (let i = w; i < perClient; i += 4) {
              await sink.append({ ...syntheticEvent(i), actor: `client-${c}-event-${i}` });
            }
          });
        }),
      );
      const total = clients.length * perClient;
      console.log(
        `${backend.name}: ${total} concurrent appends in ${(performance.now() - t).toFixed(0)} ms`,
      );
      const r = await verifyAuditChain(sql);
      expect(r).toMatchObject({ ok: true, rows: total, head: { seq: total } });
      const { rows } = await sql.query<{ n: string; actors: string }>(
        'SELECT count(*)::text AS n, count(DISTINCT actor)::text AS actors FROM fieldseal_audit',
      );
      expect(rows[0]).toEqual({ n: String(total), actors: String(total) });
    });
  });
}

describe('audit failures are ERR_AUDIT_UNAVAILABLE, with the cause and without values', () => {
  it('a failing database fails the append and the verification', async () => {
    const down = new Error('connection terminated');
    const broken: SqlClient = {
      query: () => Promise.reject(down),
      exec: () => Promise.reject(down),
      transaction: () => Promise.reject(down),
    };
    const event = { ...VECTOR_EVENTS[0]!, actor: 'actor-marker-7f3a' };
    const err = await postgresAuditSink(broken)
      .append(event)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_AUDIT_UNAVAILABLE', cause: down });
    expect(JSON.stringify(err) + String(err)).not.toContain('actor-marker-7f3a');
    await expect(verifyAuditChain(broken)).rejects.toMatchObject({
      code: 'ERR_AUDIT_UNAVAILABLE',
      cause: down,
    });
  });

  it('an unmigrated database', async () => {
    const db = await emptyPGlite();
    try {
      const sql = fromPGlite(db);
      await expect(verifyAuditChain(sql)).rejects.toMatchObject({ code: 'ERR_AUDIT_UNAVAILABLE' });
      await expect(postgresAuditSink(sql).append(VECTOR_EVENTS[0]!)).rejects.toMatchObject({
        code: 'ERR_AUDIT_UNAVAILABLE',
      });
    } finally {
      await db.close();
    }
  });

  it('invalid verification options are argument errors', async () => {
    const sql = {} as SqlClient;
    await expect(verifyAuditChain(sql, { pageSize: 0 })).rejects.toThrow(RangeError);
    await expect(verifyAuditChain(sql, { anchors: [{ seq: 1, hash: 'xyz' }] })).rejects.toThrow(
      TypeError,
    );
    await expect(
      verifyAuditChain(sql, { from: { seq: -1, hash: AUDIT_GENESIS_HASH } }),
    ).rejects.toThrow(RangeError);
  });
});
