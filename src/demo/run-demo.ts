import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  createFieldseal,
  FileSecretSource,
  generateKeyFile,
  inspectEnvelope,
  isFieldsealError,
  LocalKeyProvider,
  type EncryptionContext,
  type FieldValue,
} from '../index.js';

/** One printed row of the demo. */
export interface DemoRow {
  readonly customer: string;
  readonly field: string;
  readonly stored: string;
  readonly key: string;
  readonly decrypted: string;
}

/** What the demo did, for the CLI to print. */
export interface DemoReport {
  readonly keyFile: string;
  readonly createdKeyFile: boolean;
  readonly rows: readonly DemoRow[];
  readonly failures: readonly { readonly attempt: string; readonly code: string }[];
  readonly metrics: ReturnType<ReturnType<typeof createFieldseal>['metrics']>;
}

const customers = [
  {
    id: 'cus_1001',
    tenant: 'acme-health',
    fields: {
      full_name: 'Maria Gonzalez',
      ssn: '521-44-8790',
      email: 'maria.gonzalez@example.com',
      date_of_birth: new Date('1984-03-17T00:00:00Z'),
    },
  },
  {
    id: 'cus_1002',
    tenant: 'acme-health',
    fields: {
      full_name: 'Wei Zhang',
      ssn: '078-05-1120',
      credit_limit: 12500.5,
      notes: { allergies: ['penicillin'], vip: true },
    },
  },
  {
    id: 'cus_2001',
    tenant: 'globex-bank',
    fields: {
      full_name: 'Amara Okafor',
      card_number: '4111 1111 1111 1111',
      account_balance_cents: 98_765_432_109_876n,
      api_secret: Buffer.from('sk_live_51HxT9sJk2L0pQ', 'utf8'),
    },
  },
] as const;

/**
 * The demo behind `npm run demo`: encrypts realistic customer records with the local key
 * provider and a master key kept in a local file, decrypts them, and shows a tampered value
 * and a value moved to another record failing with their error codes. Public API only.
 */
export async function runDemo(directory: string): Promise<DemoReport> {
  const keyFile = join(directory, 'demo-master.key');
  const createdKeyFile = !existsSync(keyFile);
  if (createdKeyFile) generateKeyFile(keyFile);
  const fs = createFieldseal({
    provider: new LocalKeyProvider({ source: new FileSecretSource({ keys: { master: keyFile } }) }),
    keys: { mode: 'embedded', masterKeyId: 'master' },
    cache: { maxAgeMs: 60_000, maxUses: 10_000 },
    fields: { 'customers.ssn': { pad: 'bucket-16' } },
  });
  const rows: DemoRow[] = [];
  const stored = new Map<string, string>();
  for (const c of customers) {
    for (const [field, value] of Object.entries(c.fields)) {
      const context: EncryptionContext = {
        tenant: c.tenant,
        table: 'customers',
        field,
        record: c.id,
      };
      const s = await fs.encrypt(value as FieldValue, context);
      stored.set(`${c.id}.${field}`, s);
      const back = await fs.decrypt(s, context);
      rows.push({
        customer: `${c.tenant}/${c.id}`,
        field,
        stored: s,
        key: inspectEnvelope(s)?.keyLabel ?? '',
        decrypted: show(back),
      });
    }
  }
  const ssn = stored.get('cus_1001.ssn')!;
  const ctx = (id: string, tenant: string, field: string): EncryptionContext => ({
    tenant,
    table: 'customers',
    field,
    record: id,
  });
  const attempts: [string, () => Promise<unknown>][] = [
    [
      'tampered ciphertext (one character changed)',
      () => fs.decrypt(flipNearEnd(ssn), ctx('cus_1001', 'acme-health', 'ssn')),
    ],
    [
      'SSN of cus_1001 pasted into cus_1002',
      () => fs.decrypt(ssn, ctx('cus_1002', 'acme-health', 'ssn')),
    ],
    [
      'SSN of cus_1001 read as another tenant',
      () => fs.decrypt(ssn, ctx('cus_1001', 'globex-bank', 'ssn')),
    ],
    [
      'legacy plaintext in an encrypted field',
      () => fs.decrypt('521-44-8790', ctx('cus_1001', 'acme-health', 'ssn')),
    ],
  ];
  const failures: { attempt: string; code: string }[] = [];
  for (const [attempt, run] of attempts) {
    try {
      await run();
      failures.push({ attempt, code: 'DECRYPTED (this must never happen)' });
    } catch (err) {
      failures.push({ attempt, code: isFieldsealError(err) ? err.code : 'unexpected error' });
    }
  }
  return { keyFile, createdKeyFile, rows, failures, metrics: fs.metrics() };
}

function show(v: unknown): string {
  if (v instanceof Date) return `Date(${v.toISOString()})`;
  if (Buffer.isBuffer(v)) return `Buffer(${v.toString('utf8')})`;
  switch (typeof v) {
    case 'bigint':
      return `${v}n`;
    case 'string':
      return v;
    case 'number':
    case 'boolean':
      return String(v);
    default:
      return JSON.stringify(v);
  }
}

/** Change one base64url character inside the ciphertext, well clear of the header. */
function flipNearEnd(text: string): string {
  const i = text.length - 30;
  return text.slice(0, i) + (text[i] === 'A' ? 'B' : 'A') + text.slice(i + 1);
}
