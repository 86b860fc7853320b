/**
 * Options of {@link pinoRedactPaths}.
 * @example
 * ```ts
 * pinoRedactPaths(['ssn'], { depth: 3, prefixes: ['req.body'] });
 * ```
 */
export interface PinoRedactOptions {
  /** How many levels of nesting below the top to cover with `*` wildcards (default 2). */
  readonly depth?: number;
  /** Extra path prefixes the fields appear under, e.g. `['req.body']`. */
  readonly prefixes?: readonly string[];
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Turn encrypted field names into `pino` `redact.paths`, covering the field at the top level,
 * under wildcards down to `depth`, and under the given prefixes.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * const logger = pino({ redact: { paths: pinoRedactPaths(['ssn', 'card-number']), censor: '[REDACTED]' } });
 * logger.info({ customer: { ssn: '123-45-6789' } }); // ssn printed as [REDACTED]
 * ```
 */
export function pinoRedactPaths(
  fields: readonly string[],
  options: PinoRedactOptions = {},
): string[] {
  const depth = options.depth ?? 2;
  if (!Number.isInteger(depth) || depth < 0 || depth > 8) {
    throw new RangeError(`depth: expected an integer 0..8, got ${String(depth)}`);
  }
  const paths = new Set<string>();
  for (const field of fields) {
    const access = accessor(field);
    const top = access.startsWith('.') ? field : access;
    paths.add(top);
    let prefix = '';
    for (let level = 1; level <= depth; level++) {
      prefix = prefix === '' ? '*' : `${prefix}.*`;
      paths.add(`${prefix}${access}`);
    }
    for (const p of options.prefixes ?? []) paths.add(`${p}${access}`);
  }
  return [...paths];
}

/** Characters pino's path syntax cannot carry inside a quoted key (it does not unescape). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be refused
const UNSAYABLE = /[\\[\],\u0000-\u001f\u007f]|\.\./u;

/**
 * The pino accessor for one field name: `.name` for identifiers, `["name"]` or `['name']`
 * otherwise. Names pino cannot express are refused rather than turned into a path that
 * silently redacts nothing.
 */
function accessor(field: string): string {
  if (typeof field !== 'string' || field.length === 0) {
    throw new TypeError('fields: expected non-empty strings');
  }
  if (IDENT.test(field)) return `.${field}`;
  if (UNSAYABLE.test(field) || (field.includes('"') && field.includes("'"))) {
    throw new TypeError(
      `fields: ${JSON.stringify(field)} cannot be expressed as a pino redact path; rename it or redact it another way`,
    );
  }
  return field.includes('"') ? `['${field}']` : `["${field}"]`;
}
