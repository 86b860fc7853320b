/**
 * Run `fn` over `items` with at most `limit` calls in flight, preserving order. A batch over
 * 1,000 tenants must not fire 1,000 KMS calls at once (throttling, connection storms).
 *
 * @example
 * ```ts
 * const keys = await mapLimit(tenants, 8, (tenant) => fs.provisionTenant(tenant)); // at most 8 in flight
 * ```
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < Math.min(limit, items.length); i++) workers.push(worker());
  await Promise.all(workers);
  return results;
}
