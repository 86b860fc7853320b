#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { healthNotes, healthTable } from '../demo/health-table.js';
import { runDemo } from '../demo/run-demo.js';
import {
  CONFIG_FILE,
  initProject,
  openDatabase,
  openFromConfig,
  readConfig,
  runDoctor,
  type OpenedFieldseal,
} from '../config/index.js';
import {
  evaluateHealth,
  generateKeyFile,
  inspectEnvelope,
  readStatsSnapshot,
  type EncryptionContext,
  type KeyAdminOperation,
} from '../index.js';
import { migrate } from '../postgres/index.js';
import { cliFailure, printFailure, type CliContext } from './cli-errors.js';
import { registerAuditCommand } from './audit-command.js';
import { registerBackfillCommands } from './backfill-command.js';
import { registerDynamoCommands } from './dynamodb-command.js';
import { abbreviate, renderTable } from './table.js';

/** The installed package's version (dist/cli/main.js sits two folders below package.json). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

const program = new Command()
  .name('fieldseal')
  .description('Fail-closed field encryption for database records')
  .version(packageVersion())
  // Usage errors are thrown (inherited by every subcommand), printed once by the handler at
  // the end: as `{ "error": ... }` with --json, as text otherwise.
  .exitOverride()
  .configureOutput({ outputError: () => undefined });

/** What the running command is about; its errors name it (src/cli/cli-errors.ts). */
const ctx: CliContext = { config: CONFIG_FILE };

/** --json, also before the arguments are parsed (a usage error must honour it too). */
const jsonMode = (): boolean => {
  if (program.opts<{ json?: boolean }>().json === true) return true;
  const end = process.argv.indexOf('--');
  return process.argv.slice(2, end === -1 ? undefined : end).includes('--json');
};

/** Print a JSON document on standard output. */
const printJson = (value: unknown): void => {
  console.log(JSON.stringify(value, null, 2));
};

program
  .command('demo')
  .description(
    '3,000 customer records of three tenants in embedded PGlite, encrypted and read back; attacks failing',
  )
  .option('--dir <path>', 'where the demo keeps its master key file', '.fieldseal')
  .action(async (opts: { dir: string }) => {
    // Progress on standard error, one line per phase: standard output stays the report.
    const started = performance.now();
    const r = await runDemo(opts.dir, {
      onPhase: (n, total, text) => {
        const s = ((performance.now() - started) / 1000).toFixed(1).padStart(5);
        process.stderr.write(`[${n}/${total}] ${s} s  ${text}\n`);
      },
    });
    const health = healthTable(r);
    const notes = healthNotes(r);
    if (jsonMode()) {
      printJson({
        keyFile: r.keyFile,
        createdKeyFile: r.createdKeyFile,
        tenants: r.tenants,
        records: r.records,
        writeMs: r.writeMs,
        readMs: r.readMs,
        rows: r.rows,
        failures: r.failures,
        health: health.rows.map((row) =>
          Object.fromEntries(health.headers.map((h, i) => [h, row[i] ?? ''])),
        ),
        notes,
        stats: { list: r.readStats, api: r.apiStats, writer: r.writeStats },
      });
      return;
    }
    console.log(
      `Master key file: ${r.keyFile} (${r.createdKeyFile ? 'created now' : 'reused'}; the key itself is never printed)`,
    );
    console.log(
      `Wrote ${r.records} records for ${r.tenants.length} tenants (${r.tenants.join(', ')}) into embedded PGlite ` +
        `in ${r.writeMs.toFixed(0)} ms; read them all back twice with a cold client in ${r.readMs.toFixed(0)} ms.\n`,
    );
    console.log('What the database holds, and what the application reads:\n');
    console.log(
      renderTable(
        ['tenant', 'record', 'field', 'stored (bytea)', 'data key', 'decrypted'],
        r.rows.map((x) => [x.tenant, x.id, x.field, abbreviate(x.stored, 40), x.key, x.decrypted]),
      ),
    );
    console.log('\nAttacks and mistakes, each refused with a typed error:\n');
    console.log(
      renderTable(
        ['attempt', 'result'],
        r.failures.map((f) => [f.attempt, f.code]),
      ),
    );
    console.log(
      `\nHealth of two cold reading clients, from fs.stats() (${r.rotated.tenant}'s key was rotated ` +
        `before its last ${r.rotated.recordsAfter} records; the phone numbers of ${r.legacyPhones.rows} ` +
        `${r.legacyPhones.tenant} rows are legacy plaintext, the field is in migration):\n`,
    );
    console.log(renderTable(health.headers, health.rows));
    console.log('\nReading the figures:');
    for (const note of notes) console.log(`- ${note}`);
  });

