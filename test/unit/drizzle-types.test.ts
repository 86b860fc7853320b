import { pgTable, text } from 'drizzle-orm/pg-core';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { defineModel, field } from '../../src/index.js';
import {
  sealed,
  type SealedBytes,
  type SealedTable,
  type SealedText,
  type Unsealed,
} from '../../src/integrations/drizzle/index.js';

// Checked by `npm run typecheck` (tsc over test/): a plain value cannot be inserted into a
// sealed column; only what `encrypt` returns can, and `decrypt` gives the model's types back.

export const Note = defineModel({
  table: 'notes',
  tenant: 'tenantId',
  key: ['id'],
  fields: {
    tenantId: field.string(),
    id: field.string(),
    body: field.string().encrypted({ storage: 'text' }),
    score: field.number().encrypted(),
  },
});

const notes = pgTable('notes', {
  tenantId: text('tenantId').notNull(),
  id: text('id').notNull(),
  body: sealed.text('body').notNull(),
  score: sealed.bytes('score').notNull(),
});

type Db = PgDatabase<PgQueryResultHKT>;

// Never called: the function bodies are only type-checked.
export function typeChecks(db: Db, sealedNotes: SealedTable<typeof notes, typeof Note>): void {
  const plain = { tenantId: 'acme', id: 'n1', body: 'secret', score: 42 };
  // @ts-expect-error: a plain string is not a SealedText, a number not SealedBytes
  void db.insert(notes).values(plain);
  const score = Buffer.from([]) as unknown as SealedBytes;
  const row = { tenantId: 'acme', id: 'n1', body: 'secret', score };
  // @ts-expect-error: a plain string in a text column is refused too
  void db.insert(notes).values(row);
  void (async () => {
    const rows = await sealedNotes.encrypt([plain]);
    void db.insert(notes).values(rows); // what encrypt returns is accepted
    const back = await sealedNotes.decrypt(db.select().from(notes));
    expectTypeOf(back[0]!.body).toEqualTypeOf<string>();
    expectTypeOf(back[0]!.score).toEqualTypeOf<number>();
    expectTypeOf(back[0]!.tenantId).toEqualTypeOf<string>();
    // @ts-expect-error: encrypt takes the model's records, not rows
    await sealedNotes.encrypt([{ ...plain, score: 'not a number' }]);
  })();
}

describe('fieldseal/drizzle types', () => {
  it('brands sealed values and maps them back to the model types', () => {
    expectTypeOf<SealedText>().toMatchTypeOf<string>();
    expectTypeOf<string>().not.toMatchTypeOf<SealedText>();
    expectTypeOf<Uint8Array>().not.toMatchTypeOf<SealedBytes>();
    expectTypeOf<Unsealed<{ body: SealedText; other: SealedText }, typeof Note>>().toEqualTypeOf<{
      body: string;
      other: SealedText;
    }>();
    expect(typeof typeChecks).toBe('function');
  });
});
