// Generates the Prisma clients of fieldseal/prisma's tests and example (each schema's
// `generated/` folder; by default test/integration/prisma/schema.prisma), offline: `prisma
// generate` would download the schema engine, which it does not use for generating; pointing
// PRISMA_SCHEMA_ENGINE_BINARY at any executable makes it generate from its bundled WebAssembly
// (an unsupported knob: package.json pins Prisma's exact version). Skips a client generated
// from the current schema. Run by `npm run prepare` (so type-checking and linting see the test
// client), by the test run's global setup and by `npm run example:prisma`.
//   node scripts/prisma-generate.mjs [schema.prisma ...]
// With `--prisma DIR` (a folder with its own Prisma install, e.g. test/prisma6), each schema is
// copied into DIR and generated there by DIR's Prisma CLI: the same models under another
// Prisma version (the copy and its generated/ folder are not tracked). Prisma 6 requires a
// datasource `url`, which Prisma 7 refuses in the schema: the copy gets `env("DATABASE_URL")`
// (never read: the tests pass a driver adapter).
//   node scripts/prisma-generate.mjs --prisma test/prisma6 test/integration/prisma/schema.prisma
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
let home = root;
if (args[0] === '--prisma') {
  home = resolve(root, args[1]);
  args.splice(0, 2);
}
const schemas = args;
if (schemas.length === 0) schemas.push('test/integration/prisma/schema.prisma');

for (const given of schemas) {
  let schema = resolve(root, given);
  if (home !== root) {
    const copy = join(home, basename(schema));
    const text = readFileSync(schema, 'utf8').replace(
      /(datasource db \{\s*provider\s*=\s*"postgresql")/,
      '$1\n  url      = env("DATABASE_URL")',
    );
    if (!existsSync(copy) || readFileSync(copy, 'utf8') !== text) writeFileSync(copy, text);
    schema = copy;
  }
  const generated = join(dirname(schema), 'generated');
  const current =
    existsSync(join(generated, 'index.d.ts')) &&
    existsSync(join(generated, 'schema.prisma')) &&
    readFileSync(join(generated, 'schema.prisma'), 'utf8') === readFileSync(schema, 'utf8');
  if (current) continue;
  execFileSync(
    process.execPath,
    [join(home, 'node_modules', 'prisma', 'build', 'index.js'), 'generate', '--schema', schema],
    {
      cwd: home,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        PRISMA_SCHEMA_ENGINE_BINARY: existsSync('/bin/true') ? '/bin/true' : process.execPath,
        // Prisma 6 fetches the query engine library even for engineType "client", which does
        // not use it: any existing file stands in.
        PRISMA_QUERY_ENGINE_LIBRARY: existsSync('/bin/true') ? '/bin/true' : process.execPath,
        CHECKPOINT_DISABLE: '1',
        PRISMA_HIDE_UPDATE_MESSAGE: '1',
      },
    },
  );
}
