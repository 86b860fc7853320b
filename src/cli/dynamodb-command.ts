import type { Command } from 'commander';
import { loadModel, openDynamoFromConfig, readConfig } from '../config/index.js';
import { createBlindIndexer, EnvSecretSource } from '../index.js';
import type { DynamoBackfillProgress, DynamoBackfillReport } from '../dynamodb/index.js';
import { formatDuration } from './progress-bar.js';
import { renderTable } from './table.js';

interface Globals {
  config: string;
  json?: boolean;
}

interface BackfillOptions {
  models: string;
  model: string;
  table: string;
  partition: string;
  sort?: string;
  keyTable?: string;
  region?: string;
  endpoint?: string;
  reencrypt?: boolean;
  indexes?: boolean;
  legacyFields?: string;
  legacyKey?: string;
  legacyContext?: string;
  eraseShreddedLegacy?: boolean;
  blindIndexEnv?: string;
  secretsTable?: string;
  pageSize: string;
  maxPages?: string;
  itemsPerSecond?: string;
  segment?: string;
  startKey?: string;
}

/** One progress line of a scan (the total is unknown). Output formatting only. */
function scanLine(p: DynamoBackfillProgress): string {
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  const rate = p.elapsedMs > 0 ? (p.scanned * 1000) / p.elapsedMs : 0;
  return (
    `${n(p.scanned)} items scanned  ${n(rate)} items/s  ${formatDuration(p.elapsedMs / 1000)}` +
    `  rewritten ${n(p.rewritten)} (legacy ${n(p.legacyValues)}, re-encrypted ${n(p.reencryptedValues)})` +
    `  conflicts ${n(p.conflicts)}  failed ${n(p.failed)}`
  );
}

function parseJson(text: string | undefined, what: string): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new TypeError(`${what}: expected JSON`);
  }
}

function parseSegment(text: string | undefined): { index: number; total: number } | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (m === null) throw new TypeError('--segment: expected <index>/<total>, e.g. 0/4');
  return { index: Number(m[1]), total: Number(m[2]) };
}

function printReport(report: DynamoBackfillReport): void {
  console.log(
    renderTable(
      [
        'state',
        'scanned',
        'rewritten',
        'legacy',
        're-encrypted',
        'indexes',
        'erased',
        'conflicts',
        'shredded',
        'foreign',
        'failed',
        'seconds',
      ],
      [
        [
          report.done ? 'complete' : 'incomplete',
          String(report.scanned),
          String(report.rewritten),
          String(report.legacyValues),
          String(report.reencryptedValues),
          String(report.indexAttributes),
          String(report.erasedLegacyValues),
          String(report.conflicts),
          String(report.shredded),
          String(report.foreign),
          String(report.failed),
          (report.elapsedMs / 1000).toFixed(1),
        ],
      ],
    ),
  );
  if (report.failures.length > 0) {
    console.log(
      `\n${renderTable(
        ['item key', 'field', 'code'],
        report.failures.slice(0, 20).map((f) => [JSON.stringify(f.key), f.field, f.code]),
      )}`,
    );
  }
  if (!report.done && report.nextKey !== undefined) {
    console.log(`\nresume with: --start-key '${JSON.stringify(report.nextKey)}'`);
  }
}

/**
 * `fieldseal dynamodb backfill`: argument parsing and output only; the work is done by the
 * library (openDynamoFromConfig, createDynamoRepository, repo.backfill).
 */
