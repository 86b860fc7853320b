import { InvalidArgumentError, type Command } from 'commander';
import { performance } from 'node:perf_hooks';
import type { AuditHead } from '../audit/chain-encoding.js';
import type { AuditChainKey } from '../audit/chain-key.js';
import type { AuditVerification } from '../postgres/audit/audit-verification.js';
import { verifyAuditChain } from '../postgres/audit/verify-audit-chain.js';
import { CONFIG_FILE, readConfig } from '../config/config-file.js';
import { openDatabase } from '../config/open-from-config.js';
import { keyFileSource } from '../config/key-file.js';
import { renderTable } from './table.js';

interface VerifyOptions {
  config?: string;
  json?: boolean;
  keyFile?: string;
  anchor?: AuditHead[];
  from?: AuditHead;
}

/** Parse `<seq>:<hash>` as printed by `audit verify` (argument parsing only). */
function parseHead(text: string): AuditHead {
  const m = /^(\d{1,16}):([0-9a-fA-F]{64})$/.exec(text.trim());
  if (m === null) throw new InvalidArgumentError('expected <seq>:<64 hex digits>');
  return { seq: Number(m[1]), hash: (m[2] ?? '').toLowerCase() };
}

function describe(r: AuditVerification, ms: number): string[][] {
  const rows = [
    ['result', r.ok ? 'ok: the chain is intact' : 'BROKEN'],
    ['rows verified', String(r.rows)],
    [r.ok ? 'head' : 'last intact row', `${r.head.seq}:${r.head.hash}`],
  ];
  const b = r.firstBroken;
  if (b !== undefined) {
    rows.push(['first broken row', String(b.seq)], ['reason', b.reason]);
    if (b.appendedAs !== undefined) rows.push(['appended as', String(b.appendedAs)]);
    rows.push(['detail', b.message]);
  }
  rows.push(['time', `${ms.toFixed(0)} ms`]);
  return rows;
}

/**
 * Register `fieldseal audit verify [--json] [--key-file <path>] [--anchor <seq:hash>...]
 * [--from <seq:hash>]` on the CLI program: verifies the audit hash chain of the configured
 * database, prints the result (the head to publish when intact, the first broken row
 * otherwise) and sets exit code 1 when the chain is broken. The global `--config` and
 * `--json` options of `program` are honoured.
 * @example
 * ```ts
 * const program = new Command().option('-c, --config <file>').option('--json');
 * registerAuditCommand(program);
 * await program.parseAsync(['node', 'fieldseal', 'audit', 'verify']);
 * ```
 */
export function registerAuditCommand(program: Command): Command {
  const audit = program.command('audit').description('the audit trail of key operations');
  audit
    .command('verify')
    .description('verify the audit hash chain; exit code 1 and the first broken row if tampered')
    .option('--key-file <path>', "the chain's HMAC key file (base64:/hex:), if the sink had a key")
    .option(
      '--anchor <seq:hash>',
      'a head published earlier, that must still be in the chain (repeatable)',
      (v: string, prev: AuditHead[] | undefined) => [...(prev ?? []), parseHead(v)],
    )
    .option('--from <seq:hash>', 'start after this trusted checkpoint (a pruned chain)', parseHead)
    .action(async (_opts: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<VerifyOptions>();
      const key: AuditChainKey | undefined =
        o.keyFile === undefined
          ? undefined
          : { source: keyFileSource(o.keyFile, 'audit'), reference: 'audit' };
      const db = await openDatabase(readConfig(o.config ?? CONFIG_FILE));
      const started = performance.now();
      let result: AuditVerification;
      try {
        result = await verifyAuditChain(db.sql, {
          ...(key === undefined ? {} : { key }),
          ...(o.from === undefined ? {} : { from: o.from }),
          anchors: o.anchor ?? [],
        });
      } finally {
        await db.close();
      }
      const ms = performance.now() - started;
      if (o.json === true) console.log(JSON.stringify({ ...result, elapsedMs: ms }, null, 2));
      else console.log(renderTable(['audit chain', ''], describe(result, ms)));
      if (!result.ok) process.exitCode = 1;
    });
  return audit;
}
