import { describe, expect, it } from 'vitest';
import ts from 'typescript';
import { fileURLToPath } from 'node:url';

/**
 * House rule: every public export has TSDoc with an `@example`. This walks the real export
 * lists of the package entry points with the TypeScript compiler, so a new undocumented
 * export fails the suite.
 */
const entryPoints = [
  '../../src/index.ts',
  '../../src/errors.ts',
  '../../src/config/index.ts',
  '../../src/integration/index.ts',
  '../../src/testing/index.ts',
  '../../src/postgres/index.ts',
  '../../src/opentelemetry/index.ts',
  '../../src/kms/aws/index.ts',
  '../../src/kms/pkcs11/index.ts',
  '../../src/vault/index.ts',
  '../../src/dynamodb/index.ts',
  '../../src/integrations/graphql/index.ts',
  '../../src/integrations/kysely/index.ts',
  '../../src/integrations/drizzle/index.ts',
  '../../src/integrations/prisma/index.ts',
  '../../src/integrations/typeorm/index.ts',
].map((p) => fileURLToPath(new URL(p, import.meta.url)));

function undocumentedExports(): { entry: string; missing: string[]; total: number }[] {
  const program = ts.createProgram(entryPoints, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  return entryPoints.map((entry) => {
    const source = program.getSourceFile(entry);
    if (source === undefined) throw new Error(`cannot load ${entry}`);
    const moduleSymbol = checker.getSymbolAtLocation(source);
    if (moduleSymbol === undefined) throw new Error(`no module symbol for ${entry}`);
    const missing: string[] = [];
    const exports = checker.getExportsOfModule(moduleSymbol);
    for (const exported of exports) {
      const symbol =
        exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const tags = symbol.getJsDocTags(checker);
      const docs = ts.displayPartsToString(symbol.getDocumentationComment(checker));
      const hasExample = tags.some((t) => t.name === 'example');
      if (docs.trim() === '' || !hasExample) missing.push(exported.getName());
    }
    return { entry, missing, total: exports.length };
  });
}

describe('public API documentation', () => {
  it('every export of every entry point has a TSDoc summary and an @example', () => {
    for (const { entry, missing, total } of undocumentedExports()) {
      expect(total, entry).toBeGreaterThan(entry.endsWith('src/index.ts') ? 30 : 2);
      expect(missing, `undocumented exports of ${entry}`).toEqual([]);
    }
  });
});
