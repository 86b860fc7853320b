import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  createFieldseal,
  generateKeyFile,
  inspectEnvelope,
  isFieldsealError,
  LocalKeyProvider,
  type FieldsealMetrics,
  type KeyAdminOperation,
} from '../index.js';
import type { FieldsealStats } from '../metrics/fieldseal-stats.js';
import {
  PostgresKeyStore,
  createPostgresRepository,
  fromPGlite,
  migrate,
} from '../postgres/index.js';
import { loadPGlite } from '../config/embedded-database.js';
import { keyFileSource } from '../config/key-file.js';
import { Customer, demoCustomers } from './demo-data.js';

/** One printed row of the demo: the stored form next to the decrypted one. */
export interface DemoRow {
  readonly tenant: string;
  readonly id: string;
  readonly field: string;
  readonly stored: string;
  readonly key: string;
  readonly decrypted: string;
}

/** What the demo did, for the CLI to print. */
export interface DemoReport {
  readonly keyFile: string;
  readonly createdKeyFile: boolean;
  readonly tenants: readonly string[];
  readonly records: number;
  readonly writeMs: number;
  readonly readMs: number;
  readonly rows: readonly DemoRow[];
  readonly failures: readonly { readonly attempt: string; readonly code: string }[];
  /** The reading client's figures: a cold cache reading every record once, then again. */
  readonly readMetrics: FieldsealMetrics;
  /**
   * Health figures of the reading client after its reads (before the attacks): cold start,
   * every record listed twice, one call per tenant and pass.
   */
  readonly readStats: FieldsealStats;
  /** Health figures of another cold client serving single-record reads, one per request. */
  readonly apiStats: FieldsealStats;
  /** The writing client's health figures after the writes. */
  readonly writeStats: FieldsealStats;
  /** Records the reading client listed (all of them, twice). */
  readonly recordsListed: number;
  /** Single-record reads of the API client. */
  readonly singleReads: number;
  /** The tenant whose key was rotated before its last records were written, and how many. */
  readonly rotated: { readonly tenant: string; readonly recordsAfter: number };
  /** Rows whose `phone` is legacy plaintext (the field is in migration). */
  readonly legacyPhones: { readonly tenant: string; readonly rows: number };
}

const TENANTS = ['acme-health', 'globex-bank', 'initech-hr'];
const PER_TENANT = 1000;
/** The last records of every tenant are written after this tenant's key was rotated. */
const ROTATED = 'globex-bank';
const AFTER_ROTATION = 100;
/** This tenant's first rows still hold the phone number in plaintext (written before). */
const LEGACY = 'initech-hr';
const LEGACY_ROWS = 100;
const SINGLE_READS = 300;
/** Phases reported to `onPhase`. */
const PHASES = 7;

const int = (n: number): string => n.toLocaleString('en-US');

/**
 * The demo behind `npm run demo`: embedded PGlite, the local key provider with a master key
 * kept in a local file, three tenants, 3,000 customer records written and read back through
 * the model repository, the stored form next to the decrypted one, attacks failing with their
 * codes, and the health figures of `stats()`: one tenant's key is rotated midway (values per
 * key version) and one field is still being migrated (plaintext reads). Public API only, and
 * the key-file rule every command applies. `onPhase` hears of each phase as it starts.
 */
