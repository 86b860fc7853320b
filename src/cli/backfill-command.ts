import type { Command } from 'commander';
import { loadModel, openDatabase, openFromConfig, readConfig } from '../config/index.js';
import {
  backfillStatus,
  countKeyUsage,
  listBackfills,
  resealBlindIndexSecrets,
  retireKeyVersion,
  runBackfill,
  type BackfillStatus,
} from '../postgres/index.js';
import type { CliContext } from './cli-errors.js';
import { progressReporter } from './progress-bar.js';
import { renderTable } from './table.js';

interface Globals {
  config: string;
  json?: boolean;
}

interface ModelOptions {
  models: string;
  model: string;
  table?: string;
}

/**
 * `fieldseal backfill run|status` and `fieldseal keys usage|retire|reseal-index-secrets`:
 * argument parsing and output only; the work is done by the library (runBackfill,
 * countKeyUsage, retireKeyVersion, resealBlindIndexSecrets). `ctx` names the tenant and models
 * file in errors.
 */
export function registerBackfillCommands(
  program: Command,
  keys: Command,
  globals: () => Globals,
  ctx: CliContext,
): void {
  const backfill = program
    .command('backfill')
    .description('re-encrypt a table under the active key versions (or encrypt legacy plaintext)');

  backfill
    .command('run')
    .description('run (or resume, or join) a checkpointed backfill of a model table')
    .requiredOption('--models <file>', 'JavaScript module exporting your defineModel() models')
    .requiredOption('--model <name>', 'model name or table to backfill')
    .option('--table <name>', 'table name in the database (default: the model table)')
    .option('--fields <list>', 'comma-separated encrypted fields (default: all)')
    .option('--name <job>', 'job name, the checkpoint identity (default: the table)')
    .option('--chunk-size <rows>', 'rows per chunk, fixed when the job is planned', '500')
    .option('--rows-per-second <n>', 'cap this worker at n rows per second')
    .option('--worker <id>', 'this worker name (default host:pid)')
    .option('--restart', 'plan the job again if it already finished')
    .action(
      async (
        opts: ModelOptions & {
          fields?: string;
          name?: string;
          chunkSize: string;
          rowsPerSecond?: string;
          worker?: string;
          restart?: boolean;
        },
      ) => {
        ctx.models = opts.models;
        const model = await loadModel(opts.models, opts.model);
        const opened = await openFromConfig(readConfig(globals().config), {
          fields: { ...model.policies },
        });
        const stop = new AbortController();
        const onSigint = (): void => {
          process.stderr.write('\nstopping after the current chunk (the job stays resumable)\n');
          stop.abort();
        };
        process.once('SIGINT', onSigint);
        const progress = progressReporter(process.stderr);
        try {
          const report = await runBackfill({
            sql: opened.sql,
            fs: opened.fs,
            model,
            ...(opts.table === undefined ? {} : { tableName: opts.table }),
            ...(opts.fields === undefined ? {} : { fields: opts.fields.split(',') }),
            ...(opts.name === undefined ? {} : { name: opts.name }),
            chunkSize: Number(opts.chunkSize),
            ...(opts.rowsPerSecond === undefined
              ? {}
              : { rowsPerSecond: Number(opts.rowsPerSecond) }),
            ...(opts.worker === undefined ? {} : { worker: opts.worker }),
            restart: opts.restart === true,
            onProgress: globals().json === true ? undefined : progress.update,
            signal: stop.signal,
          });
          progress.done();
          if (globals().json === true) console.log(JSON.stringify(report, null, 2));
          else
            console.log(
              renderTable(
                [
                  'job',
                  'state',
                  'chunks',
                  'rows examined',
                  'rows rewritten',
                  'values rewritten',
                  'shredded rows',
                  'conflicts',
                  'seconds',
                ],
                [
                  [
                    report.name,
                    report.complete ? 'complete' : 'incomplete (resume with the same command)',
                    String(report.chunks),
                    String(report.rowsExamined),
                    String(report.rowsWritten),
                    String(report.valuesWritten),
                    String(report.rowsShredded),
                    String(report.conflicts),
                    (report.elapsedMs / 1000).toFixed(1),
                  ],
                ],
              ),
            );
          if (!report.complete) process.exitCode = 2;
        } finally {
          process.off('SIGINT', onSigint);
          opened.fs.close();
          await opened.close();
        }
      },
    );

  backfill
    .command('status')
    .description('show backfill jobs and their progress (all workers)')
    .argument('[job]', 'one job name (default: every job)')
    .action(async (job: string | undefined) => {
      const db = await openDatabase(readConfig(globals().config));
      try {
        let jobs: BackfillStatus[];
        if (job === undefined) jobs = await listBackfills(db.sql);
        else {
          const one = await backfillStatus(db.sql, job);
          if (one === undefined) {
            throw new TypeError(
              `no backfill job named "${job}": run \`fieldseal backfill status\` to list the jobs`,
            );
          }
          jobs = [one];
        }
        if (globals().json === true) console.log(JSON.stringify(jobs, null, 2));
        else
          console.log(
            jobs.length === 0
              ? '(none)'
              : renderTable(
                  [
                    'job',
                    'table',
                    'fields',
                    'chunks done',
                    'rows done',
                    'rows rewritten',
                    'workers',
                    'finished',
                  ],
                  jobs.map((j) => [
                    j.name,
                    j.tableName,
                    j.fields.join(','),
                    `${j.chunksDone}/${j.chunks}`,
                    `${j.rowsDone}/${j.rowsTotal}`,
                    String(j.rowsWritten),
                    String(j.workers),
                    j.finishedAt === null ? 'no' : j.finishedAt.toISOString(),
                  ]),
                ),
          );
      } finally {
        await db.close();
      }
    });

  const modelList = async (opts: ModelOptions) => {
    ctx.models = opts.models;
    return Promise.all(opts.model.split(',').map((name) => loadModel(opts.models, name)));
  };

  keys
    .command('usage')
    .description('count which data-key versions the stored values of a tenant use')
    .argument('<tenant>', 'tenant id')
    .requiredOption('--models <file>', 'JavaScript module exporting your models')
    .requiredOption('--model <names>', 'comma-separated model names or tables to count')
    .action(async (tenant: string, opts: ModelOptions) => {
      ctx.tenant = tenant;
      const models = await modelList(opts);
      const policies = Object.assign({}, ...models.map((m) => m.policies)) as Record<string, never>;
      const opened = await openFromConfig(readConfig(globals().config), { fields: policies });
      try {
        const usage = await countKeyUsage({
          sql: opened.sql,
          fs: opened.fs,
          tables: models.map((model) => ({ model })),
          tenant,
        });
        if (globals().json === true) console.log(JSON.stringify(usage, null, 2));
        else
          console.log(
            renderTable(
              ['field', 'key version', 'values'],
              Object.entries(usage.byField).flatMap(([field, byKey]) =>
                Object.entries(byKey).map(([key, n]) => [field, key, String(n)]),
              ),
            ),
          );
      } finally {
        opened.fs.close();
        await opened.close();
      }
    });

  keys
    .command('retire')
    .description('retire versions below --below once no stored value uses them (counted)')
    .argument('<tenant>', 'tenant id')
    .requiredOption('--below <version>', 'minimum decryption version')
    .requiredOption('--models <file>', 'JavaScript module exporting your models')
    .requiredOption('--model <names>', 'comma-separated models whose tables hold the tenant data')
    .option('--min-active-age <seconds>', 'refuse while the active version is younger', '900')
    .action(
      async (tenant: string, opts: ModelOptions & { below: string; minActiveAge: string }) => {
        ctx.tenant = tenant;
        const models = await modelList(opts);
        const policies = Object.assign({}, ...models.map((m) => m.policies)) as Record<
          string,
          never
        >;
        const config = readConfig(globals().config);
        // Retires, and reinstates what it retired if values appear under it meanwhile.
        const opened = await openFromConfig(config, {
          fields: policies,
          admin: ['retire', 'reinstate'],
        });
        try {
          const { retired } = await retireKeyVersion({
            sql: opened.sql,
            fs: opened.fs,
            store: opened.store,
            tables: models.map((model) => ({ model })),
            tenant,
            below: Number(opts.below),
            keyId: config.keyId,
            minActiveAgeMs: Number(opts.minActiveAge) * 1000,
          });
          if (globals().json === true) console.log(JSON.stringify({ tenant, retired }, null, 2));
          else
            console.log(
              retired.length === 0
                ? 'nothing to retire'
                : renderTable(
                    ['tenant', 'retired version'],
                    retired.map((v) => [tenant, String(v)]),
                  ),
            );
        } finally {
          opened.fs.close();
          await opened.close();
        }
      },
    );

  keys
    .command('reseal-index-secrets')
    .description(
      "seal a tenant's blind-index secrets again under its active data-key version (before keys retire)",
    )
    .argument('[tenant]', 'tenant id (default: every tenant)')
    .option('--table <name>', 'table of the sealed secrets', 'fieldseal_blind_index_secrets')
    .action(async (tenant: string | undefined, opts: { table: string }) => {
      if (tenant !== undefined) ctx.tenant = tenant;
      const opened = await openFromConfig(readConfig(globals().config));
      try {
        const report = await resealBlindIndexSecrets({
          sql: opened.sql,
          fs: opened.fs,
          table: opts.table,
          ...(tenant === undefined ? {} : { tenant }),
        });
        if (globals().json === true) console.log(JSON.stringify(report, null, 2));
        else {
          console.log(
            renderTable(
              ['secrets checked', 'resealed', 'failed'],
              [[String(report.checked), String(report.resealed), String(report.failed)]],
            ),
          );
          if (report.failures.length > 0) {
            console.log(
              `\n${renderTable(
                ['tenant', 'index version', 'error'],
                report.failures.map((f) => [f.tenant, String(f.indexVersion), f.code]),
              )}`,
            );
          }
        }
        if (report.failed > 0) process.exitCode = 1;
      } finally {
        opened.fs.close();
        await opened.close();
      }
    });
}
