import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * What users get is the packed tarball, not `src/`: this packs the package, installs the
 * tarball into a fresh project outside the repository and there, as a consumer would,
 * type-checks (skipLibCheck: false, under `nodenext` and `bundler` resolution) and runs the
 * README's usage example and one import of every subpath export.
 *
 * The dist/ it packs is the one test/global-setup.ts builds. Skips (loudly) only when
 * `npm pack` itself cannot run.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, unknown>;
};
const tsc = join(root, 'node_modules/typescript/bin/tsc');

/** The optional peers the subpaths need, at the versions already in the repository's npm cache. */
const consumerDeps = [
  '@aws-sdk/client-kms',
  '@aws-sdk/client-dynamodb',
  '@aws-sdk/lib-dynamodb',
  '@opentelemetry/api',
  'graphql',
  '@graphql-tools/utils',
  'kysely',
  'drizzle-orm',
  '@prisma/client',
  'typeorm',
  'pg',
  '@types/pg',
  '@types/node',
].map((name) => {
  const { version } = JSON.parse(
    readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8'),
  ) as { version: string };
  return `${name}@${version}`;
});

/** The CLI's optional peers, installed in a second step as the README says. */
const cliDeps = ['commander', '@electric-sql/pglite'].map((name) => {
  const { version } = JSON.parse(
    readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8'),
  ) as { version: string };
  return `${name}@${version}`;
});

/** The `npx fieldseal …` lines of the README's "## CLI" section, as written. */
function readmeCliLines(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## CLI');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)]
    .flatMap((m) => (m[1] ?? '').split('\n'))
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line.includes('npx fieldseal'));
}

/** One import per subpath export (keys of package.json `exports`, checked below), a few names each. */
const subpathImports = `
import { createFieldseal, DataKey, EnvSecretSource, Fieldseal, FieldsealError, LocalKeyProvider } from 'fieldseal';
import type { EncryptionContext, FieldValue } from 'fieldseal';
import { BatchError, isFieldsealError, type FieldsealErrorCode } from 'fieldseal/errors';
import { openFromConfig, readConfig, type FieldsealConfig } from 'fieldseal/config';
import { MemoryKeyProvider, MemoryKeyStore, runRepositoryContract } from 'fieldseal/testing';
import { modelCodec, schemaOf, type ModelSchema } from 'fieldseal/integration';
import { migrate, PostgresKeyStore, verifyAuditChain } from 'fieldseal/postgres';
import { FIELDSEAL_INSTRUMENTS, openTelemetryMetrics } from 'fieldseal/opentelemetry';
import { AwsKmsCallError, AwsKmsKeyProvider } from 'fieldseal/kms/aws';
import { VaultKvSecretSource, VaultTransitKeyProvider } from 'fieldseal/kms/vault';
import { Pkcs11KeyProvider } from 'fieldseal/kms/pkcs11';
import { createDynamoRepository, DynamoKeyStore } from 'fieldseal/dynamodb';
import { fieldsealApolloPlugin, fieldsealDirectives, fieldsealSchema, useFieldseal } from 'fieldseal/graphql';
import { pgliteDialect, withFieldseal, type ModelTable } from 'fieldseal/kysely';
import { sealed, sealTable, type SealedText } from 'fieldseal/drizzle';
import { assertFieldsealClient, fieldseal, sealedCheckConstraints } from 'fieldseal/prisma';
import {
  assertFieldsealSubscribed, fieldsealSubscriber, findOneSealed, findSealed, SealedColumn,
  sealedColumn, SealedEqual, SealedIn,
} from 'fieldseal/typeorm';

const context: EncryptionContext = { tenant: 'acme', table: 'customers', field: 'ssn', record: 'cus_1' };
const value: FieldValue = 'x';
const client: Fieldseal = createFieldseal({
  provider: new MemoryKeyProvider(),
  keys: { mode: 'embedded', masterKeyId: 'master' },
  cache: { maxAgeMs: 1000 },
});
const exported = {
  DataKey, EnvSecretSource, FieldsealError, LocalKeyProvider, MemoryKeyStore, migrate,
  PostgresKeyStore, verifyAuditChain, FIELDSEAL_INSTRUMENTS, openTelemetryMetrics,
  AwsKmsCallError, AwsKmsKeyProvider, VaultKvSecretSource, VaultTransitKeyProvider,
  Pkcs11KeyProvider, createDynamoRepository, DynamoKeyStore, BatchError, isFieldsealError,
  openFromConfig, readConfig, modelCodec, schemaOf, runRepositoryContract,
  fieldsealApolloPlugin, fieldsealDirectives, fieldsealSchema, useFieldseal,
  pgliteDialect, withFieldseal, sealed, sealTable, assertFieldsealClient, fieldseal,
  sealedCheckConstraints, assertFieldsealSubscribed, fieldsealSubscriber, findOneSealed,
  findSealed, SealedColumn, sealedColumn, SealedEqual, SealedIn,
};
const sealedText: SealedText | undefined = undefined;
void sealedText;
const table: ModelTable<never> | undefined = undefined;
void table;
const schema: ModelSchema | undefined = undefined;
void schema;
const code: FieldsealErrorCode = 'ERR_BATCH_FAILED';
const configType: FieldsealConfig | undefined = undefined;
void code;
void configType;
const missing = Object.entries(exported).filter(([, v]) => v === undefined).map(([k]) => k);
console.log(JSON.stringify({ missing, context: context.tenant, value, client: typeof client.encrypt }));
`;

