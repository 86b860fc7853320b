import { isFieldsealError } from '../errors.js';
import type { StoredKeyVersion } from '../keys/key-store.js';
import { PostgresKeyStore } from '../postgres/postgres-key-store.js';
import type { SqlClient } from '../postgres/sql-client.js';
import type { FieldsealConfig } from './config-file.js';
import type { DoctorCheck } from './doctor-check.js';
import { clientFromConfig } from './open-from-config.js';
import { PROVIDER_FIXES, describe } from './provider-checks.js';
import { providerFromConfig } from './provider-config.js';

/** Versions unwrapped per tenant: the active one plus a few others (all when few). */
export const VERSIONS_PER_TENANT = 4;
/** Tenants checked at most; the check says when there were more. */
export const MAX_TENANTS = 1000;
/** Readable versions per tenant the key-management guide calls healthy (1–3). */
export const HEALTHY_VERSIONS = 3;

/**
 * The doctor's proof that the setup can read what exists: for each tenant in the configured
 * key store, a sample of its stored data-key versions (the active one, the oldest, and the
 * newest others up to {@link VERSIONS_PER_TENANT}; every one when there are few) is unwrapped
 * by a client opened exactly as every command opens it (`Fieldseal.checkKeyVersion`: accepted
 * master key, provider, stored commitment). One row per failing version, naming the tenant,
 * the version, the error code and the fix; one row summing up. Shredded versions are skipped.
 * @internal
 */
export async function keyVersionChecks(
  config: FieldsealConfig,
  sql: SqlClient,
  configFile: string,
): Promise<DoctorCheck[]> {
  let opened: Awaited<ReturnType<typeof providerFromConfig>>;
  try {
    opened = await providerFromConfig(config.provider);
  } catch {
    // Reported by the provider check; nothing can be unwrapped without it.
    return [
      {
        check: 'stored data keys',
        ok: false,
        detail: 'not checked: the provider cannot be built (see above)',
        fix: 'fix the provider first',
      },
    ];
  }
  const store = new PostgresKeyStore({ sql });
  // No admin, no audit sink: the doctor changes nothing (the provider calls are still counted).
  const fs = clientFromConfig(config, opened.provider, store, undefined);
  const checks: DoctorCheck[] = [];
  let tenants = 0;
  let unwrapped = 0;
  let sampled = false;
  let maxReadable = 0;
  let overHealthy = 0;
  try {
    const all = await store.listTenants();
    for (const t of all.slice(0, MAX_TENANTS)) {
      tenants++;
      const versions = (await store.listVersions(t.tenant)).filter(
        (v) => v.keyId === config.keyId && v.state !== 'shredded',
      );
      const readable = versions.filter((v) => v.state === 'active' || v.state === 'decrypt-only');
      maxReadable = Math.max(maxReadable, readable.length);
      if (readable.length > HEALTHY_VERSIONS) overHealthy++;
      const sample = sampleVersions(versions);
      if (sample.length < versions.length) sampled = true;
      for (const v of sample) {
        try {
          await fs.checkKeyVersion(t.tenant, v.version);
          unwrapped++;
        } catch (err) {
          checks.push({
            check: `data key ${t.tenant} ${v.keyId}@${v.version}`,
            ok: false,
            detail: `${v.state}, wrapped under ${v.providerId}:${v.masterKeyId}: ${describe(err)}`,
            fix: fixFor(err, v, config, configFile),
          });
        }
      }
    }
    const failed = checks.length;
    const scope =
      all.length > MAX_TENANTS ? `the first ${MAX_TENANTS} of ${all.length} tenants` : 'tenants';
    checks.unshift({
      check: 'stored data keys',
      ok: failed === 0,
      detail:
        tenants === 0
          ? 'no tenant provisioned yet'
          : `${unwrapped} version(s) of ${scope === 'tenants' ? `${tenants} tenant(s)` : scope} unwrapped` +
            `${failed === 0 ? '' : `, ${failed} failed (below)`}` +
            (sampled ? ` (a sample: up to ${VERSIONS_PER_TENANT} per tenant)` : ' (every version)'),
      ...(failed === 0 ? {} : { fix: 'see the failing versions below' }),
    });
    if (tenants > 0) checks.push(versionsPerTenantCheck(maxReadable, overHealthy, tenants));
  } catch (err) {
    checks.unshift({
      check: 'stored data keys',
      ok: false,
      detail: describe(err),
      fix: 'check the database (see above)',
    });
  } finally {
    fs.close();
    await opened.close();
  }
  return checks;
}

/**
 * The health table's "key versions per tenant": readable (active or decrypt-only) versions
 * per tenant, healthy from 1 to 3; more is a warning with the guide's mitigation.
 */
function versionsPerTenantCheck(max: number, over: number, tenants: number): DoctorCheck {
  const check = 'key versions per tenant';
  if (over === 0) {
    return { check, ok: true, detail: `at most ${max} readable per tenant (healthy: 1–3)` };
  }
  return {
    check,
    ok: false,
    level: 'warning',
    detail: `${over} of ${tenants} tenant(s) keep more than ${HEALTHY_VERSIONS} readable versions (at most ${max})`,
    fix: 're-encrypt old values (`fieldseal backfill run`), then retire the old versions (`fieldseal backfill retire`)',
  };
}

/** The active version, the oldest, then the newest others, up to VERSIONS_PER_TENANT. */
export function sampleVersions(versions: readonly StoredKeyVersion[]): StoredKeyVersion[] {
  if (versions.length <= VERSIONS_PER_TENANT) return [...versions];
  const byAge = [...versions].sort((a, b) => b.version - a.version);
  const picked = new Set<StoredKeyVersion>();
  const active = byAge.find((v) => v.state === 'active');
  if (active !== undefined) picked.add(active);
  picked.add(byAge[byAge.length - 1]!);
  for (const v of byAge) {
    if (picked.size >= VERSIONS_PER_TENANT) break;
    picked.add(v);
  }
  return [...picked].sort((a, b) => a.version - b.version);
}

function fixFor(
  err: unknown,
  v: StoredKeyVersion,
  config: FieldsealConfig,
  configFile: string,
): string {
  const code = isFieldsealError(err) ? err.code : undefined;
  const p = config.provider;
  switch (code) {
    case 'ERR_KEY_UNWRAP_FAILED':
    case 'ERR_KEY_COMMITMENT_MISMATCH':
      return p.kind === 'local'
        ? `${p.keyFile} is not the master key this version was wrapped under: put the original key file back (values under this version stay unreadable until then)`
        : `the configured ${p.kind} key is not the one this version was wrapped under: configure master key "${v.masterKeyId}" (values under this version stay unreadable until then)`;
    case 'ERR_KEY_NOT_CONFIGURED':
      return v.masterKeyId === p.masterKeyId
        ? `no configured provider is "${v.providerId}": configure the provider this version was wrapped with`
        : `add "${v.masterKeyId}" to "acceptMasterKeyIds" in ${configFile} (the version is wrapped under it)`;
    default: {
      const fix = code === undefined ? undefined : PROVIDER_FIXES[code]?.(p.kind);
      return fix ?? 'see the detail';
    }
  }
}
