import { defineModel, field, type InferRecord } from '../index.js';

/**
 * The demo's customer table: plain and encrypted fields of realistic kinds. `phone` is being
 * migrated to encryption: rows written before the migration still hold plaintext, which is
 * returned and counted (`stats().plaintextReads`) until a backfill has sealed them all.
 */
export const Customer = defineModel({
  table: 'customers',
  tenant: 'tenant_id',
  key: ['id'],
  fields: {
    tenant_id: field.string(),
    id: field.string(),
    full_name: field.string().encrypted(),
    email: field.string().encrypted({ pad: 'bucket-32' }),
    ssn: field.string().encrypted({ pad: 'bucket-16' }).nullable(),
    card_number: field.string().encrypted().nullable(),
    date_of_birth: field.date().encrypted(),
    balance_cents: field.bigint().encrypted(),
    phone: field.string().encrypted({ storage: 'text', allowPlaintextRead: true }),
    plan: field.string().indexed(),
    created_at: field.date(),
  },
});

/** One demo customer record. */
export type DemoCustomer = InferRecord<typeof Customer>;

const FIRST = [
  'Maria',
  'Wei',
  'Amara',
  'Lukas',
  'Sofia',
  'Kenji',
  'Aisha',
  'Mateo',
  'Priya',
  'Noah',
  'Elena',
  'Omar',
];
const LAST = [
  'Gonzalez',
  'Zhang',
  'Okafor',
  'Schmidt',
  'Rossi',
  'Tanaka',
  'Khan',
  'Silva',
  'Patel',
  'Jensen',
  'Novak',
  'Haddad',
];
const PLANS = ['free', 'pro', 'enterprise'];

/** Deterministic, realistic-looking customers (no real person's data). */
export function demoCustomers(tenant: string, count: number): DemoCustomer[] {
  let seed = [...tenant].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const out: DemoCustomer[] = [];
  for (let i = 0; i < count; i++) {
    const first = FIRST[next(FIRST.length)]!;
    const last = LAST[next(LAST.length)]!;
    out.push({
      tenant_id: tenant,
      id: `cus_${String(i + 1).padStart(5, '0')}`,
      full_name: `${first} ${last}`,
      email: `${first}.${last}${i}@example.com`.toLowerCase(),
      ssn: next(10) === 0 ? null : `${100 + next(800)}-${10 + next(89)}-${1000 + next(8999)}`,
      card_number:
        next(4) === 0
          ? null
          : `4111 ${1000 + next(8999)} ${1000 + next(8999)} ${1000 + next(8999)}`,
      date_of_birth: new Date(Date.UTC(1950 + next(55), next(12), 1 + next(28))),
      balance_cents: BigInt(next(10_000_000)) * 100n + BigInt(next(100)),
      phone: `+1-202-555-${String(next(10_000)).padStart(4, '0')}`,
      plan: PLANS[next(PLANS.length)]!,
      created_at: new Date(Date.UTC(2023, next(12), 1 + next(28))),
    });
  }
  return out;
}
