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
