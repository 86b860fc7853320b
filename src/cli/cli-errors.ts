import { CommanderError } from 'commander';
import { isFieldsealError, type FieldsealError, type KeyVersionUse } from '../index.js';

/*
 * The one place where the CLI turns a failure into what an operator reads: the library's code
 * and message, the tenant, key version, file or column involved, and the `fieldseal` command to
 * run next (CLI advice, never library advice). Output formatting only: no decision of the
 * library is taken here.
 */

/** What the running command is about, set by its action: named in its errors. */
export interface CliContext {
  /** The configuration file (`--config`). */
  config: string;
  tenant?: string;
  /** `--models` of a command that loads models. */
  models?: string;
}

/** A failure as the CLI prints it (and as `--json` prints it, under `error`). */
export interface CliFailure {
  /** The library's stable code, or `ERR_USAGE` / `ERR_INVALID_ARGUMENT` / `ERR_FAILED`. */
  readonly code: string;
  readonly message: string;
  /** The command(s) to run next, when there is one. */
  readonly next?: readonly string[];
  readonly tenant?: string;
  /** Key reference (`keyId@version` or `provider:masterKeyId`). */
  readonly key?: string;
  /** `table.field` the failing value belongs to. */
  readonly field?: string;
  /** A file or environment variable the failure is about. */
  readonly reference?: string;
  /** `keys retire`: everything that still uses the version, each with the command that fixes it. */
  readonly uses?: readonly (KeyVersionUse & { readonly fix: string })[];
}

const sh = (s: string): string =>
  /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;

/** The failure of `err` in `ctx`. */
export function cliFailure(err: unknown, ctx: CliContext): CliFailure {
  if (err instanceof CommanderError) {
    // A command group without its subcommand: commander has printed the group's help.
    if (err.code === 'commander.help') {
      return { code: 'ERR_USAGE', message: 'a command is needed (listed above)' };
    }
    return { code: 'ERR_USAGE', message: err.message.replace(/^error: /, '') };
  }
  if (isFieldsealError(err)) return fieldsealFailure(err, ctx);
  const code =
    err instanceof TypeError || err instanceof RangeError ? 'ERR_INVALID_ARGUMENT' : 'ERR_FAILED';
  return { code, message: err instanceof Error ? err.message : 'failed' };
}

