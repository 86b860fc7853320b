import type { KeyContext } from '../../envelope/context.js';

/**
 * Provider context of a self-contained (embedded) data key: the tenant. Part of the format:
 * a provider binds the wrapped key to it, so changing it makes every stored key unopenable.
 * @internal
 */
export function embeddedContext(tenant: string): KeyContext {
  return { tenant };
}

/**
 * Provider context of a key-store data key: tenant, key id and version (part of the format,
 * like {@link embeddedContext}).
 * @internal
 */
export function storeContext(tenant: string, keyId: string, version: number): KeyContext {
  return { tenant, key: keyId, version: String(version) };
}
