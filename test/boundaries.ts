import path from 'node:path';
import ts from 'typescript';

/**
 * Static checks of the layering the architecture promises (docs/architecture.md): backends and
 * integrations use only the public seam, the core imports no backend and no driver, and
 * optional peers are imported only inside their own folder.
 */

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const SRC = path.join(ROOT, 'src');

/** The folders that may use nothing of the core beyond `fieldseal` and `fieldseal/integration`. */
export const SEAM_USERS = ['postgres', 'dynamodb', 'vault'] as const;
/** Entry points whose exports make up the public seam. */
const SEAM_ENTRIES = ['index.ts', 'integration/index.ts'];
/** Folders above the library (application layer): they may import anything. */
const APPLICATION = ['cli', 'demo', 'config'];
/** Where each optional peer may be imported (folders under src/). */
export const PEER_HOMES: Readonly<Record<string, readonly string[]>> = {
  '@aws-sdk/client-dynamodb': ['dynamodb', 'config'],
  '@aws-sdk/lib-dynamodb': ['dynamodb'],
  '@aws-sdk/client-kms': ['kms/aws'],
  '@electric-sql/pglite': ['postgres', 'config', 'demo'],
  pg: ['postgres', 'config'],
  pkcs11js: ['kms/pkcs11'],
  '@opentelemetry/api': ['opentelemetry'],
  commander: ['cli'],
  graphql: ['integrations/graphql'],
  '@graphql-tools/utils': ['integrations/graphql'],
  kysely: ['integrations/kysely'],
  'drizzle-orm': ['integrations/drizzle'],
  '@prisma/client': ['integrations/prisma'],
  typeorm: ['integrations/typeorm'],
};

/** The top-level home of a source file: `postgres`, `integrations/kysely`, `client`, … */
function homeOf(file: string): string {
  const parts = path.relative(SRC, file).split(path.sep);
  if (parts.length === 1) return '';
  if (parts[0] === 'integrations' || parts[0] === 'kms') return `${parts[0]}/${parts[1] ?? ''}`;
  return parts[0] ?? '';
}

const isSeamUser = (home: string): boolean =>
  (SEAM_USERS as readonly string[]).includes(home) || home.startsWith('integrations/');
const isBackend = isSeamUser;

function program(): ts.Program {
  const configPath = path.join(ROOT, 'tsconfig.json');
  const read = ts.readConfigFile(configPath, (f) => ts.sys.readFile(f));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT);
  const files = parsed.fileNames.filter((f) => path.resolve(f).startsWith(SRC + path.sep));
  return ts.createProgram(files, { ...parsed.options, noEmit: true });
}

/** One import that breaks a rule, as `file: what`. */
export type Violation = string;

/** All violations of the layering rules in src/. */
export function layeringViolations(): Violation[] {
  const prog = program();
  const checker = prog.getTypeChecker();
  const resolve = (s: ts.Symbol): ts.Symbol =>
    s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
  const seam = new Set<ts.Symbol>();
  for (const entry of SEAM_ENTRIES) {
    const sf = prog.getSourceFile(path.join(SRC, entry));
    const sym = sf && checker.getSymbolAtLocation(sf);
    if (!sym) continue;
    for (const e of checker.getExportsOfModule(sym)) seam.add(resolve(e));
  }
  const out: Violation[] = [];
  for (const sf of prog.getSourceFiles()) {
    const file = path.resolve(sf.fileName);
    if (!file.startsWith(SRC + path.sep) || sf.isDeclarationFile) continue;
    const home = homeOf(file);
    const rel = path.relative(SRC, file);
    const visit = (spec: string, node: ts.ImportDeclaration | ts.ExportDeclaration): void => {
      if (!spec.startsWith('.')) {
        const pkg = spec.startsWith('@')
          ? spec.split('/').slice(0, 2).join('/')
          : spec.split('/')[0]!;
        const homes = PEER_HOMES[pkg];
        if (homes && !homes.some((h) => home === h || home.startsWith(`${h}/`)))
          out.push(`${rel}: imports optional peer ${pkg} outside ${homes.join(', ')}`);
        return;
      }
      const target = path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts'));
      const targetHome = homeOf(target);
      if (targetHome === home) return;
      const targetRel = path.relative(SRC, target);
      if (isBackend(targetHome) && !APPLICATION.includes(home))
        out.push(`${rel}: imports ${targetRel} (another backend or integration)`);
      if (!isSeamUser(home) || isBackend(targetHome)) return;
      if (SEAM_ENTRIES.includes(targetRel)) return;
      // The seam stays visible in the code: the core is reached through its two entry points.
      out.push(`${rel}: imports ${targetRel}; use src/index.ts or src/integration/index.ts`);
      const clause = ts.isImportDeclaration(node) ? node.importClause : undefined;
      const names: ts.ModuleExportName[] = [];
      if (ts.isImportDeclaration(node)) {
        if (!clause) return void out.push(`${rel}: side-effect import of ${targetRel}`);
        if (clause.name) names.push(clause.name);
        const nb = clause.namedBindings;
        if (nb && ts.isNamespaceImport(nb))
          return void out.push(`${rel}: namespace import of ${targetRel}`);
        if (nb) for (const el of nb.elements) names.push(el.name);
      } else {
        const ec = node.exportClause;
        if (!ec || !ts.isNamedExports(ec))
          return void out.push(`${rel}: export * from ${targetRel}`);
        for (const el of ec.elements) names.push(el.propertyName ?? el.name);
      }
      for (const id of names) {
        const s = checker.getSymbolAtLocation(id);
        if (!s || !seam.has(resolve(s))) {
          out.push(`${rel}: ${id.text} from ${targetRel} is not in the seam`);
        }
      }
    };
    for (const st of sf.statements) {
      if (
        (ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) &&
        st.moduleSpecifier &&
        ts.isStringLiteral(st.moduleSpecifier)
      )
        visit(st.moduleSpecifier.text, st);
    }
    // dynamic import('x') of optional peers
    const walk = (n: ts.Node): void => {
      if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
        const a = n.arguments[0];
        if (a && ts.isStringLiteral(a) && !a.text.startsWith('.')) {
          const pkg = a.text.startsWith('@')
            ? a.text.split('/').slice(0, 2).join('/')
            : a.text.split('/')[0]!;
          const homes = PEER_HOMES[pkg];
          if (homes && !homes.some((h) => home === h || home.startsWith(`${h}/`)))
            out.push(`${rel}: imports optional peer ${pkg} outside ${homes.join(', ')}`);
        }
      }
      ts.forEachChild(n, walk);
    };
    walk(sf);
  }
  return out;
}

/**
 * Every import cycle among the files of src/ (type-only imports included: a type cycle is the
 * same knot for a reader), each as the list of files that form it.
 */
export function importCycles(): string[][] {
  const prog = program();
  const edges = new Map<string, string[]>();
  for (const sf of prog.getSourceFiles()) {
    const file = path.resolve(sf.fileName);
    if (!file.startsWith(SRC + path.sep) || sf.isDeclarationFile) continue;
    const targets: string[] = [];
    for (const st of sf.statements) {
      if (
        (ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) &&
        st.moduleSpecifier &&
        ts.isStringLiteral(st.moduleSpecifier) &&
        st.moduleSpecifier.text.startsWith('.')
      ) {
        targets.push(
          path.resolve(path.dirname(file), st.moduleSpecifier.text.replace(/\.js$/, '.ts')),
        );
      }
    }
    edges.set(file, targets);
  }
  // Tarjan's strongly connected components: every component of more than one file is a cycle.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!edges.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(path.relative(SRC, w));
      } while (w !== v);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return cycles;
}
