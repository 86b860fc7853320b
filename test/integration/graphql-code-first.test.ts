import {
  graphql,
  GraphQLID,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
} from 'graphql';
import { describe, expect, it, vi } from 'vitest';
import { createFieldseal, defineModel, field } from '../../src/index.js';
import { modelCodec } from '../../src/integration/index.js';
import {
  fieldsealSchema,
  FieldsealSchemaError,
  type FieldsealFieldExtension,
  type FieldsealGraphQLOptions,
} from '../../src/integrations/graphql/index.js';
import { MemoryKeyProvider } from '../../src/testing/index.js';

// One copy of graphql for the transformed files and @graphql-tools/utils (see graphql-servers).
vi.mock('graphql', async () => {
  const { createRequire } = await import('node:module');
  return createRequire(import.meta.url)('graphql') as object;
});

const Note = defineModel({
  table: 'notes',
  tenant: 'tenant',
  key: ['id'],
  fields: {
    tenant: field.string(),
    id: field.string(),
    body: field.string().encrypted({ storage: 'text' }),
  },
});

const fs = createFieldseal({
  provider: new MemoryKeyProvider(),
  keys: { mode: 'embedded', masterKeyId: 'master' },
  cache: { maxAgeMs: 60_000 },
  models: [Note],
});

const SECRET = 'CANARY-note-body-7731';

/** A code-first schema: `body` bound to the model, `title` through the context function. */
function codeFirst(rows: () => unknown[]): GraphQLSchema {
  const NoteType = new GraphQLObjectType({
    name: 'Note',
    fields: {
      id: { type: new GraphQLNonNull(GraphQLID) },
      body: {
        type: GraphQLString,
        extensions: {
          fieldseal: { encrypted: { model: 'Note' } } satisfies FieldsealFieldExtension,
        },
      },
      title: {
        type: GraphQLString,
        extensions: { fieldseal: { encrypted: true } satisfies FieldsealFieldExtension },
      },
      hidden: {
        type: GraphQLString,
        resolve: (p: { body: unknown }) => p.body,
        extensions: {
          fieldseal: {
            encrypted: { model: 'Note', field: 'body' },
            requiresScope: { scope: 'notes:read', onDeny: 'MASK', mask: '[hidden]' },
          } satisfies FieldsealFieldExtension,
        },
      },
    },
  });
  return new GraphQLSchema({
    query: new GraphQLObjectType({
      name: 'Query',
      fields: { notes: { type: new GraphQLList(NoteType), resolve: rows } },
    }),
  });
}

const options = (extra: Partial<FieldsealGraphQLOptions> = {}): FieldsealGraphQLOptions => ({
  fs,
  models: { Note },
  scopes: (ctx) => (ctx as { scopes?: string[] }).scopes ?? [],
  context: (parent) => ({
    tenant: String((parent as { tenant: string }).tenant),
    table: 'notes',
    field: 'title',
    record: String((parent as { id: string }).id),
  }),
  ...extra,
});

async function storedNotes() {
  const [row] = await modelCodec(fs, Note).encrypt([{ tenant: 'acme', id: 'n1', body: SECRET }]);
  const title = await fs.encrypt('Quarterly', {
    tenant: 'acme',
    table: 'notes',
    field: 'title',
    record: 'n1',
  });
  return [{ ...row, title: title }];
}

const run = (
  schema: GraphQLSchema,
  contextValue: unknown,
  source = '{ notes { id body title hidden } }',
) => graphql({ schema, source, contextValue });