function fieldsealFailure(err: FieldsealError, ctx: CliContext): CliFailure {
  const { keyRef, field, reference } = err.details;
  const tenant = ctx.tenant;
  const t = tenant === undefined ? '<tenant>' : sh(tenant);
  const facts = [
    tenant === undefined ? undefined : `tenant ${JSON.stringify(tenant)}`,
    keyRef === undefined ? undefined : `key ${keyRef}`,
    field === undefined ? undefined : `field ${field}`,
  ].filter((x) => x !== undefined);
  const message = facts.length === 0 ? err.message : `${err.message} (${facts.join(', ')})`;
  const base = {
    code: err.code,
    message,
    ...(tenant === undefined ? {} : { tenant }),
    ...(keyRef === undefined ? {} : { key: keyRef }),
    ...(field === undefined ? {} : { field }),
    ...(reference === undefined ? {} : { reference }),
  };
  const cfg = ctx.config === 'fieldseal.config.json' ? '' : ` --config ${sh(ctx.config)}`;
  const doctor = `fieldseal${cfg} doctor`;
  const next = (...steps: string[]): CliFailure => ({ ...base, next: steps });
  switch (err.code) {
    case 'ERR_CONFIG_NOT_FOUND':
      return next(
        `fieldseal${cfg} init   (creates ${reference ?? ctx.config}), or pass --config <file>`,
      );
    case 'ERR_INSECURE_KEY_FILE':
      return next(`chmod 600 ${sh(reference ?? '<key file>')}`);
    case 'ERR_MISSING_PEER':
      return next(`npm install ${reference ?? '<package>'}`);
    case 'ERR_KEY_NOT_CONFIGURED':
      if (err.message.includes('never provisioned')) {
        return next(`fieldseal${cfg} tenant create ${t}`);
      }
      if (err.message.startsWith('key file') && reference !== undefined) {
        return next(`fieldseal keygen ${sh(reference)}   (a new key cannot read existing data)`);
      }
      if (err.message.startsWith('environment variable') && reference !== undefined) {
        return next(`export ${reference}=...   (the variable config.provider names)`);
      }
      if (keyRef?.includes(':') === true) {
        return next(
          `add "${keyRef.slice(keyRef.indexOf(':') + 1)}" to "acceptMasterKeyIds" in ${ctx.config}`,
        );
      }
      return next(doctor);
    case 'ERR_INVALID_KEY_MATERIAL':
    case 'ERR_KEY_UNWRAP_FAILED':
    case 'ERR_KEY_COMMITMENT_MISMATCH':
    case 'ERR_PROVIDER_UNAVAILABLE':
    case 'ERR_ACCESS_DENIED':
    case 'ERR_AUDIT_UNAVAILABLE':
      return next(`${doctor}   (names the failing key file, provider or key version, and the fix)`);
    case 'ERR_KEY_STORE_UNAVAILABLE':
      return next(
        err.message.includes('another process')
          ? 'wait for the other fieldseal process to finish (the embedded database takes one at a time)'
          : doctor,
      );
    case 'ERR_KEY_RETIRED': {
      const v = keyRef?.split('@')[1] ?? '<version>';
      return next(`fieldseal${cfg} keys reinstate ${t} ${v}`);
    }
    case 'ERR_KEY_VERSION_ACTIVE':
      return next(
        `fieldseal${cfg} tenant rotate ${t}`,
        'then re-encrypt with `fieldseal backfill run` and retire again',
      );
    case 'ERR_KEY_VERSION_IN_USE':
      return retireFailure(err, base, ctx, cfg, t);
    case 'ERR_WRONG_KEY':
    case 'ERR_AUTHENTICATION_FAILED':
      return next(
        'check --tenant, --table, --field and --record: they must be those the value was encrypted with',
      );
    case 'ERR_BACKFILL_FAILED':
      return next(
        `fix the value${field === undefined ? '' : ` of ${field}`} the cause names, then run the same command again (it resumes)`,
      );
    default:
      return base;
  }
}

/** `keys retire` refused: each use of the version with the command that removes it. */
function retireFailure(
  err: FieldsealError,
  base: CliFailure,
  ctx: CliContext,
  cfg: string,
  t: string,
): CliFailure {
  const uses = 'uses' in err ? err.uses : [];
  if (uses.length === 0) {
    return {
      ...base,
      next: [
        'wait until the active version is older than --min-active-age (other processes may still write under older versions), then run the same command again',
      ],
    };
  }
  const models = ctx.models === undefined ? '<models file>' : sh(ctx.models);
  const withFix = uses.map((u) => ({
    ...u,
    fix:
      u.kind === 'blind-index-secret'
        ? `fieldseal${cfg} keys reseal-index-secrets ${t}`
        : `fieldseal${cfg} backfill run --models ${models} --model ${sh(u.model ?? u.table)}${
            u.model !== undefined && u.model !== u.table ? ` --table ${sh(u.table)}` : ''
          }`,
  }));
  return { ...base, uses: withFix, next: [...new Set(withFix.map((u) => u.fix))] };
}

/** Print a failure: JSON `{ "error": ... }` on standard output, or text on standard error. */
export function printFailure(f: CliFailure, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ error: f }, null, 2)}\n`);
    return;
  }
  const lines = [`${f.code}: ${f.message}`];
  if (f.uses !== undefined) {
    lines.push('still using it:');
    for (const u of f.uses) {
      const what =
        u.kind === 'blind-index-secret'
          ? `blind-index secret of index version ${u.indexVersion ?? '?'} (${u.table})`
          : `${u.table}.${u.column}`;
      lines.push(`  ${what}: ${u.count} value(s) under ${u.key}   fix: ${u.fix}`);
    }
  }
  if (f.next !== undefined && f.next.length > 0) {
    lines.push(...f.next.map((n, i) => `${i === 0 ? 'next:' : '     '} ${n}`));
  }
  process.stderr.write(`${lines.join('\n')}\n`);
}