export function registerDynamoCommands(program: Command, globals: () => Globals): void {
  const dynamodb = program.command('dynamodb').description('encrypted models on DynamoDB tables');
  dynamodb
    .command('backfill')
    .description('rewrite a DynamoDB table: seed ENC: values, old key versions (resumable)')
    .requiredOption('--models <file>', 'JavaScript module exporting your defineModel() models')
    .requiredOption('--model <name>', 'model name or table')
    .requiredOption('--table <name>', 'the DynamoDB table')
    .requiredOption('--partition <field>', 'model field that is the partition key')
    .option('--sort <field>', 'model field that is the sort key')
    .option('--key-table <name>', 'data keys in this DynamoDB table (default: the config database)')
    .option('--region <region>', 'AWS region (default AWS_REGION)')
    .option('--endpoint <url>', 'DynamoDB endpoint (e.g. DynamoDB Local)')
    .option('--reencrypt', 'also move values to their tenant active key version')
    .option(
      '--indexes',
      'also set missing or wrong blind-index attributes (needs --blind-index-env)',
    )
    .option('--legacy-fields <list>', 'comma-separated fields that may hold seed ENC: values')
    .option('--legacy-key <id>', "the seed's KMS key (opened with the configured provider)")
    .option('--legacy-context <json>', "the seed attribute's KMS encryption context")
    .option('--erase-shredded-legacy', "remove shredded tenants' seed values")
    .option('--blind-index-env <var>', 'environment variable holding the blind-index root key')
    .option('--secrets-table <name>', 'DynamoDB table of the blind-index tenant secrets')
    .option('--page-size <n>', 'items per Scan page', '100')
    .option('--max-pages <n>', 'stop after n pages (resume with --start-key)')
    .option('--items-per-second <n>', 'throttle')
    .option('--segment <i/n>', 'one segment of a parallel scan, e.g. 0/4')
    .option('--start-key <json>', 'resume from this key (printed by an incomplete run)')
    .action(async (opts: BackfillOptions) => {
      const { createDynamoRepository } = await import('../dynamodb/index.js');
      const model = await loadModel(opts.models, opts.model);
      const opened = await openDynamoFromConfig(readConfig(globals().config), {
        fields: { ...model.policies },
        ...(opts.keyTable === undefined ? {} : { keyTable: opts.keyTable }),
        ...(opts.region === undefined ? {} : { region: opts.region }),
        ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
      });
      const stop = new AbortController();
      const onSigint = (): void => {
        process.stderr.write('\nstopping after the current page (resume with --start-key)\n');
        stop.abort();
      };
      process.once('SIGINT', onSigint);
      try {
        const legacyFields = opts.legacyFields?.split(',').filter((f) => f.length > 0) ?? [];
        if (legacyFields.length > 0 && opts.legacyKey === undefined) {
          throw new TypeError('--legacy-fields needs --legacy-key');
        }
        const context = parseJson(opts.legacyContext, '--legacy-context') as
          Record<string, string> | undefined;
        const legacy = Object.fromEntries(
          legacyFields.map((f) => [
            f,
            {
              format: 'pydynox-enc-v1' as const,
              provider: opened.provider,
              masterKeyId: opts.legacyKey!,
              ...(context === undefined ? {} : { context }),
            },
          ]),
        );
        const indexer =
          opts.blindIndexEnv === undefined
            ? undefined
            : await createBlindIndexer({
                source: new EnvSecretSource({ keys: { 'blind-index': opts.blindIndexEnv } }),
                reference: 'blind-index',
              });
        const repo = createDynamoRepository({
          client: opened.client,
          fs: opened.fs,
          model,
          tableName: opts.table,
          keys: {
            partition: opts.partition,
            ...(opts.sort === undefined ? {} : { sort: opts.sort }),
          },
          ...(legacyFields.length > 0 ? { legacy } : {}),
          ...(indexer === undefined
            ? {}
            : {
                blindIndex: {
                  indexer,
                  ...(opts.secretsTable === undefined ? {} : { secretsTable: opts.secretsTable }),
                },
              }),
        });
        const segment = parseSegment(opts.segment);
        const startKey = parseJson(opts.startKey, '--start-key') as
          Record<string, string | number> | undefined;
        const tty = process.stderr.isTTY;
        let last = 0;
        const report = await repo.backfill({
          pageSize: Number(opts.pageSize),
          ...(opts.maxPages === undefined ? {} : { maxPages: Number(opts.maxPages) }),
          ...(opts.itemsPerSecond === undefined
            ? {}
            : { itemsPerSecond: Number(opts.itemsPerSecond) }),
          ...(segment === undefined ? {} : { segment }),
          ...(startKey === undefined ? {} : { startKey }),
          reencrypt: opts.reencrypt === true,
          indexes: opts.indexes === true,
          eraseShreddedLegacy: opts.eraseShreddedLegacy === true,
          signal: stop.signal,
          onProgress: (p) => {
            if (globals().json === true) return;
            if (tty) process.stderr.write(`\r${scanLine(p)}\u001b[K`);
            else if (Date.now() - last >= 2000) {
              last = Date.now();
              process.stderr.write(`${scanLine(p)}\n`);
            }
          },
        });
        if (globals().json !== true) {
          // The last state, whatever the throttling of the lines above skipped.
          process.stderr.write(tty ? '\n' : `${scanLine(report)}\n`);
        }
        indexer?.destroy();
        if (globals().json === true) console.log(JSON.stringify(report, null, 2));
        else printReport(report);
        if (!report.done) process.exitCode = 2;
        else if (report.failed > 0) process.exitCode = 1;
      } finally {
        process.off('SIGINT', onSigint);
        await opened.close();
      }
    });
}
