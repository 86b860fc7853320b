/*
 * What a DynamoDB expression refers to: the top-level attribute names (placeholders resolved)
 * and the value placeholders, and the clauses of an update expression. Enough to refuse an
 * expression that touches an encrypted attribute, never a full parser. All internal.
 */

const WORDS = new Set(
  [
    'and',
    'or',
    'not',
    'between',
    'in',
    'set',
    'remove',
    'add',
    'delete',
    'attribute_exists',
    'attribute_not_exists',
    'attribute_type',
    'begins_with',
    'contains',
    'size',
    'if_not_exists',
    'list_append',
  ].map((w) => w.toLowerCase()),
);

const TOKEN = /(#[A-Za-z0-9_]+)|(:[A-Za-z0-9_]+)|([A-Za-z_][A-Za-z0-9_]*)|(\.)|(\S)/g;

/** The attribute names and value placeholders of an expression. @internal */
export interface ExpressionRefs {
  /** Top-level attribute names (a nested member's name is not one). */
  readonly names: Set<string>;
  readonly values: Set<string>;
}

/**
 * The references of an expression (undefined: none).
 * @throws TypeError for a `#name` that `names` does not define.
 * @internal
 */
export function refsOf(
  expression: string | undefined,
  names: Readonly<Record<string, string>> | undefined,
  into: ExpressionRefs = { names: new Set(), values: new Set() },
): ExpressionRefs {
  if (expression === undefined) return into;
  let afterDot = false;
  for (const m of expression.matchAll(TOKEN)) {
    const [, placeholder, value, bare, dot] = m;
    if (dot !== undefined) {
      afterDot = true;
      continue;
    }
    if (placeholder !== undefined) {
      const name = names?.[placeholder];
      if (typeof name !== 'string')
        throw new TypeError(`expression name ${placeholder} is not defined`);
      if (!afterDot) into.names.add(name);
    } else if (value !== undefined) into.values.add(value);
    else if (bare !== undefined && !afterDot && !WORDS.has(bare.toLowerCase()))
      into.names.add(bare);
    afterDot = false;
  }
  return into;
}

/** One clause of an update expression. @internal */
export interface UpdateClause {
  readonly action: 'SET' | 'REMOVE' | 'ADD' | 'DELETE';
  /** The whole clause text. */
  readonly text: string;
  /** For `SET path = :value` with a top-level path and a lone placeholder: both. */
  readonly plain?: { readonly target: string; readonly value: string };
}

/**
 * The clauses of an update expression, split at its action keywords and at top-level commas.
 * @internal
 */
export function updateClauses(
  expression: string,
  names: Readonly<Record<string, string>> | undefined,
): UpdateClause[] {
  const out: UpdateClause[] = [];
  const sections = expression.split(/\b(SET|REMOVE|ADD|DELETE)\b/i);
  for (let i = 1; i < sections.length; i += 2) {
    const action = sections[i]!.toUpperCase() as UpdateClause['action'];
    let depth = 0;
    let start = 0;
    const body = sections[i + 1] ?? '';
    const clauses: string[] = [];
    for (let j = 0; j <= body.length; j++) {
      const c = body[j];
      if (c === '(' || c === '[') depth++;
      else if (c === ')' || c === ']') depth--;
      else if ((c === ',' && depth === 0) || j === body.length) {
        clauses.push(body.slice(start, j).trim());
        start = j + 1;
      }
    }
    for (const text of clauses.filter((t) => t !== '')) {
      const m = /^(#[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(:[A-Za-z0-9_]+)$/.exec(text);
      if (action === 'SET' && m !== null) {
        const target = m[1]!.startsWith('#') ? names?.[m[1]!] : m[1]!;
        if (typeof target !== 'string')
          throw new TypeError(`expression name ${m[1]} is not defined`);
        out.push({ action, text, plain: { target, value: m[2]! } });
      } else out.push({ action, text });
    }
  }
  return out;
}