export async function runDemo(
  directory: string,
  options: {
    /** Called as each phase starts (`n` of `total`), for a progress line. */
    readonly onPhase?: (n: number, total: number, text: string) => void;
  } = {},
): Promise<DemoReport> {
  let phase = 0;
  const step = (text: string): void => options.onPhase?.(++phase, PHASES, text);
  step('master key file and an in-memory embedded PostgreSQL (PGlite) with the schema');
  const keyFile = join(directory, 'demo-master.key');
  const createdKeyFile = !existsSync(keyFile);
  if (createdKeyFile) generateKeyFile(keyFile);
  // The one key-file rule every command applies: a reused key file must still be private.
  const provider = () => new LocalKeyProvider({ source: keyFileSource(keyFile, 'master') });
  provider();
  const db = await (await loadPGlite()).create(); // in memory: the demo leaves no database behind
  try {
    const sql = fromPGlite(db);
    await migrate(sql);
    const store = new PostgresKeyStore({ sql });
    const client = (admin: readonly KeyAdminOperation[] = []) =>
      createFieldseal({
        provider: provider(),
        keys: { mode: 'store', store, masterKeyId: 'master' },
        cache: { maxAgeMs: 60_000, maxUses: 1_000_000 },
        fields: { ...Customer.policies },
        admin,
      });
    // Keys are administered by a job of their own (docs/modes.md): the application's clients
    // below may not provision, rotate or shred.
    step(`provisioning the data keys of ${TENANTS.length} tenants`);
    const keyAdmin = client(['provision', 'rotate']);
    for (const t of TENANTS) await keyAdmin.provisionTenant(t);
    const writer = client();
    const customers = createPostgresRepository({ sql, fs: writer, model: Customer });
    await customers.createTable();
    const records = TENANTS.flatMap((t) => demoCustomers(t, PER_TENANT));
    const firstLate = PER_TENANT - AFTER_ROTATION;
    const late = (r: { id: string }) => Number(r.id.slice(4)) > firstLate;
    step(`encrypting and writing ${int(records.length - TENANTS.length * AFTER_ROTATION)} records`);
    let started = performance.now();
    await customers.insert(records.filter((r) => !late(r)));
    step(`rotating ${ROTATED}'s key, then writing ${TENANTS.length * AFTER_ROTATION} more records`);
    await keyAdmin.rotateTenantKey(ROTATED);
    keyAdmin.close();
    // Key events (postgresKeyEvents) would tell the writer at once; the demo has one process.
    writer.clearCache();
    await customers.insert(records.filter(late));
    const writeMs = performance.now() - started;
    const writeStats = writer.stats();
    // Rows written before the phone column was encrypted still hold the number in plaintext.
    await sql.query(
      `UPDATE customers SET phone = '+1-202-555-' || right(id, 4) WHERE tenant_id = $1 AND id <= $2`,
      [LEGACY, `cus_${String(LEGACY_ROWS).padStart(5, '0')}`],
    );

    // A second process would start cold: a fresh client reads everything back, twice.
    step(`reading all ${int(records.length)} records back twice with a cold client`);
    const reader = client();
    const readRepo = createPostgresRepository({ sql, fs: reader, model: Customer });
    started = performance.now();
    for (let pass = 0; pass < 2; pass++) {
      for (const t of TENANTS) {
        const back = await readRepo.list(t, { limit: PER_TENANT });
        if (back.length !== PER_TENANT) throw new Error('demo: records missing');
      }
    }
    const readMs = performance.now() - started;
    const readStats = reader.stats();
    // Another process, an API serving one customer per request, starts cold too.
    step(`${SINGLE_READS} single-record reads by another cold client (an API)`);
    const api = client();
    const apiRepo = createPostgresRepository({ sql, fs: api, model: Customer });
    for (let i = 0; i < SINGLE_READS; i++) {
      const t = TENANTS[i % TENANTS.length]!;
      const id = `cus_${String(1 + ((i * 337) % PER_TENANT)).padStart(5, '0')}`;
      if ((await apiRepo.get(t, [id])) === undefined) throw new Error('demo: record missing');
    }
    const apiStats = api.stats();

    const rows: DemoRow[] = [];
    for (const t of TENANTS) {
      const [stored] = await readRepo.listStored(t, { limit: 1 });
      const plain = await readRepo.get(t, [stored!.id]);
      for (const f of ['full_name', 'ssn', 'balance_cents'] as const) {
        const s = stored![f];
        const text = s === null ? 'NULL' : `\\x${Buffer.from(s).toString('hex')}`;
        rows.push({
          tenant: t,
          id: stored!.id,
          field: f,
          stored: text,
          key: s === null ? '' : (inspectEnvelope(s)?.keyLabel ?? ''),
          decrypted: show(plain![f]),
        });
      }
    }

    step('attacks: pasted, moved, flipped and plaintext values');
    const failures: { attempt: string; code: string }[] = [];
    const attempt = async (name: string, run: () => Promise<unknown>): Promise<void> => {
      try {
        await run();
        failures.push({ attempt: name, code: 'DECRYPTED (this must never happen)' });
      } catch (err) {
        failures.push({
          attempt: name,
          code: isFieldsealError(err) ? err.code : 'unexpected error',
        });
      }
    };
    const copy = (field: string, from: [string, string], to: [string, string]) =>
      sql.query(
        `UPDATE customers SET ${field} = (SELECT ${field} FROM customers WHERE tenant_id = $1 AND id = $2)
          WHERE tenant_id = $3 AND id = $4`,
        [...from, ...to],
      );
    await copy('full_name', ['acme-health', 'cus_00001'], ['globex-bank', 'cus_00002']);
    await attempt("acme-health's name pasted into a globex-bank row", () =>
      readRepo.get('globex-bank', ['cus_00002']),
    );
    await copy('email', ['acme-health', 'cus_00003'], ['acme-health', 'cus_00004']);
    await attempt('an email moved to another row of the same tenant', () =>
      readRepo.get('acme-health', ['cus_00004']),
    );
    await sql.query(
      `UPDATE customers SET balance_cents = set_byte(balance_cents, length(balance_cents) - 20,
         get_byte(balance_cents, length(balance_cents) - 20) # 1)
        WHERE tenant_id = 'initech-hr' AND id = 'cus_00005'`,
    );
    await attempt('one bit of a stored balance flipped', () =>
      readRepo.get('initech-hr', ['cus_00005']),
    );
    await sql.query(
      `UPDATE customers SET ssn = convert_to('078-05-1120', 'UTF8') WHERE tenant_id = 'initech-hr' AND id = 'cus_00006'`,
    );
    await attempt('legacy plaintext written into the SSN column', () =>
      readRepo.get('initech-hr', ['cus_00006']),
    );
    return {
      keyFile,
      createdKeyFile,
      tenants: TENANTS,
      records: records.length,
      writeMs,
      readMs,
      rows,
      failures,
      readMetrics: reader.metrics(),
      readStats,
      apiStats,
      writeStats,
      recordsListed: 2 * records.length,
      singleReads: SINGLE_READS,
      rotated: { tenant: ROTATED, recordsAfter: AFTER_ROTATION },
      legacyPhones: { tenant: LEGACY, rows: LEGACY_ROWS },
    };
  } finally {
    await db.close();
  }
}

function show(v: unknown): string {
  if (v === null) return 'NULL';
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  if (typeof v === 'bigint') return `${v}n`;
  return typeof v === 'string' ? v : JSON.stringify(v);
}
