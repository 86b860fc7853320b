#!/usr/bin/env node
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { formatMs, healthTable } from '../demo/health-table.js';
import { runDemo } from '../demo/run-demo.js';
import {
  CONFIG_FILE,
  generateKeyFile,
  initProject,
  inspectEnvelope,
  isFieldsealError,
  openDatabase,
  openFromConfig,
  readConfig,
  runDoctor,
  type EncryptionContext,
  type KeyAdminOperation,
  type OpenedFieldseal,
} from '../index.js';
import { migrate } from '../keystore/postgres/index.js';
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
  .version(packageVersion());

program
  .command('demo')
  .description(
    '3,000 customer records of three tenants in embedded PGlite, encrypted and read back; attacks failing',
  )
  .option('--dir <path>', 'where the demo keeps its master key file', '.fieldseal')
  .action(async (opts: { dir: string }) => {
    const r = await runDemo(opts.dir);
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
    const s = r.readStats;
    const unwraps = Object.values(s.providerCalls).reduce((n, c) => n + c.unwrap, 0);
    console.log(
      `\nHealth of two cold reading clients, from fs.stats() (${r.rotated.tenant}'s key was rotated ` +
        `before its last ${r.rotated.recordsAfter} records; the phone numbers of ${r.legacyPhones.rows} ` +
        `${r.legacyPhones.tenant} rows are legacy plaintext, the field is in migration):\n`,
    );
    const health = healthTable(r);
    console.log(renderTable(health.headers, health.rows));
    console.log(
      `\nThe list client decrypted ${s.values.decrypted.toLocaleString('en-US')} values with ${unwraps} unwraps: ` +
        'a batch looks its key up once for all of its values, and a burst of reads of one tenant ' +
        `costs one unwrap. Encrypting, the writer added ${formatMs(r.writeStats.latency.encryptMany.p50Ms)} ` +
        `per batch at p50 (${r.writeStats.latency.encryptMany.count} batches).`,
    );
  });

program
  .command('keygen')
  .description('write a new random 32-byte master key file (base64:, mode 0600)')
  .argument('<path>', 'file to create (never overwritten)')
  .action((path: string) => {
    generateKeyFile(path);
    console.log(`Wrote a new 32-byte key to ${path} (mode 0600).`);
  });

program
  .command('inspect')
  .description('describe a stored value (key reference, sizes) without decrypting it')
  .argument('<value>', 'a stored fs1: value')
  .action((value: string) => {
    const info = inspectEnvelope(value);
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
  if (globals().json === true) console.log(JSON.stringify(json, null, 2));
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
  const opened = await openFromConfig(readConfig(globals().config), { admin });
  try {
    return await fn(opened);
  } finally {
    await opened.close();
  }
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY)
    throw new Error('pipe the value on standard input (never as an argument)');
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
  .option('--json', 'machine-readable output');

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
    const db = await openDatabase(readConfig(globals().config));
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
    await withClient(
      async ({ fs }) => {
        const rows = [];
        for (const id of ids) rows.push(await fs.provisionTenant(id));
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
    if (opts.yes !== true) {
      if (!process.stdin.isTTY) {
        throw new Error('refusing to shred without confirmation: pass --yes');
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
        if (globals().json !== true) {
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
  .argument('<tenant>', 'tenant id')
  .action(async (id: string) => {
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

withContext(
  program
    .command('encrypt')
    .description('encrypt the value read from standard input; prints the fs1: text form'),
).action(async (opts: ContextOptions) => {
  const value = await readStdin();
  await withClient(async ({ fs }) => {
    console.log(await fs.encrypt(value, contextOf(opts)));
  });
});

withContext(
  program.command('decrypt').description('decrypt the fs1: value read from standard input'),
).action(async (opts: ContextOptions) => {
  const stored = (await readStdin()).trim();
  await withClient(async ({ fs }) => {
    const value = await fs.decrypt(stored, contextOf(opts));
    console.log(typeof value === 'string' ? value : JSON.stringify(value));
  });
});

program
  .command('doctor')
  .description(
    'check configuration, master key, provider, database and schema; says how to fix what is wrong',
  )
  .action(async () => {
    const checks = await runDoctor(globals().config);
    output(
      ['check', 'result', 'detail', 'fix'],
      checks.map((c) => [c.check, c.ok ? 'ok' : 'FAIL', c.detail, c.fix ?? '']),
      checks,
    );
    if (checks.some((c) => !c.ok)) process.exitCode = 1;
  });

registerAuditCommand(program);
registerBackfillCommands(program, keys, globals);
registerDynamoCommands(program, globals);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(
    isFieldsealError(err)
      ? `${err.code}: ${err.message}`
      : err instanceof Error
        ? err.message
        : 'failed',
  );
  process.exitCode = 1;
});