describe('fieldseal/graphql on a code-first schema', () => {
  it('decrypts fields declared in extensions, by model or by the context function', async () => {
    const notes = await storedNotes();
    const schema = fieldsealSchema(
      codeFirst(() => notes),
      options(),
    );
    const result = await run(schema, { scopes: ['notes:read'] });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({
      notes: [{ id: 'n1', body: SECRET, title: 'Quarterly', hidden: SECRET }],
    });
    const masked = await run(schema, {});
    expect(masked.data).toEqual({
      notes: [{ id: 'n1', body: SECRET, title: 'Quarterly', hidden: '[hidden]' }],
    });
  });

  it('records already decrypted by a repository are not decrypted again; scopes still apply', async () => {
    const records = [{ tenant: 'acme', id: 'n1', body: SECRET, title: 'Plain title' }];
    const schema = fieldsealSchema(
      codeFirst(() => records),
      options({ parents: { Note: 'decrypted' } }),
    );
    const before = fs.stats().values.decrypted;
    const result = await run(schema, {});
    expect(result.data).toEqual({
      notes: [{ id: 'n1', body: SECRET, title: 'Plain title', hidden: '[hidden]' }],
    });
    expect(fs.stats().values.decrypted).toBe(before);

    // A stored row passed where a decrypted record was promised: an error, not the envelope.
    const stored = await storedNotes();
    const mistaken = fieldsealSchema(
      codeFirst(() => stored),
      options({ parents: { Note: 'decrypted' } }),
    );
    const leaked = await run(mistaken, { scopes: ['notes:read'] });
    expect(JSON.stringify(leaked.data)).not.toContain('fs1:');
    expect(leaked.errors?.map((e) => e.extensions.reason)).toEqual([
      'ERR_UNSUPPORTED_VALUE',
      'ERR_UNSUPPORTED_VALUE',
      'ERR_UNSUPPORTED_VALUE',
    ]);
  });

  it('fails closed: no tenant, plaintext in the column, no context object', async () => {
    const [stored] = await storedNotes();
    const rows = [
      { ...stored, tenant: undefined },
      { ...stored, id: 'n2', body: SECRET },
    ];
    const schema = fieldsealSchema(
      codeFirst(() => rows),
      options(),
    );
    const result = await run(schema, { scopes: ['notes:read'] }, '{ notes { id body } }');
    expect(result.data).toEqual({
      notes: [
        { id: 'n1', body: null },
        { id: 'n2', body: null },
      ],
    });
    expect(result.errors?.map((e) => e.extensions)).toEqual([
      { code: 'DECRYPTION_ERROR', field: 'Note.body', reason: 'ERR_INVALID_CONTEXT' },
      { code: 'DECRYPTION_ERROR', field: 'Note.body', reason: 'ERR_PLAINTEXT_IN_ENCRYPTED_FIELD' },
    ]);
    expect(JSON.stringify(result)).not.toContain(SECRET);

    const noContext = await run(schema, undefined, '{ notes { id body } }');
    expect(JSON.stringify(noContext.data)).not.toContain(SECRET);
    expect(noContext.errors?.length).toBeGreaterThan(0);
  });

  it('a plaintext its scalar cannot serialize is an error that does not echo it', async () => {
    const [stored] = await storedNotes();
    const big = 98765432109876543210n;
    const title = await fs.encrypt(big, {
      tenant: 'acme',
      table: 'notes',
      field: 'title',
      record: 'n1',
    });
    const schema = fieldsealSchema(
      codeFirst(() => [{ ...stored, title }]),
      options(),
    );
    const result = await run(schema, {}, '{ notes { id title } }');
    expect(result.errors?.[0]?.extensions).toEqual({
      code: 'DECRYPTION_ERROR',
      field: 'Note.title',
      reason: 'ERR_UNSUPPORTED_VALUE',
    });
    expect(JSON.stringify(result.errors)).not.toContain(String(big));
  });

  it('refuses a mistake at setup, naming the field', () => {
    const schema = codeFirst(() => []);
    expect(() => fieldsealSchema(schema, options({ context: undefined }))).toThrow(
      /Note\.title.*context/,
    );
    expect(() => fieldsealSchema(schema, options({ scopes: undefined }))).toThrow(
      FieldsealSchemaError,
    );
    expect(() => fieldsealSchema(schema, options({ masks: { 'Note.title': () => 'x' } }))).toThrow(
      /Note\.title/,
    );
  });
});