/** The ```ts blocks of the README's "## Usage" section, as written. */
function readmeUsage(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Usage');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n');
}

function run(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 60_000 });
}

function output(r: SpawnSyncReturns<string>): string {
  return `exit ${String(r.status)}\n${r.stdout}\n${r.stderr}`;
}

const work = realpathSync(mkdtempSync(join(tmpdir(), 'fieldseal-pack-')));
const packed = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], root);
const tarball = packed.status === 0 ? readdirSync(work).find((f) => f.endsWith('.tgz')) : undefined;
if (tarball === undefined) {
  rmSync(work, { recursive: true, force: true });
  console.warn(
    `\n!!! SKIPPING the packaging test: \`npm pack\` failed, so what users install is untested.\n${output(packed)}\n`,
  );
}

describe.skipIf(tarball === undefined)('the packed tarball, installed into a fresh project', () => {
  const app = join(work, 'app');
  // Offline from the npm cache when it holds everything; the registry otherwise.
  const install = (packages: string[]) => {
    const args = ['install', '--no-audit', '--no-fund', '--no-package-lock', '--ignore-scripts'];
    const offline = run('npm', [...args, '--offline', ...packages], app);
    return offline.status === 0
      ? offline
      : run('npm', [...args, '--prefer-offline', ...packages], app);
  };
  // npx must run the installed binary: with an unreachable registry, any fetch by name fails.
  const npxEnv = { ...process.env, npm_config_registry: 'http://127.0.0.1:9/' };

  beforeAll(() => {
    mkdirSync(join(app, 'src'), { recursive: true });
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    const installed = install([join(work, tarball!), ...consumerDeps]);
    expect(installed.status, output(installed)).toBe(0);

    writeFileSync(join(app, 'src/readme-usage.ts'), readmeUsage());
    writeFileSync(join(app, 'src/subpaths.ts'), subpathImports);
    for (const [name, module, moduleResolution] of [
      ['nodenext', 'nodenext', 'nodenext'],
      ['bundler', 'esnext', 'bundler'],
    ] as const) {
      writeFileSync(
        join(app, `tsconfig.${name}.json`),
        JSON.stringify({
          compilerOptions: {
            module,
            moduleResolution,
            target: 'es2022',
            strict: true,
            skipLibCheck: false,
            noEmit: true,
            types: ['node'],
          },
          include: ['src'],
        }),
      );
    }
  }, 90_000);

  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it('one import per subpath export covers every subpath of package.json', () => {
    const subpaths = Object.keys(manifest.exports)
      .filter((k) => k !== './package.json')
      .map((k) => (k === '.' ? 'fieldseal' : `fieldseal/${k.slice(2)}`));
    const imported = [...subpathImports.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
    expect(new Set(imported)).toEqual(new Set(subpaths));
  });

  it.each(['nodenext', 'bundler'])(
    'the README usage example and the subpath imports type-check (%s, skipLibCheck: false)',
    (name) => {
      const r = run(process.execPath, [tsc, '-p', `tsconfig.${name}.json`], app);
      // drizzle-orm's own declarations do not compile with skipLibCheck: false (they import
      // optional drivers such as gel and mysql2): its errors are its own. Every other error,
      // in fieldseal's declarations or the consumer's code, fails the test.
      const diagnostics = (r.stdout + r.stderr).split(/\n(?=\S)/).filter((d) => d.trim() !== '');
      const foreign = diagnostics.filter((d) => d.startsWith('node_modules/drizzle-orm/'));
      expect(diagnostics.filter((d) => !foreign.includes(d)).join('\n')).toBe('');
      if (foreign.length === 0) expect(r.status).toBe(0);
    },
    60_000,
  );

  it('no export of any subpath is @internal', () => {
    const file = join(app, 'src/subpaths.ts');
    const program = ts.createProgram([file], {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      noEmit: true,
      types: [],
    });
    const checker = program.getTypeChecker();
    const internal: string[] = [];
    for (const statement of program.getSourceFile(file)!.statements) {
      if (!ts.isImportDeclaration(statement)) continue;
      const module = checker.getSymbolAtLocation(statement.moduleSpecifier);
      expect(module, (statement.moduleSpecifier as ts.StringLiteral).text).toBeDefined();
      for (const exported of checker.getExportsOfModule(module!)) {
        const symbol =
          exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
        if (symbol.getJsDocTags(checker).some((t) => t.name === 'internal')) {
          internal.push(
            `${(statement.moduleSpecifier as ts.StringLiteral).text}: ${exported.name}`,
          );
        }
      }
    }
    expect(internal).toEqual([]);
  }, 30_000);

  it('runs the README usage example: prints the value, then fails on the moved context', () => {
    const js = ts.transpileModule(readmeUsage(), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    writeFileSync(join(app, 'readme-usage.mjs'), js);
    const r = run(process.execPath, ['readme-usage.mjs'], app, {
      ...process.env,
      FIELDSEAL_MASTER_KEY: `base64:${randomBytes(32).toString('base64')}`,
    });
    expect(r.stdout, output(r)).toBe('521-44-8790\n');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('ERR_AUTHENTICATION_FAILED');
    expect(r.stderr).toContain(join(app, 'node_modules/fieldseal/'));
  });

  it('runs one import of every subpath export', () => {
    const js = ts.transpileModule(subpathImports, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    writeFileSync(join(app, 'subpaths.mjs'), js);
    const r = run(process.execPath, ['subpaths.mjs'], app);
    expect(r.status, output(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      missing: [],
      context: 'acme',
      value: 'x',
      client: 'function',
    });
  });

  it('fieldseal and its peer-free subpaths (errors, config, integration, testing) load with no optional peer installed', () => {
    const bare = join(work, 'bare');
    mkdirSync(bare);
    writeFileSync(
      join(bare, 'package.json'),
      JSON.stringify({ name: 'bare-consumer', private: true, type: 'module' }),
    );
    const args = ['install', '--no-audit', '--no-fund', '--no-package-lock', '--ignore-scripts'];
    const installed = run('npm', [...args, '--offline', join(work, tarball!)], bare);
    expect(installed.status, output(installed)).toBe(0);
    writeFileSync(
      join(bare, 'load.mjs'),
      `
import * as root from 'fieldseal';
import * as errors from 'fieldseal/errors';
import * as config from 'fieldseal/config';
import * as integration from 'fieldseal/integration';
import * as testing from 'fieldseal/testing';
const peer = await config.openDynamoFromConfig({}).catch((err) => err);
console.log(JSON.stringify({
  same: root.BatchError === errors.BatchError,
  config: typeof config.openFromConfig,
  seam: typeof integration.modelCodec,
  contract: typeof testing.runRepositoryContract,
  code: peer.code,
  names: peer.message.includes('npm install @aws-sdk/client-dynamodb'),
}));
`,
    );
    const r = run(process.execPath, ['load.mjs'], bare);
    expect(r.status, output(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      same: true,
      config: 'function',
      seam: 'function',
      contract: 'function',
      code: 'ERR_MISSING_PEER',
      names: true,
    });
    for (const peer of ['@aws-sdk/client-dynamodb', 'pg', '@electric-sql/pglite', 'commander']) {
      expect(existsSync(join(bare, 'node_modules', peer)), peer).toBe(false);
    }
  }, 60_000);

  it('the core pulls in no database engine and no CLI framework', () => {
    const installed = JSON.parse(
      readFileSync(join(app, 'node_modules/fieldseal/package.json'), 'utf8'),
    ) as { dependencies?: Record<string, string> };
    expect(installed.dependencies ?? {}).toEqual({});
    expect(existsSync(join(app, 'node_modules/@electric-sql/pglite'))).toBe(false);
    expect(existsSync(join(app, 'node_modules/commander'))).toBe(false);
  });

  it('npx fieldseal without its CLI peer says what to install (and fetches nothing)', () => {
    const r = run('npx', ['fieldseal', '--version'], app, npxEnv);
    expect(r.status, output(r)).toBe(1);
    expect(r.stderr).toContain('npm install commander');
    const json = run('npx', ['fieldseal', 'tenant', 'list', '--json'], app, npxEnv);
    expect(json.status, output(json)).toBe(1);
    const { error } = JSON.parse(json.stdout) as { error: { code: string; message: string } };
    expect(error.code).toBe('ERR_MISSING_PEER');
    expect(error.message).toContain('npm install commander');
  });

  it('with the CLI peers installed, every `npx fieldseal` line of the README runs as written', () => {
    // The CLI framework alone: what needs the embedded database names its package.
    const commander = install(cliDeps.filter((d) => d.startsWith('commander@')));
    expect(commander.status, output(commander)).toBe(0);
    const noEngine = run('npx', ['fieldseal', 'demo', '--json'], app, npxEnv);
    expect(noEngine.status, output(noEngine)).toBe(1);
    const { error } = JSON.parse(noEngine.stdout) as {
      error: { code: string; message: string; next: string[] };
    };
    expect(error.code).toBe('ERR_MISSING_PEER');
    expect(error.next).toEqual(['npm install @electric-sql/pglite']);
    const peers = install(cliDeps);
    expect(peers.status, output(peers)).toBe(0);
    const version = run('npx', ['fieldseal', '--version'], app, npxEnv);
    expect(version.stdout.trim(), output(version)).toBe(
      (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version,
    );
    const lines = readmeCliLines();
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const line of lines) {
      const r = run('sh', ['-c', line], app, npxEnv);
      expect(r.status, `${line}\n${output(r)}`).toBe(0);
      if (line.includes('fieldseal encrypt')) expect(r.stdout).toMatch(/^fs1:/);
    }
  }, 180_000);

  it('ships the sources its source maps point at', () => {
    const installed = join(app, 'node_modules/fieldseal');
    const maps = ['dist/index.js.map', 'dist/index.d.ts.map', 'dist/client/fieldseal.js.map'];
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(installed, map), 'utf8')) as {
        sources: string[];
      };
      for (const source of sources) {
        expect(existsSync(join(installed, map, '..', source)), `${map} → ${source}`).toBe(true);
      }
    }
  });
});
