import { describe, expect, expectTypeOf, it } from 'vitest';
import { defineModel, field, type InferRecord, type InferStored } from '../../src/index.js';
import type { PostgresRepository } from '../../src/postgres/index.js';
import { planOf } from '../../src/model/define-model.js';
import { fieldSpec } from '../../src/model/field.js';
import type { BlindIndexedField } from '../../src/model/model-types.js';

// The type assertions are checked by `npm run typecheck` (tsc over test/).

const Customer = defineModel({
  table: 'customers',
  tenant: 'tenantId',
  key: ['id'],
  fields: {
    id: field.string(),
    tenantId: field.string(),
    email: field
      .string()
      .encrypted({ pad: 'bucket-32' })
      .blindIndex({ bits: 32, normalize: ['trim', 'lowercase', 'nfc'] }),
    phone: field.string().encrypted({ storage: 'text' }).nullable().blindIndex(),
    nick: field.string().encrypted().blindIndex({ bits: 16 }).optional(),
    ssn: field.string().encrypted(),
  },
});

describe('.blindIndex() on model fields', () => {
  it('types: only blind-indexed fields are searchable; records and rows are unchanged', () => {
    expectTypeOf<BlindIndexedField<typeof Customer>>().toEqualTypeOf<'email' | 'phone' | 'nick'>();
    expectTypeOf<InferRecord<typeof Customer>>().toEqualTypeOf<{
      id: string;
      tenantId: string;
      email: string;
      phone: string | null;
      nick?: string | undefined;
      ssn: string;
    }>();
    expectTypeOf<InferStored<typeof Customer>['phone']>().toEqualTypeOf<string | null>();
    expectTypeOf<InferStored<typeof Customer>['email']>().toEqualTypeOf<Buffer>();
    type Repo = PostgresRepository<typeof Customer>;
    expectTypeOf<Parameters<Repo['findBy']>[1]>().toEqualTypeOf<'email' | 'phone' | 'nick'>();
    const findBy = null as unknown as Repo['findBy'];
    // @ts-expect-error ssn has no blind index
    void (() => findBy('acme', 'ssn', 'x'));
    // @ts-expect-error values are strings
    void (() => findBy('acme', 'email', 42));
    const Plain = defineModel({
      table: 't',
      tenant: 'tenant',
      key: ['id'],
      fields: { id: field.string(), tenant: field.string(), note: field.string().encrypted() },
    });
    expectTypeOf<BlindIndexedField<typeof Plain>>().toEqualTypeOf<never>();
    expect(planOf(Plain).blindIndexed).toEqual([]);
  });

  it('types: refuses plain, non-string and doubly indexed fields at compile time', () => {
    // @ts-expect-error a plain field cannot have a blind index
    expect(() => field.string().blindIndex()).toThrow(/call \.encrypted\(\) first/);
    // @ts-expect-error only strings are blind-indexed
    expect(() => field.number().encrypted().blindIndex()).toThrow(/only for field\.string\(\)/);
    // json<string>() has the value type string, so only the run-time check can refuse it.
    expect(() => field.json<string>().encrypted().blindIndex()).toThrow(/only for field\.string/);
    expect(() =>
      // @ts-expect-error already blind-indexed
      field.string().encrypted().blindIndex().blindIndex(),
    ).toThrow(/already has a blind index/);
  });

  it('checks options at once: bits, normalize; version belongs to the repository', () => {
    const enc = field.string().encrypted();
    expect(() => enc.blindIndex({ bits: 12 })).toThrow(RangeError);
    expect(() => enc.blindIndex({ bits: 264 })).toThrow(RangeError);
    expect(() => enc.blindIndex({ normalize: ['upper' as 'trim'] })).toThrow(RangeError);
    expect(() => enc.blindIndex({ normalize: 'trim' as unknown as ['trim'] })).toThrow(TypeError);
    expect(() => enc.blindIndex({ version: 2 } as never)).toThrow(/version is set by the repo/);
    expect(() => enc.blindIndex(null as never)).toThrow(TypeError);
  });

  it('records the options (frozen copies) in the plan, in declaration order', () => {
    const steps: ('trim' | 'lowercase')[] = ['trim', 'lowercase'];
    const b = field.string().encrypted().blindIndex({ normalize: steps });
    steps.push('lowercase');
    expect(fieldSpec(b)?.blindIndex).toEqual({ normalize: ['trim', 'lowercase'] });
    expect(Object.isFrozen(fieldSpec(b)?.blindIndex?.normalize)).toBe(true);
    const plan = planOf(Customer);
    expect(plan.blindIndexed.map((f) => f.name)).toEqual(['email', 'phone', 'nick']);
    expect(plan.blindIndexed[0]!.encryption!.blindIndex).toEqual({
      bits: 32,
      normalize: ['trim', 'lowercase', 'nfc'],
    });
    expect(plan.blindIndexed[1]!.encryption!.blindIndex).toEqual({});
    // The client policies do not change: the index is the repository's business.
    expect(Customer.policies).toEqual({
      'customers.email': { pad: 'bucket-32' },
      'customers.phone': {},
      'customers.nick': {},
      'customers.ssn': {},
    });
  });

  it('refuses a blind index on a WriteOnly field (a lookup must decrypt to re-check)', () => {
    expect(() =>
      defineModel({
        table: 't',
        tenant: 'tenant',
        key: ['id'],
        fields: {
          id: field.string(),
          tenant: field.string(),
          ssn: field.string().encrypted({ mode: 'WriteOnly' }).blindIndex(),
        },
      }),
    ).toThrow(/field t\.ssn: a WriteOnly field cannot have a blind index/);
  });
});
