/**
 * An unambiguous cache id from parts: each part is length-prefixed, so no two different part
 * lists give the same id whatever characters the parts contain.
 * @internal
 */
export function cacheId(...parts: readonly string[]): string {
  let out = '';
  for (const p of parts) out += `${p.length}:${p}`;
  return out;
}

/**
 * The parts of an id made by {@link cacheId} (the inverse: lengths make it unambiguous).
 * @internal
 */
export function cacheIdParts(id: string): string[] {
  const parts: string[] = [];
  let at = 0;
  while (at < id.length) {
    const colon = id.indexOf(':', at);
    if (colon < 0) break;
    const n = Number(id.slice(at, colon));
    parts.push(id.slice(colon + 1, colon + 1 + n));
    at = colon + 1 + n;
  }
  return parts;
}
