#!/usr/bin/env node
import { Command } from 'commander';
import { runDemo } from '../demo/run-demo.js';
import { generateKeyFile, inspectEnvelope, isFieldsealError } from '../index.js';
import { abbreviate, renderTable } from './table.js';

const program = new Command()
  .name('fieldseal')
  .description('Fail-closed field encryption for database records')
  .version('0.1.0');

program
  .command('demo')
  .description('encrypt realistic customer records with a local master key and show failures')
  .option('--dir <path>', 'where the demo keeps its master key file', '.fieldseal')
  .action(async (opts: { dir: string }) => {
    const report = await runDemo(opts.dir);
    console.log(
      `Master key file: ${report.keyFile} (${report.createdKeyFile ? 'created now' : 'reused'}; the key itself is never printed)\n`,
    );
    console.log(
      renderTable(
        ['customer', 'field', 'stored in the database', 'data key', 'decrypted'],
        report.rows.map((r) => [r.customer, r.field, abbreviate(r.stored), r.key, r.decrypted]),
      ),
    );
    console.log('\nAttacks and mistakes, each refused with a typed error:\n');
    console.log(
      renderTable(
        ['attempt', 'result'],
        report.failures.map((f) => [f.attempt, f.code]),
      ),
    );
    const m = report.metrics;
    const calls = Object.values(m.providerCalls)[0];
    console.log(
      `\n${m.encrypted} values encrypted, ${m.decrypted} decrypted; data-key cache ${m.cache.hits} hits / ${m.cache.misses} misses; ` +
        `provider calls: ${calls?.generate ?? 0} generate, ${calls?.unwrap ?? 0} unwrap.`,
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
