import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { planOf } from '../model/define-model.js';
import type { AnyModel } from '../model/model-types.js';

/**
 * Load a model made by `defineModel` from a JavaScript module (for the CLI's `backfill` and
 * `keys usage`): the export whose model name or table is `name`. The module is your code: it
 * is imported as it is, so only point this at files you trust.
 * @throws TypeError when the module has no such model.
 * @example
 * ```ts
 * const Customer = await loadModel('./dist/models.js', 'customers');
 * ```
 */
export async function loadModel(path: string, name: string): Promise<AnyModel> {
  const url = pathToFileURL(isAbsolute(path) ? path : resolve(path)).href;
  const mod = (await import(url)) as Record<string, unknown>;
  const found: AnyModel[] = [];
  for (const value of Object.values(mod)) {
    if (typeof value !== 'object' || value === null) continue;
    try {
      planOf(value);
    } catch {
      continue; // not a model
    }
    const m = value as AnyModel;
    if (m.name === name || m.table === name) found.push(m);
  }
  const unique = [...new Set(found)];
  if (unique.length !== 1) {
    throw new TypeError(
      unique.length === 0
        ? `${path} exports no model named "${name}"`
        : `${path} exports several models named "${name}"`,
    );
  }
  return unique[0]!;
}
