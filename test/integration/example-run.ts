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
