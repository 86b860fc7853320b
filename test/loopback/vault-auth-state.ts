import { randomBytes } from 'node:crypto';
import { VaultError, type TransitKey } from './vault-transit-crypto.js';

/**
 * The loopback Vault's per-namespace state and its token auth: tokens with leases on the
 * server's clock and optional path-prefix policies, AppRole login, Vault's 403 and 400 errors.
 */

/** A token: lease end (none for a root-like token), renewability and the paths it may use. */
export interface TokenInfo {
  expiresAt: number | undefined;
  ttlMs: number;
  renewable: boolean;
  /** Path prefixes (below /v1/) this token may use; undefined = root. */
  allow: readonly string[] | undefined;
}
/** Everything one `X-Vault-Namespace` holds. */
export interface Namespace {
  transit: Map<string, TransitKey>;
  kv: Map<string, { data: Record<string, unknown>; version: number }>;
  tokens: Map<string, TokenInfo>;
  approles: Map<string, { secretId: string; ttlMs: number; allow?: readonly string[] }>;
  kvLeaseSeconds: number;
}

/** An empty namespace. */
export function newNamespace(): Namespace {
  return {
    transit: new Map(),
    kv: new Map(),
    tokens: new Map(),
    approles: new Map(),
    kvLeaseSeconds: 0,
  };
}

/** A new random token id. */
export function newToken(): string {
  return `hvs.${randomBytes(18).toString('base64url')}`;
}

/** `POST auth/<mount>/login` of AppRole. */
export function login(
  ns: Namespace,
  body: Record<string, unknown>,
  now: number,
): Record<string, unknown> {
  const role = typeof body.role_id === 'string' ? ns.approles.get(body.role_id) : undefined;
  if (role === undefined || role.secretId !== body.secret_id) {
    throw new VaultError(400, ['invalid role or secret ID']);
  }
  const token = newToken();
  const info: TokenInfo = {
    expiresAt: now + role.ttlMs,
    ttlMs: role.ttlMs,
    renewable: true,
    allow: role.allow,
  };
  ns.tokens.set(token, info);
  return authBody(token, info);
}

/** The token's state, or Vault's 403 when it is unknown, expired or not allowed `path`. */
export function authorise(
  ns: Namespace,
  path: string,
  token: string | undefined,
  now: number,
): TokenInfo {
  const info = token === undefined ? undefined : ns.tokens.get(token);
  if (info === undefined) throw new VaultError(403, ['permission denied']);
  if (info.expiresAt !== undefined && now >= info.expiresAt) {
    ns.tokens.delete(token!);
    throw new VaultError(403, ['permission denied']);
  }
  const self = path === 'auth/token/renew-self' || path === 'auth/token/lookup-self';
  if (!self && info.allow !== undefined && !info.allow.some((p) => path.startsWith(p))) {
    throw new VaultError(403, ['1 error occurred:\n\t* permission denied\n\n']);
  }
  return info;
}

/** The `auth` block of a login or renew-self answer. */
export function authBody(token: string, info: TokenInfo): Record<string, unknown> {
  return {
    auth: {
      client_token: token,
      policies: ['default'],
      lease_duration: Math.floor(info.ttlMs / 1000),
      renewable: info.renewable,
    },
  };
}
