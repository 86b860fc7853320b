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
 * The clauses of an update expression, split at its action keywords (bare words only: a
 * `#SET` placeholder is a name) and at top-level commas. The clauses together must refer to
 * exactly the names the whole expression refers to, and nothing may precede the first
 * keyword: otherwise the expression is not understood and refused.
 * @throws TypeError for an expression this split does not account for.
 * @internal
 */
export function updateClauses(
  expression: string,
  names: Readonly<Record<string, string>> | undefined,
): UpdateClause[] {
  const marks: { at: number; end: number; action: UpdateClause['action'] }[] = [];
  for (const m of expression.matchAll(TOKEN)) {
    const bare = m[3];
    if (bare === undefined) continue;
    const word = bare.toUpperCase();
    if (word === 'SET' || word === 'REMOVE' || word === 'ADD' || word === 'DELETE') {
      marks.push({ at: m.index, end: m.index + bare.length, action: word });
    }
  }
  const notUnderstood = (): never => {
    throw new TypeError('the update expression is not understood');
  };
  if (marks.length === 0 || expression.slice(0, marks[0]!.at).trim() !== '') notUnderstood();
  // DynamoDB allows each action once: an expression repeating one is refused, never merged.
  if (new Set(marks.map((m) => m.action)).size !== marks.length) notUnderstood();
  const out: UpdateClause[] = [];
  marks.forEach(({ end, action }, k) => {
    const body = expression.slice(end, marks[k + 1]?.at ?? expression.length);
    let depth = 0;
    let start = 0;
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
    for (const text of clauses) {
      if (text === '') notUnderstood();
      const m = /^(#[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(:[A-Za-z0-9_]+)$/.exec(text);
      if (action === 'SET' && m !== null) {
        const target = m[1]!.startsWith('#') ? names?.[m[1]!] : m[1]!;
        if (typeof target !== 'string') notUnderstood();
        out.push({ action, text, plain: { target: target!, value: m[2]! } });
      } else out.push({ action, text });
    }
  });
  const whole = refsOf(expression, names).names;
  const parts = new Set<string>();
  for (const c of out) for (const n of refsOf(c.text, names).names) parts.add(n);
  if (whole.size !== parts.size || [...whole].some((n) => !parts.has(n))) notUnderstood();
  return out;
}
