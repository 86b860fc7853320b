// Generates the Prisma clients of fieldseal/prisma's tests and example (each schema's
// `generated/` folder; by default test/integration/prisma/schema.prisma), offline: `prisma
// generate` would download the schema engine, which it does not use for generating; pointing
// PRISMA_SCHEMA_ENGINE_BINARY at any executable makes it generate from its bundled WebAssembly
// (an unsupported knob: package.json pins Prisma's exact version). Skips a client generated
// from the current schema. Run by `npm run prepare` (so type-checking and linting see the test
// client), by the test run's global setup and by `npm run example:prisma`.
//   node scripts/prisma-generate.mjs [schema.prisma ...]
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const schemas = process.argv.slice(2);
if (schemas.length === 0) schemas.push('test/integration/prisma/schema.prisma');

for (const given of schemas) {
  const schema = resolve(root, given);
  const generated = join(dirname(schema), 'generated');
  const current =
    existsSync(join(generated, 'index.d.ts')) &&
    existsSync(join(generated, 'schema.prisma')) &&
    readFileSync(join(generated, 'schema.prisma'), 'utf8') === readFileSync(schema, 'utf8');
  if (current) continue;
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'prisma', 'build', 'index.js'), 'generate', '--schema', schema],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        PRISMA_SCHEMA_ENGINE_BINARY: existsSync('/bin/true') ? '/bin/true' : process.execPath,
        CHECKPOINT_DISABLE: '1',
        PRISMA_HIDE_UPDATE_MESSAGE: '1',
      },
    },
  );
}