program
  .command('health')
  .description(
    "judge a service's fs.stats() against the key-management health table (exit 1 on a warning)",
  )
  .argument('<stats.json>', 'a file holding JSON.stringify(fs.stats()), or - for standard input')
  .option('--min-samples <n>', 'fewest calls / cache lookups before a rate is judged', '20')
  .action((file: string, opts: { minSamples: string }) => {
    const text = readFileSync(file === '-' ? 0 : file, 'utf8');
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new TypeError(`${file}: not JSON (write it with JSON.stringify(fs.stats()))`);
    }
    const report = evaluateHealth(readStatsSnapshot(raw), {
      minSamples: Number(opts.minSamples),
    });
    output(
      ['metric', 'value', 'status', 'healthy', 'warning at', 'mitigation'],
      report.findings.map((f) => [
        f.label,
        f.display,
        f.status,
        f.healthy,
        f.warning,
        f.status === 'healthy' || f.status === 'no-data' ? '' : f.mitigation,
      ]),
      report,
    );
    if (report.status === 'warning') process.exitCode = 1;
  });

program
  .command('keygen')
  .description('write a new random 32-byte master key file (base64:, mode 0600)')
  .argument('<path>', 'file to create (never overwritten)')
  .action((path: string) => {
    generateKeyFile(path);
    if (jsonMode()) printJson({ keyFile: path, mode: '0600' });
    else console.log(`Wrote a new 32-byte key to ${path} (mode 0600).`);
  });

program
  .command('inspect')
  .description('describe a stored value (key reference, sizes) without decrypting it')
  .argument('<value>', 'a stored fs1: value')
  .action((value: string) => {
    const info = inspectEnvelope(value);
    if (jsonMode()) {
      // The value itself is never echoed, only what its header says.
      printJson(
        info === undefined
          ? { envelope: false }
          : {
              envelope: true,
              formatVersion: info.version,
              suite: info.suite,
              key: { kind: info.keyRef.kind, label: info.keyLabel },
              padded: info.padded,
              bytes: info.bytes,
              ciphertextBytes: info.ciphertextBytes,
            },
      );
      return;
    }
    if (info === undefined) {
      console.log('not an envelope: this is plaintext');
      return;
    }
    console.log(
      renderTable(
        ['property', 'value'],
        [
          ['format version', String(info.version)],
          ['suite', info.suite],
          ['key', `${info.keyRef.kind} ${info.keyLabel}`],
          ['padded', String(info.padded)],
          ['envelope bytes', String(info.bytes)],
          ['ciphertext bytes', String(info.ciphertextBytes)],
        ],
      ),
    );
  });

interface GlobalOptions {
  config: string;
  json?: boolean;
}

const globals = (): GlobalOptions => program.opts<GlobalOptions>();

/** Print rows as a table, or as JSON with --json. */
function output(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  json: unknown,
): void {
  if (jsonMode()) printJson(json);
  else console.log(rows.length === 0 ? '(none)' : renderTable(headers, rows));
}

/**
 * Run `fn` on a client opened from the configuration. The CLI is the operator's admin tool,
 * but each command's client may perform exactly the key administration that command does
 * (`admin`, none by default), so no command can do more than it says.
 */
async function withClient<T>(
  fn: (opened: OpenedFieldseal) => Promise<T>,
  admin: readonly KeyAdminOperation[] = [],
): Promise<T> {
  const opened = await openFromConfig(readConfig(ctx.config), { admin });
  try {
    return await fn(opened);
  } finally {
    await opened.close();
  }
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY)
    throw new TypeError(
      'pipe the value on standard input, e.g. `printf %s "$VALUE" | fieldseal encrypt ...` (never as an argument)',
    );
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text.endsWith('\n') ? text.slice(0, text.endsWith('\r\n') ? -2 : -1) : text;
}

