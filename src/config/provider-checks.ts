import { isFieldsealError, type FieldsealErrorCode } from '../errors.js';
import type { FieldsealConfig } from './config-file.js';
import type { DoctorCheck } from './doctor-check.js';
import { providerFromConfig } from './provider-config.js';

/** What to do about a provider failure, by error code. @internal */
export const PROVIDER_FIXES: Partial<Record<FieldsealErrorCode, (kind: string) => string>> = {
  ERR_ACCESS_DENIED: (kind) =>
    `grant this process the ${kind} permissions of its mode (docs/providers.md): generate and decrypt for ReadWrite`,
  ERR_KEY_NOT_CONFIGURED: () =>
    'the master key (or a variable, file or token the configuration names) does not exist: create it or fix the name',
  ERR_KEY_SHREDDED: () =>
    'the master key is pending deletion or destroyed: cancel the deletion at the provider, or configure another key',
  ERR_KEY_UNWRAP_FAILED: () =>
    'the provider returned a key it cannot unwrap: check that every process uses the same master key',
  ERR_PROVIDER_UNAVAILABLE: (kind) =>
    `the ${kind} provider did not answer (network, endpoint, disabled key, HSM session): see the detail`,
};

/**
 * The doctor's provider checks: build the configured provider (variables and modules present),
 * then a generate + unwrap round trip under a throw-away context, which proves reachability,
 * the permissions a ReadWrite client needs and that the master key is usable.
 * @internal
 */
export async function providerChecks(config: FieldsealConfig): Promise<DoctorCheck[]> {
  const { kind, masterKeyId } = config.provider;
  let opened: Awaited<ReturnType<typeof providerFromConfig>>;
  try {
    opened = await providerFromConfig(config.provider);
  } catch (err) {
    return [
      {
        check: 'provider',
        ok: false,
        detail: `${kind}: ${describe(err)}`,
        fix: buildFix(err, config),
      },
    ];
  }
  const checks: DoctorCheck[] = [
    { check: 'provider', ok: true, detail: `${kind} (${opened.provider.id})` },
  ];
  try {
    const context = { tenant: 'fieldseal-doctor' };
    const generated = await opened.provider.generateDataKey(masterKeyId, context);
    const back = await opened.provider.unwrapDataKey(masterKeyId, generated.wrapped, context);
    const same = back.commitment.equals(generated.key.commitment);
    generated.key.release();
    back.release();
    checks.push({
      check: 'provider round trip',
      ok: same,
      detail: same
        ? `generate + unwrap under ${masterKeyId} returned the same data key`
        : 'unwrap returned another key',
    });
  } catch (err) {
    const fix = isFieldsealError(err) ? PROVIDER_FIXES[err.code]?.(kind) : undefined;
    checks.push({
      check: 'provider round trip',
      ok: false,
      detail: describe(err),
      fix: fix ?? 'check the master key',
    });
  } finally {
    await opened.close();
  }
  return checks;
}

/** What to do when the configured provider cannot be built. */
function buildFix(err: unknown, config: FieldsealConfig): string {
  const p = config.provider;
  if (!isFieldsealError(err)) {
    return `install the optional dependency of the ${p.kind} provider and check config.provider`;
  }
  if (p.kind === 'local') return keyFileFix(err, p.keyFile);
  return err.details.reference === undefined
    ? 'check config.provider'
    : `set ${err.details.reference}`;
}

/**
 * The fix for a key file the CLI refused (the one rule of src/config/key-file.ts): `chmod 600`
 * for an exposed one, `fieldseal keygen` for a missing or malformed one.
 * @internal
 */
export function keyFileFix(err: unknown, file: string): string {
  if (isFieldsealError(err) && err.code === 'ERR_INSECURE_KEY_FILE') return `chmod 600 ${file}`;
  return `create one with \`fieldseal keygen ${file}\` (exactly 32 bytes, base64: or hex: prefix), or fix config.provider.keyFile`;
}

/** `CODE: message` of a failure, for a doctor row (messages never hold secrets). @internal */
export function describe(err: unknown): string {
  if (isFieldsealError(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : 'failed';
}
