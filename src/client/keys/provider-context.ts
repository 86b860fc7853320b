import type { KeyContext } from '../../envelope/context.js';

/**
 * Provider context of a self-contained (embedded) data key: the tenant, and the field's key
 * context if it has one (`FieldPolicy.keyContext`, without `tenant`). Part of the format: a
 * provider binds the wrapped key to it, so changing it makes every stored key unopenable.
 * @internal
 */
export function embeddedContext(tenant: string, field?: KeyContext): KeyContext {
  return field === undefined ? { tenant } : { ...field, tenant };
}

/**
 * Provider context of a key-store data key: tenant, key id and version (part of the format,
 * like {@link embeddedContext}).
 * @internal
 */
export function storeContext(tenant: string, keyId: string, version: number): KeyContext {
  return { tenant, key: keyId, version: String(version) };
}