interface ContextOptions {
  tenant: string;
  table: string;
  field: string;
  record?: string;
}

function contextOf(o: ContextOptions): EncryptionContext {
  return o.record === undefined
    ? { tenant: o.tenant, table: o.table, field: o.field }
    : { tenant: o.tenant, table: o.table, field: o.field, record: o.record };
}

const withContext = (cmd: Command): Command =>
  cmd
    .requiredOption('--tenant <id>', 'tenant the value belongs to')
    .requiredOption('--table <name>', 'table (entity) name')
    .requiredOption('--field <name>', 'field (column) name')
    .option('--record <key>', "the record's key, bound into the value");

program
  .option('-c, --config <file>', 'configuration file', CONFIG_FILE)
  .option('--json', 'machine-readable output (errors too: { "error": { "code", "message" } })')
  .hook('preAction', () => {
    ctx.config = globals().config;
  });

program
  .command('init')
  .description('create fieldseal.config.json, a master key file and the embedded database schema')
  .option('--dir <path>', 'folder for the key file and the embedded database', '.fieldseal')
  .action(async (opts: { dir: string }) => {
    const r = await initProject({ configFile: globals().config, dir: opts.dir });
    output(
      ['created', 'path'],
      [
        ['configuration', r.configFile],
        ['master key file', `${r.keyFile}${r.createdKeyFile ? '' : ' (existing, kept)'}`],
        ['embedded database (schema applied)', r.database],
      ],
      r,
    );
  });

program
  .command('migrate')
  .description("apply fieldseal's schema migrations to the configured database")
  .action(async () => {
    const db = await openDatabase(readConfig(ctx.config));
    try {
      const applied = await migrate(db.sql);
      output(
        ['applied migrations'],
        applied.map((v) => [String(v)]),
        { applied },
      );
    } finally {
      await db.close();
    }
  });

const tenant = program.command('tenant').description('tenants and their data keys');
tenant
  .command('create')
  .description('provision the first data-key version of one or more tenants')
  .argument('<tenant...>', 'tenant ids')
  .action(async (ids: string[]) => {
    if (ids.length === 1) ctx.tenant = ids[0];
    await withClient(
      async ({ fs }) => {
        const rows = [];
        for (const id of ids) {
          ctx.tenant = id;
          rows.push(await fs.provisionTenant(id));
        }
        output(
          ['tenant', 'key', 'version', 'state', 'master key'],
          rows.map((r) => [
            r.tenant,
            r.keyId,
            String(r.version),
            r.state,
            `${r.providerId}:${r.masterKeyId}`,
          ]),
          rows,
        );
      },
      ['provision'],
    );
  });
tenant
  .command('rotate')
  .description('make a new data-key version active for a tenant (old versions stay readable)')
  .argument('<tenant>', 'tenant id')
  .action(async (id: string) => {
    ctx.tenant = id;
    await withClient(
      async ({ fs }) => {
        const r = await fs.rotateTenantKey(id);
        output(
          ['tenant', 'key', 'active version', 'master key'],
          [[r.tenant, r.keyId, String(r.version), `${r.providerId}:${r.masterKeyId}`]],
          r,
        );
      },
      ['rotate'],
    );
  });
tenant
  .command('list')
  .description('list tenants with their active data-key version')
  .action(async () => {
    await withClient(async ({ store }) => {
      const rows = await store.listTenants();
      output(
        ['tenant', 'active version', 'versions', 'created'],
        rows.map((r) => [
          r.tenant,
          r.activeVersion === null ? '-' : String(r.activeVersion),
          String(r.versions),
          r.createdAt.toISOString(),
        ]),
        rows,
      );
    });
  });

