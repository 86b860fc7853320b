import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PG_URL, serverSchema } from './pg-env.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Run `examples/<path>` as its npm script does (node on the built package); its stdout. */
export function runExample(path: string, env: Record<string, string>): string {
  const file = fileURLToPath(new URL(`../../examples/${path}`, import.meta.url));
  const r = spawnSync(process.execPath, [file], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`${path} exited with ${String(r.status)}: ${r.stderr}`);
  return r.stdout;
}

/** Every row of `table` at `url`, as one string (byte columns as latin1 text), for canaries. */
export async function tableDump(
  url: string,
  table: string,
): Promise<{ rows: number; text: string }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<Record<string, unknown>>(`SELECT * FROM ${table}`);
    const text = JSON.stringify(rows, (_k, v: unknown) =>
      typeof v === 'object' && v !== null && 'type' in v && v.type === 'Buffer'
        ? Buffer.from((v as unknown as { data: number[] }).data).toString('latin1')
        : v,
    );
    return { rows: rows.length, text };
  } finally {
    await client.end();
  }
}

/** A `DATABASE_URL` for an example: the test server, in a fresh schema dropped by `close()`. */
export async function exampleDatabase(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = await serverSchema();
  const u = new URL(PG_URL!);
  u.searchParams.set('options', `-c search_path=${server.schema}`);
  return { url: u.toString(), close: server.close };
}

/** The SSNs the patients examples (Drizzle, TypeORM) write, and the one they try in plaintext. */
export const PATIENT_SSNS = ['521-44-8790', '078-05-1120', '219-09-9999', '123-45-6789'];

/**
 * The output the patients examples share: what the table holds (envelopes, no SSN or address),
 * then, after `readsHeading`, Ada's row found by a re-checked lookup and the plain value refused
 * with `refusal`.
 */
export function checkPatientsOutput(out: string, readsHeading: string, refusal: string): void {
  const [held, rest] = out.split(readsHeading);
  if (held === undefined || rest === undefined) throw new Error(`no "${readsHeading}" in ${out}`);
  if (!/north\s+p1\s+email=<\d+ bytes: f5 01/.test(held) || !/ssn=fs1:/.test(held)) {
    throw new Error(`the table's rows are not envelopes: ${held}`);
  }
  for (const text of [...PATIENT_SSNS, 'north.example']) {
    if (held.includes(text)) throw new Error(`the table holds ${text}`);
  }
  const ada =
    '[{"clinic":"north","id":"p1","name":"Ada Lovelace","email":"ada@north.example","ssn":"521-44-8790"}]';
  if (!rest.includes(ada)) throw new Error(`Ada's row is not read back: ${rest}`);
  if (!rest.includes(refusal)) throw new Error(`no ${refusal}: ${rest}`);
  if (rest.includes('123-45-6789') || rest.includes('unexpected')) {
    throw new Error(`the plain value was written or shown: ${rest}`);
  }
}
