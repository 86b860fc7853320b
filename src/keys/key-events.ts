/**
 * How the processes of a fleet tell each other that a tenant's keys must go: after a shred,
 * every process purges its cached keys of that tenant at once instead of within its cache age.
 * A small plug point; `pgKeyEvents` (PostgreSQL LISTEN/NOTIFY) is the default implementation.
 *
 * @example
 * ```ts
 * const fs = createFieldseal({ ...options, keyEvents: pgKeyEvents(pool) });
 * ```
 */
export interface KeyEventBus {
  /** Tell every subscriber (in every process) that `tenant` was shredded. */
  publishShred(tenant: string): Promise<void>;
  /** Call `onShred` for every shred published anywhere; returns the unsubscribe function. */
  subscribe(onShred: (tenant: string) => void): () => void;
}