program
  .command('shred')
  .description('crypto-shred a tenant: destroy every data-key version; its data becomes unreadable')
  .argument('<tenant>', 'tenant id')
  .option('--yes', 'do not ask for confirmation')
  .action(async (id: string, opts: { yes?: boolean }) => {
    ctx.tenant = id;
    if (opts.yes !== true) {
      if (!process.stdin.isTTY || jsonMode()) {
        throw new TypeError(
          `refusing to shred without confirmation: run \`fieldseal shred ${id} --yes\` to confirm`,
        );
      }
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      const answer = await rl.question(
        `Shred tenant "${id}"? Every value encrypted for it becomes unreadable, forever. Type the tenant id to confirm: `,
      );
      rl.close();
      if (answer.trim() !== id) throw new Error('not confirmed; nothing was shredded');
    }
    await withClient(
      async ({ fs }) => {
        const receipt = await fs.shredTenant(id);
        output(
          ['tenant', 'key', 'version destroyed', 'shredded at'],
          receipt.versions.map((v) => [
            receipt.tenant,
            v.keyId,
            String(v.version),
            receipt.shreddedAt.toISOString(),
          ]),
          receipt,
        );
        if (!jsonMode()) {
          console.log(
            `\n${renderTable(
              ['master key', 'state', 'detail'],
              receipt.masterKeys.map((m) => [
                `${m.providerId}:${m.masterKeyId}`,
                m.state,
                m.deletionDate?.toISOString() ?? m.reason ?? '',
              ]),
            )}`,
          );
        }
      },
      ['shred'],
    );
  });

const keys = program.command('keys').description('data keys of a tenant');
keys
  .command('list')
  .description("a tenant's data-key versions and their states")
  .argument('<tenant>', 'tenant id')
  .action(async (id: string) => {
    ctx.tenant = id;
    await withClient(async ({ store }) => {
      const rows = await store.listVersions(id);
      output(
        ['key', 'version', 'state', 'master key', 'wrapped bytes', 'created'],
        rows.map((r) => [
          r.keyId,
          String(r.version),
          r.state,
          `${r.providerId}:${r.masterKeyId}`,
          String(r.wrapped.byteLength),
          r.createdAt.toISOString(),
        ]),
        rows.map(({ wrapped, ...r }) => ({ ...r, wrappedBytes: wrapped.byteLength })),
      );
    });
  });

keys
  .command('reinstate')
  .description('make a retired data-key version readable again (decrypt-only)')
  .argument('<tenant>', 'tenant id')
  .argument('<version>', 'the retired version')
  .action(async (id: string, version: string) => {
    ctx.tenant = id;
    await withClient(
      async ({ fs }) => {
        const changed = await fs.reinstateKeyVersion(id, Number(version));
        output(
          ['tenant', 'version', 'result'],
          [[id, version, changed ? 'reinstated (decrypt-only)' : 'was not retired; unchanged']],
          { tenant: id, version: Number(version), reinstated: changed },
        );
      },
      ['reinstate'],
    );
  });

withContext(
  program
    .command('encrypt')
    .description('encrypt the value read from standard input; prints the fs1: text form'),
).action(async (opts: ContextOptions) => {
  ctx.tenant = opts.tenant;
  const value = await readStdin();
  await withClient(async ({ fs }) => {
    const stored = await fs.encrypt(value, contextOf(opts));
    if (jsonMode()) printJson({ stored });
    else console.log(stored);
  });
});

withContext(
  program.command('decrypt').description('decrypt the fs1: value read from standard input'),
).action(async (opts: ContextOptions) => {
  ctx.tenant = opts.tenant;
  const stored = (await readStdin()).trim();
  await withClient(async ({ fs }) => {
    const value = await fs.decrypt(stored, contextOf(opts));
    if (jsonMode()) printJson({ value });
    else console.log(typeof value === 'string' ? value : JSON.stringify(value));
  });
});

program
  .command('doctor')
  .description(
    'check configuration, master key, provider, database and schema; says how to fix what is wrong',
  )
  .action(async () => {
    const checks = await runDoctor(ctx.config);
    output(
      ['check', 'result', 'detail', 'fix'],
      checks.map((c) => [
        c.check,
        c.ok ? 'ok' : c.level === 'warning' ? 'WARN' : 'FAIL',
        c.detail,
        c.fix ?? '',
      ]),
      checks,
    );
    if (checks.some((c) => !c.ok && c.level !== 'warning')) process.exitCode = 1;
  });

registerAuditCommand(program);
registerBackfillCommands(program, keys, globals, ctx);
registerDynamoCommands(program, globals);

program.parseAsync(process.argv).catch((err: unknown) => {
  // --help and --version end the same way, successfully.
  if (err instanceof CommanderError && err.exitCode === 0) return;
  printFailure(cliFailure(err, ctx), jsonMode());
  process.exitCode = 1;
});
